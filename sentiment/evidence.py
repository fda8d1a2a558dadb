"""What staff read before a model answers users, and what is recorded with each promotion.

- **Figures** of a run: test accuracy and F1, calibration error, behavioural checks, the serving runtime.
- **Behavioural regressions** (``ml.behaviour``): capabilities the candidate passes less often than the
  served model. Shown first: a model can gain a point of accuracy and lose its grip on negation.
- **Corrections**: the held-out part of the reviews users corrected (``ml.corrections``), scored by the
  candidate and by the served model: does the new model fix what users reported?
- **Figure regressions**: the test accuracy, and the accuracy on the held-out corrections, lower than
  the served model's by more than chance (``ml.metrics.accuracy_drop``), flagged like a behavioural one.
- **Replay**: the last ``REPLAY_PREDICTIONS`` predictions people actually made, each distinct review
  answered again by the candidate (a review sent five times is one review, and flips at most once). It
  shows how many answers would flip, which ones, and how often the two models agree: the test set is
  old, these are the reviews the product meets today. The served model's answers are those
  stored with each prediction when that model gave them, and computed again otherwise.

A replay computes the candidate's answers here, in the web process that shows the page, through the runtime
that would serve it; it stops after ``REPLAY_SECONDS`` (and says so; the batch under way finishes first)
and is cached for ten minutes under what it depends on (candidate and its runtime, served model, newest
prediction). The evidence a page showed is kept under a token in its form, so that the promotion records
exactly what the person read.
Nothing here writes to the database.
"""

from __future__ import annotations

import logging
import secrets
import time

from django.conf import settings
from django.core.cache import cache

from ml.behaviour import behaviour_regressions
from ml.corrections import accuracy_on, held_out, held_out_rows
from ml.inference import predictor_cache
from ml.metrics import accuracy_drop
from sentiment import selectors
from sentiment.models import Prediction, TrainingRun
from sentiment.services.serving import answering

logger = logging.getLogger(__name__)

COMPUTE, CACHED_ONLY = "compute", "cached only"  # a replay not cached yet: computed, or left out
REPLAY_BATCH = 32  # reviews answered per call; the time budget is checked between calls
FLIPS_SHOWN = 100
CACHE_SECONDS = 600


def training_run_figures(*, run: TrainingRun) -> dict:
    """The numbers that describe a run's model at a glance (stored with a promotion, so kept small)."""
    metrics = run.metrics or {}
    test = metrics.get("test") or {}
    behaviour = metrics.get("behaviour") or {}
    return {
        "run": run.pk,
        "test_accuracy": test.get("accuracy"),
        "f1": test.get("f1"),
        "test_examples": test.get("examples"),
        "test_source": (metrics.get("data") or {}).get("source"),
        "ece": (test.get("calibration") or {}).get("ece"),
        "behaviour_pass_rate": behaviour.get("pass_rate"),
        "behaviour_version": behaviour.get("version"),
        "runtime": selectors.training_run_serving_runtime(run=run),
    }


def promotion_evidence(*, run: TrainingRun, replay: str = COMPUTE) -> dict:
    """Everything the promote page shows for ``run`` against the model served now. With ``CACHED_ONLY``
    (the promote button itself, a restore from the serving history) a replay not already made is left out."""
    served = selectors.served_model()
    served_run = served.run if served else None
    evidence = {
        "candidate": training_run_figures(run=run),
        "served": training_run_figures(run=served_run) if served_run else None,
        "is_served": served_run is not None and served_run.pk == run.pk,
        "regressions": behaviour_regressions(
            (run.metrics or {}).get("behaviour"), (served_run.metrics or {}).get("behaviour") if served_run else None
        ),
        "replay": None,
        "replay_error": "",
    }
    if run.status != TrainingRun.Status.SUCCEEDED or not run.model_dir:
        evidence["replay_error"] = f"{run} has no finished model: there is nothing to replay."
    elif served is not None and not evidence["is_served"]:
        try:
            evidence["replay"] = training_run_replay(
                run=run, served_run=served_run, served_version=served.promotion_id, compute=replay == COMPUTE
            )
        except Exception as exc:  # a model that does not load: the page says so, promoting refuses it anyway
            logger.warning("replay of %s failed", run, exc_info=True)
            evidence["replay_error"] = f"The replay could not run: {exc}"
    evidence["figure_regressions"] = figure_regressions(
        candidate=evidence["candidate"], served=evidence["served"], replay=evidence["replay"]
    )
    return evidence


def figure_regressions(*, candidate: dict, served: dict | None, replay: dict | None) -> list[dict]:
    """The figures where the candidate is worse than the served model by more than chance: test accuracy
    (when both were tested on the same reviews) and the held-out corrections (scored by both in the replay)."""
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


def training_run_replay(
    *, run: TrainingRun, served_run: TrainingRun, served_version: int, compute: bool = True
) -> dict | None:
    """The replay of recent predictions with ``run``'s model against ``served_run``'s (cached, see above);
    None when it is not cached and ``compute`` is False."""
    newest = Prediction.objects.values_list("pk", flat=True).first()
    runtime = selectors.training_run_serving_runtime(run=run)
    key = f"replay:{run.pk}:{runtime}:{served_version}:{newest}:{settings.REPLAY_PREDICTIONS}:{settings.REPLAY_SECONDS}"
    try:
        cached = cache.get(key)
    except Exception:  # the cache (Redis) is away: compute, and do not store
        cached, key = None, None
    if cached is not None or not compute:
        return cached
    replay = _replay(run, served_run)
    if key:
        try:
            cache.set(key, replay, CACHE_SECONDS)
        except Exception:
            logger.warning("could not cache the replay of %s", run, exc_info=True)
    return replay


def _replay(run: TrainingRun, served_run: TrainingRun) -> dict:
    started = time.perf_counter()
    asked = settings.REPLAY_PREDICTIONS
    predictions = list(
        Prediction.objects.order_by("-created_at", "-id").values("id", "text", "label", "probability", "run_id")[:asked]
    )
    newest_of_each_text: dict[str, dict] = {}
    for p in predictions:  # newest first: a review sent again is replayed once, against its newest answer
        newest_of_each_text.setdefault(p["text"], p)
    recent = list(newest_of_each_text.values())
    candidate = predictor_cache.get(run.model_dir, runtime=selectors.training_run_serving_runtime(run=run))
    served = None  # loaded only if some recent answers came from another model than the served one
    replayed, agree, flipped = 0, 0, []

    def out_of_time() -> bool:
        return time.perf_counter() - started > settings.REPLAY_SECONDS

    for start in range(0, len(recent), REPLAY_BATCH):
        if start and out_of_time():
            break  # the first batch always runs: a replay of nothing would say nothing
        chunk = recent[start : start + REPLAY_BATCH]
        with answering() as cores:
            new = candidate.predict([p["text"] for p in chunk], batch_size=32, cores=cores)
            other = [p for p in chunk if p["run_id"] != served_run.pk]
            if other and start and out_of_time():
                break
            if other:
                served = served or predictor_cache.get(
                    served_run.model_dir, runtime=selectors.training_run_serving_runtime(run=served_run)
                )
                for p, answer in zip(other, served.predict([p["text"] for p in other], cores=cores), strict=True):
                    p.update(label=answer.label, probability=answer.probability)
        for p, answer in zip(chunk, new, strict=True):
            replayed += 1
            if answer.label == p["label"]:
                agree += 1
                continue
            flipped.append(
                {
                    "prediction": p["id"],
                    "text": p["text"][:600],
                    "served_label": p["label"],
                    "served_probability": round(p["probability"], 4),
                    "candidate_label": answer.label,
                    "candidate_probability": round(answer.probability, 4),
                }
            )
    flipped.sort(key=lambda f: -f["candidate_probability"])
    held = [row for row in selectors.corrections_set().rows if held_out(row["text"])]
    corrections = {
        "examples": len(held),
        "candidate": corrections_accuracy(run=run, rows=held),
        "served": corrections_accuracy(run=served_run, rows=held),
    }
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
        "corrections": corrections,
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
    predictor = predictor_cache.get(run.model_dir, runtime=selectors.training_run_serving_runtime(run=run))

    def score(texts):
        with answering() as cores:
            return predictor.positive_probabilities(texts, batch_size=32, cores=cores)

    return accuracy_on(score, rows)


def training_run_corrections(*, run: TrainingRun) -> dict | None:
    """The run's score on the corrections it held out (recorded when it ended) beside the served model's on
    the same reviews (computed here, cached like a replay); None for a run launched without corrections."""
    recorded = (run.metrics or {}).get("corrections")
    if not recorded:
        return None
    served = selectors.served_model()
    result = {**recorded, "served_accuracy": None, "served_run": served.run.pk if served else None, "error": ""}
    if served is None or not recorded.get("held_out"):
        return result
    key = f"corrections:{run.pk}:{served.promotion_id}"
    try:
        cached = cache.get(key)
    except Exception:
        cached, key = None, None
    if cached is not None:
        return {**result, "served_accuracy": cached}
    try:
        rows = held_out_rows(run.config.get("corrections_file", ""))
        result["served_accuracy"] = corrections_accuracy(run=served.run, rows=rows)
    except Exception as exc:  # a missing file or model: the page says so
        logger.warning("served model's corrections score for %s failed", run, exc_info=True)
        result["error"] = str(exc)
        return result
    if key:
        try:
            cache.set(key, result["served_accuracy"], CACHE_SECONDS)
        except Exception:
            logger.warning("could not cache the corrections score of %s", run, exc_info=True)
    return result


def replay_summary(replay: dict | None) -> dict | None:
    """The replay's figures without the texts, to record with a promotion."""
    if not replay:
        return None
    summary = {k: replay[k] for k in ("replayed", "flips", "agreement", "stopped_early", "served_run")}
    return {**summary, "corrections": replay.get("corrections")}
