import pytest


@pytest.fixture(autouse=True)
def _fresh_health_answer():
    """Each test's first probe checks afresh: a process keeps its last answer for two seconds."""
    from webapp.health import health_forget

    health_forget()
    yield
    health_forget()


@pytest.fixture
def csv_job_worked(transactional_db, served_run, person, settings, tmp_path):
    """Upload a small CSV file as ``person`` through the site, then let a Celery worker started in this process
    (in a thread) take the job from the broker and classify it. The job's message goes through the broker
    with its headers, as between a web process and a worker; unlike a worker of its own, this one shares the
    test's logging and tracing. Returns the finished job."""
    import redis
    from celery.contrib.testing.worker import start_worker
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client
    from django.urls import reverse

    from sentiment.models import CsvClassification
    from tests.waiting import wait_for
    from worker.celery import DEFAULT_QUEUE, app

    settings.MEDIA_ROOT = str(tmp_path)
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()

    def run() -> CsvClassification:
        client = Client()  # after the test's instrumentation: a client builds its middleware at its first request
        client.force_login(person)
        upload = SimpleUploadedFile("reviews.csv", b"text\nloved it and wonderful\nawful and boring\n")
        assert client.post(reverse("sentiment:csv_upload"), {"file": upload}).status_code == 302
        job = CsvClassification.objects.get(user=person)
        with start_worker(app, pool="solo", perform_ping_check=False, queues=[DEFAULT_QUEUE], shutdown_timeout=60):
            finished = {CsvClassification.Status.SUCCEEDED, CsvClassification.Status.FAILED}
            wait_for(lambda: CsvClassification.objects.get(pk=job.pk).status in finished, 60, "the job to end")
        job.refresh_from_db()
        assert job.status == CsvClassification.Status.SUCCEEDED, job.error
        return job

    return run
