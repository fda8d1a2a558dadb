"""Schemathesis against API v1's own schema on a running server: it reads ``/api/v1/openapi.json``, sends
requests generated from it (examples, boundary values, random valid and invalid data, sequences that follow
the links between operations) and checks every answer: no 5xx, every status and body as documented,
every request the schema forbids refused, every one it allows accepted, unsupported methods answered 405.

The fuzzer (pinned in requirements-fuzz-test.txt) lives in an environment of its own, created once per
checkout beside the project's, and runs there as a separate program, as any client of the API would. It
runs three passes: the operations for everyone with a person's API key; the staff operations (runs,
serving) with a staff key; last, the person's key management (list, create, revoke), signed in (keys are
made and revoked by the signed-in person, never with a key: the session's cookie and CSRF token), since
the stateful phase revokes the ids GET /keys lists, the person's key among them, which would leave every
later answer of a pass sent with it a 401. Used by tests/api_v1/test_api_fuzz.py, and by hand against any
server:

    python -m tests.api_v1.api_fuzzer --url http://127.0.0.1:8000 --key <a person's key> \\
        --staff-key <a staff key> --sessionid <the person's session> --csrftoken <its CSRF cookie>

Give keys whose ids are far above any the fuzzer tries (``keys_for_fuzzing`` makes them): it tries key
1, 2, ... and would revoke its own.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "requirements-fuzz-test.txt"
CONFIG = Path(__file__).with_name("schemathesis.toml")
STAFF_TAGS = ("runs", "serving")
REVOKE = "POST /api/v1/keys/{key_id}/revoke"
KEY_MANAGEMENT = ("GET /api/v1/keys", "POST /api/v1/keys", REVOKE)
# Each pass: the key it is sent with (``fuzz``'s keys), the operations it tests.
SIGNED_IN_ONLY = ("POST /api/v1/keys", REVOKE)
PASSES = {
    "person": ("person", [*(a for tag in STAFF_TAGS for a in ("--exclude-tag", tag)),
                          *(a for name in SIGNED_IN_ONLY for a in ("--exclude-name", name))]),
    "staff": ("staff", [arg for tag in STAFF_TAGS for arg in ("--include-tag", tag)]),
    "keys": ("signed_in", [arg for name in KEY_MANAGEMENT for arg in ("--include-name", name)]),
}  # fmt: skip


def fuzzer_env() -> Path:
    """The fuzzer's own virtual environment (kept in the project's, keyed by its pins); its schemathesis."""
    pins = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:10]
    env = Path(sys.prefix) / f"api-fuzzer-{pins}"
    program = env / "bin" / "schemathesis"
    if not program.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(env)], check=True)
        pip = [str(env / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "-r", str(REQUIREMENTS)], check=True)
    return program


def keys_for_fuzzing(*, person, staff) -> dict[str, list[str]]:
    """The headers of each pass: a person's key and a staff key, each with an id no fuzzer guesses (it tries
    small and boundary ids), and the person signed in (their session and its CSRF token)."""
    from django.middleware.csrf import _get_new_csrf_string
    from django.test import Client

    from sentiment.models import ApiToken
    from sentiment.services.api_tokens import api_token_create

    headers = {}
    for name, user, scope in (("person", person, "classify"), ("staff", staff, "staff")):
        key = api_token_create(user=user, name=f"API fuzzer ({name})", scope=scope)
        ApiToken.objects.filter(key_hash=ApiToken.hash_key(key)).update(id=10**9 + secrets.randbelow(10**9))
        headers[name] = [f"Authorization: Bearer {key}"]
    browser = Client()
    browser.force_login(person)
    headers["signed_in"] = session_headers(browser.cookies["sessionid"].value, _get_new_csrf_string())
    return headers


def session_headers(sessionid: str, csrftoken: str) -> list[str]:
    return [f"Cookie: sessionid={sessionid}; csrftoken={csrftoken}", f"X-CSRFToken: {csrftoken}"]


def fuzz(*, url: str, keys: dict[str, list[str]], examples: int, seed: int, out: Path, timeout: int = 1800) -> dict:
    """Every pass against ``url``; their reports and output in ``out``; the figures of the run."""
    program = fuzzer_env()
    out.mkdir(parents=True, exist_ok=True)
    figures = {"fuzzer": _version(program), "url": url, "examples_per_operation": examples, "seed": seed}
    for name, (key, selection) in PASSES.items():
        command = [
            str(program), "--config-file", str(CONFIG), "--no-color", "run", f"{url}/api/v1/openapi.json",
            *(arg for header in keys[key] for arg in ("--header", header)), *selection,
            "--checks", "all", "--max-examples", str(examples), "--seed", str(seed), "--workers", "1",
            "--report", "json,har", "--report-json-path", str(out / f"{name}.json"),
            "--report-har-path", str(out / f"{name}.har.json"),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=out)  # its cache too
        (out / f"{name}.txt").write_text(done.stdout + done.stderr)
        figures[name] = _figures(out / f"{name}.json", out / f"{name}.har.json", exit_code=done.returncode)
    for total in ("operations_tested", "test_cases", "requests", "server_errors"):
        figures[total] = sum(figures[name][total] for name in PASSES)
    figures["failures"] = [failure for name in PASSES for failure in figures[name]["failures"]]
    return figures


def _version(program: Path) -> str:
    return subprocess.run([str(program), "--version"], capture_output=True, text=True).stdout.strip()


def _figures(report: Path, har: Path, *, exit_code: int) -> dict:
    """What a pass did and found: from its JSON report, and every request and answer in its HAR file."""
    data = json.loads(report.read_text())
    entries = json.loads(har.read_text())["log"]["entries"]
    statuses = collections.Counter(entry["response"]["status"] for entry in entries)
    return {
        "exit_code": exit_code,
        "seconds": round(data["running_time"], 1),
        "operations_tested": data["operations"]["tested"],
        "test_cases": data["test_cases"]["generated"],
        "requests": sum(statuses.values()),
        "statuses": {str(status): count for status, count in sorted(statuses.items())},
        "server_errors": sum(count for status, count in statuses.items() if status >= 500),
        "phases": {phase: result["status"] for phase, result in data["phases"].items()},
        "failures": [
            {"code": f["code"], "title": f["title"], "operations": f["operations"], "count": f["count"]}
            for f in data["failures"]
        ],
        "errors": data["errors"],
        "warnings": {name: found for name, found in data["warnings"].items() if found},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--key", required=True, help="a person's API key")
    parser.add_argument("--staff-key", required=True, help="a staff API key")
    parser.add_argument("--sessionid", required=True, help="the person's session cookie (signed in on the site)")
    parser.add_argument("--csrftoken", required=True, help="that browser's csrftoken cookie")
    parser.add_argument("--examples", type=int, default=100, help="most test cases per operation and phase")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reports", default="api-fuzz-reports", help="folder for the fuzzer's reports")
    parser.add_argument("--out", help="also write the figures (JSON) here")
    args = parser.parse_args()
    keys = {
        "person": [f"Authorization: Bearer {args.key}"],
        "staff": [f"Authorization: Bearer {args.staff_key}"],
        "signed_in": session_headers(args.sessionid, args.csrftoken),
    }
    figures = fuzz(url=args.url.rstrip("/"), keys=keys, examples=args.examples, seed=args.seed,
                   out=Path(args.reports).resolve())  # fmt: skip
    text = json.dumps(figures, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    sys.exit(1 if figures["failures"] or figures["server_errors"] else 0)


if __name__ == "__main__":
    main()
