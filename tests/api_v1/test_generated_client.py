"""A client generated from the schema the server serves classifies a review against the running server.

The generator (openapi-python-client, pinned in requirements-client-test.txt) is installed in an
environment of its own, created once per checkout beside the project's (it needs an older typer than the
project pins); the generated client runs there too, as a separate program calling the API would, so the
test also proves that the client needs nothing of the project.
"""

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ml.config import TrainingConfig
from sentiment.models import Prediction, TrainingRun
from sentiment.services.api_tokens import api_token_create, api_token_revoke

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "requirements-client-test.txt"

CLIENT_PROGRAM = """
import json, sys
sys.path.insert(0, sys.argv[1])
from review_client import AuthenticatedClient
from review_client.api.predictions import classify
from review_client.models import ClassifiedOut, ClassifyIn, ErrorOut

base_url, key, revoked = sys.argv[2:5]
client = AuthenticatedClient(base_url=base_url, token=key)
answer = classify.sync(client=client, body=ClassifyIn(text=sys.argv[5]))
stale = AuthenticatedClient(base_url=base_url, token=revoked)
refused = classify.sync_detailed(client=stale, body=ClassifyIn(text="x"))
assert isinstance(answer, ClassifiedOut) and isinstance(refused.parsed, ErrorOut)
print(json.dumps({
    "id": answer.id, "label": answer.label.value, "probability": answer.probability, "run": answer.run,
    "refused": refused.status_code.value, "code": refused.parsed.error.code,
}))
"""


@pytest.fixture(scope="session")
def generator_env() -> Path:
    """The generator's own virtual environment (kept in the project's, keyed by its pins)."""
    pins = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:10]
    env = Path(sys.prefix) / f"client-generator-{pins}"
    if not (env / "bin" / "openapi-python-client").exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(env)], check=True)
        pip = [str(env / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "-r", str(REQUIREMENTS)], check=True)
    return env


@pytest.mark.slow  # a live server, and a client generated and run in an environment of its own
def test_a_generated_client_classifies_a_review(
    generator_env, live_server, trained_tiny_run, django_user_model, tmp_path
):
    run = TrainingRun.objects.create(
        preset="smoke", config=TrainingConfig(base_model="tiny").to_dict(), status=TrainingRun.Status.SUCCEEDED,
        model_dir=trained_tiny_run.model_dir, output_dir=trained_tiny_run.output_dir, metrics=trained_tiny_run.metrics,
    )  # fmt: skip
    run.promotions.create()
    person = django_user_model.objects.create_user("script", password="pw-script-123")
    key = api_token_create(user=person, name="generated client")
    revoked = api_token_create(user=person, name="old")
    api_token_revoke(user=person, token_id=person.api_tokens.get(name="old").pk)

    env = {**os.environ, "PATH": f"{generator_env / 'bin'}{os.pathsep}{os.environ['PATH']}"}  # its ruff hooks
    generate = [
        str(generator_env / "bin" / "openapi-python-client"), "generate",
        "--url", f"{live_server.url}/api/v1/openapi.json", "--output-path", str(tmp_path / "review_client"),
        "--meta", "none",
    ]  # fmt: skip
    generated = subprocess.run(generate, env=env, capture_output=True, text=True, timeout=300)
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "Warning" not in generated.stdout, generated.stdout  # every part of the schema was understood

    review = "A moving, beautifully acted film; I loved every minute."
    program = tmp_path / "call.py"
    program.write_text(textwrap.dedent(CLIENT_PROGRAM))
    command = [
        str(generator_env / "bin" / "python"),
        str(program),
        str(tmp_path),
        live_server.url,
        key,
        revoked,
        review,
    ]
    called = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert called.returncode == 0, called.stdout + called.stderr
    answer = json.loads(called.stdout)

    assert answer["label"] in ("negative", "positive") and 0.5 <= answer["probability"] <= 1
    assert answer["run"] == run.pk
    saved = Prediction.objects.get(pk=answer["id"])
    assert (saved.text, saved.user, saved.label) == (review, person, answer["label"])
    assert (answer["refused"], answer["code"]) == (401, "unauthorized")  # a revoked key, through the client
