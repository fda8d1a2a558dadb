"""/metrics after real requests: the counters move with the traffic, the figures read at each scrape say what
the broker and the database hold, and the token keeps strangers out (README, "Metrics")."""

from datetime import timedelta

import pytest
import redis
from celery import current_app
from django.utils import timezone

from sentiment import jobs
from sentiment.metrics.scrape import monitor_gauges_register, monitor_gauges_unregister
from sentiment.models import AnalysisJob, TrainingRun
from sentiment.services.api_tokens import api_token_create
from tests.scrapes import families, samples, total, value

pytestmark = pytest.mark.django_db


def scrape(client, **headers) -> str:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    return response.content.decode()


def test_classifying_moves_the_prediction_latency_confidence_and_request_families(client, person, served_run):
    model = f"run-{served_run.pk}"
    before = scrape(client)
    client.force_login(person)
    page = client.post("/", {"text": "A wonderful, brilliant film."})
    assert page.status_code == 200
    key = api_token_create(user=person, name="metrics")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    batch = client.post("/api/v1/classify/batch", {"reviews": ["Dull.", "Superb."]}, "application/json", **headers)
    assert batch.status_code == 200
    labels = [answer["label"] for answer in batch.json()["answers"]] + [person.predictions.last().label]
    after = scrape(client)

    def moved(name: str, **labels) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert moved("sentiment_predictions_total", model=model) == 3
    for label in set(labels):
        assert moved("sentiment_predictions_total", label=label, model=model) == labels.count(label)
    runtime = person.predictions.first().runtime
    assert moved("sentiment_model_latency_seconds_count", runtime=runtime, model=model) == 2  # two calls of the model
    assert moved("sentiment_model_latency_seconds_sum", runtime=runtime, model=model) > 0
    assert moved("sentiment_prediction_confidence_count", model=model) == 3
    assert moved("sentiment_prediction_confidence_bucket", model=model, le="0.5") == 0  # never below a half
    requests = "django_http_responses_total_by_status_view_method_total"
    assert moved(requests, view="sentiment:classify", status="200", method="POST") == 1
    assert moved(requests, view="api-v1:classify_batch", status="200", method="POST") == 1
    latency = "django_http_requests_latency_seconds_by_view_method_count"
    assert moved(latency, view="sentiment:classify", method="POST") == 1
    assert moved(requests, view="sentiment:classify") == 1, "the scrapes themselves are not the site's traffic"


def test_a_page_that_fails_is_counted_by_its_status(client, person):
    before = scrape(client)
    client.force_login(person)
    assert client.get("/csv/999999/").status_code == 404
    after = scrape(client)
    name = "django_http_responses_total_by_status_view_method_total"
    labels = {"status": "404", "view": "sentiment:csv_detail", "method": "GET"}
    assert value(after, name, **labels) - value(before, name, **labels) == 1


def test_the_token_refuses_a_scrape_without_it_or_with_another(client, settings):
    settings.METRICS_TOKEN = "metrics-secret-1234"
    missing = client.get("/metrics")
    assert missing.status_code == 401 and missing["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"sentiment_" not in missing.content
    assert client.get("/metrics", HTTP_AUTHORIZATION="Basic bWV0cmljczpzZWNyZXQ=").status_code == 401
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer metrics-secret-9999")
    assert wrong.status_code == 403 and b"sentiment_" not in wrong.content
    text = scrape(client, HTTP_AUTHORIZATION="bearer  metrics-secret-1234")
    assert "sentiment_queue_length" in families(text)
    assert client.post("/metrics", HTTP_AUTHORIZATION="Bearer metrics-secret-1234").status_code == 405


def test_prometheus_scrapes_a_process_by_its_address_whatever_the_allowed_hosts(client):
    """Inside the stack Prometheus asks each web process at its IP address, in plain HTTP: /metrics answers;
    every other page still refuses a host it does not know."""
    assert client.get("/metrics", HTTP_HOST="172.18.0.7:8000").status_code == 200
    assert client.get("/accounts/login/", HTTP_HOST="172.18.0.7:8000").status_code == 400


def test_queue_lengths_are_read_from_the_broker_for_every_queue(client, settings):
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.flushdb()
    for _ in range(3):
        current_app.send_task(jobs.SWEEP)  # routed to the sweep queue; no worker reads this test's broker
    current_app.send_task(jobs.CLASSIFY_CSV, args=[1], priority=6)  # a priority step has a list of its own
    text = scrape(client)
    assert value(text, "sentiment_queue_length", queue="sweep") == 3
    assert value(text, "sentiment_queue_length", queue="default") == 1
    assert value(text, "sentiment_queue_length", queue="training") == 0
    assert value(text, "sentiment_metrics_source_up", source="broker") == 1
    broker.flushdb()


def test_a_broker_that_does_not_answer_leaves_its_families_empty_and_the_scrape_whole(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    text = scrape(client)
    assert value(text, "sentiment_metrics_source_up", source="broker") == 0
    assert "sentiment_queue_length" not in {name for name, _ in samples(text)}
    assert value(text, "sentiment_metrics_source_up", source="database") == 1
    assert value(text, "sentiment_training_runs", status="queued") == 0


def test_runs_by_status_and_a_running_runs_progress_and_heartbeat(client, settings):
    settings.TRAINING_HEARTBEAT_TIMEOUT = 45
    make = TrainingRun.objects.create
    make(preset="smoke", config={}, status=TrainingRun.Status.SUCCEEDED)
    make(preset="smoke", config={}, status=TrainingRun.Status.QUEUED)
    make(preset="smoke", config={}, status=TrainingRun.Status.QUEUED)
    running = make(preset="smoke", config={}, status=TrainingRun.Status.RUNNING, step=40, max_steps=125,
                   heartbeat_at=timezone.now() - timedelta(seconds=90))  # fmt: skip
    text = scrape(client)
    assert value(text, "sentiment_training_runs", status="queued") == 2
    assert value(text, "sentiment_training_runs", status="running") == 1
    assert value(text, "sentiment_training_runs", status="cancelled") == 0
    assert value(text, "sentiment_training_run_step", run=str(running.pk)) == 40
    assert value(text, "sentiment_training_run_max_steps", run=str(running.pk)) == 125
    assert 90 <= value(text, "sentiment_training_run_heartbeat_age_seconds", run=str(running.pk)) < 120
    assert value(text, "sentiment_training_heartbeat_timeout_seconds") == 45


def test_analysis_jobs_by_kind_and_status(client, person):
    AnalysisJob.objects.create(kind=AnalysisJob.Kind.EXPLANATION, key="a", requested_by=person)
    AnalysisJob.objects.create(kind=AnalysisJob.Kind.EXPLANATION, key="b", status=AnalysisJob.Status.SUCCEEDED)
    AnalysisJob.objects.create(kind=AnalysisJob.Kind.EVIDENCE, key="c", status=AnalysisJob.Status.RUNNING)
    text = scrape(client)
    assert value(text, "sentiment_analysis_jobs", kind="explanation", status="queued") == 1
    assert value(text, "sentiment_analysis_jobs", kind="explanation", status="succeeded") == 1
    assert value(text, "sentiment_analysis_jobs", kind="evidence", status="running") == 1
    assert value(text, "sentiment_analysis_jobs", kind="behaviour", status="failed") == 0


def test_an_analysis_computed_counts_its_time_by_kind_and_outcome(client, person, served_run, analyses_done):
    before = scrape(client)
    answer = person.predictions.create(text="A superb film.", label="positive", probability=0.9, run=served_run,
                                       model_name="tiny", runtime="pytorch")  # fmt: skip
    client.force_login(person)
    assert client.get(f"/history/{answer.pk}/why/").status_code == 200
    assert analyses_done() == 1
    after = scrape(client)
    labels = {"kind": "explanation", "outcome": "succeeded"}
    assert value(after, "sentiment_analysis_job_seconds_count", **labels) == 1 + value(
        before, "sentiment_analysis_job_seconds_count", **labels
    )


def test_the_served_model_is_an_info_metric(client, served_run):
    text = scrape(client)
    info = {name: dict(labels) for (name, labels), v in samples(text).items() if name == "sentiment_served_model_info"}
    assert info["sentiment_served_model_info"]["run"] == str(served_run.pk)
    assert info["sentiment_served_model_info"]["model"] == f"run-{served_run.pk}"
    assert info["sentiment_served_model_info"]["preset"] == "smoke"
    assert "/" not in info["sentiment_served_model_info"]["base_model"]  # a folder's name, never its path


def test_free_space_on_the_runs_volume(client, settings, tmp_path):
    settings.RUNS_DIR = tmp_path / "not-made-yet" / "runs"
    text = scrape(client)
    free, size = value(text, "sentiment_runs_volume_free_bytes"), value(text, "sentiment_runs_volume_size_bytes")
    assert 0 < free <= size


def test_the_model_monitor_registers_its_gauges_and_a_failing_monitor_spoils_nothing(client):
    def figures():
        return {"drift_confidence": 0.31, "drift_words": 0.04, "drift_score": 0.31, "estimated_accuracy": 0.87,
                "failure_rate": 0.01, "unknown_yet": None}  # fmt: skip

    def broken():
        raise RuntimeError("the monitor is down")

    empty = scrape(client)
    assert {"sentiment_drift_score", "sentiment_estimated_accuracy"} <= families(empty)
    monitor_gauges_register(figures)
    try:
        text = scrape(client)
        assert value(text, "sentiment_drift_score", signal="confidence") == pytest.approx(0.31)
        assert value(text, "sentiment_drift_score", signal="words") == pytest.approx(0.04)
        assert ("sentiment_drift_score", frozenset({("signal", "score")})) not in samples(text)
        assert value(text, "sentiment_estimated_accuracy") == pytest.approx(0.87)
        assert value(text, "sentiment_monitor_failure_rate") == pytest.approx(0.01)
        monitor_gauges_register(broken)
        text = scrape(client)
        assert value(text, "sentiment_metrics_source_up", source="monitor") == 0
        assert value(text, "sentiment_metrics_source_up", source="database") == 1
    finally:
        monitor_gauges_unregister(figures)
        monitor_gauges_unregister(broken)
