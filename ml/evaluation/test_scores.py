"""Evaluation: scoring a saved model on the test reviews of any data source.

By default it re-creates the exact test sample the model was scored on at the end of training (same
data source, seed and limit, read from the ``training_config.json`` saved with the model), so the
numbers can be checked independently of the training process.
"""

from __future__ import annotations

import time
from pathlib import Path

from ml.config import CONFIG_FILE, TrainingConfig
from ml.data.sources import SplitLimits, load_reviews
from ml.evaluation.metrics import classification_metrics
from ml.results import RESULTS_FILE, results_read
from ml.serving.inference import Predictor
from ml.serving.labeller import resolve_model_dir


def saved_training_config(model_dir: str | Path) -> TrainingConfig | None:
    """The configuration the model was trained with, when it was trained here."""
    file = resolve_model_dir(model_dir) / CONFIG_FILE
    return TrainingConfig.from_json(file.read_text()) if file.is_file() else None


def evaluation_limits(trained: TrainingConfig | None, *, seed: int | None = None, max_test: int | None = None):
    """The seeded test sample to score: as in training unless ``seed`` or ``max_test`` say otherwise."""
    defaults = trained or TrainingConfig()
    return SplitLimits(
        seed=defaults.seed if seed is None else seed,
        validation_fraction=defaults.validation_fraction,
        max_test=max_test or defaults.max_test_examples,
    )


def evaluate_saved_model(
    model_dir: str | Path,
    *,
    dataset: str,
    limits: SplitLimits,
    imdb_dir: str | None = None,
    int8: bool = False,
    batch_size: int = 64,
) -> dict:
    """Accuracy, precision, recall, F1, ROC AUC and confusion matrix on the test split of ``dataset``."""
    splits = load_reviews(dataset, limits=limits, imdb_dir=imdb_dir)
    predictor = Predictor(model_dir, int8=int8)
    started = time.perf_counter()
    probs = predictor.positive_probabilities(splits.test["text"], batch_size=batch_size)
    seconds = time.perf_counter() - started
    scores = classification_metrics(splits.test["label"], probs)
    scores.update(
        model_dir=str(predictor.model_dir),
        int8=int8,
        data={"source": splits.description, "test_examples": len(splits.test), "notes": splits.notes},
        seconds=round(seconds, 2),
        samples_per_second=round(len(probs) / seconds, 1) if seconds else None,
    )
    return scores


def training_test_accuracy(model_dir: str | Path) -> float | None:
    """The test accuracy recorded when the model was trained (from the run's metrics.json)."""
    path = resolve_model_dir(model_dir).parent / RESULTS_FILE
    if not path.is_file():
        return None
    return results_read(path).test.accuracy
