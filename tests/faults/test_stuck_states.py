"""Every execution ends in a final state when its run does, whatever fails before or after the executor.

Each case breaks one thing the runner needs (the staging folder, the log folder, the disk while the log
header is written, the store transaction that records the outputs) and checks that the run ends FAILED with
no execution left RUNNING, nothing half-written recorded and no unrecorded folder left behind. Faults the
machine cannot produce on demand are injected with the test-only ``SLUICEWAY_TEST_FAULT`` hook documented in
``sluiceway.runners.execute``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import sluiceway as sw
from sluiceway.metadata.store import MetadataStore

from faultlog import record

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runners"))
from sample_pipelines import create_pipeline  # noqa: E402


def _break_staging(root: Path) -> None:
    root.mkdir(parents=True)
    (root / ".staging").write_text("a file where the staging folder should be")


def _break_logs(root: Path) -> None:
    root.mkdir(parents=True)
    (root / ".logs").write_text("a file where the log folder should be")


CASES = {
    "staging-not-a-folder": (_break_staging, None, "staging"),
    "logs-not-a-folder": (_break_logs, None, ".logs"),
    "disk-full-at-log-header": (None, "log-header:enospc", "No space left on device"),
    "store-write-fails-at-publish": (None, "publish-record:enospc", "No space left on device"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_setup_and_publish_failures_leave_no_execution_running(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    breaker, fault, expected = CASES[case]
    root = tmp_path / "artifacts"
    if breaker is not None:
        breaker(root)
    if fault is not None:
        monkeypatch.setenv("SLUICEWAY_TEST_FAULT", fault)
    store = MetadataStore(f"sqlite:///{tmp_path / 'md.db'}")
    run = sw.LocalRunner(store=store, artifact_root=root).run(create_pipeline())

    assert run.state == "FAILED" and store.get_run(run.name).state == "FAILED"
    executions = store.executions(run.id)
    running = [e.component_id for e in executions if e.state == "RUNNING"]
    failed = [e for e in executions if e.state == "FAILED"]
    assert failed, f"{case}: no execution recorded FAILED"
    messages = [e.error or "" for e in failed] + list(run.errors.values())
    assert any(expected in m for m in messages), messages
    with pytest.raises((sw.ComponentError, sw.RunError), match=r"produce"):
        run.raise_for_status()
    recorded = {a.uri for a in store.list_artifacts()}
    leftovers = (
        [
            p
            for p in (root / "sample").rglob("*")
            if p.parent.parent.parent == root / "sample" and str(p) not in recorded
        ]
        if (root / "sample").is_dir()
        else []
    )
    staged = [p for p in (root / ".staging").iterdir()] if (root / ".staging").is_dir() else []
    row = record(
        f"stuck-state:{case}",
        trials=1,
        located=int(any(expected in m for m in messages)),
        running=len(running),
        orphan=len(leftovers) + len(staged),
    )
    assert row["running"] == 0 and row["orphan"] == 0, (running, leftovers, staged)


def test_store_full_mid_run_then_resume_settles_every_execution(tmp_path: Path, cli_env: dict[str, str]) -> None:
    """A really full disk under the SQLite store (a 1 MB tmpfs): what cannot be recorded is settled on resume.

    While the disk is full no state can be written, so the run and its executions may stay RUNNING; once
    space is back, --resume marks the dead runner's executions ABANDONED, reruns them and completes the run.
    """
    import subprocess

    from clitools import run_cli

    mount = tmp_path / "fs"
    mount.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"needs permission to mount a 1 MB tmpfs (root): {mounted.stderr.decode().strip()}")
    try:
        env = {**cli_env, "SLUICEWAY_STORE": f"sqlite:///{mount / 'md.db'}"}
        MetadataStore(env["SLUICEWAY_STORE"]).close()  # created and migrated while there is room
        free = 120 * 1024  # room for a few transactions: the run starts, then the disk fills mid-run
        filler = mount / "filler"
        import shutil

        filler.write_bytes(b"\0" * max(0, shutil.disk_usage(mount).free - free))
        full = run_cli(["run", str(Path(__file__).with_name("kill_pipeline.py")), "--run-name", "full"], env)
        assert full.returncode != 0, full.stdout
        filler.unlink()
        store = MetadataStore(env["SLUICEWAY_STORE"])
        assert [r.name for r in store.list_runs()] == ["full"], "the disk filled before the run was recorded"
        resumed = run_cli(["run", str(Path(__file__).with_name("kill_pipeline.py")), "--resume", "full"], env)
        running = [e for r in store.list_runs() for e in store.executions(r.id) if e.state == "RUNNING"]
        row = record("stuck-state:store-full-then-resume", trials=1, resumed=int(resumed.returncode == 0),
                     running=len(running))
        assert resumed.returncode == 0 and store.get_run("full").state == "COMPLETE", resumed.stdout + resumed.stderr
        assert row["running"] == 0, running
        store.close()
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)
