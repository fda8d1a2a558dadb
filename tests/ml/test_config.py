import dataclasses

import pytest

from ml.config import TrainingConfig, config_fields
from ml.errors import ConfigError
from ml.presets import PRESET_SUMMARIES, PRESETS, config_from_preset, presets_described


def test_every_field_explains_itself():
    for f in config_fields():
        assert len(f.metadata["help"]) > 30, f.name


def test_round_trips_through_json():
    config = config_from_preset("fast", output_dir="/tmp/x", max_train_examples=100)
    assert TrainingConfig.from_json(config.to_json()) == config


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"train_batch_size": 0}, ["train_batch_size", "between 1 and 4096", "weight update"]),
        ({"learning_rate": 5.0}, ["learning_rate", "below 1"]),
        ({"max_length": 1000}, ["max_length", "512"]),
        ({"num_train_epochs": 0}, ["num_train_epochs", "above 0"]),
        ({"truncation": "middle"}, ["truncation must be one of head, tail, head_tail", "'middle'"]),
        ({"early_stopping_patience": 2, "eval_strategy": "no"}, ["early stopping needs evaluation"]),
        ({"validation_fraction": 0.9}, ["validation_fraction"]),
        ({"max_test_examples": 1}, ["max_test_examples must be at least 2"]),
    ],
)
def test_impossible_values_are_refused_with_the_reason(changes, words):
    with pytest.raises(ConfigError) as caught:
        TrainingConfig(**changes)
    for word in words:
        assert word in str(caught.value)


def test_all_problems_are_reported_together():
    with pytest.raises(ConfigError) as caught:
        TrainingConfig(train_batch_size=0, learning_rate=-1)
    assert "train_batch_size" in str(caught.value) and "learning_rate" in str(caught.value)


def test_each_problem_names_its_field_and_the_text_joins_them_for_the_command_line():
    with pytest.raises(ConfigError) as caught:
        TrainingConfig(train_batch_size=0, learning_rate=5.0, eval_steps=0)
    problems = caught.value.problems
    assert [field for field, _ in problems] == ["train_batch_size", "learning_rate", None]
    assert "; fine-tuning uses about 1e-5" in problems[1][1]  # a message may itself contain "; "
    assert str(caught.value) == "; ".join(message for _, message in problems)


def test_a_single_message_is_a_problem_about_no_field():
    error = ConfigError("unknown preset 'turbo'")
    assert error.problems == [(None, "unknown preset 'turbo'")] and str(error) == "unknown preset 'turbo'"


def test_unknown_settings_are_refused():
    with pytest.raises(ConfigError, match="unknown setting"):
        TrainingConfig.from_dict({"epochs": 3})


def test_bad_json_is_refused():
    with pytest.raises(ConfigError, match="not valid JSON"):
        TrainingConfig.from_json("{nope")


def test_tutorial_preset_is_the_tutorial_recipe():
    c = config_from_preset("tutorial")
    assert (c.base_model, c.max_length, c.padding, c.truncation) == ("bert-base-uncased", 512, "max_length", "head")
    assert (c.train_batch_size, c.num_train_epochs, c.weight_decay, c.eval_strategy) == (8, 3, 0.01, "epoch")
    assert c.precision == "fp32"


def test_fast_preset_is_tuned_for_a_gpu():
    c = config_from_preset("fast")
    assert c.precision == "auto" and c.padding == "dynamic" and c.pad_to_multiple_of == 64
    assert c.group_by_length and c.attention == "sdpa" and c.optimizer == "adamw_torch_fused"
    assert c.truncation == "head_tail" and c.train_batch_size > 8


def test_smoke_preset_is_offline():
    c = config_from_preset("smoke")
    assert c.base_model == "minilm" and c.dataset == "demo" and c.max_test_examples >= 1000


def test_cpu_preset_is_the_half_hour_cpu_recipe_and_validates():
    c = config_from_preset("cpu", output_dir="/tmp/x")
    # official IMDb; 'auto' precision: bf16 where the CPU computes it, else fp32 (tests/ml/test_hardware.py)
    assert (c.base_model, c.dataset, c.precision, c.max_train_examples) == ("minilm", "imdb", "auto", 18000)
    assert (c.max_length, c.truncation, c.frozen_layers, c.dropout) == (256, "head_tail", 2, 0.0)
    assert c.max_test_examples == 5000 and c.save_strategy == "steps"  # the seeded 5,000 of the README's table
    assert TrainingConfig.from_json(c.to_json()) == c


def test_every_preset_is_described_for_the_help_texts():
    assert set(PRESET_SUMMARIES) == set(PRESETS)
    assert "cpu (the best model a CPU trains in about half an hour" in presets_described()


def test_any_field_overrides_a_preset_and_none_keeps_it():
    c = config_from_preset("tutorial", learning_rate=3e-5, seed=None)
    assert c.learning_rate == 3e-5 and c.seed == TrainingConfig().seed


def test_overrides_are_validated():
    with pytest.raises(ConfigError, match="train_batch_size"):
        config_from_preset("smoke", train_batch_size=-3)


def test_unknown_preset():
    with pytest.raises(ConfigError, match="unknown preset 'turbo'"):
        config_from_preset("turbo")


def test_presets_only_name_real_fields():
    names = {f.name for f in dataclasses.fields(TrainingConfig)}
    for preset in PRESETS.values():
        assert set(preset) <= names
