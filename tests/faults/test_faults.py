"""Faults caused for real, each ending with what it cost: nothing.

A killed CSV worker, Redis stopped while a run is launched and a file uploaded, a training worker frozen
past its lease and then let go, a run whose folder cannot be written. The back end is real processes
(``conftest.backend``) on the test database; the test process is the web site.
"""

import csv
import io
import signal
import time
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from django.urls import reverse
from django.utils.html import escape

from sentiment.models import CsvClassification, TrainingRun
from sentiment.services.runs import training_run_create
from tests.faults.conftest import HEARTBEAT_TIMEOUT, processes_with
from tests.integration.test_worker import launch
from tests.synthetic import tiny_config
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def upload(client, rows: int) -> CsvClassification:
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["id", "text"])
    writer.writerows([i, "loved it, wonderful" if i % 2 else "awful, boring"] for i in range(rows))
    file = io.BytesIO(table.getvalue().encode())
    file.name = "reviews.csv"
    response = client.post(reverse("sentiment:csv_upload"), {"file": file})
    assert response.status_code == 302, response.content.decode()[-2000:]
    return CsvClassification.objects.latest("pk")


def ended(row, timeout: float, what: str):
    """The row once it has ended (wait_for's message says which did not)."""
    finished = ("succeeded", "failed", "cancelled")
    wait_for(lambda: type(row).objects.get(pk=row.pk).status in finished, timeout, what)
    row.refresh_from_db()
    return row


def result_ids(job: CsvClassification) -> list[int]:
    with job.result.open("rb") as handle:
        return [int(row["id"]) for row in csv.DictReader(io.StringIO(handle.read().decode()))]


def training_children(run: TrainingRun, parent: int | None = None) -> list[int]:
    return [pid for pid, ppid in processes_with(f"train --run-id {run.pk}") if parent in (None, ppid)]


def mid_slice(job: CsvClassification, slice_rows: int = 1000) -> bool:
    return job.status == "running" and job.done_rows >= slice_rows and job.done_rows % slice_rows <= slice_rows - 300


def test_a_default_worker_killed_mid_csv_loses_nothing_and_each_row_is_classified_once(
    backend, served_run, staff_client, lost
):
    backend.env["CSV_SLICE_ROWS"] = "1000"
    first = backend.default_worker()
    job = upload(staff_client, 20000)
    # Between slices a job is QUEUED again; kill while a slice runs, with at least 300 of its rows to go
    # (a kill on the boundary left a queued job and no fault, and failed this test once in CI).
    wait_for(lambda: mid_slice(CsvClassification.objects.get(pk=job.pk)), 120, "a slice done, the next one running")
    first.kill()  # kill -9 of the worker and its pool processes, mid-slice
    job.refresh_from_db()
    assert job.status == "running" and 1000 <= sum(part["rows"] for part in job.parts) < 20000

    backend.default_worker()  # another worker: the sweep finds the stale lease and hands the job to it
    job = ended(job, 180, "the CSV job ends on the second worker")
    assert job.status == "succeeded", job.error
    assert result_ids(job) == list(range(20000))  # every row once, in order
    assert job.faults == 1 and job.parts == [] and not any(Path(backend.env["MEDIA_ROOT"], "csv-parts").rglob("*.csv"))
    lost("nothing: 20,000 of 20,000 rows in the result, each once; one slice classified again")


def test_redis_stopped_during_a_launch_and_an_upload_loses_neither(
    backend, served_run, staff_client, tiny_model_dir, synthetic_folder, lost
):
    backend.default_worker()
    backend.training_worker()
    backend.redis_stop()
    run = launch(staff_client, tiny_model_dir, synthetic_folder)
    job = upload(staff_client, 300)
    run.refresh_from_db()
    assert run.status == job.status == "queued" and run.dispatched_at is None and job.dispatched_at is None
    page = staff_client.get(reverse("sentiment:csv_detail", args=[job.pk])).content.decode()
    assert escape(job.BROKER_AWAY) in page

    backend.redis_start()  # the beat's next sweep sends both
    restarted = backend.restart_exited()
    run, job = ended(run, 180, "the run ends"), ended(job, 120, "the CSV job ends")
    assert (run.status, job.status) == ("succeeded", "succeeded"), (run.error, job.error)
    assert run.interruptions == 0 and run.dispatched_at and result_ids(job) == list(range(300))
    lost(
        "nothing: the run trained once, the file's 300 rows each classified once"
        + (f" (restarted as compose would: {', '.join(restarted)})" if restarted else "")
    )


def test_a_training_worker_paused_past_its_lease_gives_the_run_up_when_it_wakes(
    backend, staff_client, tiny_model_dir, synthetic_folder, lost
):
    backend.default_worker()  # reads the sweep queue
    paused = backend.training_worker()
    run = launch(staff_client, tiny_model_dir, synthetic_folder, num_train_epochs=16, eval_strategy="no",
                 save_strategy="steps", save_steps=40)  # fmt: skip
    [old_child] = wait_for(lambda: training_children(run, paused.pid), 60, "the worker starts training the run")
    checkpoints = Path(run.output_dir) / "checkpoints"
    wait_for(lambda: any(checkpoints.glob("checkpoint-*/trainer_state.json")), 120, "a first complete checkpoint")
    paused.signal(signal.SIGSTOP)  # the worker and its training child, frozen
    assert TrainingRun.objects.get(pk=run.pk).status == "running"  # mid-run (400 steps; a checkpoint every 40)

    other = backend.training_worker()
    wait_for(lambda: training_children(run, other.pid), 60, "the sweep hands the run to the other worker")
    assert TrainingRun.objects.get(pk=run.pk).worker.startswith("training-")
    time.sleep(2 * HEARTBEAT_TIMEOUT)  # the other trains on meanwhile
    paused.signal(signal.SIGCONT)
    wait_for(lambda: not training_children(run, paused.pid), 30, "the woken worker ends its copy of the training")
    assert "is no longer held by" in paused.log.read_text()

    run = ended(run, 240, "the run ends on the other worker")
    assert run.status == "succeeded", (run.error, run.log_tail)
    assert run.interruptions == 1 and run.step == run.max_steps and run.metrics["resumed_from"]
    assert [p.name for p in Path(run.output_dir).iterdir() if p.name.startswith("model")] == ["model"]
    assert old_child not in training_children(run)
    lost("nothing: trained to the end once, from its last checkpoint; one model folder")


def test_a_run_whose_folder_cannot_be_written_fails_after_its_bounded_attempts(
    backend, tmp_path, tiny_model_dir, synthetic_folder, settings, lost
):
    backend.default_worker()
    backend.training_worker()
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the run's folder should be: no user, root included, can create it")
    config = tiny_config(tiny_model_dir, synthetic_folder, blocker / "run")
    run = training_run_create(user=None, config=config, preset="smoke", launched_from="test")

    run = ended(run, 120, "the run gives up")
    assert run.status == "failed" and run.faults == run.interruptions == settings.TRAINING_MAX_ATTEMPTS
    assert run.error.startswith(f"Interrupted {settings.TRAINING_MAX_ATTEMPTS} times; gave up.")
    assert "cannot write" in run.error and "Not a directory" in run.error
    time.sleep(3 * HEARTBEAT_TIMEOUT)  # sweeps go by: it is not queued again
    run.refresh_from_db()
    assert run.status == "failed" and run.interruptions == settings.TRAINING_MAX_ATTEMPTS
    lost(f"nothing: failed after {run.faults} attempts with its reason, and left alone since")


def test_a_full_disk_interrupts_a_run_and_once_space_is_back_staff_resume_it(
    backend, staff_client, tiny_model_dir, synthetic_folder, settings, lost
):
    backend.default_worker()
    backend.training_worker()
    output = Path(settings.RUNS_DIR) / "full-disk-run"
    output.mkdir(parents=True)
    (output / "metrics.json").symlink_to("/dev/full")  # every write to it fails: "No space left on device"
    config = tiny_config(tiny_model_dir, synthetic_folder, output, num_train_epochs=2, max_test_examples=40)
    run = training_run_create(user=None, config=config, preset="smoke", launched_from="test")

    run = ended(run, 240, "the run gives up on the full disk")
    assert run.status == "failed" and run.faults == settings.TRAINING_MAX_ATTEMPTS, run.error
    assert "No space left on device" in run.error and run.error.startswith("Interrupted")
    page = staff_client.get(reverse("sentiment:run_detail", args=[run.pk])).content.decode()
    assert "Resume from the last checkpoint" in page

    (output / "metrics.json").unlink()  # space is back
    staff_client.post(reverse("sentiment:run_resume", args=[run.pk]))
    run = ended(run, 120, "the resumed run ends")
    assert run.status == "succeeded" and run.metrics["resumed_from"] and run.metrics["test"]["accuracy"] > 0.5
    lost("nothing: three attempts on a full disk, then resumed by staff from its last checkpoint and finished")


def test_the_database_dropping_the_workers_connections_mid_run_costs_the_run_nothing(
    backend, staff_client, tiny_model_dir, synthetic_folder, lost
):
    backend.default_worker()
    worker = backend.training_worker()
    run = launch(staff_client, tiny_model_dir, synthetic_folder, num_train_epochs=12, eval_strategy="no")
    wait_for(lambda: TrainingRun.objects.get(pk=run.pk).step > 0, 120, "the run is training")
    db = connection.settings_dict
    address = {"host": db["HOST"] or None, "port": db["PORT"] or None, "user": db["USER"] or None}
    with psycopg.connect(dbname=db["NAME"], password=db["PASSWORD"] or None, autocommit=True, **address) as admin:
        dropped = 0
        for _ in range(3):  # as a database restart or failover does, three times over a few seconds
            dropped += admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s"
                " AND pid NOT IN (pg_backend_pid(), %s)", [db["NAME"], connection.connection.info.backend_pid],
            ).fetchone()[0]  # fmt: skip
            time.sleep(1.5)
    assert dropped >= 3  # the supervisor's and the training process's connections, each time they had one
    run = ended(run, 180, "the run ends")
    assert run.status == "succeeded" and run.interruptions == 0, (run.error, run.log_tail)
    assert "the database does not answer" in worker.log.read_text() + run.log_tail
    lost("nothing: three dropped connections, a progress report or two skipped, no interruption")


def test_a_run_cancelled_as_its_worker_dies_ends_cancelled_instead_of_waiting_for_ever(
    backend, staff_client, tiny_model_dir, synthetic_folder, lost
):
    """The natural case: the run looks hung, staff cancel it, and the worker turns out to be dead."""
    backend.default_worker()  # reads the sweep queue
    worker = backend.training_worker()
    run = launch(staff_client, tiny_model_dir, synthetic_folder, num_train_epochs=16, eval_strategy="no")
    wait_for(lambda: TrainingRun.objects.get(pk=run.pk).step > 0, 120, "the run is training")
    worker.signal(signal.SIGSTOP)  # it hangs: the cancel cannot be honoured
    staff_client.post(reverse("sentiment:run_cancel", args=[run.pk]))
    worker.kill()  # and then it dies, its training child with it
    run = ended(run, 60, "the sweep ends the cancelled run")
    assert run.status == "cancelled" and run.finished_at and "it had not stopped yet" in run.error
    time.sleep(3 * HEARTBEAT_TIMEOUT)  # sweeps go by: it is not queued again
    run.refresh_from_db()
    assert run.status == "cancelled" and run.interruptions == 0
    lost("nothing: cancelled, as asked, once the sweep found its worker gone; never queued again")
