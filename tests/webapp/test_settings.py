"""Settings read the environment without depending on the working directory."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHOW = (
    "import django; django.setup(); from django.conf import settings as s; print(s.VAR_DIR, s.RUNS_DIR, s.MEDIA_ROOT)"
)


def settings_in(cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in {"VAR_DIR", "RUNS_DIR", "MEDIA_ROOT"}}
    environment.update(DJANGO_SETTINGS_MODULE="webapp.settings", PYTHONPATH=str(ROOT), **env)
    return subprocess.run([sys.executable, "-c", SHOW], cwd=cwd, env=environment, capture_output=True, text=True)


def test_relative_folders_are_taken_from_the_project_not_the_working_directory(tmp_path):
    shown = settings_in(tmp_path, VAR_DIR="state", RUNS_DIR="checkpoints", DATABASE_URL="postgres://u@h/db")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split() == [str(ROOT / "state"), str(ROOT / "state/checkpoints"), str(ROOT / "state/media")]
    assert not (ROOT / "state").exists() and not any(tmp_path.iterdir())  # nothing written at import


def test_settings_load_where_nothing_can_be_written_unless_sqlite_needs_the_folder(tmp_path):
    unwritable = tmp_path / "a-file"
    unwritable.write_text("")
    on_postgres = settings_in(tmp_path, VAR_DIR=str(unwritable / "var"), DATABASE_URL="postgres://u@h/db")
    assert on_postgres.returncode == 0, on_postgres.stderr
    on_sqlite = settings_in(tmp_path, VAR_DIR=str(tmp_path / "var"), DATABASE_URL="")
    assert on_sqlite.returncode == 0 and (tmp_path / "var").is_dir()
