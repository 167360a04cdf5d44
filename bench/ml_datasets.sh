#!/usr/bin/env bash
# The offline benchmark on every dataset in ../shared/datasets, one dataset at a time:
# the table goes to var/bench/NAME.table, progress to var/bench/NAME.log, the JSON to
# docs/results/NAME.json. Extra arguments go to every run, e.g. `--epochs 20 --models hybrid,sasrec`;
# RESULT_SUFFIX names a partial run (docs/results/NAME-SUFFIX.json; bench/ml_tables.py merges them).
#   bench/ml_datasets.sh                      # all three datasets, default caps
#   DATASETS_ONLY="ciaodvd lastfm" RESULT_SUFFIX=ablations bench/ml_datasets.sh --models lightgcn,lstm
#   bench/ml_datasets.sh --jobs 2             # two models at once, one thread each on 2 cores: the
#                                             # tables' metrics (measured with OMP_NUM_THREADS=1), ~half the time
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATASETS:-../shared/datasets}
PY=${PY:-.venv/bin/python}
mkdir -p var/bench docs/results
for name in ${DATASETS_ONLY:-ciaodvd lastfm amazon-beauty}; do
  dir="$DATA/$name"
  stem="$name${RESULT_SUFFIX:+-$RESULT_SUFFIX}"
  args=(--interactions "$dir/interactions.csv")
  [ -f "$dir/social.csv" ] && args+=(--social "$dir/social.csv")
  [ -f "$dir/items.csv" ] && args+=(--items "$dir/items.csv")
  echo "$(date -u +%FT%TZ) $PY -m recommender.ml.bench ${args[*]} --out docs/results/$stem.json $*"
  # a failed model (exit 1) keeps the others' results; go on with the next dataset
  "$PY" -m recommender.ml.bench "${args[@]}" --out "docs/results/$stem.json" "$@" \
    > "var/bench/$stem.table" 2> "var/bench/$stem.log" || echo "$name: bench exited with status $?"
  cat "var/bench/$stem.table"
done
echo "$(date -u +%FT%TZ) done"
