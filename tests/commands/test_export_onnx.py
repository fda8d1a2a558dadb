"""`manage.py export_onnx`: an older run's model exported afterwards, its serving check recorded with the run."""

import json
import shutil

import pytest


@pytest.mark.django_db
def test_the_command_exports_an_older_run_and_records_its_serving_check(trained_tiny_run, tmp_path, capsys):
    from django.core.management import call_command

    from sentiment.models import TrainingRun

    run = tmp_path / "run"
    shutil.copytree(trained_tiny_run.output_dir, run)
    shutil.rmtree(run / "model" / "onnx")  # as a model trained before the export existed
    older = TrainingRun.objects.create(preset="smoke", config={}, status="succeeded", output_dir=str(run),
                                       model_dir=str(run / "model"), metrics={"test": {"accuracy": 0.9}})  # fmt: skip
    call_command("export_onnx", str(run), "--check-reviews", "40")
    out = capsys.readouterr().out
    assert "fp32: " in out and "int8: " in out and "same label on" in out and "of 40 test reviews" in out
    assert "onnx-int8: accuracy" in out and "ms per review" in out and f"recorded with #{older.pk}" in out
    older.refresh_from_db()
    assert older.metrics["test"] == {"accuracy": 0.9} and older.metrics["serving"]["reviews"] == 40
    assert (run / "model" / "onnx" / "model-int8.onnx").is_file()
    assert set(json.loads((run / "metrics.json").read_text())["serving"]["runtimes"]) == {
        "pytorch", "onnx-fp32", "onnx-int8"
    }  # fmt: skip
