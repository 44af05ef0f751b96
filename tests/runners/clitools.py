"""Running the real `sluiceway` command in tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SAMPLE = Path(__file__).parent / "sample_pipelines.py"
SLUICEWAY = str(Path(sys.executable).with_name("sluiceway"))


def run_cli(args: list[str], env: dict[str, str], cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SLUICEWAY, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
