import pandas as pd
import pytest

from ml.data.sources import SplitLimits, load_reviews
from ml.errors import DataError

LIMITS = SplitLimits(seed=7, validation_fraction=0.25)


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_a_folder_in_each_format_loads_into_three_splits(make_review_folder, fmt):
    splits = load_reviews(str(make_review_folder(fmt)), limits=LIMITS)
    assert splits.sizes() == {"train": 180, "validation": 60, "test": 80}
    assert set(splits.train.column_names) == {"text", "label"}
    assert set(splits.test["label"]) == {0, 1}


def test_html_line_breaks_are_cleaned(make_review_folder):
    splits = load_reviews(str(make_review_folder()), limits=LIMITS)
    assert not any("<br" in t for t in [*splits.train["text"], *splits.test["text"]])


def test_splits_are_seeded_and_limited(make_review_folder):
    folder = str(make_review_folder())
    limits = SplitLimits(seed=3, validation_fraction=0.25, max_train=50, max_validation=20, max_test=30)
    first, again = load_reviews(folder, limits=limits), load_reviews(folder, limits=limits)
    assert first.sizes() == {"train": 50, "validation": 20, "test": 30}
    assert first.validation["text"] == again.validation["text"] and first.test["text"] == again.test["text"]
    other = load_reviews(folder, limits=SplitLimits(seed=4, validation_fraction=0.25, max_validation=20))
    assert other.validation["text"] != first.validation["text"]
    assert not set(first.validation["text"]) & set(first.train["text"])


def test_imdb_means_the_folder_in_imdb_data_dir(make_review_folder):
    folder = make_review_folder()
    splits = load_reviews("imdb", limits=LIMITS, imdb_dir=str(folder))
    assert str(folder) in splits.description and len(splits.test) == 80


def test_aclimdb_layout(tmp_path):
    for split in ("train", "test"):
        for label, words in (("pos", "a wonderful film"), ("neg", "a dreadful film")):
            folder = tmp_path / "aclImdb" / split / label
            folder.mkdir(parents=True)
            for i in range(6):
                (folder / f"{i}_8.txt").write_text(f"{words} number {i}<br />the end")
    splits = load_reviews(str(tmp_path / "aclImdb"), limits=SplitLimits(validation_fraction=0.25))
    assert splits.sizes() == {"train": 9, "validation": 3, "test": 12}
    assert sorted(set(splits.test["label"])) == [0, 1]
    assert "aclImdb" in splits.description and "<br" not in splits.test["text"][0]


def test_demo_data_is_offline_and_says_its_test_set_is_held_out():
    splits = load_reviews("demo", limits=SplitLimits(max_train=100, max_validation=50, max_test=100))
    assert splits.sizes() == {"train": 100, "validation": 50, "test": 100}
    assert "held-out" in splits.notes[0]
    assert 30 < sum(splits.test["label"]) < 70


def test_missing_folder(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_reviews(str(tmp_path / "nowhere"), limits=LIMITS)


def test_folder_without_a_test_file(tmp_path):
    pd.DataFrame({"text": ["a"], "label": [1]}).to_csv(tmp_path / "train.csv", index=False)
    with pytest.raises(DataError, match=r"no test file in .*test\.parquet, test\.csv or test\.jsonl"):
        load_reviews(str(tmp_path), limits=LIMITS)


def test_csv_without_a_text_column_names_file_and_columns(tmp_path):
    for split in ("train", "test"):
        pd.DataFrame({"review": ["good", "bad"], "label": [1, 0]}).to_csv(tmp_path / f"{split}.csv", index=False)
    with pytest.raises(DataError, match=r"train\.csv has no 'text' column \(columns: label, review\)"):
        load_reviews(str(tmp_path), limits=LIMITS)


def test_labels_other_than_0_and_1(tmp_path):
    for split in ("train", "test"):
        pd.DataFrame({"text": ["good", "bad", "meh"], "label": [1, 0, 2]}).to_parquet(tmp_path / f"{split}.parquet")
    with pytest.raises(DataError, match=r"train\.parquet: labels must be 0 .* or 1 .*found 0, 1, 2"):
        load_reviews(str(tmp_path), limits=LIMITS)


def test_an_empty_split(make_review_folder):
    folder = make_review_folder("csv")
    (folder / "test.csv").write_text("text,label\n")
    with pytest.raises(DataError, match=r"test\.csv is empty"):
        load_reviews(str(folder), limits=LIMITS)


def test_an_unreadable_file_names_the_file(make_review_folder):
    folder = make_review_folder()
    (folder / "test.parquet").write_bytes(b"this is not parquet")
    with pytest.raises(DataError, match=r"cannot read .*test\.parquet"):
        load_reviews(str(folder), limits=LIMITS)


def test_too_few_reviews_for_a_validation_split(tmp_path):
    for split in ("train", "test"):
        pd.DataFrame({"text": ["good"], "label": [1]}).to_csv(tmp_path / f"{split}.csv", index=False)
    with pytest.raises(DataError, match="too few"):
        load_reviews(str(tmp_path), limits=LIMITS)


def test_the_hub_offline_names_the_offline_choices():
    with pytest.raises(DataError) as caught:
        load_reviews("imdb", limits=LIMITS)
    message = str(caught.value)
    assert "stanfordnlp/imdb" in message and "--dataset demo" in message and "IMDB_DATA_DIR" in message
    assert "\n" not in message
