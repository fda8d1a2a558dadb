"""Classifying one review with the served model, from the form or the API (CSV files: ``csv_jobs``), and
explaining an answer afterwards.

The model is the one most recently promoted, held by each process's ``serving_slot``: a promotion is
noticed on the next request and the new model is loaded in the background, no restart needed.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError

from ml.errors import MLError, first_line, without_paths
from ml.evaluation.drift import words
from ml.evaluation.explain import explain, top_words
from ml.serving.inference import predictor_cache
from ml.serving.labeller import model_version
from sentiment.metrics.families import predictions_count
from sentiment.models import AnalysisJob, Prediction, ServingFailure
from sentiment.selectors.serving import training_run_serving_runtime
from sentiment.services.analysis import analysis_job_request
from sentiment.services.serving import ModelNotLoaded, NoModelServed, answering, serving_slot

logger = logging.getLogger(__name__)

EXPLANATION_BATCH = 8  # variants of the review read at once: progress is reported between batches


# ASCII control characters other than tab and line breaks: no review holds them, and PostgreSQL refuses NUL
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def review_clean(text: str) -> str:
    """The review, stripped, or a ValidationError saying what is wrong with it: checked before any model
    is asked, so a review that cannot be stored costs nothing."""
    text = (text or "").strip()
    if not text:
        raise ValidationError("Write a review first: the text is empty.")
    if CONTROL_CHARACTERS.search(text):
        raise ValidationError("The review holds control characters (such as NUL), which are not text: remove them.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, e.g. "\ud800" in JSON: no character at all
        raise ValidationError("The review holds an invalid character (a lone UTF-16 surrogate).") from None
    if len(text) > settings.MAX_REVIEW_CHARS:
        raise ValidationError(
            f"That review is {len(text):,} characters long; the limit is {settings.MAX_REVIEW_CHARS:,}."
        )
    return text


def review_classify(*, user, text: str) -> Prediction:
    """Label one review and remember it in the person's history."""
    [prediction] = reviews_classify(user=user, texts=[text])
    return prediction


def reviews_classify(*, user, texts: list[str]) -> list[Prediction]:
    """Label several reviews in one call of the model (it reads them in batches, much faster than one at a
    time) and remember them in the person's history, in the order given. Every review is checked first: one
    that is empty or too long refuses the whole request (its position is in the message), and nothing is
    saved."""
    cleaned = []
    for number, text in enumerate(texts, start=1):
        try:
            cleaned.append(review_clean(text))
        except ValidationError as exc:
            message = exc.messages[0]
            raise ValidationError(f"Review {number}: {message}" if len(texts) > 1 else message) from None
    model = _serving_model(reviews=len(cleaned))
    answers, seconds = _answers(model, cleaned)
    predictions_count(runtime=model.predictor.runtime, run_id=model.served.run.pk, answers=answers, seconds=seconds)
    model_ms = 1000 * seconds / len(cleaned)
    predictions = [
        Prediction(
            user=user,
            text=text,
            label=answer.label,
            probability=answer.probability,
            run=model.served.run,
            model_name=model.served.name,
            runtime=model.predictor.runtime,
            words=int(words([text])[0]),
            model_ms=round(model_ms, 2),
        )
        for text, answer in zip(cleaned, answers, strict=True)
    ]
    Prediction.objects.bulk_create(predictions)  # with their ids on PostgreSQL and SQLite
    no_feedback = Prediction._meta.get_field("feedback")
    for prediction in predictions:
        no_feedback.set_cached_value(prediction, None)  # a new answer has none: no query when it is shown
    return predictions


def _serving_model(*, reviews: int):
    """The model to answer with; a request it cannot answer is counted for the monitor (``ServingFailure``)."""
    try:
        return serving_slot.get()
    except NoModelServed as exc:  # none promoted, or the promoted one does not load
        kind = ServingFailure.Kind.MODEL_FAILED if isinstance(exc, ModelNotLoaded) else ServingFailure.Kind.NO_MODEL
        ServingFailure.objects.create(kind=kind, reviews=reviews)
        raise


def _answers(model, texts: list[str]):
    """The model's answers and the seconds it took; a failure is counted, then raised."""
    started = time.perf_counter()
    try:
        with answering() as cores:
            answers = model.predictor.predict(texts, cores=cores)
    except Exception:
        ServingFailure.objects.create(
            kind=ServingFailure.Kind.MODEL_FAILED, runtime=model.predictor.runtime, reviews=len(texts)
        )
        raise
    return answers, time.perf_counter() - started


def prediction_explanation_request(*, prediction: Prediction, user) -> AnalysisJob:
    """The job that explains this answer (``services.analysis``): which words pushed it towards positive or
    negative, computed by a worker with the model and runtime that gave it. Asked again, the same job (or
    its result, which never changes for the same model files). A model that is gone: a ValidationError."""
    run = prediction.run
    if run is None or not run.model_dir or not Path(run.model_dir).is_dir():
        raise ValidationError("The model that gave this answer is no longer available, so it cannot be explained.")
    runtime = prediction.runtime or training_run_serving_runtime(run=run)
    version = hashlib.sha256(model_version(Path(run.model_dir)).encode()).hexdigest()[:16]
    return analysis_job_request(
        kind=AnalysisJob.Kind.EXPLANATION,
        key=f"explanation:{prediction.pk}:{runtime}:{version}",
        params={"prediction": prediction.pk, "runtime": runtime},
        user=user,
    )


def prediction_explanation_compute(*, prediction: Prediction, progress=None) -> dict:
    """Worker side: ``ml.evaluation.explain``'s occlusion with the model and runtime that gave the answer. Each piece
    also gets its ``strength`` (0 to 1, against the strongest piece) and ``direction`` for the highlighting.
    A model that does not load, or an explanation that fails: a ValidationError saying so."""
    run = prediction.run
    if run is None or not run.model_dir or not Path(run.model_dir).is_dir():
        raise ValidationError("The model that gave this answer is no longer available, so it cannot be explained.")
    runtime = prediction.runtime or training_run_serving_runtime(run=run)
    try:
        predictor = predictor_cache.get(run.model_dir, runtime=runtime)
    except Exception as exc:
        logger.warning("cannot explain prediction %s: its model does not load", prediction.pk, exc_info=True)
        reason = without_paths(first_line(exc))
        raise ValidationError(f"The model that gave this answer does not load: {reason}") from None

    def score(texts):
        probabilities = []
        for start in range(0, len(texts), EXPLANATION_BATCH):
            if progress:
                progress(start, len(texts))
            probabilities.extend(predictor.positive_probabilities(texts[start : start + EXPLANATION_BATCH]))
        return probabilities

    try:
        explanation = explain(score, prediction.text)
    except (MLError, RuntimeError, ValueError) as exc:
        logger.warning("cannot explain prediction %s", prediction.pk, exc_info=True)
        raise ValidationError(f"The explanation failed: {without_paths(first_line(exc))}") from None
    result = explanation.to_dict()
    strongest = max((abs(p["weight"]) for p in result["pieces"]), default=0.0) or 1.0
    for piece in result["pieces"]:
        piece["strength"] = round(abs(piece["weight"]) / strongest, 2)
        piece["direction"] = "positive" if piece["weight"] > 0 else "negative" if piece["weight"] < 0 else ""
    result["top"] = top_words(explanation)
    result["milliseconds"] = round(1000 * explanation.seconds)
    return result


def _cache_get(key: str):
    try:
        return cache.get(key)
    except Exception:  # the cache (Redis) is away: compute again
        return None


def _cache_set(key: str, value, seconds: int) -> None:
    try:
        cache.set(key, value, seconds)
    except Exception:
        logger.warning("could not cache %s", key, exc_info=True)
