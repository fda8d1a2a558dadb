"""The Kubernetes manifests (deploy/kubernetes) without a cluster: each overlay is rendered by kustomize
(``kubectl kustomize``: tests/services.sh installs kubectl; these tests fail, never skip, without it), every
object it makes is valid against the API schemas of one Kubernetes version (kubernetes-validate, strict: a
misspelt field fails too), and the workloads run what the compose stack runs, with the settings, probes,
volumes and grace periods the project relies on. The compose file, the settings and the worker's code are
read, not copied, so that a change there that the manifests do not follow fails here."""

import base64
import functools
import inspect
import re
import shlex
import shutil
import subprocess
from urllib.parse import urlsplit

import kubernetes_validate
import yaml

from tests.deploy.commands import argv
from tests.deploy.test_deployment import ROOT, env_example, load, settings_variables

# Every object is checked against this version's schemas: the oldest Kubernetes the manifests claim to suit.
KUBERNETES_VERSION = "1.33"
KUSTOMIZE = ROOT / "deploy" / "kubernetes"
OVERLAYS = ("cpu", "gpu")
GPU = "nvidia.com/gpu"
WORKLOADS = ("Deployment", "StatefulSet", "Job")
# Values with a password in them, or that are one: the Secret's, never the ConfigMap's.
SECRET_NAMES = {
    *("SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL"),
    *("EMAIL_HOST_PASSWORD", "METRICS_TOKEN", "OTEL_EXPORTER_OTLP_HEADERS"),
}
# What the settings cannot do without in a cluster, whatever their defaults: the production settings refuse to
# start without a key, and the defaults (SQLite in the pod, Redis on 127.0.0.1, localhost alone) would start a
# site that serves no one. The test derives what is required (below); this is the floor it may not fall under.
REQUIRED_AT_LEAST = {"SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "ALLOWED_HOSTS"}


@functools.cache
def rendered(overlay: str) -> tuple[dict, ...]:
    """The overlay as kustomize builds it. Cached; a failure is not, so each test that needs it fails."""
    kubectl = shutil.which("kubectl")
    assert kubectl, (
        "kubectl is missing: it renders deploy/kubernetes (kubectl kustomize). Install it with apt-get install "
        "kubectl where apt has it, else Debian's kubernetes-client package, or from "
        "https://kubernetes.io/docs/tasks/tools/ (tests/services.sh installs it for make test)"
    )
    result = subprocess.run(
        [kubectl, "kustomize", str(KUSTOMIZE / "overlays" / overlay)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"kubectl kustomize overlays/{overlay} failed:\n{result.stderr}"
    return tuple(document for document in yaml.safe_load_all(result.stdout) if document)


def find(objects, kind: str, name: str) -> dict:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{len(found)} {kind} named {name} (a reference kustomize did not follow?)"
    return found[0]


def of_kind(objects, kind: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind]


def pod_containers(workload: dict) -> list[dict]:
    spec = workload["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def any_command(command: list[str]) -> bool:
    return True


def running(objects, predicate=any_command) -> list[tuple[dict, dict]]:
    """(workload, container) for each container whose command satisfies the predicate."""
    return [
        (workload, container)
        for workload in objects
        if workload["kind"] in WORKLOADS
        for container in pod_containers(workload)
        if predicate(argv(container.get("command", []) + container.get("args", [])))
    ]


def celery_worker(queue: str):
    def serves(command: list[str]) -> bool:
        if command[:4] != ["celery", "-A", "worker", "worker"] or "-Q" not in command:
            return False
        return queue in command[command.index("-Q") + 1].split(",")

    return serves


def the_one(objects, predicate, what: str) -> tuple[dict, dict]:
    found = running(objects, predicate)
    assert len(found) == 1, f"{what}: {len(found)} containers run it"
    return found[0]


def web(objects) -> tuple[dict, dict]:
    return the_one(objects, lambda command: command[:1] == ["gunicorn"], "the web server")


def training_worker(objects) -> tuple[dict, dict]:
    return the_one(objects, celery_worker("training"), "the training worker")


def of_kind_selecting(objects, labels: dict) -> list[dict]:
    """The Services whose selector picks pods with these labels."""
    return [s for s in of_kind(objects, "Service") if s["spec"].get("selector", {}).items() <= labels.items()]


def settings_of(objects) -> tuple[dict[str, str], dict[str, str]]:
    """The ConfigMap's and the Secret's values (decoded) of the settings, found by what the web reads."""
    _, container = web(objects)
    config, secret = {}, {}
    for source in container["envFrom"]:
        if "configMapRef" in source:
            config |= find(objects, "ConfigMap", source["configMapRef"]["name"]).get("data", {})
        else:
            found = find(objects, "Secret", source["secretRef"]["name"])
            secret |= {k: base64.b64decode(v).decode() for k, v in found.get("data", {}).items()}
            secret |= found.get("stringData", {})
    return config, secret


def provided(objects, container: dict) -> set[str]:
    """The names of the environment variables a container gets: its own, and its ConfigMaps' and Secrets'."""
    names = {variable["name"] for variable in container.get("env", [])}
    for source in container.get("envFrom", []):
        kind, ref = ("ConfigMap", "configMapRef") if "configMapRef" in source else ("Secret", "secretRef")
        found = find(objects, kind, source[ref]["name"])
        names |= set(found.get("data", {})) | set(found.get("stringData", {}))
    return names


def compose_web_commands() -> tuple[list[str], list[str]]:
    """The compose web service's two commands: the migrations, then gunicorn (``sh -c "... && exec ..."``)."""
    command = load("docker-compose.yml")["services"]["web"]["command"]
    assert command[:2] == ["sh", "-c"], command
    migrate, serve = (shlex.split(part) for part in command[2].split("&&"))
    assert serve[0] == "exec", serve
    return migrate, serve[1:]


def seconds(duration: str | int) -> float:
    """A compose duration (60s, 1m30s) in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", str(duration))
    assert parts, duration
    return sum(float(value) * units[unit] for value, unit in parts)


def test_every_object_of_each_overlay_is_valid_for_the_named_kubernetes_version():
    for overlay in OVERLAYS:
        objects = rendered(overlay)
        kinds = {o["kind"] for o in objects}
        assert {*WORKLOADS, "Service", "Ingress", "PodDisruptionBudget", "PersistentVolumeClaim"} <= kinds, kinds
        assert {"ConfigMap", "Secret"} <= kinds, kinds
        invalid = []
        for o in objects:
            try:
                kubernetes_validate.validate(o, KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.ValidationError as error:
                where = ".".join(str(part) for part in error.path)
                invalid.append(f"{overlay}: {o['kind']} {o['metadata']['name']}: {where}: {error.message}")
        assert not invalid, "\n".join(invalid)


def test_each_overlay_names_the_image_once_and_every_container_runs_it():
    """The manifests say the compose stack's image name; the overlay's images: entry says where it is."""
    compose_image = load("docker-compose.yml")["services"]["web"]["image"].split(":")[0]
    for overlay in OVERLAYS:
        kustomization = yaml.safe_load((KUSTOMIZE / "overlays" / overlay / "kustomization.yaml").read_text())
        [entry] = [image for image in kustomization["images"] if image["name"] == compose_image]
        image = f"{entry['newName']}:{entry['newTag']}"
        for workload in rendered(overlay):
            if workload["kind"] in WORKLOADS:
                for container in pod_containers(workload):
                    assert container["image"] == image, (overlay, workload["metadata"]["name"], container["image"])


def test_the_workloads_run_what_the_compose_stack_runs():
    """Commands are compared with the compose file's, not with a copy: the same gunicorn, the same queues."""
    services = load("docker-compose.yml")["services"]
    migrate, serve = compose_web_commands()
    for overlay in OVERLAYS:
        objects = rendered(overlay)
        assert web(objects)[1]["command"] == serve
        [job] = of_kind(objects, "Job")
        assert pod_containers(job)[0]["command"] == migrate
        assert training_worker(objects)[1]["command"] == services["worker"]["command"]
        _, worker = the_one(objects, celery_worker("default"), "the default worker")
        assert worker["command"] == services["worker-default"]["command"]
        _, beat = the_one(objects, lambda command: command[:4] == ["celery", "-A", "worker", "beat"], "the beat")
        assert beat["command"] == services["beat"]["command"]
        assert the_one(objects, celery_worker("sweep"), "the sweep queue's worker")[1] is worker


def test_the_sweep_is_sent_by_a_single_beat_that_never_overlaps_itself():
    """Two beats would send every sweep twice, and --schedule files of two beats fight: one replica, and
    Recreate, so that a new one starts only once the old one is gone; no worker runs a beat of its own (-B)."""
    for overlay in OVERLAYS:
        objects = rendered(overlay)
        beat, _ = the_one(objects, lambda command: command[:4] == ["celery", "-A", "worker", "beat"], "the beat")
        assert beat["kind"] == "Deployment" and beat["spec"]["replicas"] == 1
        assert beat["spec"]["strategy"] == {"type": "Recreate"}
        assert not running(objects, lambda command: "-B" in command or "--beat" in command)


def test_only_the_gpu_overlay_gives_each_training_worker_one_gpu():
    """One GPU each (one run at a time, TRAINING_PROCESSES=1); the web and the other workers compute on CPUs,
    and on CPU nodes a GPU request would leave the training workers unscheduled."""
    gpu_worker, container = training_worker(rendered("gpu"))
    resources = container["resources"]
    assert int(resources["limits"][GPU]) == 1 and int(resources.get("requests", {}).get(GPU, 1)) == 1
    assert gpu_worker["spec"]["template"]["spec"].get("tolerations"), "GPU nodes are usually tainted"
    for overlay in OVERLAYS:
        objects = rendered(overlay)
        training = training_worker(objects)[1]
        for workload, c in running(objects):
            takes = GPU in c["resources"].get("limits", {}) or GPU in c["resources"].get("requests", {})
            assert takes == (overlay == "gpu" and c is training), (overlay, workload["metadata"]["name"], c["name"])


def test_a_stopping_training_worker_has_time_to_hand_its_run_back():
    """On SIGTERM the worker ends its training child and hands the run back (sentiment.services.run_execution):
    it notices within one poll, a run that was just ending gets EXIT_AFTER_END_SECONDS to exit, and a child
    asked to stop gets the wait in ``_stop`` before it is killed. Killed before all that, the run would wait
    for the sweep instead. The compose stack's stop_grace_period is its own statement of the same budget."""
    from sentiment.services import run_execution

    [stop_wait] = re.findall(r"wait\(timeout=([\d.]+)\)", inspect.getsource(run_execution._stop))
    hand_back = run_execution.POLL_SECONDS + run_execution.EXIT_AFTER_END_SECONDS + float(stop_wait)
    compose_grace = seconds(load("docker-compose.yml")["services"]["worker"]["stop_grace_period"])
    for overlay in OVERLAYS:
        worker, _ = training_worker(rendered(overlay))
        grace = worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert grace > hand_back and grace >= compose_grace, (overlay, grace, hand_back, compose_grace)


def test_web_is_replicated_and_probed_on_the_sites_health_check():
    """Readiness and liveness ask /healthz (database, migrations, templates, static files) where gunicorn
    listens, with a Host the site answers to; at least two replicas, of which a drain leaves one."""
    from django.urls import reverse

    health = reverse("healthz")
    _, serve = compose_web_commands()
    port = int(serve[serve.index("--bind") + 1].rsplit(":", 1)[1])
    for overlay in OVERLAYS:
        objects = rendered(overlay)
        deployment, container = web(objects)
        assert deployment["kind"] == "Deployment" and deployment["spec"]["replicas"] >= 2
        ports = {p.get("name"): p["containerPort"] for p in container["ports"]}
        allowed_hosts = settings_of(objects)[0]["ALLOWED_HOSTS"].split(",")
        assert {"readinessProbe", "livenessProbe"} <= set(container), overlay
        for probe in {"startupProbe", "readinessProbe", "livenessProbe"} & set(container):
            check = container[probe]["httpGet"]
            assert check["path"] == health, (overlay, probe)
            assert ports.get(check["port"], check["port"]) == port, (overlay, probe)
            host = {h["name"].lower(): h["value"] for h in check.get("httpHeaders", [])}.get("host")
            assert host in allowed_hosts, f"{overlay} {probe}: the probe's Host {host} is not in ALLOWED_HOSTS"
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        [budget] = of_kind(objects, "PodDisruptionBudget")
        assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert 1 <= budget["spec"]["minAvailable"] < deployment["spec"]["replicas"]
        [ingress] = of_kind(objects, "Ingress")
        assert all(tls.get("secretName") for tls in ingress["spec"]["tls"])
        certified = {host for tls in ingress["spec"]["tls"] for host in tls["hosts"]}
        [service] = of_kind_selecting(objects, labels)
        for rule in ingress["spec"]["rules"]:
            assert rule["host"] in allowed_hosts and rule["host"] in certified, rule["host"]
            for path in rule["http"]["paths"]:
                assert path["backend"]["service"]["name"] == service["metadata"]["name"]


def test_shared_state_is_on_read_write_many_claims_where_the_image_keeps_it():
    """Every pod on every node sees the same runs, media and hub cache (the compose stack's app volumes, mounted
    where the image keeps them): checkpoints one worker wrote are resumed by another, the web loads them."""
    compose_mounts = dict(volume.split(":")[:2] for volume in load("docker-compose.yml")["services"]["web"]["volumes"])
    for overlay in OVERLAYS:
        objects = rendered(overlay)
        claims = {claim["metadata"]["name"]: claim for claim in of_kind(objects, "PersistentVolumeClaim")}
        assert claims
        for claim in claims.values():
            assert claim["spec"]["accessModes"] == ["ReadWriteMany"], claim["metadata"]["name"]
        for workload, container in [
            web(objects),
            training_worker(objects),
            the_one(objects, celery_worker("default"), "the default worker"),
        ]:
            name = workload["metadata"]["name"]
            volumes = {v["name"]: v for v in workload["spec"]["template"]["spec"]["volumes"]}
            mounted = {}
            for mount in container["volumeMounts"]:
                claim = volumes[mount["name"]].get("persistentVolumeClaim", {}).get("claimName")
                if claim:
                    assert claim in claims, claim
                    mounted[mount["mountPath"]] = claim
            # each at the compose volume's place, from the claim named after it (sentiment-runs for runs)
            assert set(mounted) == set(compose_mounts.values()), (overlay, name, mounted)
            for volume, path in compose_mounts.items():
                assert mounted[path].endswith(f"-{volume}"), (overlay, name, path, mounted[path])


def test_every_container_has_resource_requests_and_limits():
    """The scheduler places pods by their requests, and limits keep one pod (models in memory, torch's threads)
    from starving the others on its node."""
    for overlay in OVERLAYS:
        for workload, container in running(rendered(overlay)):
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(resources.get(bound, {})), (
                    f"{overlay}: {workload['metadata']['name']}/{container['name']} has no {bound} for cpu and memory"
                )


def test_every_setting_the_app_needs_is_provided_under_its_name_in_env_example():
    """Which settings are required: those the settings read without a default (webapp/settings*.py, parsed as
    test_deployment does), and those the compose file fixes for its app containers, whatever .env says
    (SECRET_KEY, the database, broker and cache addresses, ALLOWED_HOSTS, the log format, trust in the proxy;
    for the workers also where they serve their figures): without them the defaults would start a site that
    serves no one. The rest keep their defaults and may be set. ADMIN_PASSWORD is bootstrap's alone (the
    compose file blanks it), so no pod keeps it. Every name is one of .env.example's, so none is misspelt."""
    compose = load("docker-compose.yml")["services"]
    example = set(env_example())
    without_default = {name for name, has_default in settings_variables().items() if not has_default}
    required_by_web = (without_default | set(compose["web"]["environment"])) - {"ADMIN_PASSWORD"}
    required_by_workers = (required_by_web | set(compose["worker"]["environment"])) - {"ADMIN_PASSWORD"}
    assert required_by_web >= REQUIRED_AT_LEAST, REQUIRED_AT_LEAST - required_by_web
    state = {"VAR_DIR", "RUNS_DIR", "MEDIA_ROOT", "STATIC_ROOT", "HF_HOME"}  # where, is the image's to say
    for overlay in OVERLAYS:
        objects = rendered(overlay)
        config, secret = settings_of(objects)
        assert set(config) | set(secret) <= example, (set(config) | set(secret)) - example
        assert not set(config) & set(secret), "one value, one place"
        assert not SECRET_NAMES & set(config), f"in the Secret, not the ConfigMap: {SECRET_NAMES & set(config)}"
        for workload, container in running(objects):
            names = provided(objects, container)
            assert not ({"ADMIN_PASSWORD"} | state) & names, (workload["metadata"]["name"], names & state)
            assert names <= example, (workload["metadata"]["name"], names - example)
            command = container["command"]
            required = required_by_workers if command[:4] == ["celery", "-A", "worker", "worker"] else required_by_web
            missing = required - names
            assert not missing, f"{overlay}: {workload['metadata']['name']} is not given {sorted(missing)}"


def test_the_broker_and_the_cache_are_two_servers():
    """A full cache evicts its oldest keys; the broker must never drop a queued job: one Redis cannot be both
    (README, "Deploying: docker compose")."""
    for overlay in OVERLAYS:
        _, secret = settings_of(rendered(overlay))
        broker, cache = urlsplit(secret["CELERY_BROKER_URL"]), urlsplit(secret["CACHE_URL"])
        assert (broker.hostname, broker.port) != (cache.hostname, cache.port), overlay
