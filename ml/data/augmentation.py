"""More kinds of review to learn from, made from what a run already has: short crops, counterfactual pairs, typos.

A model learns what its training reviews show. IMDb's are long and most give their verdict last, so a model
trained on them alone reads a one-line review, or a verdict that comes first, less well than a review like
its training ones (the out-of-domain check, ``ml.evaluation.out_of_domain``, measures how much less). Three
cheap additions show it more kinds of text; all are short, so they add little to a run's time:

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
  appear in positive or negative reviews. ``counterfactual_pairs.csv`` beside this module holds 600 pairs
  written for this project: 300 of films and TV (the first set), and 300 of nine other kinds of thing
  (products, food, travel, books, apps, games, music, services, shows), 30 of each, so that what the pairs
  teach is not tied to films. Its columns: both texts, the ``edit`` that flips them (negation, contrast,
  a verdict word, verdict first, understated, or ``implicit``: a telling fact instead of a sentiment word,
  "The battery lasted the whole weekend." / "The battery died before lunch.") and the ``domain``. A second
  reader read every later pair for its labels; the pairs it flagged were rewritten. A test keeps every pair
  more than half different in words from each text of the out-of-domain set and the behavioural battery.
- **Typos** (``with_typos``): a copy of the pairs with one to three typos in each text. A model reads words
  as *word pieces*; "graet" is cut into other pieces than "great", and a model that has never seen a
  misspelt verdict word may not know it for one.
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


def with_typos(reviews: datasets.Dataset, *, seed: int) -> datasets.Dataset:
    """A copy of ``reviews`` (``text`` and ``label``) with one to three typos in each text (``misspelled``)."""
    rng = np.random.default_rng(seed)
    return reviews.map(lambda row: {"text": misspelled(row["text"], rng)}, desc="typos")


def misspelled(text: str, rng: np.random.Generator) -> str:
    """``text`` with one to three typos of the kinds people make, each in a different word of four letters or
    more, chosen at random: two neighbouring letters swapped, a letter dropped, a letter doubled, or a letter
    replaced by the one beside it on the keyboard. A word so spelt is cut into other word pieces than the
    word itself, so a model that has only seen it spelt right may not know it."""
    words = text.split(" ")
    long_words = [i for i, word in enumerate(words) if sum(c.isalpha() for c in word) >= 4]
    for i in rng.permutation(long_words)[: int(rng.integers(1, 4))]:
        words[i] = _typo(words[i], rng)
    return " ".join(words)


_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_BESIDE = {row[k]: row[max(k - 1, 0)] + row[k + 1 : k + 2] for row in _KEYBOARD_ROWS for k in range(len(row))}


def _typo(word: str, rng: np.random.Generator) -> str:
    letters = [k for k, c in enumerate(word) if c.isalpha()]
    inner = letters[1:-1] or letters  # the first and last letters are the ones people get right
    k = int(rng.choice(inner))
    kind = int(rng.integers(4))
    if kind == 0 and k + 1 < len(word) and word[k + 1].isalpha():
        return word[:k] + word[k + 1] + word[k] + word[k + 2 :]
    if kind == 1:
        return word[:k] + word[k + 1 :]
    if kind == 2:
        return word[:k] + word[k] + word[k:]
    beside = _BESIDE.get(word[k].lower(), "") or word[k]
    return word[:k] + str(rng.choice(list(beside))) + word[k + 1 :]


def _clearly(crop: str, label: int) -> bool:
    if len(crop.split()) > CROP_MAX_WORDS:
        return False
    compound = _lexicon().polarity_scores(crop)["compound"]
    return compound >= CROP_MIN_POLARITY if label == 1 else compound <= -CROP_MIN_POLARITY


@functools.cache
def _lexicon():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()
