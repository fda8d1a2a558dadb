"""The clients of bench/soak.py, for locust (run in its own environment: requirements-soak.txt).

Polite clients use the product as meant, within every limit: classify a review, a small batch, read their
history, upload a small CSV and follow it, ask why one answer came out so. Every answer they get must be
a success: any failure of theirs is an error of the site's.

Abusive clients try what a determined user, a leaked key or a broken script would: the same key spelled
every way to open new rate-limit counts, bodies far over the limits, uploads past their storage quota,
floods of explanations, and a signed-in abuser making key after key. Each abusive request is judged by
what a sound site answers it (a 4xx or a 429: refused, cheaply); a 2xx is counted too, as what the limits
still let through, and a 5xx is a failure.

The site's users and keys come from the JSON file in ``SOAK_CLIENTS`` (written by bench/soak.py).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import random
import re

from locust import HttpUser, between, constant, events, task

CLIENTS = json.loads(open(os.environ["SOAK_CLIENTS"]).read())  # noqa: SIM115 (read once at start)
REVIEWS = CLIENTS["reviews"]
POLITE, ABUSIVE = iter(itertools.cycle(CLIENTS["polite"])), iter(itertools.cycle(CLIENTS["abusive"]))
ADDRESSES = (f"10.0.{n // 250}.{n % 250 + 1}" for n in itertools.count())  # one per client, as a proxy adds it
SPELLINGS = ["Bearer {}", "bearer {}", "BEARER {}", "Bearer  {}", "Bearer {} ", "bEaReR {}"]
ABUSE_COUNTS: dict[str, dict[str, int]] = {}
RNG = random.Random(28)  # noqa: S311  (the same load each time; nothing secret is drawn)


def csv_file(rows: list[tuple]) -> io.BytesIO:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["id", "text"])
    writer.writerows(rows)
    return io.BytesIO(text.getvalue().encode())


def judged(name: str, response, *, refused_ok: bool) -> None:
    """Polite: a failure unless 2xx. Abusive: a failure only on 5xx; its status is counted by kind."""
    if refused_ok:
        counts = ABUSE_COUNTS.setdefault(name, {})
        counts[str(response.status_code)] = counts.get(str(response.status_code), 0) + 1
        if response.status_code >= 500 or response.status_code == 0:
            response.failure(f"{response.status_code}")
        else:
            response.success()
    elif not 200 <= response.status_code < 300:
        response.failure(f"{response.status_code}: {response.text[:200]}")


@events.quitting.add_listener
def _abuse_counts(environment, **kwargs):
    with open(os.environ["SOAK_ABUSE_COUNTS"], "w") as out:
        json.dump(ABUSE_COUNTS, out, indent=2)


class Polite(HttpUser):
    """About one request every 4 s per client: well within a person's 60 classifications a minute."""

    weight = 3
    wait_time = between(3, 5)

    def on_start(self):
        self.me = next(POLITE)
        self.client.headers.update({"Authorization": f"Bearer {self.me['key']}", "X-Forwarded-For": next(ADDRESSES)})
        self.explained = []

    @task(6)
    def classify(self):
        with self.client.post("/api/v1/classify", json={"text": RNG.choice(REVIEWS)}, name="classify",
                              catch_response=True) as answer:  # fmt: skip
            judged("classify", answer, refused_ok=False)
            if answer.ok and len(self.explained) < 3:
                self.explained.append(answer.json()["id"])

    @task(1)
    def batch(self):
        body = {"reviews": RNG.sample(REVIEWS, 8)}
        with self.client.post("/api/v1/classify/batch", json=body, name="batch of 8", catch_response=True) as r:
            judged("batch", r, refused_ok=False)

    @task(2)
    def history(self):
        with self.client.get("/api/v1/predictions?page_size=20", name="history", catch_response=True) as r:
            judged("history", r, refused_ok=False)

    @task(1)
    def upload(self):
        file = csv_file([(i, RNG.choice(REVIEWS)[:300]) for i in range(20)])
        with self.client.post("/api/v1/csv", files={"file": ("reviews.csv", file, "text/csv")}, name="csv upload",
                              catch_response=True) as r:  # fmt: skip
            judged("csv", r, refused_ok=False)
        if r.ok:
            with self.client.get(f"/api/v1/csv/{r.json()['id']}", name="csv progress", catch_response=True) as p:
                judged("csv progress", p, refused_ok=False)

    @task(1)
    def why(self):
        if not self.explained:
            return
        prediction = self.explained[0]
        with self.client.get(f"/api/v1/predictions/{prediction}/explanation", name="explanation",
                             catch_response=True) as r:  # fmt: skip
            judged("explanation", r, refused_ok=False)  # 200 with the words, or 202 while a worker works
            if r.status_code == 200:
                self.explained.pop(0)


class Abusive(HttpUser):
    """As fast as the site answers: the limits, not the client, must bound what it costs."""

    weight = 2
    wait_time = constant(0.2)

    def on_start(self):
        self.me = next(ABUSIVE)
        self.client.headers["X-Forwarded-For"] = next(ADDRESSES)
        self.spelling = itertools.cycle(SPELLINGS)
        self.signed_in = False

    def headers(self) -> dict:
        return {"Authorization": next(self.spelling).format(self.me["key"])}

    @task(5)
    def header_spellings(self):
        with self.client.post("/api/v1/classify", json={"text": RNG.choice(REVIEWS)}, headers=self.headers(),
                              name="abuse: one key, every spelling", catch_response=True) as r:  # fmt: skip
            judged("one key, every spelling", r, refused_ok=True)

    @task(1)
    def oversized(self):
        body = json.dumps({"text": "x" * 3_000_000})
        with self.client.post("/api/v1/classify", data=body, headers={**self.headers(), "Content-Type":
                              "application/json"}, name="abuse: 3 MB body", catch_response=True) as r:  # fmt: skip
            judged("3 MB body", r, refused_ok=True)

    @task(1)
    def past_the_quota(self):
        file = csv_file([(i, "a wide review that fills the quota " * 40) for i in range(400)])  # about 560 KB
        with self.client.post("/api/v1/csv", files={"file": ("big.csv", file, "text/csv")}, headers=self.headers(),
                              name="abuse: uploads past the quota", catch_response=True) as r:  # fmt: skip
            judged("uploads past the quota", r, refused_ok=True)

    @task(2)
    def explanation_flood(self):
        prediction = RNG.choice(self.me["predictions"])
        with self.client.get(f"/api/v1/predictions/{prediction}/explanation", headers=self.headers(),
                             name="abuse: explanation flood", catch_response=True) as r:  # fmt: skip
            judged("explanation flood", r, refused_ok=True)

    @task(1)
    def many_keys(self):
        if not self.signed_in:
            page = self.client.get("/accounts/login/", name="abuse: sign in")
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
            self.client.post("/accounts/login/", data={"username": self.me["username"], "password":
                             self.me["password"], "csrfmiddlewaretoken": token}, name="abuse: sign in")  # fmt: skip
            self.signed_in = True
        csrf = self.client.cookies.get("csrftoken", "")
        with self.client.post("/api/v1/keys", json={"name": "one more"}, headers={"X-CSRFToken": csrf},
                              name="abuse: many keys", catch_response=True) as r:  # fmt: skip
            judged("many keys", r, refused_ok=True)
        with self.client.post("/api/v1/keys", json={"name": "minted by a key"}, headers=self.headers(),
                              name="abuse: a key minting keys", catch_response=True) as r:  # fmt: skip
            judged("a key minting keys", r, refused_ok=True)
