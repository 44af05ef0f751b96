"""Artifacts in a bucket: the real `sluiceway` command against a real S3 API (moto's server on 127.0.0.1)."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import fsspec
import pytest

import sluiceway as sw
from sluiceway.metadata.store import ExecutionRecord, MetadataStore
from sluiceway.runners.gc import PARTIAL_DOWNLOAD, STALE_COPY, STALE_STAGING

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runners"))
from clitools import SAMPLE, kill_at_fault_point, run_cli  # noqa: E402
from s3_keys import s3_keys  # noqa: E402

pytestmark = pytest.mark.integration
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "penguin" / "pipeline.py"


def _executions(store_url: str, run_name: str) -> dict[str, ExecutionRecord]:
    store = MetadataStore(store_url)
    try:
        return {e.component_id: e for e in store.executions(store.get_run(run_name).id)}
    finally:
        store.close()


def test_penguin_runs_with_its_artifacts_in_the_bucket_and_a_second_run_is_all_cached(
    s3_cli_env: dict[str, str], s3_root: str, tmp_path: Path
) -> None:
    env = {**s3_cli_env, "PYTHONPATH": str(Path(sw.__file__).resolve().parents[1])}
    first = run_cli(["run", str(EXAMPLE), "--json", "--run-name", "first"], env, cwd=tmp_path, timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    executions = _executions(env["SLUICEWAY_STORE"], "first")
    assert {e.state for e in executions.values()} == {"COMPLETE"}, executions
    for execution in executions.values():  # every recorded output lives in the bucket, complete
        for artifact in execution.outputs.values():
            assert artifact.uri.startswith(f"{s3_root}/penguin/{execution.component_id}/"), artifact.uri
    keys = s3_keys(s3_root)
    bucket_path = s3_root.removeprefix("s3://")
    assert not [k for k in keys if k.startswith(f"{bucket_path}/.staging/")], "staging prefixes are cleaned up"
    (model_uri,) = [a.uri for a in executions["Trainer"].outputs.values()]
    assert f"{model_uri.removeprefix('s3://')}/bundle.json" in keys
    assert not (tmp_path / "artifacts").exists(), "no local artifact root"
    # The model, fetched from the bucket as a user would, predicts.
    fs, path = fsspec.core.url_to_fs(model_uri)
    fs.get(path, str(tmp_path / "model"), recursive=True)
    model = sw.load_model(tmp_path / "model")
    assert model.classes == ["Adelie", "Chinstrap", "Gentoo"]
    evaluation_uri = executions["Evaluator"].outputs["evaluation"].uri
    evaluation = json.loads(fs.cat_file(f"{evaluation_uri}/{sw.ModelEvaluation.FILENAME}"))
    overall = next(s for s in evaluation["candidate"]["slices"] if s["name"] == "Overall")
    assert overall["metrics"]["accuracy"] >= 0.9 and evaluation["blessed"] is True
    assert executions["Pusher"].outputs["pushed_model"].properties["pushed"] is True  # read from the bucket

    second = run_cli(["run", str(EXAMPLE), "--json", "--run-name", "second"], env, cwd=tmp_path, timeout=300)
    assert second.returncode == 0, second.stdout + second.stderr
    again = _executions(env["SLUICEWAY_STORE"], "second")
    # Everything comes from the cache (the Evaluator too: the cached model is never its own baseline) but
    # the Pusher (cache=False: it always checks what is serving).
    assert {cid: e.state for cid, e in again.items()} == {
        cid: "COMPLETE" if cid == "Pusher" else "CACHED" for cid in executions
    }
    written = set(s3_keys(s3_root)) - set(keys)
    assert written and all(k.startswith(f"{bucket_path}/penguin/Pusher/") for k in written), written
    assert not [k for k in keys if k not in s3_keys(s3_root)], "nothing was removed"


def test_exec_runs_one_component_at_a_time_against_the_bucket(s3_cli_env: dict[str, str], s3_root: str) -> None:
    """What an Airflow or Kubeflow task does: each component in its own process, inputs read from the bucket."""
    for component in ("produce", "nap_a"):
        result = run_cli(["exec", "--pipeline", str(SAMPLE), "--component", component, "--run", "task-run"], s3_cli_env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.startswith(f"COMPLETE {component}"), result.stdout
    executions = _executions(s3_cli_env["SLUICEWAY_STORE"], "task-run")
    model = executions["nap_a"].outputs["model"]
    assert model.uri.startswith(f"{s3_root}/sample/nap_a/model/")
    fs, path = fsspec.core.url_to_fs(model.uri)
    fs.invalidate_cache()
    assert fs.cat_file(f"{path}/model.txt").decode() == "\n".join(str(i) for i in range(10))  # read from its input
    # The input was downloaded once into the local read cache, marked complete after the download.
    examples = executions["produce"].outputs["examples"]
    (marker,) = Path(s3_cli_env["SLUICEWAY_CACHE_DIR"]).rglob(f"inputs/{examples.id}.complete")
    assert marker.read_text() == examples.uri
    assert (marker.parent / str(examples.id) / "Split-train" / "rows.txt").is_file()


def test_a_kill_mid_upload_records_nothing_and_gc_then_resume_clean_up(
    s3_cli_env: dict[str, str], s3_root: str, tmp_path: Path
) -> None:
    marker = tmp_path / "reached"
    status = kill_at_fault_point(
        ["run", str(SAMPLE), "--run-name", "killed"], s3_cli_env, "remote-upload", marker, timeout=120
    )
    assert status == -9
    store = MetadataStore(s3_cli_env["SLUICEWAY_STORE"])
    try:
        assert store.list_artifacts() == [], "nothing recorded: readers see no half-uploaded artifact"
    finally:
        store.close()
    bucket_path = s3_root.removeprefix("s3://")
    assert [k for k in s3_keys(s3_root) if k.startswith(f"{bucket_path}/.staging/")], "the upload was cut short"

    preview = run_cli(["gc", "--json"], s3_cli_env)
    assert preview.returncode == 0, preview.stdout + preview.stderr
    found = json.loads(preview.stdout)
    remote = [item for item in found["garbage"] if item["path"].startswith(f"{s3_root}/")]
    local = [item for item in found["garbage"] if not item["path"].startswith(f"{s3_root}/")]
    assert remote, found
    # the killed process's local staging copy in this machine's cache folder goes too
    assert [(item["reason"], Path(item["path"]).parent.name) for item in local] == [(STALE_STAGING, "staging")], found
    assert all(item["path"].startswith(s3_cli_env["SLUICEWAY_CACHE_DIR"]) for item in local), found
    cleaned = run_cli(["gc", "--yes"], s3_cli_env)
    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
    assert s3_keys(s3_root) == [], "gc removed every unrecorded prefix"

    resumed = run_cli(["run", str(SAMPLE), "--resume", "killed"], s3_cli_env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    executions = _executions(s3_cli_env["SLUICEWAY_STORE"], "killed")
    assert executions["join"].state == "COMPLETE"
    fs, path = fsspec.core.url_to_fs(executions["join"].outputs["report"].uri)
    fs.invalidate_cache()
    assert json.loads(fs.cat_file(f"{path}/report.json")) == {"a": True, "b": True}
    after = run_cli(["gc", "--json"], s3_cli_env)
    assert json.loads(after.stdout)["garbage"] == [], "a completed run leaves no garbage"


def test_a_missing_bucket_fails_the_run_clearly_before_anything_is_recorded(s3_cli_env: dict[str, str]) -> None:
    env = {**s3_cli_env, "SLUICEWAY_ARTIFACT_ROOT": "s3://sw-no-such-bucket/artifacts"}
    result = run_cli(["run", str(SAMPLE), "--run-name", "nowhere"], env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "bucket 'sw-no-such-bucket' does not exist" in " ".join(result.stderr.split()), result.stderr
    store = MetadataStore(env["SLUICEWAY_STORE"])
    try:
        assert store.list_artifacts() == []
        assert store.executions(store.get_run("nowhere").id) == [], "no execution was started"
    finally:
        store.close()


def test_an_output_with_no_files_still_exists_in_the_bucket_so_the_cache_finds_it(
    s3_cli_env: dict[str, str], s3_root: str
) -> None:
    for run_name in ("one", "two"):  # fail_if_told writes no file: its blessing is only a property
        result = run_cli(["run", str(SAMPLE), "--run-name", run_name], s3_cli_env)
        assert result.returncode == 0, result.stdout + result.stderr
    blessing = _executions(s3_cli_env["SLUICEWAY_STORE"], "one")["fail_if_told"].outputs["blessing"]
    assert s3_keys(blessing.uri) == [f"{blessing.uri.removeprefix('s3://')}/.sluiceway-empty"]
    again = _executions(s3_cli_env["SLUICEWAY_STORE"], "two")
    assert {e.state for e in again.values()} == {"CACHED"}, {cid: e.state for cid, e in again.items()}


def test_gc_clears_this_machines_leftovers_of_a_remote_root_but_keeps_live_copies(
    s3_cli_env: dict[str, str], s3_root: str
) -> None:
    """The local cache of a remote root: stale staging, a cut-short download and copies of deleted artifacts go."""
    result = run_cli(["run", str(SAMPLE), "--run-name", "cached"], s3_cli_env)
    assert result.returncode == 0, result.stdout + result.stderr
    inputs = next(Path(s3_cli_env["SLUICEWAY_CACHE_DIR"]).rglob("inputs"))
    copies = {int(p.name): p for p in inputs.iterdir() if p.is_dir()}
    assert len(copies) >= 2, "the run downloaded its inputs into the read cache"
    deleted_id, live_id = sorted(copies)[:2]
    db_path = s3_cli_env["SLUICEWAY_STORE"].removeprefix("sqlite:///")
    with sqlite3.connect(db_path) as db:  # what deleting a run would do to its artifacts
        db.execute("UPDATE artifacts SET state = 'DELETED' WHERE id = ?", (deleted_id,))
    partial = inputs / "999999.partial"  # a download killed before it completed
    (partial / "Split-train").mkdir(parents=True)
    (partial / "Split-train" / "part.parquet").write_bytes(b"half")
    stale = inputs.parent / "staging" / "424242"  # the local staging of an execution that is not RUNNING
    stale.mkdir(parents=True)
    (stale / "out.bin").write_bytes(b"x" * 10)

    dry = run_cli(["gc", "--json"], s3_cli_env)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    local = {Path(item["path"]): item["reason"] for item in json.loads(dry.stdout)["garbage"]
             if not item["path"].startswith(f"{s3_root}/")}
    assert local == {copies[deleted_id]: STALE_COPY, partial: PARTIAL_DOWNLOAD, stale: STALE_STAGING}, local
    assert all(path.exists() for path in local), "a dry run deleted something"

    done = run_cli(["gc", "--yes"], s3_cli_env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not [path for path in local if path.exists()], "gc --yes removed the local leftovers"
    assert not (inputs / f"{deleted_id}.complete").exists(), "the marker went with its copy"
    assert copies[live_id].is_dir() and (inputs / f"{live_id}.complete").is_file(), "a live artifact's copy stays"
    again = run_cli(["run", str(SAMPLE), "--run-name", "after-gc", "--no-cache"], s3_cli_env)
    assert again.returncode == 0, again.stdout + again.stderr


@pytest.mark.parametrize("runner", ["celery", "ray"])
def test_the_worker_tasks_of_the_dispatching_runners_use_the_bucket(
    runner: str, s3_root: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The function a Celery or Ray worker runs, called here, on a bucket root: outputs go to the bucket."""
    pytest.importorskip(runner, reason=f"the {runner} extra")
    monkeypatch.setenv("SLUICEWAY_CACHE_DIR", str(tmp_path / "cache"))
    store = f"sqlite:///{tmp_path / 'md.db'}"
    arguments = {"pipeline": str(SAMPLE), "component": "produce", "run": f"{runner}-task", "store": store,
                 "artifact_root": s3_root, "cache": True}
    if runner == "celery":
        from types import SimpleNamespace

        from sluiceway.runners.celery import exec_component_task

        # What Celery binds as the task's first argument: only its delivery facts are read.
        delivery = SimpleNamespace(request=SimpleNamespace(delivery_info={}, retries=0))
        outcome = exec_component_task(delivery, **arguments)
    else:
        from sluiceway.runners.ray import exec_component_task as ray_task

        outcome = ray_task(**arguments, engine=None)
    assert outcome["state"] == "COMPLETE", outcome
    (examples,) = _executions(store, f"{runner}-task")["produce"].outputs.values()
    assert examples.uri.startswith(f"{s3_root}/sample/produce/examples/"), examples.uri
    assert f"{examples.uri.removeprefix('s3://')}/Split-train/rows.txt" in s3_keys(s3_root)
