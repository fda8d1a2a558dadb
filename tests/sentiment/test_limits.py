"""Limits on abuse, tried as an abuser would: too many requests, guessed passwords, a weak password."""

import pytest
import redis
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.test import RequestFactory
from django.urls import reverse

from sentiment.limits import client_ip, parse_rate
from sentiment.models import Prediction
from sentiment.services.accounts import admin_user_ensure
from sentiment.services.api_tokens import api_token_create

pytestmark = pytest.mark.django_db
API = "/api/classify"


def classify_by_api(client, key: str, address: str = "203.0.113.7"):
    return client.post(
        API, {"text": "a superb film"}, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}", REMOTE_ADDR=address,
    )  # fmt: skip


def test_an_api_key_past_its_rate_gets_429_with_retry_after_and_nothing_is_stored(client, person, served_run, settings):
    settings.RATE_LIMIT_API_KEY = "3/m"
    key, other = api_token_create(user=person), api_token_create(user=person)
    assert [classify_by_api(client, key).status_code for _ in range(3)] == [200, 200, 200]
    refused = classify_by_api(client, key)
    assert refused.status_code == 429 and refused["Content-Type"] == "application/json"
    assert 1 <= int(refused["Retry-After"]) <= 60 and "try again in" in refused.json()["error"]
    assert Prediction.objects.count() == 3
    assert classify_by_api(client, other).status_code == 200  # each key has its own count


def test_one_address_is_limited_whatever_keys_it_uses(client, person, served_run, settings):
    settings.RATE_LIMIT_IP = "2/m"
    keys = [api_token_create(user=person) for _ in range(3)]
    assert [classify_by_api(client, key).status_code for key in keys] == [200, 200, 429]
    assert classify_by_api(client, keys[2], address="198.51.100.9").status_code == 200


def test_a_person_past_the_rate_on_the_site_gets_a_page_saying_when_to_retry(client, person, served_run, settings):
    settings.RATE_LIMIT_PERSON = "2/m"
    client.force_login(person)
    for _ in range(2):
        assert client.post(reverse("sentiment:classify"), {"text": "a superb film"}).status_code == 200
    refused = client.post(reverse("sentiment:classify"), {"text": "a superb film"})
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1
    assert "Too many requests" in refused.content.decode() and Prediction.objects.count() == 2
    assert client.get(reverse("sentiment:classify")).status_code == 200  # reading is not limited


def counters(settings) -> dict[str, tuple[int, int]]:
    """Every rate-limit count in Redis: the limit's setting -> (count, seconds left to live)."""
    store = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    return {key.decode().split(":")[1]: (int(store.get(key)), store.ttl(key)) for key in store.scan_iter("limit:*")}


def test_a_refused_request_counts_only_as_far_as_the_limit_that_refused_it(client, person, served_run, settings):
    settings.RATE_LIMIT_IP = "1/m"  # the address is counted first, then the key, then the person
    key = api_token_create(user=person)
    assert [classify_by_api(client, key).status_code for _ in range(2)] == [200, 429]
    counts = counters(settings)
    assert {name: count for name, (count, _) in counts.items()} == {
        "RATE_LIMIT_IP": 2, "RATE_LIMIT_API_KEY": 1, "RATE_LIMIT_PERSON": 1,
    }  # fmt: skip
    assert all(0 < ttl <= 61 for _, ttl in counts.values())  # each count ends with its minute


def test_a_rate_reads_count_slash_period_and_a_wrong_one_says_how_to_write_it():
    assert [parse_rate(rate) for rate in ("30/m", "100/5m", "2/s", " 7 / h ", "1/d")] == [
        (30, 60), (100, 300), (2, 1), (7, 3600), (1, 86400),
    ]  # fmt: skip
    for wrong in ("30", "30/minute", "/m", "-1/m", ""):
        with pytest.raises(ImproperlyConfigured, match="reads like '30/m'"):
            parse_rate(wrong)


def test_without_redis_the_limits_let_requests_through(client, person, served_run, settings):
    settings.RATE_LIMIT_PERSON = "1/m"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }  # fmt: skip  (port 9: nothing answers, as when Redis is down)
    client.force_login(person)
    for _ in range(2):
        assert client.post(reverse("sentiment:classify"), {"text": "a superb film"}).status_code == 200


def test_repeated_failed_sign_ins_lock_that_name_from_that_address_only(client, person, settings):
    settings.AXES_FAILURE_LIMIT = 3
    login = reverse("login")
    for _ in range(3):
        wrong = client.post(login, {"username": "person", "password": "guess"}, REMOTE_ADDR="203.0.113.7")
        assert wrong.status_code in (200, 429)
    locked = client.post(login, {"username": "person", "password": "pw-person-123"}, REMOTE_ADDR="203.0.113.7")
    assert locked.status_code == 429  # even the right password, from that address
    elsewhere = client.post(login, {"username": "person", "password": "pw-person-123"}, REMOTE_ADDR="198.51.100.9")
    assert elsewhere.status_code == 302  # signed in from another address


def test_a_weak_password_is_refused_with_the_reason():
    with pytest.raises(ValidationError, match=r"too short|too common"):
        admin_user_ensure(username="boss", password="a")


def test_the_client_address_comes_from_the_proxy_only_when_trusted(settings):
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.7")
    settings.TRUST_X_FORWARDED_FOR = False
    assert client_ip(request) == "10.0.0.2"  # a client could write any X-Forwarded-For
    settings.TRUST_X_FORWARDED_FOR = True
    assert client_ip(request) == "203.0.113.7"  # the entry the proxy appended


@pytest.mark.parametrize("spelling", ["Bearer {}", "bearer {}", "BEARER {}", "Bearer  {}", "Bearer {} ", "  Bearer {}"])
def test_a_keys_count_is_the_keys_however_its_header_is_spelled(client, person, served_run, settings, spelling):
    """Each spelling authenticates as the same key: none may open a fresh count, on either API."""
    settings.RATE_LIMIT_API_KEY = "2/m"
    key = api_token_create(user=person)
    assert [classify_by_api(client, key).status_code for _ in range(2)] == [200, 200]
    header = {"HTTP_AUTHORIZATION": spelling.format(key), "REMOTE_ADDR": "203.0.113.7"}
    again = client.post(API, {"text": "a superb film"}, content_type="application/json", **header)
    v1 = client.post("/api/v1/classify", {"text": "a superb film"}, content_type="application/json", **header)
    assert (again.status_code, v1.status_code) == (429, 429) and Prediction.objects.count() == 2


def test_more_keys_buy_nothing_one_budget_per_person_on_every_way_in(client, person, served_run, settings):
    settings.RATE_LIMIT_PERSON = "4/m"
    keys = [api_token_create(user=person) for _ in range(3)]
    answers = [classify_by_api(client, key).status_code for key in keys]  # 3 of the 4, through three keys
    client.force_login(person)
    answers.append(client.post(reverse("sentiment:classify"), {"text": "a superb film"}).status_code)  # the 4th
    answers.append(client.post("/api/v1/classify", {"text": "fine"}, content_type="application/json").status_code)
    answers.append(classify_by_api(client, api_token_create(user=person, name="a fourth key")).status_code)
    assert answers == [200, 200, 200, 200, 429, 429] and Prediction.objects.count() == 4


def test_a_signed_in_browser_adding_a_header_opens_no_new_count(client, person, staff, served_run, settings):
    settings.RATE_LIMIT_PERSON = "2/m"
    client.force_login(person)
    strangers_key = api_token_create(user=staff)
    sent = [
        client.post(reverse("sentiment:classify"), {"text": "a superb film"}, HTTP_AUTHORIZATION=header).status_code
        for header in ("", f"Bearer {strangers_key}", "Bearer nonsense")
    ]
    assert sent == [200, 200, 429]  # the person is the caller, whatever header the browser adds


def test_a_wrong_key_counts_against_its_address(client, served_run, settings):
    settings.RATE_LIMIT_IP = "2/m"
    statuses = [classify_by_api(client, f"rs_guess-{i}").status_code for i in range(3)]
    assert statuses == [401, 401, 429]  # guessing keys costs the address its budget


def test_explanations_share_one_count_per_person_on_the_page_and_both_apis(client, person, served_run, settings):
    settings.RATE_LIMIT_EXPLAIN = "3/m"
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_token_create(user=person)}"}
    body = {"text": "a superb film", "explain": True}
    first = client.post(API, body, content_type="application/json", **auth).json()
    second = client.post("/api/v1/classify", body, content_type="application/json", **auth).json()
    client.force_login(person)
    why = reverse("sentiment:prediction_why", args=[first["id"]])
    assert client.get(why).status_code == 200  # the third explanation, on the site
    past = client.post(API, body, content_type="application/json", **auth).json()
    assert "explanation_url" in first and "explanation_url" in second
    assert past["label"] and past["explanation_error"].startswith("Too many explanations")
    assert client.get(why).status_code == 429
