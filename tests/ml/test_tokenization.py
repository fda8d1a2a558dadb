import os

import pytest
from transformers import AutoTokenizer

from ml.data.tokenization import encode


@pytest.fixture(scope="module")
def tokenizer(minilm_path):
    return AutoTokenizer.from_pretrained(minilm_path)


LONG = "start " + " ".join(f"w{i}" for i in range(400)) + " finish"


@pytest.mark.parametrize("truncation", ["head", "tail", "head_tail"])
def test_long_reviews_are_cut_to_max_length_with_special_tokens(tokenizer, truncation):
    ids = encode(tokenizer, [LONG], max_length=64, truncation=truncation)["input_ids"][0]
    assert len(ids) == 64
    assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id


def test_head_keeps_the_beginning_tail_the_end_and_head_tail_both(tokenizer):
    start, finish = tokenizer.convert_tokens_to_ids(["start", "finish"])
    head = encode(tokenizer, [LONG], max_length=64, truncation="head")["input_ids"][0]
    tail = encode(tokenizer, [LONG], max_length=64, truncation="tail")["input_ids"][0]
    both = encode(tokenizer, [LONG], max_length=64, truncation="head_tail")["input_ids"][0]
    assert head[1] == start and finish not in head
    assert tail[-2] == finish and start not in tail
    assert both[1] == start and both[-2] == finish


def test_head_tail_gives_a_quarter_to_the_head(tokenizer):
    full = tokenizer(LONG, verbose=False)["input_ids"]
    both = encode(tokenizer, [LONG], max_length=66, truncation="head_tail")["input_ids"][0]
    assert both[1:17] == full[1:17]  # 16 of the 64-token body from the head
    assert both[17:-1] == full[-49:-1]  # 48 from the tail


def test_short_reviews_are_untouched(tokenizer):
    for truncation in ("head", "tail", "head_tail"):
        encoded = encode(tokenizer, ["a fine film"], max_length=64, truncation=truncation)
        assert encoded["input_ids"][0] == tokenizer("a fine film")["input_ids"]
        assert len(encoded["attention_mask"][0]) == len(encoded["input_ids"][0])


def test_a_second_run_on_the_same_data_and_tokenizer_reads_the_cache(make_review_folder, minilm_path):
    from ml.data.sources import SplitLimits, load_reviews
    from ml.data.tokenization import tokenize_dataset

    folder = make_review_folder("parquet")

    def tokenize_once():
        split = load_reviews(str(folder), limits=SplitLimits()).train
        # a freshly loaded tokenizer, as in a new process: its identity must not matter
        return tokenize_dataset(
            split, AutoTokenizer.from_pretrained(minilm_path), max_length=64, truncation="head_tail"
        )

    first = tokenize_once()
    cache_file = first.cache_files[0]["filename"]
    before = os.stat(cache_file).st_mtime_ns
    second = tokenize_once()
    assert second.cache_files[0]["filename"] == cache_file
    assert os.stat(cache_file).st_mtime_ns == before  # read back, not written again
    assert second["input_ids"] == first["input_ids"]
    other = tokenize_dataset(
        load_reviews(str(folder), limits=SplitLimits()).train,
        AutoTokenizer.from_pretrained(minilm_path),
        max_length=32,
        truncation="head_tail",
    )
    assert other.cache_files[0]["filename"] != cache_file  # other settings, other cache


def test_large_splits_are_tokenized_by_one_process_per_core(monkeypatch):
    from ml.data import tokenization

    monkeypatch.setattr("ml.data.tokenization.cpu_cores", lambda: 16)
    assert tokenization.tokenize_processes(500) is None  # not worth a fork
    assert tokenization.tokenize_processes(6_000) == 3
    assert tokenization.tokenize_processes(25_000) == 12
    assert tokenization.tokenize_processes(1_000_000) == 16
