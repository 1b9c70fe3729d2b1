"""The runner's CLI in a real child process forked from one that has its libraries imported.

Each command still runs in a process of its own, with its own environment, working
directory, stdout, stderr and exit status, through the same `migrator.cli.main.main` that
entrypoint.py calls; only the interpreter's start-up and the imports of SQLAlchemy,
Alembic and the runner (over a second on a slow machine) are paid once, by the parent
("zygote"), instead of once per command. The schema module and the revision files are
never imported by the zygote, so every command imports the versions on disk.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.support.project import ENTRYPOINT, PROJECT_ROOT

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from tests.support.runner import Result

# Everything a command may import, so that none of it is paid per command. The
# zygote only imports: it opens no connection and starts no thread, which a fork
# could not take along.
PRELOADED = [
    "migrator.cli.main",
    "migrator.cli.commands",
    "migrator.core.authoring",
    "migrator.core.inspection",
    "migrator.core.migrate",
    "migrator.core.stamping",
    "migrator.core.upgrade",
    "migrator.settings.validated",
    "alembic.command",
    "alembic.autogenerate",
    "sqlalchemy.dialects.mysql",
    "pymysql",
]


def _serve() -> None:  # pragma: no cover - runs in the zygote process
    """The zygote: one JSON request per stdin line; for each, fork a child that runs
    the CLI, report its pid, then its exit status."""
    import importlib

    for module in PRELOADED:
        importlib.import_module(module)
    base_path = [entry for entry in sys.path[1:] if entry]  # without the zygote's own dir
    reply = sys.stdout
    reply.write("ready\n")
    reply.flush()
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request, base_path)
        reply.write(f"{pid}\n")
        reply.flush()
        _, status = os.waitpid(pid, 0)
        reply.write(f"{os.waitstatus_to_exitcode(status)}\n")
        reply.flush()


def _child(request: dict[str, Any], base_path: list[str]) -> None:  # pragma: no cover
    """What `python entrypoint.py ARGS` with the request's environment would do."""
    code: object = 1
    try:
        os.setsid()  # its own group, as a process the test started would have
        for fd, path, flags in (
            (0, os.devnull, os.O_RDONLY),
            (1, request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
            (2, request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
        ):
            os.dup2(os.open(path, flags, 0o600), fd)
        os.chdir(request["cwd"])
        env: dict[str, str] = request["env"]
        os.environ.clear()
        os.environ.update(env)
        sys.dont_write_bytecode = bool(env.get("PYTHONDONTWRITEBYTECODE"))
        extra = [entry for entry in env.get("PYTHONPATH", "").split(os.pathsep) if entry]
        sys.path[:] = [str(PROJECT_ROOT), *extra, *base_path]
        sys.argv = [str(ENTRYPOINT), *request["args"]]
        signal.signal(signal.SIGINT, signal.default_int_handler)
        from migrator.cli.main import main

        code = main()
    except SystemExit as exiting:
        code = exiting.code
    except BaseException:  # as the interpreter would: a traceback, status 1
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        import atexit

        atexit._run_exitfuncs()  # logging's flush, as at the interpreter's exit
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # a closed pipe: nothing more to say
                stream.flush()
        if code is None:
            code = 0
        elif not isinstance(code, int):
            print(code, file=sys.stderr)
            code = 1
        os._exit(code)


class Zygote:
    """A zygote process and the commands run through it, one at a time."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from tests.support.forked_runner import _serve; _serve()"],
            cwd=PROJECT_ROOT,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.count = 0
        self._pending = b""
        if self._read_line(120) != "ready":
            raise RuntimeError("the runner's zygote did not start")

    def run(
        self, args: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float = 180
    ) -> Result:
        """Run `entrypoint.py ARGS` in a forked child; its output and exit status."""
        from tests.support.runner import Result  # here: the zygote imports this module, not pytest

        self.count += 1
        stdout, stderr = (self.scratch / f"run{self.count}.{name}" for name in ("out", "err"))
        started = time.monotonic()
        request = {
            "args": list(args),
            "env": dict(env),
            "cwd": str(cwd),
            "stdout": str(stdout),
            "stderr": str(stderr),
        }
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        pid = int(self._read_line(30))
        try:
            code = int(self._read_line(timeout))
        except TimeoutError:
            os.killpg(pid, signal.SIGKILL)
            self._read_line(30)
            raise
        return Result(code, stdout.read_text(), stderr.read_text(), time.monotonic() - started)

    def _read_line(self, timeout: float) -> str:
        # Unbuffered: a buffered reader could hold the next line where select cannot see it.
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._pending:
            ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
            if not ready:
                raise TimeoutError(f"no answer from the runner's zygote within {timeout:g}s")
            chunk = os.read(fd, 4096)
            if not chunk:
                raise RuntimeError(f"the runner's zygote exited ({self.process.wait()})")
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line.decode().strip()

    def close(self) -> None:
        """End the zygote: it exits when its input ends."""
        with self.process:  # closes the pipes once it has exited
            assert self.process.stdin is not None
            self.process.stdin.close()
            self.process.wait(timeout=30)
