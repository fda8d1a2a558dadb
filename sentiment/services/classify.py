"""Classifying one review with the served model, from the form or the API (CSV files: ``csv_jobs``).

The model is the one most recently promoted, held by each process's ``serving_slot``: a promotion is
noticed on the next request and the new model is loaded in the background, no restart needed.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import ValidationError

from sentiment.models import Prediction
from sentiment.services.serving import answering, serving_slot

logger = logging.getLogger(__name__)


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
    with answering() as cores:
        [answer] = model.predictor.predict([text], cores=cores)
    return Prediction.objects.create(
        user=user,
        text=text,
        label=answer.label,
        probability=answer.probability,
        run=model.served.run,
        model_name=model.served.name,
        runtime=model.predictor.runtime,
    )
