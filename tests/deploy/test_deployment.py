"""What can be checked of the deployment without a Docker engine: the compose files, the Dockerfile,
the Caddyfile, the environment they pass, and Django's production settings. The stack itself is run by
``make compose-check`` (tests/deploy/compose_smoke.py), which needs an engine."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.deploy.commands import argv

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("web", "worker", "worker-default", "flower")


class ComposeLoader(yaml.SafeLoader):
    """YAML as Compose reads it, including its !reset and !override merge tags."""


ComposeLoader.add_constructor("!reset", lambda loader, node: None)
ComposeLoader.add_constructor(
    "!override",
    lambda loader, node: (
        loader.construct_sequence(node, deep=True)
        if isinstance(node, yaml.SequenceNode)
        else loader.construct_mapping(node, deep=True)
        if isinstance(node, yaml.MappingNode)
        else loader.construct_scalar(node)
    ),
)


def load(name: str) -> dict:
    return yaml.load((ROOT / name).read_text(), Loader=ComposeLoader)


@pytest.fixture(scope="module")
def compose() -> dict:
    return load("docker-compose.yml")


def test_the_stack_has_every_service(compose):
    services = compose["services"]
    assert set(services) == {
        *("proxy", "web", "worker", "worker-default", "beat", "redis", "cache", "postgres"),
        *("flower", "prometheus"),  # the monitoring profile
    }
    assert services["flower"]["profiles"] == services["prometheus"]["profiles"] == ["monitoring"]
    for name in ("proxy", "web", "worker", "worker-default", "beat", "redis", "cache", "postgres"):
        assert "profiles" not in services[name], name
        assert services[name]["restart"] == "unless-stopped"
        assert services[name]["healthcheck"]["test"], name
    for name in APP_SERVICES:
        assert services[name]["build"]["context"] == "."
        assert services[name]["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
            "cache": {"condition": "service_healthy"},
        }


def test_commands_name_things_the_project_has(compose):
    services = compose["services"]
    web = " ".join(services["web"]["command"])
    assert "manage.py migrate --noinput" in web  # migrations on start
    assert "gunicorn -c webapp/gunicorn.conf.py" in web and "webapp.wsgi" in web  # the config that preloads the model
    assert (ROOT / "manage.py").is_file() and (ROOT / "webapp" / "wsgi.py").is_file()
    assert (ROOT / "webapp" / "gunicorn.conf.py").is_file()
    from worker.celery import app

    queues = {app.conf.task_default_queue, *(route["queue"] for route in app.conf.task_routes.values())}
    served = set()
    assert "exec celery -A worker flower" in services["flower"]["command"][-1]
    for name in ("worker", "worker-default", "beat"):
        command = argv(services[name]["command"])
        assert command[:3] == ["celery", "-A", "worker"] and (ROOT / "worker" / "celery.py").is_file()
        if "-Q" in command:
            served |= set(command[command.index("-Q") + 1].split(","))
    assert served == queues == {"training", "default", "sweep"}
    training = argv(services["worker"]["command"])
    assert training[training.index("--pool") + 1] == "solo"  # one run at a time, trained in a child process


def test_the_sweep_is_sent_by_one_beat_of_its_own_however_many_workers_there_are(compose):
    """Two beats would send every sweep twice: the beat is a service of its own, and no worker runs one (-B),
    so --scale worker-default=N adds workers, never beats."""
    services = compose["services"]
    assert argv(services["beat"]["command"])[:4] == ["celery", "-A", "worker", "beat"]
    for name, service in services.items():
        command = argv(service.get("command") or [])
        assert "-B" not in command and "--beat" not in command, name
    assert "deploy" not in services["beat"] and "ports" not in services["beat"]
    # the image the app services build, never a second build of it, nor a pull of a name no registry has
    assert services["beat"]["image"] == services["web"]["image"] and "build" not in services["beat"]
    assert services["beat"]["pull_policy"] == "never"
    assert services["beat"]["depends_on"] == services["web"]["depends_on"]
    assert services["beat"]["env_file"] == services["web"]["env_file"]


def test_the_training_worker_gets_the_gpu_and_the_cpu_override_removes_it(compose):
    [device] = compose["services"]["worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert device == {"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}
    assert load("docker-compose.cpu.yml")["services"]["worker"]["deploy"] is None


def test_the_several_gpus_override_gives_each_training_worker_a_card_of_its_own():
    """One worker per GPU: each reserves one device id, a different one, and runs the training worker itself."""
    services = load("docker-compose.gpus.yml")["services"]
    cards = []
    for name, service in services.items():
        [device] = service["deploy"]["resources"]["reservations"]["devices"]
        assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"] and "count" not in device, name
        cards += device["device_ids"]
        if name != "worker":
            assert service["extends"] == {"file": "docker-compose.yml", "service": "worker"}, name
    assert len(cards) == len(set(cards)) == len(services) >= 2


def test_volumes_keep_state_and_are_all_declared(compose):
    declared = set(compose["volumes"])
    used = set()
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            used.add(source)
    assert (
        used
        == declared
        == {
            *("runs", "media", "hf-cache", "pgdata", "redis-data", "caddy-data", "caddy-config"),
            "prometheus-data",
        }
    )
    # the image alone says where state lives; the volumes are mounted there
    image = dict(re.findall(r"^\s+(VAR_DIR|HF_HOME)=(\S+)", (ROOT / "Dockerfile").read_text(), re.M))
    app = {v.split(":")[1] for v in compose["services"]["web"]["volumes"]}
    assert app == {f"{image['VAR_DIR']}/runs", f"{image['VAR_DIR']}/media", image["HF_HOME"]}
    environment = compose["services"]["web"]["environment"]
    assert not {"VAR_DIR", "RUNS_DIR", "MEDIA_ROOT", "STATIC_ROOT", "HF_HOME"} & set(environment)
    assert "pgdata:/var/lib/postgresql/data" in compose["services"]["postgres"]["volumes"]
    assert "caddy-data:/data" in compose["services"]["proxy"]["volumes"]


def test_redis_keeps_its_data_and_never_evicts_tasks(compose):
    command = compose["services"]["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"


def test_the_cache_is_a_server_of_its_own_bounded_and_evicting(compose):
    command = compose["services"]["cache"]["command"]
    assert command[command.index("--maxmemory") + 1] == "${CACHE_MAXMEMORY:-256mb}"
    assert command[command.index("--maxmemory-policy") + 1] == "allkeys-lru"
    environment = compose["services"]["web"]["environment"]
    assert environment["CELERY_BROKER_URL"].startswith("redis://redis:")
    assert environment["CACHE_URL"].startswith("redis://cache:")


def test_secrets_for_one_command_and_trust_in_the_proxy_are_set_where_they_belong(compose):
    for name in ("web", "worker", "worker-default"):
        environment = compose["services"][name]["environment"]
        assert environment["ADMIN_PASSWORD"] == ""  # bootstrap's alone, given with exec -e
        assert environment["TRUST_X_FORWARDED_FOR"] == "true"  # Caddy sets the header itself


def test_the_stack_logs_json_lines_and_traces_only_when_env_names_a_collector(compose):
    for name in APP_SERVICES:
        environment = compose["services"][name]["environment"]
        assert environment["LOG_FORMAT"] == "${LOG_FORMAT:-json}"  # .env may still say plain
        assert not [variable for variable in environment if variable.startswith("OTEL_")]


def test_only_the_proxy_is_published_and_it_proxies_to_where_gunicorn_listens(compose):
    services = compose["services"]
    monitoring = {name for name, service in services.items() if service.get("profiles") == ["monitoring"]}
    published = {name for name, service in services.items() if service.get("ports") and name not in monitoring}
    assert published == {"proxy"}
    web = " ".join(services["web"]["command"])
    assert "--bind 0.0.0.0:8000" in web and services["web"]["expose"] == ["8000"]
    assert "127.0.0.1:8000/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    caddyfile = (ROOT / "webapp" / "Caddyfile").read_text()
    assert "reverse_proxy web:8000" in caddyfile
    # Caddy listens inside on the ports published outside, so its HTTP -> HTTPS redirect names the right one
    assert services["proxy"]["ports"] == ["${HTTP_PORT:-80}:${HTTP_PORT:-80}", "${HTTPS_PORT:-443}:${HTTPS_PORT:-443}"]
    assert "http_port {$HTTP_PORT:80}" in caddyfile and "{$SITE_ADDRESS:localhost}:{$HTTPS_PORT:443} {" in caddyfile
    assert {"SITE_ADDRESS", "HTTP_PORT", "HTTPS_PORT", "MAX_REQUEST_BODY"} <= set(services["proxy"]["environment"])
    assert "max_size {$MAX_REQUEST_BODY:" in caddyfile and "header_up X-Forwarded-Proto" not in caddyfile
    assert services["proxy"]["depends_on"] == {"web": {"condition": "service_healthy"}}


def test_flower_needs_a_password_and_listens_on_this_host_only_by_default(compose):
    flower = compose["services"]["flower"]
    command = " ".join(flower["command"])
    assert "--port=5555" in command and 'test -n "$$FLOWER_BASIC_AUTH"' in command
    assert flower["ports"] == ["${FLOWER_BIND:-127.0.0.1}:${FLOWER_PORT:-5555}:5555"]


def test_workers_check_their_broker_and_each_replica_has_a_name_that_survives_a_recreate(compose):
    """No fixed host name (every replica of --scale would share it): each worker is named by worker/name.py,
    after its container, which compose numbers and keeps when it recreates it."""
    services = compose["services"]
    for name, prefix in (("worker", "training"), ("worker-default", "default")):
        assert services[name]["healthcheck"]["test"] == ["CMD", "python", "-m", "worker.health"], name
        command = argv(services[name]["command"])
        assert command[command.index("-n") + 1] == f"{prefix}@$$(python -m worker.name)", name
        assert "hostname" not in services[name] and "container_name" not in services[name], name
    assert (ROOT / "worker" / "health.py").is_file() and (ROOT / "worker" / "name.py").is_file()
    postgres = services["postgres"]["environment"]
    assert (
        services["web"]["environment"]["DATABASE_URL"].endswith(f"@postgres:5432/{postgres['POSTGRES_DB']}")
        and f"//{postgres['POSTGRES_USER']}:" in services["web"]["environment"]["DATABASE_URL"]
    )
    assert services["web"]["environment"]["CELERY_BROKER_URL"] == "redis://redis:6379/0"


def settings_variables() -> dict[str, bool]:
    """Each environment variable the settings read, and whether it may be missing (read with a default)."""
    found: dict[str, bool] = {}
    for file in (ROOT / "webapp").glob("settings*.py"):
        # every read is env.<type>("NAME", default=...), or env.<type>("NAME") for a required one
        for name, default in re.findall(r'\benv(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]*)"(\s*,\s*default=)?', file.read_text()):
            found[name] = found.get(name, False) or bool(default)
    return found


def env_example() -> dict[str, str | None]:
    """Each variable of .env.example: its value when set, None when the line is commented out."""
    found: dict[str, str | None] = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if match := re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", line):
            found[match[1]] = match[2]
        elif match := re.fullmatch(r"# ([A-Z][A-Z0-9_]*)=(.*)", line):
            found[match[1]] = None
    return found


def test_env_example_is_read_by_compose_as_written():
    variables = env_example()
    # Compose takes everything after "=" as the value: no trailing comments, and only the secret is set,
    # empty, so that an unedited copy refuses to start; every other line keeps the default it shows.
    assert {name: value for name, value in variables.items() if value is not None} == {"SECRET_KEY": ""}
    for line in (ROOT / ".env.example").read_text().splitlines():
        assert not line or line.startswith("#") or " #" not in line, line
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()


def test_every_setting_is_documented_and_the_required_ones_are_set_by_compose(compose):
    example = set(env_example())
    variables = settings_variables()
    assert len(variables) > 15
    assert set(variables) <= example, set(variables) - example
    environment = compose["services"]["web"]["environment"]
    assert environment["SECRET_KEY"].startswith("${SECRET_KEY:?")  # compose refuses to start without it
    for name, has_default in variables.items():
        assert has_default or name in environment, name


def test_the_readme_settings_table_lists_every_setting():
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## Settings\n")
    section = readme[start : readme.index("\n## ", start)]
    table = re.search(r"^\| variable \|.*\n(?:\|.*\n)+", section, re.M).group(0)  # one table: its rows touch
    named = set(re.findall(r"`([A-Z][A-Z0-9_]*)`", "".join(row.split("|")[1] for row in table.splitlines())))
    assert set(settings_variables()) <= named, set(settings_variables()) - named


def test_the_dockerfile_installs_from_requirements_and_copies_the_code():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.startswith("# ") and "FROM python:3.11-slim" in dockerfile
    stages = re.findall(r"^FROM \S+ AS (\w+)$", dockerfile, re.M)
    assert stages == ["proxy", "app"]  # the app last: a plain `docker build .` makes it
    services = load("docker-compose.yml")["services"]
    assert {services[name]["build"]["target"] for name in APP_SERVICES} == {"app"}
    assert services["proxy"]["build"]["target"] == "proxy" and "COPY webapp/Caddyfile" in dockerfile
    assert "pip install -r requirements.txt -c constraints.txt" in dockerfile
    for part in ("manage.py", "webapp", "sentiment", "ml", "worker"):
        assert re.search(rf"^COPY {re.escape(part)} ", dockerfile, re.M), part
    assert "collectstatic --noinput" in dockerfile and "DJANGO_SETTINGS_MODULE=webapp.settings_production" in dockerfile
    assert "USER app" in dockerfile
    torch_pin = re.search(r"^torch==([\d.]+)$", (ROOT / "requirements.txt").read_text(), re.M).group(1)
    assert f"torch=={torch_pin}" in dockerfile


def production(*args: str, secret: str | None = None, **extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.settings_production", **extra}
    env.pop("SECRET_KEY", None)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # a test-only escape hatch; check --deploy rightly refuses it
    if secret is not None:
        env["SECRET_KEY"] = secret
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)


def test_check_deploy_is_clean_with_the_production_settings():
    result = production("check", "--deploy", secret=secrets.token_urlsafe(64))
    assert result.returncode == 0, result.stderr
    # HSTS for subdomains and preloading are the operator's choice: their two warnings, and only those,
    # are silenced until opted in
    assert "System check identified no issues (2 silenced)." in result.stdout
    assert "WARNINGS" not in result.stdout + result.stderr
    opted_in = production(
        "check", "--deploy", secret=secrets.token_urlsafe(64),
        SECURE_HSTS_INCLUDE_SUBDOMAINS="true", SECURE_HSTS_PRELOAD="true",
    )  # fmt: skip
    assert "System check identified no issues (0 silenced)." in opted_in.stdout, opted_in.stdout + opted_in.stderr


def test_production_refuses_to_start_without_a_secret_key():
    result = production("check")
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


def test_static_files_are_served_by_the_web_process(tmp_path):
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.MIDDLEWARE[1]); print(settings.STORAGES['staticfiles']['BACKEND']); print(settings.DEBUG)"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "webapp.settings_production",
        "SECRET_KEY": secrets.token_urlsafe(64),
    }
    shown = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert shown.stdout.split() == [
        "whitenoise.middleware.WhiteNoiseMiddleware",
        "whitenoise.storage.CompressedManifestStaticFilesStorage",
        "False",
    ]
