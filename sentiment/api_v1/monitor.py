"""Staff only: the model monitor's figures (``selectors.monitor``), as the monitor page shows them."""

from datetime import datetime
from typing import Literal

from ninja import Field, Query, Router, Schema

from sentiment.api_v1.auth import key_or_session
from sentiment.api_v1.schemas import answers
from sentiment.selectors.monitor import ALARM_WINDOW, model_monitor

router = Router(tags=["monitor"], auth=key_or_session(staff=True))


class LatencyOut(Schema):
    runtime: str
    answers: int
    p50_ms: float = Field(description="The model's median milliseconds per review.")
    p95_ms: float = Field(description="95 in 100 answers took less than this.")


class SignalOut(Schema):
    name: str = Field(description="confidence, or words (the review's length)")
    psi: float = Field(description="Population stability index against the served run's test reviews.")
    edges: list[float] = Field(description="Inner edges of the bins, each holding a tenth of the test reviews.")
    live_shares: list[float]
    reference_shares: list[float]


class DriftOut(Schema):
    answers: int = Field(description="The served model's answers the drift is computed on.")
    judged: bool = Field(description="Enough answers to read the score as more than chance.")
    score: float | None = Field(description="The largest PSI over the signals.")
    threshold: float
    alarm: bool
    signals: list[SignalOut]


class TrafficOut(Schema):
    at: datetime = Field(description="Start of the minute (hour window) or hour.")
    answers: int
    failures: int


class MonitorOut(Schema):
    window: str
    since: datetime
    computed_at: datetime
    served_run: int | None
    answers: int = Field(description="Answers in the window, by any model.")
    served_answers: int
    failures: int = Field(description="Reviews the model could not answer (it failed, or none was served).")
    failure_rate: float | None
    traffic: list[TrafficOut]
    latency: list[LatencyOut]
    positive_share: float | None
    test_positive_share: float | None
    confidence_shares: list[float] = Field(description="Live answers per confidence bin, 0.50-0.55 ... 0.95-1.00.")
    test_confidence_shares: list[float]
    estimated_accuracy: float | None = Field(
        description="Accuracy expected from the confidence and the run's calibration; valid while it stays calibrated."
    )
    test_accuracy: float | None
    test_ece: float | None
    corrected: int = Field(description="This window's answers by the served model that staff accepted as wrong.")
    drift: DriftOut | None
    notes: list[str]


class MonitorQuery(Schema):
    window: Literal["hour", "day", "week"] = ALARM_WINDOW


@router.get("/monitor", response=answers({200: MonitorOut}, 403), summary="How the served model is doing")
def monitor(request, query: Query[MonitorQuery]):
    """Traffic, errors, latency, the answers' label share and confidence against the served run's test
    reviews, the accuracy estimated without labels, and the drift score with its alarm."""
    return model_monitor(window=query.window)
