"""The Trainer's side of ``ml.training.progress``: a ``TrainerCallback`` that reports to an observer at a
bounded rate."""

from __future__ import annotations

import time

from transformers import TrainerCallback

from ml.training.progress import Progress, RunWork, TrainingObserver


class ObserverCallback(TrainerCallback):
    """Bridges the Trainer's events to a ``TrainingObserver`` at a bounded rate."""

    def __init__(self, observer: TrainingObserver, *, min_interval: float = 2.0, work: RunWork | None = None):
        """``work``: what the run computes in tokens (``ml.training.progress.RunWork``), which prices the time left;
        without it (or before a token is counted) the time left scales the steps so far to the steps left."""
        self.observer = observer
        self.work = work
        self.min_interval = min_interval
        self.stopped = False
        self._last_report = 0.0
        self._started = 0.0
        self._first_step = 0
        self._first_tokens = 0
        self._evaluation_seconds = 0.0
        self._loss: float | None = None
        self._lr: float | None = None
        self._pending: list[dict] = []

    def on_train_begin(self, args, state, control, **kwargs):
        self._started = time.monotonic()
        self._first_step = state.global_step  # > 0 when resuming from a checkpoint
        self._first_tokens = state.num_input_tokens_seen

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = dict(logs or {})
        self._loss = logs.get("loss", self._loss)
        self._lr = logs.get("learning_rate", self._lr)
        self._pending.append({"step": state.global_step, **logs})

    def on_step_end(self, args, state, control, **kwargs):
        if time.monotonic() - self._last_report >= self.min_interval:
            self._report(state, control)

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        self._evaluation_seconds += float((metrics or {}).get("eval_runtime") or 0.0)
        self._report(state, control, evaluation=dict(metrics or {}))

    def on_train_end(self, args, state, control, **kwargs):
        self._report(state, control, training_done=True)

    def _time_left(self, state, elapsed: float, training_done: bool) -> float | None:
        """The work left at the speed of this session's training steps (validations' time taken out)."""
        steps = state.global_step - self._first_step
        if steps <= 0:
            return None
        tokens = state.num_input_tokens_seen - self._first_tokens
        training_seconds = elapsed - self._evaluation_seconds
        if self.work is None or tokens <= 0 or training_seconds <= 0:
            return elapsed / steps * max(state.max_steps - state.global_step, 0)
        return self.work.seconds_left(
            tokens_seen=state.num_input_tokens_seen,
            tokens_per_second=tokens / training_seconds,
            evaluations_done=sum(1 for entry in state.log_history if "eval_loss" in entry),
            training_done=training_done or state.global_step >= state.max_steps,
        )

    def _report(self, state, control, evaluation: dict | None = None, training_done: bool = False) -> None:
        self._last_report = time.monotonic()
        elapsed = self._last_report - self._started
        eta = self._time_left(state, elapsed, training_done)
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
