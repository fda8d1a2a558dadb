"""The out-of-domain check: the model on short reviews of other things, written in other ways.

IMDb reviews are long (230 words on average) and most give their verdict at the end. People on the site
write one line about a film, a restaurant or a phone, often verdict first ("Avoid. The battery died in a
week."). A model can score 0.90 on IMDb's test reviews and much less on those: its test accuracy measures
it *in domain*, on reviews like the ones it learnt from. Accuracy on text of another kind is its
*out-of-domain* accuracy, and the gap between the two is how far the model's skill travels.

``short_reviews.csv`` beside this module is a labelled set of 360 short reviews (films, TV, books,
products, restaurants, hotels, games, music, apps, theatre; one-liners, critics' snippets, verdict first,
negation, contrast, informal, understated), 180 of each label and balanced to within one in every kind and
way of writing, written for this project and read by a second labeller (the README, "Knowing a model before
it serves"). No recipe trains on it (a test keeps it apart from the counterfactual pairs and the behavioural
battery; crops come from the run's own training reviews); every run is scored on it at the end, beside its
test reviews, and the run page, the comparison and the promote page show the figure.

Like the behavioural battery, the set is versioned: ``SET_VERSION`` changes whenever a row changes, and
results of different versions are never compared. ``SET_SHA256`` pins the file's bytes to the version,
so a row edited without a new version is refused instead of quietly compared with older runs.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml.errors import DataError, ModelError

logger = logging.getLogger(__name__)

SET_FILE = Path(__file__).with_name("short_reviews.csv")
SET_VERSION = "1"
SET_SHA256 = "92c716e5511fcfaeb037a9668114c88c1d8171b48cff3ab4ed1f6917afbb5ff3"
LABELS = {"negative": 0, "positive": 1}

Scorer = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class ShortReview:
    text: str
    label: int  # 0 negative, 1 positive
    kind: str  # what is reviewed: film, product, restaurant...
    style: str  # how: one_line, critic, verdict_first, negation, contrast, informal, understated


def short_reviews(path: Path = SET_FILE, *, sha256: str | None = SET_SHA256) -> list[ShortReview]:
    """The set's rows, after checking the file is the one ``SET_VERSION`` names (``sha256=None``: any file)."""
    data = path.read_bytes()
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise DataError(
            f"{path.name} has changed since version {SET_VERSION} of the out-of-domain set: give it a new "
            "SET_VERSION and SET_SHA256 (ml/evaluation/out_of_domain.py) so that results are not compared across sets"
        )
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))
    return [ShortReview(row["text"], LABELS[row["label"]], row["kind"], row["style"]) for row in rows]


def out_of_domain_check(score: Scorer, *, reviews: Sequence[ShortReview] | None = None, max_mistakes: int = 10) -> dict:
    """Score the set with ``score(texts) -> P(positive) per text``: accuracy overall, per kind and per style,
    and the ``max_mistakes`` most confident wrong answers. Plain JSON-ready types."""
    started = time.monotonic()
    reviews = list(short_reviews() if reviews is None else reviews)
    probabilities = np.asarray(score([r.text for r in reviews]), dtype=np.float64)
    if probabilities.shape != (len(reviews),) or not np.all((probabilities >= 0) & (probabilities <= 1)):
        raise ModelError(f"the out-of-domain check needs {len(reviews)} probabilities between 0 and 1")
    right = (probabilities >= 0.5) == np.asarray([r.label == 1 for r in reviews])
    logger.info(
        "out-of-domain check v%s: %d of %d right in %.1f s",
        SET_VERSION, int(right.sum()), len(reviews), time.monotonic() - started,
    )  # fmt: skip
    return {
        "version": SET_VERSION,
        **_share(right),
        "by_kind": _grouped(reviews, right, lambda r: r.kind),
        "by_style": _grouped(reviews, right, lambda r: r.style),
        "mistakes": _mistakes(reviews, probabilities, right, max_mistakes),
    }


def _share(right: np.ndarray) -> dict:
    return {"reviews": len(right), "right": int(right.sum()), "accuracy": round(float(right.mean()), 4)}


def _grouped(reviews: Sequence[ShortReview], right: np.ndarray, key) -> dict[str, dict]:
    groups: dict[str, list[int]] = defaultdict(list)
    for index, review in enumerate(reviews):
        groups[key(review)].append(index)
    return {name: _share(right[indexes]) for name, indexes in sorted(groups.items())}


def _mistakes(reviews, probabilities: np.ndarray, right: np.ndarray, limit: int) -> list[dict]:
    wrong = [i for i in np.argsort(-np.abs(probabilities - 0.5), kind="stable") if not right[i]][:limit]
    return [
        {
            "text": reviews[i].text,
            "expected": "positive" if reviews[i].label else "negative",
            "positive_probability": round(float(probabilities[i]), 4),
            "kind": reviews[i].kind,
            "style": reviews[i].style,
        }
        for i in wrong
    ]
