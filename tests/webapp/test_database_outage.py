"""The database drops a web process's connection (a restart, a failover): the next request is answered.

Caused for real on PostgreSQL: another session ends the server process behind the site's connection.
Requests go through Django's own WSGI handler, as under gunicorn (the test client keeps one connection
through a test, so it cannot show this).
"""

import json

import psycopg
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from django.test import RequestFactory

from webapp.health import health_forget

pytestmark = pytest.mark.django_db(transaction=True)


def healthz() -> tuple[int, dict]:
    health_forget()  # each probe checks the database afresh (a process keeps its answer two seconds)
    status = []
    response = WSGIHandler()(RequestFactory().get("/healthz").environ, lambda line, headers: status.append(line))
    body = b"".join(response)
    response.close()  # the end of the request, when Django decides whether to keep the connection
    return int(status[0].split()[0]), json.loads(body)


def test_a_request_after_the_database_dropped_the_connection_is_answered():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (make test runs this module on it too)")
    assert healthz()[0] == 200
    backend = connection.connection.info.backend_pid
    assert healthz()[0] == 200 and connection.connection.info.backend_pid == backend  # kept for reuse
    db = connection.settings_dict
    address = {"host": db["HOST"] or None, "port": db["PORT"] or None, "user": db["USER"] or None}
    with psycopg.connect(dbname=db["NAME"], password=db["PASSWORD"] or None, **address) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [backend])
    status, body = healthz()
    assert status == 200, body
    assert connection.connection.info.backend_pid != backend
