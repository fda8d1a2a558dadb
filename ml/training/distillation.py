"""Knowledge distillation: a smaller model, the **student**, learns to answer as a fine-tuned one, the **teacher**.

A model's time to answer grows with its layers (each reads the whole review once more), so a model with half
the layers answers in about half the time. Trained from scratch it would be much worse; trained to copy a
good model it keeps most of its accuracy (DistilBERT: half of BERT's layers, 97% of its scores), because:

- it **starts from the teacher's own weights** with some layers taken out (``keep_layers``), so it already
  reads English and reviews (and needs no download);
- it learns from the teacher's **soft labels**, how sure the teacher is of each review ("92% positive"),
  not only from the true label: a review the teacher finds borderline teaches the student that it is
  borderline, which a hard 0/1 label cannot say;
- a **temperature** T softens both models' answers before they are compared (the logits divided by T), so
  that the small differences among confident answers still count.

The loss is ``w * T² * KL(teacher_T || student_T) + (1 - w) * cross-entropy(student, true label)``
(Hinton et al. 2015; T² keeps the soft part's gradients the same size whatever T is).

The teacher answers every training review once, before training, through the runtime it would be served
with (its serving check's choice), and the answers are kept in the run's folder: a resumed student does not
ask again. Two labels make the teacher's whole answer one number, P(positive): its logits differ by
``log(p / (1 - p))``, and a softmax reads only that difference.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

import numpy as np

from ml.config import TrainingConfig
from ml.errors import ModelError

logger = logging.getLogger(__name__)

ANSWERS_FILE = "teacher_answers.npz"  # in the student's run folder
ANSWERS_COLUMN = "teacher_positive"  # the training split's column the collator hands to the loss
EDGE = 1e-6  # P(positive) is kept this far from 0 and 1, where its log-odds are infinite


def kept_layer_indices(total: int, keep: int, start_from: str = "spread") -> list[int]:
    """Which of ``total`` layers a model keeping ``keep`` of them keeps: evenly spread from the first to the
    last (the last is what the classification head learnt to read), or the lowest ``keep``."""
    if not 1 <= keep <= total:
        raise ModelError(f"keep_layers is {keep} but the model has {total} layers: keep between 1 and {total}")
    if start_from == "bottom" or keep == 1:
        return list(range(keep))
    return sorted({round(i * (total - 1) / (keep - 1)) for i in range(keep)})


def layers_keep(model, keep: int, start_from: str = "spread") -> list[int]:
    """Take out all but ``keep`` of a BERT-style model's transformer layers, in place; returns those kept
    (numbered as they were). The model's config says the new count, so the saved model loads as it is."""
    import torch

    encoder = getattr(model.base_model, "encoder", None)
    blocks = getattr(encoder, "layer", None)
    if blocks is None:
        raise ModelError(f"keeping layers is supported for BERT-style models, not {type(model.base_model).__name__}")
    kept = kept_layer_indices(len(blocks), keep, start_from)
    encoder.layer = torch.nn.ModuleList(blocks[i] for i in kept)
    model.config.num_hidden_layers = len(kept)
    return kept


def distillation_loss(student_logits, teacher_positive, labels, *, temperature: float, weight: float, smoothing=0.0):
    """The student's loss on a batch: soft labels (the teacher's P(positive)) at ``temperature``, mixed with
    the true labels' cross-entropy by ``weight`` (module docstring)."""
    import torch
    import torch.nn.functional as F

    logits = student_logits.float()
    hard = F.cross_entropy(logits, labels, label_smoothing=smoothing)
    if not weight:
        return hard
    odds = torch.logit(teacher_positive.float().clamp(EDGE, 1 - EDGE)) / temperature  # the teacher at T
    teacher = torch.stack([torch.sigmoid(-odds), torch.sigmoid(odds)], dim=-1)
    student = F.log_softmax(logits / temperature, dim=-1)
    soft = F.kl_div(student, teacher, reduction="batchmean") * temperature**2
    return weight * soft + (1 - weight) * hard


def teacher_answers(config: TrainingConfig, texts: list[str], out: Path) -> tuple[np.ndarray, str]:
    """P(positive) by the teacher for each of ``texts``, in order, and a sentence for the run's notes.
    Read back from the run's folder when the same teacher already answered the same texts (a resume)."""
    from ml.serving.inference import predictor_load
    from ml.serving.labeller import model_version

    teacher = Path(config.teacher_model).expanduser()
    if not (teacher / "config.json").is_file():
        raise ModelError(f"the teacher {teacher} is not a model folder (no config.json): name a finished run's model")
    runtime = teacher_runtime(teacher)
    digest = _digest(texts, model_version(teacher), runtime)
    saved = out / ANSWERS_FILE
    if saved.is_file():
        with np.load(saved) as kept:
            if str(kept["digest"]) == digest and len(kept["positive"]) == len(texts):
                return kept["positive"], f"the teacher's answers on {len(texts):,} training reviews read back"
    started = time.monotonic()
    predictor = predictor_load(teacher, runtime)
    step = max(len(texts) // 10, 1)
    done = {"next": step}

    def progress(answered: int) -> None:
        if answered >= done["next"]:
            logger.info("the teacher has answered %s of %s training reviews", f"{answered:,}", f"{len(texts):,}")
            done["next"] += step

    positive = np.asarray(predictor.positive_probabilities(texts, batch_size=64, progress=progress), dtype=np.float32)
    seconds = time.monotonic() - started
    out.mkdir(parents=True, exist_ok=True)
    partial = out / f".{ANSWERS_FILE}.partial.npz"
    np.savez(partial, positive=positive, digest=np.array(digest))
    partial.replace(saved)  # whole or absent: a run killed while writing asks again
    return positive, f"the teacher answered {len(texts):,} training reviews on {runtime} in {seconds:.0f} s"


def teacher_runtime(teacher: Path) -> str:
    """The runtime the teacher would be served with (``ml.serving.choice``, from its run's serving check);
    PyTorch when it has none."""
    from ml.results import RESULTS_FILE, results_read
    from ml.serving.choice import AUTO, DEFAULT_MAX_LOSS_POINTS, PYTORCH, serving_runtime

    results_file = teacher.parent / RESULTS_FILE
    if not results_file.is_file():
        return PYTORCH
    check = results_read(results_file).serving
    return serving_runtime(check, setting=AUTO, max_loss_points=DEFAULT_MAX_LOSS_POINTS)


def _digest(texts: list[str], version: str, runtime: str) -> str:
    h = hashlib.sha256(f"{version}\n{runtime}\n".encode())
    for text in texts:
        h.update(text.encode())
        h.update(b"\0")
    return h.hexdigest()
