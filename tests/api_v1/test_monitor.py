"""API v1's model monitor: staff's, the same figures as the page (``selectors.monitor``)."""

import pytest
from django.utils import timezone

from sentiment.selectors.monitor import model_monitor
from sentiment.services.classify import reviews_classify
from tests.synthetic import synthetic_reviews

pytestmark = pytest.mark.django_db


def test_staff_read_the_monitors_figures_and_others_are_refused(call, staff_key, key, served_run, person):
    reviews_classify(user=person, texts=synthetic_reviews(30, seed=4)["text"].tolist())
    assert call("GET", "/monitor", key=key).status_code == 403
    assert call("GET", "/monitor?window=year", key=staff_key).status_code == 400  # API v1 answers 400 to bad input
    body = call("GET", "/monitor?window=hour", key=staff_key).json()
    figures = model_monitor(window="hour", now=timezone.now())
    assert (body["window"], body["answers"], body["served_answers"], body["served_run"]) == (
        "hour", 30, 30, served_run.pk)  # fmt: skip
    assert body["positive_share"] == figures.positive_share
    assert body["confidence_shares"] == figures.confidence_shares
    assert body["estimated_accuracy"] == figures.estimated_accuracy
    assert [row["runtime"] for row in body["latency"]] == [row.runtime for row in figures.latency]
    assert body["drift"]["judged"] is False and body["drift"]["answers"] == 30
    assert {s["name"] for s in body["drift"]["signals"]} == {"confidence", "words"}
    assert sum(bucket["answers"] for bucket in body["traffic"]) == 30
