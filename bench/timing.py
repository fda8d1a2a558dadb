"""Trainer callbacks that time a run from the inside (steps after a warm-up, the training phase, GPU waits)."""

from __future__ import annotations

import warnings

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


class GpuSyncCounter(TrainerCallback):
    """On a GPU: how many times per step the CPU had to wait for it, from step ``warmup`` to the end.

    Uses PyTorch's sync debug mode, which warns at every operation that makes the CPU wait for the GPU
    (reading a tensor's value, a blocking copy). Each such wait stops the CPU from queueing the next
    kernels while the GPU computes. The count includes the reads of the logging steps (every
    ``logging_steps``). None on a CPU, where nothing waits.
    """

    def __init__(self, warmup: int):
        self.warmup = warmup
        self.syncs: int | None = None
        self.steps = 0
        self._catcher: warnings.catch_warnings | None = None
        self._seen: list = []

    def on_step_end(self, args, state, control, **kwargs):
        import torch

        if state.global_step == self.warmup and torch.cuda.is_available():
            self._catcher = warnings.catch_warnings(record=True)
            self._seen = self._catcher.__enter__()
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
        if state.global_step == state.max_steps:
            self._stop(state)

    def on_train_end(self, args, state, control, **kwargs):
        self._stop(state)  # also when a run ends early: later runs in the process must not be counted

    def _stop(self, state) -> None:
        import torch

        if self._catcher is None:
            return
        torch.cuda.set_sync_debug_mode("default")
        self._catcher.__exit__(None, None, None)
        self._catcher = None
        self.syncs = sum("synchroniz" in str(w.message) for w in self._seen)
        self.steps = state.global_step - self.warmup

    @property
    def per_step(self) -> float | None:
        return round(self.syncs / self.steps, 2) if self.syncs is not None and self.steps else None
