"""Predicting with a saved model, and a per-process cache of loaded models.

Inference is the forward pass alone: no loss, no gradients, so it is much cheaper than training. Loading
a model takes a second or more, so each process keeps the models it has loaded in ``predictor_cache``
and reloads one only when its files on disk change (a model re-saved in place) or when asked for
another. A model can be answered by several runtimes (``ml.serving.choice``): ``Predictor`` here is
PyTorch; ``ml.serving.onnx_inference.OnnxPredictor`` runs the model's ONNX export without PyTorch.
``predictor_load`` makes either, importing only what that runtime needs.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ml.config import CONFIG_FILE
from ml.data.tokenization import encode
from ml.errors import ModelError, first_line
from ml.serving.choice import ONNX_VARIANTS, PYTORCH, PYTORCH_INT8
from ml.serving.labeller import Labeller, batched_probabilities, model_version, resolve_model_dir

logger = logging.getLogger(__name__)


class Predictor(Labeller):
    """A loaded PyTorch model and tokenizer that label texts in batches.

    ``int8`` quantizes the linear layers with ``torch.ao.quantization.quantize_dynamic``, which PyTorch
    has deprecated: it is kept only for ``SERVE_RUNTIME=pytorch-int8`` and ``evaluate --int8``, never a
    default; the ONNX export's int8 (``ml.serving.onnx_export``) replaces it.
    """

    def __init__(self, model_dir: str | Path, *, int8: bool = False, max_length: int | None = None):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.model_dir = resolve_model_dir(model_dir)
        self.version = model_version(self.model_dir)
        self.int8 = int8
        self.runtime = PYTORCH_INT8 if int8 else PYTORCH
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

    def files_version(self) -> str:
        return model_version(self.model_dir)

    def _saved_config(self) -> dict:
        file = self.model_dir / CONFIG_FILE
        return json.loads(file.read_text()) if file.is_file() else {}

    def positive_probabilities(
        self,
        texts: list[str],
        *,
        batch_size: int = 32,
        threads: int = 1,
        cores: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """P(positive) per text, in the order given (the options: ``Labeller.predict``).

        PyTorch's thread count is one per process: ``cores`` sets it for the computation and puts it back.
        """
        import torch

        if not cores:
            return self._positive_probabilities(texts, batch_size=batch_size, threads=threads, progress=progress)
        before = torch.get_num_threads()
        torch.set_num_threads(cores)
        try:
            return self._positive_probabilities(texts, batch_size=batch_size, threads=threads, progress=progress)
        finally:
            torch.set_num_threads(before)

    def _positive_probabilities(self, texts, *, batch_size, threads, progress) -> np.ndarray:
        import torch

        encoded = encode(self.tokenizer, texts, max_length=self.max_length, truncation=self.truncation)

        def logits(chosen) -> np.ndarray:
            batch = self.tokenizer.pad({key: [encoded[key][i] for i in chosen] for key in encoded}, return_tensors="pt")
            with torch.inference_mode():
                return self.model(**batch).logits.float().numpy()

        lengths = [len(ids) for ids in encoded["input_ids"]]
        return batched_probabilities(lengths, logits, batch_size=batch_size, threads=threads, progress=progress)


def predictor_load(model_dir: str | Path, runtime: str = PYTORCH) -> Labeller:
    """A predictor for ``model_dir`` on ``runtime`` (``ml.serving.choice.RUNTIMES``)."""
    if runtime in ONNX_VARIANTS:
        from ml.serving.onnx_inference import OnnxPredictor

        return OnnxPredictor(model_dir, variant=ONNX_VARIANTS[runtime])
    if runtime in (PYTORCH, PYTORCH_INT8):
        return Predictor(model_dir, int8=runtime == PYTORCH_INT8)
    raise ModelError(f"unknown runtime {runtime!r}")


class PredictorCache:
    """Loaded predictors by (model folder, runtime), reloaded when their files change.

    Only the ``max_models`` most recently used stay in memory, so a long-lived web process does not keep
    every model that was ever promoted.
    """

    def __init__(self, max_models: int = 2):
        self._lock = threading.Lock()
        self._loaded: OrderedDict[tuple[Path, str], Labeller] = OrderedDict()
        self.max_models = max_models

    def loaded(self) -> list[tuple[Path, str]]:
        """(model folder, runtime) of every predictor this process holds."""
        with self._lock:
            return list(self._loaded)

    def get(self, model_dir: str | Path, *, runtime: str = PYTORCH) -> Labeller:
        folder = resolve_model_dir(model_dir)
        key = (folder, runtime)
        with self._lock:
            current = self._loaded.get(key)
            if current is None or current.version != current.files_version():
                logger.info("loading model %s on %s", folder, runtime)
                self._loaded[key] = predictor_load(folder, runtime)
            self._loaded.move_to_end(key)
            while len(self._loaded) > self.max_models:
                self._loaded.popitem(last=False)
            return self._loaded[key]

    def clear(self) -> None:
        with self._lock:
            self._loaded.clear()


predictor_cache = PredictorCache()
