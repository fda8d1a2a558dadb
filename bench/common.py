"""What every benchmark shares: the machine it ran on, timing that waits for the GPU, JSON output, a
throw-away site, and the test reviews and the figures of answering them that the serving benchmarks report.

Each benchmark runs its baseline in the same process as the thing it measures and reports the ratio:
these machines are noisy, so a ratio measured side by side means more than an absolute time.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def machine() -> dict:
    """The tag every figure carries: CPU, core count and GPU, plus the library versions that matter."""
    import torch
    import transformers

    from ml.hardware import cpu_cores

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "cpu": _cpu_model(),
        "cores": cpu_cores(),
        # the widest vector instructions PyTorch uses here (e.g. AVX2, AVX512): int8 and fp32 speed depend on it
        "cpu_vectors": torch.backends.cpu.get_cpu_capability(),
        # the instruction sets that change these figures most: bf16 and int8 in hardware or emulated
        "cpu_flags": _cpu_flags(),
        "gpu": gpu,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "commit": _git_commit(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


FLAGS_THAT_MATTER = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


def _cpu_flags() -> list[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                present = set(line.split(":", 1)[1].split())
                return [flag for flag in FLAGS_THAT_MATTER if flag in present]
    except OSError:
        pass
    return []


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    except OSError:
        return None
    return out.stdout.strip() or None


def synchronize() -> None:
    """Wait for queued GPU work, so that a clock read after it measures the work itself."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def now() -> float:
    synchronize()
    return time.perf_counter()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def parse_arguments(parser, defaults: dict[str, tuple]):
    """``parser``'s arguments plus ``--quick`` and ``--out``; each option named in ``defaults`` (name ->
    (full run, quick run)) that was not given takes the value of the run asked for."""
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke test")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    for name, (full, quick) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    return args


def emit(result: dict, out: str | None = None) -> None:
    """Print the result as JSON (the benchmark's output) and, when asked, also write it to a file."""
    text = json.dumps(result, indent=2, default=str)
    print(text, flush=True)
    if out:
        Path(out).write_text(text + "\n")


def throwaway_site(tmp: str, *, debug: bool, **settings: str) -> None:
    """Point this process's Django at a database and media folder of its own in ``tmp`` (``settings`` on
    top), set it up and migrate: a benchmark never touches the site's real data."""
    os.environ.update(
        {
            "VAR_DIR": tmp,
            "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
            "MEDIA_ROOT": f"{tmp}/media",
            "DJANGO_SETTINGS_MODULE": "webapp.settings",
            "LOG_LEVEL": "WARNING",
            "DEBUG": "true" if debug else "false",
            **{name: value for name, value in settings.items() if value},  # an empty value keeps the default
        }
    )
    os.environ.setdefault("SECRET_KEY", "benchmark-only-key-" + "x" * 40)  # the defaults have none
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


# --- reviews and answers: what the serving benchmarks share -------------------------------------------


def imdb_reviews() -> dict:
    """Official IMDb test reviews when IMDB_DATA_DIR is set, else the demo set's held-out reviews."""
    from ml.data.sources import SplitLimits, load_reviews

    imdb_dir = os.environ.get("IMDB_DATA_DIR")
    splits = load_reviews("imdb" if imdb_dir else "demo", limits=SplitLimits(max_test=2000), imdb_dir=imdb_dir)
    return {"text": list(splits.test["text"]), "label": list(splits.test["label"]), "source": splits.description}


def median_review(texts: list[str]) -> str:
    """The review of median length: what "one review" means in the latency figures."""
    return sorted(texts, key=len)[len(texts) // 2]


def latency_summary(seconds: list[float]) -> dict:
    """The answers' times as the benchmarks report them, in milliseconds."""
    ms = [s * 1000 for s in seconds]
    return {
        "requests": len(ms),
        "p50_ms": round(percentile(ms, 50), 1),
        "p95_ms": round(percentile(ms, 95), 1),
        "mean_ms": round(statistics.fmean(ms), 1),
    }


def runtime_accuracy(predictors: dict, reviews: dict, n: int, *, reference: str) -> dict:
    """Accuracy of each predictor on the same ``n`` test reviews; the cost in points against ``reference``."""
    import numpy as np

    texts, labels = reviews["text"][:n], np.asarray(reviews["label"][:n])
    out = {}
    for name, predictor in predictors.items():
        probs = predictor.positive_probabilities(texts, batch_size=32)
        out[name] = {"accuracy": round(float(((probs >= 0.5) == labels).mean()), 4), "reviews": len(texts)}
    for scores in out.values():
        scores[f"cost_points_vs_{reference}"] = round(100 * (out[reference]["accuracy"] - scores["accuracy"]), 2)
    return out


def serving_machine() -> dict:
    """``machine()`` and the version of ONNX Runtime, which computes the answers of two of the runtimes."""
    import onnxruntime

    return {**machine(), "onnxruntime": onnxruntime.__version__}
