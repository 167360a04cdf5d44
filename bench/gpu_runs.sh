#!/usr/bin/env bash
# The GPU runs of docs/benchmarks.md ("On a GPU"), in one go on a CUDA machine:
#   1. bench/ml_speed.py --device cuda, alone (the epoch time at 100k users / 50k items),
#   2. the default hybrid trained on each dataset (python -m recommender.ml.train, side by side),
#   3. the sequence-tower sweep on amazon-beauty and ciaodvd (the lstm ablation under a few
#      hyper-parameters, plus SASRec and the hybrid), all side by side on the one GPU.
# Logs and JSON go to $OUT (default var/bench/gpu). DATASETS: the folder holding the datasets.
#   DATASETS=../shared/datasets bench/gpu_runs.sh
set -uo pipefail
cd "$(dirname "$0")/.."
DATA=${DATASETS:-../shared/datasets}
PY=${PY:-python3}
OUT=${OUT:-var/bench/gpu}
LIMIT=${LIMIT:-330}  # seconds per sweep run: the sweep shares one GPU twelve ways
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.txt" 2>&1
OMP_NUM_THREADS=16 "$PY" bench/ml_speed.py --device cuda > "$OUT/ml_speed_cuda.log" 2>&1

B=(--interactions "$DATA/amazon-beauty/interactions.csv" --items "$DATA/amazon-beauty/items.csv")
C=(--interactions "$DATA/ciaodvd/interactions.csv" --items "$DATA/ciaodvd/items.csv" --social "$DATA/ciaodvd/social.csv")
L=(--interactions "$DATA/lastfm/interactions.csv" --social "$DATA/lastfm/social.csv")
train() { name=$1; shift; OMP_NUM_THREADS=4 "$PY" -m recommender.ml.train --device cuda --out "$OUT/$name.pt" "$@" \
  > "$OUT/train-$name.log" 2>&1; }
train beauty "${B[@]}" & train ciaodvd "${C[@]}" & train lastfm "${L[@]}" & wait

sweep() { tag=$1; shift; timeout "$LIMIT" "$PY" -m recommender.ml.bench --device cuda --in-process \
  --out "$OUT/sweep-$tag.json" "$@" > "$OUT/sweep-$tag.table" 2> "$OUT/sweep-$tag.log"; }
sweep b-lstm "${B[@]}" --models lstm & sweep b-lstm-d3 "${B[@]}" --models lstm --dropout 0.3 &
sweep b-lstm-lr1 "${B[@]}" --models lstm --lr 0.001 & sweep b-lstm-bs256 "${B[@]}" --models lstm --batch-size 256 &
sweep b-sasrec "${B[@]}" --models sasrec & sweep b-hybrid "${B[@]}" --models hybrid &
sweep c-lstm "${C[@]}" --models lstm & sweep c-lstm-d3 "${C[@]}" --models lstm --dropout 0.3 &
sweep c-hybrid "${C[@]}" --models hybrid &
wait
echo "done: $OUT"
