"""Serving a model, with a record: every promotion and restore says who, when, why and on what evidence.

The newest ``Promotion`` names the served model; web processes notice it on their next request
(``services.serving``). Restoring an earlier model is a promotion like any other (action "restore"), so
the trail is complete and a roll-back can itself be rolled back.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ml.errors import first_line
from ml.serving.inference import predictor_cache
from sentiment.models import Promotion, ServingState, TrainingRun
from sentiment.selectors.evidence import regression_titles, replay_summary, training_run_figures
from sentiment.selectors.serving import training_run_serving_runtime

logger = logging.getLogger(__name__)

MIN_REASON_CHARS, MAX_REASON_CHARS = 10, 500  # a reason is a few words a later reader can act on
WHEN_DONE_REASON = "Promoted when its run finished, as asked when it was launched."


def training_run_promote(*, run: TrainingRun, user, reason: str, evidence: dict | None = None) -> Promotion:
    """Serve this run's model from the next request of every web process on.

    ``reason`` is required (the audit trail asks why); ``evidence`` is what the promote page showed
    (``sentiment.selectors.evidence.promotion_evidence``), recorded with it; without it the runs' figures are.
    """
    reason = (reason or "").strip()
    if len(reason) < MIN_REASON_CHARS:
        raise ValidationError(
            f"Say why this model should answer users, in a few words (at least {MIN_REASON_CHARS} characters): "
            "the reason is kept in the audit trail."
        )
    if len(reason) > MAX_REASON_CHARS:
        raise ValidationError(f"Keep the reason under {MAX_REASON_CHARS} characters (it has {len(reason)}).")
    if run.status != TrainingRun.Status.SUCCEEDED or not run.model_dir:
        raise ValidationError(f"{run} has no finished model to serve (status: {run.get_status_display()}).")
    if not Path(run.model_dir).is_dir():
        raise ValidationError(f"The model folder of {run} is missing: {run.model_dir}")
    try:  # loaded once here, so that a damaged model is refused with its reason instead of served
        predictor_cache.get(run.model_dir, runtime=training_run_serving_runtime(run=run))
    except Exception as exc:
        logger.warning("not promoting %s: its model does not load", run, exc_info=True)
        raise ValidationError(f"The model of {run} does not load: {first_line(exc)}") from None
    ServingState.objects.get_or_create(pk=ServingState.ROW)
    with transaction.atomic():
        # the serving row written first: a second promotion waits here until this one commits, then reads it
        ServingState.objects.filter(pk=ServingState.ROW).update(changed_at=timezone.now())
        current = Promotion.objects.select_related("run").order_by("-promoted_at", "-id").first()
        replaced = current.run if current else None
        if replaced is not None and replaced.pk == run.pk:
            raise ValidationError(f"{run} is already served.")
        promotion = Promotion.objects.create(
            run=run,
            promoted_by=user,
            action=Promotion.Action.RESTORE if run.promotions.exists() else Promotion.Action.PROMOTE,
            reason=reason,
            replaced=replaced,
            figures=_figures(run, replaced, evidence),
        )
        ServingState.objects.filter(pk=ServingState.ROW).update(promotion=promotion)
    logger.info("%s by %s: %s", promotion, user, reason)
    return promotion


def _figures(run: TrainingRun, replaced: TrainingRun | None, evidence: dict | None) -> dict:
    """What was known at that moment; evidence gathered against another served model than the one
    replaced (someone promoted meanwhile) is not kept: the runs' own figures are."""
    evidence = evidence or {}
    shown_against = (evidence.get("served") or {}).get("run")
    if replaced is None or shown_against != replaced.pk:
        evidence = {}
    return {
        "candidate": evidence.get("candidate") or training_run_figures(run=run),
        "served": evidence.get("served") or (training_run_figures(run=replaced) if replaced else None),
        "regressions": regression_titles(evidence),
        "replay": replay_summary(evidence.get("replay")),
    }
