"""The Celery runner for real: a Redis server (Debian `redis-server`, `make services`) on 127.0.0.1, two Celery
worker processes (`celery -A sluiceway.runners.celery worker`), `sluiceway run --runner celery --broker ...`.

The penguin pipeline run on the workers records what a local run records; killing the worker that runs a
component makes the broker give the task to the other worker (short visibility timeout here).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("celery", reason="the Celery runner's tests need the celery extra: pip install -e '.[dev]'")

from sluiceway.metadata.store import MetadataStore  # noqa: E402

sys.path.insert(0, str(Path(__file__).parents[1] / "export"))  # the run summary the export tests compare by
from export_summary import run_summary  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
SLUICEWAY = str(Path(sys.executable).with_name("sluiceway"))
CELERY = str(Path(sys.executable).with_name("celery"))
PENGUIN = "examples/penguin/pipeline.py"
HOLD = "tests/runners/celery_pipelines.py"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway Redis server on 127.0.0.1 (no persistence), stopped at the end."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server is not installed: run `make services` (apt-get install redis-server)")
    port = _free_port()
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    assert process.stdout is not None
    seen = []
    for line in process.stdout:  # blocks until the server says it is ready (or exits)
        seen.append(line)
        if "Ready to accept connections" in line:
            break
    else:
        pytest.fail("redis-server did not start:\n" + "".join(seen))
    threading.Thread(target=process.stdout.read, daemon=True).start()  # keep its pipe drained
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=30)


class Worker:
    """One `celery worker` process group (its own session, so the whole worker can be killed at once)."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.name = name
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [CELERY, "-A", "sluiceway.runners.celery", "worker", "-n", f"{name}@%h", "-c", "1", "-l", "INFO",
             "--without-gossip", "--without-mingle"],
            env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )
        assert self.process.stdout is not None
        for line in self.process.stdout:  # blocks until the worker says it is ready (or exits)
            self.lines.append(line)
            if " ready." in line:
                break
        else:
            raise AssertionError(f"worker {name} did not start:\n" + "".join(self.lines[-50:]))
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)  # the main process and its pool child
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # warm shutdown
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)


@pytest.fixture
def start_workers(redis_url: str, cli_env: dict[str, str]) -> Iterator[Callable[..., list[Worker]]]:
    started: list[Worker] = []

    def start(count: int = 2, visibility_timeout: float | None = None, **extra_env: str) -> list[Worker]:
        env = {**cli_env, "SLUICEWAY_CELERY_BROKER": redis_url, **extra_env}
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), *filter(None, [env.get("PYTHONPATH")])])
        if visibility_timeout is not None:
            env["SLUICEWAY_CELERY_VISIBILITY_TIMEOUT"] = str(visibility_timeout)
        for _ in range(count):
            started.append(Worker(f"w{len(started) + 1}", env))
        return started[-count:]

    yield start
    for worker in started:
        worker.stop()


def _runner_env(cli_env: dict[str, str], **extra: str) -> dict[str, str]:
    env = {**cli_env, **extra}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), *filter(None, [env.get("PYTHONPATH")])])
    return env


@pytest.mark.timeout(900)
def test_penguin_on_two_celery_workers_records_what_a_local_run_records(
    redis_url: str, start_workers: Callable[..., list[Worker]], cli_env: dict[str, str], tmp_path: Path
) -> None:
    workers = start_workers(2)
    env = _runner_env(cli_env)
    ran = subprocess.run(
        [SLUICEWAY, "run", PENGUIN, "--runner", "celery", "--broker", redis_url, "--run-name", "on-celery", "-q"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=800,
    )
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    local_env = {**env, "SLUICEWAY_STORE": f"sqlite:///{tmp_path / 'local.db'}",
                 "SLUICEWAY_ARTIFACT_ROOT": str(tmp_path / "local-artifacts")}
    local = subprocess.run([SLUICEWAY, "run", PENGUIN, "--run-name", "local", "-q"],
                           env=local_env, cwd=REPO, capture_output=True, text=True, timeout=800)
    assert local.returncode == 0, local.stderr[-3000:]
    on_celery = run_summary(env["SLUICEWAY_STORE"], "on-celery")
    assert on_celery["state"] == "COMPLETE" and len(on_celery["components"]) == 9
    assert on_celery == run_summary(local_env["SLUICEWAY_STORE"], "local")
    # The components ran in the workers' processes (each worker is its own process group), not in the runner's.
    store = MetadataStore(env["SLUICEWAY_STORE"])
    try:
        pids = {e.pid for e in store.executions(store.get_run("on-celery").id, with_artifacts=False)}
    finally:
        store.close()
    assert pids and {os.getpgid(pid) for pid in pids} <= {w.process.pid for w in workers}  # workers' pool children


@pytest.mark.timeout(600)
def test_killing_the_worker_mid_task_makes_the_other_worker_run_it(
    redis_url: str, start_workers: Callable[..., list[Worker]], cli_env: dict[str, str], tmp_path: Path
) -> None:
    fifo = tmp_path / "hold.fifo"
    os.mkfifo(fifo)
    hold_env = {"SLUICEWAY_TEST_HOLD_MARKER": str(tmp_path / "held"), "SLUICEWAY_TEST_HOLD_FIFO": str(fifo)}
    workers = start_workers(2, visibility_timeout=10, **hold_env)
    env = _runner_env(cli_env, **hold_env)
    runner = subprocess.Popen(
        [SLUICEWAY, "run", HOLD, "--runner", "celery", "--broker", redis_url, "--run-name", "held", "-q"],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        with open(fifo) as pipe:  # blocks until `hold` runs on one of the workers
            held_pid = int(pipe.read())
        holder = next(w for w in workers if os.getpgid(held_pid) == w.process.pid)
        holder.kill()
        out, err = runner.communicate(timeout=300)
    finally:
        if runner.poll() is None:
            runner.kill()
    assert runner.returncode == 0, out[-3000:] + err[-3000:]
    store = MetadataStore(env["SLUICEWAY_STORE"])
    try:
        run = store.get_run("held")
        executions = [(e.component_id, e.state, e.pid) for e in store.executions(run.id, with_artifacts=False)]
    finally:
        store.close()
    assert run.state == "COMPLETE"
    assert [(cid, state) for cid, state, _ in executions] == [
        ("hold", "ABANDONED"), ("hold", "COMPLETE"), ("count", "COMPLETE")
    ]
    assert executions[0][2] == held_pid and executions[1][2] != held_pid  # the other worker's process


@pytest.mark.timeout(600)
def test_a_failed_component_is_retried_by_celery_and_the_store_records_each_try(
    redis_url: str, start_workers: Callable[..., list[Worker]], cli_env: dict[str, str], tmp_path: Path
) -> None:
    calls = tmp_path / "calls"
    start_workers(2, SLUICEWAY_TEST_FLAKY_FAILURES="1", SLUICEWAY_TEST_FLAKY_COUNTER=str(calls))
    env = _runner_env(cli_env)
    ran = subprocess.run(
        [SLUICEWAY, "run", "tests/export/export_pipelines.py", "--runner", "celery", "--broker", redis_url,
         "--run-name", "retried", "-q"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert calls.read_text() == "2"  # one failure, then Celery's retry (the component has retries=2)
    store = MetadataStore(env["SLUICEWAY_STORE"])
    try:
        run = store.get_run("retried")
        tries = [(e.component_id, e.state, e.attempts) for e in store.executions(run.id, with_artifacts=False)]
    finally:
        store.close()
    assert run.state == "COMPLETE"
    assert tries == [("produce", "COMPLETE", 1), ("check", "COMPLETE", 1), ("flaky", "FAILED", 1),
                     ("flaky", "COMPLETE", 1)]


def test_the_runner_option_says_what_it_accepts(cli_env: dict[str, str]) -> None:
    env = {k: v for k, v in _runner_env(cli_env).items() if k != "SLUICEWAY_CELERY_BROKER"}
    unknown = subprocess.run([SLUICEWAY, "run", HOLD, "--runner", "dask"], env=env, cwd=REPO,
                             capture_output=True, text=True, timeout=120)
    assert unknown.returncode == 2 and "--runner must be 'local', 'celery' or 'ray'. Got 'dask'" in unknown.stderr
    no_broker = subprocess.run([SLUICEWAY, "run", HOLD, "--runner", "celery"], env=env, cwd=REPO,
                               capture_output=True, text=True, timeout=120)
    assert no_broker.returncode == 2 and "needs a broker URL" in no_broker.stderr
    stray = subprocess.run([SLUICEWAY, "run", HOLD, "--broker", "redis://127.0.0.1:1/0"], env=env, cwd=REPO,
                           capture_output=True, text=True, timeout=120)
    assert stray.returncode == 2 and "--broker is for --runner celery" in stray.stderr
    assert env["SLUICEWAY_STORE"].startswith("sqlite:///")
    assert not Path(env["SLUICEWAY_STORE"].removeprefix("sqlite:///")).exists()  # refused before recording a run


def test_the_api_takes_a_target_the_workers_can_load_not_a_pipeline_object(tmp_path: Path) -> None:
    import sluiceway as sw
    from celery_pipelines import create_cancel_pipeline

    runner = sw.CeleryRunner(broker="redis://127.0.0.1:1/0", store=f"sqlite:///{tmp_path / 'md.db'}",
                             artifact_root=tmp_path / "artifacts")
    with pytest.raises(sw.RunError, match=r"CeleryRunner.run needs the pipeline's target .* not a Pipeline: the "
                                          r"workers load the pipeline from it"):
        runner.run(create_cancel_pipeline())  # type: ignore[arg-type]
    assert not (tmp_path / "md.db").exists(), "refused before anything was recorded"


@pytest.mark.timeout(600)
def test_a_component_over_the_time_limit_fails_with_celerys_soft_time_limit(
    redis_url: str, start_workers: Callable[..., list[Worker]], cli_env: dict[str, str], tmp_path: Path
) -> None:
    from sluiceway.runners.celery import CeleryRunner

    fifo = tmp_path / "hold.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # `hold` can open its end at once; nobody reads
    hold_env = {"SLUICEWAY_TEST_HOLD_MARKER": str(tmp_path / "held"), "SLUICEWAY_TEST_HOLD_FIFO": str(fifo)}
    try:
        start_workers(2, **hold_env)
        runner = CeleryRunner(broker=redis_url, store=cli_env["SLUICEWAY_STORE"],
                              artifact_root=cli_env["SLUICEWAY_ARTIFACT_ROOT"], timeout_seconds=3)
        run = runner.run(str(REPO / HOLD), run_name="limited")
    finally:
        os.close(reader)
    assert run.state == "FAILED" and run.not_run == ["count"]
    held = run["hold"]
    assert held.state == "FAILED" and "SoftTimeLimitExceeded" in (held.error or "")


@pytest.mark.timeout(600)
def test_a_component_that_ignores_the_soft_limit_is_killed_at_the_hard_limit_and_recorded_failed(
    redis_url: str, start_workers: Callable[..., list[Worker]], cli_env: dict[str, str], tmp_path: Path
) -> None:
    from sluiceway.runners.celery import CeleryRunner

    fifo = tmp_path / "hold.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # `hold` can open its end at once; nobody reads
    hold_env = {"SLUICEWAY_TEST_HOLD_MARKER": str(tmp_path / "held"), "SLUICEWAY_TEST_HOLD_FIFO": str(fifo),
                "SLUICEWAY_TEST_HOLD_STUBBORN": "1"}
    try:
        start_workers(2, **hold_env)
        runner = CeleryRunner(broker=redis_url, store=cli_env["SLUICEWAY_STORE"],
                              artifact_root=cli_env["SLUICEWAY_ARTIFACT_ROOT"], timeout_seconds=2,
                              kill_after_seconds=2)
        run = runner.run(str(REPO / HOLD), run_name="killed")
    finally:
        os.close(reader)
    assert run.state == "FAILED" and run.not_run == ["count"]
    held = run["hold"]
    # Celery killed the pool process at the hard limit; the runner recorded what that process could not.
    assert held.state == "FAILED" and "TimeLimitExceeded" in (held.error or ""), held.error
    assert held.pid == int((tmp_path / "held").read_text())  # the execution the killed process started
    store = MetadataStore(cli_env["SLUICEWAY_STORE"])
    try:
        assert [e.state for e in store.executions(run.id, with_artifacts=False)] == ["FAILED"]
    finally:
        store.close()


CANCEL = f"{HOLD}:create_cancel_pipeline"


def _poll(
    condition: Callable[[], Any],
    what: str,
    timeout: float = 120.0,
    alive: subprocess.Popen[str] | None = None,
    seen: Callable[[], Any] | None = None,
) -> Any:
    """Wait for ``condition()`` to return something truthy (checked every 50 ms); fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if alive is not None and alive.poll() is not None:
            raise AssertionError(f"the runner exited {alive.returncode} waiting for {what}: {alive.communicate()}")
        if time.monotonic() > deadline:
            last = f": saw {seen()}" if seen else ""
            raise AssertionError(f"timed out after {timeout} s waiting for {what}{last}")
        time.sleep(0.05)


def _task_outcomes(redis_url: str) -> list[str]:
    """What the workers stored for the tasks they took (Celery's result backend, in the same Redis), sorted:
    ``SUCCESS:<execution state>`` or Celery's state (REVOKED: a worker dropped the message)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        metas = [json.loads(client.get(key)) for key in client.keys("celery-task-meta-*")]
    finally:
        client.close()
    return sorted(f"SUCCESS:{m['result']['state']}" if m["status"] == "SUCCESS" else m["status"] for m in metas)


def _queued(redis_url: str) -> int:
    """How many task messages wait in the default queue, taken by no worker."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        return int(client.llen("celery"))
    finally:
        client.close()


def _executions(store_url: str, run_name: str) -> tuple[str, list[tuple[str, str]]]:
    store = MetadataStore(store_url)
    try:
        run = store.get_run(run_name)
        return run.state, sorted((e.component_id, e.state) for e in store.executions(run.id, with_artifacts=False))
    finally:
        store.close()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("late_worker", [False, True], ids=["revoked", "worker-started-after-the-revocation"])
def test_ctrl_c_cancels_the_run_stops_queued_tasks_and_lets_running_ones_finish(
    late_worker: bool,
    redis_url: str,
    start_workers: Callable[..., list[Worker]],
    cli_env: dict[str, str],
    tmp_path: Path,
) -> None:
    """Ctrl-C while two slots run on the two workers and the third waits in the queue, `gather` not sent.

    The queued task is revoked: the worker that frees first drops it. A worker started after the revocation
    never heard of it (Celery keeps revocations in the memory of the workers connected then): it takes the
    message at once and the task itself must refuse to run in a CANCELED run.
    """
    from sluiceway.runners.celery import make_app

    import redis

    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()  # the server is the module's: forget the queue and results of the tests before
    slots = tmp_path / "slots"
    slots.mkdir()
    workers = start_workers(2, SLUICEWAY_TEST_CANCEL_DIR=str(slots))
    env = _runner_env(cli_env)
    store_url = env["SLUICEWAY_STORE"]
    args = [SLUICEWAY, "run", CANCEL, "--runner", "celery", "--broker", redis_url, "--parallelism", "4", "-q"]
    runner = subprocess.Popen([*args, "--run-name", "stopped"], env=env, cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _poll(lambda: all((slots / f"held-{i}").exists() for i in range(2)), "two slots to start", alive=runner)
        _poll(lambda: _queued(redis_url) == 1, "the third slot's task to be queued", alive=runner)
        runner.send_signal(signal.SIGINT)
        out, err = runner.communicate(timeout=60)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.communicate()
    held = sorted(f"slot_{(slots / f'held-{i}').read_text()}" for i in range(2))
    (queued,) = {"slot_a", "slot_b", "slot_c"} - set(held)
    assert runner.returncode == 130, out[-3000:] + err[-3000:]
    assert "interrupted:" in err and "run stopped is CANCELED" in err and "--resume stopped" in err, err
    # The run is CANCELED at once, while the held slots still run on their workers (and say so).
    assert _executions(store_url, "stopped") == ("CANCELED", [(cid, "RUNNING") for cid in held])

    if late_worker:
        workers += start_workers(1, SLUICEWAY_TEST_CANCEL_DIR=str(slots))
        # It takes the queued message at once, while the two others are still held, and runs nothing.
        _poll(lambda: "SUCCESS:CANCELED" in _task_outcomes(redis_url), "the new worker to take the queued task")
        assert _queued(redis_url) == 0
    (slots / "release").touch()
    _poll(lambda: all(s != "RUNNING" for _, s in _executions(store_url, "stopped")[1]), "the slots to end")
    # Every message is consumed and every worker idle: whatever would run the queued slot has had its chance.
    expected = sorted(["SUCCESS:CANCELED" if late_worker else "REVOKED", "SUCCESS:COMPLETE", "SUCCESS:COMPLETE"])
    _poll(lambda: _task_outcomes(redis_url) == expected, f"the tasks' outcomes {expected}",
          seen=lambda: _task_outcomes(redis_url))
    assert _queued(redis_url) == 0
    app = make_app(redis_url)
    try:
        inspect = app.control.inspect(timeout=10.0, limit=len(workers))  # returns once every worker answered
        active = _poll(inspect.active, "the workers to answer")
    finally:
        app.close()
    assert sorted(active) == sorted(f"{w.name}@{socket.gethostname()}" for w in workers), active
    assert not any(active.values()), active
    assert _executions(store_url, "stopped") == ("CANCELED", [(cid, "COMPLETE") for cid in held])
    assert sorted((slots / "started.log").read_text().split()) == sorted(cid.removeprefix("slot_") for cid in held)

    resumed = subprocess.run([*args, "--resume", "stopped"], env=env, cwd=REPO, capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    state, executions = _executions(store_url, "stopped")
    assert state == "COMPLETE"
    # The slots that finished after the interrupt are reused as they are: one execution each, not started again.
    assert executions == sorted([*[(cid, "COMPLETE") for cid in held], (queued, "COMPLETE"), ("gather", "COMPLETE")])
    assert sorted((slots / "started.log").read_text().split()) == ["a", "b", "c"]
