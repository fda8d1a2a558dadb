"""The dependencies run one way: ml/ is plain Python (it must run without Django or Celery: a notebook, a
torchrun child), and the Django app never imports the Celery workers (worker/ imports sentiment/)."""

import ast
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ML = ROOT / "ml"
FORBIDDEN = {"django", "celery", "sentiment", "webapp", "worker"}
APP_PACKAGES = ("ml", "sentiment", "worker", "webapp")


def imported_packages(folder: Path):
    """(file, top-level package) for every import in every module below ``folder``, inside functions too."""
    for file in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.Import):
                yield from ((file, alias.name.split(".")[0]) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                yield file, node.module.split(".")[0]


def module_files(folder: Path) -> dict[str, Path]:
    """Every module below ``folder`` (migrations aside) by its dotted name; a package by its own name."""
    found = {}
    for file in folder.rglob("*.py"):
        if "migrations" in file.parts:
            continue
        parts = file.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = file
    return found


def import_graph(packages: tuple[str, ...] = APP_PACKAGES) -> dict[str, set[str]]:
    """Which of the modules of ``packages`` each one imports, inside functions too (a module imported by name,
    ``from package import module``, counts as that module)."""
    modules = {name: file for package in packages for name, file in module_files(ROOT / package).items()}
    graph = {name: set() for name in modules}
    for name, file in modules.items():
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [
                    f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                    for alias in node.names
                ]
            else:
                continue
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm, iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        found.append(sorted(group))
    return found


def test_no_module_imports_itself_back_through_others():
    assert circles(import_graph()) == []


def test_the_circle_finder_finds_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_rooms_stay_small_enough_to_find_things_in():
    """A few shared modules loose at a package's root; the rest in sub-packages by concern (README, Layout)."""
    django_own = {"__init__", "models", "admin", "apps", "urls"}
    loose = sorted(f.stem for f in (ROOT / "sentiment").glob("*.py") if f.stem not in django_own)
    assert len(loose) <= 8, loose
    assert len([f for f in ML.glob("*.py") if f.stem != "__init__"]) <= 12


def test_services_are_imported_from_where_they_are_defined():
    """No facade to keep in step: the packages of services and selectors re-export nothing."""
    for package in ("services", "selectors"):
        init = ast.parse((ROOT / "sentiment" / package / "__init__.py").read_text())
        assert not [node for node in init.body if isinstance(node, (ast.Import, ast.ImportFrom))]


def test_no_module_in_ml_imports_django_or_celery():
    for file, package in imported_packages(ML):
        assert package not in FORBIDDEN, f"{file.name} imports {package}"


def test_the_django_app_never_imports_the_workers():
    for file, package in imported_packages(ROOT / "sentiment"):
        assert package != "worker", f"{file.relative_to(ROOT)} imports worker: queue jobs through sentiment.jobs"


def test_importing_all_of_ml_loads_neither():
    modules = ", ".join(name for name in module_files(ML) if name != "ml")
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


LONGEST_FUNCTION = 60  # lines, decorators included


def long_functions(source: str, where: str) -> list[str]:
    """``where:line name (N lines)`` for each function in ``source`` (methods and nested ones too) longer
    than the limit, counted from its first decorator to its last line."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            start = min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
            lines = node.end_lineno - start + 1
            if lines > LONGEST_FUNCTION:
                found.append(f"{where}:{start} {node.name} ({lines} lines)")
    return found


def test_no_function_runs_over_sixty_lines():
    """A function is read in one sitting (benchmarks and tests aside): a longer one is split where its steps
    are, as ``ml/config.py`` checks its rules in small groups."""
    found = []
    for package in APP_PACKAGES:
        for file in module_files(ROOT / package).values():  # migrations aside
            found += long_functions(file.read_text(), file.relative_to(ROOT).as_posix())
    assert found == []


def test_the_length_finder_counts_decorators_and_finds_methods():
    def method(statements: int) -> str:
        body = "".join(f"        x = {n}\n" for n in range(statements))
        return f"class A:\n    @property\n    @staticmethod\n    def f(self):\n{body}"

    assert long_functions(method(57), "a.py") == []  # 2 decorators + def + 57 lines: 60
    assert long_functions(method(58), "a.py") == ["a.py:2 f (61 lines)"]


def test_no_benchmark_imports_another():
    """A benchmark (a module of bench/ run as a program) shares its helpers through helper modules
    (``bench/common.py``, ``served_site.py``, ``timing.py``), so a change to one benchmark changes no other."""
    runnable = {
        f"bench.{file.stem}" for file in (ROOT / "bench").glob("*.py") if '__name__ == "__main__"' in file.read_text()
    }
    graph = import_graph(("bench",))
    assert {name: sorted(graph[name] & runnable) for name in graph if graph[name] & runnable} == {}


TIER_CHECK = """
import sys, pytest
code = pytest.main(sys.argv[1:])
print(code, sorted({m.split(".")[0] for m in sys.modules} & {"django", "celery", "kombu", "redis", "sentiment",
                                                             "webapp", "worker"}))
"""


def test_the_ml_tests_run_without_django_redis_or_a_database(tmp_path):
    """tests/ml is the framework-free tier: collected, and its quick tests run, without pytest-django, with no
    Django settings and a broker nothing answers at; nothing of Django, Celery or Redis gets imported."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        nowhere = f"redis://127.0.0.1:{probe.getsockname()[1]}"
    env = {key: value for key, value in os.environ.items() if key not in {"DJANGO_SETTINGS_MODULE", "PYTEST_ADDOPTS"}}
    env.update(TEST_CELERY_BROKER_URL=f"{nowhere}/0", TEST_CACHE_URL=f"{nowhere}/1", CELERY_BROKER_URL=f"{nowhere}/0")
    # every module of tests/ml is collected (imported); the quick tests chosen run, with the root conftest's fixtures
    arguments = ["tests/ml", "-p", "no:django", "-p", "no:cacheprovider", "-q", f"--basetemp={tmp_path / 'pytest'}"]
    run = subprocess.run([sys.executable, "-c", TIER_CHECK, *arguments, "-k", "test_config or test_metrics"],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)  # fmt: skip
    assert run.stdout.strip().splitlines()[-1] == "0 []", run.stdout[-3000:] + run.stderr[-3000:]
    assert re.search(r"\b[1-9]\d* passed, [1-9]\d* deselected\b", run.stdout), run.stdout[-3000:]


def test_the_slow_tiers_are_left_out_of_the_fast_one():
    """Every test of the faults, integration and browser tiers carries `slow` (tests/conftest.py), so that
    `pytest -m "not slow"` (make test-fast) collects none of them: pytest finds them and leaves them all out."""
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-m", "not slow"]
    env = {key: value for key, value in os.environ.items() if key != "PYTEST_ADDOPTS"}
    run = subprocess.run([*command, "tests/faults", "tests/integration"], capture_output=True, text=True, cwd=ROOT,
                         env=env)  # fmt: skip
    assert run.returncode == 5 and re.search(r"no tests collected \([1-9]\d* deselected\)", run.stdout), (
        run.stdout[-3000:] + run.stderr[-3000:]
    )
