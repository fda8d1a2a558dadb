"""What can be checked of the deployment without a Docker engine: the compose files, the Dockerfile,
the environment they pass, and Django's production settings."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("web", "worker", "worker-default", "flower")


class ComposeLoader(yaml.SafeLoader):
    """YAML as Compose reads it, including its !reset and !override merge tags."""


ComposeLoader.add_constructor("!reset", lambda loader, node: None)
ComposeLoader.add_constructor("!override", lambda loader, node: loader.construct_object(node, deep=True))


def load(name: str) -> dict:
    return yaml.load((ROOT / name).read_text(), Loader=ComposeLoader)


@pytest.fixture(scope="module")
def compose() -> dict:
    return load("docker-compose.yml")


def test_the_stack_has_every_service(compose):
    services = compose["services"]
    assert set(services) == {"web", "worker", "worker-default", "redis", "postgres", "flower"}
    assert services["flower"]["profiles"] == ["monitoring"]
    for name in ("web", "worker", "worker-default", "redis", "postgres"):
        assert "profiles" not in services[name], name
        assert services[name]["restart"] == "unless-stopped"
    for name in APP_SERVICES:
        assert services[name]["build"]["context"] == "."
        assert services[name]["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }
    for name in ("web", "redis", "postgres"):
        assert services[name]["healthcheck"]["test"], name


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
    for name in ("worker", "worker-default", "flower"):
        command = services[name]["command"]
        assert command[:3] == ["celery", "-A", "worker"] and (ROOT / "worker" / "celery.py").is_file()
        if "-Q" in command:
            served |= set(command[command.index("-Q") + 1].split(","))
    assert served == queues == {"training", "default"}
    training = services["worker"]["command"]
    assert training[training.index("--pool") + 1] == "solo"  # one run at a time, trained in a child process
    assert "-B" in services["worker-default"]["command"]  # the sweep that resumes runs of lost workers


def test_the_training_worker_gets_the_gpu_and_the_cpu_override_removes_it(compose):
    [device] = compose["services"]["worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert device == {"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}
    assert load("docker-compose.cpu.yml")["services"]["worker"]["deploy"] is None


def test_volumes_keep_state_and_are_all_declared(compose):
    declared = set(compose["volumes"])
    used = set()
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            used.add(source)
    assert used == declared == {"runs", "media", "hf-cache", "pgdata", "redis-data"}
    app = {v.split(":")[1] for v in compose["services"]["web"]["volumes"]}
    environment = compose["services"]["web"]["environment"]
    assert {environment["RUNS_DIR"], environment["MEDIA_ROOT"], environment["HF_HOME"]} == app
    assert "pgdata:/var/lib/postgresql/data" in compose["services"]["postgres"]["volumes"]


def test_redis_keeps_its_data_and_never_evicts_tasks(compose):
    command = compose["services"]["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"


def test_ports_match_what_the_processes_listen_on(compose):
    services = compose["services"]
    web = " ".join(services["web"]["command"])
    assert "--bind 0.0.0.0:8000" in web and services["web"]["ports"] == ["${WEB_PORT:-8000}:8000"]
    assert "127.0.0.1:8000/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert "--port=5555" in services["flower"]["command"] and services["flower"]["ports"] == [
        "${FLOWER_PORT:-5555}:5555"
    ]
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
        text = file.read_text()
        for name in re.findall(r'(?:os\.environ\.get|env_bool)\(\s*"([A-Z_]+)"', text):
            found[name] = True
        for name in re.findall(r'os\.environ\["([A-Z_]+)"\]', text):
            found[name] = False
    return found


def test_every_setting_is_documented_and_the_required_ones_are_set_by_compose(compose):
    example = {line.split("=")[0] for line in (ROOT / ".env.example").read_text().splitlines() if "=" in line}
    variables = settings_variables()
    assert len(variables) > 15
    assert set(variables) <= example, set(variables) - example
    environment = compose["services"]["web"]["environment"]
    assert environment["SECRET_KEY"].startswith("${SECRET_KEY:?")  # compose refuses to start without it
    for name, has_default in variables.items():
        assert has_default or name in environment, name


def test_the_dockerfile_installs_from_requirements_and_copies_the_code():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.startswith("# ") and "FROM python:3.11-slim" in dockerfile
    assert "pip install -r requirements.txt -c constraints.txt" in dockerfile
    for part in ("manage.py", "webapp", "sentiment", "ml", "worker"):
        assert re.search(rf"^COPY {re.escape(part)} ", dockerfile, re.M), part
    assert "collectstatic --noinput" in dockerfile and "DJANGO_SETTINGS_MODULE=webapp.settings_production" in dockerfile
    assert "USER app" in dockerfile
    torch_pin = re.search(r"^torch==([\d.]+)$", (ROOT / "requirements.txt").read_text(), re.M).group(1)
    assert f"torch=={torch_pin}" in dockerfile


def production(*args: str, secret: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.settings_production"}
    env.pop("SECRET_KEY", None)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # a test-only escape hatch; check --deploy rightly refuses it
    if secret is not None:
        env["SECRET_KEY"] = secret
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)


def test_check_deploy_is_clean_with_the_production_settings():
    result = production("check", "--deploy", secret=secrets.token_urlsafe(64))
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNINGS" not in result.stdout + result.stderr


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
