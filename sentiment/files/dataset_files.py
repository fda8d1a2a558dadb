"""Labelled data sets people upload (a CSV or JSON lines), read as a stream within limits and checked.

A labelled review is a text and its label, 0 (negative) or 1 (positive). The file is checked by the web
process that received it, so checking costs little whatever is sent: the upload's size is checked first,
then the file is read a line at a time with a bound on each line (``MAX_CSV_LINE_CHARS``), each review
(``MAX_REVIEW_CHARS``) and the number of rows (``MAX_DATASET_ROWS``), and reading stops at the first
problem. A CSV goes through the same reader as the files people classify (``sentiment.files.csv_files``).

Bad input is refused with the line and the reason, never repaired: a label that is neither 0/1 nor
negative/positive may mean the columns are not what we think; the same review with both labels cannot be
learnt from (which one is right?). What can be decided without asking is: a review that is in the file
twice with the same label is kept once, and the preview says how many were dropped (a repeated review
would be trained on twice, and could be in both the training and the test part).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError

from ml.data.labelled_sets import review_digest
from sentiment.files.csv_files import csv_table_open

MIN_REVIEWS = 20  # fewer cannot be split into reviews to train on and reviews to test on
LABELS = {"0": 0, "1": 1, "negative": 0, "positive": 1}
LABEL_NAMES = ("negative", "positive")
CSV_SUFFIXES = (".csv",)
JSON_LINES_SUFFIXES = (".jsonl", ".ndjson", ".json")
FORMAT_HELP = (
    "a CSV (UTF-8, a header row with a 'text' and a 'label' column; other columns are ignored) or JSON lines "
    '(one object per line, such as {"text": "A fine film.", "label": 1}); a label is 0 or 1, or negative or '
    "positive"
)


@dataclass
class LabelledReviews:
    """The checked reviews of an upload, duplicates dropped, in the file's order."""

    format: str  # "csv" or "jsonl"
    texts: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)  # 0 negative, 1 positive
    digests: list[bytes] = field(default_factory=list)  # ml.data.labelled_sets.review_digest of each text
    duplicates: int = 0  # rows left out: the same review with the same label as an earlier row
    _seen: dict[bytes, tuple[int, int]] = field(default_factory=dict, repr=False)  # digest -> (label, line)

    def add(self, *, line: int, text: str, label: object) -> None:
        """One row of the file, checked; ``line`` is where it is, for the messages."""
        if not text.strip():
            raise ValidationError(f"Line {line} has no review: its text is empty.")
        value = _label(label, line=line)
        digest = review_digest(text)
        earlier = self._seen.get(digest)
        if earlier is not None:
            if earlier[0] != value:
                raise ValidationError(
                    f"Line {line} has the same review as line {earlier[1]} with the other label "
                    f"({LABEL_NAMES[value]} here, {LABEL_NAMES[earlier[0]]} there); keep one of them, with the right "
                    "label, and upload the file again."
                )
            self.duplicates += 1
            return
        self._seen[digest] = (value, line)
        self.texts.append(text)
        self.labels.append(value)
        self.digests.append(digest)

    def finish(self) -> LabelledReviews:
        """The reviews, once they are enough to learn from; the bookkeeping of duplicates is let go."""
        self._seen = {}
        if len(self.texts) < MIN_REVIEWS:
            raise ValidationError(
                f"The file has {len(self.texts):,} different review{'s' if len(self.texts) != 1 else ''}; a data set "
                f"needs at least {MIN_REVIEWS} (some to train on, the others to test on)."
            )
        if len(set(self.labels)) < 2:
            raise ValidationError(
                f"Every review in the file is {LABEL_NAMES[self.labels[0]]}; a model learns to tell positive from "
                "negative only from examples of both."
            )
        return self


def labelled_file_read(*, binary: IO[bytes], filename: str) -> LabelledReviews:
    """Read and check an uploaded labelled file, CSV or JSON lines by its name's ending (``FORMAT_HELP``)."""
    suffix = PurePath(filename).suffix.lower()
    if suffix in CSV_SUFFIXES:
        return _csv_read(binary).finish()
    if suffix in JSON_LINES_SUFFIXES:
        return _json_lines_read(binary).finish()
    raise ValidationError(
        f"Upload a .csv or a .jsonl file ({FORMAT_HELP}); the name '{PurePath(filename).name[:100]}' says neither."
    )


def _label(value: object, *, line: int) -> int:
    """0 or 1 from 0, 1, "0", "1", "negative", "positive" (any case, spaces around ignored)."""
    text = value if isinstance(value, str) else str(value) if type(value) is int else None
    label = LABELS.get(text.strip().lower()) if text is not None else None
    if label is None:
        shown = text if text is not None else json.dumps(value)
        shown = shown if len(shown) <= 40 else shown[:40] + "…"
        raise ValidationError(f"Line {line} has the label '{shown}'; a label must be 0 or 1, or negative or positive.")
    return label


def _csv_read(binary: IO[bytes]) -> LabelledReviews:
    reviews = LabelledReviews(format="csv")
    with csv_table_open(
        binary=binary, needs=("text", "label"), refuses=(), max_rows=settings.MAX_DATASET_ROWS
    ) as table:
        label_at = table.columns.index("label")
        for row in table.rows:
            reviews.add(line=table.line, text=row[table.text_at], label=row[label_at])
    return reviews


def _json_lines_read(binary: IO[bytes]) -> LabelledReviews:
    """One JSON object per line, ``{"text": ..., "label": ...}``; blank lines are skipped, other keys ignored."""
    reviews, rows, limit = LabelledReviews(format="jsonl"), 0, settings.MAX_CSV_LINE_CHARS
    binary.seek(0)
    text = io.TextIOWrapper(binary, encoding="utf-8-sig")
    try:
        for line, content in enumerate(_bounded_lines(text, limit=limit), start=1):
            if not content.strip():
                continue
            rows += 1
            if rows > settings.MAX_DATASET_ROWS:
                raise ValidationError(
                    f"The file has more than {settings.MAX_DATASET_ROWS:,} reviews; "
                    f"the limit is {settings.MAX_DATASET_ROWS:,}."
                )
            review = _json_row(content, line=line)
            reviews.add(line=line, text=review["text"], label=review["label"])
    finally:
        text.detach()  # closing the wrapper would close the upload, which Django still reads
    if not rows:
        raise ValidationError("The file has no reviews.")
    return reviews


def _bounded_lines(text: io.TextIOWrapper, *, limit: int):
    """The file's lines, each read with a bound: a file without line breaks is never held whole."""
    line = 0
    while True:
        try:
            content = text.readline(limit + 1)
        except UnicodeDecodeError:
            raise ValidationError("The file is not UTF-8 text; save it as UTF-8 and upload it again.") from None
        if not content:
            return
        line += 1
        if len(content) > limit:
            raise ValidationError(f"Line {line} of the file is longer than {limit:,} characters.")
        yield content


def _json_row(content: str, *, line: int) -> dict:
    try:
        review = json.loads(content)
    except (ValueError, RecursionError) as exc:  # RecursionError: thousands of nested brackets
        reason = getattr(exc, "msg", None) or str(exc)[:80] or "nested too deeply"
        raise ValidationError(f"Line {line} is not valid JSON ({reason}).") from None
    if not isinstance(review, dict) or "text" not in review or "label" not in review:
        raise ValidationError(
            f'Line {line} is not an object with a "text" and a "label", such as {{"text": "A fine film.", '
            '"label": 1}: JSON lines has one such object per line (not one list of them).'
        )
    if not isinstance(review["text"], str):
        raise ValidationError(f'Line {line} has a "text" that is not a string: put the review in double quotes.')
    if len(review["text"]) > settings.MAX_REVIEW_CHARS:
        raise ValidationError(
            f"Line {line} has a review of {len(review['text']):,} characters; the limit is "
            f"{settings.MAX_REVIEW_CHARS:,}."
        )
    return review
