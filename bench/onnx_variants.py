"""Which ONNX int8 format and session options answer one review fastest on this CPU, at what accuracy.

The product's export (``ml.serving.onnx_export``: transformer optimizer with each LayerNorm apart from its
residual addition, then dynamic int8 with signed weights, one scale per output channel) opened as the
product opens it (``ml.serving.onnx_inference.session_open``) is the baseline; each variant is made here
from the same optimized fp32 graph, in a temporary folder, and measured in this one run on the same median
review, taking turns:

- formats: weights signed (QInt8) or unsigned (QUInt8), one scale per output channel or per matrix; and
  ``skip-layernorm-fused``, the product's format with each residual addition and its LayerNorm fused into
  ONNX Runtime's SkipLayerNormalization (what the product exported before), opened as it was then
  (``skip-layernorm-fused/sleeping``: the session fusing at load, threads sleeping between operations);
  each on every core and on one, with the product's session options;
- the product's format with one session option changed: threads that sleep between operations
  (``sleeping``), that keep spinning after the answer (``spin-after``), a session that fuses the
  LayerNorms again as it loads the graph (``fused-at-load``), the graph only as exported (``basic``).

Also each format's accuracy on test reviews against the fp32 export's, so that a faster format that
answers worse is seen as such; and ``layernorm_operators``: ONNX Runtime's fused SkipLayerNormalization
against the residual addition and the LayerNormalization apart, each alone in a graph of its own, on one
thread, at the model's width and the review's length (why the export keeps them apart).

    python -m bench.onnx_variants --model var/runs/run-1-* --out variants.json
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import common
from bench.common import imdb_reviews, median_review
from ml.hardware import cpu_cores
from ml.serving.onnx_export import graph_optimize
from ml.serving.onnx_inference import (
    INPUTS,
    LAYERNORM_APART_AT_LOAD,
    ONNX_FOLDER,
    VARIANTS,
    OnnxPredictor,
    session_open,
    session_options,
)

FORMATS = {  # name -> quantize_dynamic options; "product" is the export as ml.serving.onnx_export makes it
    "product": None,
    "s8-per-tensor": {"weight_type": "QInt8", "per_channel": False},
    "u8-per-channel": {"weight_type": "QUInt8", "per_channel": True},
    "u8-per-tensor": {"weight_type": "QUInt8", "per_channel": False},
    "skip-layernorm-fused": {"weight_type": "QInt8", "per_channel": True, "fuse_skip_layernorm": True},
}
# name -> what differs from the product's session (session_open), tried on every core
SESSION_CHANGES = {
    "product/sleeping": {"spin": False},
    "product/spin-after": {"stop": False},
    "product/fused-at-load": {"fuse_at_load": True},
    "product/basic": {"level": "basic"},
    "skip-layernorm-fused/sleeping": {"spin": False, "fuse_at_load": True},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a trained run's output folder, or its model/ folder")
    parser.add_argument("--requests", type=int, default=200, help="timed answers per variant")
    parser.add_argument("--accuracy-reviews", type=int, default=500)
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()

    reviews = imdb_reviews()
    review = median_review(reviews["text"])
    result = {"benchmark": "onnx_variants", "machine": common.machine(), "review_characters": len(review)}
    with tempfile.TemporaryDirectory(prefix="bench-onnx-") as tmp:
        files = formats(args.model, Path(tmp))
        predictors = {name: OnnxPredictor(args.model, variant="int8") for name in files}
        for name, predictor in predictors.items():
            predictor.path = files[name]
            predictor._sessions.clear()
        result["accuracy"] = accuracy(args.model, predictors, reviews, args.accuracy_reviews)
        result["one_review"] = latencies(predictors, review, args.requests)
        tokens = len(predictors["product"].tokenizer.encode(review).ids[: predictors["product"].max_length])
        result["layernorm_operators"] = layernorm_operators(args.model, tokens)
    common.emit(result, args.out)


def formats(model: str, tmp: Path) -> dict[str, Path]:
    """Each int8 format's file, quantized from the product's optimized fp32 export."""
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    folder = OnnxPredictor(model, variant="fp32").model_dir / ONNX_FOLDER
    files = {"product": folder / VARIANTS["int8"]}
    for name, options in FORMATS.items():
        if options is None:
            continue
        source = folder / VARIANTS["fp32"]
        if options.get("fuse_skip_layernorm"):
            source = skip_layernorm_fused(folder.parent, source, tmp / f"{name}-fp32.onnx")
        files[name] = tmp / f"{name}.onnx"
        quantize_dynamic(
            str(source),
            str(files[name]),
            weight_type=getattr(QuantType, options["weight_type"]),
            per_channel=options["per_channel"],
            extra_options={"DefaultTensorType": TensorProto.FLOAT},
        )
    return files


def skip_layernorm_fused(model_dir: Path, source: Path, target: Path) -> Path:
    """The optimized fp32 graph with each residual addition and its LayerNorm fused (the optimizer's default)."""
    fused = graph_optimize(model_dir, source, target, layernorm_apart=False)
    if not fused.get("SkipLayerNormalization"):
        raise RuntimeError(f"the optimizer fused no SkipLayerNormalization in {source}")
    return target


def session_changed(path: Path, threads: int, *, spin=True, stop=True, fuse_at_load=False, level="all"):
    """A session with the product's options (``session_options``) but the choices named here."""
    import onnxruntime as ort

    options = session_options(threads)  # ONNX Runtime logs a warning for each entry set again below
    options.graph_optimization_level = {
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    }[level]
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    options.add_session_config_entry("session.force_spinning_stop", "1" if stop else "0")
    disabled = [] if fuse_at_load else LAYERNORM_APART_AT_LOAD
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"], disabled_optimizers=disabled)


def accuracy(model: str, predictors: dict, reviews: dict, n: int) -> dict:
    texts, labels = reviews["text"][:n], np.array(reviews["label"][:n])
    reference = OnnxPredictor(model, variant="fp32").positive_probabilities(texts)
    out = {"reviews": len(texts), "fp32": float(np.mean((reference >= 0.5) == labels))}
    for name, predictor in predictors.items():
        probs = predictor.positive_probabilities(texts)
        out[name] = {
            "accuracy": float(np.mean((probs >= 0.5) == labels)),
            "max_difference_from_fp32": round(float(np.abs(probs - reference).max()), 4),
        }
    return out


def latencies(predictors: dict, review: str, requests: int) -> dict:
    """p50/p95 of one review per format (every core and one, the product's session options) and per
    changed session option (``SESSION_CHANGES``, every core), taking turns in rounds of 20 answers."""
    every = cpu_cores()
    runs = {}
    for (name, predictor), threads in itertools.product(predictors.items(), sorted({every, 1}, reverse=True)):
        runs[f"{name}/{threads}-threads"] = feeds_runner(predictor, session_open(predictor.path, threads), review)
    for name, changes in SESSION_CHANGES.items():
        predictor = predictors[name.split("/")[0]]
        runs[f"{name}/{every}-threads"] = feeds_runner(
            predictor, session_changed(predictor.path, every, **changes), review
        )
    times = {key: [] for key in runs}
    for _ in range(3):
        for run in runs.values():
            run()  # warm-up
    rounds = max(1, requests // 20)
    for _ in range(rounds):
        for key, run in runs.items():
            for _ in range(20):
                started = time.perf_counter()
                run()
                times[key].append(time.perf_counter() - started)
    summary = {key: summarise(seconds) for key, seconds in times.items()}
    baseline = summary[f"product/{every}-threads"]["p50_ms"]
    for values in summary.values():
        values["speedup_p50_vs_product"] = round(baseline / values["p50_ms"], 2)
    return dict(sorted(summary.items(), key=lambda item: item[1]["p50_ms"]))


def layernorm_operators(model: str, tokens: int, repeats: int = 500) -> dict:
    """Microseconds for one residual addition and LayerNorm of ``tokens`` × the model's width, fused or apart."""
    import json

    import onnxruntime as ort
    from onnx import TensorProto, helper

    width = json.loads((OnnxPredictor(model).model_dir / "config.json").read_text())["hidden_size"]
    shape = [1, tokens, width]
    fused = [helper.make_node("SkipLayerNormalization", ["x", "skip", "gamma", "beta"], ["y"], domain="com.microsoft")]
    apart = [
        helper.make_node("Add", ["x", "skip"], ["sum"]),
        helper.make_node("LayerNormalization", ["sum", "gamma", "beta"], ["y"], axis=-1),
    ]
    rng = np.random.default_rng(0)
    feeds = {name: rng.standard_normal(shape).astype(np.float32) for name in ("x", "skip")}
    out = {"tokens": tokens, "width": width, "threads": 1}
    for name, nodes in (("skip_layernorm_fused_us", fused), ("add_then_layernorm_us", apart)):
        graph = helper.make_graph(
            nodes,
            name,
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape) for n in ("x", "skip")],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
            [
                helper.make_tensor(n, TensorProto.FLOAT, [width], rng.random(width, dtype=np.float32))
                for n in ("gamma", "beta")
            ],
        )
        opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # each as written
        model_bytes = helper.make_model(graph, opset_imports=opsets).SerializeToString()
        session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
        for _ in range(50):
            session.run(None, feeds)
        started = time.perf_counter()
        for _ in range(repeats):
            session.run(None, feeds)
        out[name] = round((time.perf_counter() - started) / repeats * 1e6, 1)
    out["fused_over_apart"] = round(out["skip_layernorm_fused_us"] / out["add_then_layernorm_us"], 2)
    return out


def feeds_runner(predictor: OnnxPredictor, session, review: str):
    """One answer as the product computes it (tokenization included), on ``session``."""

    def run():
        ids = predictor.tokenizer.encode(review).ids[: predictor.max_length]
        input_ids = np.array([ids], dtype=np.int64)
        feeds = dict(zip(INPUTS, (input_ids, np.ones_like(input_ids), np.zeros_like(input_ids)), strict=True))
        return session.run(None, feeds)

    return run


def summarise(seconds: list[float]) -> dict:
    ms = sorted(s * 1000 for s in seconds)
    return {"p50_ms": round(statistics.median(ms), 2), "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 2)}


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
