"""Signals: when they interrupt, and that the handler does nothing unsafe where it lands."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from migrator.errors import Interrupted
from migrator.process import interrupts
from migrator.process.logs import get_logger
from tests.support.polling import wait_until


@pytest.fixture
def handlers() -> Iterator[None]:
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    interrupts.install()
    yield
    for sig, handler in previous.items():
        signal.signal(sig, handler)


@pytest.mark.usefixtures("handlers")
def test_a_signal_outside_a_revision_interrupts_at_once() -> None:
    with pytest.raises(Interrupted) as caught:
        os.kill(os.getpid(), signal.SIGTERM)  # the handler runs before kill() returns

    assert caught.value.exit_status == 143


@pytest.mark.usefixtures("handlers")
def test_a_signal_during_a_revision_waits_for_its_end() -> None:
    finished = False
    with pytest.raises(Interrupted) as caught, interrupts.deferred():  # noqa: PT012
        # The block stands for a revision: it runs to its end despite the signal.
        os.kill(os.getpid(), signal.SIGINT)
        finished = True

    assert finished
    assert caught.value.exit_status == 130


class SignalMidWrite:
    """A log stream that is sent SIGTERM in the middle of its first write, as a pod's
    termination may land while a line is written; notes a write begun inside another."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.writing = False
        self.nested = False
        self.signalled = False

    def write(self, text: str) -> None:
        self.nested = self.nested or self.writing
        self.writing = True
        try:
            if not self.signalled:
                self.signalled = True
                os.kill(os.getpid(), signal.SIGTERM)  # the handler runs before kill returns
            self.lines.append(text)
        finally:
            self.writing = False

    def flush(self) -> None:
        pass


@pytest.mark.usefixtures("handlers")
def test_a_signal_landing_in_a_log_write_is_announced_after_it_not_inside_it() -> None:
    """A nested write to a buffered stream raises (a reentrant call): the handler must
    leave the announcement to another thread."""
    stream = SignalMidWrite()
    handler = logging.StreamHandler(stream)
    logger = get_logger()
    logger.addHandler(handler)
    try:
        with pytest.raises(Interrupted), interrupts.deferred():  # noqa: PT012 - a revision
            logger.warning("applying revision")
            wait_until(
                lambda: any("stopping after the current revision" in line for line in stream.lines),
                timeout=10,
                message="the deferred signal was never announced",
            )
    finally:
        logger.removeHandler(handler)

    assert stream.signalled
    assert not stream.nested


def test_a_signal_while_the_wake_up_event_is_busy_does_not_hang_the_runner() -> None:
    """The handler may land while the main thread holds the lock of the event that wakes
    sleeping threads (inside its wait or set): taking that lock again would hang."""
    script = textwrap.dedent(
        """
        import os, signal
        from migrator.process import interrupts
        interrupts.install()
        with interrupts.deferred():
            with interrupts._signalled._cond:  # as inside Event.wait's own bookkeeping
                os.kill(os.getpid(), signal.SIGTERM)
        """
    )
    ran = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=20, check=False
    )

    assert "Interrupted" in ran.stderr, ran.stderr
