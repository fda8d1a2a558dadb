from pathlib import Path

import pytest

from ml.base_models import freeze_lower_layers, load_for_classification, resolve_base_model
from ml.errors import ModelError


def test_minilm_is_the_bundled_offline_model(minilm_path):
    assert resolve_base_model("minilm") == minilm_path
    assert (Path(minilm_path) / "config.json").is_file()


def test_minilm_loads_as_a_two_label_classifier():
    tokenizer, model = load_for_classification("minilm")
    assert model.config.num_labels == 2
    assert model.config.id2label == {0: "negative", 1: "positive"}
    assert tokenizer.vocab_size == 30522


def test_hub_ids_pass_through_unchanged():
    assert resolve_base_model("bert-base-uncased") == "bert-base-uncased"


def test_an_unknown_model_offline_says_so_in_one_line_with_the_offline_choices():
    with pytest.raises(ModelError) as caught:
        load_for_classification("nobody/no-such-model")
    message = str(caught.value)
    assert "no-such-model" in message and "--base-model minilm" in message and "\n" not in message


def test_a_missing_folder(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        resolve_base_model(str(tmp_path / "gone"))


def test_a_folder_without_a_model(tmp_path):
    with pytest.raises(ModelError, match="holds no model"):
        resolve_base_model(str(tmp_path))


def test_freezing_keeps_embeddings_and_lower_layers_fixed(tiny_model_dir):
    _, model = load_for_classification(str(tiny_model_dir))
    freeze_lower_layers(model, 1)
    assert not any(p.requires_grad for p in model.bert.embeddings.parameters())
    assert not any(p.requires_grad for p in model.bert.encoder.layer[0].parameters())
    assert all(p.requires_grad for p in model.bert.encoder.layer[1].parameters())
    assert all(p.requires_grad for p in model.classifier.parameters())
    with pytest.raises(ModelError, match="only 2 layers"):
        freeze_lower_layers(model, 3)
