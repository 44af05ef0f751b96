"""Pusher under kill -9: a serving directory never holds a version a server would fail to load.

Each trial runs the push pipeline with `sluiceway run` and kills it at a random point of the push: after
any file of the copy, before the publishing rename, or after the rename but before the store records the
execution. Then it checks the serving directory (every all-digit version loads, digests checked; at most
one version) and resumes the run: the resumed Pusher publishes version 1, or finds it already there and
does not copy it again ("duplicate" counts a second version of the same model).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import sluiceway as sw
from sluiceway.components.pusher import published_versions

from faultlog import record, rng, trials

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS / "runners"))
from clitools import kill_at_fault_point, run_cli  # noqa: E402

sys.path.pop(0)

PIPELINE = TESTS / "components" / "push_pipelines.py"
POINTS = ("pusher-copy#1", "pusher-copy#2", "pusher-rename", "after-rename")


@pytest.mark.integration
def test_kill_9_during_a_push_then_resume(cli_env: dict[str, str], tmp_path: Path) -> None:
    random = rng("kill -9 during a push")
    count = trials(2, 12)
    totals = dict.fromkeys(("located", "resumed", "partial", "duplicate", "unexpected"), 0)
    offset = random.randrange(len(POINTS))  # the points in turn from a seeded start: the full count covers each
    for trial in range(count):
        point = POINTS[(offset + trial) % len(POINTS)]
        serving = tmp_path / f"serving-{trial}"
        env = {
            **cli_env,
            "PUSH_TEST_SERVING": str(serving),
            "SLUICEWAY_STORE": f"sqlite:///{tmp_path / f'md-{trial}.db'}",
            "SLUICEWAY_ARTIFACT_ROOT": str(tmp_path / f"artifacts-{trial}"),
        }
        name = f"push-{trial}"
        marker = tmp_path / f"marker-{trial}"
        target = f"{PIPELINE}:create_pipeline"
        # after-rename is the runner's point; its 5th hit is the Pusher's (the other four run before it)
        fault = point if point != "after-rename" else "after-rename#5"
        status = kill_at_fault_point(["run", target, "--run-name", name], env, fault, marker)
        totals["located"] += status == -9 and marker.read_text(encoding="utf-8") == point.split("#")[0]
        model_root = serving / "pushing"
        for version in published_versions(model_root):
            try:
                sw.load_model(model_root / str(version))
            except sw.SluicewayError:
                totals["partial"] += 1
        resumed = run_cli(["run", target, "--resume", name], env)
        if resumed.returncode != 0:
            totals["unexpected"] += 1
            continue
        versions = published_versions(model_root)
        totals["duplicate"] += max(len(versions) - 1, 0)
        totals["resumed"] += versions == [1]
        sw.load_model(model_root / "1")
    row = record("kill -9 during a push", trials=count, **totals)
    assert row["resumed"] == count and all(row[k] == 0 for k in ("partial", "duplicate", "unexpected")), row
