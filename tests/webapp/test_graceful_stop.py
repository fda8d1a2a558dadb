"""A web replica told to stop (SIGTERM, as ``docker restart`` and a rolling update send it) answers every
connection it was already sent (webapp/draining_worker.py), caused for real: gunicorn with the project's
config and one worker, that worker held by a request whose headers are not finished yet, more connections
waiting behind it in the kernel's backlog, then SIGTERM. gunicorn's own sync worker, given the same, lets
the kernel reset the waiting connections: the second case shows the fault the first one is about."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.brokers import free_port
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
WAITING = 4
REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"  # the blank line ends it


def reply(connection: socket.socket) -> str:
    """The status line the server sent on a connection, or what the connection did instead."""
    connection.settimeout(30)
    received = b""
    try:
        while chunk := connection.recv(65536):
            received += chunk
    except ConnectionResetError:
        return "reset" if not received else received.split(b"\r\n", 1)[0].decode()
    return received.split(b"\r\n", 1)[0].decode() if received else "closed without an answer"


def stopped_with_connections_waiting(tmp_path: Path, *worker_class: str) -> list[str]:
    """What each waiting connection got once gunicorn was told to stop while they waited."""
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'site.sqlite3'}",
        "VAR_DIR": str(tmp_path),
        "WEB_BIND": f"127.0.0.1:{port}",
        "WEB_WORKERS": "1",
        "LOG_FORMAT": "plain",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "webapp/gunicorn.conf.py", *worker_class, "webapp.wsgi"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_for(lambda: "Booting worker" in log_path.read_text(), 60, "gunicorn's worker booted")
            holding = socket.create_connection(("127.0.0.1", port), timeout=30)
            holding.sendall(REQUEST)  # the worker takes it and waits for the rest of its headers
            time.sleep(1)
            waiting = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(WAITING)]
            for connection in waiting:
                connection.sendall(REQUEST + b"\r\n")  # whole requests, in the backlog: the one worker is busy
            server.send_signal(signal.SIGTERM)
            wait_for(lambda: "Handling signal: term" in log_path.read_text(), 30, "gunicorn took the SIGTERM")
            time.sleep(1)  # the worker has been told too
            holding.sendall(b"\r\n")
            assert reply(holding).endswith("200 OK"), log_path.read_text()[-3000:]
            answers = [reply(connection) for connection in waiting]
            assert server.wait(30) == 0, log_path.read_text()[-3000:]
            with pytest.raises(ConnectionRefusedError):  # stopped: a new connection is refused, never queued
                socket.create_connection(("127.0.0.1", port), timeout=5)
            return answers
        finally:
            if server.poll() is None:
                server.kill()
                server.wait(30)


def test_a_stopping_replica_answers_every_connection_that_was_waiting(tmp_path):
    answers = stopped_with_connections_waiting(tmp_path)
    assert answers == ["HTTP/1.1 200 OK"] * WAITING
    assert "answering 4 connection(s) that were waiting when the stop came" in (tmp_path / "gunicorn.log").read_text()


def test_gunicorns_own_sync_worker_resets_them(tmp_path):
    answers = stopped_with_connections_waiting(tmp_path, "--worker-class", "sync")
    assert answers == ["reset"] * WAITING
