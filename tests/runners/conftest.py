from __future__ import annotations

import os
from pathlib import Path

import pytest

import sluiceway as sw



@pytest.fixture
def runner(tmp_path: Path) -> sw.LocalRunner:
    return sw.LocalRunner(store=f"sqlite:///{tmp_path / 'md.db'}", artifact_root=tmp_path / "artifacts", parallelism=4)


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICEWAY_")}
    env["SLUICEWAY_STORE"] = f"sqlite:///{tmp_path / 'md.db'}"
    env["SLUICEWAY_ARTIFACT_ROOT"] = str(tmp_path / "artifacts")
    return env

