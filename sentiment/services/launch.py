"""Launching a run from the launch form's settings, the same way wherever it is launched from (the admin's
launch page, API v1): queued with the estimate the settings give on the training worker's hardware."""

from __future__ import annotations

from sentiment.forms import TrainingLaunchForm
from sentiment.models import TrainingRun
from sentiment.selectors import estimates
from sentiment.services.runs import training_run_create


def run_launch(*, user, form: TrainingLaunchForm, launched_from: str) -> TrainingRun:
    """A QUEUED run of a valid form's settings (``dispatched_at`` read back: whether the broker took it)."""
    run = training_run_create(
        user=user,
        config=form.config,
        preset=form.cleaned_data["preset"],
        launched_from=launched_from,
        promote_when_done=form.cleaned_data["promote_when_done"],
        estimate=estimates.run_estimate(form.config),
    )
    run.refresh_from_db(fields=["dispatched_at"])  # sent as the transaction committed, or not
    return run
