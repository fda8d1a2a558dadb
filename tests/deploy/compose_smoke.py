"""The compose stack, run for real, as a new user and an operator would: ``make compose-check``.

Needs a Docker engine with Compose 2.24 or newer; takes about a quarter of an hour on a 2-core machine.
It works on a copy of the project's files (tracked and new ones, as ``git`` lists them) in a temporary
folder, under its own compose project name, so a stack or ``.env`` of yours is left alone. In order:

1. an unedited ``.env.example`` copied to ``.env`` refuses to start, with a one-line reason;
2. the images build, and ``up --wait`` brings every service to healthy; only the proxy publishes ports;
3. plain HTTP is redirected to HTTPS; the certificate is verified against the proxy's local authority;
   the health check, HSTS, the request-body limit, and a client's forged ``X-Forwarded-Proto``;
4. ``manage.py bootstrap`` creates the administrator and launches the first-model run through the queue;
5. headless Chromium signs in over HTTPS and watches the run's page;
6. once the run has a checkpoint, the training worker's container is recreated: the run must be
   training again, resumed from that checkpoint, within a minute;
7. the run is promoted when it succeeds; the browser classifies a review, and so does the API with a key,
   answered on the runtime the run's serving check chose (PyTorch in the web container only if it serves);
8. PostgreSQL, then Redis, stopped and started: the web, then the worker, report unhealthy, then recover;
9. ``restart``, then ``down`` and ``up`` again: every row, the served model and the key are kept;
10. ``down -v`` (always, unless ``KEEP_STACK=1``).

Environment: ``COMPOSE_FILE`` (default ``docker-compose.yml:docker-compose.cpu.yml``; relative names are
the project's files), ``TORCH_INDEX_URL`` (passed to the build), ``SMOKE_HTTP_PORT`` and
``SMOKE_HTTPS_PORT`` (18080 and 18443), ``SCREENSHOT_DIR``. Prints a JSON summary with the timings.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import secrets
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "sentiment-smoke"
HTTP_PORT = int(os.environ.get("SMOKE_HTTP_PORT", "18080"))
HTTPS_PORT = int(os.environ.get("SMOKE_HTTPS_PORT", "18443"))
ADMIN_PASSWORD = secrets.token_urlsafe(16)
REVIEW = "A moving, beautifully acted film with a superb score. I loved every minute of it."
COUNTS = (
    "import json; from django.contrib.auth import get_user_model; "
    "from sentiment.models import ApiToken, Prediction, Promotion, TrainingRun; "
    "from sentiment.selectors.serving import served_model; "
    "from pathlib import Path; served = served_model(); print(json.dumps({"
    "'users': get_user_model().objects.count(), 'runs': TrainingRun.objects.count(), "
    "'promotions': Promotion.objects.count(), 'predictions': Prediction.objects.count(), "
    "'api_keys': ApiToken.objects.count(), 'served_run': served.run.pk if served else None, "
    "'served_model_on_disk': bool(served and Path(served.run.model_dir, 'model.safetensors').is_file())}))"
)


RUN = "from sentiment.models import TrainingRun; print(TrainingRun.objects"
CHOSEN_RUNTIME = (
    "from sentiment.selectors.serving import training_run_serving_runtime; from sentiment.models import TrainingRun; "
    "print(training_run_serving_runtime(run=TrainingRun.objects.get(pk={run_id})))"
)


class Smoke:
    # what a check of another stack beside this one changes (tests/deploy/scale_check.py)
    project = PROJECT
    http_port = HTTP_PORT
    https_port = HTTPS_PORT
    scale: tuple[str, ...] = ()  # more arguments for `up`: --scale web=2 ...

    def __init__(self, folder: Path):
        self.folder = folder
        self.started = time.monotonic()
        self.timings: dict[str, float] = {}
        files = os.environ.get("COMPOSE_FILE", "docker-compose.yml:docker-compose.cpu.yml").split(":")
        # the stack's settings come from the .env written here only: the caller's would win over it
        own = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", (folder / ".env.example").read_text(), re.M))
        self.env = {
            **{name: value for name, value in os.environ.items() if name not in own - {"COMPOSE_FILE"}},
            "COMPOSE_PROJECT_NAME": self.project,
            "COMPOSE_FILE": ":".join(str(folder / name) for name in files),  # absolute names stay as they are
        }
        self.shots = Path(os.environ.get("SCREENSHOT_DIR") or ROOT / "var" / "compose-smoke")
        self.shots.mkdir(parents=True, exist_ok=True)

    # --- helpers ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def stack(self):
        """Around the steps: a stack left by an earlier, killed check removed first; when a step fails, every
        container's state and the end of its log; the stack and the copy removed at the end (unless
        ``KEEP_STACK=1``, to look at it)."""
        self.compose("down", "-v", "--remove-orphans", check=False)
        try:
            yield
        except BaseException:
            print(self.compose("ps", "-a", check=False).stdout, file=sys.stderr)
            print(self.compose("logs", "--tail", "60", check=False).stdout[-20000:], file=sys.stderr)
            raise
        finally:
            if os.environ.get("KEEP_STACK") != "1":
                self.compose("down", "-v", "--remove-orphans", check=False)
                shutil.rmtree(self.folder, ignore_errors=True)

    @property
    def site(self) -> str:
        return f"https://localhost:{self.https_port}"

    def say(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:6.0f} s] {message}", flush=True)

    def compose(self, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
        result = subprocess.run(
            ["docker", "compose", *args], cwd=self.folder, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"docker compose {' '.join(args)} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
            )
        return result

    def timed(self, name: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
        begin = time.monotonic()
        result = self.compose(*args, **kwargs)
        self.timings[name] = round(time.monotonic() - begin, 1)
        self.say(f"{name}: {self.timings[name]} s")
        return result

    def manage(self, *args: str, service: str = "web") -> str:
        return self.compose("exec", "-T", service, "python", "manage.py", *args).stdout

    def counts(self) -> dict:
        return json.loads(self.manage("shell", "-c", COUNTS).strip().splitlines()[-1])

    def https(self, path: str, data: bytes | None = None, headers: dict | None = None):
        request = urllib.request.Request(f"{self.site}{path}", data=data, headers=headers or {})
        try:
            with urllib.request.urlopen(request, context=self.tls, timeout=30) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def classify_api(self, key: str) -> dict:
        body = json.dumps({"text": REVIEW}).encode()
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        status, _, answer = self.https("/api/classify", body, headers)
        assert status == 200, (status, answer[:500])
        return json.loads(answer)

    # --- the steps -------------------------------------------------------------------------------
    def unedited_env_refuses_to_start(self) -> None:
        shutil.copy(self.folder / ".env.example", self.folder / ".env")
        refused = self.compose("up", "-d", "--no-build", check=False, timeout=120)
        lines = [line for line in refused.stderr.splitlines() if line.strip()]
        assert refused.returncode != 0 and len(lines) == 1 and "SECRET_KEY" in lines[0], refused.stderr
        self.say(f"an unedited .env refuses to start: {lines[0]}")

    def configure(self) -> None:
        settings = {
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ADMIN_PASSWORD": ADMIN_PASSWORD,  # put in .env anyway, as a hurried operator would: no process keeps it
            "HTTP_PORT": str(self.http_port),
            "HTTPS_PORT": str(self.https_port),
            "TORCH_INDEX_URL": os.environ.get("TORCH_INDEX_URL", ""),
        }
        example = (self.folder / ".env.example").read_text()
        (self.folder / ".env").write_text(example + "".join(f"{k}={v}\n" for k, v in settings.items()))

    def up(self) -> None:
        self.timed("build", "build")
        self.timed("up_wait", "up", "-d", "--wait", "--wait-timeout", "600", *self.scale)
        published = set()
        for line in self.compose("ps", "--format", "json").stdout.splitlines():
            service = json.loads(line)
            if any(p.get("PublishedPort") for p in service.get("Publishers") or []):
                published.add(service["Service"])
        assert published == {"proxy"}, published
        self.say("every service healthy; only the proxy publishes ports")

    def https_is_right(self) -> None:
        root = self.folder / "proxy-root.crt"
        self.compose("cp", "proxy:/data/caddy/pki/authorities/local/root.crt", str(root))
        self.tls = ssl.create_default_context(cafile=str(root))  # verifies the chain and the host name

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        plain = f"http://localhost:{self.http_port}/accounts/login/"
        try:
            urllib.request.build_opener(NoRedirect).open(plain, timeout=10)
            raise AssertionError("plain HTTP was answered, not redirected")
        except urllib.error.HTTPError as redirect:
            assert redirect.code in (301, 302, 307, 308), redirect.code
            assert redirect.headers["Location"] == f"{self.site}/accounts/login/", redirect.headers["Location"]

        status, _, body = self.https("/healthz")
        assert status == 200 and json.loads(body)["healthy"], body
        status, headers, _ = self.https("/accounts/login/")
        assert status == 200 and "max-age=" in headers.get("Strict-Transport-Security", ""), headers
        assert "includeSubDomains" not in headers["Strict-Transport-Security"]  # opt-in
        status, _, _ = self.https("/accounts/login/", headers={"X-Forwarded-Proto": "http"})
        assert status == 200, status  # the proxy sets the header itself; a client's is not believed
        # a declared 13 MB body is refused before any of it is sent
        connection = http.client.HTTPSConnection("localhost", self.https_port, context=self.tls, timeout=30)
        connection.putrequest("POST", "/api/classify")
        connection.putheader("Content-Length", "13000000")
        connection.endheaders()
        assert connection.getresponse().status == 413
        connection.close()
        self.say("HTTP redirects to HTTPS; certificate verified; health, HSTS, body limit and forwarded header hold")

    def bootstrap(self) -> int:
        for service in ("web", "worker", "worker-default"):
            environment = self.compose("exec", "-T", service, "env").stdout
            assert "ADMIN_PASSWORD=\n" in environment and ADMIN_PASSWORD not in environment, service
        self.env["ADMIN_PASSWORD"] = ADMIN_PASSWORD  # for bootstrap alone: exec -e ADMIN_PASSWORD
        output = self.compose("exec", "-T", "-e", "ADMIN_PASSWORD", "web", "python", "manage.py", "bootstrap",
                              "--no-wait").stdout  # fmt: skip
        assert "Created the administrator 'admin' with the password from ADMIN_PASSWORD" in output, output
        self.run_id = int(output.split("Run #")[1].split()[0])
        self.say(f"bootstrap: {output.strip().splitlines()[-1][:100]}")
        again = self.manage("bootstrap", "--no-wait")  # idempotent: follows the same run
        assert f"Run #{self.run_id} " in again and self.counts()["runs"] == 1, again
        return self.run_id

    def progress(self) -> dict:
        response = self.page.request.get(f"{self.site}/runs/{self.run_id}/progress.json")
        assert response.ok, response.status
        return response.json()

    def sign_in(self, browser) -> None:
        context = browser.new_context(ignore_https_errors=True, viewport={"width": 1200, "height": 900})
        self.page = context.new_page()
        self.page.goto(f"{self.site}/accounts/login/")
        self.page.fill("input[name=username]", "admin")
        self.page.fill("input[name=password]", ADMIN_PASSWORD)
        self.page.click("button[type=submit], input[type=submit]")
        self.page.wait_for_selector("text=Sign out admin")
        assert self.page.url.startswith(self.site), self.page.url
        self.page.goto(f"{self.site}/runs/{self.run_id}/")
        self.page.screenshot(path=str(self.shots / "compose-run-page.png"), full_page=True)
        self.say("signed in over HTTPS in Chromium; the run's page shows")

    def recreate_worker_mid_run(self) -> None:
        checkpoints = f"{self.progress()['output_dir']}/checkpoints"
        complete = f"ls {checkpoints}/checkpoint-*/trainer_state.json"
        wait_for(
            lambda: self.compose("exec", "-T", "worker", "sh", "-c", complete, check=False).returncode == 0,
            900,
            "a first complete checkpoint",
            interval=5,
        )
        before = self.progress()
        assert before["status"] == "running", before["status"]
        begin = time.monotonic()
        self.timed("recreate_worker", "up", "-d", "--no-deps", "--force-recreate", "worker")
        wait_for(lambda: self.progress()["interruptions"] == 1, 120, "the run handed back", interval=1)
        wait_for(lambda: self.progress()["status"] == "running", 120, "the run claimed again", interval=1)
        self.timings["claimed_again_after"] = round(time.monotonic() - begin, 1)
        # training again: progress from the resumed process (which starts from the checkpoint's step)
        wait_for(lambda: self.progress()["step"] != before["step"], 120, "the run training again", interval=1)
        self.timings["resumed_after"] = round(time.monotonic() - begin, 1)
        assert self.timings["resumed_after"] < 60, self.timings["resumed_after"]
        self.say(
            f"worker recreated at step {before['step']}; run training again after {self.timings['resumed_after']} s"
        )

    def first_model_served(self) -> None:
        done = wait_for(lambda: (p := self.progress())["status"] in ("succeeded", "failed", "cancelled") and p, 1200,
                         "the first run ends", interval=5)  # fmt: skip
        assert done["status"] == "succeeded", (done["error"], done["log_tail"][-2000:])
        resumed = self.manage("shell", "-c", f"{RUN}.get(pk={self.run_id}).metrics.get('resumed_from'))")
        assert done["interruptions"] == 1 and "checkpoint-" in resumed, (done["interruptions"], resumed)
        counts = self.counts()
        assert counts["served_run"] == self.run_id and counts["served_model_on_disk"], counts
        self.timings["first_model_accuracy"] = done["test"]["accuracy"]
        self.page.goto(f"{self.site}/runs/{self.run_id}/")
        self.page.wait_for_selector("text=Succeeded")
        self.page.screenshot(path=str(self.shots / "compose-run-done.png"), full_page=True)
        self.page.goto(f"{self.site}/")
        self.page.fill("textarea[name=text]", REVIEW)
        self.page.click("main button[type=submit], main input[type=submit]")
        self.page.wait_for_selector("text=positive")
        self.page.screenshot(path=str(self.shots / "compose-classified.png"), full_page=True)
        self.key = self.manage("api_token", "admin", "--name", "compose smoke").strip().splitlines()[-1]
        answer = self.classify_api(self.key)
        assert answer["label"] == "positive", answer
        chosen = self.manage("shell", "-c", CHOSEN_RUNTIME.format(run_id=self.run_id)).strip().splitlines()[-1]
        assert answer["runtime"] == chosen, (answer, chosen)  # what the run's serving check chose
        # the web container's processes (gunicorn's master and workers) have PyTorch mapped only if it serves
        mapped = self.compose("exec", "-T", "web", "sh", "-c", "grep -l libtorch_cpu /proc/[0-9]*/maps || true")
        torch_in_web = bool(mapped.stdout.strip())
        assert torch_in_web == answer["runtime"].startswith("pytorch"), (answer["runtime"], mapped.stdout)
        self.say(
            f"run #{self.run_id} served (test accuracy {done['test']['accuracy']:.3f}) on {answer['runtime']}"
            f" (PyTorch in the web container: {'yes' if torch_in_web else 'no'}); page and API classify"
        )

    def outages_show_and_heal(self) -> None:
        """The database, then the broker, go away for a while: the health checks say so, then recover."""
        self.compose("stop", "postgres")
        status, _, body = self.https("/healthz")
        assert status == 503 and json.loads(body)["checks"]["database"].startswith("failed"), (status, body)
        self.compose("start", "postgres")
        wait_for(lambda: self.https("/healthz")[0] == 200, 120, "the site healthy again with its database")
        self.compose("stop", "redis")
        cut_off = self.compose("exec", "-T", "worker", "python", "-m", "worker.health", check=False)
        assert cut_off.returncode == 1 and "unhealthy: broker" in cut_off.stderr, cut_off.stderr
        self.compose("start", "redis")
        self.compose("up", "-d", "--wait", "--wait-timeout", "300")
        assert self.classify_api(self.key)["label"] == "positive"
        self.say("database and broker outages: web and worker unhealthy, then healthy again")

    def state_survives(self) -> None:
        before = self.counts()
        assert before["predictions"] >= 3 and before["api_keys"] == 1 and before["users"] == 1, before
        self.timed("restart", "restart")
        self.compose("up", "-d", "--wait", "--wait-timeout", "300")
        assert self.counts() == before and self.classify_api(self.key)["label"] == "positive"
        self.timed("down", "down")
        self.timed("up_again", "up", "-d", "--wait", "--wait-timeout", "300")
        after = self.counts()
        assert {**after, "predictions": after["predictions"] - 1} == before, (before, after)
        assert self.classify_api(self.key)["label"] == "positive"
        self.say(f"restart, down and up kept everything: {before}")


def project_copy(into: Path) -> None:
    """The project's files as git lists them (tracked and new, not ignored), without .env or var/."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)


def main() -> int:
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="compose-smoke-"))
    project_copy(folder)
    smoke = Smoke(folder)
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    with smoke.stack():
        smoke.unedited_env_refuses_to_start()
        smoke.configure()
        smoke.up()
        smoke.https_is_right()
        smoke.bootstrap()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            smoke.sign_in(browser)
            smoke.recreate_worker_mid_run()
            smoke.first_model_served()
            smoke.outages_show_and_heal()
            smoke.state_survives()
            browser.close()
    smoke.timings["total"] = round(time.monotonic() - smoke.started, 1)
    print(json.dumps({"compose_smoke": "passed", "seconds": smoke.timings, "screenshots": str(smoke.shots)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
