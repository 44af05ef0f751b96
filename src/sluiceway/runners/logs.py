"""Per-execution log files.

Components run in threads of one process, so each execution's output is routed by a context variable:
log records and writes to ``sys.stdout``/``sys.stderr`` made while an execution is current go to its log
file; everything else passes through untouched. Threads a component starts itself do not inherit the
context and log to the console as usual.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

_current: contextvars.ContextVar[IO[str] | None] = contextvars.ContextVar("sluiceway_execution_log", default=None)
_install_lock = threading.Lock()
_installed = False
_FORMAT = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


class _RoutingStream:
    def __init__(self, fallback: Any) -> None:
        self._fallback = fallback

    def write(self, text: str) -> int:
        target = _current.get()
        if target is not None:
            target.write(text)
            return len(text)
        return self._fallback.write(text)

    def flush(self) -> None:
        target = _current.get()
        (target or self._fallback).flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fallback, name)


class _ExecutionLogHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        target = _current.get()
        if target is None:
            return
        try:
            target.write(_FORMAT.format(record) + "\n")
        except Exception:  # noqa: BLE001 - logging must never break a component
            self.handleError(record)


class _NotInExecution(logging.Filter):
    """Keep records that an execution's log file captures off the console handlers."""

    def filter(self, record: logging.LogRecord) -> bool:
        return _current.get() is None or record.levelno >= logging.WARNING


def _install() -> None:
    global _installed
    with _install_lock:
        if _installed:
            return
        root = logging.getLogger()
        handler = _ExecutionLogHandler(level=logging.DEBUG)
        root.addHandler(handler)
        for existing in root.handlers:
            if existing is not handler:
                existing.addFilter(_NotInExecution())
        if root.level > logging.INFO or root.level == logging.NOTSET:
            root.setLevel(logging.INFO)  # so components' INFO records reach their log files
        _installed = True


def _wrap_streams() -> None:
    # Checked at every capture: test runners and notebooks replace sys.stdout/sys.stderr at will.
    if not isinstance(sys.stdout, _RoutingStream) or not isinstance(sys.stderr, _RoutingStream):
        with _install_lock:
            if not isinstance(sys.stdout, _RoutingStream):
                sys.stdout = _RoutingStream(sys.stdout)  # type: ignore[assignment]
            if not isinstance(sys.stderr, _RoutingStream):
                sys.stderr = _RoutingStream(sys.stderr)  # type: ignore[assignment]


@contextlib.contextmanager
def capture(path: Path) -> Iterator[IO[str]]:
    """Route this context's logging and prints to ``path`` (appending) while the block runs."""
    _install()
    _wrap_streams()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8", buffering=1) as handle:
        token = _current.set(handle)
        try:
            yield handle
        finally:
            _current.reset(token)
