"""What "why this answer" costs: one occlusion explanation (``ml.evaluation.explain``) against one plain prediction.

An explanation scores the review and up to ``max_pieces`` variants of it (each with one word, or one span
of words, removed) in one call, so it costs about as much as a batch of N + 1 reviews of that length.
Measured here for reviews of about 20, 100, 250 and 600 words, on one runtime of ``ml.serving.choice``
(through ``ml.serving.inference.predictor_load``, as the site serves), against the **baseline** measured in the
same run: one plain prediction of the same review. Per length: the median milliseconds of each, the
ratio, and the milliseconds per text the explanation scored (how much batching the variants saves over
scoring them one at a time). The two take turns, so that both meet the machine's ups and downs.
``--cores`` gives each answer the cores of a web process's share (``WEB_CORES``); on a busy machine one
core is also the steadier measurement, since PyTorch's threads wait on each other when a core is taken.

Real reviews come from ``$IMDB_DATA_DIR/test.parquet`` when it is set (the review whose word count is
nearest each length), else synthetic text of those lengths. Reviews beyond the model's reading length
(``max_length`` tokens, head and tail) are truncated by the model as when serving.

    IMDB_DATA_DIR=... python -m bench.explain_cost --model-dir var/runs/run-1-*/ --runtime onnx-int8
    python -m bench.explain_cost --model-dir var/runs/run-1-*/ --quick    # a smoke test: a minute or two
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import statistics
import time
from pathlib import Path

from bench import common

LENGTHS = (20, 100, 250, 600)  # words
# (full run, --quick) for the options left unset
DEFAULTS = {"repeats": (20, 3)}

_POSITIVE = ["great", "wonderful", "loved", "brilliant", "moving", "superb"]
_NEGATIVE = ["awful", "boring", "hated", "dull", "tedious", "worst"]
_FILLER = ["the", "film", "plot", "actor", "scene", "story", "movie", "camera", "music", "ending", "was", "and", "a"]


def main() -> None:
    from ml.evaluation.explain import MAX_PIECES
    from ml.serving.choice import PYTORCH, RUNTIMES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", required=True, help="a trained run's output folder, or its model/ folder")
    parser.add_argument("--runtime", default=PYTORCH, choices=RUNTIMES, help="the runtime that answers (pytorch)")
    parser.add_argument("--lengths", default=",".join(map(str, LENGTHS)), help="review lengths in words")
    parser.add_argument("--max-pieces", type=int, default=MAX_PIECES, help="the explanation's bound on the variants")
    parser.add_argument("--cores", type=int, default=0, help="cores one answer may use (0: the runtime's choice)")
    parser.add_argument("--repeats", type=int, help="timed predictions and explanations per length (20)")
    args = common.parse_arguments(parser, DEFAULTS)
    lengths = [int(n) for n in args.lengths.split(",") if n]

    from ml.serving.inference import predictor_load
    from ml.serving.labeller import resolve_model_dir

    model_dir = resolve_model_dir(args.model_dir)
    started = time.perf_counter()
    predictor = predictor_load(model_dir, args.runtime)
    load_seconds = time.perf_counter() - started
    score = functools.partial(predictor.positive_probabilities, cores=args.cores or None)
    reviews, source = reviews_of(lengths)
    result = {
        "benchmark": "explain_cost",
        "machine": common.machine(),
        "model": str(model_dir),
        "runtime": predictor.runtime,
        "max_length_tokens": predictor.max_length,
        "truncation": predictor.truncation,
        "load_seconds": round(load_seconds, 2),
        "reviews": source,
        "cores": args.cores or "the runtime's choice",
        "max_pieces": args.max_pieces,
        "repeats": args.repeats,
        "baseline": "one plain prediction of the same review",
        "lengths": {str(n): cost(score, reviews[n], args.repeats, args.max_pieces) for n in lengths},
    }
    common.emit(result, args.out)


def reviews_of(lengths: list[int]) -> tuple[dict[int, str], str]:
    """A review of about each length in words: the official test review nearest it, or synthetic text."""
    imdb_dir = os.environ.get("IMDB_DATA_DIR")
    if imdb_dir:
        import pandas as pd

        file = Path(imdb_dir) / "test.parquet"
        texts = list(pd.read_parquet(file, columns=["text"])["text"])
        counts = [len(t.split()) for t in texts]
        chosen = {n: texts[min(range(len(texts)), key=lambda i, n=n: (abs(counts[i] - n), i))] for n in lengths}
        return chosen, f"IMDb test reviews ({file})"
    rng = random.Random(0)  # noqa: S311 (text, not secrets)
    return {n: synthetic_review(n, rng) for n in lengths}, "synthetic text (set IMDB_DATA_DIR for real reviews)"


def synthetic_review(words: int, rng: random.Random) -> str:
    """Filler with a sentiment word in about one of eight places, in sentences of about twelve words."""
    out = []
    for i in range(words):
        pool = rng.choice([_POSITIVE, _NEGATIVE]) if rng.random() < 0.125 else _FILLER
        word = rng.choice(pool)
        out.append(word + ("." if i % 12 == 11 else ""))
    return " ".join(out)


def cost(score, review: str, repeats: int, max_pieces: int) -> dict:
    """Median time of one prediction and of one explanation of ``review`` (both answered by ``score``,
    P(positive) of a list of texts), taking turns after a warm-up."""
    from ml.evaluation.explain import explain

    def predict() -> None:
        score([review])

    def explained():
        return explain(score, review, max_pieces=max_pieces)

    predict()
    explanation = explained()
    plain, explaining = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        predict()
        plain.append(time.perf_counter() - started)
        started = time.perf_counter()
        explained()
        explaining.append(time.perf_counter() - started)
    plain_ms = statistics.median(plain) * 1000
    explain_ms = statistics.median(explaining) * 1000
    return {
        "words": len(review.split()),
        "characters": len(review),
        "unit": explanation.to_dict()["unit"],
        "texts_scored": explanation.evaluations,
        "prediction_ms": round(plain_ms, 1),
        "explanation_ms": round(explain_ms, 1),
        "explanation_vs_prediction": round(explain_ms / plain_ms, 1),
        "explanation_ms_per_text_scored": round(explain_ms / explanation.evaluations, 1),
        "positive_probability": round(explanation.positive_probability, 4),
    }


if __name__ == "__main__":
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    main()
