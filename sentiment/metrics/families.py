"""Every figure the code counts as it works, defined once (README, "Metrics", says what each one means).

The services call the ``*_count`` functions below, one line each where the work is done; the Celery
signals in ``worker.metrics`` feed the task families. What is read afresh at each scrape (queues, runs,
analyses, disk, the served model) is ``sentiment.metrics.scrape``'s. The HTTP families (requests and
latency by view and status) are django-prometheus's middleware's.

Labels stay few and bounded: a model is named by its run (``run-12``), never by a path or a text.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import Counter, Histogram

from sentiment.metrics.folder import metrics_folder_ensure

metrics_folder_ensure()  # a figure without labels is written to its process's file as soon as it is defined

# One review takes about 20 ms on a 2-core CPU and a batch of 64 a second or two; bert-base about 250 ms.
MODEL_BUCKETS = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# A two-label model's confidence is 0.5 to 1; the interesting part is near 1.
CONFIDENCE_BUCKETS = (0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99, 1.0)
# From a sweep (a fraction of a second) to a training run (hours).
TASK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 24 * 3600.0)
ANALYSIS_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

MODEL_LATENCY = Histogram(
    "sentiment_model_latency_seconds",
    "Seconds the served model took to answer one request's reviews (a batch counts once), by runtime and model.",
    ["runtime", "model"],
    buckets=MODEL_BUCKETS,
)
PREDICTIONS = Counter(
    "sentiment_predictions",
    "Reviews classified on the site and through the APIs, by label and model.",
    ["label", "model"],
)
CONFIDENCE = Histogram(
    "sentiment_prediction_confidence",
    "The model's confidence in each answer it gave on the site and through the APIs (0.5 to 1), by model.",
    ["model"],
    buckets=CONFIDENCE_BUCKETS,
)
CSV_ROWS = Counter("sentiment_csv_rows_classified", "Rows of uploaded CSV files classified by the workers.")
ANALYSIS_SECONDS = Histogram(
    "sentiment_analysis_job_seconds",
    "Seconds a worker spent on an analysis job (explanation, evidence, behaviour), by kind and outcome "
    "(succeeded, failed, lost).",
    ["kind", "outcome"],
    buckets=ANALYSIS_BUCKETS,
)
TASK_SECONDS = Histogram(
    "sentiment_task_seconds",
    "Seconds a Celery task ran, by task and outcome (the word the task returned: succeeded, failed, "
    "continued, skipped, lost...; else Celery's state, FAILURE for an exception).",
    ["task", "outcome"],
    buckets=TASK_BUCKETS,
)
TASK_FAILURES = Counter("sentiment_task_failures", "Celery tasks that ended with an exception, by task.", ["task"])


def model_label(run_id: int | None) -> str:
    """How a model is named in labels: by its run."""
    return f"run-{run_id}" if run_id is not None else "none"


def predictions_count(*, runtime: str, run_id: int | None, answers: Sequence, seconds: float) -> None:
    """One call of the served model: its time, and each answer's label and confidence."""
    model = model_label(run_id)
    MODEL_LATENCY.labels(runtime=runtime, model=model).observe(seconds)
    confidence = CONFIDENCE.labels(model=model)
    for answer in answers:
        PREDICTIONS.labels(label=answer.label, model=model).inc()
        confidence.observe(answer.probability)


def csv_rows_classified_count(*, rows: int) -> None:
    CSV_ROWS.inc(rows)


def analysis_job_count(*, kind: str, outcome: str, seconds: float) -> None:
    ANALYSIS_SECONDS.labels(kind=kind, outcome=outcome).observe(seconds)


def task_count(*, task: str, outcome: str, seconds: float) -> None:
    TASK_SECONDS.labels(task=task, outcome=outcome).observe(seconds)


def task_failure_count(*, task: str) -> None:
    TASK_FAILURES.labels(task=task).inc()
