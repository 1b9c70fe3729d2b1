"""Per-thread Alembic proxies (`alembic.op`, `alembic.context`): shards migrate side by side.

Alembic points `op` and `context` at the running migration by writing one module
global, so two migrations in two threads would run each other's operations. Here
the global becomes a stand-in that forwards to the calling thread's own object,
and installing or removing a proxy only touches that thread's stack. A revision
file still writes `from alembic import op` and sees only its own migration.
"""

from __future__ import annotations

import threading
from typing import Any

from alembic.util import ModuleClsProxy

from migrator.alembic_support import compat
from migrator.process.logs import restore_logging

_local = threading.local()
_enabled = False
_enabling = threading.Lock()


def _stack(cls: type[Any]) -> list[Any]:
    stacks: dict[type[Any], list[Any]] | None = getattr(_local, "stacks", None)
    if stacks is None:
        stacks = _local.stacks = {}
    return stacks.setdefault(cls, [])


def _current(cls: type[Any], name: str) -> Any:
    stack = _stack(cls)
    if not stack:
        # Alembic's own wording, for code run outside a migration.
        raise NameError(
            f"Can't invoke function '{name}', as the proxy object has not yet been"
            f" established for the Alembic '{cls.__name__}' class."
            "  Try placing this code inside a callable."
        )
    return stack[-1]


class _ThreadsObject:
    """Sits in a proxy module's globals (compat.PROXY_GLOBAL); forwards to this thread's
    object."""

    def __init__(self, cls: type[Any]) -> None:
        self._cls = cls

    def __getattr__(self, name: str) -> Any:
        # A revision may import an application's models inside upgrade(), and they
        # may take logging over: its next operation finds the runner's put back.
        restore_logging()
        return getattr(_current(self._cls, name), name)


def _install_proxy(self: ModuleClsProxy) -> None:
    _stack(type(self)).append(self)


def _remove_proxy(self: ModuleClsProxy) -> None:
    stack = _stack(type(self))
    if stack and stack[-1] is self:
        stack.pop()


def enable() -> None:
    """Make every Alembic proxy module per thread; idempotent, effective for the process."""
    global _enabled  # noqa: PLW0603
    import alembic.context
    import alembic.op  # noqa: F401 - importing them registers their proxies

    with _enabling:
        if _enabled:
            return
        for cls, (attribute_names, modules) in compat.proxy_modules():
            for globals_, _locals in modules:
                globals_[compat.PROXY_GLOBAL] = _ThreadsObject(cls)
                for name in attribute_names:
                    globals_.pop(name, None)
                if attribute_names:
                    # `context.config` is an attribute, not a function: module
                    # __getattr__ answers it from the thread's object.
                    globals_["__getattr__"] = _attribute_reader(cls, frozenset(attribute_names))
        compat.replace_proxy_installation(_install_proxy, _remove_proxy)
        _enabled = True


def _attribute_reader(cls: type[Any], names: frozenset[str]) -> Any:
    def module_getattr(name: str) -> Any:
        if name not in names:
            raise AttributeError(name)
        return getattr(_current(cls, name), name)

    return module_getattr
