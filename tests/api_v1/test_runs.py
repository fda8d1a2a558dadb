"""API v1, staff only: runs listed, followed, launched (checked by the launch form itself), cancelled,
resumed and promoted; the served model, the serving history and restoring an earlier model."""

from pathlib import Path

import pytest

from sentiment.forms import TrainingLaunchForm
from sentiment.models import Promotion, TrainingRun
from sentiment.selectors.serving import served_model
from sentiment.services.api_tokens import api_token_create, api_token_revoke

pytestmark = pytest.mark.django_db
Status = TrainingRun.Status


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}, body
    return body["error"]


def a_run(finished_run, **fields) -> TrainingRun:
    """Another run of the finished run's model (a copy of its row, with ``fields`` changed)."""
    copy = TrainingRun.objects.get(pk=finished_run.pk)
    copy.pk = None
    for name, value in fields.items():
        setattr(copy, name, value)
    copy.save()
    return copy


STAFF_ENDPOINTS = [
    ("GET", "/runs", None),
    ("GET", "/runs/{run}", None),
    ("POST", "/runs", {"preset": "smoke"}),
    ("POST", "/runs/{run}/cancel", None),
    ("POST", "/runs/{run}/resume", None),
    ("POST", "/runs/{run}/promote", {"reason": "better on the test set"}),
    ("POST", "/runs/{run}/distil", {}),
    ("GET", "/serving", None),
    ("GET", "/serving/promotions", None),
    ("POST", "/serving/restore", {"reason": "roll back to the earlier model"}),
]


@pytest.mark.parametrize(("method", "path", "body"), STAFF_ENDPOINTS)
def test_staff_endpoints_refuse_others_and_change_nothing(call, key, staff, finished_run, method, path, body):
    path = path.format(run=finished_run.pk)
    assert error_of(call(method, path, json=body), 401)["code"] == "unauthorized"  # no key
    assert error_of(call(method, path, key=key, json=body), 403)["code"] == "forbidden"  # not staff
    revoked = api_token_create(user=staff, name="old", scope="staff")
    api_token_revoke(user=staff, token_id=staff.api_tokens.get(name="old").pk)
    assert error_of(call(method, path, key=revoked, json=body), 401)["code"] == "unauthorized"
    assert TrainingRun.objects.count() == 1 and not Promotion.objects.exists()


def test_runs_are_listed_newest_first_with_filters(call, staff_key, served_run):
    failed = a_run(served_run, status=Status.FAILED, preset="tutorial")
    listed = call("GET", "/runs", key=staff_key).json()
    assert listed["count"] == 2 and [r["id"] for r in listed["items"]] == [failed.pk, served_run.pk]
    first = listed["items"][1]
    assert (
        first["served"] is True
        and first["status"] == "succeeded"
        and first["base_model"] == served_run.config["base_model"]
    )
    assert first["test_accuracy"] == served_run.test_accuracy and first["percent"] == 100
    assert [r["id"] for r in call("GET", "/runs?status=failed", key=staff_key).json()["items"]] == [failed.pk]
    assert [r["id"] for r in call("GET", "/runs?preset=smoke", key=staff_key).json()["items"]] == [served_run.pk]
    assert call("GET", "/runs?since=2999-01-01T00:00:00Z", key=staff_key).json()["count"] == 0
    assert error_of(call("GET", "/runs?status=lost", key=staff_key), 400)["fields"].keys() == {"status"}


def test_a_run_in_detail_has_its_progress_metrics_and_config(call, staff_key, finished_run):
    detail = call("GET", f"/runs/{finished_run.pk}", key=staff_key).json()
    assert detail["progress"]["percent"] == 100 and detail["progress"]["status"] == "succeeded"
    assert detail["metrics"]["test"]["accuracy"] == finished_run.test_accuracy
    assert detail["config"] == finished_run.config and detail["served"] is False and detail["resumable"] is False
    assert error_of(call("GET", "/runs/999999", key=staff_key), 404)["code"] == "not_found"


def test_a_launch_queues_one_run_with_the_settings_given(
    call, staff, staff_key, queued_jobs, tmp_path, settings, django_capture_on_commit_callbacks
):
    settings.RUNS_DIR = str(tmp_path)
    body = {"preset": "smoke", "config": {"num_train_epochs": 2, "learning_rate": 3e-5, "group_by_length": False}}
    with django_capture_on_commit_callbacks(execute=True):
        launched = call("POST", "/runs", key=staff_key, json=body)
    assert launched.status_code == 201, launched.content
    run = TrainingRun.objects.get()
    assert launched.json()["id"] == run.pk and run.status == Status.QUEUED and run.created_by == staff
    assert run.launched_from == "api" and run.preset == "smoke" and run.estimate
    assert (run.config["num_train_epochs"], run.config["learning_rate"]) == (2, 3e-5)
    assert run.config["group_by_length"] is False
    assert queued_jobs("training") == [("worker.tasks.train_run", [run.pk])]


@pytest.mark.parametrize(
    ("setting", "value"), [("learning_rate", 5), ("num_train_epochs", 0), ("max_length", 5), ("frozen_layers", -1)]
)
def test_a_launch_with_a_wrong_value_gets_the_forms_own_message(call, staff_key, setting, value):
    refused = call("POST", "/runs", key=staff_key, json={"preset": "smoke", "config": {setting: value}})
    error = error_of(refused, 400)
    form = TrainingLaunchForm({"preset": "smoke", setting: str(value)})
    assert not form.is_valid()
    assert error["fields"] == {f"config.{setting}": " ".join(form.errors[setting])}
    assert not TrainingRun.objects.exists()


@pytest.mark.parametrize(
    ("config", "field", "says"),
    [
        ({"epochs": 1}, "config.epochs", "unknown setting"),
        ({"output_dir": "/tmp/x"}, "config.output_dir", "not settable"),
        ({"learning_rate": [1, 2]}, "config.learning_rate", "valid number"),
        ({"max_length": "long"}, "config.max_length", "valid integer"),
        ({"precision": "fp8"}, "config.precision", "'bf16'"),
    ],
)
def test_a_launch_with_a_setting_it_cannot_take_is_refused(call, staff_key, config, field, says):
    error = error_of(call("POST", "/runs", key=staff_key, json={"preset": "smoke", "config": config}), 400)
    assert error["fields"].keys() == {field} and says in error["fields"][field]
    assert not TrainingRun.objects.exists()


def test_an_unknown_preset_is_refused_under_its_name(call, staff_key):
    error = error_of(call("POST", "/runs", key=staff_key, json={"preset": "huge"}), 400)
    assert set(error["fields"]) == {"preset"} and not TrainingRun.objects.exists()


def test_a_launch_sent_again_with_its_key_launches_once(
    call, staff_key, queued_jobs, tmp_path, settings, django_capture_on_commit_callbacks
):
    settings.RUNS_DIR = str(tmp_path)
    body = {"preset": "smoke", "config": {"num_train_epochs": 1}}
    with django_capture_on_commit_callbacks(execute=True):
        first = call("POST", "/runs", key=staff_key, json=body, HTTP_IDEMPOTENCY_KEY="launch-42")
        again = call("POST", "/runs", key=staff_key, json=body, HTTP_IDEMPOTENCY_KEY="launch-42")
    assert first.status_code == again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert first.json()["id"] == again.json()["id"] == TrainingRun.objects.get().pk
    assert len(queued_jobs("training")) == 1
    other = call("POST", "/runs", key=staff_key, json={**body, "preset": "tutorial"}, HTTP_IDEMPOTENCY_KEY="launch-42")
    assert error_of(other, 409)["code"] == "conflict" and TrainingRun.objects.count() == 1


def test_cancel_ends_a_queued_run_and_an_ended_run_is_a_conflict(call, staff_key, finished_run):
    queued = a_run(finished_run, status=Status.QUEUED, model_dir="")
    cancelled = call("POST", f"/runs/{queued.pk}/cancel", key=staff_key)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    queued.refresh_from_db()
    assert queued.status == Status.CANCELLED and queued.cancel_requested
    assert "already ended" in error_of(call("POST", f"/runs/{queued.pk}/cancel", key=staff_key), 409)["message"]


def test_resume_needs_a_failed_run_with_a_checkpoint(call, staff_key, finished_run):
    error = error_of(call("POST", f"/runs/{finished_run.pk}/resume", key=staff_key), 409)
    assert "cannot be resumed" in error["message"]
    assert TrainingRun.objects.get(pk=finished_run.pk).status == Status.SUCCEEDED


def test_promote_serves_the_run_with_the_reason_in_the_history(call, staff, staff_key, finished_run):
    promoted = call("POST", f"/runs/{finished_run.pk}/promote", key=staff_key, json={"reason": "the first model"})
    assert promoted.status_code == 200, promoted.content
    assert promoted.json()["served"] is True and served_model().run == finished_run
    promotion = Promotion.objects.get()
    assert (promotion.reason, promotion.promoted_by, promotion.action) == ("the first model", staff, "promote")
    assert promotion.figures  # the evidence, as the promote page records it
    again = error_of(
        call("POST", f"/runs/{finished_run.pk}/promote", key=staff_key, json={"reason": "serve it again"}), 409
    )
    assert "already served" in again["message"] and Promotion.objects.count() == 1


@pytest.mark.parametrize("status", [Status.QUEUED, Status.RUNNING, Status.FAILED, Status.CANCELLED])
def test_promoting_a_run_that_has_not_succeeded_is_a_conflict(call, staff_key, finished_run, status):
    run = a_run(finished_run, status=status)
    error = error_of(call("POST", f"/runs/{run.pk}/promote", key=staff_key, json={"reason": "why not serve it"}), 409)
    assert "no finished model" in error["message"] and not Promotion.objects.exists()


def test_promote_without_a_reason_is_invalid(call, staff_key, finished_run):
    error = error_of(call("POST", f"/runs/{finished_run.pk}/promote", key=staff_key, json={"reason": "  "}), 400)
    assert "reason" in error["fields"] and not Promotion.objects.exists()
    assert error_of(call("POST", f"/runs/{finished_run.pk}/promote", key=staff_key, json={}), 400)["fields"]


def test_the_served_model_and_the_history(call, staff_key, finished_run):
    assert error_of(call("GET", "/serving", key=staff_key), 503)["code"] == "no_model"
    newer = a_run(finished_run)
    call("POST", f"/runs/{finished_run.pk}/promote", key=staff_key, json={"reason": "the first model"})
    call("POST", f"/runs/{newer.pk}/promote", key=staff_key, json={"reason": "the second model"})
    served = call("GET", "/serving", key=staff_key).json()
    assert served["run"]["id"] == newer.pk and served["promotion"]["reason"] == "the second model"
    assert served["promotion"]["replaced"] == finished_run.pk and served["runtime"]
    history = call("GET", "/serving/promotions", key=staff_key).json()
    assert [(p["run"], p["action"]) for p in history["items"]] == [(newer.pk, "promote"), (finished_run.pk, "promote")]


def test_restore_rolls_back_to_the_model_served_before(call, staff_key, finished_run):
    newer = a_run(finished_run)
    assert (
        "nothing to restore"
        in error_of(call("POST", "/serving/restore", key=staff_key, json={"reason": "serve it again"}), 409)["message"]
    )
    call("POST", f"/runs/{finished_run.pk}/promote", key=staff_key, json={"reason": "the first model"})
    never_served = a_run(finished_run)
    refused = call("POST", "/serving/restore", key=staff_key, json={"reason": "serve it again", "run": never_served.pk})
    assert "never served" in error_of(refused, 409)["message"]
    call("POST", f"/runs/{newer.pk}/promote", key=staff_key, json={"reason": "the second model"})
    restored = call("POST", "/serving/restore", key=staff_key, json={"reason": "the new one fails on negation"})
    assert restored.status_code == 200 and restored.json()["run"]["id"] == finished_run.pk
    latest = Promotion.objects.first()
    assert (latest.run, latest.action, latest.replaced) == (finished_run, "restore", newer)
    assert served_model().run == finished_run


def test_distil_queues_a_student_that_records_its_teacher(
    call, staff, staff_key, finished_run, queued_jobs, tmp_path, settings, django_capture_on_commit_callbacks
):
    settings.RUNS_DIR = str(tmp_path)
    body = {"config": {"distillation_temperature": 3.0, "max_train_examples": 100}}
    with django_capture_on_commit_callbacks(execute=True):
        answer = call("POST", f"/runs/{finished_run.pk}/distil", key=staff_key, json=body, HTTP_IDEMPOTENCY_KEY="d-1")
    assert answer.status_code == 201, answer.content
    student = TrainingRun.objects.get(pk=answer.json()["id"])
    assert (student.teacher, student.preset, student.launched_from, student.created_by) == (
        finished_run, "distil", "api", staff
    )  # fmt: skip
    config = answer.json()["config"]
    teacher_dir = str(Path(finished_run.model_dir).resolve())
    assert config["teacher_model"] == config["base_model"] == teacher_dir
    assert config["keep_layers"] == 1  # half the tiny teacher's two layers
    assert (config["distillation_temperature"], config["max_train_examples"]) == (3.0, 100)
    assert config["dataset"] == finished_run.config["dataset"]  # the teacher's data
    assert queued_jobs("training") == [("worker.tasks.train_run", [student.pk])]
    again = call("POST", f"/runs/{finished_run.pk}/distil", key=staff_key, json=body, HTTP_IDEMPOTENCY_KEY="d-1")
    assert again.json()["id"] == student.pk and TrainingRun.objects.count() == 2


@pytest.mark.parametrize(
    ("config", "field", "says"),
    [
        ({"teacher_model": "/elsewhere"}, "config.teacher_model", "set by the run itself"),
        ({"no_such_setting": 1}, "config.no_such_setting", "unknown setting"),
        ({"dataset": "/srv/elsewhere"}, "config.dataset", "the teacher's"),
        ({"base_model": "minilm"}, "config.base_model", "the teacher's"),
        ({"keep_layers": "one"}, "config.keep_layers", "integer"),
        ({"keep_layers": 2}, "config.keep_layers", "no faster"),
        ({"distillation_weight": 2.0}, "config.distillation_weight", "between 0"),
    ],
)
def test_distil_refuses_bad_settings(
    call, staff_key, finished_run, queued_jobs, django_capture_on_commit_callbacks, config, field, says
):
    with django_capture_on_commit_callbacks(execute=True):
        answer = call("POST", f"/runs/{finished_run.pk}/distil", key=staff_key, json={"config": config})
    error = error_of(answer, 400)
    assert says in error["fields"][field] and TrainingRun.objects.count() == 1
    assert queued_jobs("training") == []


@pytest.mark.parametrize("status", [Status.QUEUED, Status.RUNNING, Status.FAILED, Status.CANCELLED])
def test_distilling_a_run_without_a_model_is_a_conflict(call, staff_key, finished_run, status):
    run = a_run(finished_run, status=status)
    error = error_of(call("POST", f"/runs/{run.pk}/distil", key=staff_key, json={}), 409)
    assert "no finished model" in error["message"] and TrainingRun.objects.count() == 2
