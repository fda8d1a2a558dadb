"""Corrections from users: a fixed held-out part, training on the rest, and every run scored on it."""

import pytest

from ml.config import TrainingConfig
from ml.data.corrections import (
    HOLDOUT_PERCENT,
    accuracy_on,
    corrections_write,
    held_out,
    held_out_rows,
    load_corrections,
)
from ml.errors import ConfigError, DataError
from ml.training.pipeline import train_model
from tests.synthetic import synthetic_reviews, tiny_config


def test_the_held_out_part_depends_on_the_text_alone_and_is_about_a_third():
    texts = [f"review number {i}, quite something" for i in range(2000)]
    share = sum(map(held_out, texts)) / len(texts)
    assert abs(share - HOLDOUT_PERCENT / 100) < 0.04
    assert [held_out(t) for t in texts] == [held_out(t) for t in texts]
    assert held_out("A  Fine\nFilm") == held_out("a fine film")  # case and spacing do not move a review


def test_a_saved_set_loads_with_its_version_split_into_training_and_held_out_parts(tmp_path):
    texts = [f"review {i}" for i in range(50)]
    path = corrections_write(tmp_path / "c.parquet", texts=texts, labels=[i % 2 for i in range(50)], version="50-abc")
    loaded = load_corrections(path)
    assert loaded.version == "50-abc" and len(loaded.train) + len(loaded.holdout) == 50
    assert set(loaded.holdout["text"]) == {t for t in texts if held_out(t)}
    assert [r["text"] for r in held_out_rows(path)] == loaded.holdout["text"]
    assert accuracy_on(lambda xs: [1.0] * len(xs), [{"text": "a", "label": 1}, {"text": "b", "label": 0}]) == 0.5
    with pytest.raises(DataError, match="does not exist"):
        load_corrections(tmp_path / "missing.parquet")


def test_training_on_corrections_needs_a_corrections_file():
    with pytest.raises(ConfigError, match="train_on_corrections needs corrections"):
        TrainingConfig(train_on_corrections=True)


@pytest.mark.slow  # a tiny model trained again, on the corrections
def test_a_run_trains_on_the_corrections_and_is_scored_on_the_held_out_ones(tmp_path, tiny_model_dir, synthetic_folder):
    rows = synthetic_reviews(60, seed=11)
    path = corrections_write(tmp_path / "c.parquet", texts=rows.text.tolist(), labels=rows.label.tolist(), version="v1")
    loaded = load_corrections(path)
    config = tiny_config(
        tiny_model_dir, synthetic_folder, tmp_path / "run", corrections_file=str(path), train_on_corrections=True
    )
    result = train_model(config, progress_bar=False)
    scores = result.metrics["corrections"]
    assert scores["version"] == "v1" and scores["trained_on"] == len(loaded.train) > 0
    assert scores["held_out"] == len(loaded.holdout) > 0 and 0 <= scores["right"] <= scores["held_out"]
    assert scores["accuracy"] == pytest.approx(scores["right"] / scores["held_out"])
    assert result.metrics["data"]["sizes"]["train"] == 360 + len(loaded.train)
