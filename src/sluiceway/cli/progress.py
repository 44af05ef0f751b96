"""A Rich progress display for runs: a hook, not code inside the runner."""

from __future__ import annotations

import threading
from typing import Any

from rich.console import Console
from rich.markup import escape

from sluiceway.runners.hooks import RunHooks

_STYLE = {"COMPLETE": "green", "CACHED": "cyan", "FAILED": "bold red", "CANCELED": "yellow", "SKIPPED": "dim"}


class RichProgress(RunHooks):
    """Prints one line a component as it starts and ends, and a summary line at the end."""

    def __init__(self, console: Console, *, quiet: bool = False) -> None:
        self.console = console
        self.quiet = quiet
        self.total = 0
        self.finished = 0
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def on_run_start(self, *, run_name: str, pipeline: Any, reused: list[str] = (), **future_kwargs: Any) -> None:  # type: ignore[assignment]
        self.total = len(pipeline.components)
        self.finished = len(reused)
        if not self.quiet:
            extra = f", resuming ({len(reused)} already done)" if reused else ""
            noun = "component" if self.total == 1 else "components"
            name, pipeline_name = escape(run_name), escape(pipeline.name)
            self.console.print(f"[bold]Run[/bold] {name}: {pipeline_name}, {self.total} {noun}{extra}")

    def on_component_start(self, *, run_name: str, component_id: str, **future_kwargs: Any) -> None:
        if not self.quiet and self.console.is_terminal:
            self.console.print(f"  [dim]…[/dim] {component_id}", highlight=False)

    def on_component_end(self, *, run_name: str, component_id: str, state: str, duration_s: float,
                         error: str | None, **future_kwargs: Any) -> None:
        with self._lock:
            self.finished += 1
            self.counts[state] = self.counts.get(state, 0) + 1
        if self.quiet and state != "FAILED":
            return
        style = _STYLE.get(state, "")
        self.console.print(
            f"  [{self.finished}/{self.total}] [{style}]{state:<8}[/{style}] {component_id} ({duration_s:.2f} s)",
            highlight=False,
        )
        if state == "FAILED" and error:
            # A traceback shows its last line; a gate's message (e.g. the anomalies found) is shown whole.
            lines = error.strip().splitlines()
            shown = lines[-1:] if error.startswith("Traceback") else lines[:40]
            for line in shown:
                self.console.print(f"      [red]{escape(line)}[/red]", highlight=False)

    def on_run_end(self, *, run_name: str, state: str, **future_kwargs: Any) -> None:
        style = _STYLE.get(state, "")
        summary = ", ".join(f"{n} {s.lower()}" for s, n in sorted(self.counts.items()))
        self.console.print(f"[{style}]{state}[/{style}] {run_name} ({summary})", highlight=False)
