#!/usr/bin/env bash
# The two GPU training targets in one go, each benchmark bounded in time, JSON results in $RESULTS:
#   1. train_throughput: fast >= 10x tutorial reviews/s for bert-base (with the ablations);
#   2. imdb_full: MiniLM on the full IMDb, >= 93.5% test accuracy in under 60 s.
# Usage: IMDB_DATA_DIR=/path/to/imdb RESULTS=/tmp/results bench/gpu_targets.sh [MiniLM folder]
# Needs the project's Python packages and a CUDA GPU. The limits leave each step time to finish
# on an H100/H200 and stop it when something is badly off.
set -uo pipefail
cd "$(dirname "$0")/.."
: "${IMDB_DATA_DIR:?set IMDB_DATA_DIR to the folder with the official train/test parquet files}"
RESULTS=${RESULTS:-bench/results/latest}
MINILM=${1:-minilm}
PY=${PYTHON:-python3}
mkdir -p "$RESULTS"
"$PY" -c 'import torch; assert torch.cuda.is_available(), "no CUDA GPU"; print(torch.cuda.get_device_name(0))' || exit 1

run() {  # name, seconds, command...
  local name=$1 limit=$2
  shift 2
  echo "== $name (at most ${limit}s)"
  timeout --kill-after=10 "$limit" "$@" --out "$RESULTS/$name.json" >"$RESULTS/$name.log" 2>&1
  echo "   exit $? after $SECONDS s in all; last lines:"
  tail -n 3 "$RESULTS/$name.log"
}

run imdb_full 150 "$PY" -m bench.imdb_full --base-model "$MINILM"
run train_throughput_bert_base 240 "$PY" -m bench.train_throughput --models bert-base --minilm "$MINILM" --ablations
run train_throughput_minilm 90 "$PY" -m bench.train_throughput --models minilm --minilm "$MINILM"
