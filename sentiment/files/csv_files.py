"""CSV files of reviews: read as a stream within limits, and written so that a spreadsheet runs nothing.

An upload is checked by the web worker that received it, so checking must cost little whatever is
sent: the file is decoded and parsed one line at a time, nothing is kept, and reading stops at the first
thing past a limit (rows, columns, characters in a row, characters in a review), so a 10 MB file of
millions of tiny rows is refused after its first ``MAX_CSV_ROWS``. The worker reads the stored file
through the same code, so both sides agree on what a row is.

Bad input is refused with a message, never repaired: a review longer than ``MAX_REVIEW_CHARS`` is
refused (not cut) because the model reads a long review's beginning and end, so cutting it would
change the answer without saying so; a row past ``MAX_CSV_LINE_CHARS`` is refused because it cannot be
a review the site accepts; a file with its own ``label`` or ``probability`` column is refused (not
renamed) because the result adds those two, and the person should decide which column means what.

Labelled data sets (``sentiment.files.dataset_files``) are read through the same code with other columns
asked for: they need ``label``, refuse nothing and have their own row limit.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError

ADDED_COLUMNS = ("label", "probability")  # what the result adds to the uploaded columns
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # OWASP, "CSV Injection"
NOT_UTF8 = "The file is not UTF-8 text; save it as a UTF-8 CSV and upload it again."

# csv.field_size_limit is one number for the whole process, which any library may change (scipy's ARFF
# reader raises it to the maximum when it is imported), so it cannot be what bounds a row: _LineFeed's
# count of each row's characters is, per call, from the settings. The csv module's limit only has to be
# no lower than that bound, so that a field the row limit allows is never refused in csv's own words;
# it is raised once, here, and never lowered, which changes nothing for other readers in the process.
csv.field_size_limit(max(csv.field_size_limit(), settings.MAX_CSV_LINE_CHARS))


@dataclass
class CsvTable:
    """An open CSV being read: its header, where the reviews are, and its checked rows one at a time."""

    columns: list[str]
    text_at: int  # index of the 'text' column in every row
    rows: Iterator[list[str]]  # each has len(columns) cells; blank lines are skipped, as csv.DictReader does
    line: int = 0  # the line (as in the messages) of the row ``rows`` gave last, for the caller's own messages


class _LineFeed:
    """The lines ``csv.reader`` pulls, each read with a bound on its length.

    A row, the line breaks inside a quoted review included, is refused once it passes the limit, after
    reading at most that many characters of it: a file with no line break at all is never held whole.
    ``line`` counts rows as a spreadsheet shows them (the header is line 1).
    """

    def __init__(self, text: IO[str], *, limit: int) -> None:
        self.text, self.limit = text, limit
        self.line, self.used = 1, 0

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        piece = self.text.readline(self.limit - self.used + 1)
        if not piece:
            raise StopIteration
        self.used += len(piece)
        if self.used > self.limit:
            raise ValidationError(
                f"Line {self.line} of the CSV is longer than {self.limit:,} characters "
                "(or a double quote in it is never closed)."
            )
        return piece

    def row_done(self) -> None:
        self.line, self.used = self.line + 1, 0


def _row_next(reader) -> list[str] | None:
    """The next row, or None at the end; what the file's bytes or quoting break becomes a message."""
    try:
        return next(reader, None)
    except UnicodeDecodeError:
        raise ValidationError(NOT_UTF8) from None
    except csv.Error as exc:
        raise ValidationError(f"The file is not a readable CSV: {exc}.") from None


def _header_read(reader, feed: _LineFeed, *, needs: tuple[str, ...], refuses: tuple[str, ...]) -> list[str]:
    columns: list[str] = []
    while not columns and (row := _row_next(reader)) is not None:  # blank lines before the header are skipped
        feed.row_done()
        columns = row
    if len(columns) > settings.MAX_CSV_COLUMNS:
        raise ValidationError(f"The CSV has {len(columns):,} columns; the limit is {settings.MAX_CSV_COLUMNS:,}.")
    missing = [f"a '{name}' column" for name in needs if name not in columns]
    if missing:
        listed = ", ".join(columns) or "none"
        listed = listed if len(listed) <= 300 else listed[:300] + "…"
        raise ValidationError(f"The CSV needs {' and '.join(missing)}; its columns are: {listed}.")
    clashing = [f"'{name}'" for name in refuses if name in columns]
    if clashing:
        raise ValidationError(
            f"The CSV already has {' and '.join(clashing)} column{'s' if len(clashing) > 1 else ''}; the result "
            f"adds {' and '.join(repr(name) for name in ADDED_COLUMNS)}, so rename or remove "
            f"{'them' if len(clashing) > 1 else 'it'} and upload the file again."
        )
    return columns


def _rows_read(reader, feed: _LineFeed, table: CsvTable, *, max_rows: int) -> Iterator[list[str]]:
    columns, text_at, count = table.columns, table.text_at, 0
    while (row := _row_next(reader)) is not None:
        line = table.line = feed.line
        feed.row_done()
        if not row:
            continue
        if len(row) != len(columns):
            raise ValidationError(
                f"Line {line} of the CSV does not have the header's {len(columns)} columns "
                "(a review with a comma must be in double quotes)."
            )
        count += 1
        if count > max_rows:
            raise ValidationError(f"The CSV has more than {max_rows:,} rows; the limit is {max_rows:,}.")
        if len(row[text_at]) > settings.MAX_REVIEW_CHARS:
            raise ValidationError(
                f"Line {line} of the CSV has a review of {len(row[text_at]):,} characters; "
                f"the limit is {settings.MAX_REVIEW_CHARS:,}."
            )
        yield row
    if not count:
        raise ValidationError("The CSV has a header but no reviews.")


@contextmanager
def csv_table_open(
    *,
    binary: IO[bytes],
    needs: tuple[str, ...] = ("text",),
    refuses: tuple[str, ...] = ADDED_COLUMNS,
    max_rows: int | None = None,
) -> Iterator[CsvTable]:
    """Read ``binary`` (an upload, or the stored file) from its start as a CSV of reviews, checked as it is read.

    The defaults are a file to classify: a 'text' column, none of the columns the result adds, at most
    ``MAX_CSV_ROWS`` rows; a labelled data set asks for 'text' and 'label' and its own row limit. Every
    limit is read from the settings on each call. The file is left open, at some position: Django still
    stores an upload from it (and seeks back to its start to do so).
    """
    binary.seek(0)
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")  # newline="": csv sees quoted breaks
    try:
        feed = _LineFeed(text, limit=settings.MAX_CSV_LINE_CHARS)
        reader = csv.reader(feed)
        columns = _header_read(reader, feed, needs=needs, refuses=refuses)
        table = CsvTable(columns=columns, text_at=columns.index("text"), rows=iter(()))
        table.rows = _rows_read(reader, feed, table, max_rows=max_rows or settings.MAX_CSV_ROWS)
        yield table
    finally:
        text.detach()  # closing the wrapper would close the caller's file


def csv_rows_count(*, binary: IO[bytes]) -> int:
    """Read a whole CSV through every check, keeping nothing: the number of reviews it holds."""
    with csv_table_open(binary=binary) as table:
        return sum(1 for _ in table.rows)


def csv_cells_neutralise(*, cells: list[str]) -> list[str]:
    """The cells of a row for a CSV people will open in a spreadsheet, none of them a formula.

    A cell starting with =, +, - or @ is a formula to Excel, LibreOffice and Google Sheets
    (``=HYPERLINK(...)`` can send what the sheet holds elsewhere), and a leading tab or carriage return
    can hide one; a single quote before it makes the spreadsheet show the text instead (OWASP, "CSV
    Injection"). Numbers such as -1 get the quote too: the rule cannot tell a number from ``-1+cmd|...``.
    Only what is written gets this: the model classifies the text as the person wrote it.
    """
    return [f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell for cell in cells]
