"""Shared fixtures: a tiny BERT built here (no download), small review folders in every format; for the tests
outside tests/ml, the tests' Redis and the people and runs most of them start from. The tiers' markers.

The suite runs offline: the hub libraries are put in offline mode before they are imported, so
anything that would reach the network fails at once instead.
"""

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Tests talk to a Redis database of their own, which they may empty.
TEST_BROKER_URL = os.environ.get("TEST_CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
os.environ["CELERY_BROKER_URL"] = TEST_BROKER_URL
# ... and rate-limit counters in another database of the same Redis, emptied before each test
# (TEST_CACHE_URL moves it, so that two suites can run side by side on one Redis).
os.environ["CACHE_URL"] = os.environ.get("TEST_CACHE_URL", TEST_BROKER_URL.rsplit("/", 1)[0] + "/14")

import pytest  # noqa: E402

from tests.synthetic import synthetic_reviews, tiny_config, write_split  # noqa: E402

TESTS = Path(__file__).resolve().parent
# tests/ml needs no Django, Redis or database (`pytest tests/ml -p no:django` runs it without them): the
# fixtures below that use them are for the tests outside it, and import what they use when they run.
FRAMEWORK_FREE = (TESTS / "ml",)

# The slow tiers, by where their tests live: each of these markers brings `slow` with it, so that
# `pytest -m "not slow"` (make test-fast) is the fast tier. A single slow test elsewhere is marked where it is.
TIER_MARKERS = {
    "faults": ("faults",),  # a whole back end of real processes, broken on purpose (PostgreSQL only)
    "integration": ("integration",),  # real Celery worker processes
    "integration/test_browser.py": ("browser",),  # headless Chromium driven by Playwright
}
SLOW_TIERS = {"browser", "faults", "integration", "gpu"}


def framework_free(path: Path) -> bool:
    return any(path.is_relative_to(folder) for folder in FRAMEWORK_FREE)


def pytest_collection_modifyitems(config, items):
    """The tiers' markers by folder, `slow` with each; tests marked gpu skip where no CUDA device is."""
    cuda = None
    for item in items:
        where = Path(item.path).resolve()
        for place, markers in TIER_MARKERS.items():
            if where == TESTS / place or (TESTS / place) in where.parents:
                for name in markers:
                    item.add_marker(name)
        if SLOW_TIERS & {mark.name for mark in item.iter_markers()}:
            item.add_marker("slow")
        if item.get_closest_marker("gpu"):
            if cuda is None:
                import torch

                cuda = torch.cuda.is_available()
            if not cuda:
                item.add_marker(pytest.mark.skip(reason="needs a CUDA device"))


@pytest.fixture
def make_review_folder(tmp_path):
    """A folder with train/test files in a format (parquet, csv, jsonl)."""

    def make(fmt: str = "parquet", *, train: int = 240, test: int = 80, name: str = "reviews") -> Path:
        folder = tmp_path / name
        folder.mkdir()
        write_split(synthetic_reviews(train, seed=1), folder / f"train.{fmt}")
        write_split(synthetic_reviews(test, seed=2), folder / f"test.{fmt}")
        return folder

    return make


@pytest.fixture(scope="session")
def minilm_path() -> str:
    from ml.base_models import builtin_models

    return builtin_models()["minilm"]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, minilm_path) -> Path:
    """A randomly initialised 2-layer, 32-wide BERT with the MiniLM tokenizer: trains in seconds."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    folder = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = AutoTokenizer.from_pretrained(minilm_path)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def synthetic_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("synthetic")
    write_split(synthetic_reviews(400, seed=1), folder / "train.parquet")
    write_split(synthetic_reviews(100, seed=2), folder / "test.parquet")
    return folder


@pytest.fixture(scope="session")
def trained_tiny_run(tmp_path_factory, tiny_model_dir, synthetic_folder):
    """One finished tiny training run shared by the inference, evaluation and command tests. Its batches are
    grouped by length, as the presets' are: in small evaluation batches, so that the Trainer's evaluation
    order would differ from the reviews' if anything let it (tests/sentiment/test_figures_from_source.py)."""
    from ml.training.pipeline import train_model

    out = tmp_path_factory.mktemp("tiny-run")
    config = tiny_config(tiny_model_dir, synthetic_folder, out, group_by_length=True, eval_batch_size=16)
    return train_model(config, progress_bar=False)


# The Django side: for the tests outside tests/ml. Django, Redis and the app are imported where they are used.


@pytest.fixture(autouse=True, scope="session")
def _django_session(request, tmp_path_factory):
    """For a session with tests outside tests/ml, before its first test: Celery pointed at the tests' Redis
    (a private redis-server started when none answers) and passwords hashed with MD5 in the test process, as
    Django advises for tests (the production hasher costs a third of a second of CPU on nearly every test
    that makes a person; the processes the tests start keep it). Both are set on the settings themselves,
    before any test's override: an override's undoing (pytest-django's live_server undoes its own after each
    test) puts back what the settings held when it began, and would drop a value set beneath it."""
    if all(framework_free(Path(item.path)) for item in request.session.items):
        yield None
        return
    import shutil
    import socket
    import subprocess
    import time

    import redis
    from django.conf import settings
    from django.contrib.auth import hashers

    from worker.celery import app

    url, server = TEST_BROKER_URL, None
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        if not shutil.which("redis-server"):
            raise RuntimeError(
                f"no Redis at {url} and no redis-server to start (apt-get install redis-server)"
            ) from None
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        folder = tmp_path_factory.mktemp("redis")
        server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                   "--dir", str(folder)], stdout=subprocess.DEVNULL)  # fmt: skip
        url = f"redis://127.0.0.1:{port}/15"
        for _ in range(100):
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.RedisError:
                time.sleep(0.05)
    os.environ["CELERY_BROKER_URL"] = settings.CELERY_BROKER_URL = app.conf.broker_url = url
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    hashers.get_hashers.cache_clear()
    hashers.get_hashers_by_algorithm.cache_clear()
    yield url
    if server:
        server.terminate()


@pytest.fixture(autouse=True)
def _django_side(request):
    """Each test outside tests/ml starts with no request counted against any rate limit and with no served
    model loaded in this process, as a new web process would."""
    if framework_free(Path(request.node.path)):
        yield
        return
    import contextlib

    from django.core.cache import cache
    from redis.exceptions import RedisError

    from sentiment.services.serving import serving_slot

    with contextlib.suppress(RedisError):  # no Redis at CACHE_URL: the limits let everything through
        cache.clear()
    serving_slot.reset()
    yield
    serving_slot.reset()


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("staff", password="pw-staff-123", is_staff=True)


@pytest.fixture
def person(django_user_model):
    return django_user_model.objects.create_user("person", password="pw-person-123")


@pytest.fixture
def finished_run(trained_tiny_run):
    """A succeeded run whose model is the tiny model trained once per session, with the settings it had."""
    import json

    from ml.config import CONFIG_FILE, TrainingConfig
    from sentiment.models import TrainingRun

    config = TrainingConfig.from_dict(json.loads((Path(trained_tiny_run.output_dir) / CONFIG_FILE).read_text()))
    return TrainingRun.objects.create(
        preset="smoke",
        config=config.to_dict(),
        status=TrainingRun.Status.SUCCEEDED,
        output_dir=trained_tiny_run.output_dir,
        model_dir=trained_tiny_run.model_dir,
        metrics=trained_tiny_run.metrics,
    )


@pytest.fixture
def served_run(finished_run, staff):
    from sentiment.models import Promotion

    Promotion.objects.create(run=finished_run, promoted_by=staff)
    return finished_run


@pytest.fixture
def queued_jobs(settings):
    """Reads what the code under test put on the broker (the tests' own Redis database, emptied first):
    ``queued_jobs("training")`` is ``[(task name, args), ...]`` on that queue."""
    import base64
    import json

    import redis

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.flushdb()

    def read(queue: str) -> list[tuple[str, list]]:
        messages = [json.loads(raw) for raw in reversed(broker.lrange(queue, 0, -1))]
        return [(m["headers"]["task"], json.loads(base64.b64decode(m["body"]))[0]) for m in messages]

    return read
