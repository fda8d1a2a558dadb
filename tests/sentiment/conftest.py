import pytest

from ml.config import TrainingConfig
from sentiment.models import Promotion, TrainingRun


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("staff", password="pw-staff-123", is_staff=True)


@pytest.fixture
def person(django_user_model):
    return django_user_model.objects.create_user("person", password="pw-person-123")


@pytest.fixture
def finished_run(trained_tiny_run) -> TrainingRun:
    """A succeeded run whose model is the tiny model trained once per session."""
    return TrainingRun.objects.create(
        preset="smoke",
        config=TrainingConfig(base_model="tiny", output_dir=trained_tiny_run.output_dir).to_dict(),
        status=TrainingRun.Status.SUCCEEDED,
        output_dir=trained_tiny_run.output_dir,
        model_dir=trained_tiny_run.model_dir,
        metrics=trained_tiny_run.metrics,
    )


@pytest.fixture
def served_run(finished_run, staff) -> TrainingRun:
    Promotion.objects.create(run=finished_run, promoted_by=staff)
    return finished_run
