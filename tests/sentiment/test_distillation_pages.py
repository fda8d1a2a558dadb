"""The staff's "Distil a faster student" button, the student's page (its teacher named and linked) and the
comparison of a student with its teacher, each figure read from the runs' own records."""

from pathlib import Path

import pytest
from django.urls import reverse

from sentiment.models import TrainingRun

pytestmark = pytest.mark.django_db


def test_the_button_queues_a_student_and_shows_its_page(
    client, staff, finished_run, queued_jobs, tmp_path, settings, django_capture_on_commit_callbacks
):
    settings.RUNS_DIR = str(tmp_path)
    client.force_login(staff)
    page = client.get(reverse("sentiment:run_detail", args=[finished_run.pk])).content.decode()
    assert 'id="distil-form"' in page and 'id="teacher-note"' not in page
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(reverse("sentiment:run_distil", args=[finished_run.pk]))
    student = TrainingRun.objects.exclude(pk=finished_run.pk).get()
    assert answer.status_code == 302 and answer.url == reverse("sentiment:run_detail", args=[student.pk])
    assert (student.teacher, student.preset, student.created_by, student.launched_from) == (
        finished_run, "distil", staff, "admin"
    )  # fmt: skip
    assert student.config["teacher_model"] == str(Path(finished_run.model_dir).resolve())
    assert queued_jobs("training") == [("worker.tasks.train_run", [student.pk])]
    shown = client.get(answer.url).content.decode()
    assert 'id="teacher-note"' in shown and reverse("sentiment:run_detail", args=[finished_run.pk]) in shown
    assert f"keeps {student.config['keep_layers']} of its teacher" in shown
    assert 'id="compare-teacher"' not in shown  # not finished yet: nothing to compare


def test_a_run_without_a_model_gets_no_student(client, staff, finished_run):
    failed = TrainingRun.objects.create(preset="smoke", config=finished_run.config, status="failed")
    client.force_login(staff)
    assert 'id="distil-form"' not in client.get(reverse("sentiment:run_detail", args=[failed.pk])).content.decode()
    answer = client.post(reverse("sentiment:run_distil", args=[failed.pk]), follow=True)
    assert "no finished model to learn from" in answer.content.decode()
    assert TrainingRun.objects.count() == 2


def test_only_training_staff_may_distil(client, person, finished_run):
    client.force_login(person)
    answer = client.post(reverse("sentiment:run_distil", args=[finished_run.pk]))
    assert answer.status_code in (302, 403) and TrainingRun.objects.count() == 1
    assert reverse("sentiment:run_detail", args=[finished_run.pk]) not in answer.get("Location", "")


def test_the_comparison_with_its_teacher_reads_each_runs_layers(client, staff, finished_run, trained_tiny_run):
    """A finished student (the teacher's row with one layer recorded) beside its teacher: the Teacher and
    Layers rows come from each run's own record."""
    metrics = {**finished_run.metrics, "model_shape": {**finished_run.metrics["model_shape"], "num_hidden_layers": 1}}
    student = TrainingRun.objects.create(
        preset="distil", config=finished_run.config, status="succeeded", output_dir=finished_run.output_dir,
        model_dir=finished_run.model_dir, metrics=metrics, teacher=finished_run,
    )  # fmt: skip
    client.force_login(staff)
    page = client.get(reverse("sentiment:run_detail", args=[student.pk])).content.decode()
    compare = f"{reverse('sentiment:run_compare')}?run={student.pk}&run={finished_run.pk}"
    assert 'id="compare-teacher"' in page and compare in page
    table = client.get(reverse("sentiment:run_compare"), {"run": [student.pk, finished_run.pk]}).context["table"]
    rows = {row.label: row.values for row in table["figures"]}
    assert rows["Teacher"] == [f"Run #{finished_run.pk}", None]
    assert rows["Layers"] == [1, trained_tiny_run.results.model_shape["num_hidden_layers"]] == [1, 2]
