"""Is the Hugging Face hub reachable?

Without a network the hub client retries each request with back-off for about a minute before it gives
up. A three-second connection probe lets us fail at once with a useful message instead, or fall back
to files already in the local hub cache. With ``HF_HUB_OFFLINE=1`` the libraries use the cache alone
and no probe is made.
"""

from __future__ import annotations

import functools
import socket
from urllib.parse import urlparse


@functools.cache
def hub_unreachable_reason(timeout: float = 3.0) -> str | None:
    """None when the hub answers (or offline mode is on); else a short reason."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return None
    url = urlparse(constants.ENDPOINT)
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return f"cannot reach the Hugging Face hub at {host} ({exc.strerror or exc})"
