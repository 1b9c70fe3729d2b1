"""Signals (SIGTERM, SIGINT): stop at once while waiting, at a revision boundary while migrating.

MySQL DDL is not transactional, so abandoning a revision halfway leaves the
schema between two revisions. While a revision runs, a signal is only noted;
the run stops at the next boundary, after the revision and its version row.
Once the outcome is decided, a signal changes nothing: the run exits with the
status it has already reported.

Python runs signal handlers in the main thread only. A thread that migrates a
shard of a fleet learns of a signal at its next checkpoint (before each revision,
between login attempts), and a wait it is blocked in (a login, the migration
lock) is ended by cutting its session: :func:`cut_waiting_sessions`.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType

from migrator.errors import Interrupted
from migrator.process.logs import get_logger

log = get_logger()

_pending: int | None = None
_settled = False
_signalled = threading.Event()  # set soon after _pending, for threads that sleep
_announce: int | None = None  # a signal the run defers, for the herald to log
# The handler only assigns variables and writes a byte here: it runs between any two
# bytecodes of the main thread, which may be inside a log write (a nested write to the
# same buffered stream raises) or may hold the lock of _signalled (taking it again would
# hang). A thread, the herald, does the rest: it sets _signalled and logs.
_wake: tuple[int, int] | None = None
_local = threading.local()  # per thread: holding, raised
_deferring: set[int] = set()  # threads inside a revision, which a signal must not cut
# How to cut each thread's session that may be blocked in a wait, and whether it was cut.
_sessions: dict[int, Callable[[], None]] = {}
_cut: set[int] = set()
_state = threading.RLock()  # deferral decisions against cuts; reentrant for the handler


def install() -> None:
    """Make SIGTERM and SIGINT raise Interrupted (PID 1 in a container has no default)."""
    global _pending, _settled, _announce, _wake  # noqa: PLW0603
    _pending, _settled, _announce = None, False, None
    _signalled.clear()
    if _wake is None:
        _wake = os.pipe()
        os.set_blocking(_wake[1], False)  # a full pipe already holds a wake-up
        threading.Thread(target=_herald, args=(_wake[0],), name="signals", daemon=True).start()
    _local.holding = _local.raised = False
    _deferring.clear()
    signal.signal(signal.SIGTERM, _handle)
    signal.signal(signal.SIGINT, _handle)


def settle() -> None:
    """The run's outcome is decided: from now on a signal is ignored, not raised."""
    global _settled  # noqa: PLW0603
    _settled = True


def ignore_until_exit() -> None:
    """The status is reported: ignore SIGTERM and SIGINT in the kernel until the process is
    gone. Python restores their default action while the interpreter shuts down, and a
    signal then would kill the process after the termination message said it succeeded.
    Main thread only, once the run is over.
    """
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def stop_requested() -> bool:
    """Whether a signal arrived that the run has not settled past."""
    return _pending is not None and not _settled


def interrupted() -> Interrupted:
    """The error for the signal that arrived (SIGTERM when none did, which callers avoid)."""
    return Interrupted(_pending if _pending is not None else signal.SIGTERM)


def _herald(wake: int) -> None:
    """Wake the sleeping threads and log, for the signal handler, outside it."""
    global _announce
    while os.read(wake, 64):
        if _pending is not None:
            _signalled.set()
        announced, _announce = _announce, None
        if announced is not None:
            log.warning(
                "signal received: stopping after the current revision",
                extra={"signal": signal.Signals(announced).name},
            )


def _wake_herald() -> None:
    if _wake is not None:
        with suppress(BlockingIOError):  # the pipe is full: the herald is awake already
            os.write(_wake[1], b"!")


def _handle(signum: int, _frame: FrameType | None) -> None:
    global _pending, _announce  # noqa: PLW0603
    if _settled:
        return
    if _pending is None:
        _pending = signum
    if threading.get_ident() in _deferring and not getattr(_local, "holding", False):
        _announce = signum
    _wake_herald()
    if getattr(_local, "holding", False) or threading.get_ident() in _deferring:
        return
    if not getattr(_local, "raised", False):
        # Raise once; a second signal during cleanup must not cut the cleanup short.
        _local.raised = True
        raise Interrupted(signum)


def checkpoint() -> None:
    """Raise Interrupted if a signal arrived that this thread has not acted on."""
    if _pending is not None and not getattr(_local, "raised", False) and not _settled:
        _local.raised = True
        raise Interrupted(_pending)


def sleep(seconds: float) -> None:
    """Sleep, waking early to raise Interrupted when a signal arrives."""
    checkpoint()
    if seconds > 0 and _signalled.wait(seconds):
        checkpoint()


@contextmanager
def held() -> Iterator[None]:
    """Note signals without acting on them for the block: cleanup (a lock released, a
    session closed) that must not let a signal replace the error it runs after.

    A signal noted here is acted on at the next checkpoint, or ignored once the
    outcome is settled.
    """
    previous = getattr(_local, "holding", False)
    _local.holding = True
    try:
        yield
    finally:
        _local.holding = previous


@contextmanager
def deferred() -> Iterator[None]:
    """Hold signals back for the duration of the block, then honour them.

    A signal that arrived before the block starts is honoured first, so no new
    revision starts once the run has been asked to stop.
    """
    me = threading.get_ident()
    with _state:
        checkpoint()
        _deferring.add(me)
    try:
        yield
    finally:
        with _state:
            _deferring.discard(me)
    checkpoint()


def register_session(cut: Callable[[], None]) -> None:
    """Make ``cut`` (shutting a session down) what a signal does while this thread waits."""
    me = threading.get_ident()
    with _state:
        _sessions[me] = cut
        _cut.discard(me)


def forget_session() -> None:
    """This thread has no session a signal should cut any more (it is done)."""
    me = threading.get_ident()
    with _state:
        _sessions.pop(me, None)
        _cut.discard(me)


def was_cut() -> bool:
    """Whether this thread's session was cut by :func:`cut_waiting_sessions`."""
    return threading.get_ident() in _cut


def cut_waiting_sessions() -> None:
    """Cut the registered sessions of threads that are not inside a revision: their
    blocked reads end at once, and each thread reports Interrupted."""
    with _state:
        for thread, cut in list(_sessions.items()):
            if thread in _deferring:
                continue
            _cut.add(thread)
            cut()
