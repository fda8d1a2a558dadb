"""Predicting with a model exported by ``ml.serving.onnx_export``: ONNX Runtime and the Rust tokenizer, no PyTorch.

The same answers as ``ml.serving.inference.Predictor`` (same tokenizer, truncation and labels, read from the
model folder), from an engine made for inference: importing this module and answering loads neither
torch nor transformers, so a web process that serves an exported model stays small.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ml.config import CONFIG_FILE
from ml.data.tokenization import truncate
from ml.errors import ModelError
from ml.hardware import cpu_cores
from ml.serving.choice import ONNX_VARIANTS
from ml.serving.labeller import Labeller, batched_probabilities, model_version, resolve_model_dir

# The files of an export, as ``ml.serving.onnx_export`` writes them: read here, so that reading an export
# needs nothing of the exporter (which needs torch)
ONNX_FOLDER = "onnx"
VARIANTS = {"fp32": "model.onnx", "int8": "model-int8.onnx"}
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def onnx_folder(model_dir: str | Path) -> Path:
    return resolve_model_dir(model_dir) / ONNX_FOLDER


class OnnxPredictor(Labeller):
    """A loaded ONNX model (``variant`` "fp32" or "int8") that labels texts in batches, like ``Predictor``."""

    def __init__(self, model_dir: str | Path, *, variant: str = "int8", max_length: int | None = None):
        from tokenizers import Tokenizer

        self.model_dir = resolve_model_dir(model_dir)
        self.variant = variant
        self.runtime = next(runtime for runtime, name in ONNX_VARIANTS.items() if name == variant)
        self.path = self.model_dir / ONNX_FOLDER / VARIANTS[variant]
        if not self.path.is_file():
            raise ModelError(f"{self.model_dir} has no ONNX export ({self.path.name}): run manage.py export_onnx")
        self.version = self.files_version()
        self.tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        self.tokenizer.no_truncation()  # truncation is ours (head and tail), as in training
        self.tokenizer.no_padding()
        config = json.loads((self.model_dir / "config.json").read_text())
        saved_file = self.model_dir / CONFIG_FILE
        saved = json.loads(saved_file.read_text()) if saved_file.is_file() else {}
        self.max_length = min(max_length or saved.get("max_length", 512), config.get("max_position_embeddings", 512))
        self.truncation = saved.get("truncation", "head_tail")
        self.labels = {int(k): v for k, v in config.get("id2label", {0: "LABEL_0", 1: "LABEL_1"}).items()}
        self.pad_id = config.get("pad_token_id") or 0
        self._sessions: dict[int, object] = {}
        self.session(cpu_cores())  # loaded now: a damaged export fails here, not on a person's request

    def files_version(self) -> str:
        stat = self.path.stat() if self.path.is_file() else None
        return f"{model_version(self.model_dir)}|{stat and (stat.st_size, stat.st_mtime_ns)}"

    def session(self, threads: int):
        """An ONNX Runtime session computing each operation on ``threads`` cores (one per thread count)."""
        if threads not in self._sessions:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            # between operations the threads sleep instead of spinning: several web processes share a
            # few cores, and a spinning thread takes a core another process is answering on
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self._sessions[threads] = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        return self._sessions[threads]

    def positive_probabilities(
        self,
        texts: list[str],
        *,
        batch_size: int = 32,
        threads: int = 1,
        cores: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """P(positive) per text, in the order given (the options: ``Labeller.predict``). A session
        computes on a fixed number of cores, so there is one session per ``cores`` asked for; by
        default one batch uses every core, or one core each when ``threads`` run at once."""
        ids = [
            truncate(encoding.ids, max_length=self.max_length, truncation=self.truncation)
            for encoding in self.tokenizer.encode_batch(list(texts))
        ]
        session = self.session(cores or (1 if threads > 1 else cpu_cores()))

        def logits(chosen) -> np.ndarray:
            width = max(len(ids[i]) for i in chosen)
            input_ids = np.full((len(chosen), width), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(chosen), width), dtype=np.int64)
            for row, i in enumerate(chosen):
                input_ids[row, : len(ids[i])] = ids[i]
                mask[row, : len(ids[i])] = 1
            feeds = dict(zip(INPUTS, (input_ids, mask, np.zeros_like(input_ids)), strict=True))
            return session.run(None, feeds)[0]

        lengths = [len(row) for row in ids]
        return batched_probabilities(lengths, logits, batch_size=batch_size, threads=threads, progress=progress)
