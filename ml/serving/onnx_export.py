"""Exporting a fine-tuned model for ONNX Runtime, an engine made for inference, fp32 and int8.

Three steps, each one checked:

1. **export**: PyTorch traces the model's forward pass into an ONNX graph (batch size and length left
   free). The TorchScript exporter is used, with BERT's plain ("eager") attention, because its graph is
   the one ONNX Runtime's transformer optimizer recognises; the newer dynamo exporter's graph keeps
   attention as dozens of small operations, which the optimizer cannot fuse (measured: 0 of 6 attention
   blocks fused, against 6 of 6).
2. **optimize**: ONNX Runtime's transformer optimizer fuses each attention block, the embeddings with
   their LayerNorm, and the bias with GELU into single operations written for the CPU. Each LayerNorm is
   left apart from its residual addition (``onnx_inference.LAYERNORM_APART``): ONNX Runtime's fused
   SkipLayerNormalization is about 6 times slower on the CPU than the two operations it replaces.
3. **quantize**: dynamic int8 quantization stores every matrix's weights as 8-bit integers (one scale per
   output channel) and quantizes the activations as they arrive, so the large matrix products run on the
   CPU's int8 instructions (VNNI where the CPU has them).

The exported files live in ``onnx/`` inside the model folder, beside the PyTorch weights, with the
tokenizer and settings the model already has there. Parity is measured on texts given to
``onnx_export``: the largest difference in P(positive) from PyTorch's, per variant.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ml.errors import ModelError, first_line
from ml.serving.inference import Predictor
from ml.serving.labeller import resolve_model_dir
from ml.serving.onnx_inference import INPUTS, LAYERNORM_APART, ONNX_FOLDER, VARIANTS, OnnxPredictor

logger = logging.getLogger(__name__)

REPORT_FILE = "export.json"
FP32_TOLERANCE = 1e-4  # largest difference in P(positive) an fp32 export may show: rounding, nothing more
OPSET = 17


@dataclass
class ExportReport:
    """What was exported and how closely each variant agrees with PyTorch on the check texts."""

    seconds: float
    checked_texts: int
    max_difference: dict[str, float]  # variant -> largest |P_onnx(positive) - P_torch(positive)|
    label_agreement: dict[str, float]  # variant -> share of texts given the same label as PyTorch
    files: dict[str, str]


def onnx_export(model_dir: str | Path, *, check_texts: list[str]) -> ExportReport:
    """Export, optimize and quantize the model in ``model_dir``; check both variants against PyTorch on
    ``check_texts`` (``onnx_parity``, which raises ``ModelError`` for an export that answers differently)."""

    started = time.monotonic()
    folder = onnx_files_write(model_dir)
    reference = Predictor(folder).positive_probabilities(check_texts)
    answers = {v: OnnxPredictor(folder, variant=v).positive_probabilities(check_texts) for v in VARIANTS}
    return onnx_parity(folder, reference, answers, seconds=time.monotonic() - started)


def onnx_files_write(model_dir: str | Path) -> Path:
    """Write the fp32 and int8 exports into the model folder's ``onnx/``; returns the model folder."""
    folder = resolve_model_dir(model_dir)
    out = folder / ONNX_FOLDER
    out.mkdir(exist_ok=True)
    raw = out / "model-unoptimized.onnx"
    try:
        _export(folder, raw)
        graph_optimize(folder, raw, out / VARIANTS["fp32"])
        _quantize(out / VARIANTS["fp32"], out / VARIANTS["int8"])
    except Exception as exc:  # the exporters raise anything; the reason is what matters
        raise ModelError(f"cannot export {folder} to ONNX: {first_line(exc)}") from exc
    finally:
        raw.unlink(missing_ok=True)
    return folder


def onnx_parity(folder: Path, reference: np.ndarray, answers: dict[str, np.ndarray], *, seconds: float) -> ExportReport:
    """How closely each variant's P(positive) (``answers``, by variant) follows PyTorch's (``reference``)
    on the same texts; written to ``onnx/export.json``.

    Raises ``ModelError`` when the fp32 export differs from PyTorch by more than ``FP32_TOLERANCE``: an
    export that answers differently must not be served.
    """
    checked = len(reference)
    report = ExportReport(
        seconds=round(seconds, 1),
        checked_texts=checked,
        max_difference={v: float(np.abs(p - reference).max()) if checked else 0.0 for v, p in answers.items()},
        label_agreement={
            v: float(np.mean((p >= 0.5) == (reference >= 0.5))) if checked else 1.0 for v, p in answers.items()
        },
        files={variant: str(folder / ONNX_FOLDER / name) for variant, name in VARIANTS.items()},
    )
    (folder / ONNX_FOLDER / REPORT_FILE).write_text(json.dumps(asdict(report), indent=2))
    if report.max_difference["fp32"] > FP32_TOLERANCE:
        raise ModelError(
            f"the ONNX export of {folder} answers differently from PyTorch: P(positive) differs by up to "
            f"{report.max_difference['fp32']:.2g} (allowed: {FP32_TOLERANCE:g})"
        )
    return report


def _export(folder: Path, path: Path) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(folder, attn_implementation="eager").eval()
    example = AutoTokenizer.from_pretrained(folder)(["a short review", "a longer review, to vary the length"],
                                                    padding=True, return_tensors="pt")  # fmt: skip
    axes = {name: {0: "batch", 1: "tokens"} for name in INPUTS} | {"logits": {0: "batch"}}
    with torch.inference_mode():
        torch.onnx.export(
            model, tuple(example[name] for name in INPUTS), str(path), input_names=list(INPUTS),
            output_names=["logits"], dynamic_axes=axes, opset_version=OPSET, dynamo=False,
        )  # fmt: skip


def graph_optimize(folder: Path, source: Path, target: Path, *, layernorm_apart: bool = True) -> dict[str, int]:
    """The graph at ``source`` optimized by ONNX Runtime's transformer optimizer into ``target``; the fused
    operations, counted. ``layernorm_apart=False`` fuses each LayerNorm with its addition too (for
    ``bench.onnx_variants``, which measures what that costs)."""
    from onnxruntime.transformers import optimizer
    from onnxruntime.transformers.fusion_options import FusionOptions

    config = json.loads((folder / "config.json").read_text())
    fusions = FusionOptions("bert")
    for fusion in LAYERNORM_APART if layernorm_apart else ():
        setattr(fusions, fusion, False)
    optimized = optimizer.optimize_model(
        str(source),
        model_type="bert",
        num_heads=config["num_attention_heads"],
        hidden_size=config["hidden_size"],
        opt_level=1,
        optimization_options=fusions,
    )
    fused = {name: count for name, count in optimized.get_fused_operator_statistics().items() if count}
    logger.info("ONNX graph of %s optimized; fused operations: %s", folder, fused)
    optimized.save_model_to_file(str(target))
    return fused


def _quantize(source: Path, target: Path) -> None:
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _root_logger_quiet():  # the quantizer logs a line per tensor on the root logger: a run's log drowned
        quantize_dynamic(
            str(source),
            str(target),
            weight_type=QuantType.QInt8,
            per_channel=True,
            # the fused operations are unknown to ONNX's shape inference: their outputs are float
            extra_options={"DefaultTensorType": TensorProto.FLOAT},
        )


@contextlib.contextmanager
def _root_logger_quiet():
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)
