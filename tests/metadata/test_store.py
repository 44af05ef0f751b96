"""The metadata store suite, run on SQLite and on a real PostgreSQL server (see tests/conftest.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sluiceway.artifacts import Examples, Model, Schema
from sluiceway.errors import NotFoundError, StoreError
from sluiceway.metadata.migrations import HEAD
from sluiceway.metadata.store import (
    ABANDONED,
    CACHED,
    COMPLETE,
    FAILED,
    LIVE,
    RUNNING,
    MetadataStore,
)


def _output(tmp_path: Path, artifact_type: type, name: str, content: str = "x") -> object:
    """An artifact whose folder exists on disk, as the runner leaves it just before publishing."""
    folder = tmp_path / "artifacts" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data.txt").write_text(content)
    return artifact_type(str(folder), {"rows": len(content)}, fingerprint=f"fp-{name}-{content}")


def _execute(store: MetadataStore, run_id: int, component_id: str, *, inputs=None, outputs=None, fingerprint=None):
    """Start and publish one execution; returns (execution id, published outputs)."""
    execution_id = store.start_execution(
        run_id=run_id,
        component_id=component_id,
        component_type=f"tests.{component_id}",
        fingerprint=fingerprint or f"fp-{component_id}",
        parameters=json.dumps({"component": component_id}),
        inputs=inputs or {},
    )
    published = store.publish_execution(execution_id, outputs or {})
    return execution_id, published


# -- runs ------------------------------------------------------------------------------------------------


def test_create_get_and_list_runs(store):
    first = store.create_run("penguin", "run-1", {"parallelism": 2})
    second = store.create_run("penguin", "run-2")
    other = store.create_run("taxi", "run-3")
    assert (first.name, first.pipeline, first.state) == ("run-1", "penguin", RUNNING)
    assert first.properties == {"parallelism": 2}
    assert store.get_run("run-1") == first
    assert store.get_run(first.id).name == "run-1"
    assert store.get_run(str(second.id)).name == "run-2"
    assert [r.name for r in store.list_runs()] == ["run-3", "run-2", "run-1"]  # newest first
    assert [r.name for r in store.list_runs(pipeline="penguin")] == ["run-2", "run-1"]
    assert [r.name for r in store.list_runs(limit=1)] == ["run-3"]
    store.set_run_state(other.id, COMPLETE, {"note": "done"})
    updated = store.get_run("run-3")
    assert updated.state == COMPLETE and updated.properties == {"note": "done"}


def test_run_names_are_unique(store):
    store.create_run("penguin", "nightly")
    with pytest.raises(StoreError, match=r"A run named 'nightly' already exists.*--resume nightly"):
        store.create_run("penguin", "nightly")
    with pytest.raises(StoreError, match="already exists"):
        store.create_run("another-pipeline", "nightly")  # run names are unique across pipelines
    assert len(store.list_runs()) == 1


def test_unknown_run_raises_not_found(store):
    with pytest.raises(NotFoundError, match=r"No run 'missing' in the metadata store.*sluiceway runs list"):
        store.get_run("missing")


# -- executions and events -------------------------------------------------------------------------------


def test_start_publish_and_finish_executions(store, tmp_path):
    run = store.create_run("p", "r")
    execution_id = store.start_execution(
        run_id=run.id, component_id="gen", component_type="tests.Gen", fingerprint="abc",
        parameters='{"seed":1}', inputs={}, log_uri="/logs/gen.log",
    )
    running = store.get_execution(execution_id)
    assert running.state == RUNNING and running.end_time is None and running.duration_ms is None
    assert running.pid == os.getpid() and running.parameters == {"seed": 1} and running.log_uri == "/logs/gen.log"

    examples = _output(tmp_path, Examples, "examples")
    published = store.publish_execution(execution_id, {"examples": examples}, attempts=2)
    assert published["examples"].id is not None and published["examples"].state == LIVE
    done = store.get_execution(execution_id)
    assert done.state == COMPLETE and done.attempts == 2 and done.error is None and done.duration_ms >= 0
    assert done.outputs["examples"].uri == examples.uri
    assert done.outputs["examples"].properties == {"rows": 1}
    assert done.outputs["examples"].producer == "gen"

    failing = store.start_execution(run_id=run.id, component_id="train", component_type="tests.Train",
                                    fingerprint="def", parameters="{}", inputs={"examples": published["examples"]})
    store.finish_execution(failing, FAILED, "Traceback: boom", attempts=3)
    failed = store.get_execution(failing)
    assert (failed.state, failed.error, failed.attempts) == (FAILED, "Traceback: boom", 3)
    assert failed.outputs == {}
    assert [e.component_id for e in store.executions(run.id)] == ["gen", "train"]
    with pytest.raises(NotFoundError, match="No execution 999999"):
        store.get_execution(999999)


def test_input_and_output_events_link_artifacts_to_executions(store, tmp_path):
    run = store.create_run("p", "r")
    _, gen_out = _execute(store, run.id, "gen", outputs={"examples": _output(tmp_path, Examples, "ex")})
    _, schema_out = _execute(store, run.id, "schema", inputs={"examples": gen_out["examples"]},
                             outputs={"schema": _output(tmp_path, Schema, "schema")})
    train_id, _ = _execute(store, run.id, "train",
                           inputs={"examples": gen_out["examples"], "schema": schema_out["schema"]},
                           outputs={"model": _output(tmp_path, Model, "model")})
    train = store.get_execution(train_id)
    assert {name: a.id for name, a in train.inputs.items()} == {
        "examples": gen_out["examples"].id, "schema": schema_out["schema"].id}
    assert isinstance(train.inputs["schema"], Schema) and isinstance(train.outputs["model"], Model)
    assert store.count("events") == 6  # 3 outputs + 3 inputs
    listed = {e.component_id: e for e in store.executions(run.id)}
    assert set(listed["schema"].inputs) == {"examples"} and set(listed["schema"].outputs) == {"schema"}
    bare = store.executions(run.id, with_artifacts=False)
    assert all(e.inputs == {} and e.outputs == {} for e in bare)


def test_successful_execution_is_the_latest_complete_or_cached(store, tmp_path):
    run = store.create_run("p", "r")
    assert store.successful_execution(run.id, "gen") is None
    failed = store.start_execution(run_id=run.id, component_id="gen", component_type="t", fingerprint="f",
                                   parameters="{}", inputs={})
    store.finish_execution(failed, FAILED, "boom")
    assert store.successful_execution(run.id, "gen") is None
    first, outputs = _execute(store, run.id, "gen", outputs={"examples": _output(tmp_path, Examples, "a")})
    found = store.successful_execution(run.id, "gen")
    assert found.id == first and found.outputs["examples"].id == outputs["examples"].id
    cached = store.record_cached_execution(run_id=run.id, component_id="gen", component_type="t", fingerprint="f",
                                           parameters="{}", inputs={}, outputs=outputs, cached_from=first)
    assert store.successful_execution(run.id, "gen").id == cached
    other_run = store.create_run("p", "r2")
    assert store.successful_execution(other_run.id, "gen") is None


# -- caching ---------------------------------------------------------------------------------------------


def test_find_cached_only_returns_complete_executions_whose_outputs_exist(store, tmp_path):
    run = store.create_run("p", "r")
    assert store.find_cached("same") is None
    running = store.start_execution(run_id=run.id, component_id="c", component_type="t", fingerprint="same",
                                    parameters="{}", inputs={})
    assert store.find_cached("same") is None  # RUNNING is not a hit
    store.finish_execution(running, FAILED, "boom")
    assert store.find_cached("same") is None  # FAILED is not a hit

    execution_id, outputs = _execute(store, run.id, "c", fingerprint="same",
                                     outputs={"model": _output(tmp_path, Model, "m")})
    hit = store.find_cached("same")
    assert hit is not None
    source_id, cached_outputs = hit
    assert source_id == execution_id and cached_outputs["model"].id == outputs["model"].id
    assert store.find_cached("other") is None

    shutil.rmtree(outputs["model"].uri)  # the output folder was deleted: not a hit any more
    assert store.find_cached("same") is None


def test_find_cached_prefers_the_newest_hit_with_outputs_on_disk(store, tmp_path):
    run = store.create_run("p", "r")
    older, _ = _execute(store, run.id, "c", fingerprint="fp", outputs={"model": _output(tmp_path, Model, "old")})
    newer, newer_outputs = _execute(store, run.id, "c", fingerprint="fp",
                                    outputs={"model": _output(tmp_path, Model, "new")})
    assert store.find_cached("fp")[0] == newer
    shutil.rmtree(newer_outputs["model"].uri)
    assert store.find_cached("fp")[0] == older


def test_record_cached_execution_reuses_outputs(store, tmp_path):
    first_run = store.create_run("p", "first")
    source, outputs = _execute(store, first_run.id, "c", fingerprint="fp",
                               outputs={"model": _output(tmp_path, Model, "m")})
    second_run = store.create_run("p", "second")
    cached_id = store.record_cached_execution(
        run_id=second_run.id, component_id="c", component_type="t", fingerprint="fp", parameters="{}",
        inputs={}, outputs=outputs, cached_from=source,
    )
    cached = store.get_execution(cached_id)
    assert cached.state == CACHED and cached.cached_from == source and cached.run_id == second_run.id
    assert cached.outputs["model"].id == outputs["model"].id  # the same artifact, not a copy
    assert store.count("artifacts") == 1
    assert store.find_cached("fp")[0] == source  # CACHED executions are not themselves cache sources


# -- artifacts and lineage -------------------------------------------------------------------------------


def _three_step_chain(store, tmp_path):
    run = store.create_run("chain", "chain-run")
    gen_id, gen_out = _execute(store, run.id, "gen", outputs={"examples": _output(tmp_path, Examples, "ex")})
    schema_id, schema_out = _execute(store, run.id, "schema", inputs={"examples": gen_out["examples"]},
                                     outputs={"schema": _output(tmp_path, Schema, "schema")})
    train_id, train_out = _execute(store, run.id, "train", inputs={"schema": schema_out["schema"]},
                                   outputs={"model": _output(tmp_path, Model, "model")})
    return (gen_id, schema_id, train_id), (gen_out["examples"], schema_out["schema"], train_out["model"])


def test_lineage_walks_upstream_and_downstream_with_depths(store, tmp_path):
    (gen_id, schema_id, train_id), (examples, schema, model) = _three_step_chain(store, tmp_path)

    of_model = store.lineage(model.id)
    assert of_model.artifact.id == model.id
    assert [(n.execution.id, n.depth) for n in of_model.upstream] == [(train_id, 1), (schema_id, 2), (gen_id, 3)]
    assert of_model.downstream == []
    assert {n.run_name for n in of_model.upstream} == {"chain-run"}

    of_examples = store.lineage(examples.id)
    assert of_examples.upstream[0].execution.id == gen_id and len(of_examples.upstream) == 1
    assert [(n.execution.component_id, n.depth) for n in of_examples.downstream] == [("schema", 1), ("train", 2)]

    of_schema = store.lineage(schema.id)
    assert [(n.execution.component_id, n.depth) for n in of_schema.upstream] == [("schema", 1), ("gen", 2)]
    assert [(n.execution.component_id, n.depth) for n in of_schema.downstream] == [("train", 1)]
    assert of_schema.downstream[0].execution.outputs["model"].id == model.id

    limited = store.lineage(model.id, max_depth=2)
    assert [n.depth for n in limited.upstream] == [1, 2]
    as_json = json.loads(json.dumps(of_schema.to_dict()))
    assert as_json["upstream"][0]["component_id"] == "schema"
    assert as_json["downstream"][0]["inputs"]["schema"]["id"] == schema.id


def test_list_artifacts_filters_by_type(store, tmp_path):
    _, (examples, schema, model) = _three_step_chain(store, tmp_path)
    assert [a.id for a in store.list_artifacts()] == [model.id, schema.id, examples.id]  # newest first
    assert [a.id for a in store.list_artifacts(type_name="Schema")] == [schema.id]
    only_model = store.list_artifacts(type_name="Model")
    assert [type(a) for a in only_model] == [Model] and only_model[0].producer == "train"
    assert store.list_artifacts(type_name="PushedModel") == []
    assert [a.id for a in store.list_artifacts(limit=2)] == [model.id, schema.id]
    assert store.artifact_types() == ["Examples", "Model", "Schema"]


def test_get_artifact_and_not_found_message(store, tmp_path):
    _, (examples, _, _) = _three_step_chain(store, tmp_path)
    loaded = store.get_artifact(examples.id)
    assert isinstance(loaded, Examples) and loaded.uri == examples.uri and loaded.state == LIVE
    assert loaded.fingerprint == examples.fingerprint and loaded.name == "examples"
    with pytest.raises(NotFoundError, match=r"No artifact 424242 in the metadata store at .*sluiceway artifacts list"):
        store.get_artifact(424242)
    with pytest.raises(LookupError):  # NotFoundError is also a LookupError for callers that expect one
        store.lineage(424242)


# -- crashed runners -------------------------------------------------------------------------------------

_START_EXECUTION = textwrap.dedent(
    """
    import sys, time
    from sluiceway.metadata.store import MetadataStore
    store = MetadataStore(sys.argv[1])
    run = store.get_run("crashed")
    execution_id = store.start_execution(run_id=run.id, component_id=sys.argv[2], component_type="t",
                                         fingerprint=None, parameters="{}", inputs={})
    print(execution_id, flush=True)
    if sys.argv[3] == "stay":
        time.sleep(120)
    """
)


def test_abandon_stale_executions_marks_dead_processes_abandoned(store, store_url):
    run = store.create_run("p", "crashed")
    # A runner process that recorded a RUNNING execution and then died without finishing it.
    done = subprocess.run([sys.executable, "-c", _START_EXECUTION, store_url, "dead", "exit"],
                          capture_output=True, text=True, timeout=120, check=True)
    dead_id = int(done.stdout.split()[0])
    assert store.get_execution(dead_id).state == RUNNING
    abandoned = store.abandon_stale_executions(run.id)
    assert [e.id for e in abandoned] == [dead_id]
    record = store.get_execution(dead_id)
    assert record.state == ABANDONED and record.end_time is not None and "stopped" in record.error
    assert store.abandon_stale_executions(run.id) == []


def test_abandon_stale_executions_refuses_while_the_process_lives(store, store_url):
    run = store.create_run("p", "crashed")
    alive = subprocess.Popen([sys.executable, "-c", _START_EXECUTION, store_url, "alive", "stay"],
                             stdout=subprocess.PIPE, text=True)
    try:
        live_id = int(alive.stdout.readline().split()[0])
        with pytest.raises(StoreError, match=rf"Execution {live_id} \(alive\).*still running in process {alive.pid}"):
            store.abandon_stale_executions(run.id)
        assert store.get_execution(live_id).state == RUNNING
    finally:
        alive.kill()
        alive.wait()
    assert [e.id for e in store.abandon_stale_executions(run.id)] == [live_id]


# -- opening and migrating -------------------------------------------------------------------------------


def test_reopening_a_store_does_not_rerun_migrations(store, store_url, monkeypatch):
    run = store.create_run("p", "kept")
    from sqlalchemy import create_engine, text

    engine_url = store_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(engine_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [HEAD]
    finally:
        engine.dispose()

    import alembic.command

    def refuse(*args, **kwargs):
        raise AssertionError("migrations ran again on an up-to-date store")

    monkeypatch.setattr(alembic.command, "upgrade", refuse)
    with MetadataStore(store_url) as reopened:
        assert reopened.get_run("kept").id == run.id


def test_unreachable_postgresql_raises_store_error_with_redacted_password():
    port = _closed_port()
    url = f"postgresql://analyst:s3cret-pw@127.0.0.1:{port}/metadata"
    started = time.perf_counter()
    with pytest.raises(StoreError) as caught:
        MetadataStore(url)
    message = str(caught.value)
    assert f"postgresql://analyst:***@127.0.0.1:{port}/metadata" in message
    assert "s3cret-pw" not in message
    assert "SLUICEWAY_STORE" in message
    assert time.perf_counter() - started < 30


def test_sqlite_store_in_an_unusable_folder_raises_store_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    expected = r"Cannot create the metadata store at sqlite:///.*a-file is a file, not a folder"
    with pytest.raises(StoreError, match=expected):
        MetadataStore(f"sqlite:///{blocker}/metadata.db")


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- two runner processes on one store -------------------------------------------------------------------

_CONCURRENT_RUN = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import sluiceway as sw
    from sluiceway import Examples, Input, Output

    store_url, artifact_root, barrier, name = sys.argv[1:5]

    @sw.component
    def source(examples: Output[Examples]) -> None:
        (examples.path / "rows.txt").write_text("0")

    @sw.component
    def step(examples: Input[Examples], out: Output[Examples], *, index: int = 0) -> None:
        value = int((examples.path / "rows.txt").read_text()) + index
        time.sleep(0.02)
        (out.path / "rows.txt").write_text(str(value))

    @sw.component
    def join(left: Input[Examples], right: Input[Examples], out: Output[Examples]) -> None:
        total = sum(int((a.path / "rows.txt").read_text()) for a in (left, right))
        (out.path / "rows.txt").write_text(str(total))

    components = [source(id="source")]
    branches = []
    for branch in ("a", "b"):
        previous = components[0]
        for i in range(9):
            previous = step(examples=previous.examples if i == 0 else previous.out, index=i, id=f"{branch}{i}")
            components.append(previous)
        branches.append(previous)
    components.append(join(left=branches[0].out, right=branches[1].out, id="join"))
    pipeline = sw.Pipeline("concurrent", components)

    runner = sw.LocalRunner(store=store_url, artifact_root=artifact_root, parallelism=2, cache=False)
    # Open the store (creating and migrating it) before the barrier, then start both runs together.
    runner.store
    Path(barrier, f"{name}.ready").touch()
    deadline = time.time() + 60
    while not Path(barrier, "go").exists() and time.time() < deadline:
        time.sleep(0.01)
    run = runner.run(pipeline, run_name=name)
    print(run.state, run.output("join", "out").uri, flush=True)
    sys.exit(0 if run.succeeded else 1)
    """
)


@pytest.mark.integration
@pytest.mark.slow
def test_two_runner_processes_share_one_store(store_url, tmp_path):
    """Two runner processes write to one store at the same time: both complete, nothing is lost or locked."""
    with MetadataStore(store_url) as store:  # created and migrated once, and the pipeline known, as after a first run
        store.create_run("concurrent", "first-run")
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    artifact_root = tmp_path / "artifacts"
    names = ["left-run", "right-run"]
    processes = [
        subprocess.Popen([sys.executable, "-c", _CONCURRENT_RUN, store_url, str(artifact_root), str(barrier), name],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
        for name in names
    ]
    deadline = time.time() + 120
    while not all((barrier / f"{n}.ready").exists() for n in names):
        assert time.time() < deadline, "the runner processes did not start"
        assert all(p.poll() is None for p in processes), [p.communicate() for p in processes]
        time.sleep(0.02)
    (barrier / "go").touch()
    results = [p.communicate(timeout=240) for p in processes]
    for process, (stdout, stderr) in zip(processes, results, strict=True):
        assert "database is locked" not in stderr
        assert process.returncode == 0, f"runner failed:\n{stdout}\n{stderr}"
        assert stdout.startswith("COMPLETE")
        assert (Path(stdout.split()[1]) / "rows.txt").read_text() == str(2 * sum(range(9)))

    with MetadataStore(store_url) as store:
        windows = []
        for name in names:
            run = store.get_run(name)
            assert run.state == COMPLETE
            executions = store.executions(run.id)
            assert len(executions) == 20
            assert {e.state for e in executions} == {COMPLETE}
            assert all(len(e.outputs) == 1 and Path(e.outputs[next(iter(e.outputs))].uri).is_dir() for e in executions)
            windows.append((min(e.start_time for e in executions), max(e.end_time for e in executions)))
        assert store.count("executions") == 40
        assert store.count("artifacts") == 40
        assert {r.name for r in store.list_runs(pipeline="concurrent")} == {"first-run", *names}
        # The two runs really overlapped in time.
        (start_a, end_a), (start_b, end_b) = windows
        assert start_a < end_b and start_b < end_a


def test_first_runs_of_a_new_pipeline_started_together_both_succeed(store_url):
    """Two runners starting the first runs of a pipeline at the same moment both register their run."""
    import threading

    stores = [MetadataStore(store_url), MetadataStore(store_url)]
    failures: list[BaseException] = []
    try:
        for attempt in range(15):
            barrier = threading.Barrier(2)

            def start(store: MetadataStore, side: str, attempt: int = attempt, barrier=barrier) -> None:
                barrier.wait()
                try:
                    store.create_run(f"pipeline-{attempt}", f"run-{attempt}-{side}")
                except BaseException as exc:  # noqa: BLE001 - collected and re-raised below
                    failures.append(exc)

            threads = [threading.Thread(target=start, args=(s, side)) for s, side in zip(stores, "ab", strict=True)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        if failures:
            raise failures[0]
        assert len(stores[0].list_runs(limit=100)) == 30
    finally:
        for opened in stores:
            opened.close()


def test_two_runs_with_one_name_started_together_one_gets_a_clear_error(store_url):
    """Two runners racing for the same run name: one run is created, the other gets the StoreError."""
    import threading
    stores = [MetadataStore(store_url), MetadataStore(store_url)]
    try:
        for attempt in range(15):
            barrier = threading.Barrier(2)
            outcomes: list[object] = []

            def start(store: MetadataStore, attempt: int = attempt, barrier=barrier, outcomes=outcomes) -> None:
                barrier.wait()
                try:
                    outcomes.append(store.create_run("racing", f"nightly-{attempt}"))
                except BaseException as exc:  # noqa: BLE001 - inspected below
                    outcomes.append(exc)

            threads = [threading.Thread(target=start, args=(s,)) for s in stores]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            errors = [o for o in outcomes if isinstance(o, BaseException)]
            assert len(errors) == 1, outcomes
            assert isinstance(errors[0], StoreError) and "already exists" in str(errors[0]), repr(errors[0])
    finally:
        for opened in stores:
            opened.close()
