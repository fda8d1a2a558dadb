"""Does the model monitor's drift alarm ring when it should, and only then? And is its accuracy estimate right?

Replays windows of reviews through a trained run's model, as the site would answer them, and sets each
window's answers against the run's own test answers exactly as the monitor does (``ml.evaluation.drift``):

- **in-domain**: ``--windows`` windows of ``--window-size`` official IMDb test reviews
  (``$IMDB_DATA_DIR/test.parquet``, shuffled with a seed; reviews in the run's own test set left out).
  Target: no alarm in at least 19 of 20, and the estimated accuracy within 2 points of the true accuracy
  (the labels are known here). The **baseline** in the same run is the plainest estimate, the mean raw
  confidence, scored against the same truth.
- **not movie reviews**: paragraphs of Python's reference documentation (``pydoc_data``, on every machine
  with Python), one window. Target: the alarm rings.
- **very short reviews**: the first sentence (3 to 12 words) of other IMDb test reviews, labelled with their
  review's label, one window. Target: the alarm rings.

    IMDB_DATA_DIR=... python -m bench.drift --run-dir var/runs/run-1-*/ --out bench/results/drift.json
    IMDB_DATA_DIR=... python -m bench.drift --run-dir var/runs/run-1-*/ --quick   # 3 windows of 200
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import time
from pathlib import Path

import numpy as np

from bench import common

DEFAULTS = {"windows": (20, 3), "window_size": (1000, 200)}  # (full run, --quick)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", required=True, help="a trained run's output folder (test_predictions.parquet)")
    parser.add_argument("--runtime", help="the runtime that answers (default: the one the run was checked on)")
    parser.add_argument("--windows", type=int, help="in-domain windows (20)")
    parser.add_argument("--window-size", type=int, help="reviews per window (1000)")
    parser.add_argument("--seed", type=int, default=13)
    args = common.parse_arguments(parser, DEFAULTS)
    imdb = os.environ.get("IMDB_DATA_DIR")
    if not imdb:
        parser.error("set IMDB_DATA_DIR to the folder of the official IMDb splits (test.parquet)")

    from ml.evaluation.drift import confidence, drift_report, estimated_accuracy, words
    from ml.evaluation.scored_reviews import scored_reviews_columns
    from ml.results import RESULTS_FILE, results_read
    from ml.serving.choice import PYTORCH
    from ml.serving.inference import predictor_load

    run_dir = Path(args.run_dir)
    results = results_read(run_dir / RESULTS_FILE)
    runtime = args.runtime or results.behaviour.runtime or PYTORCH
    _labels, reference_probs, reference_texts = scored_reviews_columns(run_dir)
    reference = {"confidence": confidence(reference_probs), "words": words(reference_texts)}
    bins = results.test.calibration.bins
    predictor = predictor_load(run_dir / "model", runtime)

    def window(name: str, texts: list[str], labels: list[int] | None) -> dict:
        started = time.perf_counter()
        probs = np.asarray(predictor.positive_probabilities(texts), dtype=float)
        seconds = time.perf_counter() - started
        confidences = confidence(probs)
        report = drift_report(reference=reference, live={"confidence": confidences, "words": words(texts)})
        row = {
            "window": name,
            "reviews": len(texts),
            "psi": {signal.name: signal.psi for signal in report.signals},
            "alarm": report.alarm,
            "estimated_accuracy": estimated_accuracy(confidences, bins),
            "mean_confidence": round(float(confidences.mean()), 4),
            "seconds": round(seconds, 1),
        }
        if labels is not None:
            row["true_accuracy"] = round(float(((probs >= 0.5).astype(int) == np.asarray(labels)).mean()), 4)
            row["estimate_error"] = round(row["estimated_accuracy"] - row["true_accuracy"], 4)
            row["baseline_error"] = round(row["mean_confidence"] - row["true_accuracy"], 4)
        print(json.dumps(row), flush=True)
        return row

    in_domain, short = _imdb_windows(imdb, set(reference_texts), args.windows, args.window_size, args.seed)
    rows = [window(f"imdb-{i + 1}", texts, labels) for i, (texts, labels) in enumerate(in_domain)]
    inside = list(rows)
    rows.append(window("python-docs", _documentation(args.window_size, args.seed), None))
    rows.append(window("short-reviews", *short))
    common.emit(
        {
            "benchmark": "drift",
            "machine": common.machine(),
            "run_dir": str(run_dir),
            "runtime": runtime,
            "reference_reviews": len(reference_texts),
            "window_size": args.window_size,
            "summary": _summary(inside, rows),
            "windows": rows,
        },
        args.out,
    )


def _summary(inside: list[dict], rows: list[dict]) -> dict:
    alarms = sum(row["alarm"] for row in inside)
    errors = [abs(row["estimate_error"]) for row in inside]
    worst = max(errors)
    baseline = max(abs(row["baseline_error"]) for row in inside)
    # the true accuracy of a window is itself a sample: its standard error bounds how close any estimate can be
    floor = float(np.mean([np.sqrt(r["true_accuracy"] * (1 - r["true_accuracy"]) / r["reviews"]) for r in inside]))
    outside = {row["window"]: row["alarm"] for row in rows if not row["window"].startswith("imdb-")}
    return {
        "in_domain_windows": len(inside),
        "in_domain_alarms": alarms,
        "estimate_worst_error": worst,
        "estimate_mean_error": round(float(np.mean(errors)), 4),
        "windows_within_2_points": sum(error <= 0.02 for error in errors),
        "baseline_worst_error": baseline,
        "baseline_mean_error": round(float(np.mean([abs(r["baseline_error"]) for r in inside])), 4),
        "true_accuracy_standard_error": round(floor, 4),
        "out_of_domain_alarms": outside,
        "targets_met": {
            "in_domain_quiet": alarms <= len(inside) / 20,
            "estimate_within_2_points": worst <= 0.02,
            "out_of_domain_alarmed": all(outside.values()),
        },
    }


def _imdb_windows(folder: str, reference: set[str], count: int, size: int, seed: int):
    """``count`` windows of ``size`` official test reviews, and one window of first sentences of others."""
    import pandas as pd

    test = pd.read_parquet(Path(folder) / "test.parquet")
    test["text"] = test["text"].str.replace(r"<br\s*/?>", " ", regex=True)
    test = test[~test["text"].isin(reference)].sample(frac=1.0, random_state=seed).reset_index(drop=True)
    windows = [
        (test["text"][i * size : (i + 1) * size].tolist(), test["label"][i * size : (i + 1) * size].tolist())
        for i in range(count)
    ]
    rest = test[count * size :]
    first = rest["text"].str.split(r"(?<=[.!?])\s+", n=1, regex=True).str[0]
    keep = first.str.split().str.len().between(3, 12)
    return windows, (first[keep].tolist()[:size], rest["label"][keep].tolist()[:size])


def _documentation(size: int, seed: int) -> list[str]:
    """Paragraphs of Python's reference documentation: English prose, not movie reviews."""
    from pydoc_data.topics import topics

    paragraphs = [p.strip() for text in topics.values() for p in re.split(r"\n\s*\n", text) if len(p.split()) >= 8]
    random.Random(seed).shuffle(paragraphs)  # noqa: S311  (a sample, not a secret)
    return paragraphs[:size]


if __name__ == "__main__":
    main()
