"""Trainer callbacks that time a run from the inside (steps after a warm-up, the training phase, GPU waits),
and one variant of a recipe trained and timed with them (what ``train_throughput`` and ``cpu_recipe`` compare)."""

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


def run_variant(name, recipe, overrides, *, base_model, reviews, warmup, data, imdb_dir, workdir) -> dict:
    """Train ``recipe`` with ``overrides`` for one epoch of ``reviews`` training reviews, nothing else (no
    evaluation, no checkpoint), and time its steps after the first ``warmup``: reviews per second, and how
    often a step waited for the GPU."""
    from ml.presets import config_from_preset
    from ml.training.pipeline import train_model

    config = config_from_preset(
        recipe,
        base_model=base_model,
        dataset=data,
        num_train_epochs=1.0,
        max_train_examples=reviews,
        max_validation_examples=2,
        max_test_examples=2,
        eval_strategy="no",
        save_strategy="no",
        output_dir=str(workdir / name.replace(" ", "_").replace(",", "")),
        **overrides,
    )
    timer, syncs = StepTimer(warmup), GpuSyncCounter(warmup)
    result = train_model(config, imdb_dir=imdb_dir, callbacks=[timer, syncs], progress_bar=False)
    batch = config.effective_batch_size
    seconds = timer.seconds
    return {
        "variant": name,
        "recipe": recipe,
        "overrides": overrides,
        "precision": result.metrics["precision"],
        "batch": batch,
        "timed_steps": timer.steps,
        "timed_seconds": round(seconds, 3) if seconds else None,
        "reviews_per_second": round(timer.steps * batch / seconds, 1) if seconds else None,
        "whole_epoch_reviews_per_second": result.metrics["train"]["samples_per_second"],
        "gpu_syncs_per_step": syncs.per_step,
    }
