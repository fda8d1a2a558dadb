import csv
import re
from collections import Counter
from pathlib import Path

import datasets
import pandas as pd
import pytest

from ml.config import TrainingConfig
from ml.data.augmentation import (
    CROP_MAX_WORDS,
    PAIRS_FILE,
    counterfactual_pairs,
    sentences,
    short_crops,
    with_typos,
)
from ml.errors import ConfigError
from ml.evaluation.behaviour import battery_texts
from ml.evaluation.out_of_domain import short_reviews
from ml.training.pipeline import train_model
from tests.synthetic import tiny_config, write_split

OPENINGS = ["I saw it on a Sunday.", "My brother picked it.", "It runs two hours.", "The cinema was half full."]
PRAISE = ["It is a wonderful, brilliant film and I loved it.", "A beautiful, moving and excellent story."]
PAIRS = 600  # rows of ml/data/counterfactual_pairs.csv
BLAME = ["It is a terrible, awful film and I hated it.", "A boring, stupid and painful mess."]


def review_table(n: int) -> pd.DataFrame:
    """Reviews of several sentences whose verdict comes last (positive), or first and last (negative)."""
    rows = []
    for i in range(n):
        label = i % 2
        verdict = (PRAISE if label else BLAME)[i % 2 == 0 or (i // 2) % 2]
        body = " ".join(OPENINGS[(i + k) % 4] for k in range(3))
        rows.append({"text": f"{body} Review number {i}. {verdict}", "label": label})
    return pd.DataFrame(rows)


def test_a_review_is_cut_after_each_sentence_end():
    assert sentences('Loved it! Was it long? Yes. "Go," she said. e.g. this') == [
        "Loved it!",
        "Was it long?",
        "Yes.",
        '"Go," she said. e.g. this',
    ]


def test_crops_are_short_halves_of_each_label_from_the_reviews_own_sentences_and_seeded():
    train = datasets.Dataset.from_pandas(review_table(200), preserve_index=False)
    crops = short_crops(train, limit=40, seed=3)

    assert len(crops) == 40 and Counter(crops["label"]) == {0: 20, 1: 20}
    by_text = dict(zip(train["text"], train["label"], strict=True))
    for text, label in zip(crops["text"], crops["label"], strict=True):
        assert len(text.split()) <= CROP_MAX_WORDS
        assert any(text in review and by_text[review] == label for review in by_text), text
    assert crops["text"] == short_crops(train, limit=40, seed=3)["text"]
    assert crops["text"] != short_crops(train, limit=40, seed=4)["text"]


def test_crops_keep_only_what_the_lexicon_reads_as_the_reviews_label():
    # the positive reviews end in praise but open with blame: only their ends may be kept
    rows = [{"text": f"{BLAME[0]} {OPENINGS[0]} {OPENINGS[1]} {PRAISE[0]}", "label": 1}] * 5
    crops = short_crops(datasets.Dataset.from_pandas(pd.DataFrame(rows)), limit=10, seed=0)
    assert set(crops["text"]) <= {PRAISE[0], f"{OPENINGS[1]} {PRAISE[0]}"} and len(crops)


def test_the_counterfactual_pairs_are_minimal_flips_of_many_kinds_of_thing():
    pairs = counterfactual_pairs()
    assert len(pairs) == 2 * PAIRS and pairs["label"][:4] == [1, 0, 1, 0]
    texts = pairs["text"]
    for positive, negative in zip(texts[::2], texts[1::2], strict=True):
        assert positive != negative
    with PAIRS_FILE.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    domains = Counter(row["domain"] for row in rows)
    assert set(domains) == {"film", "product", "food", "travel", "book", "app", "game", "music", "service", "show"}
    assert min(domains.values()) >= 30 and domains["film"] <= 2 * len(rows) // 3


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


def test_no_pair_is_near_a_text_the_model_is_checked_on():
    """Not even a near copy: no pair's text shares more than half its words with a battery or out-of-domain text."""
    checked = [_words(t) for t in (*battery_texts(), *(review.text for review in short_reviews()))]
    for text in counterfactual_pairs()["text"]:
        words = _words(text)
        assert all(len(words & other) <= 0.5 * len(words | other) for other in checked), text


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("label_smoothing", 0.5),
        ("label_smoothing", -0.1),
        ("short_crops", -1),
        ("counterfactual_pairs", 21),
        ("pairs_with_typos", 21),
    ],
)
def test_out_of_range_augmentation_settings_are_refused(setting, value):
    with pytest.raises(ConfigError, match=setting):
        TrainingConfig(**{setting: value})


def review_folder(tmp_path) -> Path:
    """A data folder of 120 training and 20 test reviews (``review_table``)."""
    data = tmp_path / "data"
    data.mkdir()
    write_split(review_table(120), data / "train.parquet")
    write_split(review_table(20), data / "test.parquet")
    return data


def test_a_run_trains_on_its_crops_and_the_pairs_and_is_scored_out_of_domain(tmp_path, tiny_model_dir):
    data = review_folder(tmp_path)
    config = tiny_config(
        tiny_model_dir, data, tmp_path / "run", num_train_epochs=1, short_crops=30, counterfactual_pairs=2,
        label_smoothing=0.1, validation_fraction=0.1, serving_check_reviews=0,
    )  # fmt: skip

    results = train_model(config, progress_bar=False).results

    assert results.data.sizes.train == 108 + 30 + 2 * 2 * PAIRS
    assert any("30 short crops" in note for note in results.data.notes)
    pairs_note = f"{PAIRS} counterfactual pairs ({2 * PAIRS} short reviews) added, 2 times"
    assert any(pairs_note in note for note in results.data.notes)
    assert sum(results.data.profile["words"]["counts"]) == 108  # the next estimate reads the data set's reviews
    assert results.out_of_domain.reviews >= 300 and results.out_of_domain.accuracy is not None
    assert results.out_of_domain.runtime == "pytorch"


def test_typo_copies_keep_every_label_and_change_each_text_by_a_few_letters():
    pairs = counterfactual_pairs()
    typed = with_typos(pairs, seed=3)
    assert typed["label"] == pairs["label"]
    changed = 0
    for before, after in zip(pairs["text"], typed["text"], strict=True):
        words, typed_words = before.split(" "), after.split(" ")
        assert len(words) == len(typed_words)
        differing = [(a, b) for a, b in zip(words, typed_words, strict=True) if a != b]
        assert len(differing) <= 3 and all(abs(len(a) - len(b)) <= 1 for a, b in differing)
        changed += bool(differing)
    assert changed > 0.95 * len(pairs)  # a swap of two equal letters changes nothing; otherwise every text
    assert with_typos(pairs, seed=3)["text"] == typed["text"]  # seeded: a run repeats itself


def test_pairs_with_typos_need_the_pairs():
    with pytest.raises(ConfigError, match="set counterfactual_pairs too"):
        TrainingConfig(pairs_with_typos=1)
