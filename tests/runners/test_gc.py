"""Orphans and `sluiceway gc`: what a kill leaves is reclaimed by --resume and by gc, never a live folder."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from sluiceway.metadata.store import MetadataStore
from sluiceway.runners.gc import DELETED_ARTIFACT, STALE_STAGING, UNRECORDED, collect_garbage

from clitools import SAMPLE, kill_at_fault_point, run_cli, start_run

pytestmark = pytest.mark.integration


def _artifact_folders(root: Path) -> set[Path]:
    return {p for p in (root / "sample").glob("*/*/*") if p.is_dir()} if (root / "sample").is_dir() else set()


def _count_files(folder: Path, name: str) -> int:
    """Files called ``name`` under ``folder``, while the runner renames staging folders away.

    Not ``Path.rglob``: it raises FileNotFoundError when a folder it listed is gone before it looks inside
    (``produce`` publishing ``.staging/1/examples`` as the test polls); ``os.walk`` skips such a folder.
    """
    return sum(name in files for _, _, files in os.walk(folder))


def _live_folders(store: MetadataStore) -> set[Path]:
    return {Path(a.uri) for a in store.list_artifacts(limit=10_000) if a.state == "LIVE"}


def test_resume_reclaims_a_folder_renamed_but_never_recorded(cli_env: dict[str, str], tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    status = kill_at_fault_point(
        ["run", str(SAMPLE), "--run-name", "orphaned"], cli_env, "after-rename", tmp_path / "m"
    )
    assert status == -9
    store = MetadataStore(cli_env["SLUICEWAY_STORE"])
    orphans = _artifact_folders(root) - _live_folders(store)
    assert len(orphans) == 1 and (next(iter(orphans)) / "Split-train" / "rows.txt").is_file()  # complete, unrecorded

    resumed = run_cli(["run", str(SAMPLE), "--resume", "orphaned"], cli_env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert not orphans & _artifact_folders(root), "resume left the unrecorded folder"
    assert _artifact_folders(root) == _live_folders(store)  # every folder is a recorded artifact, and vice versa


def test_gc_lists_then_deletes_orphans_stale_staging_and_deleted_artifacts(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    root = tmp_path / "artifacts"
    assert run_cli(["run", str(SAMPLE), "--run-name", "kept"], cli_env).returncode == 0
    store = MetadataStore(cli_env["SLUICEWAY_STORE"])
    kept = _live_folders(store)
    # A kill inside the rename-then-record window: one complete, unrecorded folder, and a RUNNING record.
    kill_at_fault_point(
        ["run", str(SAMPLE), "--run-name", "killed", "--no-cache"], cli_env, "after-rename", tmp_path / "m"
    )
    (orphan,) = _artifact_folders(root) - kept  # exactly one: the process stopped at the point, nothing after it
    # A kill while the naps write into staging: stale staging folders.
    killed_mid_run = kill_at_fault_point(
        ["run", str(SAMPLE), "--run-name", "mid", "--no-cache"],
        {**cli_env, "SLUICEWAY_TEST_NAP": "60"},
        "log-header",
        tmp_path / "m2",
    )
    assert killed_mid_run == -9
    # An artifact marked DELETED (what `sluiceway runs delete` does to the artifacts only its run uses).
    deleted = store.list_artifacts(type_name="ModelEvaluation")[0]
    with sqlite3.connect(cli_env["SLUICEWAY_STORE"].removeprefix("sqlite:///")) as db:
        db.execute("UPDATE artifacts SET state = 'DELETED' WHERE id = ?", (deleted.id,))

    dry = run_cli(["gc", "--json"], cli_env)
    assert dry.returncode == 0, dry.stderr
    report = json.loads(dry.stdout)
    reasons = {Path(item["path"]): item["reason"] for item in report["garbage"]}
    assert reasons[orphan] == UNRECORDED and reasons[Path(deleted.uri)] == DELETED_ARTIFACT
    assert STALE_STAGING in reasons.values()
    assert report["deleted"] is False and report["total_bytes"] == sum(i["bytes"] for i in report["garbage"]) > 0
    assert all(path.exists() for path in reasons), "a dry run deleted something"
    assert not set(reasons) & (kept - {Path(deleted.uri)}), "gc listed a live artifact"
    text = run_cli(["gc"], cli_env)
    assert f"Would delete {len(reasons)} folders" in text.stdout and "sluiceway gc --yes" in text.stdout

    done = run_cli(["gc", "--yes"], cli_env)
    assert done.returncode == 0 and f"Deleted {len(reasons)} folders" in done.stdout, done.stdout + done.stderr
    assert not any(path.exists() for path in reasons)
    assert all(path.exists() for path in kept - {Path(deleted.uri)})
    assert json.loads(run_cli(["gc", "--json"], cli_env).stdout)["garbage"] == []
    # The killed runs still resume to COMPLETE after gc took their leftovers.
    for name in ("killed", "mid"):
        resumed = run_cli(["run", str(SAMPLE), "--resume", name], cli_env)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr


def test_gc_never_touches_folders_a_running_execution_may_write(cli_env: dict[str, str], tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    process = start_run(["run", str(SAMPLE), "--run-name", "busy"], {**cli_env, "SLUICEWAY_TEST_NAP": "60"})
    try:
        store = MetadataStore(cli_env["SLUICEWAY_STORE"])
        staged = root / ".staging"
        import time

        deadline = time.monotonic() + 30
        while _count_files(staged, "partial.bin") < 2:
            assert time.monotonic() < deadline, "the naps never wrote into staging"
            time.sleep(0.02)
        report = collect_garbage(store, root, delete=True)
        assert report.garbage == [] and len(report.in_use) == 2
        assert _count_files(staged, "partial.bin") == 2
    finally:
        process.kill()
        process.communicate()
