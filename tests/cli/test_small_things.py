"""The small things a user notices at the command line (issue 6.16), each through the real command."""

from __future__ import annotations

import json
import re
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runners"))
from clitools import SAMPLE, run_cli  # noqa: E402
from cli_envs import environment_without_settings  # noqa: E402

pytestmark = pytest.mark.integration
PENGUINS_CSV = str(Path(find_spec("palmerpenguins").submodule_search_locations[0]) / "data" / "penguins.csv")


def test_global_options_may_follow_the_subcommand(cli_env: dict[str, str], tmp_path: Path) -> None:
    store = tmp_path / "elsewhere.db"
    result = run_cli(["run", str(SAMPLE), "-q", "--store", f"sqlite:///{store}", "--run-name", "late"], cli_env)
    assert result.returncode == 0, result.stderr
    assert "[1/5]" not in result.stdout and "COMPLETE late" in result.stdout  # -q applied
    assert store.exists()  # --store applied
    listed = run_cli(["runs", "list", "--json", f"--store=sqlite:///{store}"], cli_env)
    assert [r["name"] for r in json.loads(listed.stdout)] == ["late"]


def test_version_and_help(cli_env: dict[str, str]) -> None:
    for flag in ("-V", "--version"):
        version = run_cli([flag], cli_env)
        assert version.returncode == 0 and re.fullmatch(r"sluiceway \d+\.\d+\.\d+\S*\n", version.stdout)
    top = run_cli(["--help"], cli_env)
    commands = re.findall(r"^  (\w+)\s", top.stdout.split("Commands:")[1], flags=re.MULTILINE)
    assert set(commands) == {
        "run", "exec", "runs", "artifacts", "lineage", "stats", "schema", "validate", "init", "store", "gc",
        "export", "serve", "monitor",
    }
    assert "convert" not in top.stdout  # no promise of commands that do not exist
    for args in [[], *([c] for c in commands), ["runs", "list"], ["runs", "show"], ["schema", "infer"],
                 ["export", "airflow"], ["export", "kubeflow"], ["export", "argo"], ["export", "luigi"],
                 ["export", "plan"]]:
        shown = run_cli([*args, "--help"], cli_env)
        assert shown.returncode == 0, args
        assert "<bool>" not in shown.stdout and "<int>" not in shown.stdout, (args, shown.stdout)


def test_listing_in_an_empty_folder_creates_no_store(tmp_path: Path) -> None:
    env = environment_without_settings()
    listed = run_cli(["runs", "list"], env, cwd=tmp_path)
    assert listed.returncode == 0 and "No runs" in listed.stderr
    assert json.loads(run_cli(["artifacts", "list", "--json"], env, cwd=tmp_path).stdout) == []
    shown = run_cli(["runs", "show", "x"], env, cwd=tmp_path)
    assert shown.returncode == 2 and "no metadata store" in shown.stderr.lower()
    assert list(tmp_path.iterdir()) == []


def test_unknown_artifact_type_says_so_and_lists_the_known_ones(cli_env: dict[str, str]) -> None:
    assert run_cli(["run", str(SAMPLE)], cli_env).returncode == 0
    unknown = run_cli(["artifacts", "list", "--type", "Modle"], cli_env)
    assert unknown.returncode == 2 and "Unknown artifact type 'Modle'" in unknown.stderr
    assert "Model" in unknown.stderr and "Examples" in unknown.stderr
    known_but_absent = run_cli(["artifacts", "list", "--type", "PushedModel", "--json"], cli_env)
    assert known_but_absent.returncode == 0 and json.loads(known_but_absent.stdout) == []


def test_schema_infer_writes_json_or_refuses_clearly(cli_env: dict[str, str], tmp_path: Path) -> None:
    as_json = tmp_path / "schema.json"
    written = run_cli(["schema", "infer", PENGUINS_CSV, "-o", str(as_json)], cli_env)
    assert written.returncode == 0 and "8 features" in written.stdout
    document = json.loads(as_json.read_text())
    assert {f["name"] for f in document["features"]} >= {"island", "body_mass_g"}
    assert run_cli(["validate", PENGUINS_CSV, "--schema", str(as_json)], cli_env).returncode == 0
    refused = run_cli(["schema", "infer", PENGUINS_CSV, "-o", str(tmp_path / "schema.csv")], cli_env)
    assert refused.returncode == 2 and "'.csv'" in refused.stderr and ".yaml" in refused.stderr
    assert not (tmp_path / "schema.csv").exists()


def test_lineage_lists_the_producing_execution_once_and_cached_reuses_apart(cli_env: dict[str, str]) -> None:
    assert run_cli(["run", str(SAMPLE), "--run-name", "one"], cli_env).returncode == 0
    assert run_cli(["run", str(SAMPLE), "--run-name", "two"], cli_env).returncode == 0  # all cached
    models = json.loads(run_cli(["artifacts", "list", "--type", "Model", "--json"], cli_env).stdout)
    model = next(m for m in models if m["producer"] == "nap_a")
    lineage = json.loads(run_cli(["lineage", str(model["id"]), "--json"], cli_env).stdout)
    assert [(n["component_id"], n["run"]) for n in lineage["upstream"]] == [("nap_a", "one"), ("produce", "one")]
    # Run two reused both executions from the cache: listed apart, each once.
    assert [(n["component_id"], n["run"]) for n in lineage["upstream_cached"]] == [("nap_a", "two"), ("produce", "two")]
    text = run_cli(["lineage", str(model["id"])], cli_env).stdout
    assert text.count("<- nap_a") == 1 and text.count("<- produce") == 1
    assert "reused from the cache 2 times: nap_a in run two" in text


def test_command_modules_register_explicitly_without_import_side_effects(cli_env: dict[str, str]) -> None:
    import subprocess

    probe = (
        "import sys, typer\n"
        "from sluiceway.cli.main import COMMAND_MODULES\n"
        "import importlib\n"
        "modules = [importlib.import_module(name) for name in COMMAND_MODULES]\n"
        "assert 'sluiceway.cli.main' in sys.modules\n"
        "del sys.modules['sluiceway.cli.main']\n"
        "for name in COMMAND_MODULES:\n"
        "    importlib.reload(sys.modules[name])\n"
        "assert 'sluiceway.cli.main' not in sys.modules, 'a command module imports main: an import cycle'\n"
        "app = typer.Typer()\n"
        "assert not app.registered_commands\n"
        "for module in modules:\n"
        "    module.register(app)\n"
        "names = {c.name or c.callback.__name__ for c in app.registered_commands}\n"
        "names |= {g.name for g in app.registered_groups}\n"
        "print(sorted(names))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], env=cli_env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(
        sorted(["run", "exec", "runs", "artifacts", "lineage", "stats", "validate", "schema", "init", "store", "gc",
                "export", "serve", "monitor"])
    )


def test_hoisting_global_options_keeps_everything_else_in_order() -> None:
    from sluiceway.cli.main import hoist_global_options

    args = ["run", "p.py", "-vv", "--store", "sqlite:///x.db", "--no-cache", "--artifact-root=out", "-q"]
    assert hoist_global_options(args) == [
        "-vv",
        "--store",
        "sqlite:///x.db",
        "--artifact-root=out",
        "-q",
        "run",
        "p.py",
        "--no-cache",
    ]
    assert hoist_global_options(["run", "p.py", "--", "-q"]) == ["run", "p.py", "--", "-q"]  # after --: arguments
    assert hoist_global_options(["runs", "list", "--store"]) == ["--store", "runs", "list"]  # click reports it
