"""Traces (OpenTelemetry): where a request's time went, across the web process and the jobs it queued.

A **trace** is the story of one piece of work, say a CSV upload and the worker's classifying of that file;
it is made of **spans**, each one timed step with a name and a parent (the request, the sending of the job's
message, the job itself), and every span of it carries the trace's id. The web process and the workers each
send their spans to a collector (Jaeger, Tempo, an OpenTelemetry Collector...) that puts the trace together.

Off unless the standard OpenTelemetry variables ask for it (``settings.TRACES_EXPORTER``: an OTLP endpoint,
or ``OTEL_TRACES_EXPORTER``), and then nothing of OpenTelemetry is even imported. On, Django's requests
and Celery's jobs are instrumented, and each job's message carries the trace it was queued in (W3C
``traceparent`` in the message's headers), so that a job continues the trace of the request that queued it.
The web process starts it in webapp/wsgi.py, each worker process in worker/celery.py.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

# Probes and scrapes are not worth a trace each (OTEL_PYTHON_DJANGO_EXCLUDED_URLS, when set, says otherwise).
EXCLUDED_URLS = "/healthz$,/metrics/?$"
_publishing = {}  # the tracer the message-sending spans come from, while instrumented


def tracing_start(*, service: str) -> bool:
    """Traces for this process, when asked for; ``service`` names it to the collector ("web", "worker")
    unless OTEL_SERVICE_NAME does. The SDK reads the rest of the standard variables itself (endpoint,
    headers, sampler, batching). Returns whether traces are on."""
    if settings.TRACES_EXPORTER == "none":
        return False
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    if settings.TRACES_EXPORTER == "console":
        exporter = ConsoleSpanExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    name = os.environ.get("OTEL_SERVICE_NAME") or f"sentiment-{service}"
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    tracing_instrument(provider)
    return True


def tracing_instrument(provider: TracerProvider) -> None:
    """Instrument Django (a span per request) and Celery (a span per job run), with spans from ``provider``.

    The message-sending half is this module's own: the Celery instrumentation finds the task of a message in
    the sending process's registry, and a web process never imports the tasks (they would bring the training
    libraries in), so it would open a span it never closes. Ours needs only the message's headers."""
    from celery import signals
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor

    excluded = None if os.environ.get("OTEL_PYTHON_DJANGO_EXCLUDED_URLS") else EXCLUDED_URLS
    DjangoInstrumentor().instrument(tracer_provider=provider, excluded_urls=excluded)
    celery = CeleryInstrumentor()
    celery.instrument(tracer_provider=provider)
    signals.before_task_publish.disconnect(celery._trace_before_publish)
    signals.after_task_publish.disconnect(celery._trace_after_publish)
    _publishing["tracer"] = provider.get_tracer(__name__)
    signals.before_task_publish.connect(_message_traced, weak=False)


def tracing_uninstrument() -> None:
    """Undo ``tracing_instrument`` (the tests instrument with a provider of their own, then stop)."""
    from celery import signals
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor

    signals.before_task_publish.disconnect(_message_traced)
    _publishing.clear()
    CeleryInstrumentor().uninstrument()
    DjangoInstrumentor().uninstrument()


def _message_traced(sender=None, headers=None, routing_key=None, **kwargs) -> None:
    """A span for the sending of a job's message, whose context goes into the message's headers: the job's
    span in the worker is its child, in the same trace."""
    from opentelemetry.propagate import inject
    from opentelemetry.trace import SpanKind

    tracer = _publishing.get("tracer")
    if tracer is None or headers is None:
        return
    with tracer.start_as_current_span(f"apply_async/{sender}", kind=SpanKind.PRODUCER) as span:
        span.set_attribute("celery.action", "apply_async")
        span.set_attribute("celery.task_name", str(sender))
        span.set_attribute("messaging.message.id", str(headers.get("id", "")))
        span.set_attribute("messaging.destination", str(routing_key or ""))
        inject(headers)
