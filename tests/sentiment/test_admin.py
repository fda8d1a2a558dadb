from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from sentiment.models import Promotion, TrainingRun
from sentiment.selectors.serving import served_model
from sentiment.services.runs import training_run_claim
from sentiment.services.sweep import jobs_sweep
from tests.brokers import broker_away

pytestmark = pytest.mark.django_db


def act(client, model: str, action: str, rows) -> str:
    response = client.post(
        reverse(f"admin:sentiment_{model}_changelist"),
        {"action": action, "_selected_action": [row.pk for row in rows]},
        follow=True,
    )
    assert response.status_code == 200
    return response.content.decode()


def test_the_admin_promote_and_restore_actions_open_the_promote_page(client, staff, finished_run):
    """Serving needs a reason and the evidence read first: the actions lead to the promote page."""
    client.force_login(staff)
    changelist = reverse("admin:sentiment_trainingrun_changelist")
    response = client.post(changelist, {"action": "promote_run", "_selected_action": [finished_run.pk]})
    assert response.status_code == 302 and response.url == reverse("sentiment:run_promote", args=[finished_run.pk])
    earlier = Promotion.objects.create(run=finished_run, promoted_by=staff, reason="first")
    response = client.post(
        reverse("admin:sentiment_promotion_changelist"), {"action": "restore", "_selected_action": [earlier.pk]}
    )
    assert response.url == reverse("sentiment:run_promote", args=[finished_run.pk])
    assert "first" in client.get(reverse("admin:sentiment_promotion_changelist")).content.decode()  # the reason


def test_the_admin_promotes_one_run_at_a_time(client, staff, finished_run):
    client.force_login(staff)
    queued = TrainingRun.objects.create(preset="smoke", config={})
    assert "Choose exactly one row." in act(client, "trainingrun", "promote_run", [finished_run, queued])
    assert not Promotion.objects.exists()


def test_the_admin_compares_the_chosen_runs(client, staff, finished_run):
    client.force_login(staff)
    other = TrainingRun.objects.create(preset="smoke", config={})
    response = client.post(
        reverse("admin:sentiment_trainingrun_changelist"),
        {"action": "compare_runs", "_selected_action": [other.pk, finished_run.pk]},
    )
    assert response.status_code == 302
    assert response.url == f"{reverse('sentiment:run_compare')}?run={finished_run.pk}&run={other.pk}"
    assert "Choose two or more runs" in act(client, "trainingrun", "compare_runs", [finished_run])


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
    Promotion.objects.create(run=gone, promoted_by=staff)  # promoted before its folder was deleted
    Promotion.objects.create(run=finished_run, promoted_by=staff)
    response = client.post(
        reverse("sentiment:run_promote", args=[gone.pk]), {"reason": "roll back to the earlier model"}
    )
    assert "is missing" in response.content.decode()
    assert served_model().run == finished_run and Promotion.objects.count() == 2


def test_a_launch_while_the_broker_is_away_is_kept_and_sent_by_the_sweep_once_it_is_back(
    client, staff, queued_jobs, django_capture_on_commit_callbacks
):
    client.force_login(staff)
    with broker_away(), django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:sentiment_trainingrun_launch"), {"preset": "smoke"}, follow=True)
    run = TrainingRun.objects.get()
    assert response.status_code == 200 and run.status == "queued" and run.dispatched_at is None
    assert escape(f"{run}: {run.BROKER_AWAY}") in response.content.decode()  # the message, and the status
    assert client.get(reverse("sentiment:run_progress", args=[run.pk])).json()["status_display"] == run.BROKER_AWAY

    assert jobs_sweep()["resent"] == []  # just created: its message may still be on its way
    TrainingRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_sweep()["resent"] == [run.pk]
    assert queued_jobs("training") == [("worker.tasks.train_run", [run.pk])]
    assert training_run_claim(run_id=run.pk, worker="w")


def test_staff_launch_the_cpu_preset_from_the_admin_with_its_estimate(
    client, staff, queued_jobs, tmp_path, settings, django_capture_on_commit_callbacks
):
    settings.RUNS_DIR = str(tmp_path)
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:sentiment_trainingrun_launch"), {"preset": "cpu"}, follow=True)
    run = TrainingRun.objects.get()
    assert response.status_code == 200 and run.preset == "cpu" and run.estimate
    assert (run.config["dataset"], run.config["max_length"], run.config["frozen_layers"]) == ("imdb", 256, 2)
    assert queued_jobs("training") == [("worker.tasks.train_run", [run.pk])]
