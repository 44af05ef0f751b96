"""`sluiceway init NAME`: a new project that runs as created (like `kedro new` or `tfx template copy`).

The scaffold's components write what the standard components read — Parquet ``Examples`` with
``Split-*`` folders and a real ``ExampleStatistics`` made by Sluiceway's statistics code — so a user can add
``StatisticsGen``, ``SchemaGen`` or ``ExampleValidator`` to the pipeline without changing anything else.
"""

from __future__ import annotations

from pathlib import Path

import typer

from sluiceway.errors import DefinitionError


def register(app: typer.Typer) -> None:
    app.command(short_help="Scaffold a new project that runs as created.")(init)


def init(
    name: str = typer.Argument(..., metavar="NAME", help="Project name; a folder of this name is created."),
    force: bool = typer.Option(False, "--force", help="Write into an existing non-empty folder."),
) -> None:
    """Scaffold a new project: a pipeline, custom components, a test and a README, runnable as created."""
    from sluiceway.cli.common import console

    folder = scaffold(Path(name), force=force)
    console.print(
        f"Created {folder}/. Next:\n  cd {folder}\n  sluiceway run pipeline.py\n  python -m pytest", soft_wrap=True
    )


_PIPELINE = '''"""The {name} pipeline. Run it with `sluiceway run pipeline.py`.

`make_examples` writes Parquet `Examples` (`Split-train/`, `Split-eval/`) and `summarize` a real
`ExampleStatistics`, so Sluiceway's standard components plug in as they are, for example:

    from sluiceway.components import ExampleValidator, SchemaGen

    schema = SchemaGen(statistics=summary.statistics)
    check = ExampleValidator(statistics=summary.statistics, schema=schema.schema)
    pipeline = sw.Pipeline("{name}", [examples, summary, schema, check])
"""

import sluiceway as sw

from components import make_examples, summarize

examples = make_examples(rows=1000)
summary = summarize(examples=examples.examples)

pipeline = sw.Pipeline("{name}", [examples, summary])
'''

_COMPONENTS = '''"""Custom components of {name}. Each is a typed function: inputs, outputs, then keyword parameters."""

import random

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import sluiceway as sw

SPLITS = ["train", "eval"]  # every third example goes to eval: train:eval 2:1, like the standard ExampleGens


@sw.component
def make_examples(examples: sw.Output[sw.Examples], *, rows: int = 1000, seed: int = 0) -> None:
    """Write `rows` synthetic examples in the layout the standard components read: one Parquet file a split
    under `Split-<name>/`. Replace it with your data source, or with CsvExampleGen / ParquetExampleGen."""
    rng = random.Random(seed)
    table = pa.table({{
        "x": [rng.gauss(0, 1) for _ in range(rows)],
        "size": [rng.randint(1, 100) for _ in range(rows)],
        "color": [rng.choice(["red", "green", "blue"]) for _ in range(rows)],
    }})
    in_eval = pa.array([i % 3 == 2 for i in range(rows)])
    counts = {{}}
    for split in SPLITS:
        part = table.filter(in_eval if split == "eval" else pc.invert(in_eval))
        folder = examples.path / f"Split-{{split}}"
        folder.mkdir(parents=True)
        pq.write_table(part, folder / "part-00000.parquet")
        counts[split] = part.num_rows
    examples.properties["split_names"] = SPLITS
    examples.properties["row_counts"] = counts
    examples.properties["column_types"] = {{field.name: str(field.type) for field in table.schema}}


@sw.component
def summarize(examples: sw.Input[sw.Examples], statistics: sw.Output[sw.ExampleStatistics]) -> None:
    """Profile every split with Sluiceway's statistics code: the same statistics file StatisticsGen writes,
    so SchemaGen and ExampleValidator read this output as they read StatisticsGen's."""
    from sluiceway.data.statistics import compute_statistics

    result = compute_statistics(examples, split_names=examples.split_names)
    result.to_json(statistics.file)
    statistics.properties["split_names"] = result.split_names
    statistics.properties["num_examples"] = {{d.name: d.num_examples for d in result.datasets}}
'''

_TEST = '''"""Test the custom components in isolation with sluiceway.testing.check_component."""

from sluiceway.testing import check_component

from components import make_examples, summarize


def test_make_examples_then_summarize(tmp_path):
    outputs = check_component(make_examples, parameters={{"rows": 60}}, workdir=tmp_path / "gen")
    examples = outputs["examples"]
    assert examples.properties["row_counts"] == {{"train": 40, "eval": 20}}
    assert examples.read("eval").num_rows == 20
    result = check_component(summarize, inputs={{"examples": examples}}, workdir=tmp_path / "sum")
    statistics = result["statistics"]
    assert statistics.properties["num_examples"] == {{"train": 40, "eval": 20}}
    assert statistics.file.is_file()
'''

_CONFTEST = """import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
"""

_README = """# {name}

A [Sluiceway](https://pypi.org/project/sluiceway/) project.

- `sluiceway run pipeline.py` runs the pipeline (metadata and artifacts go to `./.sluiceway/`).
- `sluiceway runs list` / `sluiceway runs show RUN` inspect runs; `sluiceway artifacts list` the outputs.
- `python -m pytest` tests the custom components in `components.py`.
- `make_examples` writes Parquet `Examples` and `summarize` a real `ExampleStatistics`: add standard
  components (`SchemaGen`, `ExampleValidator`, `StatisticsGen`, ...) to `pipeline.py` as they are.
- Settings live in `sluiceway.toml` (overridden by `SLUICEWAY_*` environment variables and CLI flags).
"""

_SETTINGS = """# Sluiceway settings for {name}. Environment variables SLUICEWAY_STORE, SLUICEWAY_ARTIFACT_ROOT,
# SLUICEWAY_PARALLELISM and SLUICEWAY_CACHE override these; CLI flags override both.
store = "sqlite:///.sluiceway/metadata.db"
artifact_root = ".sluiceway/artifacts"
"""


def scaffold(folder: Path, *, force: bool = False) -> Path:
    name = folder.name
    if not name.replace("_", "a").replace("-", "a").isalnum():
        raise DefinitionError(f"Project name must be letters, digits, '_' or '-'. Got {name!r} instead.")
    if folder.exists() and any(folder.iterdir()) and not force:
        raise DefinitionError(f"Folder {folder} already exists and is not empty. Choose another name or pass --force.")
    files = {
        "pipeline.py": _PIPELINE,
        "components.py": _COMPONENTS,
        "tests/test_components.py": _TEST,
        "tests/conftest.py": _CONFTEST,
        "README.md": _README,
        "sluiceway.toml": _SETTINGS,
        ".gitignore": ".sluiceway/\n__pycache__/\n",
    }
    for relative, template in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(name=name), encoding="utf-8")
    return folder
