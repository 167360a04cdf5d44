#!/usr/bin/env bash
# `make run`: migrate, collect static files, seed the demo store if empty, start a Celery
# worker and beat in the background (logs under var/log, stopped on exit), train the first
# model through the worker if none is active, then serve the store in the foreground.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
WEB_WORKERS=${WEB_WORKERS:-2}
LOG_DIR=${GRAPHCART_VAR_DIR:-var}/log
mkdir -p "$LOG_DIR"

"$PY" manage.py migrate --noinput
"$PY" manage.py collectstatic --noinput -v 0
"$PY" manage.py seed_demo --if-empty

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# The worker trains: under tcmalloc when it is installed (recommender/ml/allocator.py says why).
LD_PRELOAD="$("$PY" -m recommender.ml.allocator)" OMP_WAIT_POLICY=PASSIVE "$PY" -m celery -A config worker -Q default,gpu --pool solo --loglevel INFO -n "demo-worker@%h" \
  >"$LOG_DIR/worker.log" 2>&1 &
pids+=($!)
"$PY" -m celery -A config beat --loglevel INFO >"$LOG_DIR/beat.log" 2>&1 &
pids+=($!)
echo "Celery worker and beat started (logs: $LOG_DIR/worker.log, $LOG_DIR/beat.log)"

"$PY" manage.py retrain --wait --if-no-active

cat <<MSG

  Store:      http://$HOST:$PORT/
  Dashboard:  http://$HOST:$PORT/dashboard/
  Admin:      http://$HOST:$PORT/admin/recommender/trainingrun/  ("Retrain now")
  Merchandiser login: merchandiser / merchandiser

MSG

# One torch thread per web worker: requests are small and the workers share the cores.
OMP_NUM_THREADS=1 "$PY" -m gunicorn config.wsgi:application --bind "$HOST:$PORT" --workers "$WEB_WORKERS" \
  --access-logfile "$LOG_DIR/access.log" &
pids+=($!)
wait "${pids[-1]}"
