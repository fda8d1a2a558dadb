"""The dependencies run one way: ml/ is plain Python (it must run without Django or Celery: a notebook, a
torchrun child), and the Django app never imports the Celery workers (worker/ imports sentiment/)."""

import ast
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
    """torch, transformers, datasets and scikit-learn are what training and a PyTorch model need; the site
    itself (its URLs, views, services and selectors) must not pull them in, so that a web process serving
    a model through another runtime stays small."""
    heavy = {"torch", "transformers", "datasets", "sklearn"}
    code = (
        "import sys; from django.urls import resolve; from webapp.wsgi import application; resolve('/'); "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {heavy!r}))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.settings"}
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT, env=env)
    assert output.stdout.strip().splitlines()[-1] == "[]"
