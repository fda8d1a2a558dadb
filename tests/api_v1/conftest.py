import pytest

from sentiment import services
from tests.sentiment.conftest import finished_run, person, queued_jobs, served_run, staff  # noqa: F401  (fixtures)


@pytest.fixture
def key(person):  # noqa: F811
    return services.api_token_create(user=person, name="tests")


@pytest.fixture
def staff_key(staff):  # noqa: F811
    return services.api_token_create(user=staff, name="staff tests")


@pytest.fixture
def call(client):
    """``call(method, path, key=..., json=...)``: a request to /api/v1 with a Bearer key, as a script sends it."""

    def request(method: str, path: str, *, key: str | None = None, json=None, **extra):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
        send = getattr(client, method.lower())
        if json is not None:
            return send(f"/api/v1{path}", data=json, content_type="application/json", **headers, **extra)
        return send(f"/api/v1{path}", **headers, **extra)

    return request
