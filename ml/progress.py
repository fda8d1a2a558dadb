"""How outside code (a terminal, the Celery worker) follows a training run and asks it to stop.

Training calls ``observer.on_progress`` at most every ``min_interval`` seconds during training, and at
once after each evaluation and at the end; it asks ``observer.should_stop()`` at the same moments and, on
True, ends training at the next step (the run is then reported as stopped, its checkpoints kept).

Plain data only, so that the web processes can read progress without importing ``transformers`` (the
Trainer's side is ``ml.progress_callback``).
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


class TrainingObserver(Protocol):
    def on_progress(self, progress: Progress) -> None: ...

    def should_stop(self) -> bool: ...
