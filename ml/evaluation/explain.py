"""Why the model gave this answer: which words pushed a review towards positive, and which towards negative.

An **attribution** is a number per piece of the input saying how much that piece contributed to the
answer. Here it is measured in the model's own currency, P(positive): a word with weight +0.20 raised the
probability that the review is positive by 20 points; one with -0.20 lowered it by as much.

**Occlusion** (leave-one-out: Zeiler & Fergus 2014 for images; Li et al. 2016, "Understanding Neural
Networks through Representation Erasure", for text) measures it by asking the model again without the
piece: score the full review, then the review with one word removed, for every word; the drop
P(full) - P(without the word) is that word's push towards positive. It needs nothing from the model but
its answers, which is why it was chosen over gradient methods such as integrated gradients (Captum):

- it works on every serving runtime (``ml.serving.choice``), the ONNX export included, so a web process
  that answers through ONNX Runtime explains through it too and never imports PyTorch;
- its cost is known in advance: one batch of N + 1 texts (the review and its N variants), scored in one
  call so that the runtime batches them. N is at most ``max_pieces``: a longer review is occluded in
  consecutive spans of k words instead of single words, so a 20,000-character review costs no more
  than a short one.

Its limits, worth saying next to the colours on a page:

- words interact: in "not good" removing either word changes the meaning, and the two weights need not
  add up to the effect of removing both; a word said twice may get little weight for each occurrence,
  because the other one still carries the meaning;
- a review with a word cut out is slightly unnatural text, which the model never saw in training; the
  weights describe the model's reaction to that text, not a ground truth about the review;
- the model truncates long reviews (it reads the first and last few hundred tokens, ``ml.data.tokenization``):
  words in the middle that it never reads honestly get a weight of about 0, however strong they look;
- punctuation, whitespace and HTML tags (IMDb's ``<br />``) are kept as they are and get no weight.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

MAX_PIECES = 40  # default bound on the variants scored for one explanation: the cost bound
MIN_PUSH = 0.001  # a tenth of a point of P(positive): below it a piece did not push (it shows as ±0.000)

# A word: letters and digits, joined by apostrophes or hyphens ("didn't", "well-made"). An HTML tag is
# matched first so that the "br" of "<br />" is never taken for a word.
_WORD = re.compile(r"(</?[A-Za-z][^<>]*>)|([^\W_]+(?:['’-][^\W_]+)*)")

Scorer = Callable[[list[str]], Sequence[float] | np.ndarray]


@dataclass(frozen=True)
class Explanation:
    """A text cut into pieces that rejoin exactly (``"".join(p["text"] for p in pieces) == text``), each with
    its weight: P(positive) of the full text minus P(positive) without that piece."""

    pieces: list[dict]  # [{"text": str, "weight": float}]; whitespace/punctuation-only pieces weigh 0.0
    positive_probability: float  # P(positive) of the full text
    evaluations: int  # texts scored: the full text and its distinct variants
    seconds: float
    span_words: int = 1  # words occluded together: 1, or k when the text had more words than max_pieces

    def to_dict(self) -> dict:
        """Plain JSON types, with the method and the unit a page needs to explain the colours."""
        return {
            "method": "occlusion",
            "unit": "word" if self.span_words == 1 else f"span of {self.span_words} words",
            "positive_probability": float(self.positive_probability),
            "evaluations": int(self.evaluations),
            "seconds": round(float(self.seconds), 4),
            "pieces": [{"text": str(p["text"]), "weight": float(p["weight"])} for p in self.pieces],
        }


def explain(score: Scorer, text: str, *, max_pieces: int = MAX_PIECES) -> Explanation:
    """Weights for the words of ``text`` (spans of words when it has more than ``max_pieces``).

    ``score(texts)`` returns P(positive) for each text, in order (``Labeller.positive_probabilities``, with
    its options bound by the caller); it is called once, with the full text and every variant.
    """
    if max_pieces < 1:
        raise ValueError(f"max_pieces must be at least 1, not {max_pieces}")
    started = time.perf_counter()
    words = [match.span(2) for match in _WORD.finditer(text) if match.group(2)]
    span_words = max(1, math.ceil(len(words) / max_pieces))
    spans = [(group[0][0], group[-1][1]) for group in _chunks(words, span_words)]
    variants = [_without(text, start, end) for start, end in spans]
    texts = list(dict.fromkeys([text, *variants]))  # a repeated word can make two variants alike
    probabilities = np.asarray(score(texts), dtype=np.float64).reshape(-1)
    if len(probabilities) != len(texts):
        raise ValueError(f"the scoring function returned {len(probabilities)} probabilities for {len(texts)} texts")
    by_text = dict(zip(texts, probabilities.tolist(), strict=True))
    full = by_text[text]

    pieces, position = [], 0
    for (start, end), variant in zip(spans, variants, strict=True):
        if start > position:
            pieces.append({"text": text[position:start], "weight": 0.0})
        pieces.append({"text": text[start:end], "weight": round(full - by_text[variant], 4) + 0.0})  # no -0.0
        position = end
    if position < len(text) or not pieces:
        pieces.append({"text": text[position:], "weight": 0.0})
    return Explanation(
        pieces=pieces,
        positive_probability=full,
        evaluations=len(texts),
        seconds=time.perf_counter() - started,
        span_words=span_words,
    )


def top_words(explanation: Explanation, n: int = 5) -> dict[str, list[tuple[str, float]]]:
    """The ``n`` pieces that pushed hardest each way, strongest first (ties in text order); each
    occurrence of a word counts on its own. A piece whose push is below ``MIN_PUSH`` pushed neither way:
    listing it among the strongest ("but" +0.000) would say the opposite of its figure."""
    weighed = [(p["text"], p["weight"]) for p in explanation.pieces if abs(p["weight"]) >= MIN_PUSH]
    return {
        "positive": sorted((w for w in weighed if w[1] > 0), key=lambda w: -w[1])[:n],
        "negative": sorted((w for w in weighed if w[1] < 0), key=lambda w: w[1])[:n],
    }


def _chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _without(text: str, start: int, end: int) -> str:
    """``text`` with ``text[start:end]`` cut out, leaving one run of whitespace where there were two."""
    left, right = text[:start], text[end:]
    if not right or right[0].isspace():
        left = left.rstrip()
    if not left:
        right = right.lstrip()
    return left + right
