"""How outside code (a terminal, the Celery worker) follows a training run and asks it to stop.

Training calls ``observer.on_progress`` at most every ``min_interval`` seconds during training, and at
once after each evaluation and at the end; it asks ``observer.should_stop()`` at the same moments and, on
True, ends training at the next step (the run is then reported as stopped, its checkpoints kept).

Plain data only, so that the web processes can read progress without importing ``transformers`` (the
Trainer's side is ``ml.training.progress_callback``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class Progress:
    step: int
    max_steps: int
    epoch: float
    num_epochs: float
    elapsed_seconds: float
    eta_seconds: float | None
    loss: float | None = None
    learning_rate: float | None = None
    evaluation: dict | None = None  # validation metrics of the last evaluation, when it just ended
    history: list[dict] = field(default_factory=list)  # new log entries since the last report


@dataclass(frozen=True)
class RunWork:
    """What a run computes, counted in training tokens (padding included), to price the time left by
    the work left rather than by the steps left. Steps are not alike: with dynamic padding each costs
    what its longest review costs, and length-grouped batches come longest first, so a time left that
    scaled the first steps' speed to the rest said more than twice the truth early on."""

    train_tokens: float  # every training step of every epoch, in this process
    evaluations: int  # validations during the run, the last one included
    validation_tokens: float  # one validation, in training tokens' worth (``ml.estimate``)
    after_tokens: float  # the test reviews and the checks after the last validation, likewise

    def seconds_left(
        self, *, tokens_seen: float, tokens_per_second: float, evaluations_done: int, training_done: bool
    ) -> float:
        """At ``tokens_per_second`` (training speed, validations excluded): the training tokens left, the
        validations still to come, and the scoring after them."""
        training = 0.0 if training_done else max(self.train_tokens - tokens_seen, 0.0)
        validations = max(self.evaluations - evaluations_done, 0) * self.validation_tokens
        return (training + validations + self.after_tokens) / tokens_per_second


class TrainingObserver(Protocol):
    def on_progress(self, progress: Progress) -> None: ...

    def should_stop(self) -> bool: ...
