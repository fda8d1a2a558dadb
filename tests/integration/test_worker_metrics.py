"""A real worker serves its processes' figures on its own port (worker/metrics.py): they move with the jobs
it does, behind the same token as /metrics; the web side's /metrics reports the queues it reads."""

import csv
import http.client
import io
import socket
import subprocess
import sys

import pytest
from celery import current_app
from django.urls import reverse

from ml.config import TrainingConfig
from sentiment import jobs
from sentiment.models import CsvClassification, Prediction, TrainingRun
from tests.integration.conftest import ROOT, worker_environment
from tests.scrapes import families, value
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True)
TOKEN = "worker-metrics-token-5678"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def scrape(port: int, token: str | None = TOKEN) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/metrics", headers={"Authorization": f"Bearer {token}"} if token else {})
    response = connection.getresponse()
    return response.status, response.read().decode()


@pytest.fixture
def metrics_worker(start_worker, tmp_path):
    port = free_port()
    start_worker(
        WORKER_METRICS_BIND=f"127.0.0.1:{port}",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "worker-metrics"),
        METRICS_TOKEN=TOKEN,
    )
    return port


def test_a_workers_jobs_move_its_figures(metrics_worker, client, django_user_model, trained_tiny_run):
    port = metrics_worker
    served = TrainingRun.objects.create(
        preset="smoke", config=TrainingConfig(base_model="tiny").to_dict(), status=TrainingRun.Status.SUCCEEDED,
        model_dir=trained_tiny_run.model_dir, output_dir=trained_tiny_run.output_dir,
    )  # fmt: skip
    served.promotions.create()
    person = django_user_model.objects.create_user("reader", password="pw")
    client.force_login(person)
    table = io.StringIO()
    csv.writer(table).writerows(
        [["text"], *(["loved it, wonderful" if i % 2 else "awful, boring"] for i in range(150))]
    )
    upload = io.BytesIO(table.getvalue().encode())
    upload.name = "reviews.csv"
    assert client.post(reverse("sentiment:csv_upload"), {"file": upload}).status_code == 302
    answer = Prediction.objects.create(user=person, text="A superb film, but the ending was dull.", label="positive",
                                       probability=0.7, run=served, model_name="tiny", runtime="pytorch")  # fmt: skip
    assert client.get(reverse("sentiment:prediction_why", args=[answer.pk])).status_code == 200
    current_app.send_task(jobs.CLASSIFY_CSV, args=["not-a-job"])  # raises in the task: a failure

    def figures() -> str:
        status, text = scrape(port)
        assert status == 200, text
        return text

    task = "sentiment_task_seconds_count"
    done = wait_for(
        lambda: (
            (text := figures())
            and value(text, task, task=jobs.CLASSIFY_CSV, outcome="succeeded") == 1
            and value(text, "sentiment_analysis_job_seconds_count", kind="explanation", outcome="succeeded") == 1
            and value(text, "sentiment_task_failures_total", task=jobs.CLASSIFY_CSV) == 1
            and text
        ),
        120,
        "the worker's figures count the CSV file, the explanation and the failed task",
    )
    assert CsvClassification.objects.get().status == "succeeded"
    assert value(done, "sentiment_csv_rows_classified_total") == 150
    assert value(done, task, task=jobs.CLASSIFY_CSV, outcome="FAILURE") == 1
    assert value(done, task, task=jobs.ANALYSE, outcome="succeeded") == 1
    assert value(done, "sentiment_task_seconds_sum", task=jobs.ANALYSE, outcome="succeeded") > 0
    # the deployment's figures are the web side's to report, once
    assert "sentiment_queue_length" not in families(done) and "sentiment_training_runs" not in families(done)

    web = client.get("/metrics").content.decode()
    assert {"sentiment_queue_length", "sentiment_training_runs", "sentiment_analysis_jobs"} <= families(web)
    assert value(web, "sentiment_queue_length", queue="default") == 0  # all taken
    assert value(web, "sentiment_analysis_jobs", kind="explanation", status="succeeded") == 1


def test_a_workers_figures_need_the_token(metrics_worker):
    assert scrape(metrics_worker, token=None)[0] == 401
    assert scrape(metrics_worker, token="another")[0] == 403
    status, text = scrape(metrics_worker)
    assert status == 200 and value(text, "sentiment_csv_rows_classified_total") == 0


def test_a_worker_asked_to_serve_figures_without_their_folder_refuses_to_start(settings, tmp_path):
    env = worker_environment(broker=settings.CELERY_BROKER_URL, runs_dir=tmp_path, media_root=tmp_path,
                             WORKER_METRICS_BIND=f"127.0.0.1:{free_port()}")  # fmt: skip
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [sys.executable, "-m", "celery", "-A", "worker", "worker", "--pool", "solo", "-n", "refused@localhost"]
    started = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert started.returncode != 0
    assert "WORKER_METRICS_BIND is set but PROMETHEUS_MULTIPROC_DIR is not" in started.stderr
