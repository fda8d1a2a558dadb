"""The answer a run gave on every test review, kept so that staff can read its mistakes afterwards.

One row per test review: its id (the row in the data source's test split), its true label, the model's
P(positive) and the text, in ``OUT/test_predictions.parquet`` beside ``metrics.json``. Parquet with
zstd compression keeps it small (about a third of the raw text) and needs nothing beyond pyarrow, which
``datasets`` already brings; keeping the text there means the mistakes can be read where the data set
itself is not (a web container has no IMDb folder).

The *confusion cells* are named as in ``ml.evaluation.metrics``: ``tn`` (negative, answered negative), ``fp``
(negative, answered positive: a false positive), ``fn`` (positive, answered negative: a false negative)
and ``tp``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

FILE = "test_predictions.parquet"
CELLS = {"tn": (0, 0), "fp": (0, 1), "fn": (1, 0), "tp": (1, 1)}  # cell -> (true label, predicted label)


def scored_reviews_write(output_dir: str | Path, *, review_ids, labels, positive_probs, texts) -> Path:
    import pyarrow as pa  # here and below: a web process imports pyarrow only when a page reads the file
    import pyarrow.parquet as pq

    path = Path(output_dir) / FILE
    table = pa.table(
        {
            "review_id": pa.array(np.asarray(review_ids, dtype=np.int32)),
            "label": pa.array(np.asarray(labels, dtype=np.int8)),
            "positive_probability": pa.array(np.asarray(positive_probs, dtype=np.float32)),
            "text": pa.array(list(texts), type=pa.string()),
        }
    )
    pq.write_table(table, path, compression="zstd")
    return path


@dataclass(frozen=True)
class CellPage:
    """One page of the reviews in a confusion cell, most confident first (or least, when asked)."""

    rows: list[dict]  # review_id, label, predicted, positive_probability, confidence, text
    total: int  # reviews in the cell that match the search
    cell_size: int  # reviews in the cell


def scored_reviews_cell(
    output_dir: str | Path,
    *,
    cell: str,
    query: str = "",
    least_confident_first: bool = False,
    offset: int = 0,
    limit: int = 20,
) -> CellPage | None:
    """The reviews of ``cell`` (``CELLS``), searched (case-insensitive) and sorted by the model's confidence
    in its answer; None when the run kept no predictions."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = _read(str(Path(output_dir) / FILE))
    if table is None:
        return None
    label, predicted = CELLS[cell]
    probs = table.column("positive_probability")
    answered = pc.greater_equal(probs, 0.5)
    in_cell = pc.and_(pc.equal(table.column("label"), label), pc.equal(answered, bool(predicted)))
    rows = table.filter(in_cell)
    cell_size = rows.num_rows
    if query:
        rows = rows.filter(pc.match_substring(rows.column("text"), query, ignore_case=True))
    p = rows.column("positive_probability").to_numpy()
    confidence = np.maximum(p, 1.0 - p)
    order = np.argsort(confidence if least_confident_first else -confidence, kind="stable")[offset : offset + limit]
    chosen = rows.take(pa.array(order, type=pa.int64())).to_pylist()
    for row, c in zip(chosen, confidence[order], strict=True):
        row.update(predicted=predicted, confidence=float(c))
    return CellPage(rows=chosen, total=rows.num_rows, cell_size=cell_size)


def scored_reviews_agree(output_dir: str | Path, *, confusion_matrix: list[list[int]]) -> bool | None:
    """Whether the saved answers give the run's own confusion matrix; None when there is nothing to compare.

    Runs trained with length grouping before the fix in ``ml.training.pipeline.ReviewTrainer`` saved their answers
    shuffled against their reviews: their files count differently from their metrics, and their cells
    would list other reviews than the ones the model got wrong.
    """
    import pyarrow.compute as pc

    table = _read(str(Path(output_dir) / FILE))
    if table is None or not confusion_matrix:
        return None
    predicted = pc.cast(pc.greater_equal(table.column("positive_probability"), 0.5), "int8")
    labels = table.column("label")
    for label, answer in CELLS.values():
        in_cell = pc.and_(pc.equal(labels, label), pc.equal(predicted, answer))
        if pc.sum(pc.cast(in_cell, "int64")).as_py() != confusion_matrix[label][answer]:
            return False
    return True


@lru_cache(maxsize=4)
def _read_cached(path: str, mtime_ns: int):
    import pyarrow.parquet as pq

    return pq.read_table(path)


def _read(path: str):
    """The file's table, read once per process while the file is unchanged."""
    try:
        mtime = Path(path).stat().st_mtime_ns
    except OSError:
        return None
    return _read_cached(path, mtime)


def scored_reviews_columns(output_dir: str | Path) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
    """Every test review's true label, the model's P(positive) and the text, in the file's order; None
    without the file. The model monitor's reference: what the served model's answers looked like on
    reviews it was tested on."""
    table = _read(str(Path(output_dir) / FILE))
    if table is None:
        return None
    labels = table.column("label").to_numpy().astype(np.int64)
    probs = table.column("positive_probability").to_numpy().astype(np.float64)
    return labels, probs, table.column("text").to_pylist()
