"""Scoring a classifier.

- **accuracy**: the share of reviews labelled correctly;
- **precision**: of the reviews called positive, the share that are; **recall**: of the positive reviews,
  the share found; **F1**: their harmonic mean, low if either is low;
- **ROC AUC**: the chance that a random positive review gets a higher positive probability than a random
  negative one (threshold-free; 0.5 is guessing, 1.0 perfect);
- **confusion matrix**: ``[[true negatives, false positives], [false negatives, true positives]]``;
- **calibration**: whether the model's confidence can be taken at its word. Of the reviews it answers
  with 90% confidence, about 90% should be right. The reviews are put in bins by confidence; each bin's
  accuracy against its mean confidence is the *reliability diagram*, and the **expected calibration
  error** (ECE) is the gap between the two, averaged over the bins weighted by their size (0 is
  perfect; Guo et al. 2017, "On Calibration of Modern Neural Networks").
"""

from __future__ import annotations

import numpy as np


def positive_probabilities(logits: np.ndarray) -> np.ndarray:
    """Softmax over the two logits (the model's raw scores), keeping P(positive)."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp[:, 1] / exp.sum(axis=1)


def classification_metrics(labels, positive_probs) -> dict:
    """All the scores above for true ``labels`` (0/1) and the model's P(positive) per review."""
    # imported here: scikit-learn takes a second to import, and a web process never scores a test set
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support, roc_auc_score

    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(positive_probs, dtype=np.float64)
    predicted = (probs >= 0.5).astype(np.int64)
    precision, recall, f1, _ = precision_recall_fscore_support(labels, predicted, average="binary", zero_division=0)
    both_classes = len(np.unique(labels)) == 2
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "roc_auc": float(roc_auc_score(labels, probs)) if both_classes else None,
        "confusion_matrix": confusion_matrix(labels, predicted, labels=[0, 1]).tolist(),
        "examples": len(labels),
        "calibration": calibration(labels, probs),
    }


def calibration(labels, positive_probs, *, bins: int = 10) -> dict:
    """The reliability diagram's bins and the expected calibration error (see above).

    The confidence of an answer is the probability of the label given, so it lies between 0.5 and 1:
    the bins split that range evenly. A bin with no review has count 0 and no accuracy.
    """
    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(positive_probs, dtype=np.float64)
    confidence = np.maximum(probs, 1.0 - probs)
    correct = (probs >= 0.5).astype(np.int64) == labels
    edges = np.linspace(0.5, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="right") - 1, 0, bins - 1)
    rows, gap = [], 0.0
    for b in range(bins):
        members = which == b
        count = int(members.sum())
        row = {"low": round(float(edges[b]), 3), "high": round(float(edges[b + 1]), 3), "count": count}
        if count:
            row["confidence"] = round(float(confidence[members].mean()), 4)
            row["accuracy"] = round(float(correct[members].mean()), 4)
            gap += count * abs(row["accuracy"] - row["confidence"])
        rows.append(row)
    return {"bins": rows, "ece": round(gap / len(labels), 4) if len(labels) else None}


def trainer_metrics(eval_prediction) -> dict:
    """``compute_metrics`` for the Trainer: scalars only, since they go into its log."""
    scores = classification_metrics(eval_prediction.label_ids, positive_probabilities(eval_prediction.predictions))
    return {k: v for k, v in scores.items() if isinstance(v, float)}


def accuracy_drop(
    *, candidate: float | None, served: float | None, candidate_n: int | None, served_n: int | None
) -> dict | None:
    """A drop in a share (accuracy on some reviews) from ``served`` to ``candidate`` larger than chance.

    Each accuracy is measured on a finite sample of reviews, so it is uncertain by about its *standard
    error*, sqrt(p (1 - p) / n). A drop counts when it is larger than twice the standard error of the
    difference (about 95% sure it is real): on 5,000 test reviews at 90% that is 1.2 points; on 100
    reviews, 8.5. Returns None when there is no drop beyond that, or nothing to compare.
    """
    if None in (candidate, served) or not candidate_n or not served_n or candidate >= served:
        return None
    noise = 2 * float(np.sqrt(candidate * (1 - candidate) / candidate_n + served * (1 - served) / served_n))
    drop = served - candidate
    if drop <= noise:
        return None
    return {
        "candidate": candidate,
        "served": served,
        "drop_points": round(drop * 100, 2),
        "noise_points": round(noise * 100, 2),
    }
