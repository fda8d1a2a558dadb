"""What a container runs, read one way for the compose file and the Kubernetes manifests."""

from __future__ import annotations

import shlex


def argv(command: list[str]) -> list[str]:
    """The program and arguments a container's command runs: the command itself, or for ``sh -c "... exec X"``
    the X that the shell runs in its place, split as the shell splits it (``"training@$(...)"`` is one)."""
    if command[:2] == ["sh", "-c"]:
        return shlex.split(command[2].rpartition("exec ")[2])
    return command
