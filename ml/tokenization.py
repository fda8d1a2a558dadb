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

from collections.abc import Sequence

TRUNCATION_HEAD_SHARE = 0.25


def encode(tokenizer, texts: Sequence[str], *, max_length: int, truncation: str) -> dict[str, list[list[int]]]:
    """Token ids (plus attention mask and token types) for each text, at most ``max_length`` long.

    Assumes one special token before and one after the text, as BERT-family tokenizers add.
    """
    if truncation == "head":
        return dict(tokenizer(list(texts), truncation=True, max_length=max_length))
    encoded = tokenizer(list(texts), truncation=False, verbose=False)
    body = max_length - 2
    head = round(body * TRUNCATION_HEAD_SHARE) if truncation == "head_tail" else 0
    tail = body - head
    out: dict[str, list[list[int]]] = {key: [] for key in encoded}
    for i in range(len(texts)):
        for key in encoded:
            ids = encoded[key][i]
            if len(ids) > max_length:
                # keep the leading special token + head, and tail + the trailing special token
                ids = ids[: 1 + head] + ids[len(ids) - tail - 1 :]
            out[key].append(ids)
    return out


def tokenize_dataset(dataset, tokenizer, *, max_length: int, truncation: str, num_proc: int | None = None):
    """Add token ids and a ``length`` column (used to group similar lengths) to a ``datasets`` split."""

    def batch_encode(batch):
        encoded = encode(tokenizer, batch["text"], max_length=max_length, truncation=truncation)
        encoded["length"] = [len(ids) for ids in encoded["input_ids"]]
        return encoded

    return dataset.map(
        batch_encode,
        batched=True,
        remove_columns=["text"],
        desc="tokenizing",
        num_proc=num_proc,
    )
