"""The monitoring profile without a Docker engine: Prometheus scrapes every process that has figures, with the
token, the proxy never passes /metrics, and the alert rules are valid and do what their unit tests say
(``promtool check`` and ``promtool test rules``, from Debian's ``prometheus`` package: tests/services.sh
installs it; these tests fail, never skip, without it)."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.test_deployment import ROOT, load

PROMETHEUS = ROOT / "webapp" / "prometheus"
WORKERS = ("worker", "worker-default")


@pytest.fixture(scope="module")
def compose() -> dict:
    return load("docker-compose.yml")


@pytest.fixture(scope="module")
def scrape_jobs() -> dict[str, dict]:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    return {job["job_name"]: job for job in config["scrape_configs"]}


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    found = shutil.which("promtool")
    assert found, "promtool is missing: apt-get install prometheus (tests/services.sh installs it for make test)"
    return subprocess.run([found, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_prometheus_is_pinned_in_the_monitoring_profile_and_reads_the_projects_files(compose):
    service = compose["services"]["prometheus"]
    assert re.fullmatch(r"prom/prometheus:v\d+\.\d+\.\d+", service["image"]), service["image"]
    assert service["profiles"] == ["monitoring"]
    assert service["ports"] == ["${PROMETHEUS_BIND:-127.0.0.1}:${PROMETHEUS_PORT:-9090}:9090"]  # this host only
    mounted = {entry["target"]: compose["configs"][entry["source"]] for entry in service["configs"]}
    config_file = next(arg.split("=", 1)[1] for arg in service["command"] if arg.startswith("--config.file="))
    assert mounted[config_file] == {"file": "./webapp/prometheus/prometheus.yml"}
    assert mounted["/etc/prometheus/alerts.yml"] == {"file": "./webapp/prometheus/alerts.yml"}
    assert mounted["/etc/prometheus/metrics-token"] == {"content": "${METRICS_TOKEN:-}"}
    for entry in mounted.values():
        if "file" in entry:
            assert (ROOT / entry["file"]).is_file(), entry
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]  # beside the config file, where the stack mounts it
    assert "prometheus-data:/prometheus" in service["volumes"]


def test_every_process_with_figures_is_scraped_where_it_serves_them_with_the_token(compose, scrape_jobs):
    services = compose["services"]
    found = {}
    for name, job in scrape_jobs.items():
        for sd in job.get("dns_sd_configs", []):
            for host in sd["names"]:
                found[host] = (name, sd["port"])
        if name != "prometheus":
            assert job["authorization"]["credentials_file"] == "metrics-token", name  # /etc/prometheus/metrics-token
    assert set(found) == {"web", *WORKERS}
    web = " ".join(services["web"]["command"])
    assert f"--bind 0.0.0.0:{found['web'][1]}" in web and services["web"]["expose"] == [str(found["web"][1])]
    for name in WORKERS:
        environment = services[name]["environment"]
        host, _, port = environment["WORKER_METRICS_BIND"].rpartition(":")
        assert host == "0.0.0.0" and int(port) == found[name][1], name
        assert services[name]["expose"] == [port] and "ports" not in services[name]
        assert environment["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp/"), name  # the container's own
        assert environment["ADMIN_PASSWORD"] == "" and environment["SECRET_KEY"].startswith("${SECRET_KEY:?")
    assert {found["worker"][0], found["worker-default"][0]} == {"training-worker", "default-worker"}
    assert "WORKER_METRICS_BIND" not in services["web"]["environment"]


def test_the_proxy_never_passes_metrics_from_outside():
    caddyfile = (ROOT / "webapp" / "Caddyfile").read_text()
    assert caddyfile.index("respond /metrics* 404") < caddyfile.index("reverse_proxy web:8000")


def test_the_prometheus_config_is_valid(tmp_path):
    for name in ("prometheus.yml", "alerts.yml"):
        shutil.copy(PROMETHEUS / name, tmp_path / name)
    (tmp_path / "metrics-token").write_text("")  # what the stack mounts from METRICS_TOKEN
    checked = promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout


def test_the_alert_rules_are_valid_and_pass_their_unit_tests():
    checked = promtool("check", "rules", "alerts.yml", cwd=PROMETHEUS)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", "alerts_test.yml", cwd=PROMETHEUS)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def alert_rules() -> list[dict]:
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_every_alert_has_a_unit_test_that_fires_it_and_the_readme_says_what_to_do():
    tests = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())["tests"]
    fired = {
        case["alertname"]
        for test in tests
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")  # fires, not only stays quiet
    }
    names = {rule["alert"] for rule in alert_rules()}
    assert names == fired, names ^ fired
    readme = (ROOT / "README.md").read_text()
    for name in names:
        assert f"`{name}`" in readme, f"README's alert rules do not explain {name}"


def test_the_rules_read_families_the_code_exports():
    """A family renamed in the code would leave its alerts silent for ever: each name they read is exported."""
    import django_prometheus.middleware

    exported = "".join(path.read_text() for path in (ROOT / "sentiment" / "metrics").glob("*.py"))
    django_families = Path(django_prometheus.middleware.__file__).read_text()
    text = (PROMETHEUS / "alerts.yml").read_text()
    for name in set(re.findall(r"\b(sentiment_[a-z_]+|django_http_[a-z_]+)", text)):
        base = re.sub(r"_(bucket|count|sum|total)$", "", name)
        if name.startswith("django_http_"):
            base = base.removesuffix("_total")  # prometheus_client adds _total to a counter's name
            assert f'"{base}"' in django_families, name
        else:
            assert f'"{base}"' in exported, name
