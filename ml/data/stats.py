"""What an uploaded labelled data set holds, before anyone trains on it: the figures its preview shows.

- **size and balance**: how many reviews, how many of each label. A set that is mostly one label teaches
  a model that answering that label is usually right; its accuracy then says little.
- **lengths** in words: the model reads at most ``max_length`` word pieces (about 1.3 per word in
  English), so a set of long reviews is cut more, and costs more to train on. The histogram has the bins
  a run records about its own reviews (``ml.training.run_measures.words_profile``), so that the launch form's
  estimate reads an uploaded set's figures as it reads a finished run's.
- **overlap with IMDb's test set**: an uploaded review that is also an IMDb test review leaks the test
  into training. A model trained on it is scored on reviews it has seen, and its IMDb test accuracy is
  flattering, not honest. ``imdb_test_digests`` reads the test reviews once per process.
"""

from __future__ import annotations

import csv
import functools
import json
import math
import statistics
from collections.abc import Sequence
from pathlib import Path

from ml.data.labelled_sets import TEST_PERCENT, review_digest, review_words
from ml.errors import DataError, first_line
from ml.training.run_measures import words_profile

IMDB_TEST_FILES = ("test.parquet", "test.csv", "test.jsonl", "test.json")  # as ml.data.sources reads a folder


def dataset_stats(
    *,
    texts: Sequence[str],
    labels: Sequence[int],
    in_test: Sequence[bool],
    duplicates: int,
    overlap: dict,
) -> dict:
    """The preview's figures of a checked set (``texts`` without duplicates, ``labels`` 0/1), as plain JSON.

    Keys:

    - ``rows``: reviews kept; ``duplicates_dropped``: exact repeats (same text, same label) left out;
    - ``positive``, ``negative``: reviews of each label; ``positive_share``: positives / rows;
    - ``words``: review lengths in words (HTML breaks are not words): ``{"edges", "counts", "mean",
      "min", "median", "p90", "max"}``; ``counts[i]`` is how many reviews have ``edges[i] <= words <
      edges[i + 1]``, the last bin takes every longer review, and the counts add up to ``rows``
      (the shape of ``ml.training.run_measures.words_profile``, which a run records about its training reviews);
    - ``split``: ``{"train", "test", "test_percent"}``, the reviews in each saved file;
    - ``overlap``: ``imdb_overlap``'s answer.
    """
    positive = sum(1 for label in labels if label == 1)
    tested = sum(1 for test in in_test if test)
    return {
        "rows": len(texts),
        "duplicates_dropped": duplicates,
        "positive": positive,
        "negative": len(labels) - positive,
        "positive_share": round(positive / len(labels), 4) if labels else None,
        "words": words_summary(texts),
        "split": {"train": len(texts) - tested, "test": tested, "test_percent": TEST_PERCENT},
        "overlap": overlap,
    }


def words_summary(texts: Sequence[str]) -> dict:
    """``words_profile``'s histogram and mean, with the smallest, median, 90th-percentile and largest length."""
    cleaned = [" ".join(review_words(text)) for text in texts]
    profile = words_profile(cleaned)
    lengths = sorted(len(text.split()) for text in cleaned)
    if not lengths:
        return {**profile, "min": None, "median": None, "p90": None, "max": None}
    p90 = lengths[max(0, math.ceil(0.9 * len(lengths)) - 1)]  # nearest rank: 90% of reviews are this long or less
    return {**profile, "min": lengths[0], "median": statistics.median(lengths), "p90": p90, "max": lengths[-1]}


def histogram_bars(words: dict) -> list[dict]:
    """The length histogram as bars to draw, ``{"label": "100–124", "count": n}``, without the empty bins
    past the longest review (IMDb's bins reach 2,500 words; most sets stop far earlier)."""
    edges, counts = words.get("edges") or [], words.get("counts") or []
    last = max((i for i, n in enumerate(counts) if n), default=-1)
    bars = []
    for i, count in enumerate(counts[: last + 1]):
        final = i == len(counts) - 1
        label = f"{edges[i]:,}+" if final else f"{edges[i]:,}–{edges[i + 1] - 1:,}"
        bars.append({"label": label, "count": count})
    return bars


def imdb_overlap(digests: Sequence[bytes], in_test: Sequence[bool], *, imdb_dir: str | None) -> dict:
    """How many of the reviews (by ``review_digest``) are IMDb test reviews, read from ``imdb_dir``.

    ``{"checked": True, "reviews": n, "train": n in the training part, "share": n / rows, "imdb_test":
    reviews in IMDb's test set, "source": the file}``, or ``{"checked": False, "reason": why not}``: the
    preview says the overlap is unknown rather than zero.
    """
    if not imdb_dir:
        return {
            "checked": False,
            "reason": "IMDB_DATA_DIR is not set, so this site has no copy of IMDb's test reviews to compare with",
        }
    try:
        source, imdb = imdb_test_digests(imdb_dir)
    except DataError as exc:
        return {"checked": False, "reason": str(exc)}
    shared = [digest in imdb for digest in digests]
    return {
        "checked": True,
        "reviews": sum(shared),
        "train": sum(1 for hit, test in zip(shared, in_test, strict=True) if hit and not test),
        "share": round(sum(shared) / len(digests), 4) if digests else 0.0,
        "imdb_test": len(imdb),
        "source": source,
    }


def imdb_test_digests(folder: str) -> tuple[str, frozenset[bytes]]:
    """The file of IMDb's test reviews in ``folder`` and their ``review_digest``s, read once per process
    (again when the file changes): about 25,000 reviews, a second to read, a few megabytes to keep."""
    path = _imdb_test_file(Path(folder).expanduser())
    try:
        stat = path.stat()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    return str(path), _digests_of(str(path), stat.st_mtime_ns, stat.st_size)


def _imdb_test_file(folder: Path) -> Path:
    if not folder.is_dir():
        raise DataError(f"IMDB_DATA_DIR ({folder}) is not a folder")
    for name in IMDB_TEST_FILES:
        if (folder / name).is_file():
            return folder / name
    raise DataError(f"IMDB_DATA_DIR ({folder}) has no {', '.join(IMDB_TEST_FILES)}")


@functools.lru_cache(maxsize=2)
def _digests_of(path: str, mtime_ns: int, size: int) -> frozenset[bytes]:  # the stamp keys the cache
    try:
        return frozenset(review_digest(text) for text in _test_texts(Path(path)) if isinstance(text, str))
    except (OSError, ValueError, KeyError, TypeError, NotImplementedError, csv.Error) as exc:  # pyarrow's are these
        raise DataError(f"cannot read the IMDb test reviews in {path}: {first_line(exc)}") from None


def _test_texts(path: Path):
    """The ``text`` of every row, a batch at a time: only that column is read from a parquet file."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq  # only when used: web processes do not load pyarrow otherwise

        for batch in pq.ParquetFile(str(path)).iter_batches(columns=["text"], batch_size=4096):
            yield from batch.column(0).to_pylist()
    elif path.suffix == ".csv":
        csv.field_size_limit(max(csv.field_size_limit(), 2**24))  # a review can be longer than csv's 128 KiB
        with path.open(encoding="utf-8", newline="") as file:
            for row in csv.DictReader(file):
                yield row["text"]
    else:
        with path.open(encoding="utf-8") as file:
            for line in file:
                if line.strip():
                    yield json.loads(line)["text"]
