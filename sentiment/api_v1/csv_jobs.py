"""CSV files of reviews classified by the worker: upload, follow, download the result."""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from ninja import Field, File, Router, Schema
from ninja.files import UploadedFile

from sentiment import limits
from sentiment.api_v1.auth import caller
from sentiment.api_v1.errors import ApiError
from sentiment.api_v1.idempotency import KEY_HEADER, created_once, file_fingerprint
from sentiment.api_v1.schemas import answers
from sentiment.api_v1.throttle import within_limits
from sentiment.selectors.predictions import csv_classification_list
from sentiment.services.csv_jobs import csv_classification_create
from sentiment.services.serving import NoModelServed

router = Router(tags=["csv"])


class CsvJobOut(Schema):
    id: int
    filename: str
    status: str = Field(description="queued, running, succeeded or failed")
    status_display: str
    done: int = Field(description="Reviews classified so far.")
    total: int
    percent: float
    error: str
    created_at: datetime
    result: str | None = Field(description="Where to download the result once it has succeeded.")

    @staticmethod
    def resolve_done(job) -> int:
        return job.done_rows

    @staticmethod
    def resolve_total(job) -> int:
        return job.total_rows

    @staticmethod
    def resolve_percent(job) -> float:
        return job.progress_percent

    @staticmethod
    def resolve_result(job) -> str | None:
        return reverse("api-v1:csv_result", args=[job.pk]) if job.result else None


@router.post("/csv", response=answers({201: CsvJobOut}, 409, 413, 429, 503), summary="Classify a CSV of reviews")
def csv_upload(request, response: HttpResponse, file: File[UploadedFile], idempotency_key: str | None = KEY_HEADER):
    """A UTF-8 CSV with a header and a ``text`` column (the checks and limits of the site's upload); the
    worker classifies it. Follow it with ``GET /csv/{id}``. With an ``Idempotency-Key``, the same file sent
    again is not classified twice."""
    within_limits(request, limits.PERSON)

    def create():
        try:
            return csv_classification_create(user=caller(request), upload=file)
        except ValidationError as exc:
            raise ApiError("invalid", " ".join(exc.messages), fields={"file": " ".join(exc.messages)}) from None
        except NoModelServed as exc:
            raise ApiError("no_model", str(exc)) from None

    return created_once(
        request, response, idempotency_key,
        operation="csv.upload",
        fingerprint=lambda: file_fingerprint(file.name, file.chunks()),
        create=create,
        load=lambda job_id: _own(request, job_id),
    )  # fmt: skip


def _own(request, job_id: int):
    return get_object_or_404(csv_classification_list(user=caller(request)), pk=job_id)


@router.get("/csv/{job_id}", response=answers({200: CsvJobOut}, 404), summary="A CSV job's progress")
def csv_status(request, job_id: int):
    return _own(request, job_id)


@router.get(
    "/csv/{job_id}/result",
    response=answers({200: None}, 404, 409),
    url_name="csv_result",
    summary="Download the classified CSV",
    openapi_extra={"responses": {200: {"description": "The CSV, with label and probability added.",
                                       "content": {"text/csv": {"schema": {"type": "string"}}}}}},
)  # fmt: skip
def csv_result(request, job_id: int):
    job = _own(request, job_id)
    if not job.result:
        raise ApiError("conflict", f"This file is {job.status_display.lower()}: its result is not ready yet.")
    return FileResponse(job.result.open("rb"), as_attachment=True, filename=f"classified-{job.filename}")
