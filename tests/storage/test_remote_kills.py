"""Kill probe for remote roots: `kill -9` of a real `sluiceway run` at a seeded random upload, then gc and resume.

Each trial kills the run after its N-th output upload (N drawn from the seeded generator; the sample pipeline
uploads five outputs), then checks: every LIVE artifact in the bucket is complete (its files, downloaded,
hash to the fingerprint recorded for it), `sluiceway gc --yes` leaves no unrecorded prefix, and `--resume`
completes the run with no execution left RUNNING and no garbage. Sizes: ``trials(fast, full)``.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import fsspec
import pytest

from sluiceway.metadata.store import MetadataStore
from sluiceway.runners.publish import content_fingerprint
from sluiceway.storage.remote import EMPTY_MARKER

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runners"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "faults"))
from clitools import SAMPLE, kill_at_fault_point, run_cli  # noqa: E402
from faultlog import record, rng, trials  # noqa: E402

pytestmark = pytest.mark.integration
UPLOADS = 5  # one per output of the sample pipeline


def _partial_artifacts(store: MetadataStore, scratch: Path) -> int:
    partial = 0
    for artifact in store.list_artifacts(limit=100_000):
        if artifact.state != "LIVE":
            continue
        local = scratch / str(artifact.id)
        fs, path = fsspec.core.url_to_fs(artifact.uri)
        fs.invalidate_cache()
        found = fs.find(path)
        for key in found:
            if Path(key).name == EMPTY_MARKER:  # an output with no files (see sluiceway.storage.remote)
                local.mkdir(parents=True, exist_ok=True)
                continue
            target = local / Path(key).relative_to(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            fs.get_file(key, str(target))
        if not found or content_fingerprint(local, artifact.properties) != artifact.fingerprint:
            partial += 1
    return partial


@pytest.mark.timeout(trials(fast=300, full=3600))
def test_kills_mid_upload_never_leave_a_partial_artifact_recorded(
    s3_cli_env: dict[str, str], tmp_path: Path
) -> None:
    random = rng("remote-upload-kills")
    counts: Counter[str] = Counter()
    count = trials(fast=2, full=20)
    for trial in range(count):
        run_name = f"kill-{trial}"
        nth = random.randint(1, UPLOADS)
        marker = tmp_path / f"reached-{trial}"
        status = kill_at_fault_point(
            ["run", str(SAMPLE), "--run-name", run_name, "--no-cache"], s3_cli_env, f"remote-upload#{nth}", marker,
            timeout=120,
        )
        counts["unexpected"] += status != -9
        store = MetadataStore(s3_cli_env["SLUICEWAY_STORE"])
        try:
            counts["partial"] += _partial_artifacts(store, tmp_path / f"check-{trial}")
        finally:
            store.close()
        cleaned = run_cli(["gc", "--yes", "--json"], s3_cli_env)
        counts["unexpected"] += cleaned.returncode != 0
        counts["tracebacks"] += "Traceback" in cleaned.stderr
        resumed = run_cli(["run", str(SAMPLE), "--resume", run_name], s3_cli_env)
        counts["resumed"] += resumed.returncode == 0
        counts["tracebacks"] += "Traceback" in resumed.stderr
        after = run_cli(["gc", "--json"], s3_cli_env)
        counts["orphan"] += len(json.loads(after.stdout)["garbage"]) if after.returncode == 0 else 1
        store = MetadataStore(s3_cli_env["SLUICEWAY_STORE"])
        try:
            executions = store.executions(store.get_run(run_name).id)
            counts["running"] += sum(e.state == "RUNNING" for e in executions)
            successful = Counter(e.component_id for e in executions if e.state in ("COMPLETE", "CACHED"))
            counts["duplicate"] += sum(n - 1 for n in successful.values() if n > 1)
            counts["partial"] += _partial_artifacts(store, tmp_path / f"after-{trial}")
        finally:
            store.close()
    row = record(
        "remote-upload-kills", trials=count, resumed=counts["resumed"], located=count, partial=counts["partial"],
        duplicate=counts["duplicate"], orphan=counts["orphan"], running=counts["running"],
        tracebacks=counts["tracebacks"], unexpected=counts["unexpected"],
    )
    assert counts["resumed"] == count, row
    bad = {k: counts[k] for k in ("partial", "duplicate", "orphan", "running", "tracebacks", "unexpected")}
    assert bad == dict.fromkeys(bad, 0), row
