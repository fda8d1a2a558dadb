"""Settings read the environment without depending on the working directory."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_outside_the_stack_the_defaults_are_closed_and_development_is_said_explicitly(tmp_path):
    """No debug pages and no key anyone knows unless DEBUG=true says this is development on this machine."""
    show = "import django; django.setup(); from django.conf import settings as s; print(s.DEBUG, repr(s.SECRET_KEY))"
    base = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    base.update(DJANGO_SETTINGS_MODULE="webapp.settings", PYTHONPATH=str(ROOT), VAR_DIR=str(tmp_path))
    closed = subprocess.run([sys.executable, "-c", show], cwd=tmp_path, env=base, capture_output=True, text=True)
    assert closed.returncode != 0 and "The SECRET_KEY setting must not be empty" in closed.stderr
    development = subprocess.run([sys.executable, "-c", show], cwd=tmp_path, env={**base, "DEBUG": "true"},
                                 capture_output=True, text=True)  # fmt: skip
    assert development.returncode == 0 and development.stdout.startswith("True 'dev-only")
    served = subprocess.run([sys.executable, "-c", "import webapp.wsgi"], cwd=ROOT, env=base, capture_output=True,
                            text=True)  # fmt: skip
    assert served.returncode != 0 and "SECRET_KEY" in served.stderr  # the web server does not start


@pytest.mark.django_db
def test_password_reset_pages_exist_only_where_the_site_can_send_mail(client, settings):
    from importlib import reload

    from django.urls import clear_url_caches

    import webapp.urls

    assert client.get("/accounts/password_reset/").status_code == 404  # no EMAIL_HOST: no page that promises mail
    assert client.get("/accounts/login/").status_code == 200
    settings.EMAIL_HOST = "smtp.example.org"
    try:
        reload(webapp.urls)
        clear_url_caches()
        assert client.get("/accounts/password_reset/").status_code == 200
    finally:
        settings.EMAIL_HOST = ""
        reload(webapp.urls)
        clear_url_caches()
