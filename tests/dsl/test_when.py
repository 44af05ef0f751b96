"""Conditional execution: ``when=`` and ``with sw.when(...)`` skip a component (never fail it) at run time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import sluiceway as sw
from sluiceway.metadata.store import MetadataStore

from when_pipelines import announce, bless, create_pipeline, independent, push

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = Path(__file__).with_name("when_pipelines.py")


def _cli(args: list[str], env: dict[str, str]):  # type: ignore[no-untyped-def]
    import sys

    sys.path.insert(0, str(ROOT / "runners"))
    try:
        from clitools import run_cli
    finally:
        sys.path.pop(0)
    return run_cli(args, env)


def test_a_false_condition_skips_the_component_and_its_downstream_and_the_run_completes(
    runner: sw.LocalRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHEN_TEST_BLESSED", "0")
    run = runner.run(create_pipeline())
    assert run.state == "COMPLETE" and run.succeeded and run.not_run == []
    assert run["push"].state == "SKIPPED" and run["announce"].state == "SKIPPED"
    assert run["independent"].state == "COMPLETE"  # not gated: runs whatever the blessing says
    reason = run["push"].error or ""
    assert "the condition bless.blessing.blessed is false" in reason
    assert "bless.blessing.blessed = False (ModelBlessing #" in reason
    assert "accuracy 0.61 < lower bound 0.90" in reason  # the blessing's own reasons, from blessing.json
    assert run["announce"].error == "upstream 'push' was skipped"
    with pytest.raises(sw.RunError, match="SKIPPED in run"):
        run.output("push", "pushed")
    # Recorded in the store, not only in the Run object, with nothing published.
    store = runner.store
    recorded = {e.component_id: e for e in store.executions(store.get_run(run.name).id)}
    assert recorded["push"].state == "SKIPPED" and recorded["push"].error == reason
    assert recorded["push"].outputs == {} and store.list_artifacts(type_name="PushedModel") == []
    assert store.get_run(run.name).state == "COMPLETE"


def test_a_true_condition_runs_the_component(runner: sw.LocalRunner) -> None:
    run = runner.run(create_pipeline())
    assert run.state == "COMPLETE"
    assert [run[c].state for c in ("push", "announce")] == ["COMPLETE", "COMPLETE"]
    assert run.output("push", "pushed").properties["pushed"] is True


def test_a_cached_gate_is_evaluated_again_in_the_next_run(
    runner: sw.LocalRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHEN_TEST_BLESSED", "0")
    runner.run(create_pipeline())
    again = runner.run(create_pipeline())
    assert again["bless"].state == "CACHED" and again["push"].state == "SKIPPED"


def test_a_resumed_run_evaluates_the_condition_again_and_completes(
    runner: sw.LocalRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHEN_TEST_BLESSED", "0")
    monkeypatch.setenv("WHEN_TEST_FAIL", "1")
    failed = runner.run(create_pipeline())
    assert failed.state == "FAILED" and failed["push"].state == "SKIPPED" and failed["independent"].state == "FAILED"
    monkeypatch.delenv("WHEN_TEST_FAIL")
    resumed = runner.run(create_pipeline(), resume=failed.name)
    assert resumed.state == "COMPLETE"
    assert resumed["push"].state == "SKIPPED" and resumed["independent"].state == "COMPLETE"
    assert resumed["push"].id != failed["push"].id  # evaluated again, not carried over


def test_the_block_form_gates_every_component_built_in_it_and_conditions_combine(runner: sw.LocalRunner) -> None:
    gate = bless(blessed=True, score=0.4)
    with sw.when(gate.blessing.property("score") >= 0.5):
        pusher = push(blessing=gate.blessing)
        with sw.when(gate.blessing.blessed):  # nested blocks: both must hold
            other = independent(blessing=gate.blessing, id="nested")
    outside = independent(blessing=gate.blessing, id="outside")
    either = push(
        blessing=gate.blessing, id="either", when=(gate.blessing.property("score") >= 0.5) | ~gate.blessing.blessed
    )
    both = push(blessing=gate.blessing, id="both", when=gate.blessing.blessed & (gate.blessing.property("score") < 0.5))
    assert str(other.condition) == "(bless.blessing.score >= 0.5) & bless.blessing.blessed"
    assert outside.condition is None
    run = runner.run(sw.Pipeline("blocks", [gate, pusher, other, outside, either, both]))
    states = {c: run[c].state for c in ("push", "nested", "outside", "either", "both")}
    assert states == {
        "push": "SKIPPED",
        "nested": "SKIPPED",
        "outside": "COMPLETE",
        "either": "SKIPPED",
        "both": "COMPLETE",
    }
    assert "bless.blessing.score = 0.4" in (run["push"].error or "")


def test_a_property_the_producer_did_not_set_fails_the_component_with_a_clear_error(runner: sw.LocalRunner) -> None:
    gate = bless()
    gated = push(blessing=gate.blessing, when=gate.blessing.property("acuracy") > 0.9)
    run = runner.run(sw.Pipeline("typo", [gate, gated]))
    assert run.state == "FAILED"
    with pytest.raises(sw.RunError, match="reads the property 'acuracy' of ModelBlessing #1"):
        run.raise_for_status()


def test_conditions_are_checked_when_the_pipeline_is_built() -> None:
    gate = bless()
    with pytest.raises(sw.DefinitionError, match="has no value while the pipeline is built"):
        if gate.blessing.blessed:
            pass
    with pytest.raises(sw.DefinitionError, match="combine conditions with '&', '|' and '~'"):
        push(blessing=gate.blessing, when=gate.blessing.blessed and gate.blessing.blessed)
    with pytest.raises(sw.DefinitionError, match="not the output itself"):
        push(blessing=gate.blessing, when=gate.blessing)
    with pytest.raises(sw.DefinitionError, match="not the component itself"):
        push(blessing=gate.blessing, when=gate)
    with pytest.raises(sw.DefinitionError, match="Got bool True instead"):
        push(blessing=gate.blessing, when=True)
    with pytest.raises(sw.DefinitionError, match="compares two deferred values"):
        gate.blessing.blessed == gate.blessing.blessed  # noqa: B015
    with pytest.raises(AttributeError, match="Did you mean 'blessed'"):
        gate.blessing.blesed  # noqa: B018
    pusher = push(blessing=gate.blessing)
    other = bless(id="other")
    gated = announce(pushed=pusher.pushed, when=other.blessing.blessed)
    with pytest.raises(sw.DefinitionError, match="runs after 'other', which is not in the pipeline"):
        sw.Pipeline("missing", [gate, pusher, gated])
    assert gated.upstream == [pusher, other]  # the condition's producer runs first
    described = sw.Pipeline("described", [gate, pusher, other, gated]).describe()
    assert described["components"][3]["when"] == "other.blessing.blessed"


@pytest.mark.integration
def test_the_cli_run_and_runs_show_say_skipped_with_the_reason(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "WHEN_TEST_BLESSED": "0"}
    result = _cli(["run", str(PIPELINE), "--run-name", "r1"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "SKIPPED  push" in result.stdout and "skipped: the condition bless.blessing.blessed is false" in result.stdout
    )
    assert "COMPLETE r1 (2 complete, 2 skipped)" in result.stdout
    shown = _cli(["runs", "show", "r1"], env)
    assert shown.returncode == 0
    text = " ".join(shown.stdout.split())  # the table wraps
    assert "push skipped: the condition bless.blessing.blessed is false" in text
    assert "announce skipped: upstream 'push' was skipped" in text
    as_json = json.loads(_cli(["runs", "show", "r1", "--json"], env).stdout)
    assert as_json["state"] == "COMPLETE" and as_json["executions"]["push"]["state"] == "SKIPPED"


@pytest.mark.integration
def test_sluiceway_exec_honours_the_condition_like_the_local_runner(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "WHEN_TEST_BLESSED": "0"}

    def task(component: str):  # type: ignore[no-untyped-def]
        return _cli(["exec", "--pipeline", str(PIPELINE), "--component", component, "--run", "o1"], env)

    assert task("bless").returncode == 0
    pushed = task("push")
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr  # an orchestrator must not see a failure
    assert pushed.stdout.startswith("SKIPPED push") and "skipped: the condition" in pushed.stdout
    announced = task("announce")
    assert announced.returncode == 0 and "skipped: upstream 'push' was skipped" in announced.stdout
    store = MetadataStore(cli_env["SLUICEWAY_STORE"])
    assert store.get_run("o1").state == "RUNNING"  # independent has not run yet
    assert task("independent").returncode == 0
    assert store.get_run("o1").state == "COMPLETE"
    assert store.list_artifacts(type_name="PushedModel") == []
