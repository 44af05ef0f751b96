"""The local runner: order, parallelism, caching, failures, retries, logs, and the Python API."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import sluiceway as sw
from sluiceway.metadata.store import MetadataStore

from sample_pipelines import create_pipeline, nap, produce


def test_run_executes_in_dependency_order_and_records_everything(runner: sw.LocalRunner) -> None:
    run = runner.run(create_pipeline())
    assert run.state == "COMPLETE" and run.succeeded
    assert set(run.executions) == {"produce", "nap_a", "nap_b", "join", "fail_if_told"}
    assert all(e.state == "COMPLETE" for e in run.executions.values())
    gen, joined = run["produce"], run["join"]
    assert gen.end_time <= run["nap_a"].start_time and run["nap_b"].end_time <= joined.start_time
    assert run.output("join", "report").read_json("report.json") == {"a": True, "b": True}
    examples = run.output("produce", "examples")
    assert examples.properties["row_counts"] == {"train": 10} and examples.state == "LIVE"
    assert Path(examples.uri).is_dir() and ".staging" not in examples.uri
    # The input event links the consumer to the exact artifact the producer published.
    assert run["nap_a"].inputs["examples"].id == examples.id


def test_parallel_branches_really_overlap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICEWAY_TEST_NAP", "0.6")
    runner = sw.LocalRunner(store=f"sqlite:///{tmp_path / 'md.db'}", artifact_root=tmp_path / "a", parallelism=2)
    started = time.perf_counter()
    run = runner.run(create_pipeline())
    elapsed = time.perf_counter() - started
    a, b = run["nap_a"], run["nap_b"]
    assert a.start_time < b.end_time and b.start_time < a.end_time, "nap_a and nap_b did not overlap"
    assert elapsed < 1.2 * 2 * 0.6  # sequential would need 1.2 s for the two naps alone


def test_parallelism_one_runs_components_one_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICEWAY_TEST_NAP", "0.2")
    runner = sw.LocalRunner(store=f"sqlite:///{tmp_path / 'md.db'}", artifact_root=tmp_path / "a", parallelism=1)
    run = runner.run(create_pipeline())
    spans = sorted((e.start_time, e.end_time) for e in run.executions.values())
    assert all(prev_end <= start for (_, prev_end), (start, _) in zip(spans, spans[1:], strict=False))


def test_unchanged_rerun_is_cached_and_a_parameter_change_is_not(
    runner: sw.LocalRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = runner.run(create_pipeline())
    second = runner.run(create_pipeline())
    assert {e.state for e in second.executions.values()} == {"CACHED"}
    assert second.output("join", "report").id == first.output("join", "report").id
    assert second["join"].cached_from == first["join"].id

    monkeypatch.setenv("SLUICEWAY_TEST_ROWS", "11")  # a parameter of `produce` changes ...
    third = runner.run(create_pipeline())
    assert third["produce"].state == "COMPLETE"  # ... so it runs again,
    assert third["nap_a"].state == "COMPLETE"  # and so does everything fed by its new output
    assert third.output("produce", "examples").properties["row_counts"] == {"train": 11}


def test_identical_output_keeps_downstream_cached(runner: sw.LocalRunner) -> None:
    runner.run(create_pipeline())
    pipeline = create_pipeline()
    pipeline.component("produce").cache = False  # the per-component switch
    run = runner.run(pipeline)
    assert run["produce"].state == "COMPLETE"
    # It reproduced byte-identical output, so the content fingerprint matches and downstream is cached.
    assert run["nap_a"].state == "CACHED"


def test_no_cache_runs_everything(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'md.db'}"
    sw.LocalRunner(store=store, artifact_root=tmp_path / "a").run(create_pipeline())
    run = sw.LocalRunner(store=store, artifact_root=tmp_path / "a", cache=False).run(create_pipeline())
    assert {e.state for e in run.executions.values()} == {"COMPLETE"}


def test_cache_miss_when_the_cached_output_was_deleted(runner: sw.LocalRunner) -> None:
    import shutil

    first = runner.run(create_pipeline())
    shutil.rmtree(first.output("nap_a", "model").uri)
    second = runner.run(create_pipeline())
    assert second["produce"].state == "CACHED" and second["nap_a"].state == "COMPLETE"


def test_failure_marks_execution_and_run_failed_publishes_nothing_and_skips_downstream(tmp_path: Path) -> None:
    calls = {"n": 0}

    @sw.component
    def broken(examples: sw.Input[sw.Examples], model: sw.Output[sw.Model]) -> None:
        calls["n"] += 1
        (model.path / "half.bin").write_bytes(b"half")
        raise ValueError("bad value in column 'x'")

    gen = produce()
    bad = broken(examples=gen.examples)
    after = nap(examples=gen.examples, id="after", after=[bad])
    independent = nap(examples=gen.examples, id="independent")
    store = MetadataStore(f"sqlite:///{tmp_path / 'md.db'}")
    run = sw.LocalRunner(store=store, artifact_root=tmp_path / "a").run(
        sw.Pipeline("f", [gen, bad, after, independent])
    )
    assert run.state == "FAILED"
    failed = run["broken"]
    assert failed.state == "FAILED" and "ValueError: bad value in column 'x'" in failed.error
    assert failed.outputs == {}
    assert "ValueError: bad value in column 'x'" in Path(failed.log_uri).read_text()
    assert run.not_run == ["after"]
    assert run["independent"].state == "COMPLETE"  # an independent branch still completes
    assert not list((tmp_path / "a").rglob("half.bin")), "a failed execution's partial output is visible"
    assert [a.producer for a in store.list_artifacts(type_name="Model")] == ["independent"]
    assert store.get_run(run.name).state == "FAILED"


def test_retries_with_backoff_then_success(tmp_path: Path) -> None:
    attempts = {"n": 0}

    @sw.component
    def flaky(examples: sw.Input[sw.Examples], model: sw.Output[sw.Model]) -> None:
        attempts["n"] += 1
        if attempts["n"] < 3:
            raise ConnectionError(f"transient failure {attempts['n']}")
        (model.path / "ok").write_text("ok")

    gen = produce()
    pipeline = sw.Pipeline("r", [gen, flaky(examples=gen.examples, retries=2, retry_backoff=0.05)])
    started = time.perf_counter()
    run = sw.LocalRunner(store=f"sqlite:///{tmp_path / 'md.db'}", artifact_root=tmp_path / "a").run(pipeline)
    assert run.state == "COMPLETE" and run["flaky"].attempts == 3
    assert time.perf_counter() - started >= 0.05 + 0.1  # backoff doubles: 0.05 s then 0.1 s
    log = Path(run["flaky"].log_uri).read_text()
    assert "transient failure 1" in log and "transient failure 2" in log and "attempt 3" in log
    assert sorted(p.name for p in Path(run.output("flaky", "model").uri).iterdir()) == ["ok"]


def test_retries_exhausted_is_a_failure(tmp_path: Path) -> None:
    @sw.component
    def always(examples: sw.Input[sw.Examples], model: sw.Output[sw.Model]) -> None:
        raise ConnectionError("down")

    gen = produce()
    run = sw.LocalRunner(store=f"sqlite:///{tmp_path / 'md.db'}", artifact_root=tmp_path / "a").run(
        sw.Pipeline("r", [gen, always(examples=gen.examples, retries=1, retry_backoff=0)])
    )
    assert run.state == "FAILED" and run["always"].attempts == 2


def test_component_logs_and_prints_go_to_its_log_file(runner: sw.LocalRunner) -> None:
    import logging

    @sw.component
    def chatty(examples: sw.Input[sw.Examples], model: sw.Output[sw.Model]) -> None:
        logging.getLogger("user.code").info("fitting with 3 trees")
        print("hello from chatty")

    gen = produce()
    run = runner.run(sw.Pipeline("logs", [gen, chatty(examples=gen.examples)]))
    text = Path(run["chatty"].log_uri).read_text()
    assert "fitting with 3 trees" in text and "hello from chatty" in text
    assert "produced 10 rows" not in text and "produced 10 rows" in Path(run["produce"].log_uri).read_text()


def test_json_unfriendly_properties_fail_the_execution_with_a_clear_error(runner: sw.LocalRunner) -> None:
    @sw.component
    def odd(examples: sw.Input[sw.Examples], model: sw.Output[sw.Model]) -> None:
        model.properties["when"] = object()

    gen = produce()
    run = runner.run(sw.Pipeline("props", [gen, odd(examples=gen.examples)]))
    assert run["odd"].state == "FAILED" and "cannot be stored as JSON" in run["odd"].error


def test_resume_reruns_only_what_did_not_complete(runner: sw.LocalRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICEWAY_TEST_FAIL", "1")
    failed = runner.run(create_pipeline())
    assert failed.state == "FAILED" and failed["fail_if_told"].state == "FAILED"
    monkeypatch.setenv("SLUICEWAY_TEST_FAIL", "0")
    resumed = runner.run(create_pipeline(), resume=failed.name)
    assert resumed.name == failed.name and resumed.state == "COMPLETE"
    assert resumed["produce"].id == failed["produce"].id  # reused, not rerun
    assert resumed["fail_if_told"].state == "COMPLETE"
    store = runner.store
    assert store.get_run(failed.name).state == "COMPLETE"
    assert len(store.list_artifacts(type_name="Examples")) == 1


def test_resume_of_another_pipelines_run_is_refused(runner: sw.LocalRunner) -> None:
    run = runner.run(create_pipeline())
    gen = produce()
    with pytest.raises(sw.RunError, match="belongs to pipeline 'sample', not 'other'"):
        runner.run(sw.Pipeline("other", [gen]), resume=run.name)
    with pytest.raises(sw.NotFoundError, match="No run 'nope'"):
        runner.run(create_pipeline(), resume="nope")


def test_settings_come_from_files_env_and_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sluiceway.toml").write_text('store = "sqlite:///meta/m.db"\nartifact_root = "arts"\nparallelism = 3\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SLUICEWAY_PARALLELISM", raising=False)
    runner = sw.LocalRunner()
    assert runner.settings.store == f"sqlite:///{tmp_path / 'meta' / 'm.db'}"
    assert runner.settings.artifact_root == str(tmp_path / "arts") and runner.settings.parallelism == 3
    monkeypatch.setenv("SLUICEWAY_PARALLELISM", "5")
    assert sw.LocalRunner().settings.parallelism == 5
    assert sw.LocalRunner(parallelism=7).settings.parallelism == 7
    run = sw.LocalRunner().run(create_pipeline())
    assert run.succeeded and (tmp_path / "meta" / "m.db").exists() and (tmp_path / "arts" / "sample").is_dir()


def test_pyproject_tool_table_and_bad_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sluiceway.config import load_settings

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.sluiceway]\nparallelism = 4\n')
    assert load_settings(tmp_path).parallelism == 4
    (tmp_path / "sluiceway.toml").write_text("paralelism = 2\n")
    with pytest.raises(sw.ConfigError, match=r"Unknown setting\(s\) \['paralelism'\]"):
        load_settings(tmp_path)
    monkeypatch.setenv("SLUICEWAY_CACHE", "maybe")
    (tmp_path / "sluiceway.toml").unlink()
    with pytest.raises(sw.ConfigError, match="SLUICEWAY_CACHE must be true or false. Got 'maybe'"):
        load_settings(tmp_path)
