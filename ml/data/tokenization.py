"""Tokenization: turning review text into the token ids a BERT model reads.

A tokenizer splits text into word pieces from a fixed vocabulary ("unbelievable" -> "un", "##bel",
"##ievable") and maps each to an id; BERT adds a [CLS] token in front (its final state is what the
classification head reads) and a [SEP] token at the end. A model reads at most ``max_length`` tokens, so
longer reviews are truncated:

- ``head`` keeps the beginning (what the tutorial did);
- ``tail`` keeps the end;
- ``head_tail`` keeps the first quarter of the budget from the beginning and the rest from the end
  (Sun et al. 2019: 128 + 382 tokens at 512), because reviewers often give their verdict last.

Padding (filling short reviews up to a common length) is left to the data collator, per batch.
The same function serves training and prediction, so a served model reads reviews exactly as it learnt.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from ml.hardware import cpu_cores

TRUNCATION_HEAD_SHARE = 0.25
TOKENIZE_BATCH = 2000  # reviews per call: large enough to keep every core of a fast tokenizer busy
CACHE_VERSION = 1  # raise when encode() changes, so cached token ids are not reused


def encode(tokenizer, texts: Sequence[str], *, max_length: int, truncation: str) -> dict[str, list[list[int]]]:
    """Token ids (plus attention mask and token types) for each text, at most ``max_length`` long.

    Assumes one special token before and one after the text, as BERT-family tokenizers add.
    """
    if truncation == "head":
        return dict(tokenizer(list(texts), truncation=True, max_length=max_length))
    encoded = tokenizer(list(texts), truncation=False, verbose=False)
    return {
        key: [truncate(ids, max_length=max_length, truncation=truncation) for ids in encoded[key]] for key in encoded
    }


def truncate(ids: list[int], *, max_length: int, truncation: str) -> list[int]:
    """One text's ids (special tokens included) cut to ``max_length`` as ``truncation`` says: the leading
    special token and the head, then the tail and the trailing special token."""
    if len(ids) <= max_length:
        return ids
    body = max_length - 2
    head = {"head": body, "tail": 0}.get(truncation, round(body * TRUNCATION_HEAD_SHARE))
    tail = body - head
    return ids[: 1 + head] + ids[len(ids) - tail - 1 :]


def tokenizer_fingerprint(tokenizer) -> str:
    """What identifies a tokenizer's output: its class, vocabulary and casing, not its object identity.

    ``datasets`` would hash the tokenizer object itself, whose state changes once it has been called
    (truncation settings), so the same tokenizer could miss the cache on a later run.
    """
    vocab = json.dumps(sorted(tokenizer.get_vocab().items()))
    lower = getattr(tokenizer, "do_lower_case", None)
    return hashlib.sha256(f"{type(tokenizer).__name__}|{lower}|{vocab}".encode()).hexdigest()[:16]


def tokenize_processes(rows: int) -> int | None:
    """One process per core for large splits (at least ``TOKENIZE_BATCH`` reviews each), else ``None``."""
    processes = min(cpu_cores(), rows // TOKENIZE_BATCH)
    return processes if processes > 1 else None


def tokenize_dataset(dataset, tokenizer, *, max_length: int, truncation: str):
    """Add token ids and a ``length`` column (used to group similar lengths) to a ``datasets`` split.

    The result is cached on disk by ``datasets`` under a fingerprint of the input split, the tokenizer and
    the truncation settings, so a second run on the same data and tokenizer reads it back instead of
    tokenizing again. Large splits are tokenized by one process per core: the Rust tokenizer is parallel
    on its own, but turning its output into Python lists and Arrow tables is not.
    """

    def batch_encode(batch):
        encoded = encode(tokenizer, batch["text"], max_length=max_length, truncation=truncation)
        encoded["length"] = [len(ids) for ids in encoded["input_ids"]]
        return encoded

    key = f"{dataset._fingerprint}|{tokenizer_fingerprint(tokenizer)}|{max_length}|{truncation}|{CACHE_VERSION}"
    return dataset.map(
        batch_encode,
        batched=True,
        batch_size=TOKENIZE_BATCH,
        remove_columns=["text"],
        desc="tokenizing",
        num_proc=tokenize_processes(len(dataset)),
        new_fingerprint=hashlib.sha256(key.encode()).hexdigest()[:32],
    )
