"""Fixtures of the export tests: the orchestrators' own virtual environments and a reference local run.

Airflow and kfp pin packages the core environment cannot share (kfp: protobuf < 7), so each lives in its own
virtual environment at the repository root (`.venv-airflow`, `.venv-kfp`), created by `make orchestrators`
(which `make test` runs first). Their tasks run the `sluiceway` of the environment running the tests, found
on PATH: the orchestrator venvs hold only the orchestrator.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from export_env import PENGUIN, REPO


@pytest.fixture
def task_env(cli_env: dict[str, str]) -> dict[str, str]:
    """The environment orchestrator processes run in: the stores of the test, this `sluiceway` first on PATH,
    and these sources importable by it (a worktree's `src` is not the installed package)."""
    env = dict(cli_env)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), *filter(None, [env.get("PYTHONPATH")])])
    return env


@pytest.fixture(scope="session")
def penguin_local_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """The penguin pipeline run once by the local runner: (store URL, run name), the reference to compare with."""
    folder = tmp_path_factory.mktemp("penguin-local")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICEWAY_")}
    store = f"sqlite:///{folder / 'md.db'}"
    env.update(
        SLUICEWAY_STORE=store,
        SLUICEWAY_ARTIFACT_ROOT=str(folder / "artifacts"),
        PENGUIN_SERVING_DIR=str(folder / "serving"),
    )
    sluiceway = str(Path(sys.executable).with_name("sluiceway"))
    completed = subprocess.run(
        [sluiceway, "run", PENGUIN, "--run-name", "local", "-q"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert completed.returncode == 0, completed.stderr
    return store, "local"
