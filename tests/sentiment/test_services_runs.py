from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from ml.config import TrainingConfig
from ml.errors import ConfigError
from ml.presets import config_from_preset
from ml.training.progress import Progress
from sentiment.models import Promotion, TrainingRun
from sentiment.selectors.serving import served_model, served_version
from sentiment.services.promotions import training_run_promote
from sentiment.services.runs import (
    training_run_cancel,
    training_run_claim,
    training_run_create,
    training_run_heartbeat,
    training_run_record_progress,
    training_runs_recover,
)

pytestmark = pytest.mark.django_db
Status = TrainingRun.Status


def queued_run(staff, **overrides) -> TrainingRun:
    config = config_from_preset("smoke", **overrides)
    return training_run_create(user=staff, config=config, preset="smoke", enqueue=False)


def test_a_run_is_created_queued_with_its_own_output_folder(staff, settings, tmp_path):
    settings.RUNS_DIR = tmp_path
    run = queued_run(staff, learning_rate=3e-5)
    assert run.status == Status.QUEUED and run.created_by == staff
    assert Path(run.output_dir).parent == tmp_path and Path(run.output_dir).name.startswith(f"run-{run.pk}-")
    assert queued_run(staff).output_dir != run.output_dir
    config = TrainingConfig.from_dict(run.config)
    assert config.learning_rate == 3e-5 and config.output_dir == run.output_dir


def test_impossible_settings_create_nothing():
    with pytest.raises(ConfigError, match="train_batch_size"):
        config_from_preset("smoke", train_batch_size=0)


def test_a_run_is_claimed_once(staff):
    run = queued_run(staff)
    assert training_run_claim(run_id=run.pk, worker="w1")
    assert not training_run_claim(run_id=run.pk, worker="w2")
    run.refresh_from_db()
    assert run.status == Status.RUNNING and run.worker == "w1" and run.started_at and run.heartbeat_at


def test_cancel_ends_a_queued_run_at_once_and_flags_a_running_one(staff):
    queued, running = queued_run(staff), queued_run(staff)
    training_run_claim(run_id=running.pk, worker="w")
    assert training_run_cancel(run=queued).status == Status.CANCELLED
    assert not training_run_claim(run_id=queued.pk, worker="w")
    running = training_run_cancel(run=running)
    assert running.status == Status.RUNNING and running.cancel_requested
    assert training_run_heartbeat(run_id=running.pk, worker="w") == "cancel"


def test_progress_is_recorded_and_reports_a_cancel(staff):
    run = queued_run(staff)
    training_run_claim(run_id=run.pk, worker="w")
    progress = Progress(step=5, max_steps=20, epoch=0.25, num_epochs=1, elapsed_seconds=3, eta_seconds=9, loss=0.6,
                        learning_rate=1e-4, history=[{"step": 5, "loss": 0.6, "learning_rate": 1e-4}])  # fmt: skip
    assert training_run_record_progress(run_id=run.pk, worker="w", progress=progress, device="cpu") is False
    run.refresh_from_db()
    assert (run.step, run.max_steps, run.progress_percent, run.loss, run.device) == (5, 20, 25.0, 0.6, "cpu")
    assert run.eta_seconds == 9 and run.eta_at is not None
    assert run.history == [{"step": 5, "loss": 0.6, "learning_rate": 1e-4}]
    training_run_cancel(run=run)
    assert training_run_record_progress(run_id=run.pk, worker="w", progress=progress) is True


def test_promote_needs_a_finished_model_and_keeps_the_history(staff, finished_run):
    with pytest.raises(ValidationError, match="no finished model"):
        training_run_promote(run=queued_run(staff), user=staff, reason="a test promotion")
    first = training_run_promote(run=finished_run, user=staff, reason="better on the test set")
    assert served_model().run == finished_run and served_version() == first.pk
    second_run = TrainingRun.objects.create(
        preset="smoke", config=finished_run.config, status=Status.SUCCEEDED, model_dir=finished_run.model_dir
    )
    second = training_run_promote(run=second_run, user=staff, reason="a newer model")
    assert served_model().run == second_run
    restored = training_run_promote(
        run=finished_run, user=staff, reason="better on the test set"
    )  # restore the earlier model
    assert served_model().run == finished_run
    assert list(Promotion.objects.values_list("pk", flat=True)) == [restored.pk, second.pk, first.pk]
    # the audit trail: what was done, instead of which model, why, and the figures at that moment
    assert (first.action, first.replaced, first.reason) == ("promote", None, "better on the test set")
    assert (restored.action, restored.replaced, restored.reason) == ("restore", second_run, "better on the test set")
    assert restored.figures["candidate"]["test_accuracy"] == finished_run.test_accuracy
    assert restored.figures["served"]["run"] == second_run.pk and restored.figures["replay"] is None


@pytest.mark.parametrize("reason", ["", "   ", "x" * 501])
def test_a_promotion_without_a_short_reason_is_refused_and_changes_nothing(staff, finished_run, reason):
    with pytest.raises(ValidationError, match="reason"):
        training_run_promote(run=finished_run, user=staff, reason=reason)
    assert not Promotion.objects.exists()


def test_a_run_whose_worker_died_is_interrupted_and_claimable_again(staff):
    stale, fresh, mine = queued_run(staff), queued_run(staff), queued_run(staff)
    for run, worker in ((stale, "a"), (fresh, "b"), (mine, "me")):
        training_run_claim(run_id=run.pk, worker=worker)
    TrainingRun.objects.filter(pk=stale.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=10))
    recovered = training_runs_recover(worker="me", stale_after=timedelta(minutes=1))
    assert recovered == [stale.pk, mine.pk]
    statuses = dict(TrainingRun.objects.values_list("pk", "status"))
    assert statuses == {stale.pk: Status.INTERRUPTED, fresh.pk: Status.RUNNING, mine.pk: Status.INTERRUPTED}
    assert TrainingRun.objects.get(pk=stale.pk).interruptions == 1
    assert training_run_claim(run_id=stale.pk, worker="c")


def test_an_interrupted_run_nobody_claims_is_queued_again_once_per_timeout(staff, django_capture_on_commit_callbacks):
    waiting, recent = queued_run(staff), queued_run(staff)
    for run in (waiting, recent):
        training_run_claim(run_id=run.pk, worker="gone")
    TrainingRun.objects.filter(pk__in=[waiting.pk, recent.pk]).update(status=Status.INTERRUPTED)
    TrainingRun.objects.filter(pk=waiting.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=10))
    with django_capture_on_commit_callbacks() as queued:
        assert training_runs_recover(stale_after=timedelta(minutes=1)) == [waiting.pk]
    assert len(queued) == 1  # one message for the run whose message may have been lost
    assert training_runs_recover(stale_after=timedelta(minutes=1)) == []  # not again at once
    assert training_run_claim(run_id=waiting.pk, worker="back")


def test_the_time_left_counts_down_between_reports_while_the_run_is_active():
    reported = timezone.now() - timedelta(seconds=30)
    run = TrainingRun(status=TrainingRun.Status.RUNNING, config={}, eta_seconds=100.0, eta_at=reported)
    assert 69 <= run.seconds_left <= 70.5  # scoring the test reviews reports nothing: the page still moves
    overdue = TrainingRun(status=TrainingRun.Status.RUNNING, config={}, eta_seconds=10.0, eta_at=reported)
    ended = TrainingRun(status=TrainingRun.Status.SUCCEEDED, config={}, eta_seconds=9.0, eta_at=reported)
    assert overdue.seconds_left == 0 and ended.seconds_left == 9


def test_a_run_reads_its_results_once_and_again_when_they_are_replaced():
    run = TrainingRun(config={}, metrics={"test": {"accuracy": 0.9}, "int8": {"speedup": 2.0}})
    assert run.results is run.results and run.test_accuracy == 0.9 and not run.results.serving
    run.metrics = {"behaviour": {"version": "1"}}  # as a refresh from the database or an assignment does
    assert run.test_accuracy is None and run.results.behaviour.version == "1"
    assert TrainingRun(config={}).results.to_json() == {}
