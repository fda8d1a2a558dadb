"""Reads: a person's own predictions and CSV files."""

from __future__ import annotations

from django.db.models import QuerySet

from sentiment.models import (
    CsvClassification,
    Prediction,
)


def prediction_list(*, user, query: str = "") -> QuerySet[Prediction]:
    predictions = Prediction.objects.filter(user=user).select_related("feedback")
    if query:
        predictions = predictions.filter(text__icontains=query)
    return predictions


def csv_classification_list(*, user) -> QuerySet[CsvClassification]:
    return CsvClassification.objects.filter(user=user)
