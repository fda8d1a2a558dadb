"""Your own labelled reviews: split by their text, described before training, and added to a run's data."""

import json

import pandas as pd
import pytest

from ml.config import TrainingConfig
from ml.data.labelled_sets import TEST_PERCENT, in_test_part, labelled_split_write, review_digest
from ml.data.sources import load_added_data, resolve_added_data
from ml.data.stats import dataset_stats, histogram_bars, imdb_overlap, words_summary
from ml.errors import ConfigError, DataError
from ml.training.pipeline import train_model
from tests.synthetic import synthetic_reviews, tiny_config


def saved_set(folder, rows: pd.DataFrame):
    folder.mkdir()
    digests = [review_digest(text) for text in rows.text]
    in_test = [in_test_part(d) for d in digests]
    labelled_split_write(folder, texts=rows.text.tolist(), labels=rows.label.tolist(), in_test=in_test)
    return folder, in_test


def test_a_review_is_the_same_whatever_its_case_spacing_or_html_breaks():
    assert review_digest("A  Fine<br />film\n") == review_digest("a fine film") != review_digest("a fine films")


def test_the_test_part_depends_on_the_text_alone_and_is_about_a_fifth():
    texts = [f"my review number {i}" for i in range(3000)]
    chosen = [in_test_part(review_digest(t)) for t in texts]
    assert abs(sum(chosen) / len(texts) - TEST_PERCENT / 100) < 0.03
    assert chosen == [in_test_part(review_digest(t)) for t in texts]


def test_a_saved_set_loads_as_an_added_folder_with_its_two_parts(tmp_path):
    rows = synthetic_reviews(100, seed=5)
    folder, in_test = saved_set(tmp_path / "set", rows)
    added = load_added_data(folder)
    assert (len(added.train), len(added.test)) == (100 - sum(in_test), sum(in_test))
    assert set(added.test["text"]) == {t.replace("<br /><br />", "  ") for t, test in zip(rows.text, in_test) if test}
    assert added.train.column_names == ["text", "label"] and added.folder == str(folder)
    assert resolve_added_data("") is None
    with pytest.raises(DataError, match=r"added data folder .* does not exist"):
        resolve_added_data(str(tmp_path / "gone"))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"added_data": "imdb"}, "not 'imdb': choose 'imdb' as the dataset"),
        ({"added_data": "/data/mine", "dataset": "/data/mine"}, "trained on twice"),
        ({"added_data": "   "}, "added_data is blank"),
        ({"added_data": 3}, "must be a folder path"),
    ],
)
def test_added_data_must_name_another_folder(changes, message):
    with pytest.raises(ConfigError, match=message):
        TrainingConfig(**changes)
    TrainingConfig(added_data="/data/mine")  # whether it exists is checked when training starts


def test_the_figures_of_a_known_set():
    texts = ["one two three", "a b c d e<br />f", "x " * 30, "word " * 700, "solo"]
    stats = dataset_stats(
        texts=texts, labels=[1, 1, 0, 1, 0], in_test=[False, True, False, False, False], duplicates=2, overlap={}
    )
    assert (stats["rows"], stats["positive"], stats["negative"], stats["positive_share"]) == (5, 3, 2, 0.6)
    assert stats["duplicates_dropped"] == 2 and stats["split"] == {"train": 4, "test": 1, "test_percent": 20}
    words = stats["words"]
    assert (words["min"], words["median"], words["p90"], words["max"], words["mean"]) == (1, 6, 700, 700, 148.0)
    assert sum(words["counts"]) == 5 and len(words["edges"]) == len(words["counts"]) + 1
    assert words["counts"][0] == 3 and words["counts"][1] == 1  # 1, 3 and 6 words; 30 words in the second bin
    bars = histogram_bars(words)
    assert bars[0] == {"label": "0–24", "count": 3} and bars[-1] == {"label": "700–799", "count": 1}
    assert sum(bar["count"] for bar in bars) == 5
    assert words_summary([])["median"] is None and histogram_bars(words_summary([])) == []


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_the_overlap_with_the_imdb_test_reviews_is_counted(tmp_path, fmt):
    imdb = tmp_path / f"imdb-{fmt}"
    imdb.mkdir()
    test = pd.DataFrame({"text": ["A classic.<br /><br />Loved it.", "Dull, dull, dull.", "Fine."], "label": [1, 0, 1]})
    if fmt == "parquet":
        test.to_parquet(imdb / "test.parquet")
    elif fmt == "csv":
        test.to_csv(imdb / "test.csv", index=False)
    else:
        (imdb / "test.jsonl").write_text("\n".join(json.dumps(r) for r in test.to_dict("records")))
    mine = ["a classic. loved it.", "DULL, dull, dull.", "Something new.", "Another one."]
    overlap = imdb_overlap([review_digest(t) for t in mine], [False, True, False, False], imdb_dir=str(imdb))
    assert overlap["checked"] and (overlap["reviews"], overlap["train"], overlap["imdb_test"]) == (2, 1, 3)
    assert overlap["share"] == 0.5 and overlap["source"].endswith(f"test.{fmt}")


def test_an_overlap_that_cannot_be_checked_says_why(tmp_path):
    assert "IMDB_DATA_DIR is not set" in imdb_overlap([], [], imdb_dir=None)["reason"]
    assert "has no test.parquet" in imdb_overlap([], [], imdb_dir=str(tmp_path))["reason"]
    (tmp_path / "test.parquet").write_text("not parquet")
    unreadable = imdb_overlap([], [], imdb_dir=str(tmp_path))
    assert not unreadable["checked"] and "cannot read the IMDb test reviews" in unreadable["reason"]


@pytest.mark.slow  # a tiny model trained again, on the added reviews
def test_a_run_adds_the_training_reviews_and_is_scored_on_the_test_reviews(tmp_path, tiny_model_dir, synthetic_folder):
    folder, in_test = saved_set(tmp_path / "mine", synthetic_reviews(120, seed=21))
    config = tiny_config(
        tiny_model_dir, synthetic_folder, tmp_path / "run", added_data=str(folder), serving_check_reviews=0
    )
    result = train_model(config, progress_bar=False)
    added = result.metrics["added_data"]
    assert (added["folder"], added["train"], added["test"]) == (str(folder), 120 - sum(in_test), sum(in_test))
    assert added["test"] > 0 and 0 <= added["right"] <= added["test"]
    assert added["accuracy"] == pytest.approx(added["right"] / added["test"]) and added["accuracy"] > 0.8
    assert result.metrics["data"]["sizes"]["train"] == 360 + added["train"]
    assert any("reviews of your own" in note for note in result.metrics["data"]["notes"])
    assert result.metrics["data"]["sizes"]["test"] == 100  # the main test set is the dataset's own


def test_a_missing_added_folder_stops_the_run_before_anything_slow(tmp_path, tiny_model_dir, synthetic_folder):
    config = tiny_config(tiny_model_dir, synthetic_folder, tmp_path / "run", added_data=str(tmp_path / "deleted"))
    with pytest.raises(DataError, match="was its data set deleted"):
        train_model(config, progress_bar=False)
    assert not (tmp_path / "run").exists()
