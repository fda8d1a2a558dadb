"""API v1 against its own schema: a schema-driven fuzzer (schemathesis, tests/api_v1/api_fuzzer.py) sends
requests generated from /api/v1/openapi.json to a running server with a real database and a served model,
with a person's API key and a staff key, and finds no 5xx and no answer the schema does not promise: no
invalid request accepted, no valid one refused (but for the two rules JSON Schema cannot state, listed in
tests/api_v1/schemathesis.toml), every status and body as documented.

A bounded run (API_FUZZ_EXAMPLES test cases per operation and phase, 25 by default: a few minutes); the
full run's figures are in bench/RESULTS.md ("API v1 against its own schema").
"""

import json
import os

import pytest

from ml.config import TrainingConfig
from sentiment.api_v1.site import api
from sentiment.models import TrainingRun
from tests.api_v1.api_fuzzer import KEY_MANAGEMENT, PASSES, STAFF_TAGS, fuzz, fuzzer_env, keys_for_fuzzing
from tests.api_v1.conftest import session_only

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "25"))
SEED = int(os.environ.get("API_FUZZ_SEED", "28"))


@pytest.fixture(scope="session")
def fuzzer():
    return fuzzer_env()


def test_the_api_answers_as_its_schema_says_to_a_fuzzer(
    fuzzer, live_server, trained_tiny_run, django_user_model, settings, tmp_path
):
    for rate in ("RATE_LIMIT_API_KEY", "RATE_LIMIT_IP", "RATE_LIMIT_PERSON", "RATE_LIMIT_API_BATCH",
                 "RATE_LIMIT_EXPLAIN"):  # fmt: skip
        setattr(settings, rate, "1000000/m")  # still counted; a 429 would only hide what comes after it
    settings.RUNS_DIR = settings.MEDIA_ROOT = str(tmp_path / "site")
    staff = django_user_model.objects.create_user("fuzz-staff", password="pw-fuzz-staff-1", is_staff=True)
    person = django_user_model.objects.create_user("fuzz-person", password="pw-fuzz-person-1")
    run = TrainingRun.objects.create(
        preset="smoke", config=TrainingConfig(base_model="tiny").to_dict(), status=TrainingRun.Status.SUCCEEDED,
        model_dir=trained_tiny_run.model_dir, output_dir=trained_tiny_run.output_dir, metrics=trained_tiny_run.metrics,
    )  # fmt: skip
    run.promotions.create(promoted_by=staff, reason="served for the fuzzer")
    keys = keys_for_fuzzing(person=person, staff=staff)

    figures = fuzz(url=live_server.url, keys=keys, examples=EXAMPLES, seed=SEED, out=tmp_path / "reports")
    if os.environ.get("API_FUZZ_FIGURES"):
        with open(os.environ["API_FUZZ_FIGURES"], "w") as out:
            json.dump(figures, out, indent=2)

    shown = json.dumps(figures, indent=2) + "".join(
        (tmp_path / "reports" / f"{name}.txt").read_text()[-8000:] for name in PASSES
    )
    assert figures["server_errors"] == 0, shown
    assert figures["failures"] == [], shown
    for name in PASSES:
        assert figures[name]["exit_code"] == 0 and not figures[name]["errors"], shown
        assert figures[name]["statuses"].get("200"), shown  # it got past the keys and the validation
    assert figures["person"]["statuses"].get("401", 0) < figures["person"]["requests"] / 10, shown  # key kept
    operations = [op for methods in api.get_openapi_schema()["paths"].values() for op in methods.values()]
    staff_only = sum(bool(set(STAFF_TAGS) & set(op["tags"])) for op in operations)
    assert figures["staff"]["operations_tested"] == staff_only, shown
    signed_in_only = sum(
        session_only(m.upper(), p.removeprefix("/api/v1"))
        for p, ms in api.get_openapi_schema()["paths"].items()
        for m in ms
    )
    assert figures["person"]["operations_tested"] == len(operations) - staff_only - signed_in_only, shown
    assert figures["keys"]["operations_tested"] == len(KEY_MANAGEMENT), shown
