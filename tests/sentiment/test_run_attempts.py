"""A run that breaks the same way every time ends FAILED with its reason after a bounded number of tries."""

import sys
from datetime import timedelta

import pytest
from django.urls import reverse

from ml.training.progress import Progress
from sentiment.models import TrainingRun
from sentiment.services.run_execution import training_run_supervise
from sentiment.services.runs import (
    training_run_claim,
    training_run_fail,
    training_run_heartbeat,
    training_run_interrupt,
    training_run_record_progress,
    training_runs_recover,
)

pytestmark = pytest.mark.django_db
Status = TrainingRun.Status


def test_a_run_whose_folder_cannot_be_written_fails_after_its_attempts_with_the_reason(staff, tmp_path, settings):
    settings.TRAINING_MAX_ATTEMPTS = 3
    a_file = tmp_path / "a-file"
    a_file.write_text("")  # a folder cannot be made inside a file, even by root
    run = TrainingRun.objects.create(preset="smoke", config={}, output_dir=str(a_file / "run"), created_by=staff)
    for attempt in (1, 2):
        assert training_run_supervise(run_id=run.pk, worker="w1") == Status.INTERRUPTED
        run.refresh_from_db()
        assert run.interruptions == attempt and run.error.startswith("Interrupted: cannot write")
        assert training_runs_recover(stale_after=timedelta(0)) == [run.pk]  # the sweep queues it again
    assert training_run_supervise(run_id=run.pk, worker="w1") == Status.FAILED
    run.refresh_from_db()
    assert run.error.startswith("Interrupted 3 times; gave up. The last time: cannot write") and run.finished_at
    assert training_runs_recover(stale_after=timedelta(0)) == []  # and it stays failed


def test_a_run_whose_worker_keeps_dying_fails_after_its_attempts(staff, settings):
    settings.TRAINING_MAX_ATTEMPTS = 2
    run = TrainingRun.objects.create(preset="smoke", config={}, created_by=staff)
    for expected in (Status.INTERRUPTED, Status.FAILED):
        assert training_run_claim(run_id=run.pk, worker="w1")
        training_runs_recover(worker="w1")  # the worker restarted: whatever it ran was interrupted
        run.refresh_from_db()
        assert run.status == expected
    assert "Interrupted 2 times; gave up" in run.error and "its worker stopped" in run.error


def test_only_the_worker_holding_a_run_hands_it_back(staff):
    run = TrainingRun.objects.create(preset="smoke", config={}, created_by=staff)
    training_run_claim(run_id=run.pk, worker="w2")
    assert not training_run_interrupt(run_id=run.pk, worker="w1", reason="a stale supervisor")
    run.refresh_from_db()
    assert run.status == Status.RUNNING and run.worker == "w2"


def test_a_worker_that_lost_its_run_is_told_to_stop_and_records_nothing(staff):
    """Paused past the heartbeat timeout, the run went to another worker: the old one must stop."""
    run = TrainingRun.objects.create(preset="smoke", config={}, created_by=staff)
    training_run_claim(run_id=run.pk, worker="paused")
    assert training_run_heartbeat(run_id=run.pk, worker="paused") == "held"
    training_runs_recover(worker="paused")  # as the sweep does once the heartbeat is stale
    assert training_run_claim(run_id=run.pk, worker="other")
    assert training_run_heartbeat(run_id=run.pk, worker="paused") == "lost"
    progress = Progress(step=9, max_steps=20, epoch=0.5, num_epochs=1, elapsed_seconds=3, eta_seconds=9)
    assert training_run_record_progress(run_id=run.pk, worker="paused", progress=progress) is True
    training_run_fail(run_id=run.pk, worker="paused", error="exited with status 0")
    run.refresh_from_db()
    assert run.status == Status.RUNNING and run.worker == "other" and run.step == 0 and not run.error


def test_runs_handed_back_by_stopping_workers_are_not_given_up(staff, settings):
    settings.TRAINING_MAX_ATTEMPTS = 2
    run = TrainingRun.objects.create(preset="smoke", config={}, created_by=staff)
    for _ in range(3):  # three deploys in a row
        training_run_claim(run_id=run.pk, worker="w1")
        assert training_run_interrupt(run_id=run.pk, worker="w1", reason="stopped", give_up=False)
    training_run_claim(run_id=run.pk, worker="w1")
    assert training_run_interrupt(run_id=run.pk, worker="w1", reason="a fault")  # the first fault
    run.refresh_from_db()
    assert run.status == Status.INTERRUPTED and (run.interruptions, run.faults) == (4, 1)


def test_staff_resume_a_failed_run_from_its_checkpoint_but_not_one_without(
    client, staff, tmp_path, queued_jobs, django_capture_on_commit_callbacks
):
    gave_up = {"status": Status.FAILED, "faults": 3, "interruptions": 3, "error": "Interrupted 3 times; gave up."}
    with_checkpoint, without = (
        TrainingRun.objects.create(preset="smoke", config={}, output_dir=str(tmp_path / name), **gave_up)
        for name in ("kept", "none")
    )
    checkpoint = tmp_path / "kept" / "checkpoints" / "checkpoint-40"
    checkpoint.mkdir(parents=True)
    (checkpoint / "trainer_state.json").write_text("{}")
    client.force_login(staff)
    page = client.get(reverse("sentiment:run_detail", args=[with_checkpoint.pk])).content.decode()
    assert "Resume from the last checkpoint" in page
    assert "Resume from" not in client.get(reverse("sentiment:run_detail", args=[without.pk])).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("sentiment:run_resume", args=[with_checkpoint.pk]), follow=True)
    assert "queued again: it goes on from its last checkpoint" in response.content.decode()
    with_checkpoint.refresh_from_db()
    assert (with_checkpoint.status, with_checkpoint.faults, with_checkpoint.error) == (Status.QUEUED, 0, "")
    assert with_checkpoint.interruptions == 3  # its history is kept
    assert queued_jobs("training") == [("worker.tasks.train_run", [with_checkpoint.pk])]

    response = client.post(reverse("sentiment:run_resume", args=[without.pk]), follow=True)
    assert "only a failed run with a complete checkpoint can" in response.content.decode()
    without.refresh_from_db()
    assert without.status == Status.FAILED


@pytest.mark.django_db(transaction=True)
def test_a_run_that_ends_is_left_to_exit_by_itself_not_taken_as_lost(staff, monkeypatch, caplog, tmp_path):
    """The training process records SUCCEEDED, then takes a few seconds to exit (saving, freeing memory):
    the supervisor's heartbeat meanwhile finds the run no longer RUNNING, and must not kill it as lost."""
    from django.db import connection

    from sentiment.services import run_execution

    run = TrainingRun.objects.create(preset="smoke", config={}, output_dir=str(tmp_path / "run"), created_by=staff)
    monkeypatch.setenv("DATABASE_URL", _database_url(connection.settings_dict))
    succeed_then_linger = (
        "from sentiment.models import TrainingRun as R; import time; "
        f"R.objects.filter(pk={run.pk}).update(status='succeeded'); time.sleep(3)"
    )
    monkeypatch.setattr(
        run_execution,
        "_training_command",
        lambda run_id: [sys.executable, "manage.py", "shell", "-c", succeed_then_linger],
    )
    with caplog.at_level("INFO", logger="sentiment.services.run_execution"):
        assert training_run_supervise(run_id=run.pk, worker="w1") == Status.SUCCEEDED
    assert "no longer held" not in caplog.text and "has not exited" not in caplog.text
    run.refresh_from_db()
    assert (run.status, run.error, run.interruptions) == (Status.SUCCEEDED, "", 0)


def _database_url(db: dict) -> str:
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db.get('USER') or ''}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def test_a_run_left_interrupted_with_a_cancel_asked_ends_cancelled_at_the_next_sweep(staff):
    """As an earlier version left it: INTERRUPTED, cancel asked, queued every minute and never claimed."""
    run = TrainingRun.objects.create(
        preset="smoke", config={}, created_by=staff, status=Status.INTERRUPTED, cancel_requested=True
    )
    assert training_runs_recover(stale_after=timedelta(0)) == []
    run.refresh_from_db()
    assert run.status == Status.CANCELLED and run.finished_at
