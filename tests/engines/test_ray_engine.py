"""The Ray engine on a real local cluster, every result compared with the in-process engine's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import ray_tasks

import sluiceway.transform as T
from sluiceway.data.engine import InProcessEngine, default_engine, plan_fragments, use_engine
from sluiceway.data.statistics import compute_statistics
from sluiceway.errors import ConfigError, DataError
from sluiceway.transform.fit import apply_to_files, column_kinds, fit, trace

pytestmark = [pytest.mark.integration, pytest.mark.ray]


def _files(folder: Path) -> list[str]:
    return sorted(str(f) for f in folder.glob("*.parquet"))


def test_statistics_are_byte_identical_to_the_in_process_engine(
    ray_address: str, flights_dir: Path, tmp_path: Path
) -> None:
    from sluiceway.data.ray_engine import RayEngine

    options = {"slice_by": "origin", "weight_column": "distance"}
    local = compute_statistics(str(flights_dir), engine="local", **options)
    on_ray = compute_statistics(str(flights_dir), engine=RayEngine(ray_address), **options)
    local.write_json(tmp_path / "local.json")
    on_ray.write_json(tmp_path / "ray.json")
    assert (tmp_path / "ray.json").read_bytes() == (tmp_path / "local.json").read_bytes()
    whole = on_ray.dataset("all")
    assert whole.num_examples == 336_776
    assert {d.name for d in on_ray.datasets} >= {"all", "all/origin=JFK", "all/origin=EWR", "all/origin=LGA"}


def test_engine_ray_reads_the_address_from_the_environment(
    ray_address: str, flights_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sluiceway.data.ray_engine import RayEngine

    monkeypatch.setenv("RAY_ADDRESS", ray_address)
    engine = default_engine("ray")
    assert isinstance(engine, RayEngine) and engine.address == ray_address and engine.parallelism == 2
    fragments = plan_fragments(_files(flights_dir))
    pieces = engine.map_reduce(fragments, ray_tasks.where_and_rows, ray_tasks.concatenate)
    assert pieces is not None
    # merged in fragment order, whatever order the tasks finished in; every piece mapped by a Ray worker
    assert [(name, group, rows) for name, group, rows, _ in pieces] == [
        (Path(f.path).name, f.row_groups[0], f.num_rows) for f in fragments if f.row_groups
    ]
    assert os.getpid() not in {pid for *_, pid in pieces}
    assert sum(rows for _, _, rows, _ in pieces) == 336_776
    local = InProcessEngine().map_reduce(fragments, ray_tasks.where_and_rows, ray_tasks.concatenate)
    assert local is not None and [p[:3] for p in local] == [p[:3] for p in pieces]


def test_selected_engine_is_what_default_engine_returns(ray_address: str) -> None:
    from sluiceway.data.ray_engine import RayEngine

    with use_engine("ray"):
        assert isinstance(default_engine(), RayEngine)
        assert isinstance(default_engine("local"), InProcessEngine)  # an explicit argument wins
    assert isinstance(default_engine(), InProcessEngine)


def test_in_flight_tasks_are_bounded(ray_address: str, flights_dir: Path) -> None:
    from sluiceway.data.ray_engine import RayEngine

    fragments = plan_fragments(_files(flights_dir)[:1])
    assert len(fragments) >= 3
    spans = RayEngine(ray_address, max_in_flight=1).map_reduce(fragments, ray_tasks.timed, ray_tasks.concatenate)
    assert spans is not None and len(spans) == len(fragments)
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert start >= end  # one task at a time: each started after the previous one ended


def test_an_error_in_a_task_names_the_fragment(ray_address: str, flights_dir: Path) -> None:
    from sluiceway.data.ray_engine import RayEngine

    engine = RayEngine(ray_address)
    first = _files(flights_dir)[0]
    fragments = plan_fragments([first])
    with pytest.raises(DataError, match=r"part-0\.parquet row group 1 .*ValueError: bad value in this row group"):
        engine.map_reduce(fragments, ray_tasks.fails_on_second_row_group, ray_tasks.add)
    refused = r"part-0\.parquet row group \d .*DataError: the column 'dep_delay' has a negative count"
    with pytest.raises(DataError, match=refused):
        engine.map_reduce(fragments, ray_tasks.refuses_data, ray_tasks.add)
    os.rename(first, first + ".moved")  # the worker, not the driver, finds the file missing
    try:
        with pytest.raises(DataError, match=r"Parquet file not found: .*part-0\.parquet"):
            engine.map_reduce(fragments, ray_tasks.where_and_rows, ray_tasks.concatenate)
    finally:
        os.rename(first + ".moved", first)
    assert engine.map_reduce([], ray_tasks.where_and_rows, ray_tasks.concatenate, initial=["empty"]) == ["empty"]


def test_bad_ray_engine_parameters_are_refused() -> None:
    from sluiceway.data.ray_engine import RayEngine

    with pytest.raises(ConfigError, match=r"'max_in_flight' parameter of RayEngine must be an int >= 1.*Got 0"):
        RayEngine(max_in_flight=0)
    with pytest.raises(ConfigError, match=r"'address' parameter of RayEngine must be a Ray address.*Got ''"):
        RayEngine("")
    with pytest.raises(ConfigError, match=r"'num_cpus' parameter of RayEngine must be a number > 0. Got -1"):
        RayEngine(num_cpus=-1)


def preprocessing_fn(inputs: dict) -> dict:
    return {
        "delay_z": T.scale_to_z_score(inputs["dep_delay"]),
        "distance_01": T.scale_to_0_1(inputs["distance"]),
        "carrier_id": T.compute_and_apply_vocabulary(inputs["carrier"], top_k=10, num_oov_buckets=1),
        "air_time_bucket": T.bucketize(inputs["air_time"], num_buckets=8),
        "origin_hash": T.hash_strings(inputs["origin"], 7),
        "late_share": inputs["arr_delay"] - T.mean(inputs["arr_delay"]),
    }


def test_transform_fits_and_applies_the_same_on_ray(ray_address: str, flights_dir: Path, tmp_path: Path) -> None:
    from sluiceway.data.ray_engine import RayEngine

    files = _files(flights_dir)
    outputs = trace(preprocessing_fn, column_kinds(files))
    local = fit(outputs, files, engine="local")
    on_ray = fit(outputs, files, engine=RayEngine(ray_address))
    assert on_ray.constants == local.constants
    local.save(tmp_path / "local-graph")
    on_ray.save(tmp_path / "ray-graph")
    assert json.loads((tmp_path / "ray-graph" / "transform_graph.json").read_text()) == json.loads(
        (tmp_path / "local-graph" / "transform_graph.json").read_text()
    )
    rows_local = apply_to_files(local, files, tmp_path / "local-out", engine="local")
    rows_ray = apply_to_files(on_ray, files, tmp_path / "ray-out", engine=RayEngine(ray_address))
    assert rows_ray == rows_local == 336_776
    written_local = sorted(p.name for p in (tmp_path / "local-out").iterdir())
    assert sorted(p.name for p in (tmp_path / "ray-out").iterdir()) == written_local and len(written_local) == 9
    for name in written_local:  # the Ray workers wrote the same parts, byte for byte
        assert (tmp_path / "ray-out" / name).read_bytes() == (tmp_path / "local-out" / name).read_bytes()


_INTERRUPTED_DRIVER = """
import sys
from sluiceway.data.engine import plan_fragments
from sluiceway.data.ray_engine import RayEngine
from ray_tasks import WaitForRelease, add

folder, data = sys.argv[1], sys.argv[2]
fragments = plan_fragments([data])
print(len(fragments), flush=True)
try:
    RayEngine(max_in_flight=2).map_reduce(fragments, WaitForRelease(folder), add)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
"""


def test_ctrl_c_cancels_the_running_tasks(ray_address: str, flights_dir: Path, tmp_path: Path) -> None:
    """A second driver, connected by address, is interrupted while its tasks run: they are cancelled."""
    env = {
        **os.environ,
        "RAY_ADDRESS": ray_address,
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]),
    }
    driver = subprocess.Popen(
        [sys.executable, "-c", _INTERRUPTED_DRIVER, str(tmp_path), _files(flights_dir)[0]],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while len(list(tmp_path.glob("started-*"))) < 2:  # both tasks the window allows are running
            assert driver.poll() is None, driver.communicate()
            assert time.monotonic() < deadline, "the Ray tasks did not start"
            time.sleep(0.05)
        driver.send_signal(signal.SIGINT)
        out, err = driver.communicate(timeout=60)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode == 130, err
    assert out.split() == ["3", "interrupted"]
    started = sorted(p.name.split("-")[1] for p in tmp_path.glob("started-*"))
    assert started == ["0", "1"]  # at most max_in_flight=2 tasks were ever submitted
    # the driver waited for the cancellation before returning: both running tasks were interrupted
    assert sorted(p.name.split("-")[1] for p in tmp_path.glob("cancelled-*")) == started


_HOOKS_DRIVER = """
import signal, sys
from sluiceway.data.ray_engine import RayEngine
before = (signal.getsignal(signal.SIGTERM), sys.excepthook)
RayEngine().connect()
import ray
assert ray.is_initialized()
print(before == (signal.getsignal(signal.SIGTERM), sys.excepthook))
"""


def test_joining_the_cluster_leaves_the_process_hooks_alone(ray_address: str) -> None:
    """ray.init installs its own SIGTERM handler and sys.excepthook; they are the application's to set."""
    result = subprocess.run(
        [sys.executable, "-c", _HOOKS_DRIVER], env={**os.environ, "RAY_ADDRESS": ray_address},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"
