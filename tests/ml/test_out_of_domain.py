import csv
import re
from collections import Counter

import numpy as np
import pytest

from ml.data.augmentation import counterfactual_pairs
from ml.errors import DataError, ModelError
from ml.evaluation.behaviour import battery_texts
from ml.evaluation.out_of_domain import SET_FILE, SET_VERSION, ShortReview, out_of_domain_check, short_reviews

KINDS = {"film", "tv", "book", "product", "restaurant", "hotel", "game", "music", "app", "theatre"}
STYLES = {"one_line", "verdict_first", "critic", "negation", "contrast", "informal", "understated"}


def normal(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def test_the_set_is_the_one_its_version_names_and_holds_300_short_reviews_balanced_in_every_kind():
    reviews = short_reviews()  # refuses a file changed without a new version
    assert len(reviews) >= 300
    assert Counter(r.label for r in reviews) == {0: len(reviews) // 2, 1: len(reviews) // 2}
    assert {r.kind for r in reviews} == KINDS and {r.style for r in reviews} == STYLES
    for group in (*KINDS, *STYLES):
        labels = Counter(r.label for r in reviews if group in (r.kind, r.style))
        assert abs(labels[0] - labels[1]) <= 1, group
    assert all(3 <= len(r.text.split()) <= 40 for r in reviews)
    assert len({normal(r.text) for r in reviews}) == len(reviews)  # no two alike


def test_a_row_changed_without_a_new_version_is_refused(tmp_path):
    changed = tmp_path / SET_FILE.name
    changed.write_text(SET_FILE.read_text().replace(",positive,", ",negative,", 1))
    with pytest.raises(DataError, match="new SET_VERSION"):
        short_reviews(changed)
    assert short_reviews(changed, sha256=None)[0].label == 0  # read as it is when asked to


def test_the_set_shares_no_text_with_anything_training_or_the_battery_reads():
    kept_apart = {normal(t) for t in (*counterfactual_pairs()["text"], *battery_texts())}
    assert not {normal(r.text) for r in short_reviews()} & kept_apart


def test_the_check_scores_every_review_and_groups_them_by_kind_and_style():
    reviews = short_reviews()
    truth = np.array([r.label for r in reviews], dtype=float)
    wrong = set(range(0, len(reviews), 7))  # a model wrong on every 7th review, very sure of the first
    answers = np.array([1 - t if i in wrong else t for i, t in enumerate(truth)])
    answers[0] = 1 - truth[0]

    result = out_of_domain_check(lambda texts: answers.copy(), max_mistakes=3)

    assert result["version"] == SET_VERSION
    assert (result["reviews"], result["right"]) == (len(reviews), len(reviews) - len(wrong))
    assert result["accuracy"] == round((len(reviews) - len(wrong)) / len(reviews), 4)
    for key, field in (("by_kind", "kind"), ("by_style", "style")):
        for name, group in result[key].items():
            members = [i for i, r in enumerate(reviews) if getattr(r, field) == name]
            assert group["reviews"] == len(members)
            assert group["right"] == sum(i not in wrong for i in members)
    assert len(result["mistakes"]) == 3 and result["mistakes"][0]["text"] == reviews[0].text


def test_the_mistakes_shown_are_the_most_confident_wrong_answers():
    reviews = [ShortReview(f"review {i}", i % 2, "film", "one_line") for i in range(6)]
    answers = np.array([0.6, 0.9, 0.05, 0.1, 0.45, 1.0])  # labels 0, 1, 0, 1, 0, 1: wrong on 0 (by 0.1) and 3 (by 0.4)
    result = out_of_domain_check(lambda texts: answers, reviews=reviews)
    assert [m["text"] for m in result["mistakes"]] == ["review 3", "review 0"]
    assert result["right"] == 4


@pytest.mark.parametrize("answers", [np.zeros(2), np.full(360, np.nan), np.full(360, 1.5)])
def test_answers_of_the_wrong_shape_or_range_are_refused(answers):
    with pytest.raises(ModelError, match="probabilities"):
        out_of_domain_check(lambda texts: answers)


def test_the_file_is_plain_csv_with_four_columns():
    with SET_FILE.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["text", "label", "kind", "style"]
        assert {row["label"] for row in reader} == {"positive", "negative"}
