"""Environments for running `sluiceway` from another folder (cwd) than the one pytest started in."""

from __future__ import annotations

import os


def environment_without_settings() -> dict[str, str]:
    """os.environ without SLUICEWAY_* settings, PYTHONPATH made absolute.

    A relative PYTHONPATH (``PYTHONPATH=src``, how the suite is run from a worktree) would point nowhere from
    another cwd, and the subprocess would silently test the installed package instead of these sources.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICEWAY_")}
    if env.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p) for p in env["PYTHONPATH"].split(os.pathsep) if p)
    return env
