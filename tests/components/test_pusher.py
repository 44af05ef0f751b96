"""Pusher: only blessed models reach the serving directory, as a new version, atomically."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

import sluiceway as sw
from sluiceway.components import Pusher
from sluiceway.components.pusher import published_versions, push_bundle

from push_pipelines import bless, create_pipeline, frame, trained

PIPELINE = Path(__file__).with_name("push_pipelines.py")


def _serving(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    serving = tmp_path / "serving"
    monkeypatch.setenv("PUSH_TEST_SERVING", str(serving))
    return serving


def _entries(model_root: Path) -> list[str]:
    return sorted(p.name for p in model_root.iterdir()) if model_root.exists() else []


def test_a_blessed_model_is_pushed_as_version_1_and_loads_from_there(
    runner: sw.LocalRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serving = _serving(tmp_path, monkeypatch)
    run = runner.run(create_pipeline()).raise_for_status()
    pushed = run.output("Pusher", "pushed_model")
    assert pushed.properties["pushed"] is True and pushed.properties["version"] == 1
    assert pushed.properties["destination"] == str(serving / "pushing" / "1")
    assert pushed.properties["model_name"] == "pushing" and pushed.properties["reasons"] == []
    assert _entries(serving / "pushing") == ["1"]  # no staging folder left behind
    rows = frame(20, seed=7)
    served = sw.load_model(serving / "pushing" / "1")
    trained_model = sw.load_model(run.output("Trainer", "model"))
    assert np.array_equal(served.predict(rows), trained_model.predict(rows))
    assert np.array_equal(served.predict_proba(rows), trained_model.predict_proba(rows))


def test_a_new_model_takes_the_next_version_and_the_same_model_is_not_copied_again(
    runner: sw.LocalRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serving = _serving(tmp_path, monkeypatch)
    runner.run(create_pipeline()).raise_for_status()
    monkeypatch.setenv("PUSH_TEST_C", "0.01")
    second = runner.run(create_pipeline()).output("Pusher", "pushed_model")
    assert second.properties["version"] == 2 and second.properties["already_serving"] is False
    third = runner.run(create_pipeline()).output("Pusher", "pushed_model")  # Trainer cached: same bundle
    assert third.properties["version"] == 2 and third.properties["already_serving"] is True
    assert _entries(serving / "pushing") == ["1", "2"] and published_versions(serving / "pushing") == [1, 2]


@pytest.mark.parametrize(
    ("model_ok", "infra_ok", "expected"),
    [
        ("0", "1", ["model_blessing (ModelBlessing #{m}) is not blessed: accuracy 0.41 < lower bound 0.90"]),
        ("1", "0", ["infra_blessing (InfraBlessing #{i}) is not blessed: p99 latency 812 ms > 200 ms"]),
        (
            "0",
            "0",
            [
                "model_blessing (ModelBlessing #{m}) is not blessed: accuracy 0.41 < lower bound 0.90",
                "infra_blessing (InfraBlessing #{i}) is not blessed: p99 latency 812 ms > 200 ms",
            ],
        ),
    ],
)
def test_a_model_that_one_blessing_refuses_is_not_pushed_and_the_reasons_say_why(
    runner: sw.LocalRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    model_ok: str,
    infra_ok: str,
    expected: list[str],
) -> None:
    serving = _serving(tmp_path, monkeypatch)
    monkeypatch.setenv("PUSH_TEST_BLESSED", model_ok)
    monkeypatch.setenv("PUSH_TEST_INFRA_BLESSED", infra_ok)
    run = runner.run(create_pipeline())
    assert run.state == "COMPLETE"  # not pushing is an outcome, not a failure
    pushed = run.output("Pusher", "pushed_model")
    m, i = run.output("bless", "blessing").id, run.output("infra_bless", "blessing").id
    assert pushed.properties["pushed"] is False and "version" not in pushed.properties
    assert pushed.properties["reasons"] == [text.format(m=m, i=i) for text in expected]
    assert published_versions(serving / "pushing") == [] and _entries(serving / "pushing") == []


def test_without_blessings_the_model_is_pushed_under_the_given_name(runner: sw.LocalRunner, tmp_path: Path) -> None:
    gen, trainer = trained()
    pusher = Pusher(model=trainer.model, base_directory=str(tmp_path / "s"), model_name="penguins.v2")
    run = runner.run(sw.Pipeline("p", [gen, trainer, pusher])).raise_for_status()
    assert run.output("Pusher", "pushed_model").properties["destination"] == str(tmp_path / "s" / "penguins.v2" / "1")


def test_pusher_with_when_is_skipped_rather_than_run(runner: sw.LocalRunner, tmp_path: Path) -> None:
    gen, trainer = trained()
    verdict = bless(blessed=False)
    pusher = Pusher(model=trainer.model, base_directory=str(tmp_path / "s"), when=verdict.blessing.blessed)
    run = runner.run(sw.Pipeline("p", [gen, trainer, verdict, pusher]))
    assert run.state == "COMPLETE" and run["Pusher"].state == "SKIPPED"
    assert "accuracy 0.41 < lower bound 0.90" in (run["Pusher"].error or "")
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"base_directory": " "}, "'base_directory' parameter of .* must be a folder path"),
        ({"base_directory": "s", "model_name": "../escape"}, "'model_name' parameter of .* must start with a letter"),
        ({"base_directory": "s", "model_name": ""}, "'model_name' parameter"),
        ({}, "needs a destination: base_directory="),
        ({"mlflow_tracking_uri": ""}, "'mlflow_tracking_uri' parameter of .* must be an MLflow tracking URI"),
    ],
)
def test_bad_parameters_are_refused_when_the_pipeline_is_built(settings: dict, message: str) -> None:
    _, trainer = trained()
    with pytest.raises(sw.DefinitionError, match=message):
        Pusher(model=trainer.model, **settings)


def test_concurrent_pushes_each_take_their_own_complete_version(runner: sw.LocalRunner, tmp_path: Path) -> None:
    gen, trainer = trained()
    bundle = runner.run(sw.Pipeline("p", [gen, trainer])).raise_for_status().output("Trainer", "model").path
    model_root = tmp_path / "s" / "m"
    results: list[int] = []
    errors: list[BaseException] = []

    def push() -> None:
        try:
            # threads that list the folder before another's rename race for one version: the loser takes the next
            results.append(push_bundle(bundle, model_root)[0])
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=push) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    versions = published_versions(model_root)
    assert sorted(set(results)) == versions and versions == list(range(1, len(versions) + 1))
    assert all(not name.startswith(".staging") for name in _entries(model_root))
    for version in versions:
        sw.load_model(model_root / str(version))  # every published version is whole (digests checked)


@pytest.mark.integration
def test_a_process_killed_mid_copy_leaves_no_version_a_server_would_load(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runners"))
    try:
        from clitools import kill_at_fault_point, run_cli
    finally:
        sys.path.pop(0)
    serving = tmp_path / "serving"
    env = {**cli_env, "PUSH_TEST_SERVING": str(serving)}
    target = f"{PIPELINE}:create_pipeline"
    status = kill_at_fault_point(["run", target, "--run-name", "k1"], env, "pusher-copy", tmp_path / "marker")
    assert status == -9
    model_root = serving / "pushing"
    assert published_versions(model_root) == []
    leftovers = _entries(model_root)
    assert len(leftovers) == 1 and leftovers[0].startswith(".staging-1-")  # ignored by readers
    # Stopped right after its first copied file (the fault point stops the copying thread itself, then the
    # rest of the process): nothing more was copied, nothing published.
    copied = [p for p in (model_root / leftovers[0]).rglob("*") if p.is_file()]
    assert len(copied) == 1, copied
    again = run_cli(["run", target, "--run-name", "k2"], env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert published_versions(model_root) == [1]
    sw.load_model(model_root / "1")


@pytest.mark.integration
def test_sluiceway_run_says_why_the_pusher_did_not_push(cli_env: dict[str, str], tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runners"))
    try:
        from clitools import run_cli
    finally:
        sys.path.pop(0)
    env = {**cli_env, "PUSH_TEST_SERVING": str(tmp_path / "serving"), "PUSH_TEST_BLESSED": "0"}
    result = run_cli(["run", f"{PIPELINE}:create_pipeline"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    text = " ".join(result.stdout.split())
    assert "note: Pusher did not push: model_blessing (ModelBlessing #" in text
    assert "is not blessed: accuracy 0.41 < lower bound 0.90" in text
