"""Per-execution log files, without touching the user's logging for good.

Components run in threads of one process (the local runner) or alone in their own (``sluiceway exec``).
Each execution's output is routed by a context variable that only the executing thread sets: log records
and writes to ``sys.stdout``/``sys.stderr`` made while an execution is current go to its log file;
everything else passes through untouched. Threads a component starts itself do not inherit the context
and print and log as they would without Sluiceway.

What is installed, and for how long: while at least one execution is being captured (and only then),
a routing handler sits on the root logger and thread-aware streams stand in for ``sys.stdout`` and
``sys.stderr``. When the last capture ends, the handler is removed and the streams the user had are put
back (the same objects). The root level is never changed if it already lets INFO through; when it does
not (the default WARNING), it is lowered to INFO for the same span so that components' INFO records reach
their log files, and a filter on the existing handlers hides from them exactly the records their
configuration did not let through before, so the user's console and files see what they saw without us.
What logging handlers write goes to the user's streams even from a component's thread (a handler that
looks ``sys.stderr`` up when it writes, like Rich's, would otherwise land in the log file a second time).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

# The lowest level an execution's log file records when the user's configuration lets through less.
CAPTURE_LEVEL = logging.INFO

_current: contextvars.ContextVar[IO[str] | None] = contextvars.ContextVar("sluiceway_execution_log", default=None)
_FORMAT = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


_HANDLER_CODE = logging.Handler.handle.__code__
_HANDLER_SEARCH_DEPTH = 60  # RichHandler → Console.print → … → write is about 15 frames deep


def _inside_a_logging_handler() -> bool:
    """Whether a logging handler is writing: its output belongs to the user's console, not the log file.

    A handler that looks ``sys.stderr`` up when it writes (Rich's console does) runs in the component's
    thread; the execution's log file already gets the record from our own handler.
    """
    frame: FrameType | None = sys._getframe(2)
    for _ in range(_HANDLER_SEARCH_DEPTH):
        if frame is None:
            return False
        if frame.f_code is _HANDLER_CODE:
            return True
        frame = frame.f_back
    return False


class _RoutingStream:
    """Stands in for ``sys.stdout``/``sys.stderr``: the current execution's log file, or the original."""

    def __init__(self, original: Any) -> None:
        self._original = original

    def _target(self) -> Any:
        current = _current.get()
        if current is None or _inside_a_logging_handler():
            return self._original
        return current

    def write(self, text: str) -> int:
        target = self._target()
        target.write(text)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._target().flush()

    def isatty(self) -> bool:
        # A component that asks (Rich, tqdm) must not write terminal codes into its log file.
        return bool(self._target().isatty())

    def fileno(self) -> int:
        return int(self._target().fileno())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target(), name)


def _only_our_handler_sees(record: logging.LogRecord) -> bool:
    """Whether no handler but ours is on the record's way up (then logging would use its last resort)."""
    logger: logging.Logger | None = logging.getLogger(record.name)
    while logger is not None:
        if any(not isinstance(handler, _ExecutionLogHandler) for handler in logger.handlers):
            return False
        logger = logger.parent if logger.propagate else None
    return True


class _ExecutionLogHandler(logging.Handler):
    """Writes the records of the current execution (if any) to its log file.

    Being on the root logger, it would also stop logging from falling back to ``logging.lastResort``
    (warnings to stderr when nothing is configured), so it plays the last resort's part itself.
    """

    def emit(self, record: logging.LogRecord) -> None:
        last_resort = logging.lastResort
        if last_resort is not None and record.levelno >= last_resort.level and _only_our_handler_sees(record):
            last_resort.handle(record)
        target = _current.get()
        if target is None:
            return
        try:
            target.write(_FORMAT.format(record) + "\n")
        except Exception:  # noqa: BLE001 - logging must never break a component; handleError reports it
            self.handleError(record)


class _UserView(logging.Filter):
    """Hides from the user's handlers the records only let through because the root level was lowered."""

    def __init__(self, user_root_level: int) -> None:
        super().__init__()
        self.user_root_level = user_root_level

    def filter(self, record: logging.LogRecord) -> bool:
        # The logger's effective level as the user set it: the first level set on the way up, where the
        # root counts with the level it had before we lowered it.
        logger: Any = logging.getLogger(record.name)
        while logger is not None and logger is not logging.root:
            if logger.level != logging.NOTSET:
                return record.levelno >= logger.level
            logger = logger.parent
        return record.levelno >= self.user_root_level


@dataclass
class _Installed:
    """What the active captures installed, so that the last one to end can take it away exactly."""

    active: int = 0
    handler: _ExecutionLogHandler | None = None
    streams: list[tuple[str, Any, _RoutingStream]] = field(default_factory=list)
    user_root_level: int | None = None
    view: _UserView | None = None
    filtered: list[logging.Handler] = field(default_factory=list)


_lock = threading.Lock()
_installed = _Installed()  # replaced by a fresh one when the last capture ends


def _all_handlers() -> list[logging.Handler]:
    loggers: list[logging.Logger] = [logging.getLogger()]
    loggers += [value for value in logging.Logger.manager.loggerDict.values() if isinstance(value, logging.Logger)]
    seen: dict[int, logging.Handler] = {}
    for logger in loggers:
        for handler in logger.handlers:
            seen.setdefault(id(handler), handler)
    return list(seen.values())


def _swap_streams(state: _Installed) -> None:
    # Checked at every capture, not only the first: notebooks and test runners replace the streams at will.
    for name in ("stdout", "stderr"):
        current = getattr(sys, name)
        if not isinstance(current, _RoutingStream):
            wrapper = _RoutingStream(current)
            setattr(sys, name, wrapper)
            state.streams.append((name, current, wrapper))


def _enter() -> None:
    with _lock:
        state = _installed
        state.active += 1
        _swap_streams(state)
        if state.active > 1:
            return
        root = logging.getLogger()
        state.handler = _ExecutionLogHandler(level=logging.NOTSET)
        root.addHandler(state.handler)
        if root.level > CAPTURE_LEVEL:
            state.user_root_level = root.level
            state.view = _UserView(root.level)
            state.filtered = [h for h in _all_handlers() if h is not state.handler]
            for handler in state.filtered:
                handler.addFilter(state.view)
            root.setLevel(CAPTURE_LEVEL)


def _leave() -> None:
    global _installed
    with _lock:
        state = _installed
        state.active -= 1
        if state.active > 0:
            return
        root = logging.getLogger()
        if state.handler is not None:
            root.removeHandler(state.handler)
        if state.user_root_level is not None and root.level == CAPTURE_LEVEL:  # unless the user changed it since
            root.setLevel(state.user_root_level)
        if state.view is not None:
            for handler in state.filtered:
                handler.removeFilter(state.view)
        for name, original, wrapper in reversed(state.streams):
            if getattr(sys, name) is wrapper:  # someone who replaced it since keeps their stream
                setattr(sys, name, original)
        _installed = _Installed()


@contextlib.contextmanager
def capture(path: Path) -> Iterator[IO[str]]:
    """Route this thread's logging and prints to ``path`` (appending) while the block runs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8", buffering=1) as handle:
        _enter()
        token = _current.set(handle)
        try:
            yield handle
        finally:
            _current.reset(token)
            _leave()
