"""What API v1 reads and answers, as pydantic schemas: django-ninja validates requests with them and
writes the OpenAPI schema (``docs/openapi.json``) from them, so the documentation cannot drift from the
code."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from django.conf import settings
from ninja import Field, Schema
from pydantic import ConfigDict

from sentiment.api_v1.fields import Comment, KeyName, ReviewText, Whole

Label = Literal["negative", "positive"]


class Input(Schema):
    """A request's body: each value of the type the schema says (``"explain": 0`` is not ``false``), and no
    field the schema does not name (a misspelt one would be silently ignored)."""

    model_config = ConfigDict(strict=True, extra="forbid")


class ErrorBody(Schema):
    code: str = Field(description="Stable, for programs: invalid, unauthorized, forbidden, not_found, ...")
    message: str = Field(description="What is wrong, for the person reading it.")
    fields: dict[str, str] = Field(description="Each request field that is wrong, and why.")


class ErrorOut(Schema):
    error: ErrorBody


def answers(ok: dict, *errors: int) -> dict:
    """An operation's responses for the schema: its success, and the errors it may answer (every operation
    may answer 400, 401 and 500, and 414 from the web server in front of it, for a URL longer than it reads,
    before the API sees the request: without the error shape)."""
    return {**ok, **dict.fromkeys(sorted({400, 401, 500, *errors}), ErrorOut), 414: None}


class ClassifyIn(Input):
    text: ReviewText = Field(examples=["A moving, beautifully acted film."])
    explain: bool = Field(False, description="Also say which words pushed the answer (occlusion, costs ~40 readings).")


class BatchIn(Input):
    reviews: list[ReviewText] = Field(
        min_length=1,
        max_length=settings.API_BATCH_MAX,
        description=f"Up to {settings.API_BATCH_MAX} reviews; the answers come in the same order.",
        examples=[["A moving film.", "Dull and far too long."]],
    )


class PredictionOut(Schema):
    id: int
    text: str
    label: Label
    probability: float = Field(description="The model's confidence in the label, 0.5 to 1.")
    model: str = Field(description="Which model answered.")
    run: int | None = Field(description="The training run whose model answered.")
    runtime: str = Field(description="What computed the answer: pytorch, onnx-fp32, onnx-int8.")
    created_at: datetime
    feedback: FeedbackOut | None = Field(None, description="What the caller said about this answer, if anything.")

    # read from a Prediction row
    @staticmethod
    def resolve_probability(prediction) -> float:
        return round(prediction.probability, 4)

    @staticmethod
    def resolve_model(prediction) -> str:
        return prediction.model_name

    @staticmethod
    def resolve_run(prediction) -> int | None:
        return prediction.run_id

    @staticmethod
    def resolve_feedback(prediction):
        return getattr(prediction, "feedback", None)  # the reverse one-to-one raises when there is none


class ClassifiedOut(PredictionOut):
    explanation: dict | None = Field(
        None, description='With "explain", when it was already worked out: the pieces of the text and their push.'
    )
    explanation_url: str | None = Field(
        None, description='With "explain": where to read it (GET) while a worker works it out.'
    )
    explanation_error: str | None = Field(None, description="Why there is no explanation, when one was asked for.")

    @staticmethod
    def resolve_explanation(prediction):
        return getattr(prediction, "explanation", None)

    @staticmethod
    def resolve_explanation_error(prediction):
        return getattr(prediction, "explanation_error", None)

    @staticmethod
    def resolve_explanation_url(prediction):
        return getattr(prediction, "explanation_url", None)


class ExplanationOut(Schema):
    prediction: int
    status: Literal["queued", "running", "succeeded", "failed"]
    percent: float = Field(description="How far the worker is, 0 to 100.")
    explanation: dict | None = Field(description="Once it succeeded: the pieces of the text and their push.")
    error: str | None = Field(description="Why it failed, when it did.")

    @staticmethod
    def resolve_prediction(job) -> int:
        return job.params["prediction"]

    @staticmethod
    def resolve_percent(job) -> float:
        return job.progress_percent

    @staticmethod
    def resolve_explanation(job):
        return job.result if job.status == job.Status.SUCCEEDED else None

    @staticmethod
    def resolve_error(job):
        return job.error or None if job.status == job.Status.FAILED else None


class BatchOut(Schema):
    answers: list[PredictionOut]


class FeedbackIn(Input):
    correct_label: Label = Field(description="The right answer: the other label than the model's.")
    comment: Comment = ""


class FeedbackOut(Schema):
    prediction: int
    correct_label: Label
    comment: str
    status: Literal["pending", "accepted", "rejected"]

    @staticmethod
    def resolve_prediction(feedback) -> int:
        return feedback.prediction_id


class KeyOut(Schema):
    id: int
    name: str
    scope: Literal["classify", "staff"] = Field(description="classify; or staff: the staff operations too.")
    prefix: str = Field(description="The key's first characters, to tell keys apart.")
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class KeyIn(Input):
    name: KeyName = ""
    scope: Literal["classify", "staff"] = Field(
        "classify", description="staff (for staff only): the key may also launch, cancel and promote runs."
    )
    expires_in_days: Annotated[Literal[30, 90, 365], Whole] | None = Field(
        None, description="Empty: valid until revoked."
    )


class KeyCreatedOut(KeyOut):
    key: str = Field(description="The key itself: shown this once, only its hash is kept.")


class MeOut(Schema):
    username: str
    is_staff: bool = Field(description="Whether the staff endpoints (runs, serving) answer this caller.")
    key: KeyOut | None = Field(description="The API key this request used; null when signed in on the site.")


PredictionOut.model_rebuild()
ClassifiedOut.model_rebuild()
