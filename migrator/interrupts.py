"""SIGTERM and SIGINT: stop at once while waiting, stop at a revision boundary while migrating.

MySQL DDL is not transactional, so abandoning a revision halfway leaves the
schema between two revisions. While a revision runs, a signal is only noted;
the run stops at the next boundary, after the revision and its version row.
Once the outcome is decided, a signal changes nothing: the run exits with the
status it has already reported.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from migrator.errors import Interrupted
from migrator.logs import get_logger

log = get_logger()

_pending: int | None = None
_deferring = False
_holding = False
_raised = False
_settled = False


def install() -> None:
    """Make SIGTERM and SIGINT raise Interrupted (PID 1 in a container has no default)."""
    global _pending, _deferring, _raised, _settled
    _pending, _deferring, _raised, _settled = None, False, False, False
    signal.signal(signal.SIGTERM, _handle)
    signal.signal(signal.SIGINT, _handle)


def settle() -> None:
    """The run's outcome is decided: from now on a signal is ignored, not raised."""
    global _settled  # noqa: PLW0603
    _settled = True


def _handle(signum: int, _frame: FrameType | None) -> None:
    global _pending, _raised  # noqa: PLW0603
    if _settled:
        return
    if _pending is None:
        _pending = signum
    if _holding:
        return
    if _deferring:
        log.warning(
            "signal received: stopping after the current revision",
            extra={"signal": signal.Signals(signum).name},
        )
        return
    if not _raised:
        # Raise once; a second signal during cleanup must not cut the cleanup short.
        _raised = True
        raise Interrupted(signum)


def checkpoint() -> None:
    """Raise Interrupted if a signal arrived while it was deferred."""
    global _raised  # noqa: PLW0603
    if _pending is not None and not _raised and not _settled:
        _raised = True
        raise Interrupted(_pending)


@contextmanager
def held() -> Iterator[None]:
    """Note signals without acting on them for the block: cleanup (a lock released, a
    session closed) that must not let a signal replace the error it runs after.

    A signal noted here is acted on at the next checkpoint, or ignored once the
    outcome is settled.
    """
    global _holding  # noqa: PLW0603
    previous, _holding = _holding, True
    try:
        yield
    finally:
        _holding = previous


@contextmanager
def deferred() -> Iterator[None]:
    """Hold signals back for the duration of the block, then honour them."""
    global _deferring  # noqa: PLW0603
    _deferring = True
    try:
        yield
    finally:
        _deferring = False
    checkpoint()
