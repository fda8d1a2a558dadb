#!/usr/bin/env bash
# The GPU training targets, each benchmark bounded in time, JSON results and logs in $RESULTS:
#   imdb_full   MiniLM on the full IMDb: >= 93.5% test accuracy in under 60 s            (<= 150 s)
#   throughput  bert-base, fast >= 10x tutorial reviews/s, with the ablations            (<= 240 s)
#   minilm      the same ratio for MiniLM                                                (<= 90 s)
#   compiled    bert-base, the fast recipe under torch.compile against tutorial          (<= 240 s)
# Usage: IMDB_DATA_DIR=/path/to/imdb [RESULTS=dir] [MINILM=folder] bench/gpu_targets.sh [step ...]
# With no step named, the first three run (up to 8 minutes, the two targets first); `compiled` runs
# only when named. Needs the project's packages and a CUDA GPU.
set -uo pipefail
cd "$(dirname "$0")/.."
: "${IMDB_DATA_DIR:?set IMDB_DATA_DIR to the folder with the official train/test parquet files}"
RESULTS=${RESULTS:-bench/results/latest}
MINILM=${MINILM:-minilm}
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

for step in "${@:-imdb_full throughput minilm}"; do
  for one in $step; do
    case $one in
      imdb_full) run imdb_full 150 "$PY" -m bench.imdb_full --base-model "$MINILM" ;;
      throughput) run train_throughput_bert_base 240 "$PY" -m bench.train_throughput --models bert-base --minilm "$MINILM" --ablations ;;
      minilm) run train_throughput_minilm 90 "$PY" -m bench.train_throughput --models minilm --minilm "$MINILM" ;;
      compiled) run train_throughput_compiled 240 "$PY" -m bench.train_throughput --models bert-base --minilm "$MINILM" --compiled --warmup-steps 30 ;;
      *) echo "unknown step $one (imdb_full, throughput, minilm, compiled)"; exit 2 ;;
    esac
  done
done
