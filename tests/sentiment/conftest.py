import base64
import json
from pathlib import Path

import pytest
import redis

from ml.config import CONFIG_FILE, TrainingConfig
from sentiment.models import Promotion, TrainingRun


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("staff", password="pw-staff-123", is_staff=True)


@pytest.fixture
def person(django_user_model):
    return django_user_model.objects.create_user("person", password="pw-person-123")


@pytest.fixture
def finished_run(trained_tiny_run) -> TrainingRun:
    """A succeeded run whose model is the tiny model trained once per session, with the settings it had."""
    config = TrainingConfig.from_dict(json.loads((Path(trained_tiny_run.output_dir) / CONFIG_FILE).read_text()))
    return TrainingRun.objects.create(
        preset="smoke",
        config=config.to_dict(),
        status=TrainingRun.Status.SUCCEEDED,
        output_dir=trained_tiny_run.output_dir,
        model_dir=trained_tiny_run.model_dir,
        metrics=trained_tiny_run.metrics,
    )


@pytest.fixture
def served_run(finished_run, staff) -> TrainingRun:
    Promotion.objects.create(run=finished_run, promoted_by=staff)
    return finished_run


@pytest.fixture
def queued_jobs(settings):
    """Reads what the code under test put on the broker (the tests' own Redis database, emptied first):
    ``queued_jobs("training")`` is ``[(task name, args), ...]`` on that queue."""
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.flushdb()

    def read(queue: str) -> list[tuple[str, list]]:
        messages = [json.loads(raw) for raw in reversed(broker.lrange(queue, 0, -1))]
        return [(m["headers"]["task"], json.loads(base64.b64decode(m["body"]))[0]) for m in messages]

    return read


@pytest.fixture
def analyses_done():
    """Work out the analyses the pages asked for, here, as a default worker would (``services.analysis``);
    returns how many there were."""
    from sentiment.models import AnalysisJob
    from sentiment.services.analysis_work import analysis_job_process

    def run() -> int:
        queued = list(AnalysisJob.objects.filter(status=AnalysisJob.Status.QUEUED).values_list("pk", flat=True))
        for pk in queued:
            analysis_job_process(job_id=pk)
        return len(queued)

    return run
