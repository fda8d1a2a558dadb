"""Waiting for something another process does, with a deadline and a message that says what did not happen."""

import time


def wait_for(predicate, timeout: float, message: str, interval: float = 0.3):
    """The first true value of ``predicate()``; AssertionError naming ``message`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s: {message}")
