import pytest

from sentiment.services.api_tokens import api_token_create


@pytest.fixture
def key(person):
    return api_token_create(user=person, name="tests")


@pytest.fixture
def staff_key(staff):
    return api_token_create(user=staff, name="staff tests", scope="staff")


def session_only(method: str, path: str) -> bool:
    """Whether the operation takes the signed-in person alone, no key (making and revoking keys)."""
    from sentiment.api_v1.site import api

    for pattern, methods in api.get_openapi_schema()["paths"].items():
        prefix = pattern.removeprefix("/api/v1").split("{")[0]
        operation = methods.get(method.lower())
        same = pattern.removeprefix("/api/v1") == path or ("{" in pattern and path.startswith(prefix)
                                                           and path.count("/") == pattern.count("/") - 2)  # fmt: skip
        if operation and same:
            return all("ApiKey" not in scheme for scheme in operation.get("security", []))
    return False


@pytest.fixture
def call(client):
    """``call(method, path, key=..., json=...)``: a request to /api/v1 with a Bearer key, as a script sends it;
    with ``signed_in=user`` (and no key), as that person's browser on the site sends it."""

    def request(method: str, path: str, *, key: str | None = None, json=None, signed_in=None, **extra):
        if signed_in is not None:
            client.force_login(signed_in)
        headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
        send = getattr(client, method.lower())
        if json is not None:
            return send(f"/api/v1{path}", data=json, content_type="application/json", **headers, **extra)
        return send(f"/api/v1{path}", **headers, **extra)

    return request


def sent_as(method: str, path: str, *, key: str, user) -> dict:
    """How a caller sends the operation: with its key, or signed in when the operation takes no key."""
    return {"signed_in": user} if session_only(method, path) else {"key": key}
