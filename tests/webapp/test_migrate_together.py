"""Several web replicas start together, and each applies migrations as it starts (docker-compose.yml):
two ``manage.py migrate`` at once on an empty PostgreSQL database must both succeed, one after the other
(sentiment/management/commands/migrate.py), never one failing on a table the other has just created."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def empty_database(db):
    """A new, empty database on the test server, dropped afterwards: what a first ``docker compose up`` meets."""
    if connection.vendor != "postgresql":
        pytest.skip("migrations race on PostgreSQL (make test runs this there, after the SQLite pass)")
    params = connection.get_connection_params()
    server = {key: params[key] for key in ("host", "port", "user", "password") if params.get(key)}
    name = f"migrate_race_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    password = f":{server['password']}" if server.get("password") else ""
    yield f"postgres://{server['user']}{password}@{server.get('host', '127.0.0.1')}:{server.get('port', 5432)}/{name}"
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_two_migrates_at_once_on_an_empty_database_both_succeed(empty_database, tmp_path):
    env = {**os.environ, "DATABASE_URL": empty_database, "VAR_DIR": str(tmp_path), "DEBUG": "true"}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # manage.py's own settings, as the web container runs them
    command = [sys.executable, "manage.py", "migrate", "--noinput"]
    output = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
    replicas = [subprocess.Popen(command, cwd=ROOT, env=env, **output) for _ in range(2)]
    outputs = [replica.communicate(timeout=300)[0] for replica in replicas]
    assert [replica.returncode for replica in replicas] == [0, 0], outputs
    applied = [output.count("... OK") for output in outputs]
    assert min(applied) == 0 < max(applied), applied  # one applied them all; the other waited and found none
    with psycopg.connect(empty_database) as database:
        rows, distinct = database.execute(
            "SELECT count(*), count(DISTINCT (app, name)) FROM django_migrations"
        ).fetchone()
    assert rows == distinct > 0  # each migration recorded once
