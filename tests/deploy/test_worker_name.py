"""Each worker's name (worker/name.py): its own, and the same after its container is recreated. The names
Docker's DNS really gives are checked by ``make scale-check``; here, the rules that read them, and a real
question to this machine's resolver."""

import socket
from types import SimpleNamespace

import dns.name
import dns.resolver
import pytest

from worker import name


@pytest.fixture
def network(monkeypatch):
    """This host as a network would describe it: its host name, its address, and the name of that address."""

    def describe(hostname: str, address: str, reverse: str | None):
        def resolve_address(asked, **options):
            if reverse is None:
                raise dns.resolver.NXDOMAIN()
            assert asked == address and options["lifetime"] <= 5  # a start never waits long for a name
            return [SimpleNamespace(target=dns.name.from_text(reverse))]

        monkeypatch.delenv("WORKER_NAME", raising=False)
        monkeypatch.setattr(socket, "gethostname", lambda: hostname)
        monkeypatch.setattr(socket, "gethostbyname", lambda asked: address)
        monkeypatch.setattr(dns.resolver, "resolve_address", resolve_address)

    return describe


def test_a_compose_replica_is_named_after_its_container_not_its_changing_id(network):
    network("3f2a9c1b7d4e", "172.18.0.7", "sentiment-worker-2.sentiment_default")
    assert name.worker_name() == "sentiment-worker-2"


@pytest.mark.parametrize(
    "address, reverse",
    [
        ("127.0.1.1", "localhost"),  # a plain host: every host is localhost
        ("10.0.3.4", None),  # no name for the address
        ("10.0.3.4", "10-0-3-4.default.pod.cluster.local"),  # a name made of the address itself
        ("10.0.3.4", "sentiment-training-worker-0.workers.default.svc.cluster.local"),  # the host name again
    ],
)
def test_without_a_name_of_its_own_in_the_network_a_worker_is_its_host_name(network, address, reverse):
    network("sentiment-training-worker-0", address, reverse)
    assert name.worker_name() == "sentiment-training-worker-0"


def test_worker_name_in_the_environment_wins(network, monkeypatch):
    network("3f2a9c1b7d4e", "172.18.0.7", "sentiment-worker-2.sentiment_default")
    monkeypatch.setenv("WORKER_NAME", "gpu-box-a")
    assert name.worker_name() == "gpu-box-a"


def test_a_host_outside_any_docker_network_asks_its_resolver_and_keeps_its_host_name(monkeypatch):
    monkeypatch.delenv("WORKER_NAME", raising=False)
    assert name.worker_name() == socket.gethostname()
