"""One error path: every failure of the `sluiceway` command is a message and an exit code, never a raw traceback."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from contextlib import closing
from importlib.util import find_spec
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runners"))
from clitools import SAMPLE, run_cli  # noqa: E402

pytestmark = pytest.mark.integration
PENGUINS_CSV = str(Path(find_spec("palmerpenguins").submodule_search_locations[0]) / "data" / "penguins.csv")


def test_unwritable_output_paths_exit_2_naming_the_path(cli_env: dict[str, str], tmp_path: Path) -> None:
    missing = tmp_path / "missing" / "dir"
    for args, path in [
        (["stats", PENGUINS_CSV, "--html", str(missing / "x.html")], missing / "x.html"),
        (["schema", "infer", PENGUINS_CSV, "-o", str(missing / "s.yaml")], missing / "s.yaml"),
        (
            ["validate", PENGUINS_CSV, "--schema", str(tmp_path / "s.yaml"), "--html", str(missing / "v.html")],
            missing / "v.html",
        ),
        (["schema", "infer", PENGUINS_CSV, "-o", str(tmp_path)], tmp_path),
    ]:
        result = run_cli(args, cli_env)
        assert result.returncode == 2, (args, result.stderr)
        assert str(path) in result.stderr and "Traceback" not in result.stderr
        assert result.stderr.startswith("error: ")
    assert not missing.exists()


def test_a_file_in_place_of_the_output_folder_is_an_os_error_exit_2(cli_env: dict[str, str], tmp_path: Path) -> None:
    # The parent "folder" is a file: the check passes it as a path, writing fails with OSError.
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    result = run_cli(["stats", PENGUINS_CSV, "--html", str(blocker / "x.html")], cli_env)
    assert result.returncode == 2 and str(blocker) in result.stderr and "Traceback" not in result.stderr


def _make_store(cli_env: dict[str, str]) -> Path:
    assert run_cli(["run", str(SAMPLE), "--run-name", "ok"], cli_env).returncode == 0
    return Path(cli_env["SLUICEWAY_STORE"].removeprefix("sqlite:///"))


@pytest.mark.parametrize("damage", ["random bytes", "dropped table", "dropped column", "unknown revision"])
def test_a_damaged_store_exits_2_naming_the_store(cli_env: dict[str, str], damage: str) -> None:
    store = _make_store(cli_env)
    if damage == "random bytes":
        data = bytearray(store.read_bytes())
        data[:4096] = os.urandom(4096)  # the header page: SQLite no longer recognises the file
        store.write_bytes(bytes(data))
        for suffix in ("-wal", "-shm"):
            Path(str(store) + suffix).unlink(missing_ok=True)
    else:
        with closing(sqlite3.connect(store)) as conn, conn:  # commit, then close: no connection left to the GC
            if damage == "dropped table":
                conn.execute("DROP TABLE events")
            elif damage == "unknown revision":  # as written by a newer Sluiceway
                conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
            else:
                conn.execute("ALTER TABLE executions DROP COLUMN error")
    must_fail = {("runs", "show"), ("lineage", "1")}
    for args in (
        ["runs", "list"],
        ["runs", "show", "ok"],
        ["artifacts", "list"],
        ["lineage", "1"],
        ["run", str(SAMPLE)],
    ):
        result = run_cli(args, cli_env)
        if damage in ("random bytes", "unknown revision") or tuple(args[:2]) in must_fail:
            assert result.returncode == 2, (damage, args, result.stdout, result.stderr)
            assert "metadata store" in result.stderr and str(store) in result.stderr, result.stderr
            assert damage != "unknown revision" or "newer" in result.stderr.lower()
        else:  # a command that does not touch the damaged part may work; it must not crash
            assert result.returncode in (0, 1, 2), (damage, args, result.stderr)
        assert "Traceback" not in result.stderr


def test_keyboard_interrupt_while_importing_the_pipeline_says_no_run_was_recorded(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    pipeline = tmp_path / "slow_import.py"
    pipeline.write_text(
        "import os, signal\nos.kill(os.getpid(), signal.SIGINT)  # the user presses Ctrl-C mid-import\n"
    )
    result = run_cli(["run", str(pipeline)], cli_env)
    assert result.returncode == 130, result.stderr
    assert "no run was recorded" in result.stderr and "CANCELED" not in result.stderr
    assert "Traceback" not in result.stderr and "KeyboardInterrupt" not in result.stderr
    assert json.loads(run_cli(["runs", "list", "--json"], cli_env).stdout) == []


def test_keyboard_interrupt_during_a_run_names_the_canceled_run(cli_env: dict[str, str], tmp_path: Path) -> None:
    pipeline = tmp_path / "interrupted.py"
    pipeline.write_text(
        "import os, signal\n"
        "import sluiceway as sw\n"
        "@sw.component\n"
        "def first(out: sw.Output[sw.Examples]) -> None:\n"
        "    (out.path / 'x.txt').write_text('x')\n"
        "    os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while a component runs\n"
        "@sw.component\n"
        "def second(inp: sw.Input[sw.Examples], out: sw.Output[sw.Model]) -> None:\n"
        "    (out.path / 'm.txt').write_text('m')\n"
        "f = first()\n"
        "pipeline = sw.Pipeline('interrupted', [f, second(inp=f.out)])\n"
    )
    result = run_cli(["run", str(pipeline), "--run-name", "stopped"], cli_env)
    assert result.returncode == 130, result.stderr
    assert "run stopped is CANCELED" in result.stderr and "--resume stopped" in result.stderr
    assert "Traceback" not in result.stderr
    shown = json.loads(run_cli(["runs", "show", "stopped", "--json"], cli_env).stdout)
    assert shown["state"] == "CANCELED"


def test_keyboard_interrupt_in_an_exec_task_names_its_execution(cli_env: dict[str, str], tmp_path: Path) -> None:
    pipeline = tmp_path / "task.py"
    pipeline.write_text(
        "import os, signal\n"
        "import sluiceway as sw\n"
        "@sw.component\n"
        "def step(out: sw.Output[sw.Examples]) -> None:\n"
        "    os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C (or the orchestrator) stops the task mid-component\n"
        "pipeline = sw.Pipeline('task', [step()])\n"
    )
    result = run_cli(["exec", "--pipeline", str(pipeline), "--component", "step", "--run", "r1"], cli_env)
    assert result.returncode == 130, result.stderr
    assert "component step of run r1: execution 1 is CANCELED" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_internal_error_exits_70_with_a_hint_and_the_traceback_only_under_vv(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    # Simulate a bug inside Sluiceway: the pipeline file breaks the runner it is about to be run by.
    pipeline = tmp_path / "buggy.py"
    pipeline.write_text(
        "import sluiceway as sw\n"
        "from sluiceway.runners.local import LocalRunner\n"
        "def broken(self, pipeline, **kwargs):\n"
        "    return 1 / 0\n"
        "LocalRunner.run = broken\n"
        "@sw.component\n"
        "def a(out: sw.Output[sw.Examples]) -> None: ...\n"
        "pipeline = sw.Pipeline('buggy', [a()])\n"
    )
    result = run_cli(["run", str(pipeline)], cli_env)
    assert result.returncode == 70
    assert "internal error: ZeroDivisionError: division by zero" in result.stderr and "-vv" in result.stderr
    assert "Traceback" not in result.stderr
    verbose = run_cli(["run", str(pipeline), "-vv"], cli_env)
    assert verbose.returncode == 70 and "Traceback" in verbose.stderr and "return 1 / 0" in verbose.stderr


def test_usage_errors_exit_2(cli_env: dict[str, str]) -> None:
    unknown = run_cli(["runs", "frobnicate"], cli_env)
    assert unknown.returncode == 2 and "No such command" in unknown.stderr
    missing = run_cli(["schema", "infer", PENGUINS_CSV], cli_env)
    assert missing.returncode == 2 and "--output" in missing.stderr
    bad_id = run_cli(["artifacts", "show", "abc"], cli_env)
    assert bad_id.returncode == 2 and "Got 'abc' instead" in bad_id.stderr
