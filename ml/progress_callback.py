"""The Trainer's side of ``ml.progress``: a ``TrainerCallback`` that reports to an observer at a bounded rate."""

from __future__ import annotations

import time

from transformers import TrainerCallback

from ml.progress import Progress, TrainingObserver


class ObserverCallback(TrainerCallback):
    """Bridges the Trainer's events to a ``TrainingObserver`` at a bounded rate."""

    def __init__(self, observer: TrainingObserver, *, min_interval: float = 2.0, after_steps: float = 0.0):
        """``after_steps``: the work after the last step (scoring, checks) in steps' worth, which the time
        left includes (``ml.estimate.scoring_in_training_steps``)."""
        self.observer = observer
        self.after_steps = after_steps
        self.min_interval = min_interval
        self.stopped = False
        self._last_report = 0.0
        self._started = 0.0
        self._first_step = 0
        self._loss: float | None = None
        self._lr: float | None = None
        self._pending: list[dict] = []

    def on_train_begin(self, args, state, control, **kwargs):
        self._started = time.monotonic()
        self._first_step = state.global_step  # > 0 when resuming from a checkpoint

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = dict(logs or {})
        self._loss = logs.get("loss", self._loss)
        self._lr = logs.get("learning_rate", self._lr)
        self._pending.append({"step": state.global_step, **logs})

    def on_step_end(self, args, state, control, **kwargs):
        if time.monotonic() - self._last_report >= self.min_interval:
            self._report(state, control)

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        self._report(state, control, evaluation=dict(metrics or {}))

    def on_train_end(self, args, state, control, **kwargs):
        self._report(state, control)

    def _report(self, state, control, evaluation: dict | None = None) -> None:
        self._last_report = time.monotonic()
        elapsed = self._last_report - self._started
        done = state.global_step - self._first_step
        remaining = max(state.max_steps - state.global_step, 0)
        eta = elapsed / done * (remaining + self.after_steps) if done > 0 else None
        progress = Progress(
            step=state.global_step,
            max_steps=state.max_steps,
            epoch=float(state.epoch or 0.0),
            num_epochs=float(state.num_train_epochs or 0),
            elapsed_seconds=round(elapsed, 3),
            eta_seconds=None if eta is None else round(eta, 1),
            loss=self._loss,
            learning_rate=self._lr,
            evaluation=evaluation,
            history=self._pending,
        )
        self._pending = []
        self.observer.on_progress(progress)
        if not self.stopped and self.observer.should_stop():
            self.stopped = True
        if self.stopped:
            control.should_training_stop = True
