"""Trainer callbacks that time a run from the inside (steps after a warm-up, and the training phase)."""

from __future__ import annotations

from transformers import TrainerCallback

from bench.common import now


class StepTimer(TrainerCallback):
    """Times the optimizer steps after the first ``warmup`` ones.

    The first steps pay for start-up (the GPU's kernels load, memory is first allocated, data-loading
    processes start), so steady-state speed is measured from step ``warmup`` to the last step.
    """

    def __init__(self, warmup: int):
        self.warmup = warmup
        self.start: float | None = None
        self.end: float | None = None
        self.steps = 0

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.warmup:
            self.start = now()
        if state.global_step == state.max_steps and self.start is not None:
            self.end = now()
            self.steps = state.global_step - self.warmup

    @property
    def seconds(self) -> float | None:
        return None if self.start is None or self.end is None else self.end - self.start


class PhaseTimer(TrainerCallback):
    """When training began and ended, to split a run's wall time into preparation, training, the rest."""

    def __init__(self):
        self.began: float | None = None
        self.ended: float | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        self.began = now()

    def on_train_end(self, args, state, control, **kwargs):
        self.ended = now()
