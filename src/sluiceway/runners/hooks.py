"""Run lifecycle hooks: how progress displays and integrations observe a run.

Subclass ``RunHooks`` and override what you need. Every method takes keyword-only arguments plus
``**future_kwargs`` so new arguments can be added without breaking existing hooks.
"""

from __future__ import annotations

from typing import Any


class RunHooks:
    def on_run_start(self, *, run_name: str, pipeline: Any, **future_kwargs: Any) -> None:
        """Called once before any component runs."""

    def on_component_start(self, *, run_name: str, component_id: str, **future_kwargs: Any) -> None:
        """Called when a component is about to be executed or looked up in the cache."""

    def on_component_end(
        self, *, run_name: str, component_id: str, state: str, duration_s: float, error: str | None,
        **future_kwargs: Any,
    ) -> None:
        """Called when a component finished: state COMPLETE, CACHED, FAILED, CANCELED, or SKIPPED (not run).

        SKIPPED with ``error`` set: its ``when=`` condition was false (or an upstream's was), ``error`` says why;
        SKIPPED with ``error`` None: an upstream failed or was canceled.

        Runners may also pass ``log_uri`` (the execution's log file) among the keyword arguments.
        """

    def on_run_end(self, *, run_name: str, state: str, **future_kwargs: Any) -> None:
        """Called once when the run is over."""


def in_notebook() -> bool:
    """Whether output renders in a notebook (Jupyter, VS Code), as Rich detects it."""
    from rich.console import Console

    return Console().is_jupyter


def progress_hooks(progress: bool | RunHooks | None) -> list[RunHooks]:
    """The progress display ``LocalRunner.run(progress=...)`` adds to the runner's hooks.

    ``True``: the Rich progress the CLI shows (``sluiceway.runners.progress.RichProgress``) on standard
    output; ``False``: none; ``None`` (the default): on in notebooks only, so scripts stay quiet; a
    ``RunHooks`` instance: that display instead.
    """
    if isinstance(progress, RunHooks):
        return [progress]
    if progress is None:
        progress = in_notebook()
    if not progress:
        return []
    from sluiceway.runners.progress import RichProgress

    return [RichProgress()]
