"""Which ONNX int8 format and session options answer one review fastest on this CPU, at what accuracy.

The product's export (``ml.serving.onnx_export``: transformer optimizer, then dynamic int8 with signed weights,
one scale per output channel) is the baseline; each variant is made here from the same optimized fp32
graph, in a temporary folder, and measured in this one run on the same median review, taking turns:

- weights signed (QInt8) or unsigned (QUInt8), one scale per output channel or per matrix;
- the graph optimized further when the session loads it (ORT_ENABLE_ALL) or only as exported (basic);
- intra-op threads: every core, or one;
- threads that spin between operations, or sleep (what the web processes use: they share the cores).

Also each format's accuracy on test reviews against the fp32 export's, so that a faster format that
answers worse is seen as such.

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
from ml.serving.onnx_inference import INPUTS, ONNX_FOLDER, VARIANTS, OnnxPredictor

FORMATS = {  # name -> quantize_dynamic options; "product" is the export as ml.serving.onnx_export makes it
    "product": None,
    "s8-per-tensor": {"weight_type": "QInt8", "per_channel": False},
    "u8-per-channel": {"weight_type": "QUInt8", "per_channel": True},
    "u8-per-tensor": {"weight_type": "QUInt8", "per_channel": False},
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
        files[name] = tmp / f"{name}.onnx"
        quantize_dynamic(
            str(folder / VARIANTS["fp32"]),
            str(files[name]),
            weight_type=getattr(QuantType, options["weight_type"]),
            per_channel=options["per_channel"],
            extra_options={"DefaultTensorType": TensorProto.FLOAT},
        )
    return files


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
    """p50/p95 of one review per (format, optimization, threads, spinning), taking turns in rounds."""
    import onnxruntime as ort

    levels = {"all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL, "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC}
    runs = {}
    for (name, predictor), level, threads, spin in itertools.product(
        predictors.items(), levels, sorted({cpu_cores(), 1}, reverse=True), ("sleep", "spin")
    ):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = levels[level]
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin == "spin" else "0")
        session = ort.InferenceSession(str(predictor.path), options, providers=["CPUExecutionProvider"])
        runs[f"{name}/{level}/{threads}-threads/{spin}"] = feeds_runner(predictor, session, review)
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
    baseline = summary[f"product/all/{cpu_cores()}-threads/sleep"]["p50_ms"]
    for values in summary.values():
        values["speedup_p50_vs_product"] = round(baseline / values["p50_ms"], 2)
    return dict(sorted(summary.items(), key=lambda item: item[1]["p50_ms"]))


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
