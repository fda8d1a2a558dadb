"""Classifying reviews, and the caller's own predictions: list, read one, say it was wrong."""

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django.urls import reverse
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from sentiment import limits
from sentiment.api_v1.auth import caller
from sentiment.api_v1.errors import ApiError
from sentiment.api_v1.fields import Filter, Moment
from sentiment.api_v1.pages import Pages
from sentiment.api_v1.schemas import (
    BatchIn,
    BatchOut,
    ClassifiedOut,
    ClassifyIn,
    ExplanationOut,
    FeedbackIn,
    FeedbackOut,
    Label,
    PredictionOut,
    answers,
)
from sentiment.api_v1.throttle import within_limits
from sentiment.limits import try_again
from sentiment.models import Prediction
from sentiment.selectors import predictions as prediction_reads
from sentiment.services.analysis import AnalysisBusy
from sentiment.services.classify import prediction_explanation_request, reviews_classify
from sentiment.services.feedback import prediction_feedback_give
from sentiment.services.serving import NoModelServed

router = Router(tags=["predictions"])


def _classified(user, texts: list[str]) -> list[Prediction]:
    try:
        return reviews_classify(user=user, texts=texts)
    except ValidationError as exc:
        raise ApiError("invalid", " ".join(exc.messages), fields={"text": " ".join(exc.messages)}) from None
    except NoModelServed as exc:
        raise ApiError("no_model", str(exc)) from None


@router.post("/classify", response=answers({200: ClassifiedOut}, 413, 415, 429, 503), summary="Classify one review")
def classify(request, body: ClassifyIn):
    """The served model's answer, saved in the caller's history. With ``explain``, the words that pushed it,
    which a worker works out: ``explanation_url`` says where to read them (or ``explanation`` has them, when
    they were worked out already). Explanations are limited on their own (``RATE_LIMIT_EXPLAIN``); past it,
    or when the model cannot explain, the answer still comes, with ``explanation_error``."""
    within_limits(request, limits.API_KEY, limits.PERSON)
    [prediction] = _classified(caller(request), [body.text])
    if body.explain:
        for name, value in explanation_of(request, prediction).items():
            setattr(prediction, name, value)
    return prediction


def explanation_of(request, prediction: Prediction) -> dict:
    """A classification's ``explain``, on both APIs: ``explanation`` when it is known already,
    ``explanation_url`` while a worker works it out, or ``explanation_error``: the answer itself is saved,
    so a limit reached (``limits.EXPLAIN``, one count with the site's "why?" pages) or a model that cannot
    explain is said beside it, never by failing it."""
    wait = limits.EXPLAIN.wait(request)
    if wait is not None:
        return {"explanation_error": try_again(wait, what="explanations")}
    try:
        job = prediction_explanation_request(prediction=prediction, user=prediction.user)
    except ValidationError as exc:
        return {"explanation_error": " ".join(exc.messages)}
    if job.status == job.Status.SUCCEEDED:
        return {"explanation": job.result}
    if job.status == job.Status.FAILED:
        return {"explanation_error": job.error}
    return {"explanation_url": reverse("api-v1:prediction_explanation", args=[prediction.pk])}


@router.post(
    "/classify/batch", response=answers({200: BatchOut}, 413, 415, 429, 503), summary="Classify several reviews at once"
)
def classify_batch(request, body: BatchIn):
    """Up to ``API_BATCH_MAX`` reviews through the model as batches (much faster than one request each);
    the answers in the same order, each saved in the caller's history. One bad review refuses them all."""
    within_limits(request, limits.BATCH)
    return {"answers": _classified(caller(request), body.reviews)}


class PredictionFilters(Schema):
    since: Moment | None = Field(None, description="Made at or after (RFC 3339, e.g. 2026-01-31T18:00:00Z).")
    until: Moment | None = Field(None, description="Made before (RFC 3339).")
    label: Label | None = None
    q: Filter | None = Field(None, description="Text the review contains (case-insensitive).")


@router.get("/predictions", response=answers({200: list[PredictionOut]}), summary="Your predictions, newest first")
@paginate(Pages)
def prediction_list(request, filters: Query[PredictionFilters]):
    """Filter by date (``since``, ``until``), ``label`` and ``q`` (text contained)."""
    predictions = prediction_reads.prediction_list(user=caller(request), query=(filters.q or "").strip())
    if filters.since:
        predictions = predictions.filter(created_at__gte=filters.since)
    if filters.until:
        predictions = predictions.filter(created_at__lt=filters.until)
    if filters.label:
        predictions = predictions.filter(label=filters.label)
    return predictions


def _own(request, prediction_id: int) -> Prediction:
    return get_object_or_404(prediction_reads.prediction_list(user=caller(request)), pk=prediction_id)


@router.get(
    "/predictions/{prediction_id}", response=answers({200: PredictionOut}, 404), summary="One of your predictions"
)
def prediction_detail(request, prediction_id: int):
    return _own(request, prediction_id)


@router.get(
    "/predictions/{prediction_id}/explanation",
    response=answers({200: ExplanationOut}, 404, 409, 429),
    url_name="prediction_explanation",
    summary="Why the model gave one of your answers",
)
def prediction_explanation(request, prediction_id: int):
    """The words that pushed the answer towards positive or negative, worked out by a worker (occlusion with
    the model that answered): its progress until it is done. Asked for here when it was not yet (once per
    answer and model; at most ANALYSIS_JOBS_PER_PERSON under way: 429). 409 when the model that answered is
    no longer available."""
    prediction = _own(request, prediction_id)
    try:
        return prediction_explanation_request(prediction=prediction, user=caller(request))
    except AnalysisBusy as exc:
        raise ApiError("too_many_requests", " ".join(exc.messages), **{"Retry-After": "60"}) from None
    except ValidationError as exc:
        raise ApiError("conflict", " ".join(exc.messages)) from None


@router.post(
    "/predictions/{prediction_id}/feedback",
    response=answers({201: FeedbackOut}, 404, 409, 413, 415),
    summary="Say an answer was wrong",
)
def prediction_feedback(request, prediction_id: int, body: FeedbackIn):
    """What the right label is (and why, optionally). Staff review it; accepted corrections are trained on
    and scored by the next runs. It can be changed until staff have reviewed it. 409 when the label is the
    one the model answered (feedback is for wrong answers), or staff have already reviewed it."""
    prediction = _own(request, prediction_id)
    try:
        feedback = prediction_feedback_give(
            prediction=prediction, correct_label=body.correct_label, comment=body.comment
        )
    except ValidationError as exc:  # the request is well formed: the answer's state refuses it
        raise ApiError("conflict", " ".join(exc.messages)) from None
    return Status(201, feedback)
