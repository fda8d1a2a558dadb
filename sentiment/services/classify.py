"""Classifying reviews with the served model: one at a time from the form or API, or a whole CSV.

The model is the one most recently promoted, held by each process's ``serving_slot``: a promotion is
noticed on the next request and the new model is loaded in the background, no restart needed.
"""

from __future__ import annotations

import csv
import io
import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from ml.inference import one_core_per_batch
from sentiment import jobs, selectors
from sentiment.models import CsvClassification, Prediction
from sentiment.services.serving import NoModelServed, answering, serving_slot

logger = logging.getLogger(__name__)
CSV_CHUNK = 2048  # rows tokenized and sorted by length together (bounds the memory of a large file)
CSV_PROGRESS_ROWS = 128  # rows classified between two progress updates
CSV_BATCH = 8  # small batches: on a CPU they were faster per review than 64 (bench/RESULTS.md)


def review_clean(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationError("Write a review first: the text is empty.")
    if len(text) > settings.MAX_REVIEW_CHARS:
        raise ValidationError(
            f"That review is {len(text):,} characters long; the limit is {settings.MAX_REVIEW_CHARS:,}."
        )
    return text


def review_classify(*, user, text: str) -> Prediction:
    """Label one review and remember it in the person's history."""
    text = review_clean(text)
    model = serving_slot.get()
    with answering():
        [answer] = model.predictor.predict([text])
    return Prediction.objects.create(
        user=user,
        text=text,
        label=answer.label,
        probability=answer.probability,
        run=model.served.run,
        model_name=model.served.name,
    )


def csv_classification_create(*, user, upload) -> CsvClassification:
    """Check an uploaded CSV (size, encoding, a ``text`` column, rows) and queue it for the worker."""
    if upload.size > settings.MAX_UPLOAD_BYTES:
        raise ValidationError(f"The file is larger than {settings.MAX_UPLOAD_BYTES // 2**20} MB.")
    raw = upload.read()
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError("The file is not UTF-8 text; save it as a UTF-8 CSV and upload it again.") from None
    try:
        rows = list(csv.DictReader(io.StringIO(content)))
        columns = csv.DictReader(io.StringIO(content)).fieldnames or []
    except csv.Error as exc:
        raise ValidationError(f"The file is not a readable CSV: {exc}.") from None
    if "text" not in columns:
        raise ValidationError(f"The CSV needs a 'text' column; its columns are: {', '.join(columns) or 'none'}.")
    if not rows:
        raise ValidationError("The CSV has a header but no reviews.")
    for number, row in enumerate(rows, start=2):
        if None in row or None in row.values():
            raise ValidationError(
                f"Line {number} of the CSV does not have the header's {len(columns)} columns "
                "(a review with a comma must be in double quotes)."
            )
    if len(rows) > settings.MAX_CSV_ROWS:
        raise ValidationError(f"The CSV has {len(rows):,} rows; the limit is {settings.MAX_CSV_ROWS:,}.")
    if selectors.served_model() is None:
        raise NoModelServed()
    with transaction.atomic():
        job = CsvClassification(user=user, filename=upload.name[:255], total_rows=len(rows))
        job.upload.save(upload.name, ContentFile(raw), save=False)
        job.save()
        jobs.job_enqueue(name=jobs.CLASSIFY_CSV, object_id=job.pk)
    return job


def csv_classification_process(*, job_id: int) -> str:
    """Worker side: classify every row in chunks, recording progress, and store the annotated CSV."""
    claimed = CsvClassification.objects.filter(pk=job_id, status=CsvClassification.Status.QUEUED).update(
        status=CsvClassification.Status.RUNNING
    )
    if not claimed:
        return "skipped"
    job = CsvClassification.objects.get(pk=job_id)
    try:
        model = serving_slot.get(wait=True)  # a batch job waits for the newest model
        with job.upload.open("rb") as handle:
            content = handle.read().decode("utf-8-sig")
        reader = csv.DictReader(io.StringIO(content))
        rows = list(reader)
        columns = [*reader.fieldnames, *[c for c in ("label", "probability") if c not in reader.fieldnames]]
        CsvClassification.objects.filter(pk=job_id).update(run=model.served.run, model_name=model.served.name)
        reported = 0

        def report(done: int) -> None:
            nonlocal reported
            if done - reported >= CSV_PROGRESS_ROWS or done == len(rows):
                CsvClassification.objects.filter(pk=job_id).update(done_rows=done)
                reported = done

        with one_core_per_batch() as cores:
            for start in range(0, len(rows), CSV_CHUNK):
                chunk = rows[start : start + CSV_CHUNK]
                texts = [row["text"] or "" for row in chunk]
                answers = model.predictor.predict(
                    texts, batch_size=CSV_BATCH, threads=cores, progress=lambda done, start=start: report(start + done)
                )
                for row, answer in zip(chunk, answers, strict=True):
                    row["label"], row["probability"] = answer.label, f"{answer.probability:.4f}"
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        job.result.save(f"classified-{job.filename}", ContentFile(out.getvalue().encode("utf-8")), save=False)
        CsvClassification.objects.filter(pk=job_id).update(
            result=job.result.name, status=CsvClassification.Status.SUCCEEDED, finished_at=timezone.now()
        )
    except Exception as exc:
        logger.exception("CSV classification %s failed", job_id)
        CsvClassification.objects.filter(pk=job_id).update(
            status=CsvClassification.Status.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
        return "failed"
    return "succeeded"
