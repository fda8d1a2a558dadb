"""ml/ is plain Python: it must run without Django or Celery (a notebook, a torchrun child)."""

import ast
import subprocess
import sys
from pathlib import Path

ML = Path(__file__).resolve().parent.parent / "ml"
FORBIDDEN = {"django", "celery", "sentiment", "webapp", "worker"}


def test_no_module_in_ml_imports_django_or_celery():
    for file in ML.rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{file.name} imports {name}"


def test_importing_all_of_ml_loads_neither():
    modules = ", ".join(f"ml.{f.stem}" for f in ML.glob("*.py") if f.stem != "__init__")
    code = f"import sys, {modules}; bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}]; print(bad)"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ML.parent)
    assert output.stdout.strip() == "[]"
