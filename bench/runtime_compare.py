"""Serving runtimes side by side on a CPU: PyTorch (fp32, int8: today's serving path) against ONNX Runtime
(the optimized export, fp32 and int8), each through the product's own predictor classes.

Measured in one run, each against the PyTorch int8 baseline:

- p50/p95 of one median-length IMDb review, in-process (tokenization included);
- CSV-style throughput: reviews per second over many reviews, batches of 8, one batch per core;
- accuracy on official IMDb test reviews (or the demo set's held-out ones) and each variant's cost
  against PyTorch fp32;
- the memory of a process that loads the model and answers once (PyTorch int8 against ONNX int8, each in
  a fresh process; the ONNX one never imports torch);
- a bert-base-sized model (random weights: speed only), exported the same way: one review p50.

    make train && python -m manage export_onnx var/runs/run-1-*  # the export is made if missing
    IMDB_DATA_DIR=... python -m bench.runtime_compare --model var/runs/run-1-*/ --out result.json
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import common
from bench.common import imdb_reviews, latency_summary, median_review, runtime_accuracy

BASELINE = "torch_int8"
CSV_BATCH = 8  # as the CSV worker classifies (sentiment/services/csv_jobs.py)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a trained run's output folder, or its model/ folder")
    parser.add_argument("--requests", type=int, default=300, help="timed single reviews per variant")
    parser.add_argument("--accuracy-reviews", type=int, default=1000)
    parser.add_argument("--csv-reviews", type=int, default=600)
    parser.add_argument("--skip-bert-base", action="store_true")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()

    from ml.serving.labeller import resolve_model_dir
    from ml.serving.onnx_inference import onnx_folder

    model = resolve_model_dir(args.model)
    reviews = imdb_reviews()
    if not (onnx_folder(model) / "model-int8.onnx").is_file():
        export(model, reviews["text"][:300])
    review = median_review(reviews["text"])
    predictors = load_all(model)
    result = {"benchmark": "runtime_compare", "machine": machine(), "model": str(model)}
    result["review"] = {"characters": len(review), "source": reviews["source"]}
    result["one_review"] = one_review(predictors, review, args.requests)
    result["csv"] = throughput(predictors, reviews["text"][: args.csv_reviews])
    result["accuracy"] = runtime_accuracy(predictors, reviews, args.accuracy_reviews, reference="torch_fp32")
    result["memory_mb"] = {name: process_memory(model, name) for name in ("torch_int8", "onnx_int8")}
    if not args.skip_bert_base:
        result["bert_base_one_review"] = bert_base(review, args.requests // 3)
    common.emit(result, args.out)


def machine() -> dict:
    import onnxruntime

    return {**common.machine(), "onnxruntime": onnxruntime.__version__, "cpu_flags": cpu_flags()}


def cpu_flags() -> list[str]:
    """The vector extensions that decide int8 speed (VNNI: int8 dot products in one instruction)."""
    wanted = {"avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8"}
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return sorted(wanted & set(line.split(":", 1)[1].split()))
    return []


def export(model: Path, texts: list[str]) -> None:
    from ml.serving.onnx_export import onnx_export

    report = onnx_export(model, check_texts=texts)
    print(f"exported: {report}", file=sys.stderr)


def load_all(model: Path) -> dict:
    from ml.serving.inference import Predictor
    from ml.serving.onnx_inference import OnnxPredictor

    return {
        "torch_fp32": Predictor(model),
        "torch_int8": Predictor(model, int8=True),
        "onnx_fp32": OnnxPredictor(model, variant="fp32"),
        "onnx_int8": OnnxPredictor(model, variant="int8"),
    }


def times(predictor, texts: list[str], requests: int) -> list[float]:
    """Seconds per answer, after a warm-up."""
    for _ in range(5):
        predictor.predict(texts)
    out = []
    for _ in range(requests):
        started = time.perf_counter()
        predictor.predict(texts)
        out.append(time.perf_counter() - started)
    return out


def one_review(predictors: dict, review: str, requests: int) -> dict:
    """Rounds of 20 answers per variant in turn, so that every variant meets the machine's ups and downs."""
    samples = {name: [] for name in predictors}
    for _ in range(max(1, requests // 20)):
        for name, predictor in predictors.items():
            samples[name] += times(predictor, [review], 20)
    out = {name: latency_summary(seconds) for name, seconds in samples.items()}
    for name in predictors:
        out[name]["speedup_vs_" + BASELINE] = round(out[BASELINE]["p50_ms"] / out[name]["p50_ms"], 2)
    return out


def throughput(predictors: dict, texts: list[str]) -> dict:
    """Reviews per second over ``texts`` in batches of 8, one batch per core (the CSV worker's way)."""
    from ml.hardware import cpu_cores

    out = {}
    for name, predictor in predictors.items():
        predictor.predict(texts[:16], batch_size=CSV_BATCH, threads=cpu_cores(), cores=1)
        started = time.perf_counter()
        predictor.predict(texts, batch_size=CSV_BATCH, threads=cpu_cores(), cores=1)
        seconds = time.perf_counter() - started
        out[name] = {"reviews_per_second": round(len(texts) / seconds, 1)}
    for name in predictors:
        out[name]["speedup_vs_" + BASELINE] = round(
            out[name]["reviews_per_second"] / out[BASELINE]["reviews_per_second"], 2
        )
    return out


# VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across exec, so a process started by this
# (large) one would report this one's peak.
MEMORY_PROBE = """
import sys
kind = sys.argv[2]
if kind == "onnx_int8":
    from ml.serving.onnx_inference import OnnxPredictor
    predictor = OnnxPredictor(sys.argv[1], variant="int8")
else:
    from ml.serving.inference import Predictor
    predictor = Predictor(sys.argv[1], int8=True)
predictor.predict(["A moving, beautifully acted film."])
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:")).split()[1]
print(int(peak) / 1024, "torch" in sys.modules)
"""


def process_memory(model: Path, kind: str) -> dict:
    """Peak resident memory of a fresh process that loads the model and answers once."""
    output = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(model), kind], capture_output=True, text=True, check=True,
        cwd=common.ROOT,
    )  # fmt: skip
    megabytes, torch_loaded = output.stdout.split()
    return {"peak_rss_mb": round(float(megabytes)), "torch_imported": torch_loaded == "True"}


def bert_base(review: str, requests: int) -> dict:
    """A bert-base-sized classifier (12 layers, 768 wide; random weights) with the MiniLM tokenizer."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from ml.base_models import builtin_models
    from ml.serving.inference import Predictor
    from ml.serving.onnx_export import onnx_export
    from ml.serving.onnx_inference import OnnxPredictor

    with tempfile.TemporaryDirectory(prefix="bench-bert-base-") as tmp:
        folder = Path(tmp)
        tokenizer = AutoTokenizer.from_pretrained(builtin_models()["minilm"])
        BertForSequenceClassification(BertConfig(vocab_size=tokenizer.vocab_size)).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        onnx_export(folder, check_texts=[review])
        predictors = {
            "torch_int8": Predictor(folder, int8=True),
            "onnx_int8": OnnxPredictor(folder, variant="int8"),
        }
        out = {name: latency_summary(times(predictor, [review], requests)) for name, predictor in predictors.items()}
        shutil.rmtree(folder / "onnx", ignore_errors=True)
    out["onnx_int8"]["speedup_vs_torch_int8"] = round(out["torch_int8"]["p50_ms"] / out["onnx_int8"]["p50_ms"], 2)
    return out


if __name__ == "__main__":
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    main()
