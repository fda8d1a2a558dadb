"""This worker's name, for Celery's ``-n training@NAME``: ``python -m worker.name`` prints it.

A worker's name is how the project knows whose a run is: a run records the worker that trains it, and a
worker that starts again under the same name hands its interrupted runs back at once (``worker_ready`` in
``worker.tasks``) instead of waiting for the sweep to notice the silence. So each worker needs a name of
its own, and the same one after its container is recreated. In order:

1. ``WORKER_NAME`` when it is set (a Kubernetes StatefulSet's pod name, or any name an operator gives);
2. the container's name as its Docker network knows it. ``docker compose up --scale worker=3`` runs
   ``<project>-worker-1`` to ``-3``; compose keeps a replica's number when it recreates its container,
   and Docker's DNS answers a reverse lookup of a container's address with that name (plus the network's).
   The question goes to the DNS server itself (dnspython): the C library would answer from ``/etc/hosts``
   first, where Docker writes the container's id;
3. the host name: a plain host, or a container outside a Docker network (its id, which a recreate changes).
"""

from __future__ import annotations

import ipaddress
import os
import socket

import dns.exception
import dns.resolver


def own_name_in_network(hostname: str) -> str | None:
    """The first label of the name that the network's DNS gives this host's address, if it gives one (a
    loopback address says nothing: every host is "localhost")."""
    try:
        address = socket.gethostbyname(hostname)
        if ipaddress.ip_address(address).is_loopback:
            return None
        answer = dns.resolver.resolve_address(address, lifetime=3)
    except (OSError, ValueError, dns.exception.DNSException):
        return None
    label = answer[0].target.to_text().split(".")[0]
    return label if label and label != hostname and not label.replace("-", "").isdigit() else None


def worker_name() -> str:
    hostname = socket.gethostname()
    return os.environ.get("WORKER_NAME", "").strip() or own_name_in_network(hostname) or hostname


if __name__ == "__main__":
    print(worker_name())
