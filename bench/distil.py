"""Distillation recipes against their teacher: which layers, how many, the temperature, the mix of soft and true
labels, how many reviews, the input's length; each student scored beside the teacher in this one run.

Every variant is a whole ``train_model`` run of a student (``ml.presets.config_for_student``: the ``STUDENT``
recipe over the teacher's settings), changed one way, optionally on fewer training and test reviews for a quick
screen. The teacher answers the training reviews once; the variants that train on the same reviews read its
answers back. Each student, and the teacher, is scored on:

- the same IMDb test reviews (the seeded sample the settings take), all answered here by ``onnx-int8``, the runtime
  that serves them on a CPU; beside it each run's own test accuracy (PyTorch's; the teacher's on its own run's
  test reviews, the same ones when ``--test-reviews`` is the teacher's and the seed the same);
- the project's out-of-domain set and the behavioural checks (from each run's record; the teacher's from its own);
- the Rotten Tomatoes snippets (``bench.run_scores``: measured only, never trained on);
- one median review on ``onnx-int8``: student and teacher take turns in rounds of 20 answers, so that both meet
  the machine's ups and downs, and the student's time is given as a share of the teacher's.

    IMDB_DATA_DIR=/path/to/imdb python -m bench.distil --teacher var/runs/run-1-* --out result.json
    IMDB_DATA_DIR=... python -m bench.distil --teacher var/runs/run-1-* --train-reviews 2000 --test-reviews 1000
    IMDB_DATA_DIR=... python -m bench.distil --teacher var/runs/run-1-* --students var/runs/run-2-*  # trained ones
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import common
from bench.run_scores import scored

RECIPE = "the recipe (ml.presets.STUDENT)"
VARIANTS = {
    RECIPE: {},
    "the lowest layers": {"keep_layers_from": "bottom"},
    "true labels only (no teacher)": {"distillation_weight": 0.0},
    "temperature 4": {"distillation_temperature": 4.0},
    "2 layers": {"keep_layers": 2},
    "192 tokens": {"max_length": 192},
}
RUNTIME = "onnx-int8"  # what serves both on a CPU


def run_variant(name: str, changes: dict, *, teacher_dir: Path, sizes: dict, checked: int, folder: Path) -> dict:
    from ml.config import CONFIG_FILE, TrainingConfig
    from ml.presets import config_for_student
    from ml.training.pipeline import train_model

    teacher = TrainingConfig.from_json((teacher_dir / CONFIG_FILE).read_text())
    layers = json.loads((teacher_dir / "config.json").read_text())["num_hidden_layers"]
    config = config_for_student(
        teacher, str(teacher_dir), layers, output_dir=str(folder), serving_check_reviews=checked, **sizes, **changes
    )
    started = time.monotonic()
    result = train_model(config, imdb_dir=os.environ.get("IMDB_DATA_DIR"), progress_bar=False)
    return {
        "variant": name,
        "changes": changes,
        "layers": result.results.model_shape["num_hidden_layers"],
        "notes": result.results.data.notes,
        **scored(result.results, Path(result.model_dir)),
        "wall_seconds": round(time.monotonic() - started, 1),
        "model_dir": result.model_dir,
        "test_texts_config": {"max_test_examples": config.max_test_examples, "seed": config.seed},
    }


def test_reviews(teacher_run: Path, student_config: dict) -> tuple[list[str], np.ndarray]:
    """The students' test reviews (the seeded sample their settings take)."""
    from ml.data.sources import SplitLimits, load_reviews

    config = json.loads((teacher_run / "model" / "training_config.json").read_text())
    limits = SplitLimits(seed=student_config["seed"], max_test=student_config["max_test_examples"])
    test = load_reviews(config["dataset"], limits=limits, imdb_dir=os.environ.get("IMDB_DATA_DIR")).test
    return list(test["text"]), np.asarray(test["label"])


def served_accuracy(model_dir: Path, texts: list[str], labels: np.ndarray) -> float:
    """Accuracy on ``texts`` answered by ``RUNTIME``: the teacher and every student on the same footing (a
    run's own test accuracy is PyTorch's, as it trained)."""
    from ml.serving.inference import predictor_load

    answers = np.asarray(predictor_load(model_dir, RUNTIME).positive_probabilities(texts, batch_size=64))
    return round(float(((answers >= 0.5) == labels).mean()), 4)


def teacher_row(teacher_run: Path) -> dict:
    """The teacher as the students are scored: its record (its own test reviews, checks, snippets)."""
    from ml.results import RESULTS_FILE, results_read

    results = results_read(teacher_run / RESULTS_FILE)
    return {
        "variant": "teacher",
        "layers": results.model_shape["num_hidden_layers"],
        **scored(results, teacher_run / "model"),
    }


def side_by_side_latency(model_dirs: dict[str, Path], review: str, *, rounds: int = 15, per_round: int = 20) -> dict:
    """p50 of one review on ``RUNTIME`` for each model, taking turns."""
    from ml.serving.inference import predictor_load

    predictors = {name: predictor_load(folder, RUNTIME) for name, folder in model_dirs.items()}
    for predictor in predictors.values():
        predictor.positive_probabilities([review] * 5)  # warm
    times: dict[str, list[float]] = {name: [] for name in predictors}
    for _ in range(rounds):
        for name, predictor in predictors.items():
            for _ in range(per_round):
                started = time.perf_counter()
                predictor.positive_probabilities([review])
                times[name].append(time.perf_counter() - started)
    return {name: round(statistics.median(t) * 1000, 2) for name, t in times.items()}


def trained_student(folder: Path) -> dict:
    """A student trained already (``manage.py distil``), read as ``run_variant`` reports one."""
    from ml.config import CONFIG_FILE
    from ml.results import RESULTS_FILE, results_read

    results = results_read(folder / RESULTS_FILE)
    config = json.loads((folder / CONFIG_FILE).read_text())
    return {
        "variant": folder.name,
        "changes": {k: config[k] for k in ("keep_layers", "keep_layers_from", "max_length", "distillation_temperature",
                                           "distillation_weight", "max_train_examples")},
        "layers": results.model_shape["num_hidden_layers"],
        "notes": results.data.notes,
        **scored(results, folder / "model"),
        "wall_seconds": results.wall_seconds,
        "model_dir": str(folder / "model"),
        "test_texts_config": {"max_test_examples": config["max_test_examples"], "seed": config["seed"]},
    }  # fmt: skip


def trained_variants(args, teacher_run: Path, tmp: str) -> list[dict]:
    """Each chosen variant trained in ``tmp``, the recipe first; the teacher's answers asked once."""
    chosen = args.variants.split(";") if args.variants else list(VARIANTS)
    sizes = {"max_train_examples": args.train_reviews, "max_test_examples": args.test_reviews}
    rows, answers = [], None
    for index, name in enumerate([RECIPE, *(name for name in chosen if name != RECIPE)]):
        folder = Path(tmp) / f"student-{index}"
        folder.mkdir()
        if answers is not None:  # the same training reviews: the teacher's answers read back, not asked again
            shutil.copy(answers, folder / answers.name)
        row = run_variant(
            name, VARIANTS[name], teacher_dir=teacher_run / "model", sizes=sizes,
            checked=args.serving_check_reviews, folder=folder,
        )  # fmt: skip
        answers = answers or folder / "teacher_answers.npz"
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", required=True, help="the teacher's run folder (with model/ and metrics.json)")
    parser.add_argument("--train-reviews", type=int, help="training reviews per student (default: all)")
    parser.add_argument("--test-reviews", type=int, default=5000)
    parser.add_argument("--serving-check-reviews", type=int, default=200)
    parser.add_argument("--variants", help="names to run, separated by ';' (default: all)")
    parser.add_argument("--students", nargs="+", help="compare these trained students' run folders instead")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    teacher_run = Path(args.teacher)
    with tempfile.TemporaryDirectory(prefix="bench-distil-") as tmp:
        if args.students:
            rows = [trained_student(Path(folder)) for folder in args.students]
        else:
            rows = trained_variants(args, teacher_run, tmp)
        teacher = teacher_row(teacher_run)
        texts, labels = test_reviews(teacher_run, rows[0]["test_texts_config"])
        for row in [teacher, *rows]:
            folder = teacher_run / "model" if row is teacher else Path(row["model_dir"])
            row[f"imdb_accuracy_{RUNTIME}"] = served_accuracy(folder, texts, labels)
        review = common.median_review(common.imdb_reviews()["text"])
        latency = side_by_side_latency(
            {"teacher": teacher_run / "model", **{row["variant"]: Path(row["model_dir"]) for row in rows}}, review
        )
    teacher["ms_per_review"] = latency["teacher"]
    for row in rows:
        row["ms_per_review"] = latency[row["variant"]]
        row["time_vs_teacher"] = round(latency[row["variant"]] / latency["teacher"], 3)
        for key in (f"imdb_accuracy_{RUNTIME}", "imdb_accuracy", "out_of_domain_accuracy", "rotten_tomatoes_accuracy"):
            row[f"{key}_points_vs_teacher"] = round((row[key] - teacher[key]) * 100, 2)
        row.pop("model_dir")
    result = {
        "benchmark": "distil",
        "machine": common.serving_machine(),
        "runtime": RUNTIME,
        "review_characters": len(review),
        "teacher": teacher,
        "students": rows,
    }
    common.emit(result, args.out)


if __name__ == "__main__":
    main()
