"""`sluiceway stats`, `sluiceway schema infer` and `sluiceway validate`: TFDV's notebook workflow on files.

Exit codes: 0 (no anomalies), 1 (anomalies found, for validate), 2 (unusable input, schema or output path).
Output paths are checked before any work is done, so a typo costs nothing and leaves no half-written file.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand

from sluiceway.cli.common import console, output_path, plural, print_json
from sluiceway.cli.running import ENGINE_HELP, check_engine_option

# The CLI is a thin layer over the public data API (sluiceway.data): a notebook does the same with it.


def register(app: typer.Typer) -> None:
    app.command(short_help="Statistics of a data file (like TFDV's).", cls=_MetavarCommand)(stats)
    app.command(short_help="Validate data against a schema: exit 1 on anomalies.", cls=_MetavarCommand)(validate)
    schema_app = typer.Typer(help="Infer schemas from data.", no_args_is_help=True)
    schema_app.command("infer", cls=_MetavarCommand)(schema_infer)
    app.add_typer(schema_app, name="schema")


class _MetavarArgument(TyperArgument):
    """A positional argument whose help shows its metavar alone (``FILE``), as options show theirs: Typer
    prints the Python type after it (``FILE <path>``) even when a metavar is given."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None if self.metavar else super().display_type_rich(ctx)


class _MetavarCommand(TyperCommand):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if type(param) is TyperArgument:  # Typer builds the parameters itself; only their help changes
                param.__class__ = _MetavarArgument


def stats(
    file: Path = typer.Argument(
        ...,
        metavar="FILE",
        help="CSV, TSV, JSON-lines or Parquet file, or a folder of them. A path, not a pattern: "
        "'train[1].csv' is that file; for several files pass their folder.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the statistics as JSON."),
    html: Path | None = typer.Option(None, "--html", metavar="PATH", help="Also write a static HTML report here."),
    slice_by: str | None = typer.Option(
        None, "--slice-by", metavar="COLUMN", help="Also compute statistics per value of this column."
    ),
    engine: str | None = typer.Option(None, "--engine", metavar="local|ray", help=ENGINE_HELP),
) -> None:
    """Compute statistics of a data file (like TFDV's generate_statistics_from_csv)."""
    from sluiceway.data import statistics_of_file

    check_engine_option(engine)
    if html is not None:
        output_path(html, what="HTML report")
    result = statistics_of_file(file, slice_by=slice_by, engine=engine)
    if html is not None:
        from sluiceway.reports.statistics_html import write_statistics_html

        write_statistics_html(result, html, title=f"Statistics of {file.name}")
    if as_json:
        sys.stdout.write(result.to_json() + "\n")
        return
    from rich.table import Table

    def number(value: float | None) -> str:
        return "" if value is None else f"{value:.4g}"

    for dataset in result.datasets:
        table = Table(
            "feature",
            "type",
            "count",
            "missing",
            "mean",
            "std",
            "min",
            "median",
            "max",
            "unique",
            "top value",
            title=f"{dataset.name}: {plural(dataset.num_examples, 'example')}",
        )
        for f in dataset.features:
            num, text = f.numeric, f.string
            top = f"{text.top_values[0].value} ({text.top_values[0].count:g})" if text and text.top_values else ""
            table.add_row(
                f.name,
                str(f.type.value if hasattr(f.type, "value") else f.type),
                str(f.count),
                str(f.missing),
                number(num.mean) if num else "",
                number(num.std) if num else "",
                number(num.min) if num else "",
                number(num.median) if num else "",
                number(num.max) if num else "",
                str(text.unique) if text else "",
                top,
            )
        console.print(table)
    if html is not None:
        console.print(f"report: {html}", soft_wrap=True)


def schema_infer(
    file: Path = typer.Argument(..., metavar="FILE", help="Data file (CSV, JSON-lines, Parquet) or a statistics.json."),
    output: Path = typer.Option(
        ..., "--output", "-o", metavar="PATH", help="Where to write the schema: .yaml, .json, or .pbtxt for TFDV."
    ),
    label: str | None = typer.Option(
        None, "--label", metavar="COLUMN", help="Label column: excluded from the SERVING environment."
    ),
    max_domain_size: int = typer.Option(
        100, "--max-domain-size", metavar="N", min=1, help="Largest categorical domain to infer."
    ),
    infer_ranges: bool = typer.Option(False, "--infer-ranges", help="Also record numeric min/max ranges."),
) -> None:
    """Infer a schema from data (like TFDV's infer_schema) and write it for curation."""
    from sluiceway.data import infer_schema, statistics_of_file, write_schema
    from sluiceway.data.schema.files import schema_format

    schema_format(output, "it writes")  # an unknown extension is refused before any work
    output_path(output, what="schema")
    inferred = infer_schema(
        statistics_of_file(file), label=label, max_domain_size=max_domain_size, infer_ranges=infer_ranges
    )
    write_schema(inferred, output)
    console.print(f"wrote {output} ({plural(len(inferred.features), 'feature')})", soft_wrap=True)


def validate(
    file: Path = typer.Argument(..., metavar="FILE", help="Data file (CSV, JSON-lines, Parquet) or a statistics.json."),
    schema: Path = typer.Option(..., "--schema", metavar="PATH", help="Schema file (.yaml or .json, or TFDV .pbtxt)."),
    baseline: Path | None = typer.Option(
        None, "--baseline", metavar="FILE", help="Reference data (or statistics.json) to check drift against."
    ),
    serving: Path | None = typer.Option(
        None, "--serving", metavar="FILE", help="Serving data (or statistics.json) to check skew against."
    ),
    environment: str | None = typer.Option(
        None, "--environment", metavar="NAME", help="Schema environment, e.g. TRAINING or SERVING."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the anomalies as JSON."),
    html: Path | None = typer.Option(None, "--html", metavar="PATH", help="Also write a static HTML report here."),
) -> None:
    """Validate data against a schema (and a baseline): exit 1 when there are anomalies, 0 when none."""
    from sluiceway.data import load_schema, statistics_of_file, validate_statistics

    if html is not None:
        output_path(html, what="HTML report")
    curated = load_schema(schema)
    current = statistics_of_file(file)
    reference = statistics_of_file(baseline) if baseline is not None else None
    serving_stats = statistics_of_file(serving) if serving is not None else None
    found = validate_statistics(current, curated, baseline=reference, serving=serving_stats, environment=environment)
    if html is not None:
        from sluiceway.reports.anomalies_html import render_anomalies_html

        render_anomalies_html(found, title=f"Validation of {file.name}", path=html)
    if as_json:
        print_json(found.to_dict())
    elif not found.anomalies:
        console.print(
            f"No anomalies in {file} ({plural(len(found.comparisons), 'drift/skew comparison')} passed).",
            soft_wrap=True,
        )
    else:
        from rich.table import Table

        table = Table(
            "feature",
            "kind",
            "severity",
            "description",
            title=f"{plural(len(found), 'anomaly', 'anomalies')} in {file}",
        )
        for a in found.anomalies:
            table.add_row(a.feature or "(dataset)", a.kind, a.severity, a.description)
        console.print(table)
    raise typer.Exit(1 if found.anomalies else 0)
