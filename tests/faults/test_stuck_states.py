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
