"""Predicting with a saved model, and a per-process cache of loaded models.

Inference is the forward pass alone: no loss, no gradients, so it is much cheaper than training. Loading
a model takes a second or more, so each process keeps the models it has loaded in ``predictor_cache``
and reloads one only when its files on disk change (a model re-saved in place) or when asked for
another. For CPU serving, dynamic int8 quantization stores the linear layers' weights as 8-bit integers
and computes in int8: 1.3 to 2 times faster on the CPUs measured (more with AVX-512 VNNI instructions,
bench/RESULTS.md), for a small accuracy cost that ``manage.py evaluate --int8 compare`` measures.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml.config import CONFIG_FILE
from ml.errors import ModelError, first_line
from ml.hardware import cpu_cores
from ml.metrics import positive_probabilities
from ml.tokenization import encode

logger = logging.getLogger(__name__)

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

    def predict(
        self, texts: list[str], *, batch_size: int = 32, threads: int = 1, progress: Callable[[int], None] | None = None
    ) -> list[Answer]:
        probs = self.positive_probabilities(texts, batch_size=batch_size, threads=threads, progress=progress)
        return answers(probs, self.labels)


class Predictor(Labeller):
    """A loaded PyTorch model and tokenizer that label texts in batches."""

    def __init__(self, model_dir: str | Path, *, int8: bool = False, max_length: int | None = None):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.model_dir = resolve_model_dir(model_dir)
        self.version = model_version(self.model_dir)
        self.int8 = int8
        saved = self._saved_config()
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
            model = AutoModelForSequenceClassification.from_pretrained(self.model_dir)
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load the model in {self.model_dir}: {first_line(exc)}") from None
        model.eval()
        if int8:
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        self.model = model
        limit = getattr(model.config, "max_position_embeddings", 512)
        self.max_length = min(max_length or saved.get("max_length", 512), limit)
        self.truncation = saved.get("truncation", "head_tail")
        self.labels = {int(k): v for k, v in model.config.id2label.items()}

    def _saved_config(self) -> dict:
        file = self.model_dir / CONFIG_FILE
        return json.loads(file.read_text()) if file.is_file() else {}

    def positive_probabilities(
        self, texts: list[str], *, batch_size: int = 32, threads: int = 1, progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """P(positive) per text, in the order given. Texts are batched by length to avoid padding.

        ``threads`` > 1 runs that many batches at once, each on one core (see ``one_core_per_batch``).
        ``progress`` is called in the calling thread with the number of texts done, as batches finish.
        """
        import torch

        encoded = encode(self.tokenizer, texts, max_length=self.max_length, truncation=self.truncation)

        def logits(chosen) -> np.ndarray:
            batch = self.tokenizer.pad({key: [encoded[key][i] for i in chosen] for key in encoded}, return_tensors="pt")
            with torch.inference_mode():
                return self.model(**batch).logits.float().numpy()

        lengths = [len(ids) for ids in encoded["input_ids"]]
        return batched_probabilities(lengths, logits, batch_size=batch_size, threads=threads, progress=progress)


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


@contextmanager
def one_core_per_batch():
    """Inside: PyTorch computes each operation on one core, so batches run side by side, one per core.

    For a large job in a process of its own (the CSV worker): on a 2-core CPU, two batches at once on one
    core each classified 64 reviews/s against 54/s for one batch at a time on both cores. Not for a web
    process, where the setting would also slow down the answers to concurrent requests.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield cpu_cores()
    finally:
        torch.set_num_threads(before)


class PredictorCache:
    """Loaded predictors by (model folder, int8), reloaded when their files change.

    Only the ``max_models`` most recently used stay in memory, so a long-lived web process does not keep
    every model that was ever promoted.
    """

    def __init__(self, max_models: int = 2):
        self._lock = threading.Lock()
        self._loaded: OrderedDict[tuple[Path, bool], Predictor] = OrderedDict()
        self.max_models = max_models

    def get(self, model_dir: str | Path, *, int8: bool = False) -> Predictor:
        folder = resolve_model_dir(model_dir)
        key = (folder, int8)
        with self._lock:
            current = self._loaded.get(key)
            if current is None or current.version != model_version(folder):
                logger.info("loading model %s%s", folder, " (int8)" if int8 else "")
                self._loaded[key] = Predictor(folder, int8=int8)
            self._loaded.move_to_end(key)
            while len(self._loaded) > self.max_models:
                self._loaded.popitem(last=False)
            return self._loaded[key]

    def clear(self) -> None:
        with self._lock:
            self._loaded.clear()


predictor_cache = PredictorCache()
