"""User text is never Rich markup: values, column names, file names and error messages with "[...]" print as is."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runners"))
from clitools import run_cli  # noqa: E402

pytestmark = pytest.mark.integration

MARKUP_LIKE = ["[bold]", "[unknown]", "[/]"]


def _write_csv(path: Path, colors: list[str]) -> None:
    rows = "".join(f"{i},{color},{i % 7}\n" for i, color in enumerate(colors))
    path.write_text("[bold]amount,color[/],:smile:\n" + rows, encoding="utf-8")


def test_stats_schema_and_validate_print_bracketed_text_literally(cli_env: dict[str, str], tmp_path: Path) -> None:
    # Data file names stay plain: the CSV reader takes brackets in names as glob patterns (an ingest matter).
    train, new = tmp_path / "train.csv", tmp_path / "new.csv"
    _write_csv(train, ["[unknown]", "red"] * 30)
    _write_csv(new, ["[bold]", "[/]", "red", "[unknown]"] * 15)

    report = tmp_path / "report [bold].html"
    stats = run_cli(["stats", str(train), "--html", str(report)], cli_env)
    assert stats.returncode == 0, stats.stderr
    assert "[bold]amount" in stats.stdout and "color[/]" in stats.stdout and "[unknown] (30)" in stats.stdout
    assert ":smile:" in stats.stdout  # emoji codes stay text
    assert f"report: {report}" in stats.stdout and report.exists()
    schema = tmp_path / "schema [unknown].yaml"
    inferred = run_cli(["schema", "infer", str(train), "-o", str(schema)], cli_env)
    assert inferred.returncode == 0 and f"wrote {schema}" in inferred.stdout, inferred.stderr

    found = run_cli(["validate", str(new), "--schema", str(schema)], cli_env)
    assert found.returncode == 1, found.stdout + found.stderr  # anomalies, not a crash
    assert "Traceback" not in found.stderr and "MarkupError" not in found.stderr
    described = json.loads(run_cli(["validate", str(new), "--schema", str(schema), "--json"], cli_env).stdout)
    description = next(a["description"] for a in described["anomalies"] if a["feature"] == "color[/]")
    assert "[bold]" in description and "[/]" in description
    table_text = "".join(found.stdout.split())  # the table wraps long cells: compare without whitespace
    for fragment in ("color[/]", "[bold]", "[/]", str(new.name)):
        assert "".join(fragment.split()) in table_text, fragment


def test_errors_and_file_names_with_brackets_are_shown_whole(cli_env: dict[str, str], tmp_path: Path) -> None:
    missing = tmp_path / "schema[/bold].yaml"
    result = run_cli(["validate", str(tmp_path / "x[bold].csv"), "--schema", str(missing)], cli_env)
    assert result.returncode == 2 and str(missing) in result.stderr and "Traceback" not in result.stderr

    pipeline = tmp_path / "brackets.py"
    pipeline.write_text(
        "import sluiceway as sw\n"
        "@sw.component\n"
        "def picky(out: sw.Output[sw.Examples]) -> None:\n"
        "    raise ValueError('bad value [/] in column [bold]price[/bold] (category [unknown])')\n"
        "pipeline = sw.Pipeline('brackets', [picky()])\n"
    )
    ran = run_cli(["run", str(pipeline), "--run-name", "b"], cli_env)
    assert ran.returncode == 1, ran.stderr
    message = "bad value [/] in column [bold]price[/bold] (category [unknown])"
    assert message in ran.stdout and message in ran.stderr  # the progress line, then the failure details
    shown = run_cli(["runs", "show", "b"], cli_env)
    assert shown.returncode == 0 and f"ValueError: {message}" in shown.stdout, shown.stdout + shown.stderr
