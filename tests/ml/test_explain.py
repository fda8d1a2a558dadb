import json
import math
import re

import numpy as np
import pytest

from ml.evaluation.explain import MAX_PIECES, Explanation, explain, top_words

KEYWORDS = {"good": 1.0, "great": 2.0, "bad": -1.0, "awful": -2.0}


class KeywordScorer:
    """P(positive) = sigmoid(sum of keyword values): a model whose reasons are known; it records its calls."""

    def __init__(self):
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.array([1 / (1 + math.exp(-self.total(t))) for t in texts])

    @staticmethod
    def total(text: str) -> float:
        return sum(KEYWORDS.get(word, 0.0) for word in re.findall(r"\w+", text.lower()))


def weights(explanation: Explanation) -> dict[str, float]:
    return {p["text"]: p["weight"] for p in explanation.pieces}


def test_a_positive_word_pushes_towards_positive_and_a_negative_word_away():
    explanation = explain(KeywordScorer(), "The film was good, but the ending was bad.")
    weight = weights(explanation)
    assert weight["good"] > 0.1
    assert weight["bad"] < -0.1
    assert weight["film"] == weight["ending"] == weight["was"] == 0.0
    assert explanation.positive_probability == pytest.approx(0.5)


def test_a_weight_is_the_drop_in_positive_probability_without_the_word():
    explanation = explain(KeywordScorer(), "great film")
    sigmoid = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    assert weights(explanation)["great"] == round(sigmoid(2) - sigmoid(0), 4)


@pytest.mark.parametrize(
    "text",
    [
        "A good film.",
        "  leading and trailing spaces  ",
        "tabs\tand\nnewlines\r\nand  double   spaces",
        "Wow!!! It's GOOD... (really) -- isn't it? well-made; 10/10",
        "naïve café — déjà vu, 映画 good 😀 bad",
        "<br /><br />Good film.<br />Bad <i>ending</i> & a <3 for the cast",
        "good",
        "!!!",
        "",
        "   \n\t ",
    ],
)
def test_the_pieces_rejoin_to_the_original_text_exactly(text):
    explanation = explain(KeywordScorer(), text)
    assert "".join(p["text"] for p in explanation.pieces) == text
    for piece in explanation.pieces:
        if not re.search(r"[^\W_]", re.sub(r"</?[A-Za-z][^<>]*>", "", piece["text"])):
            assert piece["weight"] == 0.0, piece


def test_html_line_breaks_are_not_words():
    explanation = explain(KeywordScorer(), "Good film.<br /><br />Bad end")
    assert "br" not in weights(explanation)
    assert explanation.evaluations == 1 + 4


def test_removing_a_word_leaves_single_spaces():
    scorer = KeywordScorer()
    explain(scorer, "a good film")
    assert set(scorer.calls[0]) == {"a good film", "good film", "a film", "a good"}


@pytest.mark.parametrize("text", ["", "   \n ", "..."])
def test_a_text_without_words_gives_one_piece_and_no_variants(text):
    scorer = KeywordScorer()
    explanation = explain(scorer, text)
    assert explanation.pieces == [{"text": text, "weight": 0.0}]
    assert explanation.evaluations == 1 and scorer.calls == [[text]]


def test_a_long_review_is_scored_in_one_call_of_at_most_max_pieces_plus_one_texts():
    words = ["the", "plot", "was", "fine", "and"] * 1000
    words[2500] = "great"
    text = " ".join(words)
    scorer = KeywordScorer()
    explanation = explain(scorer, text)
    assert len(scorer.calls) == 1
    assert len(scorer.calls[0]) == explanation.evaluations <= MAX_PIECES + 1
    assert explanation.to_dict()["unit"] == "span of 125 words"
    assert "".join(p["text"] for p in explanation.pieces) == text
    pushing = [p for p in explanation.pieces if p["weight"]]
    assert len(pushing) == 1 and "great" in pushing[0]["text"] and pushing[0]["weight"] > 0


@pytest.mark.parametrize("max_pieces", [1, 7, 40, 100, 1000])
def test_max_pieces_bounds_the_texts_scored(max_pieces):
    scorer = KeywordScorer()
    text = " ".join(f"word{i}" for i in range(100))
    explanation = explain(scorer, text, max_pieces=max_pieces)
    spans = math.ceil(100 / math.ceil(100 / max_pieces))  # spans of k = ceil(100 / max_pieces) words
    assert len(scorer.calls[0]) == explanation.evaluations == spans + 1 <= max_pieces + 1
    assert "".join(p["text"] for p in explanation.pieces) == text


def test_max_pieces_must_be_positive():
    with pytest.raises(ValueError, match="max_pieces"):
        explain(KeywordScorer(), "good", max_pieces=0)


def test_a_scorer_returning_the_wrong_number_of_probabilities_is_refused():
    with pytest.raises(ValueError, match="returned 1 probabilities for 3 texts"):
        explain(lambda texts: np.array([0.5]), "good film")


def test_top_words_lists_the_strongest_first_each_way():
    explanation = explain(KeywordScorer(), "good plot, great cast, bad sound, awful ending, fine music")
    top = top_words(explanation)
    assert [word for word, _ in top["positive"]] == ["great", "good"]
    assert [word for word, _ in top["negative"]] == ["awful", "bad"]
    assert top["positive"][0][1] > top["positive"][1][1] > 0 > top["negative"][1][1] > top["negative"][0][1]
    assert top_words(explanation, n=1) == {"positive": top["positive"][:1], "negative": top["negative"][:1]}


def test_top_words_leave_out_words_that_pushed_neither_way():
    """A weight that shows as +0.000 is no push: "but" must not be listed among the strongest words."""
    weights = {"good": 0.12, " ": 0.0, "but": 0.0004, "  ": 0.0, "bad": -0.0009, "dull": -0.05}
    pieces = [{"text": text, "weight": weight} for text, weight in weights.items()]
    top = top_words(Explanation(pieces=pieces, positive_probability=0.6, evaluations=5, seconds=0.01))
    assert top == {"positive": [("good", 0.12)], "negative": [("dull", -0.05)]}
    assert all(f"{abs(weight):.3f}" != "0.000" for side in top.values() for _, weight in side)


def test_the_dict_form_is_json_serialisable():
    explanation = explain(KeywordScorer(), "A great film with a bad ending.")
    data = json.loads(json.dumps(explanation.to_dict()))
    assert data["method"] == "occlusion" and data["unit"] == "word"
    assert data["pieces"] == explanation.pieces
    assert data["evaluations"] == 1 + 7 and 0 < data["positive_probability"] < 1


def test_the_real_model_explanation_is_complete_and_consistent(trained_tiny_run):
    from ml.serving.inference import Predictor

    predictor = Predictor(trained_tiny_run.model_dir)
    text = "A wonderful film, loved it. <br /><br /> The ending was dull and tedious."
    scored: list[int] = []

    def score(texts):
        scored.append(len(texts))
        return predictor.positive_probabilities(texts)

    explanation = explain(score, text)
    assert "".join(p["text"] for p in explanation.pieces) == text
    assert scored == [explanation.evaluations] == [1 + 11]
    assert explanation.positive_probability == pytest.approx(predictor.positive_probabilities([text])[0], abs=1e-5)
    assert all(-1 <= p["weight"] <= 1 for p in explanation.pieces)
    json.dumps(explanation.to_dict())


def test_words_the_model_never_reads_get_no_weight(trained_tiny_run):
    """The tiny model reads 64 tokens (head and tail): a span in the middle of a long review changes nothing."""
    from ml.serving.inference import Predictor

    predictor = Predictor(trained_tiny_run.model_dir)
    text = " ".join(["wonderful"] * 10 + ["the plot was awful"] * 100 + ["dull"] * 40)
    explanation = explain(predictor.positive_probabilities, text, max_pieces=10)
    spans = [p for p in explanation.pieces if p["text"].strip()]
    assert len(spans) == 10
    assert all(abs(p["weight"]) <= 1e-4 for p in spans[2:-2])
