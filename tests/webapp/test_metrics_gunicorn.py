"""/metrics under gunicorn with several workers (webapp/gunicorn.conf.py): whichever worker answers the scrape,
it reports every worker's requests, a worker that died included, and the folder they write to is emptied
when gunicorn starts and removed when it stops."""

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.scrapes import value
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
REQUESTS = "django_http_responses_total_by_status_view_method_total"


def get(port: int, path: str) -> tuple[int, str]:
    """A request on a connection of its own, so that either worker may take it."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path)
    response = connection.getresponse()
    return response.status, response.read().decode()


@pytest.fixture
def gunicorn(tmp_path):
    """gunicorn with the project's config, two workers, a database of its own; PROMETHEUS_MULTIPROC_DIR is
    given, with a file an earlier server left in it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_999999.db").write_bytes(b"left by an earlier server")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'site.sqlite3'}",
        "VAR_DIR": str(tmp_path),
        "WEB_BIND": f"127.0.0.1:{port}",
        "WEB_WORKERS": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
        "LOG_LEVEL": "WARNING",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    log = open(tmp_path / "gunicorn.log", "w")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "webapp/gunicorn.conf.py", "webapp.wsgi"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip

    def answers() -> bool:
        try:
            return get(port, "/healthz")[0] == 200
        except OSError:
            return False

    try:
        wait_for(answers, 60, f"gunicorn answers: {(tmp_path / 'gunicorn.log').read_text()[-2000:]}")
        yield port, folder, server
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
        log.close()


def worker_pids(master: int) -> list[int]:
    listed = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True, text=True).stdout
    return [int(pid) for pid in listed.split()]


def test_every_worker_counts_in_the_scrape_even_one_that_died(gunicorn):
    port, folder, server = gunicorn
    assert not (folder / "counter_999999.db").exists(), "an earlier server's figures would be counted again"
    for _ in range(30):
        assert get(port, "/accounts/login/")[0] == 200
    workers = worker_pids(server.pid)
    assert len(workers) == 2
    written = {int(f.stem.rsplit("_", 1)[1]) for f in folder.glob("histogram_*.db")}
    assert written == set(workers), "both workers answered some of the requests"
    for _ in range(3):  # every scrape sums both, whichever worker answers it
        status, text = get(port, "/metrics")
        assert status == 200 and value(text, REQUESTS, status="200", view="login", method="GET") == 30

    os.kill(workers[0], signal.SIGKILL)  # gunicorn starts another; the dead one's counts still count
    wait_for(lambda: len(set(worker_pids(server.pid)) - {workers[0]}) == 2, 30, "gunicorn replaces the worker")
    time.sleep(0.5)
    for _ in range(3):
        text = get(port, "/metrics")[1]
        assert value(text, REQUESTS, status="200", view="login", method="GET") == 30


def test_without_a_folder_given_gunicorn_makes_one_and_removes_it(tmp_path):
    code = (
        "import os, runpy; os.environ.pop('PROMETHEUS_MULTIPROC_DIR', None); "
        "config = runpy.run_path('webapp/gunicorn.conf.py'); folder = config['metrics_folder']; "
        "print(folder.is_dir(), os.environ['PROMETHEUS_MULTIPROC_DIR'] == str(folder)); "
        "config['on_exit'](None); print(folder.exists())"
    )
    env = {key: v for key, v in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    shown = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert shown.stdout.split() == ["True", "True", "False"]
