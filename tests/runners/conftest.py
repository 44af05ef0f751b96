from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import sluiceway as sw

HERE = Path(__file__).parent
SAMPLE = HERE / "sample_pipelines.py"
SLUICEWAY = str(Path(sys.executable).with_name("sluiceway"))


@pytest.fixture
def runner(tmp_path: Path) -> sw.LocalRunner:
    return sw.LocalRunner(store=f"sqlite:///{tmp_path / 'md.db'}", artifact_root=tmp_path / "artifacts", parallelism=4)


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICEWAY_")}
    env["SLUICEWAY_STORE"] = f"sqlite:///{tmp_path / 'md.db'}"
    env["SLUICEWAY_ARTIFACT_ROOT"] = str(tmp_path / "artifacts")
    return env


def run_cli(args: list[str], env: dict[str, str], cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SLUICEWAY, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
