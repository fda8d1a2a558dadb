"""Every operation of API v1, read from its own schema (so a new endpoint cannot be forgotten): without a
key and with a revoked key it answers 401 in the error shape; the staff operations answer 403 to a person;
none of them changes anything on the way."""

import pytest

from sentiment.api_v1.site import api
from sentiment.models import CsvClassification, Prediction, Promotion, TrainingRun
from sentiment.services.api_tokens import api_token_create, api_token_revoke
from tests.api_v1.conftest import session_only

pytestmark = pytest.mark.django_db
STAFF_TAGS = {"runs", "serving"}


def operations() -> list[tuple[str, str, bool]]:
    """(method, path under /api/v1 with every id 1, staff only) for each operation in the schema."""
    found = []
    for path, methods in api.get_openapi_schema()["paths"].items():
        for method, operation in methods.items():
            concrete = path.removeprefix("/api/v1")
            for name in ("prediction_id", "job_id", "key_id", "run_id"):
                concrete = concrete.replace(f"{{{name}}}", "1")
            found.append((method.upper(), concrete, bool(STAFF_TAGS & set(operation.get("tags", [])))))
    return found


def test_the_schema_lists_every_part_of_the_api():
    tags = {path.split("/")[1] for _, path, _ in operations()}
    assert tags == {"classify", "predictions", "csv", "me", "keys", "runs", "serving", "monitor"}
    assert all("{" not in path for _, path, _ in operations()), "an id the test does not fill in"


def nothing_changed():
    return not (
        Prediction.objects.exists()
        or CsvClassification.objects.exists()
        or TrainingRun.objects.exclude(status="succeeded").exists()
        or Promotion.objects.count() > 1
    )


@pytest.mark.parametrize(("method", "path", "staff_only"), operations())
def test_every_operation_refuses_no_key_and_a_revoked_key(call, person, served_run, method, path, staff_only):
    body = {} if method == "POST" else None
    for sent in (None, "rs_not-a-key"):
        refused = call(method, path, key=sent, json=body)
        assert refused.status_code == 401, (path, refused.content)
        assert refused.json()["error"]["code"] == "unauthorized"
    old = api_token_create(user=person, name="old")
    api_token_revoke(user=person, token_id=person.api_tokens.get(name="old").pk)
    revoked = call(method, path, key=old, json=body)
    told = "never with a key" if session_only(method, path) else "revoked"  # keys are managed signed in
    assert revoked.status_code == 401 and told in revoked.json()["error"]["message"], (path, revoked.content)
    assert nothing_changed()


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, staff in operations() if staff])
def test_every_staff_operation_is_forbidden_to_a_person(call, key, served_run, method, path):
    refused = call(method, path, key=key, json={} if method == "POST" else None)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden", (path, refused.content)
    assert nothing_changed()
