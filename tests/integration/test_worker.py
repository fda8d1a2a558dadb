"""Launch -> train -> promote -> classify, cancel, kill -9 and resume, CSV: through a real Celery worker
on a real Redis, with the test process acting as the web site."""

import csv
import io
import subprocess
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from ml.config import TrainingConfig
from sentiment.models import CsvClassification, Prediction, TrainingRun, WorkerHost
from sentiment.selectors.serving import training_run_serving_runtime
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True)
Status = TrainingRun.Status


def launch(client, tiny_model_dir, synthetic_folder, **overrides) -> TrainingRun:
    form = {
        "preset": "smoke",
        "base_model": str(tiny_model_dir),
        "data_folder": str(synthetic_folder),
        "max_length": "64",
        "num_train_epochs": "4",
        "learning_rate": "0.003",
        "max_test_examples": "60",
        "logging_steps": "5",
        **{k: str(v) for k, v in overrides.items()},
    }
    response = client.post(reverse("admin:sentiment_trainingrun_launch"), form)
    assert response.status_code == 302, response.context["form"].errors
    return TrainingRun.objects.latest("pk")


def launch_until_checkpointed(client, tiny_model_dir, synthetic_folder) -> TrainingRun:
    """A long run (40 epochs, a checkpoint every 40 steps), once its first checkpoint is complete."""
    run = launch(client, tiny_model_dir, synthetic_folder, num_train_epochs=40, eval_strategy="no",
                 save_strategy="steps", save_steps=40)  # fmt: skip
    checkpoints = Path(run.output_dir) / "checkpoints"
    # a checkpoint is complete once the Trainer has written its state file, the last one it writes
    wait_for(lambda: any(checkpoints.glob("checkpoint-*/trainer_state.json")), 120, "a first complete checkpoint")
    return run


def status_of(run: TrainingRun) -> str:
    run.refresh_from_db()
    return run.status


def training_children(run: TrainingRun) -> list[str]:
    listed = subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True).stdout.splitlines()
    return [line for line in listed if f"--run-id {run.pk}" in line and "manage.py train" in line]


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("boss", password="pw", is_staff=True))
    return client


def test_launch_train_promote_classify(worker, staff_client, tiny_model_dir, synthetic_folder):
    run = launch(staff_client, tiny_model_dir, synthetic_folder)
    seen = {status_of(run)}
    wait_for(lambda: seen.add(status_of(run)) or run.status in (Status.SUCCEEDED, Status.FAILED), 180, "run ends",
             interval=0.1)  # fmt: skip
    assert run.status == Status.SUCCEEDED, (run.error, run.log_tail)
    assert {Status.RUNNING, Status.SUCCEEDED} <= seen
    assert run.step == run.max_steps > 0 and run.metrics["test"]["accuracy"] >= 0.9
    assert Path(run.model_dir, "model.safetensors").is_file() and Path(run.last_checkpoint).is_dir()
    assert [round(e["epoch"]) for e in run.metrics["epochs"]] == [1, 2, 3, 4]
    assert any("eval_accuracy" in h for h in run.history) and any("loss" in h for h in run.history)
    assert run.device.startswith("cpu") and run.heartbeat_at and run.finished_at

    progress = staff_client.get(reverse("sentiment:run_progress", args=[run.pk])).json()
    assert progress["percent"] == 100 and len(progress["eval_curve"]) == 4 and progress["test"]["confusion_matrix"]

    # the serving check: exported for ONNX Runtime by the worker, every runtime scored on the test reviews
    assert set(run.metrics["serving"]["runtimes"]) == {"pytorch", "onnx-fp32", "onnx-int8"}
    assert Path(run.model_dir, "onnx", "model-int8.onnx").is_file()

    staff_client.post(reverse("sentiment:run_promote", args=[run.pk]), {"reason": "first model"})
    staff_client.post(reverse("sentiment:classify"), {"text": "a superb and moving film, loved it"})
    prediction = Prediction.objects.get()
    assert prediction.run == run and prediction.label == "positive" and f"Run #{run.pk}" in prediction.model_name
    assert prediction.runtime == training_run_serving_runtime(run=run)  # what the check chose

    # the worker said what hardware it has; the next launch is estimated from this run's measured speed
    host = wait_for(lambda: WorkerHost.objects.filter(hostname=worker.name).first(), 30, "the worker's hardware")
    assert host.hardware["kind"] == "cpu" and host.hardware["memory_bytes"] > 2**30 and host.hardware["disk_free_bytes"]
    assert {"prepare", "train", "validation", "test", "checks", "total"} <= set(run.metrics["seconds"])
    form = {"preset": "smoke", "base_model": str(tiny_model_dir), "data_folder": str(synthetic_folder),
            "max_length": "64", "num_train_epochs": "4", "learning_rate": "0.003",
            "max_test_examples": "60"}  # fmt: skip
    found = staff_client.get(reverse("admin:sentiment_trainingrun_estimate"), form).json()
    assert f"run #{run.pk}" in found["basis"] and found["seconds"] > 0, found
    assert 0.5 < found["seconds"] / run.metrics["seconds"]["total"] < 2


def test_cancel_stops_a_run_within_seconds_and_the_worker_takes_the_next(
    worker, staff_client, tiny_model_dir, synthetic_folder
):
    long = launch(staff_client, tiny_model_dir, synthetic_folder, num_train_epochs=100, eval_strategy="no",
                  save_strategy="no")  # fmt: skip
    wait_for(lambda: status_of(long) == Status.RUNNING and long.step > 0, 120, "the long run trains")
    following = launch(staff_client, tiny_model_dir, synthetic_folder, num_train_epochs=1)
    staff_client.post(reverse("sentiment:run_cancel", args=[long.pk]))
    wait_for(lambda: status_of(long) == Status.CANCELLED, 10, "cancel ends the run within 10 s", interval=0.1)
    assert long.step < long.max_steps
    wait_for(lambda: not training_children(long), 10, "the training process is gone")
    wait_for(lambda: status_of(following) == Status.SUCCEEDED, 120, "the worker trains the next run")


def test_a_killed_worker_loses_nothing_checkpointed_and_the_run_finishes_once(
    worker, staff_client, tiny_model_dir, synthetic_folder
):
    run = launch_until_checkpointed(staff_client, tiny_model_dir, synthetic_folder)
    step_before = TrainingRun.objects.get(pk=run.pk).step
    worker.kill()
    wait_for(lambda: not training_children(run), 10, "the training child dies with its worker")
    assert status_of(run) == Status.RUNNING  # nobody has noticed yet

    worker.start()  # a worker is back: it marks the run interrupted and resumes it
    wait_for(lambda: status_of(run) in (Status.SUCCEEDED, Status.FAILED), 180, "the resumed run ends")
    assert run.status == Status.SUCCEEDED, (run.error, run.log_tail)
    assert run.interruptions == 1
    resumed_from = run.metrics["resumed_from"]
    assert resumed_from and int(resumed_from.rsplit("-", 1)[1]) >= 40
    assert run.step == run.max_steps and step_before < run.max_steps
    assert sorted(p.name for p in Path(run.output_dir).iterdir() if p.name == "model") == ["model"]
    page = staff_client.get(reverse("sentiment:run_detail", args=[run.pk])).content.decode()
    assert "interrupted" in page and "goes on from the last complete checkpoint" in page


def test_a_stopping_worker_hands_its_run_back_and_the_next_worker_resumes_it(
    worker, staff_client, tiny_model_dir, synthetic_folder
):
    run = launch_until_checkpointed(staff_client, tiny_model_dir, synthetic_folder)
    assert worker.terminate(timeout=30) == 0  # a warm shutdown does not wait for the whole run
    assert not training_children(run)
    assert status_of(run) == Status.INTERRUPTED and run.interruptions == 1 and not run.error

    worker.start()  # the run was queued again: the next worker resumes it from its checkpoint
    wait_for(lambda: status_of(run) in (Status.SUCCEEDED, Status.FAILED), 180, "the resumed run ends")
    assert run.status == Status.SUCCEEDED, (run.error, run.log_tail)
    assert run.interruptions == 1 and int(run.metrics["resumed_from"].rsplit("-", 1)[1]) >= 40


@pytest.mark.parametrize("runtime", ["onnx-int8", "pytorch"])
def test_a_csv_is_classified_by_the_worker_on_the_runtime_served(
    start_worker, client, django_user_model, trained_tiny_run, runtime
):
    worker = start_worker(SERVE_RUNTIME=runtime)
    served = TrainingRun.objects.create(
        preset="smoke", config=TrainingConfig(base_model="tiny").to_dict(), status=Status.SUCCEEDED,
        model_dir=trained_tiny_run.model_dir, output_dir=trained_tiny_run.output_dir,
    )  # fmt: skip
    served.promotions.create()
    person = django_user_model.objects.create_user("reader", password="pw")
    client.force_login(person)
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["id", "text", "stars"])
    writer.writerows([i, "loved it, wonderful" if i % 2 else "awful, boring", i] for i in range(150))
    upload = io.BytesIO(table.getvalue().encode())
    upload.name = "reviews.csv"
    response = client.post(reverse("sentiment:csv_upload"), {"file": upload})
    job = CsvClassification.objects.get()
    assert response.status_code == 302 and response.url == reverse("sentiment:csv_detail", args=[job.pk])
    wait_for(lambda: CsvClassification.objects.get(pk=job.pk).status in ("succeeded", "failed"), 120, "the CSV ends")
    job.refresh_from_db()
    assert job.status == "succeeded", (job.error, (worker.log.read_text()[-3000:]))
    download = client.get(reverse("sentiment:csv_download", args=[job.pk]))
    result = list(csv.DictReader(io.StringIO(b"".join(download.streaming_content).decode())))
    assert len(result) == 150 and list(result[0]) == ["id", "text", "stars", "label", "probability"]
    assert [r["label"] for r in result[:4]] == ["negative", "positive", "negative", "positive"]
    assert client.get(reverse("sentiment:csv_status", args=[job.pk])).json()["percent"] == 100
    assert job.runtime == runtime


def test_bad_data_ends_failed_with_the_reason(worker, staff_client, tiny_model_dir, tmp_path):
    run = launch(staff_client, tiny_model_dir, tmp_path / "no-such-folder")
    wait_for(lambda: status_of(run) in (Status.FAILED, Status.SUCCEEDED), 120, "the run ends")
    assert run.status == Status.FAILED and "no-such-folder does not exist" in run.error
    page = staff_client.get(reverse("sentiment:run_detail", args=[run.pk])).content.decode()
    assert "no-such-folder does not exist" in page


def test_a_training_process_killed_like_by_the_oom_killer_fails_and_the_worker_goes_on(
    worker, staff_client, tiny_model_dir, synthetic_folder
):
    run = launch(staff_client, tiny_model_dir, synthetic_folder, num_train_epochs=100, eval_strategy="no",
                 save_strategy="no")  # fmt: skip
    wait_for(lambda: status_of(run) == Status.RUNNING and run.step > 0, 120, "the run trains")
    [child] = training_children(run)
    subprocess.run(["pkill", "-KILL", "-f", f"manage.py train --run-id {run.pk}"], check=True)
    wait_for(lambda: status_of(run) == Status.FAILED, 20, "the run is marked failed")
    assert "killed by SIGKILL (out of memory?)" in run.error and child
    following = launch(staff_client, tiny_model_dir, synthetic_folder, num_train_epochs=1)
    wait_for(lambda: status_of(following) == Status.SUCCEEDED, 120, "the worker trains the next run")


def test_a_two_process_data_parallel_run_finishes_with_one_model_and_one_set_of_metrics(
    start_worker, staff_client, tiny_model_dir, synthetic_folder
):
    """The multi-GPU path (torchrun, data-parallel Trainer), proven on the CPU with the gloo backend."""
    start_worker(TRAINING_PROCESSES="2")
    run = launch(staff_client, tiny_model_dir, synthetic_folder, num_train_epochs=2)
    wait_for(lambda: status_of(run) in (Status.SUCCEEDED, Status.FAILED), 240, "the two-process run ends")
    assert run.status == Status.SUCCEEDED, (run.error, run.log_tail)
    assert run.metrics["processes"] == 2 and run.metrics["test"]["examples"] == 60
    assert run.max_steps == 2 * 12  # 360 reviews / (16 per process x 2 processes), per epoch
    assert [round(e["epoch"]) for e in run.metrics["epochs"]] == [1, 2]
    output = Path(run.output_dir)
    assert sorted(p.name for p in output.iterdir() if p.is_dir()) == ["checkpoints", "model"]
    assert (output / "model" / "model.safetensors").is_file() and (output / "metrics.json").is_file()


def test_a_worker_works_out_what_a_page_asked_for_and_the_web_process_loads_no_model(
    worker, client, django_user_model, trained_tiny_run
):
    """An explanation and the promote page's replay are computed by the worker: the page shows the job's
    progress, polls it, and shows the result once it is done; this (web) process never loads the models."""
    from ml.serving.inference import predictor_cache

    config = TrainingConfig(base_model="tiny").to_dict()
    served, candidate = (
        TrainingRun.objects.create(preset="smoke", config=config, status=Status.SUCCEEDED,
                                   model_dir=trained_tiny_run.model_dir, output_dir=trained_tiny_run.output_dir)
        for _ in range(2)
    )  # fmt: skip
    served.promotions.create(reason="the model served here")
    person = django_user_model.objects.create_user("reader", password="pw")
    answer = Prediction.objects.create(user=person, text="A superb film, but the ending was dull.", label="positive",
                                       probability=0.7, run=served, model_name="tiny", runtime="pytorch")  # fmt: skip
    predictor_cache.clear()
    client.force_login(person)
    why = reverse("sentiment:prediction_why", args=[answer.pk])
    job = client.get(why).context["job"]
    status = reverse("sentiment:analysis_status", args=[job["id"]])
    wait_for(lambda: client.get(status).json()["status"] == "succeeded", 60, "the worker explains the answer")
    explanation = client.get(why).context["explanation"]
    assert "".join(p["text"] for p in explanation["pieces"]) == answer.text

    staff_client = Client()
    staff_client.force_login(django_user_model.objects.create_user("boss", password="pw", is_staff=True))
    promote = reverse("sentiment:run_promote", args=[candidate.pk])
    job = staff_client.get(promote).context["evidence"]["job"]
    status = reverse("sentiment:analysis_status", args=[job["id"]])
    wait_for(lambda: staff_client.get(status).json()["status"] == "succeeded", 60, "the worker replays")
    assert staff_client.get(promote).context["evidence"]["replay"]["replayed"] == 1
    assert predictor_cache.loaded() == [], "a model was loaded in the web process"
