import pytest
from django.urls import reverse

from sentiment import selectors
from sentiment.models import Promotion, TrainingRun

pytestmark = pytest.mark.django_db


def act(client, model: str, action: str, rows) -> str:
    response = client.post(
        reverse(f"admin:sentiment_{model}_changelist"),
        {"action": action, "_selected_action": [row.pk for row in rows]},
        follow=True,
    )
    assert response.status_code == 200
    return response.content.decode()


def test_staff_promote_from_the_admin_and_restore_an_earlier_model(client, staff, finished_run):
    client.force_login(staff)
    assert "is now served" in act(client, "trainingrun", "promote_run", [finished_run])
    second = TrainingRun.objects.get(pk=finished_run.pk)
    second.pk = None
    second.save()
    act(client, "trainingrun", "promote_run", [second])
    assert selectors.served_model().run == second
    earlier = Promotion.objects.filter(run=finished_run).get()
    assert "is served again" in act(client, "promotion", "restore", [earlier])
    assert selectors.served_model().run == finished_run


def test_the_admin_promotes_one_finished_run_or_says_why_not(client, staff, finished_run):
    client.force_login(staff)
    queued = TrainingRun.objects.create(preset="smoke", config={})
    assert "Choose exactly one row." in act(client, "trainingrun", "promote_run", [finished_run, queued])
    assert "has no finished model to serve" in act(client, "trainingrun", "promote_run", [queued])
    assert not Promotion.objects.exists()


def test_staff_cancel_active_runs_from_the_admin(client, staff, finished_run):
    client.force_login(staff)
    queued = TrainingRun.objects.create(preset="smoke", config={})
    assert "Cancel requested." in act(client, "trainingrun", "cancel_runs", [queued, finished_run])
    queued.refresh_from_db()
    finished_run.refresh_from_db()
    assert queued.status == TrainingRun.Status.CANCELLED and finished_run.status == TrainingRun.Status.SUCCEEDED


def test_restoring_a_model_whose_folder_is_gone_says_so(client, staff, finished_run, tmp_path):
    client.force_login(staff)
    gone = TrainingRun.objects.get(pk=finished_run.pk)
    gone.pk, gone.model_dir = None, str(tmp_path / "deleted" / "model")
    gone.save()
    earlier = Promotion.objects.create(run=gone, promoted_by=staff)  # promoted before its folder was deleted
    Promotion.objects.create(run=finished_run, promoted_by=staff)
    assert "is missing" in act(client, "promotion", "restore", [earlier])
    assert selectors.served_model().run == finished_run
