"""Behavioural checks (``ml.evaluation.behaviour``) and the out-of-domain check (``ml.evaluation.out_of_domain``)
run again on a finished run's model, on demand.

They run at the end of every training run; staff run them again from the run page (a worker's job:
``services.analysis``) or with ``manage.py check_behaviour`` when the battery has a new version, or for
a run trained before they existed. The model answers through the runtime that serves it, so the checks
judge what users get.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction

from ml.errors import first_line
from ml.evaluation.behaviour import behaviour_check
from ml.evaluation.out_of_domain import out_of_domain_check
from ml.results import RESULTS_FILE, BehaviourResult, OutOfDomainResult, RunResults, results_write
from ml.serving.inference import predictor_cache
from sentiment.models import AnalysisJob, TrainingRun
from sentiment.selectors.serving import training_run_serving_runtime
from sentiment.services.analysis import analysis_job_request

logger = logging.getLogger(__name__)


def behaviour_job_key(run: TrainingRun) -> str:
    return f"behaviour:{run.pk}"


def training_run_behaviour_request(*, run: TrainingRun, user) -> AnalysisJob:
    """Ask a worker to run the checks again (``services.analysis``); the checks under way, when they are."""
    if run.status != TrainingRun.Status.SUCCEEDED or not run.model_dir or not Path(run.model_dir).is_dir():
        raise ValidationError(f"{run} has no finished model to check.")
    return analysis_job_request(
        kind=AnalysisJob.Kind.BEHAVIOUR, key=behaviour_job_key(run), params={"run": run.pk}, user=user,
        max_age=timedelta(0),  # asked again: checked again
    )  # fmt: skip


def training_run_check_behaviour(*, run: TrainingRun) -> dict:
    """Run the battery and the out-of-domain set on the run's model and store both results with the run (and
    in its metrics.json); the battery's result is returned, with the out-of-domain one under ``out_of_domain``.

    A model that does not load is a ValidationError saying so. The result is written under a lock on the
    run's row, so that a serving check recorded at the same time (``manage.py export_onnx``) is kept."""
    if run.status != TrainingRun.Status.SUCCEEDED or not run.model_dir or not Path(run.model_dir).is_dir():
        raise ValidationError(f"{run} has no finished model to check.")
    runtime = training_run_serving_runtime(run=run)
    try:
        predictor = predictor_cache.get(run.model_dir, runtime=runtime)

        def score(texts):
            return predictor.positive_probabilities(texts, batch_size=32)

        result = {**behaviour_check(score), "runtime": runtime}
    except Exception as exc:
        logger.warning("behavioural checks of %s failed", run, exc_info=True)
        raise ValidationError(f"The checks could not run on the model of {run}: {first_line(exc)}") from None
    try:  # the set failing (an edited file) costs the battery's result nothing: recorded as its own error
        out_of_domain = {**out_of_domain_check(score), "runtime": runtime}
    except Exception as exc:
        logger.warning("out-of-domain check of %s failed", run, exc_info=True)
        out_of_domain = {"error": first_line(exc), "runtime": runtime}
    with transaction.atomic():
        locked = TrainingRun.objects.select_for_update().get(pk=run.pk)
        results = RunResults.from_json(locked.metrics)
        results.behaviour = BehaviourResult.from_json(result)
        results.out_of_domain = OutOfDomainResult.from_json(out_of_domain)
        locked.metrics = results.to_json()
        locked.save(update_fields=["metrics"])
    run.metrics = locked.metrics
    results_file = Path(run.output_dir) / RESULTS_FILE if run.output_dir else None
    if results_file and results_file.is_file():
        try:
            results_write(results_file, results)
        except OSError:
            logger.warning("could not update %s", results_file, exc_info=True)
    logger.info(
        "checks of %s: %s of %s behavioural passed, out-of-domain accuracy %s",
        run, result["passed"], result["total"], out_of_domain.get("accuracy"),
    )  # fmt: skip
    return {**result, "out_of_domain": out_of_domain}
