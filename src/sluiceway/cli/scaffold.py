"""`sluiceway init NAME`: a new project that runs as created (like `kedro new` or `tfx template copy`)."""

from __future__ import annotations

from pathlib import Path

import typer

from sluiceway.errors import DefinitionError


def register(app: typer.Typer) -> None:
    app.command()(init)


def init(
    name: str = typer.Argument(..., metavar="NAME", help="Project name; a folder of this name is created."),
    force: bool = typer.Option(False, "--force", help="Write into an existing non-empty folder."),
) -> None:
    """Scaffold a new project: a pipeline, a custom component, a test and a README, runnable as created."""
    from sluiceway.cli.common import console

    folder = scaffold(Path(name), force=force)
    console.print(
        f"Created {folder}/. Next:\n  cd {folder}\n  sluiceway run pipeline.py\n  python -m pytest", soft_wrap=True
    )


_PIPELINE = '''"""The {name} pipeline. Run it with `sluiceway run pipeline.py`."""

import sluiceway as sw

from components import make_examples, summarize

examples = make_examples(rows=1000)
summary = summarize(examples=examples.examples)

pipeline = sw.Pipeline("{name}", [examples, summary])
'''

_COMPONENTS = '''"""Custom components of {name}. Each is a typed function: inputs, outputs, then keyword parameters."""

import json
import random

import sluiceway as sw


@sw.component
def make_examples(examples: sw.Output[sw.Examples], *, rows: int = 1000, seed: int = 0) -> None:
    """Write `rows` synthetic examples as JSON lines (replace with your own data source)."""
    rng = random.Random(seed)
    split = examples.path / "Split-train"
    split.mkdir(parents=True)
    with (split / "part-00000.jsonl").open("w") as handle:
        for _ in range(rows):
            handle.write(json.dumps({{"x": rng.gauss(0, 1), "y": rng.choice(["a", "b"])}}) + "\\n")
    examples.properties["split_names"] = ["train"]
    examples.properties["row_counts"] = {{"train": rows}}


@sw.component
def summarize(examples: sw.Input[sw.Examples], summary: sw.Output[sw.ExampleStatistics]) -> None:
    """Count rows and average x."""
    values = [json.loads(line)["x"] for line in (examples.path / "Split-train" / "part-00000.jsonl").open()]
    summary.write_json("summary.json", {{"rows": len(values), "mean_x": sum(values) / len(values)}})
    summary.properties["rows"] = len(values)
'''

_TEST = '''"""Test the custom components in isolation with sluiceway.testing.check_component."""

from sluiceway.testing import check_component

from components import make_examples, summarize


def test_make_examples_then_summarize(tmp_path):
    outputs = check_component(make_examples, parameters={{"rows": 50}}, workdir=tmp_path / "gen")
    assert outputs["examples"].properties["row_counts"] == {{"train": 50}}
    result = check_component(summarize, inputs={{"examples": outputs["examples"]}}, workdir=tmp_path / "sum")
    assert result["summary"].read_json("summary.json")["rows"] == 50
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
