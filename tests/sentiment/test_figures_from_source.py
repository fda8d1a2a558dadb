"""Every figure a staff page derives from stored data, recomputed here from its source: the saved answers
on the test reviews, the data set itself, the run's log history, or the model answering again.

The mistakes browser once listed other reviews than the model got wrong, for every length-grouped run,
because the pages were only tested for rendering what the file said; these tests go back to the source.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from django.urls import reverse

from ml.evaluation.metrics import calibration
from ml.evaluation.scored_reviews import CELLS, FILE
from ml.serving.inference import Predictor, predictor_load
from sentiment.models import TrainingRun
from sentiment.selectors.feedback import corrections_set
from sentiment.selectors.serving import training_run_serving_runtime

pytestmark = pytest.mark.django_db


def _saved(run: TrainingRun) -> pd.DataFrame:
    return pd.read_parquet(Path(run.output_dir) / FILE)


def test_every_confusion_cell_lists_reviews_the_model_really_answered_so(client, staff, finished_run):
    assert finished_run.config["group_by_length"]  # the shared run batches by length, as the presets do
    source = pd.read_parquet(Path(finished_run.config["dataset"]) / "test.parquet")
    model = Predictor(finished_run.model_dir)
    client.force_login(staff)
    url = reverse("sentiment:run_mistakes", args=[finished_run.pk])
    [[tn, fp], [fn, tp]] = finished_run.metrics["test"]["confusion_matrix"]
    for cell, size in {"tn": tn, "fp": fp, "fn": fn, "tp": tp}.items():
        page = client.get(url, {"cell": cell})
        found = page.context["found"]
        assert found.cell_size == size, cell
        if not found.rows:
            continue
        label, answered = CELLS[cell]
        again = model.positive_probabilities([row["text"] for row in found.rows])
        assert all(source.label[row["review_id"]] == label for row in found.rows), cell
        assert all((p >= 0.5) == bool(answered) for p in again), cell
        saved = [row["positive_probability"] for row in found.rows]
        assert np.allclose(again, saved, atol=2e-3), cell


def test_a_run_whose_saved_answers_disagree_with_its_scores_lists_nothing_and_says_why(
    client, staff, finished_run, tmp_path
):
    shuffled = _saved(finished_run)
    shuffled["positive_probability"] = np.roll(shuffled.positive_probability.to_numpy(), 7)  # as a shuffled sampler
    shuffled.to_parquet(tmp_path / FILE)
    TrainingRun.objects.filter(pk=finished_run.pk).update(output_dir=str(tmp_path))
    client.force_login(staff)
    page = client.get(reverse("sentiment:run_mistakes", args=[finished_run.pk]), {"cell": "fp"})
    assert page.context["found"] is None and 'id="answers-disagree"' in page.content.decode()


def test_the_scores_and_calibration_shown_are_those_of_the_saved_answers(client, staff, finished_run):
    saved = _saved(finished_run)
    client.force_login(staff)
    shown = client.get(reverse("sentiment:run_progress", args=[finished_run.pk])).json()["test"]
    predicted = (saved.positive_probability >= 0.5).astype(int)
    assert shown["accuracy"] == pytest.approx((predicted == saved.label).mean())
    assert shown["examples"] == len(saved)
    recomputed = calibration(saved.label.to_numpy(), saved.positive_probability.to_numpy().astype(np.float64))
    assert shown["calibration"]["ece"] == pytest.approx(recomputed["ece"], abs=1e-3)
    assert [b["count"] for b in shown["calibration"]["bins"]] == [b["count"] for b in recomputed["bins"]]


def test_the_compare_page_shows_each_runs_own_accuracy_and_validation_curve(
    client, staff, finished_run, tmp_path, tiny_model_dir
):
    weaker = _saved(finished_run)
    weaker["positive_probability"] = 1 - weaker.positive_probability  # every answer the other way
    weaker.to_parquet(tmp_path / FILE)
    other = TrainingRun.objects.create(
        preset="smoke", config=finished_run.config, status="succeeded", output_dir=str(tmp_path),
        model_dir=str(tiny_model_dir), metrics={"test": {"accuracy": 1 - finished_run.metrics["test"]["accuracy"]}},
    )  # fmt: skip
    client.force_login(staff)
    table = client.get(reverse("sentiment:run_compare"), {"run": [finished_run.pk, other.pk]}).context["table"]
    accuracy = next(row for row in table["figures"] if row.label == "Test accuracy")
    for run, shown in zip((finished_run, other), accuracy.values, strict=True):
        saved = _saved(run)
        assert shown == pytest.approx(((saved.positive_probability >= 0.5).astype(int) == saved.label).mean())
    history = json.loads((Path(finished_run.output_dir) / "log_history.json").read_text())
    evaluations = [[e["epoch"], e["eval_accuracy"]] for e in history if "eval_accuracy" in e]
    assert table["curves"][0]["points"] == evaluations and evaluations


def test_the_promote_pages_corrections_scores_are_each_models_answers_on_the_held_out_reviews(
    client, staff, person, served_run, tmp_path, analyses_done
):
    from ml.data.corrections import held_out
    from sentiment.services.classify import review_classify
    from sentiment.services.feedback import feedback_review, prediction_feedback_give
    from tests.synthetic import synthetic_reviews

    corrected, feedback = {}, []
    for text in synthetic_reviews(40, seed=11)["text"]:
        prediction = review_classify(user=person, text=text)
        label = "negative" if prediction.label == "positive" else "positive"  # "the model was wrong"
        corrected[text] = label
        feedback.append(prediction_feedback_give(prediction=prediction, correct_label=label).pk)
    feedback_review(feedback_ids=feedback, status="accepted", user=staff)
    # the trained model, answering through PyTorch (no serving check recorded): the untrained tiny model
    # answers every review within a hair of 0.5, where the number of threads can turn an answer
    candidate = TrainingRun.objects.create(
        preset="smoke", config={}, status="succeeded", output_dir=str(tmp_path), model_dir=served_run.model_dir
    )
    client.force_login(staff)
    client.get(reverse("sentiment:run_promote", args=[candidate.pk]))
    analyses_done()
    scores = client.get(reverse("sentiment:run_promote", args=[candidate.pk])).context["evidence"]["replay"][
        "corrections"
    ]
    # in the corrections set's order: an int8 runtime scales each batch's activations by that batch, so
    # a near-even answer of this tiny model can change with the reviews batched beside it
    held = [row["text"] for row in corrections_set().rows if held_out(row["text"])]
    assert scores["examples"] == len(held) == len([text for text in corrected if held_out(text)]) > 0

    def accuracy(run: TrainingRun) -> float:  # through the runtime that serves it, as the page scores it
        model = predictor_load(run.model_dir, training_run_serving_runtime(run=run))
        answers = model.predict(held, batch_size=32)
        return sum(a.label == corrected[t] for a, t in zip(answers, held, strict=True)) / len(held)

    assert scores["candidate"] == pytest.approx(accuracy(candidate))
    assert scores["served"] == pytest.approx(accuracy(served_run))


def test_the_out_of_domain_figures_shown_are_the_models_answers_on_the_set(client, staff, finished_run, tmp_path):
    from ml.evaluation.out_of_domain import short_reviews

    stored = finished_run.results.out_of_domain
    reviews = short_reviews()
    again = predictor_load(finished_run.model_dir, stored.runtime).positive_probabilities([r.text for r in reviews])
    right = (np.asarray(again) >= 0.5) == np.asarray([r.label == 1 for r in reviews])
    other = TrainingRun.objects.create(
        preset="smoke", config=finished_run.config, status="succeeded", output_dir=str(tmp_path),
        model_dir=finished_run.model_dir,
        metrics={**finished_run.metrics, "out_of_domain": {**stored.to_json(), "accuracy": 0.1, "version": "0"}},
    )  # fmt: skip
    client.force_login(staff)

    shown = client.get(reverse("sentiment:run_detail", args=[finished_run.pk])).context["out_of_domain"]
    assert (shown.reviews, shown.right) == (len(reviews), int(right.sum()))
    for kind, group in shown.by_kind.items():
        members = [i for i, r in enumerate(reviews) if r.kind == kind]
        assert (group.reviews, group.right) == (len(members), int(right[members].sum())), kind
    for mistake in shown.mistakes:
        index = next(i for i, r in enumerate(reviews) if r.text == mistake.text)
        assert not right[index] and mistake.positive_probability == pytest.approx(again[index], abs=2e-3)
    table = client.get(reverse("sentiment:run_compare"), {"run": [finished_run.pk, other.pk]}).context["table"]
    row = next(row for row in table["figures"] if row.label == "Out-of-domain accuracy")
    assert row.values == [pytest.approx(right.mean(), abs=1e-4), None]  # an older set's figure is not compared
    figures = client.get(reverse("sentiment:run_promote", args=[finished_run.pk])).context["evidence"]["candidate"]
    assert figures["ood_accuracy"] == pytest.approx(right.mean(), abs=1e-4) and figures["ood_reviews"] == len(reviews)
