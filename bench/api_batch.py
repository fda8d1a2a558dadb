"""64 reviews through API v1: one batch request against 64 single requests, on the same server.

The **baseline** is what a script without the batch endpoint does: 64 ``POST /api/v1/classify``, one
after the other on one keep-alive connection. The **candidate** is one ``POST /api/v1/classify/batch``
of the same 64 reviews (the model reads them as batches, and the 64 answers are saved in one insert).
Both go to one gunicorn server with the project's config (DEBUG off; the rate limits raised, still
counted in Redis) serving the run's model on the runtime ``SERVE_RUNTIME=auto`` picks for it. After a
warm-up of each, the two take turns for ``--rounds`` rounds, so that both meet the machine's ups and
downs; the figures are the median and best round of each, and their ratio. The batch's labels are
checked against the single answers' for the same texts. ``--sizes`` also times batches of other sizes
(reviews per second), to show where batching stops paying. ``--lengths`` runs it all on the reviews as
they are and cut to their first N words: a batch saves each request's own cost (HTTP, Django, the key,
the insert), which counts for much beside a short review and little beside a long one, whose time is
the model's.

    make train && python -m bench.api_batch --model var/runs/run-1-* --out result.json
    python -m bench.api_batch --model var/runs/run-1-* --quick      # a smoke test: a minute
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import tempfile
import time

from bench import common
from bench.common import imdb_reviews, serving_machine
from bench.served_site import post, promoted_run, server, unlimited_rates, web_workers

BATCH = 64  # the batch; API_BATCH_MAX by default
TARGET = 1 / 3  # the batch takes at most a third of the singles' time
DEFAULTS = {"rounds": (7, 2), "sizes": ("1,8,16,32,64", "8,64"), "lengths": ("full,20", "full,20")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a trained run's output folder, or its model/ folder")
    parser.add_argument("--rounds", type=int, help="timed rounds of each way (7)")
    parser.add_argument("--sizes", help="batch sizes also timed, comma-separated (1,8,16,32,64)")
    parser.add_argument(
        "--lengths", help="the reviews whole ('full') and cut to their first N words, comma-separated (full,20)"
    )
    args = common.parse_arguments(parser, DEFAULTS)

    with tempfile.TemporaryDirectory(prefix="bench-api-batch-") as tmp:
        unlimited_rates()
        os.environ.setdefault("RATE_LIMIT_API_BATCH", "100000000/m")
        common.throwaway_site(tmp, debug=False)
        from ml.serving.labeller import resolve_model_dir
        from sentiment.selectors.serving import training_run_serving_runtime

        model_dir = resolve_model_dir(args.model)
        run, key = promoted_run(model_dir)
        runtime = training_run_serving_runtime(run=run)
        reviews = distinct_reviews(BATCH)
        result = {
            "benchmark": "api_batch",
            "machine": serving_machine(),
            "model": str(model_dir),
            "runtime": runtime,
            "web_workers": web_workers(),
            "baseline": f"{BATCH} single POST /api/v1/classify, one after the other, one keep-alive connection",
            "candidate": f"one POST /api/v1/classify/batch of the same {BATCH} reviews",
            "lengths": {},
        }
        with server(tmp, "api-batch", runtime=runtime) as port:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            for length in args.lengths.split(","):
                texts = reviews if length == "full" else [" ".join(r.split()[: int(length)]) for r in reviews]
                result["lengths"][length] = compare(conn, key, texts, args)
            conn.close()
        result["targets"] = {
            f"batch_at_most_a_third_of_singles_{length}": {
                "measured": measured["batch_over_singles"],
                "target": f"<= {TARGET:.3f}",
                "met": measured["batch_over_singles"] <= TARGET,
            }
            for length, measured in result["lengths"].items()
        }
    common.emit(result, args.out)


def compare(conn, key: str, texts: list[str], args) -> dict:
    """The two ways on the same texts, taking turns after a warm-up each; batch sizes; labels compared."""
    one_by_one = singles(conn, key, texts)[1]  # warm-up of each way, and the answers to compare
    together = batch(conn, key, texts)[1]
    if [text for text, _ in together] != [text for text, _ in one_by_one]:
        raise RuntimeError("the batch did not answer in the order of its reviews")
    times = {"singles": [], "batch": []}
    for _ in range(args.rounds):
        times["singles"].append(singles(conn, key, texts)[0])
        times["batch"].append(batch(conn, key, texts)[0])
    seconds = {way: summary(measured, len(texts)) for way, measured in times.items()}
    return {
        "reviews": {"count": len(texts), "mean_words": round(statistics.mean(len(t.split()) for t in texts), 1)},
        "same_labels": {
            "agree": sum(a[1] == b[1] for a, b in zip(one_by_one, together, strict=True)),
            "of": len(texts),
        },
        "seconds": seconds,
        "batch_over_singles": round(seconds["batch"]["median"] / seconds["singles"]["median"], 3),
        "sizes": {
            size: summary([batch(conn, key, texts[:size])[0] for _ in range(args.rounds)], size)
            for size in (int(s) for s in args.sizes.split(",") if s)
            if 0 < size <= len(texts)
        },
    }


def distinct_reviews(n: int) -> list[str]:
    """``n`` different test reviews, in the order the data gives them (their lengths as they come)."""
    seen, texts = set(), []
    for text in imdb_reviews()["text"]:
        if text not in seen:
            seen.add(text)
            texts.append(text)
        if len(texts) == n:
            return texts
    raise RuntimeError(f"fewer than {n} distinct reviews in the data")


def singles(conn, key: str, texts: list[str]) -> tuple[float, list[tuple[str, str]]]:
    """Seconds for one request per review, and each answer's (text as saved, label)."""
    answers = []
    started = time.perf_counter()
    for text in texts:
        answers.append(_answer(post(0, "/api/v1/classify", {"text": text}, key=key, conn=conn)))
    return time.perf_counter() - started, [(a["text"], a["label"]) for a in answers]


def batch(conn, key: str, texts: list[str]) -> tuple[float, list[tuple[str, str]]]:
    started = time.perf_counter()
    answers = _answer(post(0, "/api/v1/classify/batch", {"reviews": texts}, key=key, conn=conn))["answers"]
    return time.perf_counter() - started, [(a["text"], a["label"]) for a in answers]


def _answer(response: tuple[int, bytes]) -> dict:
    status, data = response
    if status != 200:
        raise RuntimeError(f"the API answered {status}: {data[:300]!r}")
    return json.loads(data)


def summary(seconds: list[float], reviews: int) -> dict:
    median = statistics.median(seconds)
    return {
        "median": round(median, 4),
        "min": round(min(seconds), 4),
        "rounds": len(seconds),
        "reviews_per_second": round(reviews / median, 1),
    }


if __name__ == "__main__":
    main()
