"""API v1: who am I, and my API keys."""

import pytest

pytestmark = pytest.mark.django_db


def test_me_says_who_and_with_which_key(call, key, staff_key):
    me = call("GET", "/me", key=key).json()
    assert me["username"] == "person" and me["is_staff"] is False and me["key"]["prefix"] == key[:8]
    assert call("GET", "/me", key=staff_key).json()["is_staff"] is True


def test_keys_are_listed_created_once_and_revoked(call, key):
    created = call("POST", "/keys", key=key, json={"name": "notebook", "expires_in_days": 30})
    assert created.status_code == 201
    new = created.json()
    assert new["key"].startswith("rs_") and new["expires_at"] and new["name"] == "notebook"
    listed = call("GET", "/keys", key=key).json()
    assert len(listed) == 2 and all("key" not in item for item in listed)  # the key itself is never shown again
    assert call("GET", "/me", key=new["key"]).status_code == 200
    revoked = call("POST", f"/keys/{new['id']}/revoke", key=key)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert call("GET", "/me", key=new["key"]).status_code == 401
    assert call("POST", f"/keys/{new['id']}/revoke", key=key).status_code == 409
    assert call("POST", "/keys", key=key, json={"expires_in_days": 7}).status_code == 400


def test_another_persons_key_cannot_be_revoked(call, key, staff_key, staff):
    theirs = staff.api_tokens.get()
    refused = call("POST", f"/keys/{theirs.pk}/revoke", key=key)
    assert refused.status_code == 404
    assert call("GET", "/me", key=staff_key).status_code == 200
