"""Storage that stays bounded: a quota of bytes per person, a retention for what people leave behind,
and files that go with their rows.

- **Quota.** Everything a person stores on disk (CSV uploads and their results, the labelled data sets
  they uploaded) counts against ``MAX_STORED_BYTES_PER_PERSON``, checked before anything is written: a
  file that would pass it is refused with a message naming the quota and what the person already uses.
  Each row records its own bytes (``stored_bytes``), so the sum is one query; a CSV job reserves its
  result's bytes when it is queued (the real size replaces them once it is written), and a person's
  uploads are checked one at a time (a lock on their row), so files sent at once cannot pass it together.
- **Retention**, applied by the sweep (``services.sweep``): a CSV job that ended more than
  ``RETENTION_DAYS`` ago is deleted, files and all, failed ones too; the text of a prediction older than
  ``PREDICTION_TEXT_RETENTION_DAYS`` is emptied (its label, confidence and model stay, for the history's
  figures), unless someone gave feedback on it: those are the corrections set staff train on. The model
  monitor's record of requests it could not answer (``ServingFailure``) is kept ``FAILURES_KEPT``.
- **Files with their rows.** Deleting a CSV job's or a data set's row, one by one, by the retention, or
  because its owner's account was deleted (a cascade), deletes its files: receivers of Django's
  ``post_delete`` signal, which a cascade sends for every row it deletes (a data set's folder:
  ``services.datasets``).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Sum
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone

from sentiment.models import CsvClassification, LabelledDataset, Prediction, ServingFailure

logger = logging.getLogger(__name__)
FAILURES_KEPT = timedelta(days=8)  # the model monitor's longest window is a week
EXPIRED_PER_SWEEP = 500  # rows deleted by one sweep at most: a long backlog is worked off over a few minutes


class StorageQuotaExceeded(ValidationError):
    """Writing this would pass the person's quota of stored bytes."""


def person_stored_bytes(*, user) -> int:
    """The bytes ``user``'s CSV files (uploads, results) and uploaded data sets take on disk."""
    csv = CsvClassification.objects.filter(user=user).aggregate(n=Sum("stored_bytes"))["n"] or 0
    sets = LabelledDataset.objects.filter(uploaded_by=user).aggregate(n=Sum("stored_bytes"))["n"] or 0
    return csv + sets


def storage_quota_check(*, user, adding: int) -> None:
    """Refuse (``StorageQuotaExceeded``) when ``adding`` more bytes would pass ``user``'s quota. The person's
    row is locked first: called inside the transaction that stores the new row, two uploads at once are
    checked one after the other, each counting the other's bytes. Nobody's (``user`` None: a command, a
    test) counts against no quota."""
    if user is None:
        return
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        used = person_stored_bytes(user=user)
    quota = settings.MAX_STORED_BYTES_PER_PERSON
    if used + adding > quota:
        raise StorageQuotaExceeded(
            f"Your files may take {_mb(quota)} on the server; you use {_mb(used)} and this would add about "
            f"{_mb(adding)}. Delete some of your CSV files, or wait: files are kept {settings.RETENTION_DAYS} days."
        )


def stored_expire(*, now=None) -> dict[str, int]:
    """Apply the retention (see above); returns how many CSV jobs were deleted and texts emptied."""
    now = now or timezone.now()
    ended = now - timedelta(days=settings.RETENTION_DAYS)
    old_jobs = CsvClassification.objects.filter(finished_at__lt=ended).exclude(status__in=CsvClassification.ACTIVE)
    deleted = 0
    for job in old_jobs.order_by("finished_at")[:EXPIRED_PER_SWEEP]:
        job.delete()  # post_delete removes its files
        deleted += 1
    texts_before = now - timedelta(days=settings.PREDICTION_TEXT_RETENTION_DAYS)
    emptied = (
        Prediction.objects.filter(created_at__lt=texts_before, feedback__isnull=True).exclude(text="").update(text="")
    )
    failures, _ = ServingFailure.objects.filter(created_at__lt=now - FAILURES_KEPT).delete()
    if deleted or emptied:
        logger.info("retention: %s CSV jobs deleted with their files, %s prediction texts emptied", deleted, emptied)
    return {"csv_jobs": deleted, "prediction_texts": emptied, "serving_failures": failures}


@receiver(post_delete, sender=CsvClassification, dispatch_uid="csv_files_delete")
def _csv_files_delete(sender, instance: CsvClassification, **kwargs) -> None:
    names = [field.name for field in (instance.upload, instance.result) if field]
    names += [part["file"] for part in instance.parts or []]
    transaction.on_commit(lambda: _files_delete(names))


def _files_delete(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("could not delete %s", name, exc_info=True)


def folder_bytes(folder: str | Path) -> int:
    return sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file())


def _mb(count: int) -> str:
    return f"{count / 2**20:,.1f} MB"
