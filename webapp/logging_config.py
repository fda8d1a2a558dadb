"""Logs: every line through structlog, as JSON objects or as lines for people (``LOG_FORMAT``).

The code logs with the standard library (``logging.getLogger(__name__)``) as before; structlog's
``ProcessorFormatter`` turns each record into one line, with what the context holds at that moment: the
request id, the signed-in person and the address of the request being answered, or the job's ids and the
request id that queued it (webapp/request_log.py, worker/observability.py), and the trace and span ids when
traces are on (webapp/tracing.py). Libraries that log through structlog (django-structlog: one line per
request, one per job started and ended) end in the same formatter.

Django calls ``logging_configure`` with ``settings.LOGGING`` in every process it sets up (``LOGGING_CONFIG``);
gunicorn's own lines take the same formatter (``gunicorn_logging``). Logs go to standard error: standard
output is the commands' own, and ``--json`` promises it carries the result alone.
"""

from __future__ import annotations

import logging.config
import sys
from typing import Any

import structlog
from django.core.exceptions import ImproperlyConfigured

OUTPUTS = ("plain", "json")


def _trace_ids(logger: Any, method: str, event: dict) -> dict:
    """The current span's trace and span ids, when traces are on (their SDK is loaded: webapp/tracing.py)
    and a span is open; nothing is imported or looked up when they are off."""
    trace = sys.modules.get("opentelemetry.trace") if "opentelemetry.sdk.trace" in sys.modules else None
    if trace is not None:
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            event["trace_id"] = format(context.trace_id, "032x")
            event["span_id"] = format(context.span_id, "016x")
    return event


# What every line gets, whether it was logged through the standard library or through structlog.
SHARED = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    _trace_ids,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def _plain(logger: Any, method: str, event: dict) -> str:
    """``<time> <LEVEL> <logger>: <message>``, then the rest as key=value in the order of the keys, then any
    traceback."""
    line = f"{event.pop('timestamp', '')} {event.pop('level', '').upper()} {event.pop('logger', '')}: "
    line += str(event.pop("event", ""))
    exception = event.pop("exception", None)
    if event:
        line += "  [" + " ".join(f"{key}={value}" for key, value in sorted(event.items())) + "]"
    return f"{line}\n{exception}" if exception else line


def _leading(logger: Any, method: str, event: dict) -> dict:
    """The time, level, logger and message first in each JSON object, then the rest as it came."""
    first = {key: event.pop(key) for key in ("timestamp", "level", "logger", "message") if key in event}
    return first | event


def line_formatter(*, output: str) -> structlog.stdlib.ProcessorFormatter:
    """One line per record: a JSON object (the message under ``message``), or ``_plain``'s line."""
    renderer = (
        [structlog.processors.EventRenamer("message"), _leading, structlog.processors.JSONRenderer()]
        if output == "json"
        else [_plain]
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=SHARED,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            *renderer,
        ],
    )


def logging_dict(*, output: str, level: str) -> dict:
    """``settings.LOGGING``: records of ``level`` and above to standard error, formatted by ``line_formatter``."""
    if output not in OUTPUTS:
        raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json (got {output!r})")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"lines": {"()": "webapp.logging_config.line_formatter", "output": output}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "lines"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "httpx": {"level": "WARNING"},
            "urllib3": {"level": "WARNING"},
            # axes.apps announces itself at every start, commands included; lockouts are logged by axes itself
            "axes.apps": {"level": "WARNING"},
            # a 4xx is in the request's own line already (webapp/request_log.py); errors keep their traceback
            "django.request": {"level": "ERROR"},
        },
    }


def logging_configure(config: dict) -> None:
    """Django's ``LOGGING_CONFIG``: the standard library's handlers, and structlog handing its events to them."""
    logging.config.dictConfig(config)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *SHARED,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def gunicorn_logging() -> dict:
    """gunicorn's ``logconfig_dict``: its own lines (start, workers booted or lost) in the site's format."""
    from django.conf import settings

    config = settings.LOGGING
    gunicorn = {"level": "INFO", "handlers": ["console"], "propagate": False}
    return {**config, "loggers": {**config["loggers"], "gunicorn.error": gunicorn}}
