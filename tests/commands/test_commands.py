"""The headless commands, run as a person runs them: real processes, exit codes and output."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
# Every test here starts manage.py as a process of its own (Django, torch and a model loaded: about 10 s
# each), so the module is a slow tier of its own; the commands' logic is tested in-process elsewhere.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def command_database(tmp_path_factory) -> str:
    """A migrated SQLite database of their own for the commands run in these tests."""
    url = f"sqlite:///{tmp_path_factory.mktemp('commands-db') / 'db.sqlite3'}"
    migrated = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_URL": url},
    )
    assert migrated.returncode == 0, migrated.stderr
    return url


@pytest.fixture
def manage(command_database):
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={**os.environ, "DATABASE_URL": command_database},
            timeout=600,
        )

    return run


def tiny_train_args(model_dir, data_dir, out) -> list[str]:
    return [
        "train", "--preset", "smoke", "--base-model", str(model_dir), "--dataset", str(data_dir),
        "--output-dir", str(out), "--max-length", "64", "--num-train-epochs", "3", "--learning-rate", "3e-3",
        "--max-train-examples", "360", "--max-test-examples", "60", "--json",
    ]  # fmt: skip


def test_train_evaluate_predict_round_trip(manage, tmp_path, tiny_model_dir, synthetic_folder):
    out = tmp_path / "run"
    trained = manage(*tiny_train_args(tiny_model_dir, synthetic_folder, out))
    assert trained.returncode == 0, trained.stderr[-2000:]
    result = json.loads(trained.stdout)  # with --json, stdout is the result alone
    assert result["model_dir"] == str(out / "model") and result["test"]["examples"] == 60
    assert result["status"] == "succeeded" and result["run_id"] >= 1  # recorded in the database
    assert result["test"]["accuracy"] >= 0.9
    assert {"precision", "recall", "f1", "roc_auc", "confusion_matrix", "loss"} <= set(result["test"])
    assert (out / "metrics.json").is_file() and (out / "model" / "tokenizer.json").is_file()

    evaluated = manage("evaluate", str(out), "--int8", "compare", "--json")
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    report = json.loads(evaluated.stdout)
    fp32, int8 = report["results"]
    assert fp32["examples"] == 60 and abs(fp32["accuracy"] - result["test"]["accuracy"]) <= 0.005
    assert int8["int8"] and report["int8_accuracy_cost"] == pytest.approx(fp32["accuracy"] - int8["accuracy"])

    predicted = manage("predict", str(out), "a wonderful superb film", "dreadful and dull", "--json")
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    rows = json.loads(predicted.stdout)["predictions"]
    assert [r["label"] for r in rows] == ["positive", "negative"]
    assert all(0.5 <= r["probability"] <= 1 for r in rows)

    plain = manage("predict", str(out), "loved it, brilliant")
    assert plain.returncode == 0 and plain.stdout.split()[0] == "positive"

    checked = manage("check_behaviour", str(result["run_id"]), "--json")
    assert checked.returncode == 0, checked.stderr[-2000:]
    behaviour = json.loads(checked.stdout)
    assert behaviour["total"] == result["behaviour"]["total"] and behaviour["capabilities"]
    assert behaviour["out_of_domain"]["reviews"] == result["out_of_domain"]["reviews"] >= 300
    assert json.loads((out / "metrics.json").read_text())["behaviour"]["version"] == behaviour["version"]
    assert "There is no run #999" in one_line_failure(manage("check_behaviour", "999"))


def test_distil_trains_a_student_of_a_run_recorded_with_its_teacher(manage, tmp_path, tiny_model_dir, synthetic_folder):
    trained = manage(*tiny_train_args(tiny_model_dir, synthetic_folder, tmp_path / "teacher"))
    teacher = json.loads(trained.stdout)
    student_out = tmp_path / "student"
    args = ("--json", "--output-dir", str(student_out), "--serving-check-reviews", "0", "--num-train-epochs", "2")
    distilled = manage("distil", str(teacher["run_id"]), *args)
    assert distilled.returncode == 0, distilled.stderr[-2000:]
    student = json.loads(distilled.stdout)
    assert student["status"] == "succeeded" and student["run_id"] == teacher["run_id"] + 1
    assert student["model_shape"]["num_hidden_layers"] == 1 and teacher["model_shape"]["num_hidden_layers"] == 2
    assert student["test"]["examples"] == teacher["test"]["examples"]  # the same test reviews
    saved = json.loads((student_out / "model" / "training_config.json").read_text())
    assert saved["teacher_model"] == saved["base_model"] == teacher["model_dir"] and saved["num_train_epochs"] == 2
    query = f"from sentiment.models import TrainingRun as R; print(R.objects.get(pk={student['run_id']}).teacher_id)"
    recorded = manage("shell", "-c", query)
    assert recorded.stdout.strip().splitlines()[-1] == str(teacher["run_id"])
    by_folder = manage("distil", teacher["model_dir"], "--output-dir", str(tmp_path / "s2"), "--keep-layers", "2")
    assert "no faster" in one_line_failure(by_folder) and not (tmp_path / "s2").exists()
    for missing in ("999", str(tmp_path / "nowhere")):
        assert "run" in one_line_failure(manage("distil", missing, "--json"))


def one_line_failure(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("CommandError")]
    assert len(lines) == 1, result.stderr[-2000:]
    return lines[0]


def test_a_missing_data_folder(manage, tmp_path, tiny_model_dir):
    line = one_line_failure(manage(*tiny_train_args(tiny_model_dir, tmp_path / "missing", tmp_path / "out")))
    assert "missing does not exist" in line


def test_a_csv_without_a_text_column(manage, tmp_path, tiny_model_dir):
    for split in ("train", "test"):
        pd.DataFrame({"review": ["good", "bad"] * 10, "label": [1, 0] * 10}).to_csv(
            tmp_path / f"{split}.csv", index=False
        )
    line = one_line_failure(manage(*tiny_train_args(tiny_model_dir, tmp_path, tmp_path / "out")))
    assert "train.csv" in line and "no 'text' column" in line


def test_an_unknown_base_model(manage, tmp_path, synthetic_folder):
    line = one_line_failure(manage(*tiny_train_args("nobody/unknown-bert", synthetic_folder, tmp_path / "out")))
    assert "nobody/unknown-bert" in line and "minilm" in line


def test_an_impossible_setting(manage, tmp_path, tiny_model_dir, synthetic_folder):
    args = [*tiny_train_args(tiny_model_dir, synthetic_folder, tmp_path / "out"), "--train-batch-size", "0"]
    assert "train_batch_size must be between 1 and 4096" in one_line_failure(manage(*args))


def test_evaluate_and_predict_without_a_model(manage, tmp_path):
    assert "no saved model" in one_line_failure(manage("evaluate", str(tmp_path)))
    assert "no saved model" in one_line_failure(manage("predict", str(tmp_path), "good film"))
    assert "no review given" in one_line_failure(manage("predict", str(tmp_path)))


def test_help_teaches_the_terms(manage):
    shown = manage("train", "--help")
    assert shown.returncode == 0
    text = " ".join(shown.stdout.split())
    assert "Epochs: how many times training goes through the whole training set" in text
    assert "Weight decay:" in text and "--preset" in text


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, capture_output=True, text=True, env={**os.environ, **env}
    )


def test_train_before_any_migrate_says_what_to_run(tmp_path, tiny_model_dir, synthetic_folder):
    fresh = f"sqlite:///{tmp_path / 'never-migrated.sqlite3'}"
    result = run_manage(*tiny_train_args(tiny_model_dir, synthetic_folder, tmp_path / "out"), DATABASE_URL=fresh)
    assert "run `python manage.py migrate` first" in one_line_failure(result)
    assert not (tmp_path / "out").exists()


def test_demo_refuses_production_settings_and_creates_no_account(command_database):
    production = {"DJANGO_SETTINGS_MODULE": "webapp.settings_production", "SECRET_KEY": "k" * 64}
    result = run_manage("demo", "--no-train", DATABASE_URL=command_database, **production)
    assert "runs only with development settings" in one_line_failure(result)
    query = "from django.contrib.auth.models import User; print(User.objects.filter(username='demo').exists())"
    accounts = run_manage("shell", "-c", query, DATABASE_URL=command_database)
    assert accounts.stdout.strip().splitlines()[-1] == "False"


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_demo_says_again_where_the_site_is_once_the_worker_is_ready_and_says_when_the_first_model_is_served(
    tmp_path,
):
    """`make demo`'s terminal tells the story under the workers' logs: the address and the account again once
    the training worker is ready, then the first model served (here promoted from outside, as the worker does
    when the first run succeeds), with the address once more; Ctrl-C stops everything it started."""
    import signal
    import threading
    import time
    import urllib.request

    port = free_port()
    env = {
        **os.environ,
        "DEBUG": "true",
        "VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
    }
    demo = subprocess.Popen(
        [sys.executable, "manage.py", "demo", "--no-train", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    said: list[str] = []

    def listen() -> None:
        for line in demo.stdout:
            said.append(line)

    threading.Thread(target=listen, daemon=True).start()
    address = f"The site is at http://127.0.0.1:{port}/"

    def wait_for(condition, what: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert demo.poll() is None, "".join(said)[-3000:]
            assert time.monotonic() < deadline, f"{what} not said within {timeout} s:\n" + "".join(said)[-3000:]
            time.sleep(0.5)

    def lines() -> list[str]:
        return [line.strip() for line in said]

    try:
        wait_for(lambda: "The training worker is ready" in "".join(said), "the training worker ready")
        after_ready = lines()[next(i for i, line in enumerate(lines()) if "training worker is ready" in line) :]
        assert address in after_ready and "Sign in as demo / demo-password (a staff account)." in "\n".join(after_ready)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=10) as page:
            assert page.status == 200  # the address it gives answers
        assert not any("The first model is served" in line for line in lines())

        promote = (
            "from sentiment.models import TrainingRun; "
            "run = TrainingRun.objects.create(preset='smoke', config={'base_model': 'minilm'}, status='succeeded', "
            "metrics={'test': {'accuracy': 0.876}}); run.promotions.create()"
        )
        shell = subprocess.run([sys.executable, "manage.py", "shell", "-c", promote], cwd=ROOT, env=env, text=True,
                               capture_output=True, timeout=120)  # fmt: skip
        assert shell.returncode == 0, shell.stderr[-2000:]
        wait_for(lambda: any("The first model is served" in line for line in said), "the first model served", 60)
        served_at = next(i for i, line in enumerate(lines()) if "The first model is served" in line)
        assert "Run #1: minilm (smoke, test accuracy 0.876)" in lines()[served_at]
        wait_for(lambda: address in lines()[served_at:], "the address after the first model")
    finally:
        os.killpg(demo.pid, signal.SIGINT)  # Ctrl-C in its terminal reaches its whole process group
        demo.wait(timeout=60)
    assert "Stopping…" in "".join(said)
