"""Distilling a finished run into a faster student (``ml.training.distillation``): a new run of its own, queued
like any other, that records its teacher. The staff's button on a run's page, API v1 and ``manage.py distil``
all come here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError

from ml.config import CONFIG_FILE, TrainingConfig
from ml.errors import ConfigError
from ml.presets import config_for_student
from sentiment.models import TrainingRun
from sentiment.selectors import estimates
from sentiment.selectors.runs import training_runs_with_model
from sentiment.services.runs import training_run_create

STUDENT_PRESET = "distil"  # the student's run.preset: what the runs list and the comparison show


def student_config(*, model_dir: str | Path, overrides: dict[str, Any] | None = None) -> TrainingConfig:
    """The student's settings from the teacher's saved ones (``training_config.json`` beside its weights).
    A teacher that is not a finished model, or settings that do not hold, are refused with the reason."""
    folder = Path(model_dir).expanduser().resolve()
    saved = folder / CONFIG_FILE
    if not (folder / "config.json").is_file() or not saved.is_file():
        raise ValidationError(
            f"{folder} is not a model saved by a training run (it needs config.json and {CONFIG_FILE} beside the "
            "weights): distil a finished run, or its model folder."
        )
    try:
        teacher = TrainingConfig.from_json(saved.read_text())
        layers = json.loads((folder / "config.json").read_text()).get("num_hidden_layers")
        if not isinstance(layers, int):
            raise ValidationError(f"{folder} is not a BERT-style model (its config.json gives no num_hidden_layers).")
        return config_for_student(teacher, str(folder), layers, **(overrides or {}))
    except ConfigError as exc:
        raise ValidationError({name or "__all__": [message] for name, message in exc.problems} or str(exc)) from None


def teacher_run(*, model_dir: str | Path) -> TrainingRun | None:
    """The finished run whose model is ``model_dir``, if the database has one."""
    runs = training_runs_with_model(model_dir=model_dir)
    return next((run for run in runs if run.status == TrainingRun.Status.SUCCEEDED), None)


def training_run_distil(
    *,
    teacher: TrainingRun | None = None,
    model_dir: str | Path | None = None,
    user,
    overrides: dict[str, Any] | None = None,
    launched_from: str = "admin",
    promote_when_done: bool = False,
    enqueue: bool = True,
) -> TrainingRun:
    """Queue a student of ``teacher`` (a succeeded run) or of the model in ``model_dir``; ``overrides`` change
    any of its settings (``None``: the recipe's). ``enqueue=False``: the caller trains it (``manage.py distil``)."""
    if teacher is not None:
        if teacher.status != TrainingRun.Status.SUCCEEDED or not teacher.model_dir:
            status = teacher.get_status_display()
            raise ValidationError(f"{teacher} has no finished model to learn from (status: {status}).")
        model_dir = teacher.model_dir
    elif model_dir is None:
        raise ValidationError("Name the teacher: a finished run or a model folder.")
    else:
        teacher = teacher_run(model_dir=model_dir)
    config = student_config(model_dir=model_dir, overrides=overrides)
    return training_run_create(
        user=user,
        config=config,
        preset=STUDENT_PRESET,
        launched_from=launched_from,
        promote_when_done=promote_when_done,
        enqueue=enqueue,
        estimate=estimates.run_estimate(config),
        teacher=teacher,
    )
