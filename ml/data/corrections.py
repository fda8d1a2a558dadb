"""Corrections: reviews people said the served model got wrong, with the label staff accepted as right.

The site saves the accepted corrections to a file when a run is launched (``corrections_file``); the
run can add them to its training reviews (``train_on_corrections``), and every run that has the file is
scored on a *held-out* part of it that no run ever trains on. That score answers the question that
matters after a model meets real users: does the new model fix the mistakes they reported?

Which corrections are held out is decided by the review's own text (a hash of it), not by a random draw:
a review held out once is held out in every later version of the set and for every run, whatever its
seed, so the scores of two runs (and of the served model) are on the same reviews and stay honest as the
set grows. About ``HOLDOUT_PERCENT`` of the set is held out.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ml.errors import DataError

if TYPE_CHECKING:
    import datasets

HOLDOUT_PERCENT = 30


def held_out(text: str) -> bool:
    """Whether this review belongs to the held-out part (the same answer for the same text, always)."""
    digest = hashlib.sha256(" ".join(text.lower().split()).encode()).hexdigest()
    return int(digest[:8], 16) % 100 < HOLDOUT_PERCENT


@dataclass(frozen=True)
class Corrections:
    train: datasets.Dataset  # text, label: what a run may train on
    holdout: datasets.Dataset  # text, label: what every run is scored on
    version: str

    def describe(self) -> dict:
        return {"version": self.version, "train": len(self.train), "held_out": len(self.holdout)}


def corrections_write(path: str | Path, *, texts: list[str], labels: list[int], version: str) -> Path:
    """Save a corrections set (the site calls this when a run is launched); its version goes in the file."""
    import pyarrow as pa  # here and below, only when used: a web process saves a set without datasets
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {"text": pa.array(list(texts), pa.string()), "label": pa.array([int(v) for v in labels], pa.int64())}
    )
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, str(tmp))
    tmp.replace(path)  # a reader never sees half a file
    (path.with_suffix(".version")).write_text(version)
    return path


def load_corrections(path: str | Path) -> Corrections:
    import datasets

    path = Path(path)
    if not path.is_file():
        raise DataError(f"corrections file {path} does not exist (it is saved by the site when a run is launched)")
    rows = datasets.Dataset.from_parquet(str(path))
    if not {"text", "label"} <= set(rows.column_names):
        raise DataError(f"corrections file {path} needs 'text' and 'label' columns")
    version_file = path.with_suffix(".version")
    version = version_file.read_text().strip() if version_file.is_file() else path.stem
    held = [held_out(text) for text in rows["text"]]
    return Corrections(
        train=rows.select([i for i, h in enumerate(held) if not h]),
        holdout=rows.select([i for i, h in enumerate(held) if h]),
        version=version,
    )


def held_out_rows(path: str | Path) -> list[dict]:
    """The held-out corrections of a saved set, ``{"text", "label"}`` each, read without ``datasets`` (a web
    process reads them to score the served model on the same reviews as a run)."""
    import pyarrow.parquet as pq  # only when asked: web processes do not import pyarrow otherwise

    try:
        rows = pq.read_table(str(path), columns=["text", "label"]).to_pylist()
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"cannot read the corrections file {path}: {exc}") from None
    return [row for row in rows if held_out(row["text"])]


def accuracy_on(score, rows: list[dict]) -> float | None:
    """The share of ``rows`` that ``score`` (texts -> P(positive)) labels right; None for no rows."""
    if not rows:
        return None
    probs = score([row["text"] for row in rows])
    return sum(int(p >= 0.5) == row["label"] for p, row in zip(probs, rows, strict=True)) / len(rows)
