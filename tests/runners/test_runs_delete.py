"""`sluiceway runs delete`: a run's artifacts marked DELETED unless another run uses them; gc then frees them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from sluiceway.metadata.store import MetadataStore
from sluiceway.runners.gc import DELETED_ARTIFACT

from clitools import SAMPLE, run_cli, start_run

pytestmark = pytest.mark.integration


def _states(store_url: str) -> dict[int, str]:
    with MetadataStore(store_url) as store:
        return {a.id: str(a.state) for a in store.list_artifacts(limit=10_000)}


def _produced(store_url: str, run_name: str) -> set[int]:
    with MetadataStore(store_url) as store:
        executions = store.executions(store.get_run(run_name).id)
    return {a.id for e in executions if e.cached_from is None for a in e.outputs.values()}


def test_deleting_runs_marks_only_what_no_other_run_uses_and_gc_frees_it(cli_env: dict[str, str]) -> None:
    url = cli_env["SLUICEWAY_STORE"]
    for args in (["--run-name", "one"], ["--run-name", "two"], ["--run-name", "three", "--no-cache"]):
        assert run_cli(["run", str(SAMPLE), *args], cli_env).returncode == 0
    one, three = _produced(url, "one"), _produced(url, "three")
    assert one and three and not _produced(url, "two"), "two reused everything of one from the cache"
    before = _states(url)

    dry = run_cli(["runs", "delete", "three", "--json"], cli_env)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert json.loads(dry.stdout) == [{"run": "three", "deleted": False, "artifacts_deleted": sorted(three),
                                       "artifacts_kept": []}]
    assert _states(url) == before, "a dry run changed nothing"

    done = run_cli(["runs", "delete", "three", "--yes"], cli_env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Deleted run three and {len(three)} artifacts" in done.stdout and "sluiceway gc --yes" in done.stdout
    states = _states(url)
    assert {a for a, s in states.items() if s == "DELETED"} == three
    listed = json.loads(run_cli(["runs", "list", "--json"], cli_env).stdout)
    assert [r["name"] for r in listed] == ["two", "one"], "a deleted run is not listed"
    every = json.loads(run_cli(["runs", "list", "--all", "--json"], cli_env).stdout)
    assert {r["name"]: r["state"] for r in every}["three"] == "DELETED"
    shown = json.loads(run_cli(["runs", "show", "three", "--json"], cli_env).stdout)
    assert shown["state"] == "DELETED" and shown["properties"]["state_before_delete"] == "COMPLETE"

    with MetadataStore(url) as store:
        folders = {Path(store.get_artifact(a).uri) for a in three}
        kept_folders = {Path(store.get_artifact(a).uri) for a in one}
    gc = run_cli(["gc", "--json"], cli_env)
    assert {Path(g["path"]): g["reason"] for g in json.loads(gc.stdout)["garbage"]} == dict.fromkeys(
        folders, DELETED_ARTIFACT)
    assert run_cli(["gc", "--yes"], cli_env).returncode == 0
    assert not [f for f in folders if f.exists()] and all(f.exists() for f in kept_folders)

    # one's artifacts are what two reused: deleting one keeps them; deleting two as well lets them go.
    first = json.loads(run_cli(["runs", "delete", "one", "--yes", "--json"], cli_env).stdout)
    assert first[0]["artifacts_deleted"] == [] and set(first[0]["artifacts_kept"]) == one
    second = json.loads(run_cli(["runs", "delete", "two", "--yes", "--json"], cli_env).stdout)
    assert set(second[0]["artifacts_deleted"]) == one
    assert {a for a, s in _states(url).items() if s == "LIVE"} == set()

    # A deleted run is neither resumed nor deleted twice; a fresh run computes everything again.
    resumed = run_cli(["run", str(SAMPLE), "--resume", "one"], cli_env)
    assert resumed.returncode == 1 and "was deleted" in resumed.stderr, resumed.stdout + resumed.stderr
    task = run_cli(["exec", "--pipeline", str(SAMPLE), "--component", "produce", "--run", "one"], cli_env)
    assert task.returncode == 1 and "was deleted" in task.stderr, task.stdout + task.stderr
    again = run_cli(["runs", "delete", "one", "--yes"], cli_env)
    assert again.returncode == 2 and "already deleted" in again.stderr, again.stdout + again.stderr
    fresh = run_cli(["run", str(SAMPLE), "--run-name", "four", "--json"], cli_env)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert _produced(url, "four"), "nothing came from the cache of deleted artifacts"


def test_a_run_still_running_or_unknown_is_not_deleted(cli_env: dict[str, str], tmp_path: Path) -> None:
    url = cli_env["SLUICEWAY_STORE"]
    assert run_cli(["run", str(SAMPLE), "--run-name", "done"], cli_env).returncode == 0
    missing = run_cli(["runs", "delete", "done", "no-such-run", "--yes"], cli_env)
    assert missing.returncode == 2 and "no-such-run" in missing.stderr, missing.stdout + missing.stderr
    assert "DELETED" not in _states(url).values(), "nothing was deleted when one name was wrong"

    process = start_run(["run", str(SAMPLE), "--run-name", "busy", "--no-cache"],
                        {**cli_env, "SLUICEWAY_TEST_NAP": "60"})
    try:
        staged = tmp_path / "artifacts" / ".staging"
        deadline = time.monotonic() + 30
        while not list(staged.rglob("partial.bin")):  # an execution is running
            assert time.monotonic() < deadline, "the naps never started"
            time.sleep(0.02)
        refused = run_cli(["runs", "delete", "busy", "--yes"], cli_env)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "is RUNNING in process" in " ".join(refused.stderr.split())
        with MetadataStore(url) as store:
            assert store.get_run("busy").state == "RUNNING"
    finally:
        process.kill()
        process.communicate()
    # Its process is gone now: a killed run can be deleted.
    assert run_cli(["runs", "delete", "busy", "--yes"], cli_env).returncode == 0


def test_delete_run_on_each_store_backend(store_url: str, tmp_path: Path) -> None:
    """The same answers from the store API on SQLite and PostgreSQL (the subqueries differ by dialect)."""
    import sluiceway as sw
    from sample_pipelines import create_pipeline

    runner = sw.LocalRunner(store=store_url, artifact_root=tmp_path / "artifacts")
    runner.run(create_pipeline(), run_name="a").raise_for_status()
    runner.run(create_pipeline(), run_name="b").raise_for_status()  # all cached from a
    with MetadataStore(store_url) as store:
        produced = {a.id for e in store.executions(store.get_run("a").id) for a in e.outputs.values()}
        _, deleted, kept = store.delete_run("a")
        assert deleted == [] and {a.id for a in kept} == produced
        _, deleted, kept = store.delete_run("b", dry_run=True)
        assert {a.id for a in deleted} == produced and kept == []
        assert store.get_run("b").state == "COMPLETE", "a dry run changed nothing"
        _, deleted, _ = store.delete_run("b")
        assert {a.id for a in deleted} == produced
        assert {a.state for a in store.list_artifacts(limit=100)} == {"DELETED"}
        assert store.list_runs() == [] and len(store.list_runs(include_deleted=True)) == 2
