"""The CLI's progress display is the library's: ``sluiceway.runners.progress.RichProgress``."""

from __future__ import annotations

from sluiceway.runners.progress import RichProgress

__all__ = ["RichProgress"]
