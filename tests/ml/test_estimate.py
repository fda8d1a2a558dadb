"""The estimate before launch: arithmetic that scales an earlier run's measured speed (``ml.estimate``), and
what every run measures about itself for it (``ml.training.run_measures``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ml.config import TrainingConfig
from ml.estimate import (
    GIB,
    IMDB_WORDS,
    DataShape,
    Hardware,
    Measured,
    ModelShape,
    run_estimate,
    scoring_in_training_steps,
)
from ml.presets import config_from_preset
from ml.training.run_measures import WORD_EDGES, Laps, tokens_per_word, words_profile

MINILM = ModelShape(layers=6, hidden=384, intermediate=1536, vocab=30522)
DEMO = DataShape(train=20_000, test=5_000, words=IMDB_WORDS)
CPU = Hardware(kind="cpu", name="2 threads", memory_bytes=24 * GIB, disk_free_bytes=50 * GIB)
SMOKE_SECONDS = {"prepare": 20.0, "train": 240.0, "validation": 4.0, "test": 20.0, "checks": 40.0, "total": 330.0}


def smoke(**overrides) -> TrainingConfig:
    return config_from_preset("smoke", output_dir="/tmp/x", **overrides)


def measured(config: TrainingConfig | None = None, *, seconds=None, peak=int(2.5 * GIB)) -> Measured:
    return Measured(
        run_id=7,
        config=config or smoke(),
        data=DEMO,
        model=MINILM,
        seconds=seconds or SMOKE_SECONDS,
        peak_bytes=peak,
    )


def estimate(config: TrainingConfig, *, hardware=CPU, reference=None, data=DEMO):
    return run_estimate(config, data=data, model=MINILM, hardware=hardware, precision="fp32", measured=reference)


def test_the_same_settings_on_the_same_hardware_take_the_measured_time():
    found = estimate(smoke(), reference=measured())
    assert found.seconds == pytest.approx(SMOKE_SECONDS["total"], rel=0.01)
    assert found.phases["train"] == pytest.approx(240.0, rel=0.01)
    assert found.peak_bytes == pytest.approx(2.5 * GIB, rel=0.01)  # the same run needs the memory it measured
    assert "run #7" in found.basis and "same model and data" in found.basis
    assert found.reviews["train"] == 2000 and found.reviews["test"] == 1000 and found.reviews["steps"] == 125


def test_twice_the_reviews_or_epochs_take_twice_the_training_time():
    reference = measured()
    base = estimate(smoke(), reference=reference)
    more_reviews = estimate(smoke(max_train_examples=4000), reference=reference)
    more_epochs = estimate(smoke(num_train_epochs=2.0), reference=reference)
    assert more_reviews.phases["train"] == pytest.approx(2 * base.phases["train"], rel=0.01)
    assert more_epochs.phases["train"] == pytest.approx(2 * base.phases["train"], rel=0.01)
    assert more_epochs.phases["validation"] == pytest.approx(2 * base.phases["validation"], rel=0.01)
    assert more_reviews.phases["test"] == base.phases["test"]


def test_longer_reviews_padding_and_frozen_layers_change_the_work_as_expected():
    reference = measured()
    base = estimate(smoke(), reference=reference).phases["train"]
    assert estimate(smoke(max_length=512), reference=reference).phases["train"] > base * 1.1
    assert estimate(smoke(padding="max_length"), reference=reference).phases["train"] > base * 1.1
    assert (
        estimate(smoke(group_by_length=False), reference=reference).phases["train"] > base
    )  # padding to each batch's longest
    assert estimate(smoke(frozen_layers=3), reference=reference).phases["train"] < base * 0.8


def test_a_bigger_model_costs_more_time_and_memory():
    bert = ModelShape(layers=12, hidden=768, intermediate=3072, vocab=30522)
    small = estimate(smoke(), reference=measured())
    big = run_estimate(smoke(), data=DEMO, model=bert, hardware=CPU, precision="fp32", measured=measured())
    assert big.phases["train"] > 6 * small.phases["train"]
    assert "base_model" not in big.basis  # the config names minilm in both; the shape is what differs
    assert big.peak_bytes > small.peak_bytes + GIB


def test_without_a_measured_run_there_is_no_time_but_there_is_memory():
    found = estimate(smoke(), reference=None)
    assert found.seconds is None and found.phases == {}
    assert "No run has finished on this worker's hardware" in found.basis
    assert GIB < found.peak_bytes < 4 * GIB


def test_a_run_that_will_not_fit_is_said_before_it_starts():
    small_gpu = Hardware(kind="cuda", name="small", memory_bytes=2 * GIB, disk_free_bytes=10 * GIB)
    found = run_estimate(
        smoke(train_batch_size=256, max_length=512), data=DEMO, model=MINILM, hardware=small_gpu,
        precision="bf16", measured=None,
    )  # fmt: skip
    assert found.warnings and found.warnings[0].startswith("This run will not fit")
    assert "Lower the batch size" in found.warnings[0]
    fits = run_estimate(smoke(), data=DEMO, model=MINILM, hardware=CPU, precision="fp32", measured=None)
    assert fits.warnings == []


def test_too_little_disk_for_the_checkpoints_is_said():
    no_disk = Hardware(kind="cpu", name="2 threads", memory_bytes=24 * GIB, disk_free_bytes=10 * 2**20)
    found = estimate(smoke(), hardware=no_disk, reference=measured())
    assert any(w.startswith("Not enough disk") for w in found.warnings)


def test_laps_take_the_validation_out_of_the_training_time(monkeypatch):
    clock = iter([0.0, 10.0, 110.0, 130.0, 140.0])
    monkeypatch.setattr("ml.training.run_measures.time.monotonic", lambda: next(clock))
    laps = Laps()
    laps.lap("prepare")
    laps.lap("train")
    laps.lap("test")
    phases = laps.phases([{"loss": 0.3}, {"eval_runtime": 4.0}, {"eval_runtime": 6.0}])
    assert phases == {"prepare": 10.0, "train": 90.0, "test": 20.0, "validation": 10.0, "total": 140.0}


def test_review_lengths_are_profiled_in_words_and_word_pieces():
    profile = words_profile(["one two three", "a " * 30, "word " * 5000])
    assert profile["edges"] == WORD_EDGES and sum(profile["counts"]) == 3
    assert profile["counts"][0] == 1 and profile["counts"][1] == 1 and profile["counts"][-1] == 1
    # the third review was cut at max length: its word pieces do not tell how many a word makes
    assert tokens_per_word(["one two three", "a b", "x " * 600], [8, 4, 64], max_length=64) == pytest.approx(
        (6 + 2) / 5
    )


def test_a_finished_run_records_what_the_next_estimate_reads(trained_tiny_run):
    metrics = json.loads((Path(trained_tiny_run.output_dir) / "metrics.json").read_text())
    seconds = metrics["seconds"]
    assert {"prepare", "train", "validation", "test", "checks", "total"} <= set(seconds)
    assert all(value >= 0 for value in seconds.values()) and seconds["train"] > 0
    assert sum(v for k, v in seconds.items() if k != "total") <= seconds["total"] + 0.1
    assert metrics["memory"]["training"]["peak_bytes"] > 100 * 2**20
    profile = metrics["data"]["profile"]
    assert profile["source_sizes"] == {"train": 400, "test": 100}
    assert sum(profile["words"]["counts"]) == metrics["data"]["sizes"]["train"]
    assert 1.0 <= profile["tokens_per_word"] <= 3.0
    shape = ModelShape.from_config(metrics["model_shape"])
    assert (shape.layers, shape.hidden, shape.intermediate) == (2, 32, 64)


def test_the_scoring_after_training_is_counted_in_the_runs_own_steps():
    """Measured on a 2-core AVX2 EPYC (the cpu preset): 250 steps in 800 s, then 757 s of validation, test and
    checks, i.e. 237 steps' worth; the arithmetic must land near it, and move with what is scored."""
    cpu = config_from_preset("cpu", output_dir="/tmp/x")
    imdb = DataShape(train=25_000, test=25_000, words=IMDB_WORDS)
    after = scoring_in_training_steps(cpu, data=imdb, model=MINILM)
    assert 237 * 0.8 < after < 237 * 1.2
    fewer = config_from_preset("cpu", output_dir="/tmp/x", max_test_examples=1000, serving_check_reviews=0)
    assert scoring_in_training_steps(fewer, data=imdb, model=MINILM) < after / 4
