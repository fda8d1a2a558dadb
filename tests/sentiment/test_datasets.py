"""Staff upload their own labelled reviews, checked like the CSV uploads, preview them, and train on them."""

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import InMemoryUploadedFile, SimpleUploadedFile
from django.urls import reverse

from ml.data.labelled_sets import in_test_part, review_digest
from sentiment.models import LabelledDataset, TrainingRun
from sentiment.selectors.datasets import labelled_dataset_choices, labelled_dataset_list, labelled_dataset_runs
from sentiment.services.datasets import labelled_dataset_create, labelled_dataset_delete

pytestmark = pytest.mark.django_db

WORDS = ["plot", "acting", "score", "pace", "ending", "cast", "script", "camera", "music", "story"]


def review(i: int) -> str:
    """A distinct review: its number spelt in words, so that no two normalise to the same text."""
    return f"Review {i}: the {WORDS[i % 10]} and the {WORDS[i // 10 % 10]} were {'good' if i % 2 else 'bad'}."


def csv_bytes(rows: list[tuple[str, object]], header: str = "text,label") -> bytes:
    lines = [header, *(f'"{text}",{label}' for text, label in rows)]
    return ("\n".join(lines) + "\n").encode()


def jsonl_bytes(rows: list[tuple[str, object]]) -> bytes:
    return "\n".join(json.dumps({"text": text, "label": label, "source": "shop"}) for text, label in rows).encode()


def labelled(n: int = 40) -> list[tuple[str, int]]:
    return [(review(i), i % 2) for i in range(n)]


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.IMDB_DATA_DIR = None
    return tmp_path / "media"


def create(content: bytes, name: str = "mine.csv", *, user=None, set_name: str = "mine") -> LabelledDataset:
    upload = SimpleUploadedFile(name, content)
    return labelled_dataset_create(user=user, name=set_name, description="", upload=upload)


def nothing_saved(media: Path) -> bool:
    folder = media / "datasets"
    return not LabelledDataset.objects.exists() and (not folder.exists() or not any(folder.iterdir()))


def test_a_csv_is_checked_split_and_saved(media, staff):
    rows = [(text, ["negative", " Positive "][label]) for text, label in labelled(40)]
    content = ("text,label,stars\n" + "".join(f'"{text}",{label},5\n' for text, label in rows)).encode()
    dataset = create(content, user=staff)  # other columns than text and label are ignored
    folder = Path(dataset.folder)
    assert folder.parent == media / "datasets" and folder.name.startswith(f"{dataset.pk}-")
    train, test = pd.read_parquet(folder / "train.parquet"), pd.read_parquet(folder / "test.parquet")
    assert list(train.columns) == ["text", "label"] and len(train) + len(test) == 40 == dataset.rows
    assert set(test.text) == {review(i) for i in range(40) if in_test_part(review_digest(review(i)))}
    labels = dict(zip(pd.concat([train, test]).text, pd.concat([train, test]).label, strict=True))
    assert all(labels[review(i)] == i % 2 for i in range(40))
    assert dataset.stats["format"] == "csv" and dataset.uploaded_by == staff and dataset.filename == "mine.csv"


def test_json_lines_are_accepted_with_labels_in_words_or_numbers(media):
    rows = [(text, [0, "positive", "1", " NEGATIVE"][i % 4]) for i, (text, _) in enumerate(labelled(40))]
    dataset = create(b"\n" + jsonl_bytes(rows) + b"\n\n", "mine.jsonl")
    everything = pd.concat([pd.read_parquet(Path(dataset.folder) / f) for f in ("train.parquet", "test.parquet")])
    labels = dict(zip(everything.text, everything.label, strict=True))
    assert [labels[review(i)] for i in range(4)] == [0, 1, 1, 0]
    assert dataset.stats["format"] == "jsonl" and dataset.stats["positive"] == 20


def test_exact_duplicates_are_dropped_and_counted(media):
    rows = labelled(30)
    repeated = [*rows, (rows[3][0].upper(), rows[3][1]), (f"  {rows[4][0]}  ", rows[4][1]), rows[5]]
    dataset = create(csv_bytes(repeated))
    assert dataset.rows == 30 and dataset.stats["duplicates_dropped"] == 3 and dataset.stats["rows"] == 30


def refusal(content: bytes, name: str = "mine.csv") -> str:
    with pytest.raises(ValidationError) as refused:
        create(content, name)
    return " ".join(refused.value.messages)


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (csv_bytes(labelled(), header="text,stars"), "mine.csv",
         "The CSV needs a 'label' column; its columns are: text, stars."),
        (csv_bytes(labelled(), header="review,stars"), "mine.csv",
         "The CSV needs a 'text' column and a 'label' column; its columns are: review, stars."),
        (csv_bytes([*labelled(5), ("Odd one.", "meh"), *labelled(40)[5:]]), "mine.csv",
         "Line 7 has the label 'meh'; a label must be 0 or 1, or negative or positive."),
        (jsonl_bytes([*labelled(3), ("Odd one.", 2.0)]), "mine.jsonl", "Line 4 has the label '2.0'"),
        (jsonl_bytes([*labelled(3), ("Odd one.", True)]), "mine.jsonl", "Line 4 has the label 'true'"),
        (csv_bytes([*labelled(30), (review(2).lower(), 1)]), "mine.csv",
         "Line 32 has the same review as line 4 with the other label (positive here, negative there)"),
        (csv_bytes([*labelled(10), ("   ", 1)]), "mine.csv", "Line 12 has no review: its text is empty."),
        ("text,label\n\"Très bien\",1\n".encode("latin-1"), "mine.csv", "The file is not UTF-8 text"),
        ('{"text": "Très bien", "label": 1}\n'.encode("latin-1"), "mine.jsonl", "The file is not UTF-8 text"),
        (csv_bytes(labelled(19)), "mine.csv", "The file has 19 different reviews; a data set needs at least 20"),
        (csv_bytes([(text, 1) for text, _ in labelled(30)]), "mine.csv", "Every review in the file is positive"),
        (b"[" + jsonl_bytes(labelled(2)).replace(b"\n", b",") + b"]", "mine.jsonl", "Line 1 is not an object"),
        (b'{"text": "A fine film.", "label": 1\n', "mine.jsonl", "Line 1 is not valid JSON"),
        (b'{"text": 5, "label": 1}\n', "mine.jsonl", 'Line 1 has a "text" that is not a string'),
        (b"", "mine.jsonl", "The file has no reviews."),
        (csv_bytes(labelled()), "mine.xlsx", "Upload a .csv or a .jsonl file"),
    ],
)  # fmt: skip
def test_a_bad_file_is_refused_with_its_line_and_saves_nothing(media, content, name, message):
    assert message in refusal(content, name)
    assert nothing_saved(media)


def test_limits_are_read_from_the_settings_and_refuse_early(media, settings):
    settings.MAX_DATASET_ROWS = 30
    assert refusal(csv_bytes(labelled(31))) == "The CSV has more than 30 rows; the limit is 30."
    assert refusal(jsonl_bytes(labelled(31)), "mine.jsonl") == "The file has more than 30 reviews; the limit is 30."
    settings.MAX_REVIEW_CHARS = 60
    long = [*labelled(3), ("long " * 40, 1)]
    assert refusal(csv_bytes(long)) == "Line 5 of the CSV has a review of 200 characters; the limit is 60."
    assert refusal(jsonl_bytes(long), "mine.jsonl") == "Line 4 has a review of 200 characters; the limit is 60."
    settings.MAX_REVIEW_CHARS, settings.MAX_CSV_LINE_CHARS = 20000, 150
    assert refusal(jsonl_bytes(long), "mine.jsonl") == "Line 4 of the file is longer than 150 characters."
    assert refusal(csv_bytes(long)).startswith("Line 5 of the CSV is longer than 150 characters")
    settings.MAX_UPLOAD_BYTES = 100
    size = len(csv_bytes(labelled()))
    assert refusal(csv_bytes(labelled())) == f"The file has {size:,} bytes; the limit is 100 bytes."
    assert nothing_saved(media)


def test_a_name_is_needed_once(media):
    create(csv_bytes(labelled()), set_name="mine")
    with pytest.raises(ValidationError, match="A data set named 'mine' already exists"):
        create(csv_bytes(labelled(50)), set_name=" mine ")
    with pytest.raises(ValidationError, match="Give the data set a name"):
        create(csv_bytes(labelled()), set_name="  ")
    assert LabelledDataset.objects.count() == 1 and len(list((media / "datasets").iterdir())) == 1


def test_the_saved_split_is_the_same_for_the_same_reviews(media):
    first = create(csv_bytes(labelled(60)), set_name="first")
    again = create(jsonl_bytes(list(reversed(labelled(60)))), "again.jsonl", set_name="again")
    for part in ("train.parquet", "test.parquet"):
        texts = [set(pd.read_parquet(Path(d.folder) / part).text) for d in (first, again)]
        assert texts[0] == texts[1]
    assert first.stats["split"] == again.stats["split"] and first.stats["split"]["test"] > 0


def test_the_figures_count_balance_lengths_and_overlap_with_imdb_test(media, settings, tmp_path):
    imdb = tmp_path / "imdb"
    imdb.mkdir()
    imdb_test = [review(0).replace(" the ", " the <br /><br />", 1), review(7).upper(), "Something else entirely."]
    pd.DataFrame({"text": imdb_test, "label": [0, 1, 1]}).to_parquet(imdb / "test.parquet")
    pd.DataFrame({"text": ["x"], "label": [0]}).to_parquet(imdb / "train.parquet")
    settings.IMDB_DATA_DIR = str(imdb)
    rows = [*labelled(30), *[(review(i), 1) for i in range(30, 40)]]  # 15 negative, 25 positive
    stats = create(csv_bytes(rows)).stats
    assert (stats["rows"], stats["positive"], stats["negative"], stats["positive_share"]) == (40, 25, 15, 0.625)
    assert sum(stats["words"]["counts"]) == 40 and stats["words"]["min"] == stats["words"]["max"] == 9
    assert stats["words"]["mean"] == 9.0 and stats["split"]["train"] + stats["split"]["test"] == 40
    overlap = stats["overlap"]
    assert overlap["checked"] and (overlap["reviews"], overlap["imdb_test"], overlap["share"]) == (2, 3, 0.05)
    in_train = sum(not in_test_part(review_digest(review(i))) for i in (0, 7))
    assert overlap["train"] == in_train


def test_staff_only(client, person, staff, media):
    dataset = create(csv_bytes(labelled()))
    urls = [reverse("sentiment:dataset_list"), reverse("sentiment:dataset_detail", args=[dataset.pk])]
    for url in urls:
        assert client.get(url).status_code == 302 and "/login/" in client.get(url)["Location"]
    client.force_login(person)
    for url in urls:
        assert client.get(url).status_code == 403
    upload = SimpleUploadedFile("x.csv", csv_bytes(labelled()))
    assert client.post(urls[0], {"name": "theirs", "file": upload}).status_code == 403
    assert client.post(reverse("sentiment:dataset_delete", args=[dataset.pk])).status_code == 403
    assert LabelledDataset.objects.count() == 1
    assert reverse("sentiment:dataset_list") not in client.get(reverse("sentiment:classify")).content.decode()
    client.force_login(staff)
    assert reverse("sentiment:dataset_list") in client.get(reverse("sentiment:classify")).content.decode()


def test_staff_upload_on_the_page_and_see_the_preview(client, staff, media):
    client.force_login(staff)
    upload = SimpleUploadedFile("shop.csv", csv_bytes([*labelled(40), labelled(40)[0]]))
    response = client.post(
        reverse("sentiment:dataset_list"), {"name": "shop", "description": "Our shop's reviews", "file": upload}
    )
    dataset = LabelledDataset.objects.get()
    assert response["Location"] == reverse("sentiment:dataset_detail", args=[dataset.pk])
    page = client.get(response["Location"]).content.decode()
    split = dataset.stats["split"]
    assert '<dd id="rows">40</dd>' in page and '<dd id="duplicates">1</dd>' in page
    assert 'id="positive">20 <span class="muted">(50.0%)' in page
    assert f'id="split-train">{split["train"]}<' in page and f'id="split-test">{split["test"]}<' in page
    assert "The overlap could not be checked: IMDB_DATA_DIR is not set" in page and "leakage" in page
    assert f'/admin/sentiment/trainingrun/launch/?data=set:{dataset.pk}"' in page
    assert f'/admin/sentiment/trainingrun/launch/?data=set:{dataset.pk}%2Bimdb"' in page
    assert 'id="length-bars"' in page and "charts.js" in page and "dataset.js" in page
    listing = client.get(reverse("sentiment:dataset_list")).content.decode()
    assert "shop" in listing and "Our shop&#x27;s reviews" in listing and "negative or positive" in listing


def test_a_refused_upload_on_the_page_says_why_and_saves_nothing(client, staff, media):
    client.force_login(staff)
    upload = SimpleUploadedFile("shop.csv", csv_bytes([*labelled(5), ("Odd.", "meh")]))
    page = client.post(reverse("sentiment:dataset_list"), {"name": "shop", "file": upload}).content.decode()
    assert "Line 7 has the label &#x27;meh&#x27;" in page
    assert nothing_saved(media)


def test_the_launch_form_gets_two_choices_per_data_set(media):
    older = create(csv_bytes(labelled(40)), set_name="older")
    newer = create(csv_bytes(labelled(50)), set_name="newer")
    choices = labelled_dataset_choices()
    keys = [f"set:{newer.pk}", f"set:{newer.pk}+imdb", f"set:{older.pk}", f"set:{older.pk}+imdb"]
    assert [c.key for c in choices] == keys
    alone, added = choices[2], choices[3]
    assert (alone.dataset, alone.added_data) == (older.folder, "")
    assert (added.dataset, added.added_data) == ("imdb", older.folder)
    assert "older" in alone.label and "40" in alone.label and "IMDb + older" in added.label
    assert list(labelled_dataset_list()) == [newer, older]


def test_a_data_set_a_run_still_needs_is_not_deleted(media, staff):
    dataset = create(csv_bytes(labelled()))
    run = TrainingRun.objects.create(
        preset="smoke", config={"dataset": "imdb", "added_data": dataset.folder}, status=TrainingRun.Status.QUEUED
    )
    with pytest.raises(ValidationError, match=f"Run #{run.pk} still uses this data set"):
        labelled_dataset_delete(dataset=dataset)
    assert Path(dataset.folder).is_dir() and LabelledDataset.objects.exists()
    assert list(labelled_dataset_runs(dataset=dataset)) == [run]
    run.status = TrainingRun.Status.SUCCEEDED
    run.save()
    labelled_dataset_delete(dataset=dataset)
    assert not LabelledDataset.objects.exists()


def test_deleting_removes_the_folder(client, staff, media, django_capture_on_commit_callbacks):
    dataset = create(csv_bytes(labelled()))
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("sentiment:dataset_delete", args=[dataset.pk]))
    assert response["Location"] == reverse("sentiment:dataset_list")
    assert not Path(dataset.folder).exists() and nothing_saved(media)


def test_the_run_page_shows_the_score_on_the_added_reviews(client, staff, media):
    added = {"folder": "/data/datasets/1-ab", "train": 80, "test": 16, "right": 14, "accuracy": 0.875}
    run = TrainingRun.objects.create(
        preset="smoke",
        config={"dataset": "imdb", "added_data": added["folder"]},
        status=TrainingRun.Status.SUCCEEDED,
        metrics={"added_data": added},
    )
    client.force_login(staff)
    page = client.get(reverse("sentiment:run_detail", args=[run.pk])).content.decode()
    assert 'id="added-data-card"' in page and "87.5% right" in page and "(14 of 16)" in page


def test_a_huge_file_is_refused_at_the_first_row_past_the_limit_without_reading_the_rest(media):
    content = b'{"text": "a", "label": 1}\n' * 300_000  # 8 MB, under the size limit; three times the row limit
    stream = io.BytesIO(content)
    upload = InMemoryUploadedFile(stream, "file", "huge.jsonl", "application/jsonl", len(content), None)
    with pytest.raises(ValidationError, match="more than 100,000 reviews"):
        labelled_dataset_create(user=None, name="huge", description="", upload=upload)
    assert stream.tell() < len(content) / 2 and nothing_saved(media)


def test_a_set_whose_reviews_all_fall_in_one_part_is_refused(media):
    texts = (f"Review {i} of a film." for i in range(10_000))
    kept = [text for text in texts if not in_test_part(review_digest(text))][:20]
    message = refusal(csv_bytes([(text, i % 2) for i, text in enumerate(kept)]))
    assert message.startswith("None of the 20 reviews fell into the test part") and nothing_saved(media)
