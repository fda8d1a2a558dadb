"""The classification head fitted before fine-tuning: linear probing, then fine-tuning (LP-FT).

A new classification head starts from random weights. In the first steps of fine-tuning its gradients are large
and wrong, and they flow into the pre-trained layers below it, which change to suit a head that knows nothing
yet. Kumar et al. (2022, "Fine-Tuning can Distort Pretrained Features and Underperform Out-of-Distribution")
call this *feature distortion*, and avoid it by first fitting the head alone on the frozen model's features (a
*linear probe*: here a logistic regression) and only then fine-tuning everything from there.

For the ``cpu`` preset it costs one forward pass over a sample of the training reviews (about a minute on two
cores for 2,000 reviews). What it bought, against the same run with a random head, is in the README's
"Measured" section (``bench/out_of_domain.py`` runs both).
"""

from __future__ import annotations

import logging

import datasets
import numpy as np

from ml.errors import ModelError

logger = logging.getLogger(__name__)

BATCH = 64


def fit_head_first(
    model, train: datasets.Dataset, collator, *, reviews: int, seed: int, device, precision: str
) -> float:
    """Set ``model``'s classification head to a logistic regression fitted on the features it reads (its
    input) for a seeded sample of ``reviews`` tokenized training reviews (``label`` column), the rest of the
    model as it is. ``collator`` pads a batch as training will; the passes run on ``device`` (the Trainer's:
    "cpu", "cuda:0") in the run's ``precision``. Returns the probe's accuracy on the reviews it was fitted
    on: how much the pre-trained features alone already tell."""
    import torch
    from sklearn.linear_model import LogisticRegression

    head = getattr(model, "classifier", None)
    if not isinstance(head, torch.nn.Linear) or head.out_features != 2:
        raise ModelError("head_first_reviews needs a model whose classification head is one linear layer, 2 labels")
    chosen = np.random.default_rng(seed).permutation(len(train))[:reviews]
    sample = train.select(np.sort(chosen)).select_columns(["input_ids", "attention_mask", "label"])
    if len(set(sample["label"])) < 2:  # checked before the forward passes, which cost the time
        raise ModelError("head_first_reviews needs training reviews of both labels")
    features, labels = _head_inputs(model, head, sample, collator, device=device, precision=precision)
    # on the features as they are, with the default regularization: standardized features gave the head
    # weights large enough that the first steps' gradients ran to hundreds and cost 1.3 points on IMDb
    probe = LogisticRegression(max_iter=2000).fit(features, labels)
    weight = torch.as_tensor(probe.coef_[0], dtype=head.weight.dtype)
    bias = float(probe.intercept_[0])
    with torch.no_grad():  # two logits whose difference is the probe's: softmax gives its probability
        head.weight.copy_(torch.stack([-weight / 2, weight / 2]))
        head.bias.copy_(torch.tensor([-bias / 2, bias / 2], dtype=head.bias.dtype))
    accuracy = float(probe.score(features, labels))
    logger.info("head fitted first on %d reviews' features: %.3f of them right", len(labels), accuracy)
    return accuracy


def _head_inputs(model, head, sample, collator, *, device, precision: str) -> tuple[np.ndarray, np.ndarray]:
    """What the head reads for each review, caught on its way in, in batches of similar length."""
    import torch

    half = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)

    caught: list = []
    hook = head.register_forward_pre_hook(lambda _module, inputs: caught.append(inputs[0].float()))
    rows = sample.to_list()
    order = np.argsort([len(row["input_ids"]) for row in rows], kind="stable")
    was_training = model.training
    model.to(device).eval()  # the Trainer moves it to the same device
    try:
        with torch.inference_mode(), torch.autocast(torch.device(device).type, dtype=half, enabled=half is not None):
            for start in range(0, len(order), BATCH):
                batch = collator([rows[i] for i in order[start : start + BATCH]])
                batch.pop("labels", None)
                model(**{key: value.to(device) for key, value in batch.items()})
    finally:
        hook.remove()
        model.train(was_training)
    features = torch.cat(caught).cpu().numpy()
    return features, np.asarray([rows[i]["label"] for i in order])
