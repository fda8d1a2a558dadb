"""A run keeps its answer on every test review (``ml.evaluation.scored_reviews``) and how far its confidence can
be trusted (``ml.evaluation.metrics.calibration``)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ml.data.sources import SplitLimits, load_reviews
from ml.evaluation.metrics import calibration, classification_metrics
from ml.evaluation.scored_reviews import scored_reviews_cell, scored_reviews_write


def test_each_sampled_test_review_keeps_its_row_in_the_source(make_review_folder):
    folder = make_review_folder(test=80)
    source = pd.read_parquet(Path(folder) / "test.parquet")
    splits = load_reviews(str(folder), limits=SplitLimits(seed=5, max_test=30))
    assert len(splits.test_ids) == 30 and len(set(splits.test_ids)) == 30
    for review_id, text in zip(splits.test_ids, splits.test["text"], strict=True):
        assert source.text[review_id].replace("<br />", " ") == text
    everything = load_reviews(str(folder), limits=SplitLimits(seed=5))
    assert everything.test_ids == list(range(80))


def test_the_sample_is_the_one_earlier_runs_were_scored_on(make_review_folder):
    """The ids come from the very permutation ``Dataset.shuffle`` makes: no run's test sample changed."""
    folder = make_review_folder(test=80)
    whole = load_reviews(str(folder), limits=SplitLimits(seed=9)).test
    sampled = load_reviews(str(folder), limits=SplitLimits(seed=9, max_test=25)).test
    assert sampled["text"] == whole.shuffle(seed=9).select(range(25))["text"]


def test_a_perfectly_calibrated_model_has_no_calibration_error():
    rng = np.random.default_rng(0)
    probs = rng.uniform(0, 1, 200_000)
    labels = (rng.uniform(0, 1, probs.size) < probs).astype(int)  # right exactly as often as it says
    result = calibration(labels, probs)
    assert result["ece"] < 0.01
    assert len(result["bins"]) == 10 and sum(b["count"] for b in result["bins"]) == probs.size
    assert all(abs(b["accuracy"] - b["confidence"]) < 0.02 for b in result["bins"])


def test_an_overconfident_model_has_a_large_calibration_error():
    labels = np.array([0, 1] * 50)
    probs = np.full(100, 0.99)  # always 99% sure, right half the time
    result = calibration(labels, probs)
    assert result["ece"] == pytest.approx(0.49, abs=0.001)
    full = [b for b in result["bins"] if b["count"]]
    assert len(full) == 1 and full[0]["low"] == 0.95 and full[0]["accuracy"] == 0.5
    assert "accuracy" not in result["bins"][0]  # empty bins say nothing
    json.dumps(classification_metrics(labels, probs))  # stored as JSON with the run


def _saved(tmp_path):
    labels = [0, 0, 0, 1, 1, 1]
    probs = [0.1, 0.97, 0.6, 0.2, 0.8, 0.45]
    texts = ["dull", "a DULL film, I hated it", "meh", "superb", "loved it", "fine, dull bits"]
    scored_reviews_write(
        tmp_path, review_ids=[10, 11, 12, 13, 14, 15], labels=labels, positive_probs=probs, texts=texts
    )
    return tmp_path


def test_the_reviews_of_a_confusion_cell_come_most_confidently_wrong_first(tmp_path):
    folder = _saved(tmp_path)
    page = scored_reviews_cell(folder, cell="fp")
    assert [r["review_id"] for r in page.rows] == [11, 12] and page.total == page.cell_size == 2
    assert page.rows[0]["confidence"] == pytest.approx(0.97) and page.rows[0]["predicted"] == 1
    assert [r["review_id"] for r in scored_reviews_cell(folder, cell="fp", least_confident_first=True).rows] == [
        12,
        11,
    ]
    assert [r["review_id"] for r in scored_reviews_cell(folder, cell="fn").rows] == [13, 15]
    assert [r["review_id"] for r in scored_reviews_cell(folder, cell="tp").rows] == [14]


def test_a_cell_can_be_searched_and_paged(tmp_path):
    folder = _saved(tmp_path)
    found = scored_reviews_cell(folder, cell="fn", query="DULL")
    assert [r["text"] for r in found.rows] == ["fine, dull bits"] and found.total == 1 and found.cell_size == 2
    second = scored_reviews_cell(folder, cell="fp", offset=1, limit=1)
    assert [r["review_id"] for r in second.rows] == [12] and second.total == 2


def test_a_run_without_saved_answers_has_no_cells(tmp_path):
    assert scored_reviews_cell(tmp_path, cell="tp") is None


def test_a_training_run_keeps_every_test_answer_in_order(trained_tiny_run):
    out = Path(trained_tiny_run.output_dir)
    saved = pd.read_parquet(out / "test_predictions.parquet")
    test = trained_tiny_run.metrics["test"]
    assert len(saved) == test["examples"] and sorted(saved.review_id) == list(range(len(saved)))
    predicted = (saved.positive_probability >= 0.5).astype(int)
    assert (predicted == saved.label).mean() == pytest.approx(test["accuracy"])
    [[tn, fp], _] = test["confusion_matrix"]
    assert scored_reviews_cell(out, cell="fp").cell_size == fp and scored_reviews_cell(out, cell="tn").cell_size == tn
    assert test["calibration"]["ece"] is not None
    size = trained_tiny_run.metrics["model"]
    assert size["parameters"] == size["trainable_parameters"] > 0 and size["bytes"] > size["parameters"] * 3


@pytest.mark.slow  # a tiny model trained again, its batches grouped by length
def test_saved_answers_line_up_with_their_reviews_when_batches_are_grouped_by_length(
    tmp_path, tiny_model_dir, synthetic_folder
):
    """With length grouping, the Trainer's evaluation sampler shuffles batches: the saved answers must
    still be each review's own, so the accuracy recomputed from the file is the run's accuracy."""
    from ml.training.pipeline import train_model
    from tests.synthetic import tiny_config

    config = tiny_config(
        tiny_model_dir,
        synthetic_folder,
        tmp_path / "grouped",
        group_by_length=True,
        eval_batch_size=8,
        num_train_epochs=2,
    )
    run = train_model(config, progress_bar=False)
    saved = pd.read_parquet(Path(run.output_dir) / "test_predictions.parquet")
    source = pd.read_parquet(synthetic_folder / "test.parquet")
    assert list(saved.label) == [source.label[i] for i in saved.review_id]
    recomputed = ((saved.positive_probability >= 0.5).astype(int) == saved.label).mean()
    assert recomputed == pytest.approx(run.metrics["test"]["accuracy"])
    [[tn, fp], [fn, tp]] = run.metrics["test"]["confusion_matrix"]
    sizes = {cell: scored_reviews_cell(run.output_dir, cell=cell).cell_size for cell in ("tn", "fp", "fn", "tp")}
    assert sizes == {"tn": tn, "fp": fp, "fn": fn, "tp": tp}
