"""Reads: people's feedback, and the corrections staff accepted, as a versioned labelled set."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db.models import F, QuerySet

from sentiment.models import (
    Feedback,
)


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
