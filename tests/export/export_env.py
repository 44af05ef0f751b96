"""Paths and helpers the export tests share (a module of its own: `conftest` is a name every test folder uses,
so importing from it picks whichever folder's conftest was imported first)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PENGUIN = "examples/penguin/pipeline.py"  # relative to REPO, as a user would export it from the project root
AIRFLOW_VENV = Path(os.environ.get("SLUICEWAY_AIRFLOW_VENV", REPO / ".venv-airflow"))
KFP_VENV = Path(os.environ.get("SLUICEWAY_KFP_VENV", REPO / ".venv-kfp"))


def venv_python(venv: Path, what: str) -> Path:
    """The venv's python, or skip with the command that creates it."""
    python = venv / "bin" / "python"
    if not python.exists():
        pytest.skip(f"{what} is not installed in {venv}: run `make orchestrators` (make test does) to create it")
    return python
