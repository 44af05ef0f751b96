"""What `sluiceway run` shows: failures with their last frames and log, warnings that did not stop the run,
the whole error in `runs show`, component output under -v, and where to look next."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runners"))
from clitools import SAMPLE, run_cli  # noqa: E402

pytestmark = pytest.mark.integration
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "penguin" / "pipeline.py"

DEEP_FAILURE = """
import sluiceway as sw

def outer():
    middle()

def middle():
    inner()

def inner():
    raise ValueError("first line of the problem\\nsecond line\\nthird line")

@sw.component
def deep(out: sw.Output[sw.Examples]) -> None:
    print("about to fail")
    outer()

pipeline = sw.Pipeline("deep", [deep()])
"""


def test_a_failed_component_shows_its_last_frames_and_log_and_runs_show_the_whole_error(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    pipeline = tmp_path / "deep.py"
    pipeline.write_text(DEEP_FAILURE)
    ran = run_cli(["run", str(pipeline), "--run-name", "deep1"], cli_env)
    assert ran.returncode == 1
    details = ran.stderr
    assert "deep failed:" in details and "in inner" in details and "in middle" in details
    assert "first line of the problem" in details and "third line" in details
    assert "call_execute" not in details  # the runner's own frames are left out: the last frames only
    log = json.loads(run_cli(["runs", "show", "deep1", "--json"], cli_env).stdout)["executions"]["deep"]["log_uri"]
    assert f"log: {log}" in details and "about to fail" in Path(log).read_text()

    shown = run_cli(["runs", "show", "deep1"], cli_env)
    assert shown.returncode == 0
    for line in ("Traceback", "call_execute", "in outer", "first line of the problem", "second line", "third line"):
        assert line in shown.stdout, line
    assert f"log: {log}" in shown.stdout


def test_skipped_is_one_word_and_counts_are_plural_only_when_needed(cli_env: dict[str, str], tmp_path: Path) -> None:
    env = {**cli_env, "SLUICEWAY_TEST_FAIL": "1"}
    pipeline = tmp_path / "two.py"
    pipeline.write_text(
        "import sluiceway as sw\n"
        "@sw.component\n"
        "def a(out: sw.Output[sw.Examples]) -> None:\n"
        "    raise RuntimeError('no')\n"
        "@sw.component\n"
        "def b(inp: sw.Input[sw.Examples], out: sw.Output[sw.Model]) -> None: ...\n"
        "x = a()\n"
        "pipeline = sw.Pipeline('two', [x, b(inp=x.out)])\n"
    )
    two = run_cli(["run", str(pipeline), "--run-name", "t"], env)
    assert "SKIPPED  b" in two.stdout and "(1 failed, 1 skipped)" in two.stdout
    shown = run_cli(["runs", "show", "t"], env)
    assert "SKIPPED" in shown.stdout and "NOT RUN" not in shown.stdout

    one = tmp_path / "one.py"
    one.write_text(
        "import sluiceway as sw\n@sw.component\ndef only(out: sw.Output[sw.Examples]) -> None: ...\n"
        "pipeline = sw.Pipeline('one', [only()])\n"
    )
    single = run_cli(["run", str(one)], cli_env)
    assert single.returncode == 0 and ", 1 component\n" in single.stdout, single.stdout


def test_v_streams_component_output_while_it_runs(cli_env: dict[str, str]) -> None:
    verbose = run_cli(["run", str(SAMPLE), "-v"], cli_env)
    assert verbose.returncode == 0, verbose.stderr
    assert "produce | produced 10 rows" in verbose.stderr
    quiet_by_default = run_cli(["run", str(SAMPLE), "--no-cache"], cli_env)
    assert "produced 10 rows" not in quiet_by_default.stdout + quiet_by_default.stderr


def test_anomalies_that_do_not_stop_the_run_are_shown(cli_env: dict[str, str], tmp_path: Path) -> None:
    train, new = tmp_path / "train.csv", tmp_path / "new.csv"
    train.write_text("amount,color\n" + "".join(f"{i},{c}\n" for i, c in enumerate(["red", "blue"] * 30)))
    new.write_text("amount,color\n" + "".join(f"{i},{c}\n" for i, c in enumerate(["red", "blue", "green"] * 20)))
    schema = tmp_path / "schema.yaml"
    assert run_cli(["schema", "infer", str(train), "-o", str(schema)], cli_env).returncode == 0
    pipeline = tmp_path / "lenient.py"
    pipeline.write_text(
        "import sluiceway as sw\n"
        "from sluiceway.components import CsvExampleGen, ExampleValidator, ImportSchemaGen, StatisticsGen\n"
        f"gen = CsvExampleGen(input_pattern={str(new)!r})\n"
        "stats = StatisticsGen(examples=gen.examples)\n"
        f"schema = ImportSchemaGen(schema_file={str(schema)!r})\n"
        "check = ExampleValidator(statistics=stats.statistics, schema=schema.schema, fail_on_anomalies=False)\n"
        "pipeline = sw.Pipeline('lenient', [gen, stats, schema, check])\n"
    )
    ran = run_cli(["run", str(pipeline)], cli_env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    warning = next(line for line in ran.stdout.splitlines() if line.startswith("warning:"))
    assert "ExampleValidator found" in warning and "that did not stop the run" in warning
    assert "ENUM_TYPE_UNEXPECTED_STRING_VALUES" in warning and "report.html" in warning
    cached = run_cli(["run", str(pipeline)], cli_env)  # still shown when the validator comes from the cache
    assert "that did not stop the run" in cached.stdout


def test_the_demo_ends_with_where_the_outputs_are_and_what_to_try_next(cli_env: dict[str, str]) -> None:
    ran = run_cli(["run", str(EXAMPLE), "--run-name", "demo"], cli_env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    tail = ran.stdout[ran.stdout.index("COMPLETE demo") :]
    assert f"Outputs: {cli_env['SLUICEWAY_ARTIFACT_ROOT']}" in tail
    reports = [line.split(": ", 1)[1] for line in tail.splitlines() if line.strip().startswith("StatisticsGen.")]
    assert reports and all(Path(r).is_file() for r in reports)
    assert "ExampleValidator.anomalies:" in tail
    assert "sluiceway runs show demo" in tail and "sluiceway lineage" in tail
    quiet = run_cli(["run", str(EXAMPLE), "-q"], cli_env)
    assert quiet.returncode == 0 and "Next:" not in quiet.stdout


def test_a_gate_message_is_shown_once(cli_env: dict[str, str], tmp_path: Path) -> None:
    pipeline = tmp_path / "gate.py"
    pipeline.write_text(
        "import sluiceway as sw\n"
        "@sw.component\n"
        "def gate(out: sw.Output[sw.ExampleAnomalies]) -> None:\n"
        "    raise sw.GateClosed('2 problems found:\\n- first problem\\n- second problem')\n"
        "pipeline = sw.Pipeline('gated', [gate()])\n"
    )
    ran = run_cli(["run", str(pipeline)], cli_env)
    assert ran.returncode == 1
    both = ran.stdout + ran.stderr
    assert both.count("second problem") == 1 and "gate failed:" in ran.stderr and "log: " in ran.stderr
