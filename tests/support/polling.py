"""Waiting for a state another process brings about: poll it, never sleep a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable

POLL_INTERVAL = 0.05


def wait_until(
    predicate: Callable[[], object], *, timeout: float = 30, message: str = "never came about"
) -> None:
    """Poll ``predicate`` until it holds; fail with ``message`` if it does not within
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{message} (waited {timeout:g}s)"
        time.sleep(POLL_INTERVAL)
