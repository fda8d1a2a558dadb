"""Distillation (``ml.training.distillation``): the layers a student keeps, its loss, and a whole student run
that starts from the tiny teacher's weights and learns from its answers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ml.config import CONFIG_FILE, TrainingConfig
from ml.errors import ConfigError, ModelError
from ml.presets import config_for_student
from ml.serving.choice import AUTO, DEFAULT_MAX_LOSS_POINTS, serving_runtime
from ml.serving.inference import Predictor, predictor_load
from ml.training.distillation import (
    ANSWERS_FILE,
    distillation_loss,
    kept_layer_indices,
    teacher_answers,
    teacher_runtime,
)
from ml.training.pipeline import train_model


@pytest.mark.parametrize(
    ("total", "keep", "start_from", "kept"),
    [
        (6, 3, "spread", [0, 2, 5]),  # the first and the last, and one between
        (6, 2, "spread", [0, 5]),
        (6, 6, "spread", [0, 1, 2, 3, 4, 5]),
        (12, 4, "spread", [0, 4, 7, 11]),
        (6, 3, "bottom", [0, 1, 2]),
        (6, 1, "spread", [0]),
    ],
)
def test_kept_layers(total, keep, start_from, kept):
    assert kept_layer_indices(total, keep, start_from) == kept


@pytest.mark.parametrize("keep", [0, 7])
def test_keeping_more_layers_than_there_are_is_refused(keep):
    with pytest.raises(ModelError, match="has 6 layers"):
        kept_layer_indices(6, keep)


def test_the_loss_without_the_teacher_is_cross_entropy():
    logits = torch.tensor([[0.3, -0.2], [-1.0, 2.0]])
    labels = torch.tensor([0, 1])
    teacher = torch.tensor([0.9, 0.1])
    plain = torch.nn.functional.cross_entropy(logits, labels)
    assert torch.allclose(distillation_loss(logits, teacher, labels, temperature=2.0, weight=0.0), plain)


def test_the_soft_part_is_zero_when_the_student_answers_as_the_teacher():
    """A student whose P(positive) is the teacher's has nothing left to learn from it, at any temperature."""
    logits = torch.tensor([[0.0, 1.5], [0.0, -0.7]])
    teacher = torch.softmax(logits, dim=-1)[:, 1]
    labels = torch.tensor([1, 1])
    for temperature in (1.0, 2.0, 4.0):
        loss = distillation_loss(logits, teacher, labels, temperature=temperature, weight=1.0)
        assert loss.item() == pytest.approx(0.0, abs=1e-6)


def test_the_soft_part_pulls_the_student_towards_the_teacher():
    """The teacher is 90% sure of positive, the student 50/50, the true label negative: with the teacher alone the
    gradient raises the positive logit, with the true label alone it lowers it."""
    labels = torch.tensor([0])
    teacher = torch.tensor([0.9])
    for weight, sign in ((1.0, -1), (0.0, 1)):
        logits = torch.zeros(1, 2, requires_grad=True)
        distillation_loss(logits, teacher, labels, temperature=2.0, weight=weight).backward()
        assert np.sign(logits.grad[0, 1].item()) == sign


def test_student_settings_inherit_the_teachers_and_apply_the_recipe(tiny_model_dir, synthetic_folder, tmp_path):
    teacher = TrainingConfig(
        base_model="minilm", dataset="imdb", max_length=200, frozen_layers=2, counterfactual_pairs=4,
        output_dir=str(tmp_path / "teacher"), corrections_file=str(tmp_path / "c.csv"), train_on_corrections=True,
    )  # fmt: skip
    student = config_for_student(teacher, "/runs/teacher/model", 6, distillation_temperature=3.0)
    assert student.base_model == student.teacher_model == "/runs/teacher/model"
    assert (student.dataset, student.max_length, student.counterfactual_pairs) == ("imdb", 150, 4)  # 3/4 of 200
    assert (student.keep_layers, student.frozen_layers, student.distillation_temperature) == (3, 1, 3.0)
    assert student.output_dir == "" and student.corrections_file == "" and not student.train_on_corrections
    assert config_for_student(teacher, "/t", 12).keep_layers == 6  # half the teacher's
    assert config_for_student(teacher, "/t", 2).keep_layers == 1
    assert config_for_student(teacher, "/t", 6, keep_layers=1).frozen_layers == 0  # one kept layer: it must learn
    with pytest.raises(ConfigError, match="frozen_layers"):
        config_for_student(teacher, "/t", 6, keep_layers=2, frozen_layers=2)
    for keep in (6, 7):  # as many layers as the teacher: no faster
        with pytest.raises(ConfigError, match="no faster"):
            config_for_student(teacher, "/t", 6, keep_layers=keep)


@pytest.mark.parametrize(
    ("setting", "value", "field"),
    [
        ("distillation_temperature", 0.1, "distillation_temperature"),
        ("distillation_weight", 1.5, "distillation_weight"),
        ("keep_layers", -1, "keep_layers"),
        ("teacher_model", "  ", "teacher_model"),
    ],
)
def test_student_settings_out_of_range_are_refused(setting, value, field):
    with pytest.raises(ConfigError) as refused:
        TrainingConfig(**{setting: value})
    assert field in {name for name, _ in refused.value.problems}


@pytest.fixture(scope="module")
def student_run(tmp_path_factory, trained_tiny_run):
    """A student of the shared tiny run (2 layers): one layer, from the teacher's weights and answers."""
    teacher_dir = Path(trained_tiny_run.model_dir)
    teacher = TrainingConfig.from_dict(json.loads((teacher_dir / CONFIG_FILE).read_text()))
    out = tmp_path_factory.mktemp("student")
    config = config_for_student(teacher, str(teacher_dir), 2, output_dir=str(out), serving_check_reviews=0)
    return config, train_model(config, progress_bar=False)


def test_a_student_keeps_fewer_layers_and_learns_to_answer(student_run, trained_tiny_run):
    config, result = student_run
    assert result.results.model_shape["num_hidden_layers"] == 1
    saved = Predictor(result.model_dir)
    assert saved.model.config.num_hidden_layers == 1 and len(saved.model.bert.encoder.layer) == 1
    teacher_accuracy = trained_tiny_run.results.test.accuracy
    assert result.results.test.accuracy >= teacher_accuracy - 0.1  # the synthetic reviews are easy for both
    assert any("the teacher answered" in note for note in result.results.data.notes)
    assert json.loads((Path(result.model_dir) / CONFIG_FILE).read_text())["teacher_model"] == config.teacher_model


def test_the_teachers_answers_are_its_own_and_kept_for_a_resume(student_run, trained_tiny_run):
    config, result = student_run
    out = Path(result.output_dir)
    with np.load(out / ANSWERS_FILE) as kept:
        positive = kept["positive"]
    texts = _training_texts(config)
    assert len(positive) == len(texts)
    runtime = teacher_runtime(Path(trained_tiny_run.model_dir))  # as the teacher would be served
    chosen = serving_runtime(trained_tiny_run.results.serving, setting=AUTO, max_loss_points=DEFAULT_MAX_LOSS_POINTS)
    assert runtime == chosen
    teacher = predictor_load(trained_tiny_run.model_dir, runtime)
    assert np.allclose(positive, teacher.positive_probabilities(texts, batch_size=64), atol=1e-5)
    again, note = teacher_answers(config, texts, out)
    assert "read back" in note and np.array_equal(again, positive)
    _, note = teacher_answers(config, texts[:-1], out)  # other texts: asked again
    assert "read back" not in note


def test_a_teacher_that_is_not_a_model_is_refused(tmp_path):
    config = TrainingConfig(base_model="minilm", teacher_model=str(tmp_path), output_dir=str(tmp_path / "out"))
    with pytest.raises(ModelError, match="not a model folder"):
        teacher_answers(config, ["a review"], tmp_path / "out")


def _training_texts(config: TrainingConfig) -> list[str]:
    from ml.data.sources import load_reviews
    from ml.training.pipeline import _augment, split_limits

    splits = load_reviews(config.dataset, limits=split_limits(config))
    _augment(config, splits)
    return splits.train["text"]
