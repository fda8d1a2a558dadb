"""The serving check made after training: export the model for ONNX Runtime, then score every runtime.

Serving runs on CPUs, where the runtime that answers fastest is not known in advance: it depends on the
CPU (int8 instructions such as AVX-512 VNNI), the model's size and the reviews' length. So each trained
model is measured here, on this machine's CPU, on the same test reviews: PyTorch with the weights as
trained, and its ONNX export in 32-bit floats (fp32) and in 8-bit integers (int8). For each: accuracy,
the points of accuracy lost against PyTorch, the median time to answer one review (what a person on the
site waits for) and reviews per second in batches (what a CSV file needs). ``ml.serving.choice`` picks
from these.
"""

from __future__ import annotations

import logging
import statistics
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ml.errors import ModelError, first_line
from ml.evaluation.metrics import classification_metrics
from ml.serving.choice import ONNX_VARIANTS, PYTORCH
from ml.serving.inference import predictor_load
from ml.serving.onnx_export import onnx_files_write, onnx_parity

logger = logging.getLogger(__name__)

TIMED_REVIEWS = 25  # reviews answered one at a time for the median answer time


def serving_check(model_dir: str | Path, texts: list[str], labels: list[int], *, batch_size: int = 64) -> dict:
    """Export ``model_dir`` to ONNX, score each runtime on the reviews, and check the export against
    PyTorch on the same answers (``onnx_parity``: no review is computed twice).

    An export that fails, or answers differently from PyTorch, is reported with its reason and leaves
    PyTorch as the only runtime measured.
    """
    texts = list(texts)
    check: dict = {"reviews": len(texts), "runtimes": {}}
    probabilities = {}
    check["runtimes"][PYTORCH], probabilities[PYTORCH] = _score(
        predictor_load(model_dir, PYTORCH), texts, labels, batch_size
    )
    started = time.monotonic()
    try:
        folder = onnx_files_write(model_dir)
        for runtime in ONNX_VARIANTS:
            check["runtimes"][runtime], probabilities[runtime] = _score(
                predictor_load(folder, runtime), texts, labels, batch_size
            )
        answers = {variant: probabilities[runtime] for runtime, variant in ONNX_VARIANTS.items()}
        check["export"] = asdict(
            onnx_parity(folder, probabilities[PYTORCH], answers, seconds=time.monotonic() - started)
        )
    except ModelError as exc:  # no export, or one that answers differently: PyTorch alone is measured
        logger.warning("ONNX export not served: %s", exc)
        check["export"] = {"error": first_line(exc)}
        check["runtimes"] = {PYTORCH: check["runtimes"][PYTORCH]}
    reference = check["runtimes"][PYTORCH]["accuracy"]
    for scores in check["runtimes"].values():
        scores["accuracy_loss_points"] = round(100 * (reference - scores["accuracy"]), 2)
    return check


def _score(predictor, texts: list[str], labels: list[int], batch_size: int) -> tuple[dict, np.ndarray]:
    """The runtime's scores, and its P(positive) per review (for the parity check)."""
    started = time.perf_counter()
    probs = predictor.positive_probabilities(texts, batch_size=batch_size)
    seconds = time.perf_counter() - started
    timed = texts[: TIMED_REVIEWS + 1]
    times = []
    for text in timed:
        one = time.perf_counter()
        predictor.positive_probabilities([text])
        times.append(time.perf_counter() - one)
    scores = {
        "accuracy": classification_metrics(labels, probs)["accuracy"],
        "reviews_per_second": round(len(texts) / seconds, 1) if seconds else None,
        "ms_per_review": round(1000 * statistics.median(times[1:] or times), 2),  # the first one warms up
    }
    return scores, probs
