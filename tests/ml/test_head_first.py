"""The classification head fitted before fine-tuning (LP-FT, ``ml.training.head_first``)."""

import datasets
import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from ml.config import TrainingConfig
from ml.data.tokenization import tokenize_dataset
from ml.errors import ConfigError
from ml.presets import config_for_student, config_from_preset
from ml.training.head_first import fit_head_first
from ml.training.pipeline import ReviewCollator, train_model
from tests.ml.test_augmentation import review_folder, review_table
from tests.synthetic import tiny_config


@pytest.fixture
def tokenized_reviews(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    table = datasets.Dataset.from_pandas(review_table(80))
    return tokenizer, tokenize_dataset(table, tokenizer, max_length=64, truncation="head_tail")


def _features_and_probabilities(model, tokenizer, train) -> tuple[np.ndarray, np.ndarray]:
    """What the head reads for every review in ``train`` and the model's P(positive), in one padded batch."""
    columns = {"input_ids": train["input_ids"], "attention_mask": train["attention_mask"]}
    batch = tokenizer.pad(columns, return_tensors="pt")
    caught = []
    hook = model.classifier.register_forward_pre_hook(lambda _module, inputs: caught.append(inputs[0]))
    with torch.inference_mode():
        probabilities = model.eval()(**batch).logits.softmax(-1)[:, 1].numpy()
    hook.remove()
    return caught[0].numpy(), probabilities


def test_the_fitted_head_answers_as_the_probe_it_was_fitted_from(tiny_model_dir, tokenized_reviews):
    tokenizer, train = tokenized_reviews
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir)
    frozen_before = {name: p.clone() for name, p in model.named_parameters() if not name.startswith("classifier")}
    head_before = model.classifier.weight.clone()
    collator = ReviewCollator(tokenizer, TrainingConfig(padding="dynamic"), model_type="bert")

    right = fit_head_first(model, train, collator, reviews=len(train), seed=0, device="cpu", precision="fp32")

    # the model now answers what a logistic regression on the same features answers, to the last digits
    features, probabilities = _features_and_probabilities(model, tokenizer, train)
    labels = np.asarray(train["label"])
    probe = LogisticRegression(max_iter=2000).fit(features, labels)
    assert probabilities == pytest.approx(probe.predict_proba(features)[:, 1], abs=1e-4)
    assert right == pytest.approx(((probabilities >= 0.5) == labels).mean())
    assert not torch.equal(model.classifier.weight, head_before)
    assert all(torch.equal(p, frozen_before[n]) for n, p in model.named_parameters() if n in frozen_before)


def test_the_probe_reads_a_seeded_sample_of_the_size_asked(tiny_model_dir, tokenized_reviews):
    tokenizer, train = tokenized_reviews
    collator = ReviewCollator(tokenizer, TrainingConfig(padding="dynamic"), model_type="bert")
    heads = []
    for _ in range(2):
        model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir)
        fit_head_first(model, train, collator, reviews=30, seed=7, device="cpu", precision="fp32")
        heads.append(model.classifier.weight.detach().clone())
    assert torch.allclose(heads[0], heads[1])


def test_a_run_with_the_head_first_says_so_and_a_student_starts_from_its_teachers(tmp_path, tiny_model_dir):
    data = review_folder(tmp_path)
    config = tiny_config(
        tiny_model_dir, data, tmp_path / "run", num_train_epochs=1, head_first_reviews=50,
        validation_fraction=0.1, serving_check_reviews=0,
    )  # fmt: skip

    results = train_model(config, progress_bar=False).results

    notes = [note for note in results.data.notes if note.startswith("the head fitted first on 50 training reviews")]
    assert len(notes) == 1 and results.test.accuracy is not None
    teacher = config_from_preset("cpu", head_first_reviews=2000)
    assert config_for_student(teacher, str(tmp_path), 6).head_first_reviews == 0


@pytest.mark.parametrize("value", [-1, 100_001])
def test_out_of_range_head_first_reviews_are_refused(value):
    with pytest.raises(ConfigError, match="head_first_reviews"):
        TrainingConfig(head_first_reviews=value)
