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
# ONNX Runtime's SkipLayerNormalization (a residual addition and its LayerNorm as one operation) is about 6
# times slower on the CPU than the two operations apart (bench/RESULTS.md, "ONNX Runtime's fused LayerNorm"): the
# export leaves them apart (these fusions of the transformer optimizer off), and a session does not fuse
# them again as it loads the graph (the session's own optimizer of that name off). An export made before
# keeps its fused operations, and their cost, until it is made again (manage.py export_onnx).
LAYERNORM_APART = ("enable_skip_layer_norm", "enable_bias_skip_layer_norm")
LAYERNORM_APART_AT_LOAD = ["SkipLayerNormFusion"]


def onnx_folder(model_dir: str | Path) -> Path:
    return resolve_model_dir(model_dir) / ONNX_FOLDER


def session_options(threads: int):
    """How the product opens an export: each operation on ``threads`` cores, the graph optimized at load.

    Between two operations of one answer, the threads wait for the next by spinning only when the answer
    has every core (``ml.core_share``: a web process computing alone), and they stop spinning as soon as the
    answer is computed. A thread woken from sleep for each operation costs a lone answer about a millisecond
    (bench/RESULTS.md); a thread spinning after its answer, or beside another process's answer, would take
    the core that answer is computed on.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    every_core = threads > 1 and threads >= cpu_cores()
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if every_core else "0")
    options.add_session_config_entry("session.force_spinning_stop", "1")
    return options


def session_open(path: Path, threads: int, *, graph_copy: Path | None = None):
    """An ONNX Runtime session of the export at ``path`` (``session_options``), the LayerNorms left apart;
    ``graph_copy``: where to save the graph as the session optimized it at load (to check it)."""
    import onnxruntime as ort

    options = session_options(threads)
    if graph_copy is not None:
        options.optimized_model_filepath = str(graph_copy)
    return ort.InferenceSession(
        str(path), options, providers=["CPUExecutionProvider"], disabled_optimizers=LAYERNORM_APART_AT_LOAD
    )


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
            self._sessions[threads] = session_open(self.path, threads)
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
