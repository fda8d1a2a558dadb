"""The serving check made after training: export the model for ONNX Runtime, then score every runtime.

Serving runs on CPUs, where the runtime that answers fastest is not known in advance: it depends on the
CPU (int8 instructions such as AVX-512 VNNI), the model's size and the reviews' length. So each trained
model is measured here, on this machine's CPU, on the same test reviews: PyTorch with the weights as
trained, and its ONNX export in 32-bit floats (fp32) and in 8-bit integers (int8). For each: accuracy,
the points of accuracy lost against PyTorch, the median time to answer one review (what a person on the
site waits for) and reviews per second in batches (what a CSV file needs). ``ml.serving_choice`` picks
from these.
"""

from __future__ import annotations

import logging
import statistics
import time
from dataclasses import asdict
from pathlib import Path

from ml.errors import ModelError, first_line
from ml.inference import predictor_load
from ml.metrics import classification_metrics
from ml.onnx_export import onnx_export
from ml.serving_choice import MEASURED, PYTORCH

logger = logging.getLogger(__name__)

PARITY_REVIEWS = 300  # reviews the export is checked on against PyTorch (at most)
TIMED_REVIEWS = 25  # reviews answered one at a time for the median answer time


def serving_check(model_dir: str | Path, texts: list[str], labels: list[int], *, batch_size: int = 64) -> dict:
    """Export ``model_dir`` to ONNX (checked against PyTorch), then score each runtime on the reviews.

    An export that fails, or answers differently from PyTorch, is reported with its reason and leaves
    PyTorch as the only runtime measured.
    """
    texts = list(texts)
    check: dict = {"reviews": len(texts), "runtimes": {}}
    try:
        check["export"] = asdict(onnx_export(model_dir, check_texts=texts[:PARITY_REVIEWS]))
    except ModelError as exc:
        logger.warning("ONNX export skipped: %s", exc)
        check["export"] = {"error": first_line(exc)}
    runtimes = MEASURED if "error" not in check["export"] else (PYTORCH,)
    for runtime in runtimes:
        check["runtimes"][runtime] = _score(predictor_load(model_dir, runtime), texts, labels, batch_size)
    reference = check["runtimes"][PYTORCH]["accuracy"]
    for scores in check["runtimes"].values():
        scores["accuracy_loss_points"] = round(100 * (reference - scores["accuracy"]), 2)
    return check


def _score(predictor, texts: list[str], labels: list[int], batch_size: int) -> dict:
    started = time.perf_counter()
    probs = predictor.positive_probabilities(texts, batch_size=batch_size)
    seconds = time.perf_counter() - started
    timed = texts[: TIMED_REVIEWS + 1]
    times = []
    for text in timed:
        one = time.perf_counter()
        predictor.positive_probabilities([text])
        times.append(time.perf_counter() - one)
    return {
        "accuracy": classification_metrics(labels, probs)["accuracy"],
        "reviews_per_second": round(len(texts) / seconds, 1) if seconds else None,
        "ms_per_review": round(1000 * statistics.median(times[1:] or times), 2),  # the first one warms up
    }
