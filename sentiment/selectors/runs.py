"""Reads: a training run's configuration, whether it can resume, and its live progress."""

from __future__ import annotations

from pathlib import Path

from ml.config import TrainingConfig
from ml.training.checkpoints import latest_complete_checkpoint
from sentiment.models import (
    TrainingRun,
)


def training_run_config(*, run: TrainingRun) -> TrainingConfig:
    """The run's config, resuming from its last complete checkpoint when an earlier attempt left one."""
    config = TrainingConfig.from_dict(run.config)
    checkpoint = latest_complete_checkpoint(Path(run.output_dir) / "checkpoints")
    return config.replace(resume=checkpoint is not None)


def training_run_resumable(*, run: TrainingRun) -> bool:
    """A failed run that left a complete checkpoint can go on from it (``services.training_run_resume``)."""
    if run.status != TrainingRun.Status.FAILED or not run.output_dir:
        return False
    return latest_complete_checkpoint(Path(run.output_dir) / "checkpoints") is not None


def training_run_progress(*, run: TrainingRun) -> dict:
    """Everything the live run page draws, as JSON."""
    history = run.history or []
    return {
        "id": run.pk,
        "status": run.status,
        "status_display": run.status_display,
        "active": run.is_active,
        "cancel_requested": run.cancel_requested,
        "step": run.step,
        "max_steps": run.max_steps,
        "percent": run.progress_percent,
        "epoch": run.epoch,
        "num_epochs": run.config.get("num_train_epochs"),
        "loss": run.loss,
        "learning_rate": run.learning_rate,
        "eta_seconds": run.seconds_left,
        "device": run.device,
        "precision": run.precision,
        "interruptions": run.interruptions,
        "error": run.error,
        "log_tail": run.log_tail[-4000:],
        "loss_curve": [[h["step"], h["loss"]] for h in history if "loss" in h],
        "lr_curve": [[h["step"], h["learning_rate"]] for h in history if "learning_rate" in h and "loss" in h],
        "eval_curve": [
            {"epoch": h.get("epoch"), "step": h["step"], "accuracy": h["eval_accuracy"], "f1": h.get("eval_f1")}
            for h in history
            if "eval_accuracy" in h
        ],
        "test": run.results.test.to_json() if run.results.test else None,
        "model_dir": run.model_dir,
        "last_checkpoint": run.last_checkpoint,
        "output_dir": run.output_dir,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }


def training_runs_with_model(*, model_dir: str | Path) -> list[TrainingRun]:
    """The runs whose saved model is the folder ``model_dir`` (however the path was written), oldest first."""
    runs = TrainingRun.objects.exclude(model_dir="").order_by("pk")
    return [run for run in runs if _same_folder(run.model_dir, model_dir)]


def _same_folder(a: str | Path, b: str | Path) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False
