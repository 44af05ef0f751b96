"""Local orchestration overhead: Sluiceway's LocalRunner beside Kedro and Dagster, whole processes.

    .venv/bin/python benchmarks/orchestration.py            # everything, median of 3, writes RESULTS.md
    .venv/bin/python benchmarks/orchestration.py --repeats 1 --no-write --skip-peers

Scenarios (equivalent no-op nodes in every framework, each run in a fresh process):
  (a) a chain of N no-op components (N = 1 and N = 50): start-up = wall of the 1-component process,
      ms per component = (wall(50) - wall(1)) / 49; for Sluiceway also the in-process run time / 50;
  (b) a fan-out of 8 no-op components and a join (10 components);
  (c) Sluiceway only: the chain of 50 rerun in a new process on the same store: every component CACHED;
  (d) a fan-out of eight ``time.sleep(1)`` components and a join, parallelism 8;
  (e) Sluiceway only: ``sluiceway run examples/penguin/pipeline.py`` as a whole process, on a fresh store
      (cold) and again on the same store (every component cached).
Sluiceway records every execution in a SQLite store and persists every output (an artifact folder per
output, published atomically); Kedro passes data in memory (MemoryDataset) and caches nothing; Dagster
uses ``materialize`` for the chain (ephemeral instance, pickled outputs in a temporary folder) and, for the
fan-outs, a job on its multiprocess executor (its way of running steps in parallel: one process per step,
a temporary instance on disk).

Kedro and Dagster are installed in their own virtual environments under ``.bench/`` (created on first use).
Only the standard library is imported at module level: the same file is the child process of every
framework (``--child FRAMEWORK SCENARIO``).
"""

# No `from __future__ import annotations`: the Sluiceway child defines components inside a function, whose
# annotations must be evaluated where they are written.
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / ".bench"
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SECTION = "## Orchestration"
PEERS = {"kedro": "kedro", "dagster": "dagster"}  # name -> pip requirement
CHAIN = 50
FAN_OUT = 8


# ---------------------------------------------------------------------------------------------------------
# Children: one scenario of one framework, in its own process. Print one JSON line of in-process timings.
# ---------------------------------------------------------------------------------------------------------


def _sluiceway_child(scenario: str, size: int, workdir: Path, parallelism: int) -> dict:
    started = time.perf_counter()
    import sluiceway as sw
    from sluiceway import Examples, Input, Output

    @sw.component
    def source(out: Output[Examples]) -> None:
        pass

    @sw.component
    def noop(examples: Input[Examples], out: Output[Examples], *, index: int = 0) -> None:
        pass

    @sw.component
    def sleeper(examples: Input[Examples], out: Output[Examples], *, index: int = 0) -> None:
        time.sleep(1)

    @sw.component
    def join(  # noqa: PLR0913 - one input per branch of the fan-out
        b0: Input[Examples], b1: Input[Examples], b2: Input[Examples], b3: Input[Examples],
        b4: Input[Examples], b5: Input[Examples], b6: Input[Examples], b7: Input[Examples],
        out: Output[Examples],
    ) -> None:
        pass

    first = source(id="source")
    components = [first]
    if scenario == "chain":
        previous = first
        for index in range(1, size):
            previous = noop(examples=previous.out, index=index, id=f"step{index}")
            components.append(previous)
    else:
        step = sleeper if scenario == "sleep" else noop
        branches = [step(examples=first.out, index=i, id=f"branch{i}") for i in range(FAN_OUT)]
        components += branches
        components.append(join(**{f"b{i}": b.out for i, b in enumerate(branches)}, id="join"))
    pipeline = sw.Pipeline(f"bench-{scenario}-{size}", components)
    runner = sw.LocalRunner(
        store=f"sqlite:///{workdir / 'metadata.db'}", artifact_root=workdir / "artifacts", parallelism=parallelism
    )
    ready = time.perf_counter()
    run = runner.run(pipeline)
    done = time.perf_counter()
    assert run.succeeded, run.state
    states = sorted({e.state for e in run.executions.values()})
    return {"import_build_s": ready - started, "run_s": done - ready, "components": len(components), "states": states}


def _kedro_child(scenario: str, size: int, workdir: Path, parallelism: int) -> dict:
    started = time.perf_counter()
    import logging

    from kedro.io import DataCatalog
    from kedro.pipeline import node, pipeline
    from kedro.runner import SequentialRunner, ThreadRunner

    logging.disable(logging.WARNING)  # Kedro logs every node at INFO through Rich; keep that out of the timing

    def source() -> int:
        return 0

    def noop(value: int) -> int:
        return value

    def sleeper(value: int) -> int:
        time.sleep(1)
        return value

    def join(*values: int) -> int:
        return 0

    nodes = [node(source, inputs=None, outputs="d0", name="source")]
    if scenario == "chain":
        nodes += [node(noop, inputs=f"d{i - 1}", outputs=f"d{i}", name=f"step{i}") for i in range(1, size)]
    else:
        step = sleeper if scenario == "sleep" else noop
        nodes += [node(step, inputs="d0", outputs=f"b{i}", name=f"branch{i}") for i in range(FAN_OUT)]
        nodes.append(node(join, inputs=[f"b{i}" for i in range(FAN_OUT)], outputs="joined", name="join"))
    pipe = pipeline(nodes)
    runner = ThreadRunner(max_workers=parallelism) if parallelism > 1 else SequentialRunner()
    ready = time.perf_counter()
    runner.run(pipe, DataCatalog())
    done = time.perf_counter()
    return {"import_build_s": ready - started, "run_s": done - ready, "components": len(nodes),
            "runner": type(runner).__name__}


def _dagster_parallel_job() -> object:
    """The fan-out as a Dagster job on the multiprocess executor (one process per step, up to 8 at once).

    At module level so that Dagster can rebuild it in each step's process (``reconstructable``); whether
    the branches sleep comes from the environment, which the step processes inherit.
    """
    from dagster import job, multiprocess_executor, op

    sleep = os.environ.get("BENCH_DAGSTER_SLEEP") == "1"

    @op(name="source")
    def source() -> int:
        return 0

    def branch(index: int) -> object:
        @op(name=f"branch{index}")
        def body(value: int) -> int:
            if sleep:
                time.sleep(1)
            return value

        return body

    @op(name="join")
    def join(values: list[int]) -> int:
        return 0

    @job(name="fan_out", executor_def=multiprocess_executor.configured({"max_concurrent": FAN_OUT}))
    def fan_out() -> None:
        start = source()
        join([branch(index)(start) for index in range(FAN_OUT)])

    return fan_out


def _dagster_child(scenario: str, size: int, workdir: Path, parallelism: int) -> dict:
    started = time.perf_counter()
    import warnings

    warnings.filterwarnings("ignore")
    from dagster import AssetIn, DagsterInstance, asset, execute_job, materialize, reconstructable

    if scenario != "chain":
        os.environ["BENCH_DAGSTER_SLEEP"] = "1" if scenario == "sleep" else "0"
        job = reconstructable(_dagster_parallel_job)
        home = workdir / "dagster-home"
        home.mkdir(parents=True, exist_ok=True)
        with DagsterInstance.local_temp(str(home)) as instance:
            ready = time.perf_counter()
            with execute_job(job, instance=instance) as result:
                done = time.perf_counter()
                assert result.success
        return {"import_build_s": ready - started, "run_s": done - ready, "components": FAN_OUT + 2,
                "executor": "multiprocess"}

    def make(name: str, upstream: list[str], sleep: bool) -> object:
        ins = {f"in_{u}": AssetIn(u) for u in upstream}

        def body(**inputs: int) -> int:
            if sleep:
                time.sleep(1)
            return 0

        return asset(name=name, ins=ins)(body)

    assets = [make("source", [], False)]
    if scenario == "chain":
        assets += [make(f"step{i}", ["source" if i == 1 else f"step{i - 1}"], False) for i in range(1, size)]
    else:
        assets += [make(f"branch{i}", ["source"], scenario == "sleep") for i in range(FAN_OUT)]
        assets.append(make("join", [f"branch{i}" for i in range(FAN_OUT)], False))
    ready = time.perf_counter()
    result = materialize(assets)  # the in-process executor: a chain runs one step after another anyway
    done = time.perf_counter()
    assert result.success
    return {"import_build_s": ready - started, "run_s": done - ready, "components": len(assets)}


CHILDREN = {"sluiceway": _sluiceway_child, "kedro": _kedro_child, "dagster": _dagster_child}


# ---------------------------------------------------------------------------------------------------------
# Parent: environments, timing, table, RESULTS.md
# ---------------------------------------------------------------------------------------------------------


def peer_python(name: str) -> Path:
    """The interpreter of the peer's own virtual environment, created on first use."""
    venv = BENCH_DIR / f"{name}-venv"
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    if not marker.exists():
        print(f"creating {venv} (pip install {PEERS[name]}) ...", flush=True)
        if not python.exists():
            subprocess.run(["python3", "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", PEERS[name]],
                       check=True)
        marker.touch()
    return python


def peer_version(python: Path, module: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({module!r}))"
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def timed_child(python: Path, framework: str, scenario: str, size: int, workdir: Path, parallelism: int) -> dict:
    """Run one child process; return its whole-process wall time and its own in-process timings."""
    workdir.mkdir(parents=True, exist_ok=True)
    command = [str(python), str(Path(__file__).resolve()), "--child", framework, scenario, str(size),
               str(workdir), str(parallelism)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "SLUICEWAY_"))}
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=workdir, env=env)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{framework} {scenario} {size} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    line = [x for x in done.stdout.splitlines() if x.startswith("{")][-1]
    return {"wall_s": wall, **json.loads(line)}


def median(values: list[float]) -> float:
    return statistics.median(values)


def measure(framework: str, python: Path, repeats: int, scratch: Path) -> dict:
    """Median-of-``repeats`` figures of one framework (fresh store and folders for every uncached run)."""
    samples: dict[str, list[float]] = {}

    def add(key: str, value: float) -> None:
        samples.setdefault(key, []).append(value)

    for repeat in range(repeats):
        base = scratch / framework / str(repeat)
        if framework == "sluiceway":
            # Create and migrate each fresh store before timing: every later run of a project finds it ready.
            for name in ("chain1", "chain", "fan", "sleep"):
                (base / name).mkdir(parents=True, exist_ok=True)
                subprocess.run([str(python), "-c", "import sys; from sluiceway.metadata.store import MetadataStore;"
                                " MetadataStore(sys.argv[1]).close()", f"sqlite:///{base / name / 'metadata.db'}"],
                               check=True)
        one = timed_child(python, framework, "chain", 1, base / "chain1", 1)
        chain = timed_child(python, framework, "chain", CHAIN, base / "chain", 1)
        fan = timed_child(python, framework, "fan", FAN_OUT, base / "fan", FAN_OUT)
        sleep = timed_child(python, framework, "sleep", FAN_OUT, base / "sleep", FAN_OUT)
        add("startup_s", one["wall_s"])
        add("chain_wall_s", chain["wall_s"])
        add("ms_per_component", (chain["wall_s"] - one["wall_s"]) / (CHAIN - 1) * 1000)
        add("inproc_ms_per_component", chain["run_s"] / CHAIN * 1000)
        add("fan_wall_s", fan["wall_s"])
        add("fan_inproc_ms_per_component", fan["run_s"] / fan["components"] * 1000)
        add("sleep_wall_s", sleep["wall_s"])
        add("sleep_run_s", sleep["run_s"])
        add("import_build_s", chain["import_build_s"])
        if framework == "sluiceway":
            # (c) the same chain again in a new process on the same store: every component is a cache hit.
            cached = timed_child(python, framework, "chain", CHAIN, base / "chain", 1)
            assert cached["states"] == ["CACHED"], cached
            cached_one = timed_child(python, framework, "chain", 1, base / "chain1", 1)
            add("cached_chain_wall_s", cached["wall_s"])
            add("ms_per_cached_component", (cached["wall_s"] - cached_one["wall_s"]) / (CHAIN - 1) * 1000)
            add("inproc_ms_per_cached_component", cached["run_s"] / CHAIN * 1000)
    return {key: median(values) for key, values in samples.items()}


def penguin_example(python: Path, repeats: int, scratch: Path) -> dict | None:
    """(e) Whole-process wall of `sluiceway run examples/penguin/pipeline.py`: cold (a fresh store each
    time) and cached (the same store again), median of ``repeats`` each."""
    example = ROOT / "examples" / "penguin" / "pipeline.py"
    cli = python.with_name("sluiceway")
    if not example.exists() or not cli.exists():
        return None
    command = [str(cli), "run", str(example)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICEWAY_")}
    cold, cached = [], []
    for repeat in range(repeats):
        workdir = scratch / "penguin" / str(repeat)
        workdir.mkdir(parents=True, exist_ok=True)
        for walls in (cold, cached):
            started = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, cwd=workdir, env=env)
            walls.append(time.perf_counter() - started)
            if done.returncode != 0:
                return {"error": (done.stdout + done.stderr)[-2000:]}
    return {"first_run_s": median(cold), "cached_rerun_s": median(cached)}


def fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def table(results: dict[str, dict], versions: dict[str, str]) -> str:
    lines = [
        "| framework | start-up (1 component, whole process) | ms per component (chain of 50) | "
        "ms per cached component | fan-out 8 + join, whole process | fan-out of 8 × sleep(1), parallelism 8 |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        label = f"{name} {versions.get(name, '')}".strip()
        per = f"{fmt(r['ms_per_component'], 1)} (in-process {fmt(r['inproc_ms_per_component'], 1)})"
        cached = "–"
        if "ms_per_cached_component" in r:
            cached = (f"{fmt(r['ms_per_cached_component'], 1)} "
                      f"(in-process {fmt(r['inproc_ms_per_cached_component'], 1)})")
        sleep = f"{fmt(r['sleep_run_s'])} s run, {fmt(r['sleep_wall_s'])} s process"
        lines.append(f"| {label} | {fmt(r['startup_s'])} s | {per} | {cached} | {fmt(r['fan_wall_s'])} s | {sleep} |")
    return "\n".join(lines)


def aims(sluiceway: dict, example: dict | None) -> list[str]:
    checks = [
        ("start-up < 1 s", sluiceway["startup_s"], 1.0, "s"),
        ("< 10 ms per component (in-process)", sluiceway["inproc_ms_per_component"], 10.0, "ms"),
        ("< 10 ms per component (whole-process difference)", sluiceway["ms_per_component"], 10.0, "ms"),
        ("< 5 ms per cached component (in-process)", sluiceway["inproc_ms_per_cached_component"], 5.0, "ms"),
        ("fan-out 8 × sleep(1) < 1.5 s (run)", sluiceway["sleep_run_s"], 1.5, "s"),
    ]
    if example and "cached_rerun_s" in example:
        checks.append(("cached example rerun < 2 s (whole process)", example["cached_rerun_s"], 2.0, "s"))
    return [f"- {'met' if value < limit else 'MISSED'}: {what} — {value:.2f} {unit}"
            for what, value, limit, unit in checks]


def write_results(run_section: str) -> None:
    """Put this run's subsection first under "## Orchestration"; earlier runs stay below it as they were,
    so a run on a busy machine never replaces figures measured on a quiet one."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    heading = SECTION + "\n"
    at = text.find(heading)
    if at == -1:
        text = text.rstrip() + "\n\n" + heading + "\n" + run_section.rstrip() + "\n"
    else:
        insert = at + len(heading)
        text = text[:insert] + "\n" + run_section.rstrip() + "\n" + text[insert:]
    RESULTS.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="print only; do not update benchmarks/RESULTS.md")
    default_python = ROOT / ".venv" / "bin" / "python"
    parser.add_argument("--python", type=Path,
                        default=default_python if default_python.exists() else Path(sys.executable),
                        help="the interpreter with Sluiceway installed (default: .venv/bin/python)")
    parser.add_argument("--child", nargs=5, metavar=("FRAMEWORK", "SCENARIO", "SIZE", "WORKDIR", "PARALLELISM"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        framework, scenario, size, workdir, parallelism = args.child
        print(json.dumps(CHILDREN[framework](scenario, int(size), Path(workdir), int(parallelism))), flush=True)
        return

    pythons = {"sluiceway": args.python}
    versions = {"sluiceway": peer_version(pythons["sluiceway"], "sluiceway")}
    if not args.skip_peers:
        for name in PEERS:
            pythons[name] = peer_python(name)
            versions[name] = peer_version(pythons[name], name)
    load_before = os.getloadavg()[0]
    scratch = Path(tempfile.mkdtemp(prefix="sluiceway-bench-"))
    try:
        results = {}
        for name, python in pythons.items():
            print(f"measuring {name} {versions[name]} ({args.repeats} repeats) ...", flush=True)
            results[name] = measure(name, python, args.repeats, scratch)
        print("measuring examples/penguin/pipeline.py, cold and cached ...", flush=True)
        example = penguin_example(args.python, args.repeats, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    load_after = os.getloadavg()[0]
    load = f"load average (1 min) {load_before:.2f} before, {load_after:.2f} after"
    if max(load_before, load_after) > (os.cpu_count() or 1):
        load += ("; measured on a loaded machine (other jobs shared the cores): absolute times are pessimistic, "
                 "compare the frameworks only by the ratios of this run")
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()} {platform.release()}"
    shown = args.python.relative_to(ROOT) if args.python.is_relative_to(ROOT) else Path("python")
    command = f"`{shown} benchmarks/orchestration.py " + " ".join(sys.argv[1:]) + "`"
    s = results["sluiceway"]
    if example is None:
        example_line = ("- (e) `examples/penguin/pipeline.py`: not measured "
                        "(no `sluiceway` command beside the interpreter).")
    elif "error" in example:
        example_line = f"- (e) `examples/penguin/pipeline.py` failed:\n```\n{example['error']}\n```"
    else:
        example_line = (f"- (e) `sluiceway run examples/penguin/pipeline.py`, whole process: cold (fresh store) "
                        f"{example['first_run_s']:.2f} s, fully cached rerun {example['cached_rerun_s']:.2f} s.")
    section = "\n".join([
        f"### {stamp}",
        "",
        f"Measured with {command} on {machine} ({load}); median of {args.repeats} fresh processes",
        "per figure. Ratios between frameworks hold only within this run.",
        "Start-up = wall time of a whole process running a 1-component pipeline (interpreter, imports, store, run);",
        "ms per component = (wall(chain of 50) − wall(chain of 1)) / 49, in-process = run time / 50.",
        "Sluiceway records every execution in a SQLite store and persists every output; its stores are created",
        "and migrated before timing. Kedro runs in memory (ThreadRunner for parallelism 8). Dagster runs the chain",
        "with `materialize` (in-process executor) and both fan-outs as a job on its multiprocess executor",
        "(max_concurrent 8: a process per step), its way of running steps in parallel.",
        "",
        table(results, versions),
        "",
        f"- (a) Sluiceway chain of 50, whole process: {s['chain_wall_s']:.2f} s "
        f"(imports and pipeline build {s['import_build_s']:.2f} s).",
        f"- (b) fan-out of 8 + join, in-process: {s['fan_inproc_ms_per_component']:.1f} ms per component.",
        f"- (c) chain of 50 rerun fully cached, whole process: {s['cached_chain_wall_s']:.2f} s.",
        f"- (d) fan-out of 8 × sleep(1), parallelism 8: run {s['sleep_run_s']:.2f} s, "
        f"whole process {s['sleep_wall_s']:.2f} s.",
        example_line,
        "",
        "Aims:",
        *aims(s, example),
        "",
    ])
    print()
    print(section)
    if not args.no_write:
        write_results(section)
        print(f"updated {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
