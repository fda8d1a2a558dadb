"""What the web side reads afresh at each scrape: the broker's queues, runs and analyses in the database,
free space on the runs volume, the served model, and the model monitor's gauges.

These are facts about the whole deployment, not about one process, so only ``/metrics`` of the web side
reports them (each web replica alike: the alert rules take the largest). Each source is read on its own:
one that does not answer (the broker restarting) leaves its families empty and
``sentiment_metrics_source_up{source=...}`` at 0, and the scrape still succeeds with the rest.

**The model monitor's hook.** The monitor (drift, estimated accuracy) registers a function with
``monitor_gauges_register``; at each scrape it returns a mapping of figures: ``drift_<signal>`` (that
signal's drift score: ``sentiment_drift_score{signal="<signal>"}``), ``estimated_accuracy``
(``sentiment_estimated_accuracy``), and any other name as ``sentiment_monitor_<name>``; ``drift_score``
(the largest of the signals', if given) is not repeated, ``max(sentiment_drift_score)`` is it.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import redis
from celery import current_app
from django.conf import settings
from django.utils import timezone
from kombu.transport.redis import PRIORITY_STEPS, Channel
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric

from sentiment.selectors.metrics import analysis_jobs_by_kind_status, training_runs_by_status, training_runs_running
from sentiment.selectors.serving import served_model, training_run_serving_runtime

logger = logging.getLogger(__name__)
BROKER_TIMEOUT = 1.0  # seconds: a scrape waits no longer for a broker that does not answer

MonitorGauges = Callable[[], Mapping[str, float]]
_monitor_sources: list[MonitorGauges] = []
_brokers: dict[str, redis.Redis] = {}
_brokers_lock = threading.Lock()


def monitor_gauges_register(source: MonitorGauges) -> None:
    """The model monitor's hook (see the module's docstring): ``source()`` is called at each scrape of the
    web side. Register once per process, e.g. from an AppConfig's ``ready``; the same function again is
    ignored."""
    if source not in _monitor_sources:
        _monitor_sources.append(source)


def monitor_gauges_unregister(source: MonitorGauges) -> None:
    if source in _monitor_sources:
        _monitor_sources.remove(source)


class ScrapeCollector:
    """A prometheus_client collector: ``collect`` yields the families read at this scrape."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "sentiment_metrics_source_up",
            "1 when a source of this scrape answered (broker, database, disk, monitor), 0 when it did not.",
            labels=["source"],
        )
        for source, read in (("broker", _queues), ("database", _database), ("disk", _disk), ("monitor", _monitor)):
            families, answered = _read(source, read)
            yield from families
            up.add_metric([source], 1.0 if answered else 0.0)
        yield up


def _read(source: str, read: Callable[[], list[Metric]]) -> tuple[list[Metric], bool]:
    try:
        return read(), True
    except Exception:  # a source that fails leaves its families out, never the whole scrape
        logger.warning("metrics: %s did not answer this scrape", source, exc_info=True)
        return [], False


def broker_queues() -> list[str]:
    """The queues the workers read, as the Celery app routes them (``worker.celery``)."""
    conf = current_app.conf
    routed = (route["queue"] for route in (conf.task_routes or {}).values() if "queue" in route)
    return sorted({conf.task_default_queue, *routed})


def _queues() -> list[Metric]:
    lengths = GaugeMetricFamily(
        "sentiment_queue_length",
        "Messages waiting in each Celery queue of the broker (tasks being run are not counted).",
        labels=["queue"],
    )
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise RuntimeError(f"queue lengths are read from a Redis broker only, not {url.split(':', 1)[0]}")
    queues = broker_queues()
    # kombu keeps a queue's messages in one list per priority step: the queue's name, then name + sep + step
    keys = {queue: [queue, *(f"{queue}{Channel.sep}{step}" for step in PRIORITY_STEPS if step)] for queue in queues}
    pipe = _broker(url).pipeline(transaction=False)
    for queue in queues:
        for key in keys[queue]:
            pipe.llen(key)
    found = iter(pipe.execute())
    for queue in queues:
        lengths.add_metric([queue], float(sum(next(found) for _ in keys[queue])))
    return [lengths]


def _broker(url: str) -> redis.Redis:
    with _brokers_lock:
        if url not in _brokers:
            _brokers[url] = redis.Redis.from_url(
                url, socket_timeout=BROKER_TIMEOUT, socket_connect_timeout=BROKER_TIMEOUT
            )
        return _brokers[url]


def _database() -> list[Metric]:
    runs = GaugeMetricFamily("sentiment_training_runs", "Training runs in each status.", labels=["status"])
    for status, n in training_runs_by_status().items():
        runs.add_metric([status], float(n))
    step = GaugeMetricFamily(
        "sentiment_training_run_step",
        "The step a running run last recorded; its rate is the run's steps per second "
        "(the recording rule sentiment:training_steps_per_second).",
        labels=["run"],
    )
    max_steps = GaugeMetricFamily("sentiment_training_run_max_steps", "The steps a running run takes.", labels=["run"])
    age = GaugeMetricFamily(
        "sentiment_training_run_heartbeat_age_seconds",
        "Seconds since a running run's worker last said it is alive.",
        labels=["run"],
    )
    now = timezone.now()
    for run in training_runs_running():
        label = [str(run.run_id)]
        step.add_metric(label, float(run.step))
        max_steps.add_metric(label, float(run.max_steps))
        if run.heartbeat_at is not None:
            age.add_metric(label, max((now - run.heartbeat_at).total_seconds(), 0.0))
    timeout = GaugeMetricFamily(
        "sentiment_training_heartbeat_timeout_seconds",
        "TRAINING_HEARTBEAT_TIMEOUT: a run silent this long has lost its worker and is handed back by the sweep.",
        value=float(settings.TRAINING_HEARTBEAT_TIMEOUT),
    )
    analyses = GaugeMetricFamily(
        "sentiment_analysis_jobs",
        "Analysis jobs (explanations, promotion evidence, behavioural checks) by kind and status, "
        "kept ANALYSIS_KEEP_HOURS after they end.",
        labels=["kind", "status"],
    )
    for (kind, status), n in analysis_jobs_by_kind_status().items():
        analyses.add_metric([kind, status], float(n))
    return [runs, step, max_steps, age, timeout, analyses, *_served()]


def _served() -> list[Metric]:
    info = InfoMetricFamily(
        "sentiment_served_model",
        "The model the database says is served: its run, base model, preset, and the runtime SERVE_RUNTIME "
        "picks for it (a web process answers with it once it has loaded it).",
        labels=[],
    )
    served = served_model()
    if served is not None:
        run = served.run
        info.add_metric(
            [],
            {
                "run": str(run.pk),
                "model": f"run-{run.pk}",
                "promotion": str(served.promotion_id),
                "base_model": _name(run.config.get("base_model", "")),
                "preset": run.preset,
                "runtime": training_run_serving_runtime(run=run),
            },
        )
    return [info]


def _name(base_model: str) -> str:
    """A base model as a label: its hub name, or a local folder's last part (never a whole path)."""
    return Path(base_model).name if base_model.startswith(("/", "~", ".")) else base_model


def _disk() -> list[Metric]:
    folder = Path(settings.RUNS_DIR)
    while not folder.exists() and folder != folder.parent:  # not made yet: the volume it will be on
        folder = folder.parent
    usage = shutil.disk_usage(folder)
    return [
        GaugeMetricFamily(
            "sentiment_runs_volume_free_bytes",
            "Bytes free on the volume of RUNS_DIR (checkpoints and models), for this process's user.",
            value=float(usage.free),
        ),
        GaugeMetricFamily(
            "sentiment_runs_volume_size_bytes", "Size in bytes of the volume of RUNS_DIR.", value=float(usage.total)
        ),
    ]


def _monitor() -> list[Metric]:
    drift = GaugeMetricFamily(
        "sentiment_drift_score",
        "The model monitor's drift score of each signal (population stability index: above 0.25, a shift "
        "that matters), live answers against the served run's own test answers.",
        labels=["signal"],
    )
    accuracy = GaugeMetricFamily(
        "sentiment_estimated_accuracy",
        "The served model's accuracy on live traffic as the model monitor estimates it from calibrated confidence.",
    )
    others: dict[str, GaugeMetricFamily] = {}
    started = time.perf_counter()
    for source in list(_monitor_sources):
        for name, value in source().items():
            if value is None:
                continue
            if name == "estimated_accuracy":
                accuracy.add_metric([], float(value))
            elif name == "drift_score":
                continue  # the largest signal's: max(sentiment_drift_score)
            elif name.startswith("drift_"):
                drift.add_metric([name.removeprefix("drift_")], float(value))
            else:
                family = others.setdefault(
                    name, GaugeMetricFamily(f"sentiment_monitor_{name}", f"The model monitor's {name}.")
                )
                family.add_metric([], float(value))
    if time.perf_counter() - started > 1.0:
        logger.warning("metrics: the model monitor took %.1f s to answer a scrape", time.perf_counter() - started)
    return [drift, accuracy, *others.values()]
