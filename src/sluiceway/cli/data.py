"""`sluiceway stats`, `sluiceway schema infer` and `sluiceway validate`: TFDV's notebook workflow on files.

Exit codes: 0 (no anomalies), 1 (anomalies found, for validate), 2 (unusable input or schema).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from sluiceway.cli.main import _fail, _print_json, app, console
from sluiceway.errors import SluicewayError

schema_app = typer.Typer(help="Infer and convert schemas.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")


@app.command()
def stats(
    file: Path = typer.Argument(..., help="CSV, JSON-lines or Parquet file (or folder)."),
    as_json: bool = typer.Option(False, "--json", help="Print the statistics as JSON."),
    html: Optional[Path] = typer.Option(None, "--html", help="Also write a static HTML report here."),
    slice_by: Optional[str] = typer.Option(None, "--slice-by", help="Also compute statistics per value of this column."),
) -> None:
    """Compute statistics of a data file (like TFDV's generate_statistics_from_csv)."""
    from sluiceway.data.files import statistics_of_file

    try:
        result = statistics_of_file(file, slice_by=slice_by)
        if html is not None:
            from sluiceway.reports.statistics_html import write_statistics_html

            write_statistics_html(result, html, title=f"Statistics of {file.name}")
    except SluicewayError as exc:
        _fail(exc, 2)
        return
    if as_json:
        sys.stdout.write(result.to_json() + "\n")
        return
    from rich.table import Table

    for dataset in result.datasets:
        table = Table("feature", "type", "count", "missing", "mean", "std", "min", "median", "max", "unique", "top value",
                      title=f"{dataset.name}: {dataset.num_examples} examples")
        for f in dataset.features:
            num, text = f.numeric, f.string
            fmt = lambda v: "" if v is None else f"{v:.4g}"  # noqa: E731
            table.add_row(
                f.name, str(f.type.value if hasattr(f.type, "value") else f.type), str(f.count), str(f.missing),
                fmt(num.mean) if num else "", fmt(num.std) if num else "", fmt(num.min) if num else "",
                fmt(num.median) if num else "", fmt(num.max) if num else "",
                str(text.unique) if text else "", (f"{text.top_values[0].value} ({text.top_values[0].count:g})" if text and text.top_values else ""),
            )
        console.print(table)
    if html is not None:
        console.print(f"report: {html}", highlight=False)


@schema_app.command("infer")
def schema_infer(
    file: Path = typer.Argument(..., help="Data file (CSV, JSON-lines, Parquet) or a statistics.json."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write the schema (.yaml, or .pbtxt for TFDV)."),
    label: Optional[str] = typer.Option(None, "--label", help="Label column: excluded from the SERVING environment."),
    max_domain_size: int = typer.Option(100, "--max-domain-size", help="Largest categorical domain to infer."),
    infer_ranges: bool = typer.Option(False, "--infer-ranges", help="Also record numeric min/max ranges."),
) -> None:
    """Infer a schema from data (like TFDV's infer_schema) and write it for curation."""
    from sluiceway.data.files import statistics_of_file
    from sluiceway.data.schema import infer_schema

    try:
        inferred = infer_schema(statistics_of_file(file), label=label, max_domain_size=max_domain_size, infer_ranges=infer_ranges)
        if output.suffix in (".pbtxt", ".txt"):
            inferred.to_pbtxt(output)
        else:
            inferred.to_yaml(output)
    except SluicewayError as exc:
        _fail(exc, 2)
        return
    console.print(f"wrote {output} ({len(inferred.features)} features)", highlight=False)


@app.command()
def validate(
    file: Path = typer.Argument(..., help="Data file (CSV, JSON-lines, Parquet) or a statistics.json."),
    schema: Path = typer.Option(..., "--schema", help="Schema file (.yaml, or TFDV .pbtxt)."),
    baseline: Optional[Path] = typer.Option(None, "--baseline", help="Reference data (or statistics.json) to check drift against."),
    serving: Optional[Path] = typer.Option(None, "--serving", help="Serving data (or statistics.json) to check skew against."),
    environment: Optional[str] = typer.Option(None, "--environment", help="Schema environment, e.g. TRAINING or SERVING."),
    as_json: bool = typer.Option(False, "--json", help="Print the anomalies as JSON."),
    html: Optional[Path] = typer.Option(None, "--html", help="Also write a static HTML report here."),
) -> None:
    """Validate data against a schema (and a baseline): exit 1 when there are anomalies, 0 when none."""
    from sluiceway.components.schema import load_schema_file
    from sluiceway.data.files import statistics_of_file
    from sluiceway.data.validation import validate_statistics

    try:
        curated = load_schema_file(schema)
        current = statistics_of_file(file)
        reference = statistics_of_file(baseline) if baseline is not None else None
        serving_stats = statistics_of_file(serving) if serving is not None else None
        found = validate_statistics(current, curated, baseline=reference, serving=serving_stats, environment=environment)
        if html is not None:
            from sluiceway.reports.anomalies_html import render_anomalies_html

            render_anomalies_html(found, title=f"Validation of {file.name}", path=html)
    except SluicewayError as exc:
        _fail(exc, 2)
        return
    if as_json:
        _print_json(found.to_dict())
    elif not found.anomalies:
        console.print(f"No anomalies in {file} ({len(found.comparisons)} drift/skew comparisons passed).", highlight=False)
    else:
        from rich.table import Table

        table = Table("feature", "kind", "severity", "description", title=f"{len(found)} anomalies in {file}")
        for a in found.anomalies:
            table.add_row(a.feature or "(dataset)", a.kind, a.severity, a.description)
        console.print(table)
    raise typer.Exit(1 if found.anomalies else 0)
