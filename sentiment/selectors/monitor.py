"""Reads: the model monitor. How the site and the served model are doing over the last hour, day or week,
set against what the served run measured on its own test reviews (``ml.evaluation.drift`` explains the
figures). Gather, then compute: the window's answers are read once, then ``ml`` computes.

What a live answer holds: its label and confidence, its runtime, the model's time per review and the
review's length in words (``Prediction``); requests the model could not answer are ``ServingFailure``
rows. The served run's reference is its test answers (``test_predictions.parquet``) and its metrics
(accuracy, the reliability diagram, its ECE).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from django.core.cache import cache
from django.db.models import Count, Sum
from django.db.models.functions import TruncHour, TruncMinute
from django.utils import timezone

from ml.evaluation.drift import DriftReport, confidence, drift_report, estimated_accuracy, words
from ml.evaluation.scored_reviews import scored_reviews_columns
from ml.results import TestScores
from sentiment.models import Feedback, Prediction, ServingFailure
from sentiment.selectors.serving import ServedModel, served_model

logger = logging.getLogger(__name__)

WINDOWS = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(days=7)}
ALARM_WINDOW = "day"  # the window the staff pages' alarm and the Prometheus gauges read
MAX_ANSWERS = 20_000  # the newest answers of a window that the distributions read (counts read them all)
CACHE_SECONDS = 60  # one computation a minute per window, however many pages and scrapes ask
CONFIDENCE_EDGES = np.linspace(0.5, 1.0, 11)  # the chart's bins, the reliability diagram's


@dataclass(frozen=True)
class RuntimeLatency:
    runtime: str
    answers: int
    p50_ms: float
    p95_ms: float


@dataclass(frozen=True)
class Monitor:
    """Every figure of the monitor page and ``GET /api/v1/monitor`` for one window."""

    window: str
    since: datetime
    computed_at: datetime
    served_run: int | None
    answers: int  # all answers in the window, by any model
    served_answers: int  # answers by the served run's model, the ones compared with its test answers
    failures: int  # reviews in requests the model could not answer
    traffic: list[dict]  # {"at", "answers", "failures"} per minute (hour window) or per hour
    latency: list[RuntimeLatency]
    positive_share: float | None
    test_positive_share: float | None
    confidence_shares: list[float]  # live, per CONFIDENCE_EDGES bin
    test_confidence_shares: list[float]
    estimated_accuracy: float | None
    test_accuracy: float | None
    test_ece: float | None
    corrected: int  # accepted feedback on the window's answers by the served model
    drift: DriftReport | None
    notes: list[str] = field(default_factory=list)

    @property
    def failure_rate(self) -> float | None:
        asked = self.answers + self.failures
        return self.failures / asked if asked else None

    @property
    def corrected_share(self) -> float | None:
        return self.corrected / self.served_answers if self.served_answers else None


def model_monitor(*, window: str = ALARM_WINDOW, now: datetime | None = None) -> Monitor:
    """The monitor for ``window`` (``WINDOWS``), computed at most once a minute (the cache, when it answers)."""
    served = served_model()
    key = f"monitor:{window}:{served.promotion_id if served else 0}"
    if now is None:
        cached = _cache_get(key)
        if cached is not None:
            return cached
    monitor = _compute(window=window, served=served, now=now or timezone.now())
    if now is None:
        _cache_set(key, monitor)
    return monitor


def monitor_alarm() -> Monitor | None:
    """The alarm window's monitor when its drift crosses the threshold, else None (staff pages' banner)."""
    try:
        monitor = model_monitor(window=ALARM_WINDOW)
    except Exception:  # the banner must never take a page down with it
        logger.warning("the model monitor could not be computed", exc_info=True)
        return None
    return monitor if monitor.drift is not None and monitor.drift.alarm else None


def monitor_gauges() -> dict[str, float]:
    """The alarm window's figures as numbers, for Prometheus: each drift signal's PSI (``drift_<signal>``),
    the largest (``drift_score``), the estimated accuracy and the share of failed reviews, where known."""
    monitor = model_monitor(window=ALARM_WINDOW)
    gauges = {}
    if monitor.drift is not None and monitor.drift.judged:
        gauges = {f"drift_{signal.name}": signal.psi for signal in monitor.drift.signals}
        gauges["drift_score"] = monitor.drift.score
    if monitor.estimated_accuracy is not None:
        gauges["estimated_accuracy"] = monitor.estimated_accuracy
    if monitor.failure_rate is not None:
        gauges["failure_rate"] = monitor.failure_rate
    return gauges


def _compute(*, window: str, served: ServedModel | None, now: datetime) -> Monitor:
    since = now - WINDOWS[window]
    answers = Prediction.objects.filter(created_at__gte=since, created_at__lte=now)
    failures = ServingFailure.objects.filter(created_at__gte=since, created_at__lte=now)
    rows = list(
        answers.order_by("-created_at").values_list("run_id", "label", "probability", "runtime", "words", "model_ms")[
            :MAX_ANSWERS
        ]
    )
    mine = [row for row in rows if served and row[0] == served.run.pk]
    reference = _reference(served)
    live_confidence = np.array([row[2] for row in mine], dtype=float)
    live = {"confidence": live_confidence, "words": np.array([row[4] for row in mine if row[4] is not None], float)}
    test = served.run.results.test if served else TestScores.from_json({})
    return Monitor(
        window=window,
        since=since,
        computed_at=now,
        served_run=served.run.pk if served else None,
        answers=answers.count(),
        served_answers=answers.filter(run=served.run).count() if served else 0,
        failures=failures.aggregate(n=Sum("reviews"))["n"] or 0,
        traffic=_traffic(answers, failures, since=since, now=now, minutes=window == "hour"),
        latency=_latency(rows),
        positive_share=_share([row[1] == "positive" for row in mine]),
        test_positive_share=_share(reference["positive"]) if reference else None,
        confidence_shares=_histogram(live_confidence),
        test_confidence_shares=_histogram(reference["confidence"]) if reference else [],
        estimated_accuracy=estimated_accuracy(live_confidence, test.calibration.bins),
        test_accuracy=test.accuracy,
        test_ece=test.calibration.ece,
        corrected=Feedback.objects.filter(
            prediction__in=answers.filter(run=served.run) if served else answers.none(),
            status=Feedback.Status.ACCEPTED,
        ).count(),
        drift=drift_report(reference={k: reference[k] for k in ("confidence", "words")}, live=live)
        if reference
        else None,
        notes=[] if reference or not served else ["The served run kept no test answers: nothing to compare with."],
    )


def _reference(served: ServedModel | None) -> dict | None:
    """The served run's test answers as the monitor compares them (None without the file)."""
    if served is None or not served.run.output_dir:
        return None
    columns = scored_reviews_columns(served.run.output_dir)
    if columns is None:
        return None
    _labels, positive_probs, texts = columns
    return {"confidence": confidence(positive_probs), "words": words(texts), "positive": positive_probs >= 0.5}


def _traffic(answers, failures, *, since: datetime, now: datetime, minutes: bool) -> list[dict]:
    """Answers and failed reviews per minute (the hour window) or per hour, every bucket of the window
    listed, empty ones as 0."""
    trunc, step = (TruncMinute, timedelta(minutes=1)) if minutes else (TruncHour, timedelta(hours=1))
    counted = _per_bucket(answers.annotate(at=trunc("created_at")).values("at").annotate(n=Count("id")))
    failed = _per_bucket(failures.annotate(at=trunc("created_at")).values("at").annotate(n=Sum("reviews")))
    at = since.astimezone(UTC).replace(second=0, microsecond=0, **({} if minutes else {"minute": 0}))
    buckets = []
    while at <= now:
        buckets.append({"at": at.isoformat(), "answers": counted.get(at, 0), "failures": failed.get(at, 0)})
        at += step
    return buckets


def _per_bucket(rows) -> dict[datetime, int]:
    return {row["at"].astimezone(UTC): row["n"] for row in rows}


def _latency(rows) -> list[RuntimeLatency]:
    by_runtime: dict[str, list[float]] = {}
    for _run, _label, _probability, runtime, _words, model_ms in rows:
        if model_ms is not None:
            by_runtime.setdefault(runtime or "unknown", []).append(model_ms)
    return [
        RuntimeLatency(
            runtime=runtime,
            answers=len(values),
            p50_ms=round(float(np.percentile(values, 50)), 1),
            p95_ms=round(float(np.percentile(values, 95)), 1),
        )
        for runtime, values in sorted(by_runtime.items())
    ]


def _histogram(confidences: np.ndarray) -> list[float]:
    if not len(confidences):
        return []
    counts, _ = np.histogram(np.clip(confidences, 0.5, 1.0), bins=CONFIDENCE_EDGES)
    return [round(float(x), 4) for x in counts / counts.sum()]


def _share(flags) -> float | None:
    flags = list(flags)
    return round(sum(flags) / len(flags), 4) if flags else None


def _cache_get(key: str):
    try:
        return cache.get(key)
    except Exception:  # the cache (Redis) is away: compute again
        return None


def _cache_set(key: str, value) -> None:
    try:
        cache.set(key, value, CACHE_SECONDS)
    except Exception:
        logger.warning("could not cache the model monitor", exc_info=True)
