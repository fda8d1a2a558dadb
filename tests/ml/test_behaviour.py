import hashlib
import json
import re
import time

import numpy as np
import pytest

from ml.errors import ModelError
from ml.evaluation.behaviour import (
    BATTERY_VERSION,
    CAPABILITIES,
    DIRECTION_TOLERANCE,
    LAST_SENTENCES,
    MFT,
    behaviour_check,
    behaviour_regressions,
)
from ml.results import BehaviourResult

# The fingerprint of each battery version's cases: a case changed without a new BATTERY_VERSION fails
# test_changing_a_case_needs_a_new_battery_version, so old and new results are never compared as equal.
KNOWN_BATTERIES = {"1": "5e054c20f142021760b278d8dbb6ac9f782c2d43acac79e1673e936518462e4c"}

PRAISE = {
    "good", "great", "wonderful", "excellent", "loved", "love", "like", "liked", "enjoy", "enjoyed", "enjoyable",
    "best", "beautiful", "beautifully", "brilliant", "moving", "funny", "funniest", "clever", "delightful",
    "delight", "superb", "terrific", "convincing", "interesting", "satisfying", "recommend", "recommended", "fun",
    "gem", "lovely", "charming", "touching", "smart", "exciting", "entertaining", "fine", "happily", "talented",
}  # fmt: skip
BLAME = {
    "bad", "awful", "terrible", "worst", "hated", "hate", "boring", "bored", "dull", "lifeless", "wooden", "stupid",
    "waste", "wasted", "mess", "disappointment", "disappointed", "unbearable", "weak", "poor", "dreadful",
    "tedious", "slow", "pointless", "clumsy", "annoying", "predictable", "avoid", "regret", "forgettable",
    "unfunny", "tiresome", "cheap", "badly",
}  # fmt: skip
NEGATORS = {"not", "never", "didn't", "don't", "can't", "wasn't", "isn't"}


def keyword_scorer(*, negation: bool = False, first_words: int | None = None):
    """A bag-of-words model: P(positive) rises with praise words and falls with blame words. With
    ``negation``, a word up to four words after "not" counts the other way; with ``first_words``, it reads
    only that many words, as a model that truncates to the head of a review."""

    def score(texts: list[str]) -> np.ndarray:
        scores = []
        for text in texts:
            words = re.findall(r"[a-z']+", text.lower())[:first_words]
            balance = 0
            for i, word in enumerate(words):
                polarity = (word in PRAISE) - (word in BLAME)
                if negation and any(w in NEGATORS for w in words[max(0, i - 4) : i]):
                    polarity = -polarity
                balance += polarity
            scores.append(1 / (1 + np.exp(-balance)))
        return np.array(scores)

    return score


def constant_scorer(p: float):
    return lambda texts: np.full(len(texts), p)


def by_name(result: dict) -> dict:
    return {c["name"]: c for c in result["capabilities"]}


def test_the_result_has_every_capability_in_order_and_the_battery_version():
    result = behaviour_check(keyword_scorer(negation=True))
    assert result["version"] == BATTERY_VERSION
    assert [c["name"] for c in result["capabilities"]] == [c.name for c in CAPABILITIES]
    assert result["total"] == sum(len(c.cases) for c in CAPABILITIES) == sum(c["total"] for c in result["capabilities"])
    assert result["passed"] == sum(c["passed"] for c in result["capabilities"])
    assert result["pass_rate"] == round(result["passed"] / result["total"], 4)
    for capability, checked in zip(CAPABILITIES, result["capabilities"], strict=True):
        assert checked["title"] == capability.title and checked["explanation"] == capability.explanation
        assert checked["kind"] == capability.kind
        assert checked["pass_rate"] == round(checked["passed"] / checked["total"], 4)
        assert len(checked["failures"]) == min(5, checked["total"] - checked["passed"])


def test_the_battery_covers_the_capabilities_asked_for_with_enough_cases_each():
    names = {c.name for c in CAPABILITIES}
    assert {"negation", "intensity", "contrast", "typos", "names_and_places", "truncation", "neutral_filler"} <= names
    assert all(10 <= len(c.cases) <= 30 for c in CAPABILITIES)


def test_every_text_is_scored_in_one_call_without_duplicates():
    calls = []

    def recording(texts):
        calls.append(list(texts))
        return constant_scorer(0.5)(texts)

    behaviour_check(recording)
    assert len(calls) == 1
    texts = calls[0]
    assert len(texts) == len(set(texts)) <= 400
    asked = {t for c in CAPABILITIES for case in c.cases for t in (case.text, case.original) if t}
    assert set(texts) == asked


@pytest.mark.parametrize("p", [0.2, 0.8])
def test_a_model_that_always_gives_the_same_answer_fails_half_of_each_functionality_test(p):
    for capability in behaviour_check(constant_scorer(p))["capabilities"]:
        if capability["kind"] == MFT:
            assert capability["pass_rate"] == 0.5, capability["name"]
        else:  # nothing it says changes, so no change moves it the wrong way
            assert capability["pass_rate"] == 1.0, capability["name"]


def test_every_functionality_test_has_as_many_positive_as_negative_texts():
    for capability in CAPABILITIES:
        if capability.kind == MFT:
            expected = [case.expected for case in capability.cases]
            assert expected.count("positive") == expected.count("negative"), capability.name


def test_a_model_that_ignores_negation_fails_the_negation_check():
    ignores = by_name(behaviour_check(keyword_scorer(negation=False)))
    reads = by_name(behaviour_check(keyword_scorer(negation=True)))
    assert ignores["vocabulary"]["pass_rate"] == reads["vocabulary"]["pass_rate"] == 1.0
    assert ignores["negation"]["pass_rate"] <= 0.1
    assert reads["negation"]["pass_rate"] >= 0.9


def test_a_model_that_reads_only_the_head_of_a_long_review_fails_the_truncation_check():
    head_only = by_name(behaviour_check(keyword_scorer(first_words=200)))["truncation"]
    whole = by_name(behaviour_check(keyword_scorer()))["truncation"]
    assert whole["pass_rate"] == 1.0
    assert head_only["pass_rate"] == 0.5  # the plot summary says nothing: it gives every review one answer


def test_a_model_that_reads_intensifiers_as_doubt_fails_the_intensity_check():
    keywords = keyword_scorer()

    def doubtful(texts):
        doubt = np.array([sum(w in text.split() for w in ("really", "truly", "thoroughly")) for text in texts])
        return np.clip(keywords(texts) - 0.3 * doubt, 0, 1)

    intensity = by_name(behaviour_check(doubtful))["intensity"]
    assert intensity["pass_rate"] < 0.75
    failure = intensity["failures"][0]
    assert failure["expected"] == "more positive" and failure["original"] != failure["text"]
    assert failure["got"].startswith("P(positive) went from ")
    assert by_name(behaviour_check(keywords))["intensity"]["pass_rate"] == 1.0


def test_a_tiny_move_the_wrong_way_is_not_a_failure():
    def wobbly(texts):  # the stronger wording costs a little less than the tolerance
        return np.array([0.9 - (DIRECTION_TOLERANCE / 2 if "really" in t or "truly" in t else 0) for t in texts])

    assert by_name(behaviour_check(wobbly))["intensity"]["pass_rate"] == 1.0


def test_max_failures_is_respected_and_invariance_failures_show_the_original_text():
    def distracted(texts):  # a model thrown by anything that makes a review longer
        return np.array([0.9 if len(text) < 60 else 0.1 for text in texts])

    result = by_name(behaviour_check(distracted, max_failures=3))
    filler = result["neutral_filler"]
    assert filler["passed"] < filler["total"] - 3
    assert len(filler["failures"]) == 3
    originals = {case.original for case in next(c for c in CAPABILITIES if c.name == "neutral_filler").cases}
    for failure in filler["failures"]:
        assert failure["expected"] == "no change"
        assert failure["original"] in originals and failure["original"] in failure["text"]
        assert re.fullmatch(
            r"(positive|negative) \(P\(positive\)=0\.\d\d\), was (positive|negative) .*", failure["got"]
        )
    assert all(len(c["failures"]) <= 3 for c in result.values())
    assert all(c["failures"] == [] for c in behaviour_check(distracted, max_failures=0)["capabilities"])


def test_functionality_failures_show_the_most_confident_mistakes_first():
    def sure_of_not(texts):  # calls every negated text positive: sure of it after "not", less so after "n't"
        return np.array([0.99 if "not" in t.split() else 0.6 if "n't" in t else 0.5 for t in texts])

    negation = by_name(behaviour_check(sure_of_not, max_failures=20))["negation"]
    failures = negation["failures"]
    assert failures[0]["expected"] == "negative" and failures[0]["got"] == "positive (P(positive)=0.99)"
    assert "original" not in failures[0]
    confidence = [float(re.search(r"=(\d\.\d\d)", f["got"]).group(1)) for f in failures]
    assert [abs(c - 0.5) for c in confidence] == sorted((abs(c - 0.5) for c in confidence), reverse=True)


def test_the_result_is_plain_json():
    result = behaviour_check(keyword_scorer(negation=True))
    assert json.loads(json.dumps(result)) == result
    assert type(result["pass_rate"]) is float and type(result["capabilities"][0]["pass_rate"]) is float


def test_a_model_giving_the_wrong_number_of_answers_or_impossible_probabilities_is_refused():
    with pytest.raises(ModelError, match="probabilities"):
        behaviour_check(lambda texts: np.full(len(texts) - 1, 0.5))
    with pytest.raises(ModelError, match="between 0 and 1"):
        behaviour_check(lambda texts: np.full(len(texts), np.nan))
    with pytest.raises(ValueError, match="max_failures"):
        behaviour_check(constant_scorer(0.5), max_failures=-1)


def result_with(rates: dict, version: str = BATTERY_VERSION) -> BehaviourResult:
    return BehaviourResult.from_json({
        "version": version,
        "capabilities": [{"name": name, "title": name.title(), "pass_rate": rate} for name, rate in rates.items()],
    })  # fmt: skip


def test_regressions_are_the_capabilities_that_got_worse_largest_drop_first():
    candidate = result_with({"negation": 0.6, "typos": 0.5, "contrast": 0.9, "only_here": 0.0})
    served = result_with({"negation": 0.65, "typos": 0.875, "contrast": 0.8, "only_served": 1.0})
    assert behaviour_regressions(candidate, served) == [
        {"name": "typos", "title": "Typos", "candidate": 0.5, "served": 0.875, "drop_points": 37.5},
        {"name": "negation", "title": "Negation", "candidate": 0.6, "served": 0.65, "drop_points": 5.0},
    ]
    assert behaviour_regressions(served, served) == []


def test_a_model_that_loses_negation_shows_it_as_its_worst_regression():
    served = BehaviourResult.from_json(behaviour_check(keyword_scorer(negation=True)))
    candidate = BehaviourResult.from_json(behaviour_check(keyword_scorer(negation=False)))
    regressions = behaviour_regressions(candidate, served)
    assert regressions[0]["name"] == "negation"
    assert [r["drop_points"] for r in regressions] == sorted((r["drop_points"] for r in regressions), reverse=True)


def test_results_of_different_battery_versions_or_missing_results_are_not_compared():
    worse, better = result_with({"negation": 0.1}), result_with({"negation": 0.9})
    assert behaviour_regressions(worse, result_with({"negation": 0.9}, version="0")) == []
    assert behaviour_regressions(None, better) == []
    assert behaviour_regressions(worse, None) == []
    assert behaviour_regressions(worse, better) != []


def test_changing_a_case_needs_a_new_battery_version():
    cases = [[c.name, c.kind, [[case.text, case.expected, case.original] for case in c.cases]] for c in CAPABILITIES]
    fingerprint = hashlib.sha256(json.dumps([cases, DIRECTION_TOLERANCE]).encode()).hexdigest()
    assert KNOWN_BATTERIES.get(BATTERY_VERSION) == fingerprint, (
        "the battery's cases changed: raise BATTERY_VERSION and record the new fingerprint in KNOWN_BATTERIES"
    )


def test_the_typo_cases_misspell_a_few_words_of_the_same_review():
    typos = next(c for c in CAPABILITIES if c.name == "typos")
    for case in typos.cases:
        before, after = case.original.split(), case.text.split()
        assert len(before) == len(after)
        assert 1 <= sum(a != b for a, b in zip(before, after, strict=True)) <= 3


def test_the_truncation_reviews_are_longer_than_a_bert_model_reads(minilm_path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(minilm_path)
    truncation = next(c for c in CAPABILITIES if c.name == "truncation")
    for case in truncation.cases:
        assert len(tokenizer(case.text, verbose=False)["input_ids"]) > 512
        assert case.text.endswith(tuple(verdict for _, verdict in LAST_SENTENCES))  # the verdict comes last


def test_the_battery_runs_on_a_trained_model(trained_tiny_run):
    from ml.serving.inference import Predictor

    predictor = Predictor(trained_tiny_run.model_dir)
    started = time.monotonic()
    result = behaviour_check(predictor.positive_probabilities)
    seconds = time.monotonic() - started
    assert [c["name"] for c in result["capabilities"]] == [c.name for c in CAPABILITIES]
    for capability, checked in zip(CAPABILITIES, result["capabilities"], strict=True):
        assert checked["total"] == len(capability.cases)
        assert 0 <= checked["passed"] <= checked["total"]
        assert len(checked["failures"]) == min(5, checked["total"] - checked["passed"])
    assert result["total"] == sum(c["total"] for c in result["capabilities"])
    assert json.loads(json.dumps(result)) == result
    assert seconds < 60
