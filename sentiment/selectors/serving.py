"""Reads: the model being served, the one served before it, and which runtime a run serves on."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from ml.serving.choice import AUTO, ONNX_FP32, ONNX_INT8, PYTORCH, PYTORCH_INT8, serving_runtime
from sentiment.models import (
    Promotion,
    TrainingRun,
)


@dataclass(frozen=True)
class ServedModel:
    """Which run's model is served, as the database says (``services.serving`` loads it)."""

    run: TrainingRun
    promotion_id: int  # changes on every promotion: the cheap version check of each web process

    @property
    def name(self) -> str:
        accuracy = self.run.test_accuracy
        scored = f", test accuracy {accuracy:.3f}" if accuracy is not None else ""
        return f"Run #{self.run.pk}: {self.run.config.get('base_model')} ({self.run.preset}{scored})"


def served_model() -> ServedModel | None:
    promotion = Promotion.objects.select_related("run").first()
    return ServedModel(run=promotion.run, promotion_id=promotion.pk) if promotion else None


def first_model_run() -> TrainingRun | None:
    """While no model is served, the run that will give the first one: the oldest run under way that is
    promoted when it succeeds (``services.first_model_ensure`` launches one), else the newest run under way
    (staff promote it by hand). None when a model is served, or nothing is training."""
    if served_version() is not None:
        return None
    active = TrainingRun.objects.filter(status__in=TrainingRun.ACTIVE)
    return active.filter(promote_when_done=True).order_by("pk").first() or active.order_by("-pk").first()


def served_previous_run() -> TrainingRun | None:
    """The run served before the one served now (what a roll-back restores); None if there was none."""
    served = served_model()
    if served is None:
        return None
    earlier = Promotion.objects.exclude(run=served.run).select_related("run").first()
    return earlier.run if earlier else None


def served_version() -> int | None:
    """Only the id of the newest promotion: one indexed query per request."""
    return Promotion.objects.values_list("pk", flat=True).first()


def training_run_serving_runtime(*, run: TrainingRun) -> str:
    """The runtime ``SERVE_RUNTIME`` names, or ("auto") the one the run's serving check says answers fastest
    at an accuracy cost of at most ``INT8_MAX_ACCURACY_LOSS`` points (``ml.serving.choice``)."""
    return serving_runtime(
        run.results.serving, setting=settings.SERVE_RUNTIME, max_loss_points=settings.INT8_MAX_ACCURACY_LOSS
    )


RUNTIME_NAMES = {
    PYTORCH: "PyTorch, the weights as trained (32-bit floats)",
    ONNX_FP32: "ONNX Runtime, the same weights, fused operations",
    ONNX_INT8: "ONNX Runtime, weights in 8-bit integers (int8)",
    PYTORCH_INT8: "PyTorch's own int8 (deprecated; only when forced)",
}


def training_run_serving_check(*, run: TrainingRun) -> dict | None:
    """The run's serving check for its page: one row per runtime measured, and the one that serves."""
    check = run.results.serving
    if not check:
        return None
    served = training_run_serving_runtime(run=run)
    rows = [
        {"runtime": name, "description": RUNTIME_NAMES.get(name, name), "served": name == served, "scores": scores}
        for name, scores in check.runtimes.items()
    ]
    return {
        "reviews": check.reviews,
        "rows": rows,
        "served": served,
        "forced": settings.SERVE_RUNTIME != AUTO,
        "max_loss": settings.INT8_MAX_ACCURACY_LOSS,
        "export_error": check.export.error or check.error,
    }
