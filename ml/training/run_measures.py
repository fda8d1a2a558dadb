"""What a run measures about itself so that the next one can be estimated before it starts (``ml.estimate``).

Every run records the seconds of each phase (preparing the data and model, training, validation, the
test, the serving and behavioural checks), its peak memory, and the lengths of its reviews; the launch
form scales the next run's estimate from these figures on the same hardware.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Sequence

WORD_EDGES = [*range(0, 601, 25), 700, 800, 1000, 1500, 2500]  # review lengths in words; the last bin takes the rest


class Laps:
    """A stopwatch for the phases of a run: ``lap(name)`` records the seconds since the previous lap."""

    def __init__(self) -> None:
        self.started = self.last = time.monotonic()
        self.seconds: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.seconds[name] = round(self.seconds.get(name, 0.0) + now - self.last, 2)
        self.last = now

    def phases(self, log_history: Sequence[dict]) -> dict[str, float]:
        """The phases, with the validation runs (timed by the Trainer) taken out of the training time."""
        seconds = dict(self.seconds)
        validation = round(sum(entry.get("eval_runtime", 0.0) for entry in log_history), 2)
        if "train" in seconds:
            seconds["train"] = round(max(seconds["train"] - validation, 0.0), 2)
            seconds["validation"] = validation
        seconds["total"] = round(time.monotonic() - self.started, 2)
        return seconds


def peak_memory() -> dict[str, int]:
    """The process's largest resident memory so far and, on a GPU, the most PyTorch held on it."""
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is in bytes on macOS, kilobytes on Linux
    peak = {"peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale}
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        peak["device_peak_bytes"] = int(torch.cuda.max_memory_allocated())
    return peak


def words_profile(texts: Sequence[str]) -> dict:
    """A histogram of review lengths in words (``WORD_EDGES``), and their mean."""
    counts = [0] * (len(WORD_EDGES) - 1)
    total = 0
    for text in texts:
        words = len(text.split())
        total += words
        counts[_bin(words)] += 1
    return {"edges": WORD_EDGES, "counts": counts, "mean": round(total / len(texts), 1) if texts else 0.0}


def tokens_per_word(texts: Sequence[str], lengths: Sequence[int], *, max_length: int) -> float | None:
    """Word pieces per word, from the reviews the tokenizer did not have to cut (their lengths are whole)."""
    words = tokens = 0
    for text, length in zip(texts, lengths, strict=True):
        if length < max_length:
            words += len(text.split())
            tokens += length - 2  # [CLS] and [SEP]
    return round(tokens / words, 3) if words else None


def _bin(words: int) -> int:
    for index, high in enumerate(WORD_EDGES[1:]):
        if words < high:
            return index
    return len(WORD_EDGES) - 2
