"""How right the launch form's estimate is: estimate a run from an earlier, different run, then train it.

The **baseline** is a real run with other settings (by default the smoke recipe on 800 reviews at 128
tokens): it measures this machine's speed, as the first run on a worker does. From its ``metrics.json``
alone, ``ml.estimate`` then predicts the time and peak memory of the **target** (by default the smoke
recipe itself), which is then trained for real. Reported: both runs' measured seconds per phase and
training peak memory, the estimate per phase, and the error of the estimate (estimate / measured - 1);
the target is the one the issue holds to within 30% of the measured time.

    python -m bench.estimate_accuracy --out bench/results/cpu-epyc-estimate-accuracy.json
    python -m bench.estimate_accuracy --quick   # a smoke test: two tiny runs of the same recipe
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import common

# (full run, --quick) for the options left unset
DEFAULTS = {"baseline": ("max_train_examples=800,max_length=128", "max_train_examples=64,max_test_examples=64")}
DEFAULTS["target"] = ("", "max_train_examples=128,max_test_examples=64")


def overrides(text: str) -> dict:
    """``name=value,...`` as config overrides (values parsed as JSON when they are, else kept as text)."""
    chosen = {}
    for pair in filter(None, text.split(",")):
        name, value = pair.split("=", 1)
        try:
            chosen[name.strip()] = json.loads(value)
        except ValueError:
            chosen[name.strip()] = value
    return chosen


def train(preset: str, settings: str, folder: Path) -> dict:
    """One run in a process of its own, as the worker trains: its peak memory is its own."""
    command = [sys.executable, "-m", "bench.estimate_accuracy", "--train-one", str(folder), "--preset", preset]
    subprocess.run([*command, "--target", settings], check=True, cwd=common.ROOT, stdout=subprocess.DEVNULL)
    from ml.results import RESULTS_FILE, results_read

    return {
        "config": json.loads((folder / "training_config.json").read_text()),
        "results": results_read(folder / RESULTS_FILE),
    }


def train_one(preset: str, settings: str, folder: str) -> None:
    from ml.presets import config_from_preset
    from ml.training.pipeline import train_model

    config = config_from_preset(preset, output_dir=folder, **overrides(settings))
    train_model(config, imdb_dir=os.environ.get("IMDB_DATA_DIR"), progress_bar=False)


def main() -> None:
    from ml import estimate
    from ml.hardware import machine_profile
    from ml.presets import config_from_preset

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="smoke", help="the recipe of both runs (smoke)")
    parser.add_argument("--baseline", help="overrides of the run measured first, name=value,...")
    parser.add_argument("--target", help="overrides of the run estimated, then measured")
    parser.add_argument("--train-one", help=argparse.SUPPRESS)  # the child that trains one run into this folder
    args = common.parse_arguments(parser, DEFAULTS)
    if args.train_one:
        train_one(args.preset, args.target, args.train_one)
        return

    with tempfile.TemporaryDirectory() as tmp:
        first = train(args.preset, args.baseline, Path(tmp) / "baseline")
        measured = estimate.measured_from_results(first["results"], first["config"], run_id=1)
        target = config_from_preset(args.preset, output_dir=str(Path(tmp) / "target"), **overrides(args.target))
        model = estimate.ModelShape.from_config(first["results"].model_shape)
        found = estimate.run_estimate(
            target,
            data=measured.data,
            model=model,
            hardware=estimate.Hardware.from_profile(machine_profile(tmp)),
            precision=first["results"].precision,
            measured=measured,
        )
        second = train(args.preset, args.target, Path(tmp) / "target")

    took = second["results"].seconds.to_json()
    peak = second["results"].memory.training.peak_bytes
    common.emit(
        {
            "benchmark": "estimate_accuracy",
            "machine": common.machine(),
            "baseline": {"overrides": args.baseline, "seconds": first["results"].seconds.to_json()}
            | {"peak_bytes": first["results"].memory.training.peak_bytes},
            "target": {"overrides": args.target or "(the preset)", "seconds": took, "peak_bytes": peak},
            "estimate": {"seconds": found.seconds, "phases": found.phases, "peak_bytes": found.peak_bytes},
            "time_error": round(found.seconds / took["total"] - 1, 3),
            "phase_errors": {
                name: round(found.phases[name] / took[name] - 1, 3)
                for name in found.phases
                if took.get(name) and took[name] > 1
            },
            "memory_error": round(found.peak_bytes / peak - 1, 3),
            "accuracy": second["results"].test.accuracy,
        },
        args.out,
    )


if __name__ == "__main__":
    main()
