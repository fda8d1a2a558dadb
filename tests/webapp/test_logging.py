"""Logs: lines for people by default, JSON lines when asked; the request's ids on every line, one line per
request, and the request id in the lines of the jobs it queued."""

import io
import json
import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from webapp.logging_config import line_formatter

ROOT = Path(__file__).resolve().parents[2]

LOG_SOME = """
import logging, django, structlog
django.setup()
log = logging.getLogger("sentiment.example")
log.info("%s reviews waiting", 3)
with structlog.contextvars.bound_contextvars(request_id="r-1", user_id=7):
    try:
        1 / 0
    except ZeroDivisionError:
        log.exception("could not divide")
from django.conf import settings
print(settings.LOG_FORMAT)
"""


def logged(settings_module: str = "webapp.settings", **env: str) -> subprocess.CompletedProcess:
    """A process that logs as the code does (``logging.getLogger(__name__)``), in and out of a request's context."""
    environment = {k: v for k, v in os.environ.items() if k not in {"LOG_FORMAT", "LOG_LEVEL"}}
    environment.update(DJANGO_SETTINGS_MODULE=settings_module, SECRET_KEY=secrets.token_urlsafe(64), **env)
    done = subprocess.run([sys.executable, "-c", LOG_SOME], cwd=ROOT, env=environment, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_lines_are_for_people_by_default_with_the_context_after_the_message():
    done = logged()
    first, second, *traceback = done.stderr.splitlines()
    assert first.endswith(" INFO sentiment.example: 3 reviews waiting")
    assert second.endswith(" ERROR sentiment.example: could not divide  [request_id=r-1 user_id=7]")
    assert traceback[0] == "Traceback (most recent call last):" and traceback[-1].startswith("ZeroDivisionError")
    assert done.stdout == "plain\n"  # standard output is the command's own


def test_json_lines_carry_the_same_as_fields():
    done = logged(LOG_FORMAT="json")
    first, second = (json.loads(line) for line in done.stderr.splitlines())
    assert list(first) == ["timestamp", "level", "logger", "message"]
    assert (first["level"], first["logger"], first["message"]) == ("info", "sentiment.example", "3 reviews waiting")
    assert first["timestamp"].endswith("Z")
    assert second["request_id"] == "r-1" and second["user_id"] == 7 and second["level"] == "error"
    assert second["exception"].startswith("Traceback") and "ZeroDivisionError" in second["exception"]


def test_the_production_settings_log_json_unless_told_otherwise():
    assert logged("webapp.settings_production").stdout == "json\n"
    assert logged("webapp.settings_production", LOG_FORMAT="plain").stdout == "plain\n"


def test_a_log_format_that_does_not_exist_is_refused_by_name():
    environment = {**os.environ, "LOG_FORMAT": "xml", "DJANGO_SETTINGS_MODULE": "webapp.settings"}
    done = subprocess.run([sys.executable, "-c", LOG_SOME], cwd=ROOT, env=environment, capture_output=True, text=True)
    assert done.returncode != 0 and "LOG_FORMAT must be plain or json (got 'xml')" in done.stderr


@pytest.fixture
def json_lines():
    """Every line the site, the jobs and the libraries they use log meanwhile, in any thread, as the JSON objects
    LOG_FORMAT=json writes. (Held by those loggers rather than the root: a starting worker sets Django up, and
    so Django's logging, again.)"""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(line_formatter(output="json"))
    loggers = [logging.getLogger(name) for name in ("django_structlog", "sentiment", "ml", "celery")]
    for logger in loggers:
        logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    for logger in loggers:
        logger.removeHandler(handler)


@pytest.mark.django_db
def test_each_request_is_one_line_with_its_view_status_and_duration(client, person, json_lines):
    client.force_login(person)
    client.get("/csv/?page=2")
    client.get("/no-such-page/")
    answered = [line for line in json_lines() if line["logger"].startswith("django_structlog")]
    assert [line["message"] for line in answered] == ["request_finished", "request_finished"]
    page, missing = answered
    assert page["method"] == "GET" and page["path"] == "/csv/"  # no query string: it may hold what people typed
    assert (page["view"], page["status"], page["level"], page["user_id"]) == (
        "sentiment:csv_upload",
        200,
        "info",
        person.pk,
    )
    assert page["duration_ms"] > 0 and page["ip"] == "127.0.0.1" and page["request_id"]
    assert (missing["view"], missing["status"], missing["level"]) == (None, 404, "warning")
    assert missing["request_id"] != page["request_id"]


def test_the_request_id_is_in_the_lines_of_the_job_the_request_queued(json_lines, csv_job_worked, person):
    job = csv_job_worked()
    lines = json_lines()
    [request] = [line for line in lines if line["message"] == "request_finished" and line["method"] == "POST"]
    request_id = request["request_id"]
    queued = next(line for line in lines if line["message"] == "task_enqueued")
    assert (queued["child_task_name"], queued["request_id"]) == ("worker.tasks.classify_csv", request_id)
    of_the_job = [line for line in lines if line.get("task_id")]
    assert {"task_started", "task_succeeded"} <= {line["message"] for line in of_the_job}
    assert {"sentiment.services.serving", "celery.app.trace"} <= {line["logger"] for line in of_the_job}
    for line in of_the_job:
        assert (line["request_id"], line["user_id"], line["csv_job_id"]) == (request_id, person.pk, job.pk), line
