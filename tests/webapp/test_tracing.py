"""Traces: off unless the OTEL_* variables ask for them, and then a request and the job it queued are one trace."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def spans():
    """Django and Celery instrumented in this process, their spans kept in memory; uninstrumented after."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from webapp.tracing import tracing_instrument, tracing_uninstrument

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing_instrument(provider)
    yield exporter
    tracing_uninstrument()


def test_a_csv_upload_and_the_job_it_queued_are_one_trace(spans, csv_job_worked):
    from opentelemetry.trace import SpanKind

    csv_job_worked()
    finished = spans.get_finished_spans()
    [request] = [s for s in finished if s.kind == SpanKind.SERVER and s.attributes.get("http.method") == "POST"]
    sent = [s for s in finished if s.name == "apply_async/worker.tasks.classify_csv"]
    ran = [s for s in finished if s.name == "run/worker.tasks.classify_csv"]
    assert sent and ran  # one message at least (a file of more than a slice is sent again after each)
    assert {s.context.trace_id for s in [request, *sent, *ran]} == {request.context.trace_id}
    assert sent[0].parent.span_id == request.context.span_id  # sent while the request was answered
    assert ran[0].parent.span_id == sent[0].context.span_id  # the job ran from that message
    assert ran[0].kind == SpanKind.CONSUMER and sent[0].kind == SpanKind.PRODUCER


def web_process(**env: str) -> str:
    """What a fresh web process (the WSGI application loaded, as gunicorn does) has of tracing: its SDK and
    instrumentations loaded, and a middleware. (redis-py imports OpenTelemetry's API and metrics whenever
    they are installed, for metrics of its own that nobody here turns on.)"""
    code = (
        "import sys; from webapp.wsgi import application; from django.conf import settings; "
        "print(any(m.startswith(('opentelemetry.sdk.trace', 'opentelemetry.instrumentation')) for m in sys.modules), "
        "any('opentelemetry' in m for m in settings.MIDDLEWARE))"
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    environment.update(DJANGO_SETTINGS_MODULE="webapp.settings", **env)
    shown = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr[-3000:]
    return shown.stdout.strip().splitlines()[-1]


def test_traces_are_off_by_default_and_nothing_of_them_is_loaded():
    assert web_process() == "False False"
    assert web_process(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:4318", OTEL_SDK_DISABLED="true") == "False False"


def test_an_otlp_endpoint_or_an_exporter_switches_them_on():
    assert web_process(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:4318") == "True True"
    assert web_process(OTEL_TRACES_EXPORTER="console") == "True True"
