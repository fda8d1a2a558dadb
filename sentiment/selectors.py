"""Reads: what the pages, the API and the worker look up. No writes here."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from ml.checkpoints import latest_complete_checkpoint
from ml.config import TrainingConfig
from ml.serving_choice import AUTO, ONNX_FP32, ONNX_INT8, PYTORCH, PYTORCH_INT8, serving_runtime
from sentiment.models import (
    AnalysisJob,
    ApiToken,
    CsvClassification,
    Feedback,
    LabelledDataset,
    Prediction,
    Promotion,
    TrainingRun,
)
from sentiment.permissions import can_manage_training


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


def database_migrations_pending() -> bool:
    """Whether the database lacks tables or columns the code expects (``manage.py migrate`` not run)."""
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))


@dataclass(frozen=True)
class KeyCheck:
    """What a presented API key is worth: its token when it may be used, else why not (for the answer)."""

    token: ApiToken | None
    refusal: str = ""


def api_token_check(*, key: str) -> KeyCheck:
    """Whether ``key`` may call the API now: known, not revoked, not expired, and its owner active.

    A revoked or expired key is told so (whoever sends it held it); an unknown one learns nothing."""
    token = ApiToken.objects.select_related("user").filter(key_hash=ApiToken.hash_key(key)).first() if key else None
    if token is None or not token.user.is_active:
        return KeyCheck(None, "Send a valid API key: 'Authorization: Bearer <key>' (create one on the API page).")
    if token.revoked_at is not None:
        return KeyCheck(None, f"This API key was revoked on {token.revoked_at:%Y-%m-%d %H:%M} UTC; create a new one.")
    if token.expires_at is not None and token.expires_at <= timezone.now():
        return KeyCheck(None, f"This API key expired on {token.expires_at:%Y-%m-%d %H:%M} UTC; create a new one.")
    return KeyCheck(token)


def api_token_list(*, user) -> QuerySet[ApiToken]:
    """The person's keys, active ones first."""
    return ApiToken.objects.filter(user=user).order_by(F("revoked_at").asc(nulls_first=True), "-created_at")


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
    at an accuracy cost of at most ``INT8_MAX_ACCURACY_LOSS`` points (``ml.serving_choice``)."""
    check = (run.metrics or {}).get("serving")
    return serving_runtime(check, setting=settings.SERVE_RUNTIME, max_loss_points=settings.INT8_MAX_ACCURACY_LOSS)


RUNTIME_NAMES = {
    PYTORCH: "PyTorch, the weights as trained (32-bit floats)",
    ONNX_FP32: "ONNX Runtime, the same weights, fused operations",
    ONNX_INT8: "ONNX Runtime, weights in 8-bit integers (int8)",
    PYTORCH_INT8: "PyTorch's own int8 (deprecated; only when forced)",
}


def training_run_serving_check(*, run: TrainingRun) -> dict | None:
    """The run's serving check for its page: one row per runtime measured, and the one that serves."""
    check = (run.metrics or {}).get("serving")
    if not check:
        return None
    served = training_run_serving_runtime(run=run)
    rows = [
        {"runtime": name, "description": RUNTIME_NAMES.get(name, name), "served": name == served, **scores}
        for name, scores in (check.get("runtimes") or {}).items()
    ]
    export_error = (check.get("export") or {}).get("error") or check.get("error")
    return {
        "reviews": check.get("reviews"),
        "rows": rows,
        "served": served,
        "forced": settings.SERVE_RUNTIME != AUTO,
        "max_loss": settings.INT8_MAX_ACCURACY_LOSS,
        "export_error": export_error,
    }


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


def prediction_list(*, user, query: str = "") -> QuerySet[Prediction]:
    predictions = Prediction.objects.filter(user=user).select_related("feedback")
    if query:
        predictions = predictions.filter(text__icontains=query)
    return predictions


@dataclass(frozen=True)
class CorrectionsSet:
    """The accepted corrections: reviews people said the model got wrong, with the right label."""

    rows: list[dict]  # {"feedback": id, "text": ..., "label": 0 or 1}, oldest first
    version: str  # changes whenever an accepted correction is added or changed: "<count>-<digest>"


def _accepted_corrections(*fields: str):
    return Feedback.objects.filter(status=Feedback.Status.ACCEPTED).order_by("pk").values_list(*fields)


def _corrections_version(labelled: list[tuple[int, int]]) -> str:
    """``<count>-<digest>`` of the accepted corrections' (feedback id, label) pairs."""
    digest = hashlib.sha256(json.dumps([list(pair) for pair in labelled]).encode()).hexdigest()[:10]
    return f"{len(labelled)}-{digest}"


def corrections_set() -> CorrectionsSet:
    accepted = _accepted_corrections("pk", "prediction__text", "correct_label")
    rows = [{"feedback": pk, "text": text, "label": Feedback.LABELS.index(label)} for pk, text, label in accepted]
    return CorrectionsSet(rows=rows, version=_corrections_version([(r["feedback"], r["label"]) for r in rows]))


def corrections_folder() -> Path:
    return Path(settings.MEDIA_ROOT) / "corrections"


def corrections_path(*, version: str) -> Path:
    """Where the corrections set of ``version`` is saved for the runs (``services.corrections_snapshot``)."""
    return corrections_folder() / f"corrections-{version}.parquet"


def corrections_file() -> str:
    """The file a run launched now is given (saved when it is created); "" while nothing was accepted.

    Only the ids and labels are read, not the texts: the launch form asks on each estimate it shows."""
    labelled = [(pk, Feedback.LABELS.index(label)) for pk, label in _accepted_corrections("pk", "correct_label")]
    return str(corrections_path(version=_corrections_version(labelled))) if labelled else ""


def feedback_list(*, status: str = "") -> QuerySet[Feedback]:
    """The feedback queue: the waiting items first (oldest first, as a queue is read), then the rest."""
    items = Feedback.objects.select_related("prediction", "prediction__user", "reviewed_by")
    if status:
        return items.filter(status=status).order_by("created_at", "id")
    return items.order_by(F("reviewed_at").desc(nulls_first=True), "created_at", "id")


def csv_classification_list(*, user) -> QuerySet[CsvClassification]:
    return CsvClassification.objects.filter(user=user)


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
        "test": run.metrics.get("test"),
        "model_dir": run.model_dir,
        "last_checkpoint": run.last_checkpoint,
        "output_dir": run.output_dir,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }


def labelled_datasets_folder() -> Path:
    """Where uploaded labelled data sets are saved, one folder each (``services.labelled_dataset_create``)."""
    return Path(settings.MEDIA_ROOT) / "datasets"


def labelled_dataset_list() -> QuerySet[LabelledDataset]:
    """The uploaded labelled data sets, newest first."""
    return LabelledDataset.objects.select_related("uploaded_by")


@dataclass(frozen=True)
class DataChoice:
    """One way to train on an uploaded data set, as the launch form offers it."""

    key: str  # stable: "set:<id>" (alone) or "set:<id>+imdb" (added to IMDb)
    label: str  # what the form shows
    dataset: str  # the run's ``dataset``
    added_data: str  # the run's ``added_data`` ("" for none)


def labelled_dataset_choices() -> list[DataChoice]:
    """Two choices per uploaded data set, newest first: trained on alone (its own test part is the run's test
    set), or added to IMDb (IMDb's test set stays the run's test set; the set's test part is scored beside it)."""
    choices = []
    for data in LabelledDataset.objects.only("pk", "name", "rows", "folder", "stats"):
        split = (data.stats or {}).get("split") or {}
        added = f"{split['train']:,} training reviews" if "train" in split else f"{data.rows:,} reviews"
        choices += [
            DataChoice(f"set:{data.pk}", f"{data.name}: your {data.rows:,} reviews alone", data.folder, ""),
            DataChoice(f"set:{data.pk}+imdb", f"IMDb + {data.name}: your {added} added", "imdb", data.folder),
        ]
    return choices


def labelled_dataset_runs(*, dataset: LabelledDataset) -> QuerySet[TrainingRun]:
    """The runs that trained on a data set, alone or added to another, newest first."""
    folder = dataset.folder
    return TrainingRun.objects.filter(Q(config__dataset=folder) | Q(config__added_data=folder)).order_by("-pk")


def analysis_jobs_visible(*, user) -> QuerySet[AnalysisJob]:
    """The analyses ``user`` may follow: explanations of their own answers; every analysis, for staff."""
    if can_manage_training(user):
        return AnalysisJob.objects.all()
    # an explanation is asked for by the owner of the answer alone (its key names the prediction)
    return AnalysisJob.objects.filter(kind=AnalysisJob.Kind.EXPLANATION, requested_by=user)


def analysis_job_active(*, key: str) -> AnalysisJob | None:
    return AnalysisJob.objects.filter(key=key, status__in=AnalysisJob.ACTIVE).order_by("-created_at").first()
