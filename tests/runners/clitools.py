"""Running the real `sluiceway` command in tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SAMPLE = Path(__file__).parent / "sample_pipelines.py"
SLUICEWAY = str(Path(sys.executable).with_name("sluiceway"))


def run_cli(
    args: list[str], env: dict[str, str], cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SLUICEWAY, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def start_run(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """`sluiceway ARGS` in the background, for tests that interrupt or kill it."""
    return subprocess.Popen([SLUICEWAY, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def kill_at_fault_point(args: list[str], env: dict[str, str], point: str, marker: Path, timeout: float = 60) -> int:
    """Run until the process reaches the test-only fault ``point`` (it stops itself there), then SIGKILL it.

    Returns the killed process's exit status. See ``sluiceway.runners.execute`` for the fault points.
    """
    import os
    import signal
    import time

    process = start_run(
        args, {**env, "SLUICEWAY_TEST_FAULT": f"{point}:stop", "SLUICEWAY_TEST_FAULT_MARKER": str(marker)}
    )
    try:
        deadline = time.monotonic() + timeout
        while not marker.exists():  # the process writes the marker, then stops itself with SIGSTOP
            if process.poll() is not None:
                raise AssertionError(f"sluiceway exited {process.returncode} before {point}: {process.communicate()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"sluiceway never reached the fault point {point}")
            time.sleep(0.01)
        os.waitpid(process.pid, os.WUNTRACED)  # stopped at the point, not merely about to stop
        process.send_signal(signal.SIGKILL)
        return process.wait(timeout=30)
    finally:
        process.kill()
        process.communicate()
