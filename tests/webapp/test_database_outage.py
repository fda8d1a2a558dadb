"""The database drops a web process's connections (a restart, a failover): the next request is answered.

Caused for real on PostgreSQL, against a real server thread (the test client keeps one connection
through a test, so it cannot show this): the server processes behind the site's connections are ended.
"""

import json
import urllib.request

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db(transaction=True)


def healthz(live_server) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"{live_server.url}/healthz", timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_a_request_after_the_database_dropped_the_connections_is_answered(live_server):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (make test runs this module on it too)")
    assert healthz(live_server)[0] == 200  # the server's connection is open, and kept for reuse
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert cursor.fetchall(), "the site's connection was ended"
    status, body = healthz(live_server)
    assert status == 200, body
