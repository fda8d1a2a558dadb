"""Knowing a model before serving it: its mistakes, its behaviour, runs compared, the promote page's
replay and regressions, the audit trail with roll-back, and why one answer came out as it did."""

import json
import shutil

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from ml.serving.inference import Predictor
from sentiment.models import AnalysisJob, Prediction, Promotion, TrainingRun
from sentiment.selectors import evidence
from sentiment.selectors.serving import served_model
from sentiment.services.api_tokens import api_token_create
from sentiment.services.classify import review_classify
from sentiment.services.promotions import training_run_promote
from tests.synthetic import synthetic_reviews

pytestmark = pytest.mark.django_db


@pytest.fixture
def candidate_run(tiny_model_dir, tmp_path) -> TrainingRun:
    """A finished run whose model is the untrained tiny BERT: it answers differently from the trained one."""
    return TrainingRun.objects.create(
        preset="smoke",
        config={"base_model": "tiny", "learning_rate": 0.5, "num_train_epochs": 9},
        status=TrainingRun.Status.SUCCEEDED,
        output_dir=str(tmp_path),
        model_dir=str(tiny_model_dir),
        metrics={"test": {"accuracy": 0.5, "examples": 100}},
    )


@pytest.fixture
def people_classified(served_run, person) -> list[Prediction]:
    texts = synthetic_reviews(12, seed=5)["text"].tolist()
    return [review_classify(user=person, text=text) for text in texts]


def test_staff_read_the_mistakes_of_a_confusion_cell_most_confident_first(client, staff, finished_run):
    client.force_login(staff)
    url = reverse("sentiment:run_mistakes", args=[finished_run.pk])
    [_, [_, tp]] = finished_run.metrics["test"]["confusion_matrix"]
    page = client.get(url, {"cell": "tp"})
    rows = page.context["found"].rows
    assert page.status_code == 200 and page.context["found"].cell_size == tp
    assert rows and all(r["label"] == 1 and r["predicted"] == 1 for r in rows)
    assert [r["confidence"] for r in rows] == sorted((r["confidence"] for r in rows), reverse=True)
    assert rows[0]["text"] in page.content.decode()
    word = rows[0]["text"].split()[0]
    searched = client.get(url, {"cell": "tp", "q": word.upper()}).context["found"]
    assert searched.total >= 1 and all(word in r["text"].lower() for r in searched.rows)
    least = client.get(url, {"cell": "tp", "order": "least"}).context["found"].rows
    assert least[0]["confidence"] <= rows[-1]["confidence"]
    assert client.get(url, {"cell": "nope"}).status_code == 404
    run_page = client.get(reverse("sentiment:run_detail", args=[finished_run.pk])).content.decode()
    assert f"{url}?cell=fp" in run_page and "calibration-chart" in run_page


def test_a_run_that_kept_no_answers_says_so(client, staff, candidate_run):
    client.force_login(staff)
    page = client.get(reverse("sentiment:run_mistakes", args=[candidate_run.pk]), {"cell": "fp"})
    assert page.status_code == 200 and "kept no answers" in page.content.decode()


def test_every_run_is_checked_for_behaviour_and_staff_can_check_again(
    client, staff, finished_run, tmp_path, analyses_done
):
    checked = finished_run.metrics["behaviour"]
    copy = shutil.copytree(finished_run.output_dir, tmp_path / "run")  # checking again rewrites its metrics.json
    finished_run.output_dir, finished_run.model_dir = str(copy), str(copy / "model")
    finished_run.save()
    assert (
        checked["version"]
        and checked["total"] > 50
        and {c["name"] for c in checked["capabilities"]}
        >= {
            "negation",
            "contrast",
            "typos",
            "names_and_places",
            "truncation",
            "neutral_filler",
            "intensity",
        }
    )
    TrainingRun.objects.filter(pk=finished_run.pk).update(
        metrics={**finished_run.metrics, "behaviour": None, "out_of_domain": None}
    )
    client.force_login(staff)
    response = client.post(reverse("sentiment:run_behaviour", args=[finished_run.pk]), follow=True)
    waiting = response.content.decode()
    assert "run again on a worker" in waiting and "data-analysis-url" in waiting  # the page waits on the worker
    client.post(reverse("sentiment:run_behaviour", args=[finished_run.pk]))  # asked twice: one job
    assert analyses_done() == 1
    finished_run.refresh_from_db()
    again = finished_run.metrics["behaviour"]
    assert again["total"] == checked["total"]
    assert json.loads((copy / "metrics.json").read_text())["behaviour"] == again
    assert finished_run.metrics["out_of_domain"]["reviews"] >= 300  # the out-of-domain set is scored again too
    page = client.get(reverse("sentiment:run_detail", args=[finished_run.pk])).content.decode()
    assert "Negation" in page and "behaviour-card" in page and "data-analysis-url" not in page
    assert 'id="ood-accuracy"' in page and 'id="ood-by-style"' in page
    missing = TrainingRun.objects.create(preset="smoke", config={})
    refused = client.post(reverse("sentiment:run_behaviour", args=[missing.pk]), follow=True)
    assert "has no finished model to check" in refused.content.decode()


def test_staff_compare_runs_side_by_side(client, staff, finished_run, candidate_run):
    client.force_login(staff)
    url = reverse("sentiment:run_compare")
    page = client.get(url, {"run": [finished_run.pk, candidate_run.pk]})
    table = page.context["table"]
    assert [r.pk for r in table["runs"]] == [finished_run.pk, candidate_run.pk]
    accuracy = next(row for row in table["figures"] if row.label == "Test accuracy")
    assert accuracy.values == [finished_run.test_accuracy, 0.5] and accuracy.best == [True, False]
    differing = [row.label for row in table["settings"] if row.differs]
    assert "learning_rate" in differing and table["settings"][0].differs  # the differences first
    assert table["curves"][0]["points"] and table["curves"][1]["points"] == []
    assert "compare-chart" in page.content.decode() and 'class="differs"' in page.content.decode()
    alone = client.get(url, {"run": [finished_run.pk, "x", "99999"]}, follow=True)
    assert "Choose two or more runs" in alone.content.decode()


def test_the_promote_page_replays_recent_reviews_with_the_candidate(
    client, staff, candidate_run, people_classified, settings, analyses_done
):
    client.force_login(staff)
    url = reverse("sentiment:run_promote", args=[candidate_run.pk])
    waiting = client.get(url)  # a worker replays: the page shows the job until it is done
    assert waiting.context["evidence"]["replay"] is None and "data-analysis-url" in waiting.content.decode()
    assert client.get(url).context["evidence"]["job"] == waiting.context["evidence"]["job"]  # one job, shared
    assert analyses_done() == 1
    page = client.get(url)
    replay = page.context["evidence"]["replay"]
    texts = [p.text for p in reversed(people_classified)]  # newest first
    candidate = [a.label for a in Predictor(candidate_run.model_dir).predict(texts)]
    served = [p.label for p in reversed(people_classified)]
    flips = sum(c != s for c, s in zip(candidate, served, strict=True))
    assert replay["replayed"] == 12 and replay["flips"] == flips and not replay["stopped_early"]
    assert replay["agreement"] == pytest.approx(1 - flips / 12, abs=1e-4)
    assert {f["text"] for f in replay["flipped"]} == {
        t for t, c, s in zip(texts, candidate, served, strict=True) if c != s
    }
    body = page.content.decode()
    assert body.index('id="regressions"') < body.index('id="replay"')  # regressions come first
    assert not Promotion.objects.filter(run=candidate_run).exists()  # looking changes nothing


def test_a_replay_keeps_to_its_time_limit(client, staff, candidate_run, people_classified, settings, analyses_done):
    settings.REPLAY_SECONDS = 0
    evidence.REPLAY_BATCH, batch = 5, evidence.REPLAY_BATCH
    try:
        client.force_login(staff)
        url = reverse("sentiment:run_promote", args=[candidate_run.pk])
        client.get(url)
        analyses_done()
        replay = client.get(url).context["evidence"]["replay"]
    finally:
        evidence.REPLAY_BATCH = batch
    assert replay["replayed"] == 5 and replay["stopped_early"] and replay["available"] == 12


def test_behaviour_regressions_against_the_served_model_come_first(client, staff, served_run, candidate_run):
    worse = json.loads(json.dumps(served_run.metrics["behaviour"]))
    negation = next(c for c in worse["capabilities"] if c["name"] == "negation")
    negation["pass_rate"] = max(0.0, negation["pass_rate"] - 0.5)
    TrainingRun.objects.filter(pk=candidate_run.pk).update(metrics={**candidate_run.metrics, "behaviour": worse})
    client.force_login(staff)
    page = client.get(reverse("sentiment:run_promote", args=[candidate_run.pk]))
    [regression] = page.context["evidence"]["regressions"]
    assert regression["name"] == "negation" and regression["drop_points"] > 0
    assert "Negation" in page.content.decode() and "alarm" in page.content.decode()


def test_promoting_records_who_why_and_the_evidence_then_a_roll_back_restores(
    client, staff, served_run, candidate_run, people_classified, analyses_done
):
    client.force_login(staff)
    url = reverse("sentiment:run_promote", args=[candidate_run.pk])
    client.get(url)
    analyses_done()
    replay = client.get(url).context["evidence"]["replay"]
    client.post(url, {"reason": "trained on new data", "next": "https://elsewhere.example/"})
    promotion = Promotion.objects.first()
    assert served_model().run == candidate_run
    assert (promotion.promoted_by, promotion.reason, promotion.replaced, promotion.action) == (
        staff,
        "trained on new data",
        served_run,
        "promote",
    )
    assert promotion.figures["replay"]["flips"] == replay["flips"]  # the replay the page showed
    assert promotion.figures["candidate"]["test_accuracy"] == 0.5
    history = client.get(reverse("sentiment:serving_history"))
    assert "new data" in history.content.decode() and history.context["previous"] == served_run
    response = client.post(
        reverse("sentiment:run_promote", args=[served_run.pk]),
        {"reason": "users report wrong answers", "next": reverse("sentiment:serving_history")},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("sentiment:serving_history")
    assert served_model().run == served_run
    restored = Promotion.objects.first()
    assert (restored.action, restored.replaced, restored.reason) == (
        "restore",
        candidate_run,
        "users report wrong answers",
    )
    assert [p.action for p in Promotion.objects.all()] == ["restore", "promote", "promote"]


def test_a_person_sees_why_their_answer_came_out_so(client, person, staff, people_classified, analyses_done):
    prediction = people_classified[0]
    client.force_login(person)
    url = reverse("sentiment:prediction_why", args=[prediction.pk])
    waiting = client.get(url)  # a worker reads the review again; the page shows its progress meanwhile
    assert waiting.context["explanation"] is None and waiting.context["job"]["status"] == "queued"
    status = client.get(reverse("sentiment:analysis_status", args=[waiting.context["job"]["id"]])).json()
    assert status["status"] == "queued" and status["percent"] == 0
    assert analyses_done() == 1
    page = client.get(url)
    explanation = page.context["explanation"]
    assert "".join(p["text"] for p in explanation["pieces"]) == prediction.text
    assert explanation["method"] == "occlusion" and explanation["evaluations"] <= 41
    assert "<mark" in page.content.decode()
    history = client.get(reverse("sentiment:history")).content.decode()
    assert reverse("sentiment:prediction_why", args=[prediction.pk]) in history
    client.force_login(staff)  # another person's answer is not theirs to read
    assert client.get(reverse("sentiment:prediction_why", args=[prediction.pk])).status_code == 404
    other = review_classify(user=staff, text="A film.")
    client.get(reverse("sentiment:prediction_why", args=[other.pk]))
    client.force_login(person)  # nor the progress of someone else's explanation
    job = AnalysisJob.objects.get(params__prediction=other.pk)
    assert client.get(reverse("sentiment:analysis_status", args=[job.pk])).status_code == 404


def test_the_api_explains_an_answer_when_asked(client, person, served_run, analyses_done):
    key = api_token_create(user=person, name="t")
    url = reverse("sentiment:api_classify")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    text = "A superb, moving film; the ending was dull."
    first = client.post(url, {"text": text, "explain": True}, content_type="application/json", **auth).json()
    assert "explanation" not in first and first["explanation_url"].endswith(f"/{first['id']}/explanation")
    assert analyses_done() == 1  # a worker works it out; the answer itself was given at once
    explained = AnalysisJob.objects.get(params__prediction=first["id"]).result
    assert "".join(p["text"] for p in explained["pieces"]) == text
    assert set(explained["top"]) == {"positive", "negative"}
    plain = client.post(url, {"text": text}, content_type="application/json", **auth).json()
    assert "explanation" not in plain
    refused = client.post(url, {"text": text, "explain": "yes"}, content_type="application/json", **auth)
    assert refused.status_code == 400 and refused.json()["error"] == '"explain" must be true or false.'


def test_explanations_are_limited_per_person_on_every_method(client, person, people_classified, settings):
    settings.RATE_LIMIT_EXPLAIN = "2/m"
    client.force_login(person)
    url = reverse("sentiment:prediction_why", args=[people_classified[0].pk])
    assert [client.get(url).status_code for _ in range(3)] == [200, 200, 429]


def test_the_api_answers_without_the_explanation_past_its_limit(client, person, served_run, settings):
    settings.RATE_LIMIT_EXPLAIN = "1/m"
    key = api_token_create(user=person, name="t")
    url, auth = reverse("sentiment:api_classify"), {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    body = {"text": "Superb.", "explain": True}
    first = client.post(url, body, content_type="application/json", **auth).json()
    second = client.post(url, body, content_type="application/json", **auth)
    assert "explanation_url" in first and second.status_code == 200
    assert second.json()["label"] and second.json()["explanation_error"].startswith("Too many explanations")


def test_an_answer_whose_model_no_longer_loads_is_not_explained_and_says_why(
    client, person, people_classified, tmp_path, analyses_done
):
    broken = tmp_path / "broken"
    broken.mkdir()  # the folder is there, the model is not
    run = people_classified[0].run
    TrainingRun.objects.filter(pk=run.pk).update(model_dir=str(broken))
    client.force_login(person)
    url = reverse("sentiment:prediction_why", args=[people_classified[0].pk])
    client.get(url)
    analyses_done()  # the worker finds it does not load
    page = client.get(url)
    assert page.status_code == 200 and "does not load" in page.content.decode()
    assert str(tmp_path) not in page.content.decode()
    shutil.rmtree(broken)  # gone altogether: said at once, nothing asked of a worker
    page = client.get(url)
    assert "no longer available" in page.content.decode() and analyses_done() == 0


def test_the_served_model_cannot_be_promoted_again(client, staff, served_run):
    client.force_login(staff)
    response = client.post(reverse("sentiment:run_promote", args=[served_run.pk]), {"reason": "serve it twice"})
    assert "is already served" in response.content.decode() and served_run.promotions.count() == 1


def test_the_promotion_records_the_replay_the_page_showed_even_if_people_classify_meanwhile(
    client, staff, person, candidate_run, people_classified, analyses_done
):
    client.force_login(staff)
    url = reverse("sentiment:run_promote", args=[candidate_run.pk])
    client.get(url)
    analyses_done()
    page = client.get(url)
    shown, token = page.context["evidence"]["replay"], page.context["evidence_token"]
    review_classify(user=person, text="Someone classifies another review meanwhile.")
    client.post(url, {"reason": "as the page showed", "evidence": token})
    recorded = Promotion.objects.first().figures["replay"]
    assert recorded["replayed"] == shown["replayed"] == 12 and recorded["flips"] == shown["flips"]


def test_an_unfinished_run_has_no_replay_and_cannot_be_promoted(client, staff, served_run):
    client.force_login(staff)
    queued = TrainingRun.objects.create(preset="smoke", config={})
    page = client.get(reverse("sentiment:run_promote", args=[queued.pk]))
    assert page.context["evidence"]["replay_error"].endswith("there is nothing to replay.")
    refused = client.post(reverse("sentiment:run_promote", args=[queued.pk]), {"reason": "why not serve it"})
    assert "has no finished model to serve" in refused.content.decode()


def test_odd_page_numbers_and_run_ids_get_a_page_not_an_error(client, staff, finished_run):
    client.force_login(staff)
    url = reverse("sentiment:run_mistakes", args=[finished_run.pk])
    last = client.get(url, {"cell": "tp", "page": "999"})
    assert last.status_code == 200 and last.context["found"].rows  # the last page, with its reviews
    assert client.get(url, {"cell": "tp", "page": "²"}).status_code == 200
    compare = client.get(reverse("sentiment:run_compare"), {"run": ["²", str(finished_run.pk)]}, follow=True)
    assert compare.status_code == 200 and "Choose two or more runs" in compare.content.decode()


def test_promotions_from_before_the_audit_trail_get_their_history(staff, finished_run, candidate_run):
    import importlib

    from django.apps import apps

    first = Promotion.objects.create(run=finished_run, promoted_by=staff)
    second = Promotion.objects.create(run=candidate_run, promoted_by=staff)
    third = Promotion.objects.create(run=finished_run, promoted_by=staff)
    importlib.import_module("sentiment.migrations.0007_promotion_audit_history").fill_history(apps, None)
    rows = {p.pk: (p.action, p.replaced_id) for p in Promotion.objects.all()}
    assert rows == {
        first.pk: ("promote", None),
        second.pk: ("promote", finished_run.pk),
        third.pk: ("restore", candidate_run.pk),
    }


def test_a_review_sent_again_is_replayed_once_and_flips_at_most_once(
    client, staff, served_run, candidate_run, person, analyses_done
):
    texts = synthetic_reviews(2, seed=8)["text"].tolist()
    for text in [*texts, *texts]:  # two reviews, each sent twice: four predictions
        review_classify(user=person, text=text)
    client.force_login(staff)
    url = reverse("sentiment:run_promote", args=[candidate_run.pk])
    client.get(url)
    analyses_done()
    replay = client.get(url).context["evidence"]["replay"]
    candidate = Predictor(candidate_run.model_dir).predict(texts)
    served = Predictor(served_run.model_dir).predict(texts)
    flips = sum(c.label != s.label for c, s in zip(candidate, served, strict=True))
    assert (replay["predictions"], replay["available"], replay["replayed"]) == (4, 2, 2)
    assert replay["flips"] == flips == len(replay["flipped"]) and len({f["text"] for f in replay["flipped"]}) == flips


@pytest.fixture
def worse_run(served_run, tmp_path) -> TrainingRun:
    """A finished run tested on the served run's own test reviews, 6.9 points less accurate."""
    metrics = json.loads(json.dumps(served_run.metrics))
    metrics["test"]["accuracy"] = served_run.metrics["test"]["accuracy"] - 0.069
    metrics["test"]["examples"] = 5000
    served_metrics = {**served_run.metrics, "test": {**served_run.metrics["test"], "examples": 5000}}
    TrainingRun.objects.filter(pk=served_run.pk).update(metrics=served_metrics)
    return TrainingRun.objects.create(
        preset="smoke",
        config=served_run.config,
        status=TrainingRun.Status.SUCCEEDED,
        output_dir=str(tmp_path),
        model_dir=served_run.model_dir,
        metrics=metrics,
    )


def test_a_drop_in_test_accuracy_beyond_chance_is_flagged_and_must_be_confirmed(client, staff, served_run, worse_run):
    client.force_login(staff)
    url = reverse("sentiment:run_promote", args=[worse_run.pk])
    page = client.get(url)
    [regression] = page.context["evidence"]["figure_regressions"]
    assert regression["name"] == "test_accuracy" and regression["drop_points"] == pytest.approx(6.9)
    body = page.content.decode()
    assert "alarm" in body and "−6.9 points" in body and body.index("figure-regressions") < body.index('id="replay"')
    token = page.context["evidence_token"]
    unconfirmed = client.post(url, {"reason": "more training reviews", "evidence": token})
    assert unconfirmed.status_code == 200 and "Tick the box to serve it anyway" in unconfirmed.content.decode()
    assert served_model().run == served_run
    client.post(url, {"reason": "more training reviews", "evidence": token, "accept_regressions": "on"})
    assert served_model().run == worse_run
    assert Promotion.objects.first().figures["regressions"] == [regression["title"]]


def test_a_reason_of_a_word_or_two_letters_is_refused(client, staff, served_run, candidate_run):
    client.force_login(staff)
    refused = client.post(reverse("sentiment:run_promote", args=[candidate_run.pk]), {"reason": "x"})
    assert "at least 10 characters" in refused.content.decode() and served_model().run == served_run
    with pytest.raises(ValidationError, match="at least 10 characters"):
        training_run_promote(run=candidate_run, user=staff, reason="  better  ")


def test_a_roll_back_to_a_model_users_had_is_not_held_up_by_its_regressions(client, staff, served_run, worse_run):
    client.force_login(staff)
    url = reverse("sentiment:run_promote", args=[worse_run.pk])
    client.post(url, {"reason": "more training reviews", "accept_regressions": "on"})
    assert served_model().run == worse_run
    # served_run now looks better than the served one: no regression; worse_run served before: none to tick
    client.post(reverse("sentiment:run_promote", args=[served_run.pk]), {"reason": "roll back to the first one"})
    client.post(url, {"reason": "serve the newer one again"})  # a restore: it served before
    assert served_model().run == worse_run and Promotion.objects.first().action == "restore"


def test_a_drop_out_of_domain_beyond_chance_is_flagged_but_not_across_versions_of_the_set(
    client, staff, served_run, candidate_run
):
    served = served_run.results.out_of_domain.to_json()
    for version, flagged in ((served["version"], True), ("0", False)):
        worse = {**served, "accuracy": round(served["accuracy"] - 0.2, 4), "version": version}
        TrainingRun.objects.filter(pk=candidate_run.pk).update(
            metrics={**candidate_run.metrics, "out_of_domain": worse}
        )
        client.force_login(staff)
        page = client.get(reverse("sentiment:run_promote", args=[candidate_run.pk]))
        found = [r for r in page.context["evidence"]["figure_regressions"] if r["name"] == "out_of_domain"]
        assert bool(found) == flagged, version
        body = page.content.decode()
        assert 'id="promote-ood"' in body
        if flagged:
            assert found[0]["drop_points"] == pytest.approx(20, abs=0.01) and "Out-of-domain accuracy" in body
        else:
            assert "different versions of the out-of-domain set" in body
