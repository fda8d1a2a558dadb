"""Labelled data sets people upload: which reviews are kept for testing, and the folder that holds them.

An uploaded set is saved as a folder of ``train.parquet`` and ``test.parquet`` (columns ``text``,
``label``), the layout ``ml.data.sources`` reads as a ``dataset`` (trained on alone) or as ``added_data`` (added
to another data set's training reviews, its test reviews scored on their own).

Which reviews are for testing is decided by each review's own text (a hash of it, as ``ml.data.corrections``
does for its held-out part), not by a random draw: the same file always splits the same way, and a review
that is in two uploaded sets is a test review in both, so adding one set to another never trains on the
other's test reviews. About ``TEST_PERCENT`` of a set is kept for testing.

The text is compared after the same normalisation everywhere (``review_digest``): IMDb's ``<br />``
breaks become spaces (as ``ml.data.sources`` cleans them before training), case and runs of spaces are ignored.
That is what makes two reviews "the same" for duplicates and for the overlap with IMDb's test set.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

TEST_PERCENT = 20
SPLIT_FILES = ("train.parquet", "test.parquet")
HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)  # IMDb reviews carry these; the model should not read them


def review_words(text: str) -> list[str]:
    """The review's words as the model's data sees them: HTML line breaks are not words."""
    return HTML_BREAK.sub(" ", text).split()


def review_digest(text: str) -> bytes:
    """A fingerprint of the review that ignores case, spacing and HTML line breaks."""
    return hashlib.sha256(" ".join(review_words(text.lower())).encode()).digest()


def in_test_part(digest: bytes) -> bool:
    """Whether the review with this ``review_digest`` is kept for testing (the same answer always)."""
    return int.from_bytes(digest[:4], "big") % 100 < TEST_PERCENT


def labelled_split_write(folder: str | Path, *, texts: Sequence[str], labels: Sequence[int], in_test: Sequence[bool]):
    """Write the set's two files into ``folder`` (which must exist): each review goes to ``test.parquet`` or
    ``train.parquet`` by ``in_test``. The caller makes the folder appear whole (it writes into a folder of
    its own and renames it), so nobody ever reads half a set."""
    import pyarrow as pa  # only when used: a web process writes a set without loading datasets or torch
    import pyarrow.parquet as pq

    folder = Path(folder)
    for name, wanted in zip(SPLIT_FILES, (False, True), strict=True):
        rows = [i for i, test in enumerate(in_test) if test == wanted]
        table = pa.table(
            {
                "text": pa.array([texts[i] for i in rows], pa.string()),
                "label": pa.array([int(labels[i]) for i in rows], pa.int64()),
            }
        )
        pq.write_table(table, str(folder / name))
