"""What staff read before a model answers users, and what is recorded with each promotion.

- **Figures** of a run: test accuracy and F1, out-of-domain accuracy, calibration error, behavioural checks, the
  serving runtime.
- **Behavioural regressions** (``ml.evaluation.behaviour``): capabilities the candidate passes less often than the
  served model. Shown first: a model can gain a point of accuracy and lose its grip on negation.
- **Corrections**: the held-out part of the reviews users corrected (``ml.data.corrections``), scored by the
  candidate and by the served model: does the new model fix what users reported?
- **Figure regressions**: the test accuracy, the out-of-domain accuracy (``ml.evaluation.out_of_domain``) and the
  accuracy on the held-out corrections, lower than
  the served model's by more than chance (``ml.evaluation.metrics.accuracy_drop``), flagged like a behavioural one.
- **Replay**: the last ``REPLAY_PREDICTIONS`` predictions people actually made, each distinct review
  answered again by the candidate (a review sent five times is one review, and flips at most once). It
  shows how many answers would flip, which ones, and how often the two models agree: the test set is
  old, these are the reviews the product meets today. The served model's answers are those
  stored with each prediction when that model gave them, and computed again otherwise.

The replay and the corrections' scores read up to ``REPLAY_PREDICTIONS`` reviews with two models: a
worker computes them (an ``AnalysisJob``, ``services.analysis``), never the web process that shows the
page, which shows the job's progress and fills in when it is done. The job is shared by everyone asking
about the same candidate, served model and corrections set, and used for ``EVIDENCE_MAX_AGE`` (an hour)
before a newer one is made: the reviews people send keep coming, but a new one should not make every
page compute again. The replay stops after ``REPLAY_SECONDS`` (and says so). The evidence a page showed
is kept under a token in its form, so that the promotion records exactly what the person read.
"""

from __future__ import annotations

import logging
import secrets
import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError

from ml.data.corrections import accuracy_on, held_out, held_out_rows
from ml.errors import first_line, without_paths
from ml.evaluation.behaviour import behaviour_regressions
from ml.evaluation.metrics import accuracy_drop
from ml.serving.inference import predictor_cache
from sentiment.models import AnalysisJob, Prediction, TrainingRun
from sentiment.selectors.feedback import corrections_set
from sentiment.selectors.serving import served_model, training_run_serving_runtime
from sentiment.services.analysis import analysis_job_request

logger = logging.getLogger(__name__)

COMPUTE, CACHED_ONLY = "compute", "cached only"  # a replay not done yet: asked for, or left out
EVIDENCE_MAX_AGE = timedelta(hours=1)
REPLAY_BATCH = 32  # reviews answered per call; the time budget is checked between calls
FLIPS_SHOWN = 100
CACHE_SECONDS = 600


def training_run_figures(*, run: TrainingRun) -> dict:
    """The numbers that describe a run's model at a glance (stored with a promotion, so kept small)."""
    results = run.results
    return {
        "run": run.pk,
        "test_accuracy": results.test.accuracy,
        "f1": results.test.f1,
        "test_examples": results.test.examples,
        "test_source": results.data.source,
        "ece": results.test.calibration.ece,
        "behaviour_pass_rate": results.behaviour.pass_rate,
        "behaviour_version": results.behaviour.version,
        "ood_accuracy": results.out_of_domain.accuracy,
        "ood_reviews": results.out_of_domain.reviews,
        "ood_version": results.out_of_domain.version,
        "runtime": training_run_serving_runtime(run=run),
    }


def promotion_evidence(*, run: TrainingRun, replay: str = COMPUTE, user=None) -> dict:
    """Everything the promote page shows for ``run`` against the model served now: the figures at once, the
    replay from its job (``job``: its progress until it is done). With ``CACHED_ONLY`` (the promote button
    itself, a restore) no job is asked for: a replay not already made is left out."""
    served = served_model()
    served_run = served.run if served else None
    evidence = {
        "candidate": training_run_figures(run=run),
        "served": training_run_figures(run=served_run) if served_run else None,
        "is_served": served_run is not None and served_run.pk == run.pk,
        "regressions": behaviour_regressions(
            run.results.behaviour, served_run.results.behaviour if served_run else None
        ),
        "replay": None,
        "replay_error": "",
        "job": None,
    }
    if run.status != TrainingRun.Status.SUCCEEDED or not run.model_dir:
        evidence["replay_error"] = f"{run} has no finished model: there is nothing to replay."
    elif served is not None and not evidence["is_served"]:
        job = evidence_job(run=run, served=served, user=user, ask=replay == COMPUTE)
        if job is not None:
            evidence["job"] = {"id": job.pk, "status": job.status, "percent": job.progress_percent}
            if job.status == AnalysisJob.Status.SUCCEEDED:
                evidence["replay"] = job.result
            elif job.status == AnalysisJob.Status.FAILED:
                evidence["replay_error"] = f"The replay could not run: {job.error}"
    evidence["figure_regressions"] = figure_regressions(
        candidate=evidence["candidate"], served=evidence["served"], replay=evidence["replay"]
    )
    return evidence


def evidence_job(*, run: TrainingRun, served, user=None, ask: bool = True) -> AnalysisJob | None:
    """The job replaying recent reviews with ``run``'s model against the served one (see above): asked for
    when ``ask`` (a person too busy gets the reason as the replay's error), else only one already made."""
    runtime = training_run_serving_runtime(run=run)
    corrections = corrections_set().version
    key = f"evidence:{run.pk}:{runtime}:{served.promotion_id}:{corrections}:{settings.REPLAY_PREDICTIONS}"
    if not ask:
        done = AnalysisJob.objects.filter(key=key, status=AnalysisJob.Status.SUCCEEDED).order_by("-finished_at")
        return done.first()
    params = {"run": run.pk, "served_run": served.run.pk, "runtime": runtime}
    try:
        return analysis_job_request(
            kind=AnalysisJob.Kind.EVIDENCE, key=key, params=params, user=user, max_age=EVIDENCE_MAX_AGE
        )
    except ValidationError as exc:
        logger.info("no replay of %s for now: %s", run, exc.messages)
        return None


def evidence_compute(*, params: dict, progress=None) -> dict:
    """Worker side: the replay of recent reviews and both models' scores on the held-out corrections (or, for
    the run page, the served model's score on a run's own held-out corrections)."""
    try:
        if "corrections_of" in params:
            return _served_corrections_score(params)
        run = TrainingRun.objects.get(pk=params["run"])
        return _replay(run, TrainingRun.objects.get(pk=params["served_run"]), progress=progress)
    except Exception as exc:  # a model that does not load: said on the page, promoting refuses it anyway
        logger.warning("replay of %s failed", run, exc_info=True)
        raise ValidationError(without_paths(first_line(exc))) from None


def figure_regressions(*, candidate: dict, served: dict | None, replay: dict | None) -> list[dict]:
    """The figures where the candidate is worse than the served model by more than chance: test accuracy
    (when both were tested on the same reviews), the out-of-domain set (when both were scored on the same
    version) and the held-out corrections (scored by both in the replay)."""
    if not served:
        return []
    found = []
    same_test = candidate["test_examples"] == served["test_examples"] and candidate.get("test_source") == served.get(
        "test_source"
    )
    if same_test:
        n = candidate["test_examples"]
        drop = accuracy_drop(
            candidate=candidate["test_accuracy"], served=served["test_accuracy"], candidate_n=n, served_n=n
        )
        found.append(drop and {"name": "test_accuracy", "title": f"Test accuracy ({n:,} reviews)", **drop})
    if candidate.get("ood_version") and candidate.get("ood_version") == served.get("ood_version"):
        n = candidate["ood_reviews"]
        drop = accuracy_drop(
            candidate=candidate["ood_accuracy"], served=served["ood_accuracy"], candidate_n=n, served_n=n
        )
        found.append(drop and {"name": "out_of_domain", "title": f"Out-of-domain accuracy ({n} short reviews)", **drop})
    corrections = (replay or {}).get("corrections") or {}
    n = corrections.get("examples")
    drop = accuracy_drop(
        candidate=corrections.get("candidate"), served=corrections.get("served"), candidate_n=n, served_n=n
    )
    found.append(drop and {"name": "corrections", "title": f"Held-out corrections ({n} reviews)", **drop})
    return [f for f in found if f]


def regression_titles(evidence: dict) -> list[str]:
    """Every regression the evidence shows, behavioural and in the figures: what a promotion must confirm."""
    return [r["title"] for r in [*(evidence.get("regressions") or []), *(evidence.get("figure_regressions") or [])]]


def _replay(run: TrainingRun, served_run: TrainingRun, *, progress=None) -> dict:
    started = time.perf_counter()
    asked = settings.REPLAY_PREDICTIONS
    predictions = list(
        Prediction.objects.exclude(text="")  # texts past their retention are gone
        .order_by("-created_at", "-id")
        .values("id", "text", "label", "probability", "run_id")[:asked]
    )
    newest_of_each_text: dict[str, dict] = {}
    for p in predictions:  # newest first: a review sent again is replayed once, against its newest answer
        newest_of_each_text.setdefault(p["text"], p)
    recent = list(newest_of_each_text.values())
    candidate = predictor_cache.get(run.model_dir, runtime=training_run_serving_runtime(run=run))
    replayed, agree, flipped = 0, 0, []
    for chunk, new in _answers_in_time(recent, candidate, served_run, started=started, progress=progress):
        for p, answer in zip(chunk, new, strict=True):
            replayed += 1
            if answer.label == p["label"]:
                agree += 1
            else:
                flipped.append(_flip(p, answer))
    flipped.sort(key=lambda f: -f["candidate_probability"])
    return {
        "asked": asked,
        "predictions": len(predictions),
        "available": len(recent),
        "replayed": replayed,
        "flips": len(flipped),
        "agreement": round(agree / replayed, 4) if replayed else None,
        "flipped": flipped[:FLIPS_SHOWN],
        "stopped_early": replayed < len(recent),
        "seconds": round(time.perf_counter() - started, 2),
        "runtime": candidate.runtime,
        "served_run": served_run.pk,
        "corrections": _corrections_scores(run, served_run),
    }


def _answers_in_time(recent: list[dict], candidate, served_run: TrainingRun, *, started: float, progress=None):
    """(chunk, the candidate's answers) batch by batch until ``REPLAY_SECONDS`` have passed (the first batch
    always runs: a replay of nothing would say nothing). Answers given by another model than the served one
    are computed again with the served model, so that a flip compares the two models."""
    served = None  # loaded only if some recent answers came from another model than the served one
    for start in range(0, len(recent), REPLAY_BATCH):
        if start and time.perf_counter() - started > settings.REPLAY_SECONDS:
            return
        if progress:
            progress(start, len(recent))
        chunk = recent[start : start + REPLAY_BATCH]
        new = candidate.predict([p["text"] for p in chunk], batch_size=32)
        other = [p for p in chunk if p["run_id"] != served_run.pk]
        if other:
            served = served or predictor_cache.get(
                served_run.model_dir, runtime=training_run_serving_runtime(run=served_run)
            )
            for p, answer in zip(other, served.predict([p["text"] for p in other]), strict=True):
                p.update(label=answer.label, probability=answer.probability)
        yield chunk, new


def _flip(p: dict, answer) -> dict:
    return {
        "prediction": p["id"],
        "text": p["text"][:600],
        "served_label": p["label"],
        "served_probability": round(p["probability"], 4),
        "candidate_label": answer.label,
        "candidate_probability": round(answer.probability, 4),
    }


def _corrections_scores(run: TrainingRun, served_run: TrainingRun) -> dict:
    held = [row for row in corrections_set().rows if held_out(row["text"])]
    return {
        "examples": len(held),
        "candidate": corrections_accuracy(run=run, rows=held),
        "served": corrections_accuracy(run=served_run, rows=held),
    }


def evidence_keep(evidence: dict) -> str:
    """Keep the evidence a promote page shows, for the promotion to record exactly that; its token."""
    token = secrets.token_urlsafe(16)
    try:
        cache.set(f"shown-evidence:{token}", evidence, CACHE_SECONDS * 6)
    except Exception:  # no cache: the promotion records the runs' own figures
        logger.warning("could not keep the evidence shown", exc_info=True)
        return ""
    return token


def evidence_kept(*, token: str, run: TrainingRun) -> dict | None:
    """The evidence kept under ``token`` when it was about ``run``; None otherwise (expired, another run)."""
    if not token:
        return None
    try:
        kept = cache.get(f"shown-evidence:{token}")
    except Exception:
        return None
    return kept if kept and kept["candidate"]["run"] == run.pk else None


def corrections_accuracy(*, run: TrainingRun, rows: list[dict]) -> float | None:
    """How many of ``rows`` (held-out corrections) the run's model labels right, through its runtime."""
    if not rows:
        return None
    predictor = predictor_cache.get(run.model_dir, runtime=training_run_serving_runtime(run=run))

    return accuracy_on(lambda texts: predictor.positive_probabilities(texts, batch_size=32), rows)


def training_run_corrections(*, run: TrainingRun, user=None) -> dict | None:
    """The run's score on the corrections it held out (recorded when it ended) beside the served model's on
    the same reviews (a job: ``job`` is its progress until it is done); None for a run launched without."""
    recorded = run.results.corrections
    if not recorded:
        return None
    served = served_model()
    result = {
        **recorded.to_json(),  # the template reads its figures by name, beside the served model's
        "served_accuracy": None,
        "served_run": served.run.pk if served else None,
        "error": "",
    }
    if served is None or not recorded.held_out:
        return result
    try:
        job = analysis_job_request(
            kind=AnalysisJob.Kind.EVIDENCE,
            key=f"corrections:{run.pk}:{served.promotion_id}",
            params={"corrections_of": run.pk, "served_run": served.run.pk},
            user=user,
        )
    except ValidationError as exc:
        return {**result, "error": " ".join(exc.messages)}
    result["job"] = {"id": job.pk, "status": job.status, "percent": job.progress_percent}
    if job.status == AnalysisJob.Status.SUCCEEDED:
        result["served_accuracy"] = job.result["served_accuracy"]
    elif job.status == AnalysisJob.Status.FAILED:
        result["error"] = job.error
    return result


def _served_corrections_score(params: dict) -> dict:
    """Worker side of ``training_run_corrections``: the served model on the run's held-out corrections."""
    run = TrainingRun.objects.get(pk=params["corrections_of"])
    served_run = TrainingRun.objects.get(pk=params["served_run"])
    rows = held_out_rows(run.config.get("corrections_file", ""))
    return {"served_accuracy": corrections_accuracy(run=served_run, rows=rows)}


def replay_summary(replay: dict | None) -> dict | None:
    """The replay's figures without the texts, to record with a promotion."""
    if not replay:
        return None
    summary = {k: replay[k] for k in ("replayed", "flips", "agreement", "stopped_early", "served_run")}
    return {**summary, "corrections": replay.get("corrections")}
