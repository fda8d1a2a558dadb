"""Hostile or careless CSV uploads: refused early and cheaply with a message, and results no spreadsheet runs."""

import csv
import io
import tracemalloc

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import InMemoryUploadedFile, SimpleUploadedFile
from django.urls import reverse

from ml.serving.labeller import Labeller
from sentiment.models import CsvClassification
from sentiment.services.csv_jobs import csv_classification_create, csv_classification_process

pytestmark = pytest.mark.django_db


class CountedBytes(io.BytesIO):
    """An upload's bytes that count how many of them were read."""

    consumed = 0

    def read(self, size=-1):
        data = super().read(size)
        self.consumed += len(data)
        return data

    def read1(self, size=-1):
        data = super().read1(size)
        self.consumed += len(data)
        return data


def counted_upload(content: bytes, name: str = "reviews.csv") -> InMemoryUploadedFile:
    return InMemoryUploadedFile(CountedBytes(content), "file", name, "text/csv", len(content), None)


def refusal(upload, *, user) -> str:
    with pytest.raises(ValidationError) as refused:
        csv_classification_create(user=user, upload=upload)
    assert not CsvClassification.objects.exists()
    return " ".join(refused.value.messages)


def test_five_million_one_letter_rows_are_refused_at_the_first_row_past_the_limit(person, served_run):
    content = b"text\n" + b"a\n" * 5_000_000  # 10 MB, under the upload limit, a hundred times the row limit
    upload = counted_upload(content, "huge.csv")

    tracemalloc.start()
    try:
        message = refusal(upload, user=person)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert message == "The CSV has more than 50,000 rows; the limit is 50,000."
    assert peak < 50 * 2**20
    assert upload.file.consumed < 2**20  # of its 10 MB: reading stopped soon after row 50,001


def test_the_huge_file_is_refused_on_the_page(client, person, served_run):
    client.force_login(person)
    upload = io.BytesIO(b"text\n" + b"a\n" * 5_000_000)
    upload.name = "huge.csv"
    page = client.post(reverse("sentiment:csv_upload"), {"file": upload}).content.decode()
    assert "The CSV has more than 50,000 rows; the limit is 50,000." in page
    assert not CsvClassification.objects.exists()


def test_formula_cells_come_back_neutralised_and_the_model_reads_what_was_written(
    served_run, person, settings, tmp_path, monkeypatch
):
    settings.MEDIA_ROOT = str(tmp_path)
    classified = []
    predict = Labeller.predict  # every runtime answers through it

    def predict_recorded(self, texts, **options):
        classified.extend(texts)
        return predict(self, texts, **options)

    monkeypatch.setattr(Labeller, "predict", predict_recorded)
    texts = ['=HYPERLINK("http://x","y")', "+1 loved it", "-1 awful", "@SUM(A1)", "\tgreat film", "\rdull", "fine"]
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["text", "=note"])
    writer.writerows([text, "=1+1" if i == 0 else "-3"] for i, text in enumerate(texts))
    job = csv_classification_create(user=person, upload=SimpleUploadedFile("f.csv", table.getvalue().encode()))

    assert csv_classification_process(job_id=job.pk) == "succeeded"

    assert classified == texts
    with CsvClassification.objects.get(pk=job.pk).result.open("rb") as handle:
        header, *rows = list(csv.reader(io.StringIO(handle.read().decode(), newline="")))
    assert header == ["text", "'=note", "label", "probability"]
    assert [row[0] for row in rows] == [f"'{text}" for text in texts[:-1]] + ["fine"]
    assert [row[1] for row in rows] == ["'=1+1"] + ["'-3"] * 6
    assert all(row[2] in {"positive", "negative"} and 0.5 <= float(row[3]) <= 1 for row in rows)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("id,text,label", "The CSV already has 'label' column; the result adds 'label' and 'probability', so "
         "rename or remove it and upload the file again."),
        ("probability,text,label", "The CSV already has 'label' and 'probability' columns;"),
    ],
)  # fmt: skip
def test_a_csv_with_a_column_the_result_adds_is_refused(person, served_run, header, message):
    upload = SimpleUploadedFile("mine.csv", f"{header}\n".encode() + b"1,good,positive\n")
    assert refusal(upload, user=person).startswith(message)


def test_too_many_columns_are_refused(person, served_run):
    header = ",".join(["text", *(f"c{i}" for i in range(100))])
    upload = SimpleUploadedFile("wide.csv", f"{header}\n".encode() + b"good" + b",1" * 100 + b"\n")
    assert refusal(upload, user=person) == "The CSV has 101 columns; the limit is 100."


def test_a_line_past_the_limit_is_refused_after_reading_little_more_than_it(person, served_run):
    no_line_break = b"id,text\n1,fine\n2," + b"x" * 5_000_000
    upload = counted_upload(no_line_break)
    assert refusal(upload, user=person) == "Line 3 of the CSV is longer than 50,000 characters " + (
        "(or a double quote in it is never closed)."
    )
    assert upload.file.consumed < 2**20


def test_a_quote_never_closed_is_refused_as_one_long_line(person, served_run):
    upload = SimpleUploadedFile("quote.csv", b'text\n"it was good\n' + b"fine\n" * 20_000)
    assert refusal(upload, user=person).startswith("Line 2 of the CSV is longer than 50,000 characters")


def test_a_review_past_the_review_limit_is_refused_with_its_line(person, served_run, settings):
    settings.MAX_REVIEW_CHARS = 100
    upload = SimpleUploadedFile("long.csv", b'text\nshort\n"two\nlines"\n' + b"y" * 101 + b"\n")
    assert refusal(upload, user=person) == "Line 4 of the CSV has a review of 101 characters; the limit is 100."


def test_a_file_that_stops_being_utf8_late_is_refused(person, served_run):
    upload = SimpleUploadedFile("latin1.csv", b"text\n" + b"fine\n" * 20_000 + "café\n".encode("latin-1"))
    assert refusal(upload, user=person) == ("The file is not UTF-8 text; save it as a UTF-8 CSV and upload it again.")


def test_a_row_with_a_missing_column_names_its_line(person, served_run):
    upload = SimpleUploadedFile("short.csv", b'id,text\n1,"a review\nover two lines"\n2,good\n3\n4,bad\n')
    assert refusal(upload, user=person) == (
        "Line 4 of the CSV does not have the header's 2 columns (a review with a comma must be in double quotes)."
    )


def test_limits_are_settings(person, served_run, settings):
    settings.MAX_CSV_ROWS, settings.MAX_CSV_COLUMNS, settings.MAX_CSV_LINE_CHARS = 2, 1, 10
    assert refusal(SimpleUploadedFile("r.csv", b"text\na\nb\nc\n"), user=person) == (
        "The CSV has more than 2 rows; the limit is 2."
    )
    assert refusal(SimpleUploadedFile("c.csv", b"text,id\na,1\n"), user=person) == (
        "The CSV has 2 columns; the limit is 1."
    )
    assert refusal(SimpleUploadedFile("l.csv", b"text\n" + b"z" * 10 + b"\n"), user=person).startswith(
        "Line 2 of the CSV is longer than 10 characters"
    )
