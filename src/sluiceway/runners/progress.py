"""The Rich progress display of a run: a ``RunHooks`` implementation, usable from the CLI and the library.

``sluiceway run`` and ``LocalRunner.run(progress=True)`` show the same lines. Rich detects notebooks
(Jupyter, VS Code) by itself and renders there as cell output. Component ids, run and pipeline names and
error text are the user's: they are escaped before Rich reads them as markup.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape

from sluiceway.runners.hooks import RunHooks

_STYLE = {"COMPLETE": "green", "CACHED": "cyan", "FAILED": "bold red", "CANCELED": "yellow", "SKIPPED": "dim"}
# How much of a failed component's traceback is shown: its last frames and the exception line.
TRACEBACK_TAIL_LINES = 7
# A gate's message (e.g. the anomalies found) is shown whole, up to this many lines.
MESSAGE_LINES = 40


class RichProgress(RunHooks):
    """One line a component as it ends (and as it starts, on a terminal), and a summary line at the end.

    ``console``: where to print (default: a Rich console on standard output, which in a notebook renders
    in the cell). ``quiet``: only failures and the summary.
    """

    def __init__(self, console: Console | None = None, *, quiet: bool = False) -> None:
        self.console = console if console is not None else Console()
        self.quiet = quiet
        self.total = 0
        self.finished = 0
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def on_run_start(self, *, run_name: str, pipeline: Any, reused: Sequence[str] = (), **future_kwargs: Any) -> None:
        with self._lock:
            self.total = len(pipeline.components)
            self.finished = len(reused)
            self.counts = {}
        if not self.quiet:
            extra = f", resuming ({len(reused)} already done)" if reused else ""
            noun = "component" if self.total == 1 else "components"
            self.console.print(
                f"[bold]Run[/bold] {escape(run_name)}: {escape(pipeline.name)}, {self.total} {noun}{extra}",
                highlight=False,
            )

    def on_component_start(self, *, run_name: str, component_id: str, **future_kwargs: Any) -> None:
        if not self.quiet and self.console.is_terminal:
            self.console.print(f"  [dim]…[/dim] {escape(component_id)}", highlight=False)

    def on_component_end(self, *, run_name: str, component_id: str, state: str, duration_s: float,
                         error: str | None, log_uri: str | None = None, **future_kwargs: Any) -> None:
        with self._lock:
            self.finished += 1
            self.counts[state] = self.counts.get(state, 0) + 1
            finished = self.finished
        if self.quiet and state != "FAILED":
            return
        style = _STYLE.get(state, "default")
        self.console.print(
            f"  [{finished}/{self.total}] [{style}]{state:<8}[/{style}] {escape(component_id)} ({duration_s:.2f} s)",
            highlight=False,
        )
        if state == "SKIPPED" and error:  # a false condition (downstream of a failure has no reason)
            self.console.print(f"      [dim]skipped: {escape(error)}[/dim]", highlight=False)
        if state == "FAILED" and error:
            for line in failure_lines(error):
                self.console.print(f"      [red]{escape(line)}[/red]", highlight=False)
            if log_uri:
                self.console.print(f"      log: {escape(log_uri)}", highlight=False)

    def on_run_end(self, *, run_name: str, state: str, **future_kwargs: Any) -> None:
        style = _STYLE.get(state, "default")
        summary = ", ".join(f"{n} {s.lower()}" for s, n in sorted(self.counts.items()))
        self.console.print(f"[{style}]{state}[/{style}] {escape(run_name)} ({summary})", highlight=False)


def failure_lines(error: str) -> list[str]:
    """What a failure shows: a traceback's last frames and exception line, or a message whole."""
    lines = error.strip().splitlines()
    if error.lstrip().startswith("Traceback"):
        return lines[-TRACEBACK_TAIL_LINES:]
    return lines[:MESSAGE_LINES]
