"""People say an answer was wrong (page and API); staff review it; accepted corrections form a versioned set."""

import pytest
from django.urls import reverse

from sentiment.models import Feedback, TrainingRun
from sentiment.selectors.feedback import corrections_set
from sentiment.services.api_tokens import api_token_create
from sentiment.services.classify import review_classify
from sentiment.services.feedback import corrections_snapshot, feedback_review, prediction_feedback_give

pytestmark = pytest.mark.django_db


@pytest.fixture
def answered(served_run, person):
    return review_classify(user=person, text="A wonderful, brilliant film: I loved it.")


def wrong_label(prediction) -> str:
    return "negative" if prediction.label == "positive" else "positive"


def test_a_person_says_an_answer_is_wrong_from_their_history(client, person, answered):
    client.force_login(person)
    history = client.get(reverse("sentiment:history")).content.decode()
    assert reverse("sentiment:prediction_feedback", args=[answered.pk]) in history
    response = client.post(
        reverse("sentiment:prediction_feedback", args=[answered.pk]),
        {"correct_label": wrong_label(answered), "comment": "ironic", "next": "https://evil.example/"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("sentiment:history")  # never another site
    feedback = Feedback.objects.get()
    assert (feedback.prediction, feedback.correct_label, feedback.comment, feedback.status) == (
        answered,
        wrong_label(answered),
        "ironic",
        "pending",
    )
    assert "you said" in response.content.decode() and "staff will review it" in response.content.decode()


def test_feedback_that_says_nothing_new_or_comes_from_another_person_changes_nothing(client, person, staff, answered):
    client.force_login(person)
    url = reverse("sentiment:prediction_feedback", args=[answered.pk])
    same = client.post(url, {"correct_label": answered.label}, follow=True).content.decode()
    assert "feedback is for wrong answers" in same
    assert "Select a valid choice" in client.post(url, {"correct_label": "meh"}, follow=True).content.decode()
    client.force_login(staff)
    assert client.post(url, {"correct_label": wrong_label(answered)}).status_code == 404
    assert client.get(url).status_code == 405
    assert not Feedback.objects.exists()


def test_feedback_can_be_changed_until_staff_review_it(person, staff, answered):
    prediction_feedback_give(prediction=answered, correct_label=wrong_label(answered), comment="a")
    prediction_feedback_give(prediction=answered, correct_label=wrong_label(answered), comment="b")
    assert Feedback.objects.get().comment == "b"
    feedback_review(feedback_ids=[Feedback.objects.get().pk], status="accepted", user=staff)
    with pytest.raises(Exception, match="already reviewed"):
        prediction_feedback_give(prediction=answered, correct_label=wrong_label(answered), comment="c")
    assert Feedback.objects.get().comment == "b"


def test_the_api_takes_feedback_on_the_callers_own_answers(client, person, staff, answered):
    key = api_token_create(user=person, name="t")
    other = api_token_create(user=staff, name="t")
    url = reverse("sentiment:api_feedback", args=[answered.pk])

    def post(body, key):
        return client.post(url, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")

    created = post({"correct_label": wrong_label(answered), "comment": "sarcasm"}, key)
    assert created.status_code == 201 and created.json()["status"] == "pending"
    assert post({"correct_label": wrong_label(answered)}, other).status_code == 404
    assert post({"correct_label": 1}, key).status_code == 400
    assert post({"correct_label": "maybe"}, key).json()["error"].startswith("Say what the right answer is")
    assert client.post(url, {"correct_label": "positive"}, content_type="application/json").status_code == 401
    assert Feedback.objects.get().comment == "sarcasm"


def test_staff_accept_and_reject_and_the_corrections_set_is_versioned(client, person, staff, served_run):
    texts = ["Loved it, superb.", "Dreadful and dull.", "Brilliant acting."]
    items = []
    for text in texts:
        prediction = review_classify(user=person, text=text)
        items.append(prediction_feedback_give(prediction=prediction, correct_label=wrong_label(prediction)))
    empty = corrections_set()
    client.force_login(staff)
    queue = client.get(reverse("sentiment:feedback_queue"))
    assert [f.pk for f in queue.context["page"]] == [f.pk for f in items]  # oldest first, as a queue
    client.post(reverse("sentiment:feedback_queue"), {"feedback": [items[0].pk, items[1].pk], "decision": "accepted"})
    client.post(reverse("sentiment:feedback_queue"), {"feedback": [items[1].pk, items[2].pk], "decision": "rejected"})
    statuses = dict(Feedback.objects.values_list("pk", "status"))
    assert statuses == {items[0].pk: "accepted", items[1].pk: "accepted", items[2].pk: "rejected"}  # decided once
    corrections = corrections_set()
    assert [r["text"] for r in corrections.rows] == texts[:2]
    assert [r["label"] for r in corrections.rows] == [
        Feedback.LABELS.index(items[0].correct_label),
        Feedback.LABELS.index(items[1].correct_label),
    ]
    assert corrections.version.startswith("2-") and corrections.version != empty.version
    assert corrections_set().version == corrections.version  # stable while nothing changes
    page = client.get(reverse("sentiment:feedback_queue"), {"status": "accepted"}).content.decode()
    assert texts[0] in page and corrections.version in page
    client.force_login(person)
    assert client.get(reverse("sentiment:feedback_queue")).status_code == 403


def accept_corrections(person, staff, texts) -> list[Feedback]:
    items = []
    for text in texts:
        prediction = review_classify(user=person, text=text)
        items.append(prediction_feedback_give(prediction=prediction, correct_label=wrong_label(prediction)))
    feedback_review(feedback_ids=[f.pk for f in items], status="accepted", user=staff)
    return items


def test_training_on_corrections_is_refused_until_some_are_accepted(client, staff, person, served_run, queued_jobs):
    client.force_login(staff)
    launch = reverse("admin:sentiment_trainingrun_launch")
    refused = client.post(launch, {"preset": "smoke", "train_on_corrections": "true"})
    assert "train_on_corrections needs corrections" in refused.content.decode()
    accept_corrections(person, staff, [f"Review {i}: superb, loved it." for i in range(12)])
    client.post(launch, {"preset": "smoke", "train_on_corrections": "true"})
    run = TrainingRun.objects.latest("pk")
    current = corrections_set()
    assert run.config["train_on_corrections"] and run.config["corrections_file"].endswith(f"{current.version}.parquet")
    from ml.data.corrections import load_corrections

    saved = load_corrections(run.config["corrections_file"])  # saved when the run was created
    assert saved.version == current.version and len(saved.train) + len(saved.holdout) == 12


def test_the_run_page_sets_a_runs_corrections_score_beside_the_served_models(
    client, staff, person, served_run, analyses_done
):
    from ml.data.corrections import held_out

    texts = [f"Review {i}: dreadful, dull and boring." for i in range(20)]
    accept_corrections(person, staff, texts)
    path = corrections_snapshot()
    held = [t for t in texts if held_out(t)]
    run = TrainingRun.objects.create(
        preset="smoke", config={**served_run.config, "corrections_file": path}, status="succeeded",
        output_dir=served_run.output_dir, model_dir=served_run.model_dir,
        metrics={**served_run.metrics, "corrections": {"version": "x", "train": 20 - len(held), "held_out": len(held),
                                                       "trained_on": 0, "right": 1, "accuracy": 1 / len(held)}},
    )  # fmt: skip
    client.force_login(staff)
    waiting = client.get(reverse("sentiment:run_detail", args=[run.pk])).context["corrections"]
    assert waiting["served_accuracy"] is None and waiting["job"]["status"] == "queued"  # a worker scores it
    assert analyses_done() == 1
    page = client.get(reverse("sentiment:run_detail", args=[run.pk]))
    scores = page.context["corrections"]
    # each correction says the served model's answer was wrong: on the same reviews it scores 0
    assert scores["served_accuracy"] == 0.0 and scores["accuracy"] == 1 / len(held)
    assert "corrections-card" in page.content.decode()


def test_the_promote_page_scores_both_models_on_the_held_out_corrections(
    client, staff, person, served_run, tiny_model_dir, tmp_path, analyses_done
):
    from ml.data.corrections import held_out

    texts = [f"Review {i}: superb, wonderful, loved it." for i in range(20)]
    accept_corrections(person, staff, texts)
    candidate = TrainingRun.objects.create(
        preset="smoke", config={}, status="succeeded", output_dir=str(tmp_path), model_dir=str(tiny_model_dir)
    )
    client.force_login(staff)
    client.get(reverse("sentiment:run_promote", args=[candidate.pk]))
    analyses_done()
    page = client.get(reverse("sentiment:run_promote", args=[candidate.pk]))
    scores = page.context["evidence"]["replay"]["corrections"]
    assert scores["examples"] == sum(map(held_out, texts)) > 0
    assert scores["served"] == 0.0 and 0.0 <= scores["candidate"] <= 1.0  # the served model got each one wrong
    assert "corrections-score" in page.content.decode()
