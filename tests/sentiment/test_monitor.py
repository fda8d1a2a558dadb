"""The model monitor (``selectors.monitor``, the staff page): every figure recomputed from the stored answers
and the served run's own test answers; the drift alarm raised by a window of one-line reviews and cleared
when the window holds reviews like the tests again; requests the model could not answer counted."""

import shutil
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from django.core.cache import cache
from django.utils import timezone

from ml.evaluation.drift import confidence as confidence_of
from ml.evaluation.scored_reviews import FILE
from sentiment.models import Feedback, Prediction, Promotion, ServingFailure, TrainingRun
from sentiment.selectors.monitor import CONFIDENCE_EDGES, model_monitor
from sentiment.services.classify import reviews_classify
from sentiment.services.serving import NoModelServed
from sentiment.services.storage import stored_expire
from tests.scrapes import value
from tests.synthetic import synthetic_reviews

pytestmark = pytest.mark.django_db
ONE_LINERS = ["Great.", "Awful!", "Loved it.", "Boring.", "Superb film", "Dreadful", "Wonderful!", "Terrible."]


def like_the_tests(n: int, seed: int = 9) -> list[str]:
    """Reviews drawn as the tiny run's test reviews were (another seed)."""
    return synthetic_reviews(n, seed=seed)["text"].tolist()


def test_every_figure_is_the_stored_answers_and_the_test_answers_recomputed(served_run, person, staff):
    answers = reviews_classify(user=person, texts=like_the_tests(60))
    Feedback.objects.create(prediction=answers[0], correct_label="negative", status=Feedback.Status.ACCEPTED)
    Feedback.objects.create(prediction=answers[1], correct_label="negative")  # pending: not counted
    older = TrainingRun.objects.create(preset="smoke", config=served_run.config, status=TrainingRun.Status.SUCCEEDED)
    Prediction.objects.create(user=person, text="an answer by an older model", label="positive", probability=0.9,
                              run=older, model_name="older", runtime="pytorch", words=5, model_ms=3.0)  # fmt: skip
    ServingFailure.objects.create(kind=ServingFailure.Kind.MODEL_FAILED, runtime="pytorch", reviews=4)

    monitor = model_monitor(window="hour", now=timezone.now())

    stored = pd.DataFrame.from_records(
        Prediction.objects.filter(run=served_run).values("label", "probability", "runtime", "words", "model_ms")
    )
    test = pd.read_parquet(Path(served_run.output_dir) / FILE)
    test_confidence = confidence_of(test["positive_probability"].to_numpy())
    assert (monitor.answers, monitor.served_answers, monitor.failures) == (61, 60, 4)
    assert monitor.failure_rate == pytest.approx(4 / 65)
    assert sum(bucket["answers"] for bucket in monitor.traffic) == 61
    assert sum(bucket["failures"] for bucket in monitor.traffic) == 4
    assert monitor.positive_share == pytest.approx((stored["label"] == "positive").mean(), abs=1e-4)
    assert monitor.test_positive_share == pytest.approx((test["positive_probability"] >= 0.5).mean(), abs=1e-4)
    live_counts, _ = np.histogram(stored["probability"], bins=CONFIDENCE_EDGES)
    assert monitor.confidence_shares == pytest.approx(live_counts / live_counts.sum(), abs=1e-4)
    test_counts, _ = np.histogram(test_confidence, bins=CONFIDENCE_EDGES)
    assert monitor.test_confidence_shares == pytest.approx(test_counts / test_counts.sum(), abs=1e-4)
    [served_runtime] = stored["runtime"].unique()  # the runtime the run's serving check chose
    by_runtime = {row.runtime: row for row in monitor.latency}
    assert by_runtime["pytorch"].answers == 1 and by_runtime["pytorch"].p95_ms == 3.0  # the older model's answer
    assert by_runtime[served_runtime].answers == 60
    for percentile, figure in ((50, by_runtime[served_runtime].p50_ms), (95, by_runtime[served_runtime].p95_ms)):
        assert figure == pytest.approx(np.percentile(stored["model_ms"], percentile), abs=0.05)
    as_read = [text.replace("<br /><br />", " ") for text in like_the_tests(60)]  # line breaks are no words
    assert sorted(stored["words"]) == sorted(len(text.split()) for text in as_read)
    bins = [b for b in served_run.metrics["test"]["calibration"]["bins"] if b["count"] >= 10]
    expected = []
    for c in stored["probability"]:  # each answer: its bin's accuracy on the test reviews, else its confidence
        inside = [b["accuracy"] for b in bins if b["low"] <= c < b["high"] or (b["high"] == 1.0 and c == 1.0)]
        expected.append(inside[0] if inside else c)
    assert monitor.estimated_accuracy == pytest.approx(np.mean(expected), abs=1e-4)
    assert monitor.test_accuracy == served_run.metrics["test"]["accuracy"]
    assert monitor.corrected == 1 and monitor.corrected_share == pytest.approx(1 / 60)


def test_one_line_reviews_raise_the_drift_alarm_and_reviews_like_the_tests_clear_it(served_run, person, client, staff):
    client.force_login(staff)
    reviews_classify(user=person, texts=like_the_tests(300))
    calm = model_monitor(window="day", now=timezone.now())
    assert calm.drift.judged and not calm.drift.alarm, calm.drift
    assert 'id="drift-alarm"' not in client.get("/serving/").content.decode()

    short = reviews_classify(user=person, texts=[ONE_LINERS[i % len(ONE_LINERS)] for i in range(250)])
    cache.clear()  # the monitor is computed at most once a minute: as if a minute had passed
    alarmed = model_monitor(window="day")
    assert alarmed.drift.alarm and max(alarmed.drift.signals, key=lambda s: s.psi).name == "words"
    page = client.get("/serving/").content.decode()  # any staff page carries the alarm
    assert 'id="drift-alarm"' in page and "words" in page
    client.force_login(person)
    assert 'id="drift-alarm"' not in client.get("/").content.decode()  # people never see it

    metrics = client.get("/metrics").content.decode()  # the same alarm for Prometheus' rule
    assert value(metrics, "sentiment_drift_score", signal="words") == pytest.approx(
        max(s.psi for s in alarmed.drift.signals), abs=1e-6
    )
    a_day_later = timezone.now() - timedelta(days=2)
    Prediction.objects.filter(pk__in=[p.pk for p in short]).update(created_at=a_day_later)
    cache.clear()
    cleared = model_monitor(window="day")
    assert cleared.drift.judged and not cleared.drift.alarm
    client.force_login(staff)
    assert 'id="drift-alarm"' not in client.get("/serving/").content.decode()


def test_too_few_answers_are_not_judged(served_run, person):
    reviews_classify(user=person, texts=ONE_LINERS * 5)
    monitor = model_monitor(window="hour", now=timezone.now())
    assert monitor.drift.score > monitor.drift.threshold and not monitor.drift.judged and not monitor.drift.alarm


def test_a_model_that_does_not_load_and_no_model_at_all_are_counted_as_reviews_not_answered(
    finished_run, staff, person, tmp_path
):
    with pytest.raises(NoModelServed):
        reviews_classify(user=person, texts=["Fine.", "Bad."])
    broken = tmp_path / "broken"
    shutil.copytree(finished_run.model_dir, broken)
    for weights in [*broken.glob("*.safetensors"), *broken.glob("onnx/*.onnx")]:  # whichever runtime serves
        weights.write_bytes(b"not a model")
    run = TrainingRun.objects.create(
        preset="smoke", config=finished_run.config, status=TrainingRun.Status.SUCCEEDED,
        output_dir=str(tmp_path), model_dir=str(broken), metrics=finished_run.metrics,
    )  # fmt: skip
    Promotion.objects.create(run=run, promoted_by=staff)
    with pytest.raises(NoModelServed):
        reviews_classify(user=person, texts=["A fine film."])
    kinds = sorted(ServingFailure.objects.values_list("kind", "reviews"))
    assert kinds == [(ServingFailure.Kind.MODEL_FAILED, 1), (ServingFailure.Kind.NO_MODEL, 2)]
    monitor = model_monitor(window="hour", now=timezone.now())
    assert (monitor.failures, monitor.answers, monitor.failure_rate) == (3, 0, 1.0)
    assert monitor.notes == ["The served run kept no test answers: nothing to compare with."]


def test_the_record_of_failures_is_kept_a_week_and_a_day(db):
    old = ServingFailure.objects.create(kind=ServingFailure.Kind.NO_MODEL)
    ServingFailure.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=9))
    ServingFailure.objects.create(kind=ServingFailure.Kind.NO_MODEL)
    assert stored_expire()["serving_failures"] == 1 and ServingFailure.objects.count() == 1


def test_the_page_is_staffs_and_explains_its_figures(served_run, person, staff, client):
    reviews_classify(user=person, texts=like_the_tests(20))
    client.force_login(person)
    assert client.get("/monitor/").status_code == 403
    client.force_login(staff)
    page = client.get("/monitor/?window=hour").content.decode()
    for explained in ("population stability index", "calibrated", "p95", "Answers corrected"):
        assert explained in page
    assert 'id="answers">20<' in page and 'aria-current="page">hour<' in page
    assert client.get("/monitor/?window=year").status_code == 200  # an unknown window: the day's
