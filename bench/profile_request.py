"""Where the time of one ``POST /api/classify`` goes, outside the model as well as in it.

In ``bench/serve_latency`` an HTTP answer takes about 12 ms longer than the model's answer to the same
review in-process. This finds where those milliseconds go: it promotes the given model in a throw-away
SQLite database, makes an API key, loads the model as a gunicorn worker does (``serving_warm_up``, the
cores shared as with ``WEB_CORES=0``), and sends the same request through Django's WSGI handler (what
gunicorn calls; gunicorn's own HTTP parsing and the loopback network are not in these figures: compare
the total with serve_latency's HTTP p50 for them). Two passes over the same request:

1. **explicit timers**: the functions on the request's path are wrapped with timers (nothing else is
   changed), and each component's median over the requests is reported: Django's request set-up and the
   database signals, each middleware's own time, URL dispatch, the rate limits (Redis), the API key check
   and its last-used write, reading the JSON body, the served-version query, the predictor (tokenization,
   the model run, the rest: padding, probabilities), the Prediction insert and the JSON answer. Every SQL
   query is counted and timed too. Components that are derived (a whole minus its timed parts) say so.
2. **cProfile** over the same number of requests, without the timers: the functions with the most
   cumulative time per request, and those with the most time of their own.

The runtime is chosen with ``--runtime`` (default ``onnx-int8``). Django runs with ``DEBUG=false`` unless
``--debug`` (in DEBUG every SQL query is also kept and timed by Django itself). The medians of the
components do not add up exactly to the median total.

    python -m bench.profile_request --model var/runs/run-1-* --runtime onnx-int8 --out profile.json
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import io
import json
import os
import pstats
import statistics
import sys
import sysconfig
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench import common
from bench.common import imdb_reviews, median_review
from bench.served_site import promoted_run, unlimited_rates
from ml.serving.choice import ONNX_INT8, RUNTIMES

# Components in the order a request meets them; "=" marks one derived from others.
ORDER = (
    "total",
    "django_request_setup=",
    "db_connection_signals",
    "middleware",
    "url_dispatch=",
    "rate_limiting_redis",
    "api_key_check",
    "api_key_last_used_write",
    "request_body_parse",
    "served_version_query",
    "serving_slot_other=",
    "predictor",
    "tokenization",
    "model_run",
    "predictor_other=",
    "prediction_insert",
    "json_encode",
    "view_other=",
    "sql_queries",
    "outside_model=",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a trained run's output folder, or its model/ folder")
    parser.add_argument("--runtime", default=ONNX_INT8, choices=RUNTIMES, help="the runtime that serves")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per pass")
    parser.add_argument("--warmup", type=int, default=10, help="untimed requests first")
    parser.add_argument("--cores", type=int, default=0, help="as WEB_CORES: 0 shares the cores (alone: all)")
    parser.add_argument("--text", help="the review to send (default: the median-length test review)")
    parser.add_argument("--top", type=int, default=25, help="cProfile entries to list")
    parser.add_argument("--debug", action="store_true", help="Django with DEBUG=true (as in development)")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        if not args.cores:
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as webapp/gunicorn.conf.py, before torch loads
        unlimited_rates()
        common.throwaway_site(tmp, debug=args.debug, SERVE_RUNTIME=args.runtime)
        from ml.serving.labeller import resolve_model_dir

        model_dir = resolve_model_dir(args.model)
        text = args.text or median_review(imdb_reviews()["text"])
        _, key = promoted_run(model_dir)
        predictor = worker_start(args.cores)
        result = {
            "benchmark": "profile_request",
            "model": str(model_dir),
            "runtime": args.runtime,
            "settings": {"debug": args.debug, "web_cores": args.cores},
            "review": {"characters": len(text)},
            "requests": args.requests,
        }
        request = Request(key, text)
        first = request.send(handler())
        result["answer"] = first
        if first["runtime"] != args.runtime:
            raise RuntimeError(f"answered by {first['runtime']}, not {args.runtime}")
        for _ in range(args.warmup):
            request.send(handler())
        result.update(timed_pass(request, predictor, args.requests))
        result["cprofile"] = profiled_pass(request, args.requests, args.top)
        result["machine"] = common.machine()  # last: it imports torch, which an ONNX worker never does
    common.emit(result, args.out)


def worker_start(cores: int):
    """This process as a gunicorn worker after ``post_worker_init``: its cores, the model loaded."""
    from ml.core_share import CoreShare
    from sentiment.services.serving import fix_cores, serving_slot, serving_warm_up, share_cores

    if cores or not share_cores(CoreShare()):
        fix_cores(cores or None)
    serving_warm_up()
    return serving_slot.get().predictor


def handler():
    """A fresh WSGI handler: it builds its middleware chain from the (possibly wrapped) classes."""
    from django.core.handlers.wsgi import WSGIHandler

    return WSGIHandler()


class Request:
    """The same API request each time, sent to a WSGI handler as gunicorn would (no network)."""

    def __init__(self, key: str, text: str):
        self.key, self.body = key, json.dumps({"text": text}).encode()

    def environ(self) -> dict:
        return {
            "REQUEST_METHOD": "POST",
            "SCRIPT_NAME": "",
            "PATH_INFO": "/api/classify",
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1:8000",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(self.body)),
            "HTTP_AUTHORIZATION": f"Bearer {self.key}",
            "wsgi.input": io.BytesIO(self.body),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0),
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }

    def send(self, app) -> dict:
        """One request, the answer read and closed (closing sends ``request_finished``, as gunicorn does)."""
        statuses = []
        response = app(self.environ(), lambda status, headers: statuses.append(status))
        try:
            body = b"".join(response)
        finally:
            response.close()
        if not statuses[0].startswith("200"):
            raise RuntimeError(f"/api/classify answered {statuses[0]}: {body[:200]!r}")
        return json.loads(body)


# --- pass 1: explicit timers ---------------------------------------------------------------------


class Timers:
    """Seconds per component in the request being sent (``now``), kept per request in ``requests``."""

    def __init__(self):
        self.now: dict[str, float] = defaultdict(float)
        self.requests: list[dict[str, float]] = []
        self.queries: dict[str, list[float]] = defaultdict(list)  # SQL statement -> seconds, every run

    def wrap(self, name: str, function):
        # a view's attributes (csrf_exempt) come along; a class's (JsonResponse) must not
        @functools.wraps(function, updated=() if isinstance(function, type) else ("__dict__",))
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.now[name] += time.perf_counter() - started

        return timed

    def sql(self, execute, sql, params, many, context):
        """A database execute wrapper: every query's time, by statement."""
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            seconds = time.perf_counter() - started
            self.now["sql_queries"] += seconds
            self.now["sql_query_count"] += 1
            self.queries[" ".join(sql.split())[:120]].append(seconds)

    def end_request(self) -> None:
        self.requests.append(dict(self.now))
        self.now.clear()


class Patches:
    """Attributes replaced for the timed pass, and put back afterwards."""

    def __init__(self):
        self._undo: list = []

    def set(self, owner, name: str, value) -> None:
        own = name in vars(owner)  # a class or instance that only inherits it gets its own, removed afterwards
        self._undo.append((owner, name, getattr(owner, name), own))
        setattr(owner, name, value)

    def wrap(self, timers: Timers, label: str, owner, name: str) -> None:
        self.set(owner, name, timers.wrap(label, getattr(owner, name)))

    def undo(self) -> None:
        for owner, name, value, own in reversed(self._undo):
            if own:
                setattr(owner, name, value)
            else:
                delattr(owner, name)
        self._undo.clear()


class _Proxy:
    """Stands for ``inner`` with some of its methods replaced (objects whose attributes cannot be set)."""

    def __init__(self, inner, **methods):
        self._inner, self._methods = inner, methods

    def __getattr__(self, name):
        return self._methods[name] if name in self._methods else getattr(self._inner, name)

    def __call__(self, *args, **kwargs):
        return self._methods.get("__call__", self._inner)(*args, **kwargs)


def instrument(timers: Timers, patches: Patches, predictor) -> None:
    """Wrap the functions on the request's path with ``timers`` (what each wrapper times: ``ORDER``)."""
    import redis.commands.core
    from django.conf import settings
    from django.core import signals
    from django.core.handlers.base import BaseHandler
    from django.utils.module_loading import import_string

    import ml.serving.inference
    import ml.serving.onnx_inference
    from sentiment import api
    from sentiment import urls as sentiment_urls
    from sentiment.api_v1 import auth as key_auth
    from sentiment.models import Prediction
    from sentiment.selectors import api_tokens as key_reads
    from sentiment.services import serving as serving_services
    from sentiment.services.serving import serving_slot

    # Django: the request_started/finished signals (database connections: close_old_connections), each
    # middleware inclusive of what it wraps (its own time is derived below), the dispatch to the view
    for signal in (signals.request_started, signals.request_finished):
        patches.wrap(timers, "db_connection_signals", signal, "send")
    for path in settings.MIDDLEWARE:
        patches.wrap(timers, f"middleware:{path}", import_string(path), "__call__")
    patches.wrap(timers, "dispatch", BaseHandler, "_get_response")
    [pattern] = [p for p in sentiment_urls.urlpatterns if p.name == "api_classify"]
    patches.wrap(timers, "view_with_rate_limits", pattern, "callback")
    # the API view's steps
    # every limit of the request is counted by one Lua script in Redis: its round trip
    patches.wrap(timers, "rate_limiting_redis", redis.commands.core.Script, "__call__")
    patches.wrap(timers, "api_key_check", key_reads, "api_token_check")  # once per request, whoever asks
    patches.wrap(timers, "api_key_last_used_write", key_auth, "api_token_used")
    patches.wrap(timers, "request_body_parse", api, "_review_body")
    # each where the request's code finds it: the name imported into the serving service, the manager's method
    patches.wrap(timers, "served_version_query", serving_services, "served_version")
    patches.wrap(timers, "serving_slot_get", serving_slot, "get")
    patches.wrap(timers, "prediction_insert", Prediction.objects, "bulk_create")
    patches.wrap(timers, "json_encode", api, "JsonResponse")
    # the predictor: the whole, its tokenization and the model run
    patches.wrap(timers, "predictor", predictor, "positive_probabilities")
    if isinstance(predictor, ml.serving.onnx_inference.OnnxPredictor):
        tokenizer = predictor.tokenizer
        patches.set(
            predictor,
            "tokenizer",
            _Proxy(tokenizer, encode_batch=timers.wrap("tokenization", tokenizer.encode_batch)),
        )
        patches.wrap(timers, "tokenization", ml.serving.onnx_inference, "truncate")  # head+tail truncation
        session = predictor.session

        def timed_session(threads):
            inner = session(threads)
            return _Proxy(inner, run=timers.wrap("model_run", inner.run))

        patches.set(predictor, "session", timed_session)
    else:  # PyTorch: tokenization, then padding each batch (counted as tokenization), then the model
        patches.wrap(timers, "tokenization", ml.serving.inference, "encode")
        tokenizer = predictor.tokenizer
        patches.set(predictor, "tokenizer", _Proxy(tokenizer, pad=timers.wrap("tokenization", tokenizer.pad)))
        model = predictor.model
        patches.set(predictor, "model", _Proxy(model, __call__=timers.wrap("model_run", model)))


def derive(timers: dict[str, float]) -> dict[str, float]:
    """The components one request's timers make (each one a whole minus its timed parts where derived)."""
    from django.conf import settings

    t = defaultdict(float, timers)
    inclusive = [t[f"middleware:{path}"] for path in settings.MIDDLEWARE] + [t["dispatch"]]
    out = {
        "total": t["total"],
        "django_request_setup=": t["total"] - inclusive[0] - t["db_connection_signals"],
        "db_connection_signals": t["db_connection_signals"],
        "middleware": inclusive[0] - inclusive[-1],
        "url_dispatch=": t["dispatch"] - t["view_with_rate_limits"],
    }
    for i, path in enumerate(settings.MIDDLEWARE):
        out[f"middleware:{path.rsplit('.', 1)[1]}"] = inclusive[i] - inclusive[i + 1]
    view_parts = (
        "rate_limiting_redis",
        "api_key_check",
        "api_key_last_used_write",
        "request_body_parse",
        "serving_slot_get",
        "predictor",
        "prediction_insert",
        "json_encode",
    )
    out.update({name: t[name] for name in view_parts if name != "serving_slot_get"})
    out["served_version_query"] = t["served_version_query"]
    out["serving_slot_other="] = t["serving_slot_get"] - t["served_version_query"]
    out["tokenization"] = t["tokenization"]
    out["model_run"] = t["model_run"]
    out["predictor_other="] = t["predictor"] - t["tokenization"] - t["model_run"]
    out["view_other="] = t["view_with_rate_limits"] - sum(t[name] for name in view_parts)
    out["sql_queries"] = t["sql_queries"]
    out["outside_model="] = t["total"] - t["model_run"]
    return out


def timed_pass(request: Request, predictor, requests: int) -> dict:
    """The request ``requests`` times with every component timed; medians and means per component."""
    from django.db import connection

    timers, patches = Timers(), Patches()
    instrument(timers, patches, predictor)
    try:
        app = handler()  # built after the wrapping, so that its chain holds the wrapped methods
        with connection.execute_wrapper(timers.sql):
            for _ in range(requests):
                started = time.perf_counter()
                request.send(app)
                timers.now["total"] += time.perf_counter() - started
                timers.end_request()
    finally:
        patches.undo()
    per_request = [derive(r) for r in timers.requests]
    names = sorted({n for r in per_request for n in r}, key=lambda n: (ORDER.index(n) if n in ORDER else 3.5, n))
    components = {
        name: {
            "median_ms": round(1000 * statistics.median(r.get(name, 0.0) for r in per_request), 3),
            "mean_ms": round(1000 * statistics.fmean(r.get(name, 0.0) for r in per_request), 3),
        }
        for name in names
    }
    totals = [1000 * r["total"] for r in per_request]
    components["total"]["p95_ms"] = round(common.percentile(totals, 95), 3)
    queries = sorted(timers.queries.items(), key=lambda item: -sum(item[1]))
    return {
        "components_ms": components,
        "sql": {
            "queries_per_request": statistics.median(r.get("sql_query_count", 0) for r in timers.requests),
            "statements": [
                {
                    "sql": sql,
                    "per_request": round(len(seconds) / requests, 2),
                    "median_ms": round(1000 * statistics.median(seconds), 3),
                }
                for sql, seconds in queries
            ],
        },
        "note": "'=' marks a component derived as a whole minus its timed parts; 'middleware:X' is X's own time",
    }


# --- pass 2: cProfile ----------------------------------------------------------------------------


def profiled_pass(request: Request, requests: int, top: int) -> dict:
    """The request ``requests`` times under cProfile (on only while a request is handled)."""
    app = handler()
    profiler = cProfile.Profile()
    started = time.perf_counter()
    for _ in range(requests):
        profiler.enable()
        request.send(app)
        profiler.disable()
    wall = time.perf_counter() - started
    stats = pstats.Stats(profiler).stats

    def entries(index: int) -> list[dict]:
        ranked = sorted(
            ((function, numbers) for function, numbers in stats.items() if not ours(function)),
            key=lambda item: -item[1][index],
        )[:top]
        return [
            {
                "function": where(function),
                "calls_per_request": round(calls / requests, 2),
                "cumulative_ms_per_request": round(1000 * cumulative / requests, 3),
                "own_ms_per_request": round(1000 * own / requests, 3),
            }
            for function, (_, calls, own, cumulative, _) in ranked
        ]

    return {
        "requests": requests,
        "ms_per_request_profiled": round(1000 * wall / requests, 2),  # cProfile slows Python code down
        "top_cumulative": entries(3),
        "top_own": entries(2),
    }


def ours(function: tuple[str, int, str]) -> bool:
    """This script's own frames (sending the request, reading the answer) and the profiler's switch."""
    file, _, name = function
    return file == __file__ or file == str(Path(__file__).resolve()) or "_lsprof.Profiler" in name


PREFIXES = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["stdlib"], str(common.ROOT)}, key=len)


def where(function: tuple[str, int, str]) -> str:
    """``file:line(name)``, the file relative to site-packages, the standard library or the project."""
    file, line, name = function
    for prefix in reversed(PREFIXES):  # the longest first
        if file.startswith(prefix + os.sep):
            file = str(Path(file).relative_to(prefix))
            break
    return f"{file}:{line}({name})" if line else name


if __name__ == "__main__":
    main()
