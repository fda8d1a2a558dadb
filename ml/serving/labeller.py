"""What every runtime's predictor is: a ``Labeller`` that turns texts into answers, and the model folder
it reads (the files that make its version). ``ml.serving.inference`` (PyTorch) and
``ml.serving.onnx_inference`` (ONNX Runtime) build on it; neither imports the other."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml.errors import ModelError
from ml.evaluation.metrics import positive_probabilities

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


@dataclass(frozen=True)
class Answer:
    """The model's answer for one text: the label, and how sure it is of it."""

    label: str  # "positive" or "negative"
    probability: float  # the model's confidence in that label, 0.5 to 1.0
    positive_probability: float


def resolve_model_dir(path: str | Path) -> Path:
    """A saved model folder: either the folder itself or the ``model/`` inside a run's output folder."""
    path = Path(path).expanduser()
    for candidate in (path / "model", path):
        if (candidate / "config.json").is_file() and any((candidate / w).is_file() for w in WEIGHT_FILES):
            return candidate.resolve()
    raise ModelError(f"no saved model in {path} (expected config.json and model weights there or in {path}/model)")


def model_version(model_dir: Path) -> str:
    """Changes whenever the saved weights or config change (size and modification time)."""
    parts = []
    for name in ("config.json", *WEIGHT_FILES):
        file = model_dir / name
        if file.is_file():
            stat = file.stat()
            parts.append(f"{name}:{stat.st_size}:{stat.st_mtime_ns}")
    return "|".join(parts)


class Labeller:
    """What every predictor offers: answers from ``positive_probabilities``, with its ``labels``."""

    labels: dict[int, str]

    def positive_probabilities(self, texts: list[str], **options) -> np.ndarray:
        raise NotImplementedError

    runtime: str  # the name ``ml.serving.choice`` gives it, recorded with each answer
    version: str  # what its files were when loaded (``files_version``)

    def files_version(self) -> str:
        """Changes whenever the files it was loaded from change."""
        raise NotImplementedError

    def predict(self, texts: list[str], **options) -> list[Answer]:
        """Answers for ``texts``; ``options`` as for ``positive_probabilities``:

        - ``batch_size``: texts computed together (sorted by length, so with little padding);
        - ``threads`` > 1: that many batches at once (a CSV file), each on ``cores`` cores;
        - ``cores``: the cores one batch may use (a web process's share, ``ml.core_share``); by default
          the runtime's own choice;
        - ``progress``: called with the number of texts done, as batches finish.
        """
        return answers(self.positive_probabilities(texts, **options), self.labels)


def batched_probabilities(
    lengths: list[int],
    logits: Callable[[np.ndarray], np.ndarray],
    *,
    batch_size: int,
    threads: int,
    progress: Callable[[int], None] | None,
) -> np.ndarray:
    """P(positive) for texts of token ``lengths``, computed by ``logits(indices)`` a batch at a time.

    Texts of similar length are batched together (little padding, so little wasted computation), the
    answers come back in the order given, and ``progress`` hears how many are done as batches finish.
    """
    order = np.argsort(lengths, kind="stable")
    probs = np.empty(len(lengths), dtype=np.float64)

    def run(chosen) -> int:
        probs[chosen] = positive_probabilities(logits(chosen))
        return len(chosen)

    batches = [order[start : start + batch_size] for start in range(0, len(lengths), batch_size)]
    done = 0
    for finished in each_in_order(run, batches, threads):
        done += finished
        if progress is not None:
            progress(done)
    return probs


def answers(positive_probs: np.ndarray, labels: dict[int, str]) -> list[Answer]:
    """Each P(positive) as an answer: the more likely label and the model's confidence in it."""
    return [
        Answer(label=labels[1 if p >= 0.5 else 0], probability=float(max(p, 1 - p)), positive_probability=float(p))
        for p in positive_probs
    ]


def each_in_order(work, items: list, threads: int):
    """``work(item)`` for each item, results in order; with ``threads`` > 1 that many run at once."""
    if threads > 1 and len(items) > 1:
        with ThreadPoolExecutor(threads) as pool:
            yield from pool.map(work, items)
    else:
        yield from map(work, items)
