"""The dependencies run one way: ml/ is plain Python (it must run without Django or Celery: a notebook, a
torchrun child), and the Django app never imports the Celery workers (worker/ imports sentiment/)."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ML = ROOT / "ml"
FORBIDDEN = {"django", "celery", "sentiment", "webapp", "worker"}


def imported_packages(folder: Path):
    """(file, top-level package) for every import in every module below ``folder``, inside functions too."""
    for file in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.Import):
                yield from ((file, alias.name.split(".")[0]) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                yield file, node.module.split(".")[0]


def test_no_module_in_ml_imports_django_or_celery():
    for file, package in imported_packages(ML):
        assert package not in FORBIDDEN, f"{file.name} imports {package}"


def test_the_django_app_never_imports_the_workers():
    for file, package in imported_packages(ROOT / "sentiment"):
        assert package != "worker", f"{file.relative_to(ROOT)} imports worker: queue jobs through sentiment.jobs"


def test_importing_all_of_ml_loads_neither():
    modules = ", ".join(f"ml.{f.stem}" for f in ML.glob("*.py") if f.stem != "__init__")
    code = f"import sys, {modules}; bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}]; print(bad)"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ML.parent)
    assert output.stdout.strip() == "[]"


def test_a_web_process_starts_without_loading_the_training_libraries():
    """torch, transformers, datasets, scikit-learn and pyarrow are what training and a PyTorch model need; the site
    itself (its URLs, views, services and selectors) must not pull them in, so that a web process serving
    a model through another runtime stays small."""
    heavy = {"torch", "transformers", "datasets", "sklearn", "pyarrow"}
    code = (
        "import sys; from django.urls import resolve; from webapp.wsgi import application; resolve('/'); "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {heavy!r}))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.settings"}
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT, env=env)
    assert output.stdout.strip().splitlines()[-1] == "[]"


SERVE_AND_ANSWER = """
import json, sys
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.contrib.auth import get_user_model
from django.test import Client
from sentiment.models import Promotion, TrainingRun
user = get_user_model().objects.create_user("reader", password="pw")
folder = sys.argv[1]
run = TrainingRun.objects.create(preset="smoke", config={}, status="succeeded", model_dir=folder, output_dir=folder)
Promotion.objects.create(run=run)
client = Client()
client.force_login(user)
page = client.post("/", {"text": "A warm, funny and moving film."})
answer = user.predictions.get()
print(json.dumps({"status": page.status_code, "runtime": answer.runtime, "label": answer.label,
                  "heavy": sorted({m.split(".")[0] for m in sys.modules} & {"torch", "transformers", "sklearn"})}))
"""


def test_a_web_process_serving_the_onnx_export_answers_without_loading_torch(trained_tiny_run, tmp_path):
    """The exported model answers a person's review in a fresh web process (its own database), and after
    the answer neither torch nor transformers is in that process."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'site.sqlite3'}",
        "VAR_DIR": str(tmp_path),
        "SERVE_RUNTIME": "onnx-int8",
        "ALLOWED_HOSTS": "testserver",
    }
    run = subprocess.run(
        [sys.executable, "-c", SERVE_AND_ANSWER, trained_tiny_run.model_dir],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    answer = json.loads(run.stdout.strip().splitlines()[-1])
    assert answer["status"] == 200 and answer["runtime"] == "onnx-int8" and answer["label"] in {"positive", "negative"}
    assert answer["heavy"] == []
