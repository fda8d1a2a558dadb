"""gunicorn's sync worker, made to answer every connection it was sent before it stops.

On a graceful stop (SIGTERM: ``docker restart``, a recreate, a rolling update) gunicorn's own sync worker
finishes the request in hand and exits. The kernel had meanwhile accepted more connections on the shared
listening socket (its backlog) that no worker took; when the last process holding that socket exits, each of
them is reset. The proxy in front cannot send such a request again (it reached a replica, and a POST may not
be repeated), so its client gets a 502: ``make scale-check`` lost a few requests of 1,000 this way while it
restarted one web replica.

This worker, once told to stop, takes every connection already waiting, closes its copy of the listening
socket at once, and only then answers them. Once every process has closed the socket, a new connection is
refused instead of queued, and the proxy tries it on another replica, since a refused connection never
reached this one. Only a connection whose handshake ends in the microseconds between the last take and the
close can still be reset.
"""

from __future__ import annotations

import errno

from gunicorn import util
from gunicorn.workers.sync import SyncWorker


class DrainingSyncWorker(SyncWorker):
    """The sync worker plus the drain above. Named ``...SyncWorker`` on purpose: gunicorn still switches to
    its threaded worker when ``threads`` is above 1 (``WEB_THREADS``), as it does for ``sync``."""

    def run(self) -> None:
        super().run()  # returns once the worker is told to stop (or its parent is gone)
        waiting = self.connections_waiting()
        for listener in self.sockets:
            listener.close()
        if waiting:
            self.log.info("answering %d connection(s) that were waiting when the stop came", len(waiting))
        for listener, client, address in waiting:
            client.setblocking(True)
            util.close_on_exec(client)
            self.handle(listener, client, address)

    def connections_waiting(self) -> list[tuple[ClosedListener, object, object]]:
        """Every connection the kernel has accepted for this worker's sockets and no worker has taken yet,
        each with its listener's address (what a request's environ is built from once the socket is closed)."""
        waiting = []
        for listener in self.sockets:
            listener.setblocking(False)
            name = ClosedListener(listener.getsockname())
            while True:
                try:
                    client, address = listener.accept()
                except OSError as exc:
                    if exc.errno == errno.ECONNABORTED:  # that one hung up while waiting; others may not have
                        continue
                    break  # nothing more waiting (EAGAIN), or the socket is gone already
                waiting.append((name, client, address))
        return waiting


class ClosedListener:
    """A closed listening socket's address: all that answering a request asks of its listener."""

    def __init__(self, name) -> None:
        self.name = name

    def getsockname(self):
        return self.name
