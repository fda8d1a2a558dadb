"""The compose stack scaled out, run for real, as an operator would grow it: ``make scale-check``.

Two web replicas behind the proxy, two training workers (CPU override) and two default workers, one beat.
Needs a Docker engine with Compose 2.24 or newer; takes about a quarter of an hour on a 2-core machine once
the images are built (most of it is the two training runs). Like ``make compose-check`` it works on a copy
of the project's files in a temporary folder, under its own compose project name (``sentiment-scale``)
and ports, so a stack of yours, or compose-check's, is left alone. In order:

1. ``.env`` as compose-check writes it, plus a short ``TRAINING_HEARTBEAT_TIMEOUT`` (60 s) and
   ``SWEEP_INTERVAL`` (15 s), so that a dead worker's run is handed back within a minute or two, and rate
   limits high enough that 1,000 requests from one address and key are never refused;
2. ``up --wait --scale web=2 --scale worker=2 --scale worker-default=2``: exactly those replicas and one
   beat, all healthy; the Celery workers answering a ping are ``training@sentiment-scale-worker-1`` and
   ``-2``, ``default@sentiment-scale-worker-default-1`` and ``-2``: each named after its container;
   HTTPS through the proxy as compose-check checks it;
3. two short runs (A and B: the smoke recipe on 800 reviews, a checkpoint every 10 steps) are launched
   together through ``run_launch``, the service of the launch page and API v1 (the administrator is made
   directly: ``make compose-check`` checks ``bootstrap``). Both train at once, one on each training worker;
4. once run A has a complete checkpoint, its worker's container is killed (SIGKILL, its restart policy
   set to "no" first): a crash, not a hand-back. The sweep hands the run back after the heartbeat
   timeout, and it finishes on the other worker, resumed from the checkpoint, interrupted once; no other
   worker took it before the hand-back, each worker claimed it once (their logs), and run B succeeds;
5. the killed container is started again and answers under the same Celery name;
6. the sweep ran about once per ``SWEEP_INTERVAL`` over the whole check, not once per default worker;
7. run A is promoted; 1,000 API classifications through the proxy, from 4
   threads, while one web replica is restarted (after 150 answers): every answer 2xx, and both replicas
   answered some (their request log lines);
8. run B is promoted once: each web replica, asked directly, answers with it within two minutes;
9. how many PostgreSQL connections each container holds (reported: the database bounds the replicas);
10. ``down -v`` (always, unless ``KEEP_STACK=1``).

Environment: ``COMPOSE_FILE`` (default ``docker-compose.yml:docker-compose.cpu.yml``), ``TORCH_INDEX_URL``,
``SCALE_HTTP_PORT`` and ``SCALE_HTTPS_PORT`` (28080 and 28443), ``KEEP_STACK``. Prints a JSON summary:
timings, the requests' figures, the workers.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sentiment.jobs import SWEEP, TRAIN_RUN
from tests.deploy.compose_smoke import REVIEW, Smoke, project_copy
from tests.waiting import wait_for

SCALE = {"web": 2, "worker": 2, "worker-default": 2}
HEARTBEAT_TIMEOUT, SWEEP_INTERVAL = 60, 15  # seconds
SETTINGS = {
    "TRAINING_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT),
    "SWEEP_INTERVAL": str(SWEEP_INTERVAL),
    # one address, one key, one person send all 1,000 requests: none of them is to be refused
    **{name: "100000/m" for name in ("RATE_LIMIT_IP", "RATE_LIMIT_API_KEY", "RATE_LIMIT_PERSON")},
}
LOAD_REQUESTS, LOAD_THREADS, RESTART_AFTER = 1000, 4, 150
ENDED = ("succeeded", "failed", "cancelled")
# runs A and B: the smoke recipe at 50 steps (800 reviews, batch 16), a checkpoint every 10, scored on 300
# reviews, its serving check on 200: minutes each on two shared CPU cores (compose-check trains the full smoke run)
SHORT_RUN = {
    "preset": "smoke", "max_train_examples": "800", "max_test_examples": "300", "save_steps": "10",
    "serving_check_reviews": "200",
}  # fmt: skip
LAUNCH_TWO = (
    "from django.contrib.auth import get_user_model; from sentiment.forms import TrainingLaunchForm; "
    "from sentiment.services.accounts import admin_user_ensure; from sentiment.services.launch import run_launch; "
    "admin, _, _ = admin_user_ensure(username='admin'); runs = []\n"
    "for _ in range(2):\n"
    f"    form = TrainingLaunchForm({SHORT_RUN!r}); assert form.is_valid(), form.errors.as_json()\n"
    "    runs.append(run_launch(user=admin, form=form, launched_from='command').pk)\n"
    "print(*runs)"
)
PROMOTE = (
    "from django.contrib.auth import get_user_model; from sentiment.models import TrainingRun; "
    "from sentiment.services.promotions import training_run_promote; "
    "training_run_promote(run=TrainingRun.objects.get(pk={run_id}), "
    "user=get_user_model().objects.get(username='admin'), "
    "reason='The scale check: promoted once, to be answered by every web replica.')"
)
# the runs as PostgreSQL has them (sentiment.TrainingRun's table), with the worker that holds each
RUNS_SQL = (
    "select coalesce(json_agg(r order by r.id), '[]') from (select id, status, worker, interruptions, step, "
    "output_dir, metrics->>'resumed_from' as resumed_from from sentiment_trainingrun) r"
)
CHECKPOINT = (
    "from ml.training.checkpoints import latest_complete_checkpoint; "
    "print(latest_complete_checkpoint({folder!r}) or '')"
)


@dataclass(frozen=True)
class Answer:
    status: int  # 0: no HTTP answer at all
    seconds: float
    error: str = ""


def log_events(container: str) -> list[dict]:
    """A container's log lines that are JSON objects (the stack logs so, LOG_FORMAT=json), parsed; what else
    a process printed is left out. ``docker logs`` keeps a container's lines across its restarts."""
    logged = subprocess.run(["docker", "logs", container], capture_output=True, text=True, timeout=120)
    events = []
    for line in (logged.stdout + logged.stderr).splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                events.append(json.loads(line))
    return events


def epoch(event: dict) -> float:
    """When a line was logged, in seconds since 1970 (its ISO time, UTC), to compare with this host's clock:
    containers read the same clock."""
    return datetime.fromisoformat(event["timestamp"]).timestamp()


def replica_question(key: str, times: int) -> str:
    """A script for one web replica's own Python: ``times`` classifications asked of its gunicorn directly
    (past the proxy, which would pick the replica), printing the run that gave each answer. The header
    says HTTPS, as the proxy's would; the key comes on standard input, never on a command line."""
    return (
        "import json, urllib.request\n"
        f"key, text = {key!r}, {REVIEW!r}\n"
        "headers = {'Authorization': 'Bearer ' + key, 'Content-Type': 'application/json', "
        "'X-Forwarded-Proto': 'https'}\n"
        "runs = []\n"
        f"for n in range({times}):\n"
        "    body = json.dumps({'text': f'{text} ({n})'}).encode()\n"
        "    request = urllib.request.Request('http://127.0.0.1:8000/api/classify', body, headers)\n"
        "    with urllib.request.urlopen(request, timeout=30) as answer:\n"
        "        runs.append(json.load(answer)['run'])\n"
        "print(json.dumps(runs))\n"
    )


class ScaleCheck(Smoke):
    project = "sentiment-scale"
    http_port = int(os.environ.get("SCALE_HTTP_PORT", "28080"))
    https_port = int(os.environ.get("SCALE_HTTPS_PORT", "28443"))
    scale = tuple(arg for service, count in SCALE.items() for arg in ("--scale", f"{service}={count}"))

    def __init__(self, folder: Path):
        super().__init__(folder)
        self.figures: dict[str, dict] = {}

    # --- helpers ---------------------------------------------------------------------------------
    def docker(self, *args: str, check: bool = True, timeout: float = 300, stdin: str | None = None):
        """Plain docker, for what compose does not do to one replica: kill, update, restart, exec, inspect."""
        result = subprocess.run(["docker", *args], input=stdin, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
        return result

    def runs(self) -> dict[int, dict]:
        """Every run's row, read in PostgreSQL itself: cheap enough to ask each second while two runs train
        (``manage.py shell`` takes seconds of a busy CPU), and it shows the worker, which no page does."""
        asked = self.compose("exec", "-T", "postgres", "psql", "-U", "sentiment", "-d", "sentiment", "-Atc", RUNS_SQL)
        return {row["id"]: row for row in json.loads(asked.stdout.strip() or "[]")}

    def health(self, container: str) -> str:
        return self.docker("inspect", "-f", "{{.State.Health.Status}}", container).stdout.strip()

    def celery_names(self, *only: str) -> set[str]:
        """The Celery workers that answer a ping, asked from a default worker as any client of the broker
        would (a training worker busy with a run answers nothing: its one process trains)."""
        ask = ["exec", "-T", "worker-default", "celery", "-A", "worker", "inspect", "ping", "--json", "--timeout", "10"]
        if only:
            ask += ["--destination", ",".join(only)]
        answered = self.compose(*ask, check=False, timeout=120)
        replies = [line for line in answered.stdout.splitlines() if line.startswith("{")]
        return set(json.loads(replies[-1])) if replies else set()

    def claims(self, run_id: int) -> list[tuple[float, str]]:
        """When and on which training worker a delivery of the run's task claimed it, from every training
        worker's log: the task started there (its ``task_started`` line names the run) and did not find
        the run taken or ended (``training_run_supervise`` logs "run N is not claimable" then)."""
        found = []
        for container in self.names["worker"]:
            events = log_events(container)
            started = {e["task_id"]: epoch(e) for e in events if e.get("message") == "task_started"
                       and e.get("task") == TRAIN_RUN and e.get("run_id") == run_id}  # fmt: skip
            skipped = {
                e.get("task_id") for e in events if str(e.get("message")).startswith(f"run {run_id} is not claimable")
            }
            found += [(at, container) for task_id, at in started.items() if task_id not in skipped]
        return sorted(found)

    def replica_runs(self, container: str) -> list[int]:
        """The runs that gave a few answers of this web replica, asked of it directly."""
        question = replica_question(self.key, times=6)
        return json.loads(self.docker("exec", "-i", container, "python", "-", stdin=question).stdout)

    def proxy_errors(self) -> Counter:
        """What the proxy said about the requests it could not answer well (its error log lines), counted."""
        errors = [e for e in log_events(f"{self.project}-proxy-1") if e.get("level") == "error"]
        return Counter(f"{e.get('msg')}: {str(e.get('error') or e.get('err') or '')[:200]}" for e in errors)

    def answered_by(self) -> Counter:
        """Each web replica's answers to classifications, by status (its request log lines): a failure the
        proxy passed on shows here with the replica that gave it; one the proxy made itself does not."""
        return Counter(
            (container, e.get("status"))
            for container in self.names["web"]
            for e in log_events(container)
            if e.get("message") == "request_finished" and e.get("path") == "/api/classify"
        )

    def classified(self) -> dict[str, int]:
        """How many classifications each web replica answered, by its own request lines (one a request,
        webapp/request_log.py)."""
        return {
            container: sum(1 for e in log_events(container)
                           if e.get("message") == "request_finished" and e.get("path") == "/api/classify")
            for container in self.names["web"]
        }  # fmt: skip

    # --- the steps -------------------------------------------------------------------------------
    def configure(self) -> None:
        super().configure()
        with (self.folder / ".env").open("a") as env:
            env.write("".join(f"{name}={value}\n" for name, value in SETTINGS.items()))

    def up(self) -> None:
        super().up()  # build, up --wait with the replicas, only the proxy publishes ports
        self.window_start = time.time()  # the sweeps are counted from here (sweep_once_per_interval)
        replicas: dict[str, list[dict]] = {}
        for line in self.compose("ps", "--format", "json").stdout.splitlines():
            container = json.loads(line)
            replicas.setdefault(container["Service"], []).append(container)
        wanted = {**SCALE, "beat": 1}
        counted = {service: len(replicas.get(service, [])) for service in wanted}
        assert counted == wanted, counted
        self.names = {service: sorted(c["Name"] for c in replicas[service]) for service in wanted}
        for service, count in wanted.items():
            assert self.names[service] == [f"{self.project}-{service}-{n}" for n in range(1, count + 1)], self.names
            for container in replicas[service]:
                assert (container["State"], container["Health"]) == ("running", "healthy"), container
        self.workers = {f"training@{name}" for name in self.names["worker"]}
        self.workers |= {f"default@{name}" for name in self.names["worker-default"]}
        wait_for(lambda: self.celery_names() == self.workers, 120, f"Celery workers {sorted(self.workers)}", interval=3)
        self.say(f"2 web, 2 training and 2 default workers, 1 beat; Celery names {sorted(self.workers)}")

    def launch_two_runs(self) -> None:
        """Runs A and B, launched together as staff would launch them on the launch page."""
        self.run_a, self.run_b = map(int, self.manage("shell", "-c", LAUNCH_TWO).strip().splitlines()[-1].split())
        launched = time.monotonic()
        both = wait_for(
            lambda: (rows := self.runs()) and all(rows[r]["step"] > 0 for r in (self.run_a, self.run_b)) and rows,
            600,
            "runs A and B both training",
            interval=2,
        )
        a, b = both[self.run_a], both[self.run_b]
        assert (a["status"], b["status"]) == ("running", "running"), (a, b)
        assert {a["worker"], b["worker"]} == {f"training@{name}" for name in self.names["worker"]}, (a, b)
        self.worker_x, self.worker_y = a["worker"], b["worker"]
        self.timings["both_training_after_launch"] = round(time.monotonic() - launched, 1)
        self.say(f"run A #{self.run_a} trains on {a['worker']}, run B #{self.run_b} on {b['worker']}, at once")

    def kill_worker_mid_run(self) -> None:
        """The worker holding run A dies as a crash would leave it: SIGKILL, its training child with it (the
        child dies with its parent), nothing handed back. Its restart policy is set to "no" first, so that
        nothing brings it back before the sweep has to act."""
        folder = f"{self.runs()[self.run_a]['output_dir']}/checkpoints"
        ask = CHECKPOINT.format(folder=folder)
        checkpoint = wait_for(
            lambda: self.compose("exec", "-T", "web", "python", "-c", ask).stdout.strip(),
            900,
            "a complete checkpoint of run A",
            interval=5,
        )
        row = self.runs()[self.run_a]
        assert row["status"] == "running" and row["worker"] == self.worker_x, row
        self.container_x = self.worker_x.split("@", 1)[1]
        self.docker("update", "--restart=no", self.container_x)
        self.killed_at = time.time()
        self.docker("kill", self.container_x)  # SIGKILL
        state = ["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", self.container_x]
        wait_for(lambda: self.docker(*state).stdout.split() == ["exited", "137"], 30, f"{self.container_x} dead")
        self.figures["run_a"] = {"killed_at_step": row["step"], "checkpoint": Path(checkpoint).name}
        self.say(f"{self.container_x} killed at run A's step {row['step']} ({Path(checkpoint).name} complete)")

    def follow_run_a(self) -> list[dict]:
        """Run A's row each second or so from the kill until it ends: who held it, and when."""
        samples: list[dict] = []

        def ended():
            samples.append({**self.runs()[self.run_a], "at": time.time()})
            return samples[-1]["status"] in ENDED

        wait_for(ended, 1800, "run A ending after its worker was killed", interval=1)
        return samples

    def handed_back_once(self, samples: list[dict]) -> None:
        """Until the hand-back the run stays RUNNING on the dead worker: nobody else trains it meanwhile.
        The sweep hands it back once its heartbeat is older than the timeout, and from then on only the other
        worker holds it, which finishes it from the checkpoint."""
        held = [s for s in samples if s["interruptions"] == 0]
        after = [s for s in samples if s["interruptions"] > 0]
        assert held and after, samples[-1]
        assert all((s["status"], s["worker"]) == ("running", self.worker_x) for s in held), held
        assert {s["interruptions"] for s in after} == {1}, after[-1]
        assert {s["status"] for s in after} <= {"interrupted", "running", "succeeded"}, after[-1]
        again = [s for s in after if s["status"] != "interrupted"]
        assert again and all(s["worker"] == self.worker_y for s in again), again[:3]
        done = samples[-1]
        assert done["status"] == "succeeded" and "checkpoint-" in (done["resumed_from"] or ""), done
        training = next((s for s in again if s["step"] != again[0]["step"]), done)
        self.handback_lower = held[-1]["at"]  # the last moment the dead worker was seen holding it
        for name, sample in (("handed_back", after[0]), ("claimed_by_other", again[0]), ("training_again", training),
                             ("run_a_finished", done)):  # fmt: skip
            self.timings[f"kill_to_{name}"] = round(sample["at"] - self.killed_at, 1)
        handed = self.timings["kill_to_handed_back"]
        assert HEARTBEAT_TIMEOUT - 5 <= handed <= HEARTBEAT_TIMEOUT + 2 * SWEEP_INTERVAL + 30, handed
        self.figures["run_a"]["resumed_from"] = Path(done["resumed_from"]).name
        self.say(
            f"run A handed back {handed} s after the kill; finished on {self.worker_y} from {done['resumed_from']}"
        )

    def claimed_once_each(self) -> None:
        """The workers' own logs agree: run A was claimed by the dead worker before the kill and by the other
        only after the hand-back, once each; run B once, by the worker that trained it. Deliveries that
        found the run taken or ended (a sweep may send an unclaimed run again) claim nothing."""
        a, b = self.claims(self.run_a), self.claims(self.run_b)
        container_y = self.worker_y.split("@", 1)[1]
        assert [where for _, where in a] == [self.container_x, container_y], a
        assert a[0][0] < self.killed_at <= self.handback_lower <= a[1][0], (a, self.killed_at, self.handback_lower)
        assert [where for _, where in b] == [container_y], b
        row = self.runs()[self.run_b]
        assert (row["status"], row["worker"], row["interruptions"]) == ("succeeded", self.worker_y, 0), row
        self.say("each worker claimed run A once, the second only after the hand-back; run B succeeded")

    def killed_worker_rejoins(self) -> None:
        """Started again, the killed container answers under its old name (worker/name.py), and takes its
        restart policy back."""
        assert self.docker("inspect", "-f", "{{.State.Status}}", self.container_x).stdout.strip() == "exited"
        begin = time.monotonic()
        self.docker("start", self.container_x)
        self.docker("update", "--restart=unless-stopped", self.container_x)
        wait_for(lambda: self.celery_names(self.worker_x) == {self.worker_x}, 180, f"{self.worker_x} again", interval=3)
        self.timings["killed_worker_rejoined"] = round(time.monotonic() - begin, 1)
        assert self.celery_names() == self.workers
        self.say(f"{self.container_x} started again; it answers as {self.worker_x}")

    def sweep_once_per_interval(self) -> None:
        """The one beat sends the sweep each SWEEP_INTERVAL, and each sweep runs on one default worker: over
        the stretch since the stack came up, about stretch/interval sweeps in all, not one per worker."""
        start, end = self.window_start, time.time()
        ran = []
        for container in self.names["worker-default"]:
            ran += [(e["task_id"], container) for e in log_events(container) if e.get("message") == "task_started"
                    and e.get("task") == SWEEP and start <= epoch(e) < end]  # fmt: skip
        sent = [e for e in log_events(self.names["beat"][0])
                if "Sending due task sweep" in str(e.get("message")) and start <= epoch(e) < end]  # fmt: skip
        expected = (end - start) / SWEEP_INTERVAL
        assert len({task for task, _ in ran}) == len(ran), "a sweep ran twice"
        assert expected - 2 <= len(ran) <= expected + 1, (len(ran), expected)
        per_worker = dict(Counter(container for _, container in ran))
        self.figures["sweeps"] = {"seconds": round(end - start), "expected": round(expected, 1), "ran": len(ran),
                                  "sent_by_beat": len(sent), "per_worker": per_worker}  # fmt: skip
        self.say(f"sweeps: {self.figures['sweeps']}")

    def run_a_served(self) -> None:
        """Run A is promoted, the first model served; an API key for the load."""
        self.manage("shell", "-c", PROMOTE.format(run_id=self.run_a))
        counts = self.counts()
        assert (counts["served_run"], counts["promotions"]) == (self.run_a, 1), counts
        assert counts["served_model_on_disk"], counts
        self.key = self.manage("api_token", "admin", "--name", "scale check").strip().splitlines()[-1]
        answer = wait_for(lambda: (a := self.classify_api(self.key))["run"] == self.run_a and a, 120, "run A answers")
        self.say(f"run A promoted and served ({answer['runtime']}); an API key made")

    def classify_once(self, n: int) -> Answer:
        body = json.dumps({"text": f"{REVIEW} ({n})"}).encode()  # not the same review each time
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        begin = time.perf_counter()
        try:
            status, _, _ = self.https("/api/classify", body, headers)
            return Answer(status, time.perf_counter() - begin)
        except (OSError, http.client.HTTPException) as exc:  # no answer at all: reset, refused, timed out
            return Answer(0, time.perf_counter() - begin, repr(exc))

    def restart_replica(self, container: str) -> None:
        begin, answered = time.monotonic(), self.answered
        self.docker("restart", container)
        self.timings["web_replica_restart"] = round(time.monotonic() - begin, 1)
        self.figures["restart"] = {"after_answers": answered, "answers_while_restarting": self.answered - answered}

    def load_with_restart(self, replica: str) -> list[Answer]:
        """LOAD_REQUESTS classifications from LOAD_THREADS threads; once RESTART_AFTER are answered, the
        replica is restarted (``docker restart``: gunicorn's graceful stop, then a new start) beside them."""
        answers: list[Answer] = []
        self.answered, restart = 0, None
        begin = time.monotonic()
        with ThreadPoolExecutor(1) as side, ThreadPoolExecutor(LOAD_THREADS) as pool:
            for future in as_completed([pool.submit(self.classify_once, n) for n in range(LOAD_REQUESTS)]):
                answers.append(future.result())
                self.answered = len(answers)
                if self.answered == RESTART_AFTER:
                    restart = side.submit(self.restart_replica, replica)
            assert restart is not None
            restart.result()  # raises what the restart raised
        self.timings["load"] = round(time.monotonic() - begin, 1)
        return answers

    def restart_web_under_load(self) -> None:
        replica = self.names["web"][0]
        logged_before = self.classified()
        answers = self.load_with_restart(replica)
        failed = [a for a in answers if not 200 <= a.status < 300]
        assert not failed, (
            Counter(a.status for a in failed),
            [a.error for a in failed[:5]],
            self.proxy_errors(),
            self.answered_by(),
        )
        begin = time.monotonic()
        wait_for(lambda: self.health(replica) == "healthy", 180, f"{replica} healthy again", interval=2)
        self.timings["web_replica_healthy_after_load"] = round(time.monotonic() - begin, 1)
        logged = self.classified()
        per_replica = {container: logged[container] - logged_before[container] for container in logged}
        assert all(per_replica.values()) and sum(per_replica.values()) >= LOAD_REQUESTS, per_replica
        seconds = sorted(a.seconds for a in answers)
        self.figures["requests"] = {
            "sent": len(answers),
            "answered_2xx": len(answers) - len(failed),
            "p50_ms": round(statistics.median(seconds) * 1000, 1),
            "p95_ms": round(statistics.quantiles(seconds, n=20)[18] * 1000, 1),
            "slowest_ms": round(seconds[-1] * 1000, 1),
            "per_replica": per_replica,
            "threads": LOAD_THREADS,
            **self.figures.pop("restart"),
        }
        self.say(f"{LOAD_REQUESTS} requests, {replica} restarted among them: {self.figures['requests']}")

    def promote_b_once(self) -> None:
        """One promotion, and every replica answers with the new model: each web process notices it on its
        next request and loads it beside the old one (sentiment/services/serving.py)."""
        before = self.counts()["promotions"]
        self.manage("shell", "-c", PROMOTE.format(run_id=self.run_b))
        begin = time.monotonic()
        for container in self.names["web"]:
            answering = f"{container} answering with run B"
            wait_for(lambda c=container: set(self.replica_runs(c)) == {self.run_b}, 120, answering, interval=2)
        seconds = self.timings["promote_to_both_replicas_answer"] = round(time.monotonic() - begin, 1)
        counts = self.counts()
        assert (counts["promotions"], counts["served_run"]) == (before + 1, self.run_b), (before, counts)
        self.say(f"run B promoted once; both web replicas answer with it after {seconds} s")

    def database_connections(self) -> None:
        """How many PostgreSQL connections each container holds once the stack has worked (README, "Scaling
        out": the database's connection budget is what bounds the replicas)."""
        sql = "select coalesce(json_object_agg(a, n), '{}') from (select host(client_addr) a, count(*) n "
        sql += "from pg_stat_activity where datname = 'sentiment' and client_addr is not null group by 1) c"
        asked = self.compose("exec", "-T", "postgres", "psql", "-U", "sentiment", "-d", "sentiment", "-Atc", sql)
        by_address = json.loads(asked.stdout.strip())
        address = "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}"
        held = {}
        for containers in self.names.values():
            for container in containers:
                held[container] = by_address.get(self.docker("inspect", "-f", address, container).stdout.strip(), 0)
        self.figures["database_connections"] = {**held, "total": sum(by_address.values())}
        self.say(f"PostgreSQL connections: {self.figures['database_connections']}")


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="scale-check-"))
    project_copy(folder)
    check = ScaleCheck(folder)
    with check.stack():
        check.configure()
        check.up()
        check.https_is_right()
        check.launch_two_runs()
        check.kill_worker_mid_run()
        check.handed_back_once(check.follow_run_a())
        check.claimed_once_each()
        check.killed_worker_rejoins()
        check.sweep_once_per_interval()
        check.run_a_served()
        check.restart_web_under_load()
        check.promote_b_once()
        check.database_connections()
    check.timings["total"] = round(time.monotonic() - check.started, 1)
    summary = {"scale_check": "passed", "seconds": check.timings, "requests": check.figures.pop("requests")}
    print(json.dumps({**summary, "workers": sorted(check.workers), **check.figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
