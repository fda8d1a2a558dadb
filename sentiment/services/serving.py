"""The model this web process answers with, swapped without making anyone wait.

The first request of a process (or ``serving_warm_up`` at start) loads the served model, on the runtime
that ``training_run_serving_runtime`` chooses (ONNX Runtime where it was measured faster: the
process then never imports PyTorch). When staff promote another model, the next request notices (one
cheap query), starts loading the new model in a background thread and is answered by the model already
loaded, as are all requests until the new one is ready; then it takes over. Each answer records the
model and the runtime that actually gave it.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

from ml.core_share import CoreShare
from ml.errors import first_line, without_paths
from ml.serving.inference import predictor_cache
from ml.serving.labeller import Labeller
from sentiment.selectors.serving import ServedModel, served_model, served_version, training_run_serving_runtime

logger = logging.getLogger(__name__)


class NoModelServed(Exception):
    """No run has been promoted yet: nothing can classify."""

    def __init__(self, message: str = "No model is being served yet: staff must train and promote one first."):
        super().__init__(message)


@dataclass(frozen=True)
class LoadedModel:
    """The served model (``ServedModel``) loaded in this process, ready to answer."""

    served: ServedModel
    predictor: Labeller
    load_seconds: float


class ModelNotLoaded(NoModelServed):
    """The served model failed to load in this process; it is tried again after a pause."""


class ServingSlot:
    """Holds the loaded served model of this process and loads its successor in the background.

    A model that fails to load (its folder deleted or damaged after promotion) is not tried again on
    every request: each failure doubles the pause before the next try, from ``RETRY_FIRST`` up to
    ``RETRY_MAX`` seconds. Meanwhile the model already loaded keeps answering, or, with none, requests
    are told at once that no model can answer.
    """

    RETRY_FIRST, RETRY_MAX = 5.0, 600.0

    def __init__(self):
        self._lock = threading.Lock()
        self._current: LoadedModel | None = None
        self._loading: threading.Thread | None = None
        self._failed: dict[int, tuple[int, float]] = {}  # promotion id -> (failures, monotonic time of the next try)

    def get(self, *, wait: bool = False) -> LoadedModel:
        """The model to answer with now; ``wait`` loads a newly promoted one first (the CSV worker)."""
        current = self._current
        if current is not None and current.served.promotion_id == served_version():
            return current  # the usual case: one indexed query
        served = served_model()
        if served is None:
            raise NoModelServed()
        retry_in = self._retry_in(served.promotion_id)
        if retry_in > 0:
            if current is not None:
                return current
            raise ModelNotLoaded(f"The served model could not be loaded; it is tried again in {retry_in:.0f} s.")
        if current is None or wait:
            return self._load(served)
        with self._lock:
            if self._loading is None or not self._loading.is_alive():
                self._loading = threading.Thread(target=self._load, args=(served,), name="model-load", daemon=True)
                self._loading.start()
        return current

    def wait_for_load(self, timeout: float | None = None) -> None:
        loading = self._loading
        if loading is not None:
            loading.join(timeout)

    def reset(self) -> None:
        """Forget the loaded model (tests start each case from an empty process state)."""
        self.wait_for_load()
        with self._lock:
            self._current = None
            self._failed.clear()

    def _retry_in(self, promotion_id: int) -> float:
        """Seconds before a model that failed to load may be tried again (0: now)."""
        failed = self._failed.get(promotion_id)
        return max(0.0, failed[1] - time.monotonic()) if failed else 0.0

    def _load(self, served: ServedModel) -> LoadedModel:
        started = time.perf_counter()
        runtime = training_run_serving_runtime(run=served.run)
        try:
            predictor = predictor_cache.get(served.run.model_dir, runtime=runtime)
        except Exception as exc:
            failures = self._failed.get(served.promotion_id, (0, 0.0))[0] + 1
            pause = min(self.RETRY_FIRST * 2 ** (failures - 1), self.RETRY_MAX)
            self._failed[served.promotion_id] = (failures, time.monotonic() + pause)
            logger.exception("could not load %s (failure %d); next try in %.0f s", served.name, failures, pause)
            if self._current is None:
                raise ModelNotLoaded(f"The served model could not be loaded: {without_paths(first_line(exc))}") from exc
            return self._current
        self._failed.pop(served.promotion_id, None)
        loaded = LoadedModel(served=served, predictor=predictor, load_seconds=round(time.perf_counter() - started, 3))
        with self._lock:
            if self._current is None or self._current.served.promotion_id < served.promotion_id:
                self._current = loaded
        logger.info("serving %s on %s (loaded in %.2f s)", served.name, runtime, loaded.load_seconds)
        return loaded


serving_slot = ServingSlot()
_core_share: CoreShare | None = None
_fixed_cores: int | None = None


def share_cores(share: CoreShare) -> bool:
    """This web process computes its answers on its share of the cores (gunicorn sets it per worker);
    False when the share has no slot left for it."""
    global _core_share
    _core_share = share if share.join() else None
    return _core_share is not None


def fix_cores(cores: int | None) -> None:
    """This web process computes each answer on ``cores`` cores (``None``: the runtime's default)."""
    global _fixed_cores
    _fixed_cores = cores


@contextmanager
def answering():
    """Around the computation of an answer: yields the cores this process may use for it, to pass to the
    predictor as ``cores``."""
    if _core_share is None:
        yield _fixed_cores
        return
    with _core_share.computing() as cores:
        yield cores


def serving_warm_up() -> None:
    """Load the served model before the first request (gunicorn calls this as each worker starts)."""
    try:
        serving_slot.get(wait=True)
    except NoModelServed:
        logger.info("no model is served yet; the first request after a promotion loads it")
