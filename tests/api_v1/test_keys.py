"""API v1: who am I, and my API keys."""

import pytest

pytestmark = pytest.mark.django_db


def test_me_says_who_and_with_which_key(call, key, staff_key):
    me = call("GET", "/me", key=key).json()
    assert me["username"] == "person" and me["is_staff"] is False and me["key"]["prefix"] == key[:8]
    assert call("GET", "/me", key=staff_key).json()["is_staff"] is True


def test_keys_are_listed_created_once_and_revoked_by_the_signed_in_person(call, key, person):
    created = call("POST", "/keys", signed_in=person, json={"name": "notebook", "expires_in_days": 30})
    assert created.status_code == 201
    new = created.json()
    assert new["key"].startswith("rs_") and new["expires_at"] and new["name"] == "notebook"
    assert new["scope"] == "classify"
    listed = call("GET", "/keys", key=key).json()
    assert len(listed) == 2 and all("key" not in item for item in listed)  # the key itself is never shown again
    assert call("GET", "/me", key=new["key"]).status_code == 200
    revoked = call("POST", f"/keys/{new['id']}/revoke", signed_in=person)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert call("GET", "/me", key=new["key"]).status_code == 401
    assert call("POST", f"/keys/{new['id']}/revoke", signed_in=person).status_code == 409
    assert call("POST", "/keys", signed_in=person, json={"expires_in_days": 7}).status_code == 400


def test_a_key_can_neither_make_nor_revoke_keys(client, call, key, person):
    """A leaked 30-day key must not make a key that never expires and outlives the first one's revoking."""
    made = call("POST", "/keys", key=key, json={"name": "forever"})
    assert made.status_code == 401 and "never with a key" in made.json()["error"]["message"]
    own = person.api_tokens.get()
    assert call("POST", f"/keys/{own.pk}/revoke", key=key).status_code == 401
    assert person.api_tokens.count() == 1 and person.api_tokens.get().revoked_at is None


def test_a_person_holds_a_bounded_number_of_keys(call, person, settings):
    settings.MAX_API_KEYS_PER_PERSON = 2
    assert [call("POST", "/keys", signed_in=person, json={}).status_code for _ in range(3)] == [201, 201, 400]
    first = person.api_tokens.order_by("pk").first()
    call("POST", f"/keys/{first.pk}/revoke", signed_in=person)
    assert call("POST", "/keys", signed_in=person, json={}).status_code == 201  # a revoked one no longer counts


def test_only_staff_make_staff_keys_and_only_those_do_staff_operations(call, person, staff, served_run):
    refused = call("POST", "/keys", signed_in=person, json={"scope": "staff"})
    assert refused.status_code == 400 and "Only staff" in refused.json()["error"]["message"]
    plain = call("POST", "/keys", signed_in=staff, json={}).json()
    assert plain["scope"] == "classify"
    assert call("GET", "/me", key=plain["key"]).json()["is_staff"] is True  # a working key...
    runs = call("GET", "/runs", key=plain["key"])  # ...that may not manage training
    assert runs.status_code == 403 and "staff scope" in runs.json()["error"]["message"]
    powerful = call("POST", "/keys", signed_in=staff, json={"scope": "staff"}).json()
    assert powerful["scope"] == "staff" and call("GET", "/runs", key=powerful["key"]).status_code == 200


def test_another_persons_key_cannot_be_revoked(call, key, staff_key, staff, person):
    theirs = staff.api_tokens.get()
    refused = call("POST", f"/keys/{theirs.pk}/revoke", signed_in=person)
    assert refused.status_code == 404
    assert call("GET", "/me", key=staff_key).status_code == 200
