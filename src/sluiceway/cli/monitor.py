"""``sluiceway monitor``: skew and drift of live traffic, from the server's request log.

Exit codes: 0 (no anomalies), 1 (anomalies: a skew/drift threshold crossed or the serving data breaking the
schema), 2 (unusable input: a missing log folder, reference, store or bad option), 3 (too few logged rows in
the window to judge anything). A thin layer over ``sluiceway.monitoring``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from sluiceway.cli.common import console, err_console, output_path, plural, print_json, styled
from sluiceway.errors import ConfigError

if TYPE_CHECKING:
    from sluiceway.monitoring import MonitorResult

EXIT_NO_DATA = 3


def register(app: typer.Typer) -> None:
    app.command("monitor", short_help="Skew and drift of logged requests: exit 1 when thresholds are crossed.")(
        monitor_command
    )


def monitor_command(
    logs: Path = typer.Option(..., "--logs", metavar="DIR", help="The request log (`sluiceway serve --log-dir`)."),
    model: str = typer.Option(..., "--model", metavar="NAME", help="The served model's name."),
    version: int | None = typer.Option(
        None, "--model-version", metavar="V", min=1, help="Only requests this version answered (and its reference)."
    ),
    since: str | None = typer.Option(
        None, "--since", metavar="TIME", help="Monitor requests from this ISO time (UTC unless it says) to now."
    ),
    window: str | None = typer.Option(
        None, "--window", metavar="DURATION", help="Monitor the last DURATION (30m, 1h, 7d). Default: the whole log."
    ),
    baseline_window: str | None = typer.Option(
        None,
        "--baseline-window",
        metavar="DURATION",
        help="Drift reference: this long just before the window (default: as long as the window).",
    ),
    model_dir: Path | None = typer.Option(
        None, "--model-dir", metavar="DIR", help="Serving directory: finds the training reference by lineage."
    ),
    statistics: Path | None = typer.Option(
        None, "--statistics", metavar="PATH", help="Training statistics (statistics.json or its artifact folder)."
    ),
    schema: Path | None = typer.Option(
        None, "--schema", metavar="PATH", help="Training schema (.yaml, .json, .pbtxt)."
    ),
    min_rows: int = typer.Option(30, "--min-rows", metavar="N", min=1, help="Fewest logged rows worth judging."),
    webhook: str | None = typer.Option(
        None, "--webhook", metavar="URL", help="POST the JSON report here when thresholds are crossed."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    html: Path | None = typer.Option(None, "--html", metavar="PATH", help="Also write the HTML anomalies report."),
) -> None:
    """Validate logged requests against the model's training statistics and schema (skew) and the previous
    window (drift), with ExampleValidator's methods. Exit 0 ok, 1 anomalies, 2 unusable input, 3 too few rows."""
    from sluiceway.monitoring import monitor, post_webhook, windows
    from sluiceway.monitoring.logs import parse_duration, parse_time

    if html is not None:
        output_path(html, what="HTML report")
    monitored, previous = windows(
        since=parse_time(since, what="--since time") if since else None,
        window=parse_duration(window, what="--window") if window else None,
        baseline_window=parse_duration(baseline_window, what="--baseline-window") if baseline_window else None,
    )
    stats_path, schema_path, source = _reference(model, version, model_dir, statistics, schema)
    result = monitor(
        logs,
        model,
        statistics=stats_path,
        schema=schema_path,
        version=version,
        window=monitored,
        baseline_window=previous,
        min_rows=min_rows,
        reference=source,
    )
    if html is not None and result.anomalies is not None:
        from sluiceway.reports.anomalies_html import render_anomalies_html

        render_anomalies_html(result.anomalies, title=f"Monitoring of {model}", path=html)
    if webhook is not None and result.status == "anomalies":
        post_webhook(webhook, result.to_dict())
    if as_json:
        print_json(result.to_dict())
    else:
        _print(result)
    raise typer.Exit({"ok": 0, "anomalies": 1}.get(result.status, EXIT_NO_DATA))


def _reference(
    model: str, version: int | None, model_dir: Path | None, statistics: Path | None, schema: Path | None
) -> tuple[Path, Path, str]:
    if statistics is not None and schema is not None:
        return statistics, schema, "given (--statistics, --schema)"
    if model_dir is None:
        raise ConfigError(
            "monitor needs the model's training reference: give --model-dir (the serving directory; the statistics "
            "and schema are then found through the metadata store's lineage) or both --statistics and --schema."
        )
    from sluiceway.cli.common import read_store
    from sluiceway.monitoring.reference import find_training_reference, served_bundle

    bundle, _ = served_bundle(model_dir, model, version)
    store = read_store()
    try:
        found = find_training_reference(store, bundle)
    finally:
        store.close()
    return statistics or found.statistics, schema or found.schema, found.source


def _print(result: MonitorResult) -> None:
    window = result.window
    span = f"{window.start.isoformat() if window.start else 'the first logged request'} to {window.end.isoformat()}"
    console.print(
        f"{result.model}: {plural(result.rows, 'logged row')} from {span}"
        + (f" (versions {', '.join(map(str, result.versions))})" if result.versions else "")
        + f"; reference: {result.reference}.",
        soft_wrap=True,
    )
    for note in result.notes:
        err_console.print(styled(("note:", "yellow"), " ", note), soft_wrap=True)
    found = result.anomalies
    if found is None:
        console.print(styled(("NO DATA", "bold yellow"), ": nothing judged."), soft_wrap=True)
        return
    if not found.anomalies:
        console.print(
            styled(
                ("OK", "bold green"),
                f": no skew, drift or schema anomaly ({plural(len(found.comparisons), 'comparison')}).",
            ),
            soft_wrap=True,
        )
        return
    from rich.table import Table

    table = Table("feature", "kind", "severity", "description", title=plural(len(found), "anomaly", "anomalies"))
    for a in found.anomalies:
        table.add_row(a.feature or "(dataset)", a.kind, a.severity, a.description)
    console.print(table)
    sys.stdout.flush()
