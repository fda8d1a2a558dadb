"""More kinds of review to learn from, made from what a run already has: short crops and counterfactual pairs.

A model learns what its training reviews show. IMDb's are long and most give their verdict last, so a model
trained on them alone reads a one-line review, or a verdict that comes first, less well than a review like
its training ones (the out-of-domain check, ``ml.evaluation.out_of_domain``, measures how much less). Two
cheap additions show it more kinds of text; both are short, so they add little to a run's time:

- **Short crops**: one or two sentences from the start or the end of a training review, trained on as a
  review of their own with the review's label. A crop can disagree with its review ("The first hour is a
  delight." from a negative review), so a crop is kept only where a sentiment *lexicon* (a list of words
  with a polarity each; VADER, Hutto & Gilbert 2014, made for short social-media text) reads it clearly the
  way the review's label says. The crops come from the run's own training reviews, never its validation or
  test reviews.
- **Counterfactual pairs** (Kaushik, Hovy & Lipton 2020, "Learning the Difference that Makes a Difference
  with Counterfactually-Augmented Data"): a short passage and a copy edited as little as possible to say the
  opposite ("The jokes never fall flat." / "The jokes always fall flat."). Trained on both, a model learns
  which words carry the verdict (a negation, the clause after "but") instead of the words that merely tend to
  appear in positive or negative reviews. ``counterfactual_pairs.csv`` beside this module holds 300 pairs
  written for this project (negation, contrast, verdict words, verdict first, understated), film and TV only
  and kept apart from the out-of-domain set and the behavioural battery by a test.
"""

from __future__ import annotations

import csv
import functools
import re
from pathlib import Path

import datasets
import numpy as np

PAIRS_FILE = Path(__file__).with_name("counterfactual_pairs.csv")
CROP_MIN_POLARITY = 0.5  # VADER's compound score runs from -1 to 1; below this in size a crop is not clear
CROP_MAX_WORDS = 40  # the length of a short review; longer crops are neither short nor cheap
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(A-Z0-9])")


def sentences(text: str) -> list[str]:
    """A review cut into sentences: after . ! or ? followed by a space and what can start a sentence."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def short_crops(train: datasets.Dataset, *, limit: int, seed: int) -> datasets.Dataset:
    """Up to ``limit`` short crops of ``train``'s reviews (``text`` and ``label`` columns), each one or two
    sentences from a review's start or end that the lexicon reads as the review's label, half of them
    positive: the lexicon finds clear praise more often than clear blame (a negative review praises what it
    is about to pan), and crops that lean one way would teach the model to lean. Reviews are visited in a
    seeded order, each giving at most one crop from its end and one from its start."""
    rng = np.random.default_rng(seed)
    columns = train.select_columns(["text", "label"])[:]  # plain lists: a column read row by row is slow
    texts, labels = columns["text"], columns["label"]
    wanted = {0: limit // 2, 1: limit - limit // 2}
    crops: dict[str, int] = {}
    for index in rng.permutation(len(texts)):
        label = int(labels[index])
        parts = sentences(texts[index]) if wanted[label] else []
        if len(parts) < 3:  # a review of one or two sentences is already short
            continue
        for crop in (" ".join(parts[-int(rng.integers(1, 3)) :]), " ".join(parts[: int(rng.integers(1, 3))])):
            if wanted[label] and crop not in crops and _clearly(crop, label):
                crops[crop] = label
                wanted[label] -= 1
        if not any(wanted.values()):
            break
    return datasets.Dataset.from_dict(
        {"text": list(crops), "label": list(crops.values())}, features=train.features.copy()
    )


def counterfactual_pairs(path: Path = PAIRS_FILE) -> datasets.Dataset:
    """Both sides of every pair as reviews: the positive text labelled 1, the negative one 0."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    texts = [text for row in rows for text in (row["positive"], row["negative"])]
    return datasets.Dataset.from_dict({"text": texts, "label": [1, 0] * len(rows)})


def _clearly(crop: str, label: int) -> bool:
    if len(crop.split()) > CROP_MAX_WORDS:
        return False
    compound = _lexicon().polarity_scores(crop)["compound"]
    return compound >= CROP_MIN_POLARITY if label == 1 else compound <= -CROP_MIN_POLARITY


@functools.cache
def _lexicon():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()
