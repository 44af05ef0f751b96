"""sluiceway.testing.check_component: custom components tested in isolation, with the contract enforced."""

from __future__ import annotations

import gc
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

import sluiceway as sw
from sluiceway.testing import check_component


@sw.component
def count_rows(examples: sw.Input[sw.Examples], summary: sw.Output[sw.ExampleStatistics], *, scale: int = 1) -> None:
    rows = (examples.path / "Split-train" / "rows.txt").read_text().splitlines()
    summary.write_json("summary.json", {"rows": len(rows) * scale})
    summary.properties["rows"] = len(rows) * scale


@pytest.fixture
def examples_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "examples" / "Split-train"
    folder.mkdir(parents=True)
    (folder / "rows.txt").write_text("a\nb\nc\n")
    return tmp_path / "examples"


def test_runs_the_executor_and_returns_outputs(examples_dir: Path, tmp_path: Path) -> None:
    outputs = check_component(
        count_rows, inputs={"examples": examples_dir}, parameters={"scale": 2}, workdir=tmp_path / "w"
    )
    assert outputs["summary"].read_json("summary.json") == {"rows": 6}
    assert outputs["summary"].properties == {"rows": 6} and outputs["summary"].fingerprint


def test_parameters_and_inputs_are_checked_like_in_a_pipeline(examples_dir: Path) -> None:
    with pytest.raises(sw.DefinitionError, match="must be an int"):
        check_component(count_rows, inputs={"examples": examples_dir}, parameters={"scale": "lots"})
    with pytest.raises(sw.DefinitionError, match="has no parameter 'scal'"):
        check_component(count_rows, inputs={"examples": examples_dir}, parameters={"scal": 2})
    with pytest.raises(sw.DefinitionError, match="needs input 'examples'"):
        check_component(count_rows)
    with pytest.raises(sw.DefinitionError, match="expects Examples, got Model"):
        check_component(count_rows, inputs={"examples": sw.Model(str(examples_dir))})


def test_modifying_an_input_breaks_the_contract(examples_dir: Path) -> None:
    @sw.component
    def vandal(examples: sw.Input[sw.Examples], out: sw.Output[sw.Examples]) -> None:
        (examples.path / "Split-train" / "rows.txt").write_text("changed")

    with pytest.raises(AssertionError, match="modified its input 'examples'"):
        check_component(vandal, inputs={"examples": examples_dir})


def test_nondeterminism_and_bad_properties_are_reported(examples_dir: Path) -> None:
    @sw.component
    def noisy(examples: sw.Input[sw.Examples], out: sw.Output[sw.Examples]) -> None:
        (out.path / "value.txt").write_text(str(random.random()))

    with pytest.raises(AssertionError, match="differs between two runs"):
        check_component(noisy, inputs={"examples": examples_dir})
    check_component(noisy, inputs={"examples": examples_dir}, check_determinism=False)

    @sw.component
    def odd(examples: sw.Input[sw.Examples], out: sw.Output[sw.Examples]) -> None:
        out.properties["when"] = {1, 2}

    with pytest.raises(AssertionError, match="cannot be stored as JSON"):
        check_component(odd, inputs={"examples": examples_dir})


def test_writing_outside_the_output_folders_is_reported(examples_dir: Path) -> None:
    @sw.component
    def stray(examples: sw.Input[sw.Examples], out: sw.Output[sw.Examples]) -> None:
        (out.path.parent / "elsewhere.txt").write_text("oops")

    with pytest.raises(AssertionError, match="wrote outside its output folders"):
        check_component(stray, inputs={"examples": examples_dir})


def test_standard_components_pass_their_own_checks(tmp_path: Path) -> None:
    from importlib.util import find_spec

    from sluiceway.components import CsvExampleGen, SchemaGen, StatisticsGen

    csv = str(Path(find_spec("palmerpenguins").submodule_search_locations[0]) / "data" / "penguins.csv")
    examples = check_component(CsvExampleGen, parameters={"input_pattern": csv}, workdir=tmp_path / "gen")["examples"]
    statistics = check_component(StatisticsGen, inputs={"examples": examples}, workdir=tmp_path / "stats")["statistics"]
    schema = check_component(
        SchemaGen, inputs={"statistics": statistics}, parameters={"label": "species"}, workdir=tmp_path / "schema"
    )
    assert "island" in schema["schema"].file.read_text()


def test_an_input_folder_that_does_not_exist_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-examples"
    with pytest.raises(sw.DefinitionError) as info:
        check_component(count_rows, inputs={"examples": missing})
    assert "input 'examples'" in str(info.value) and str(missing) in str(info.value)
    with pytest.raises(sw.DefinitionError, match="does not exist"):
        check_component(count_rows, inputs={"examples": sw.Examples(str(missing))})


def test_parameter_rules_between_parameters_are_checked(examples_dir: Path) -> None:
    class Ranged(sw.Component):
        def execute(self, examples: sw.Input[sw.Examples], out: sw.Output[sw.Model], *, low: int = 0, high: int = 1):
            (out.path / "range.txt").write_text(f"{low}-{high}")

        def check_parameters(self, owner: str, parameters: dict) -> None:
            if parameters["low"] > parameters["high"]:
                raise sw.DefinitionError(f"{owner}: 'low' must not exceed 'high'.")

    with pytest.raises(sw.DefinitionError, match="'low' must not exceed 'high'"):
        check_component(Ranged, inputs={"examples": examples_dir}, parameters={"low": 5})


@pytest.fixture
def private_tempdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Temporary folders of this test only, so what check_component leaves behind can be counted."""
    import tempfile

    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_temporary_folders_are_removed_on_failure_and_after_use(examples_dir: Path, private_tempdir: Path) -> None:
    @sw.component
    def noisy(examples: sw.Input[sw.Examples], out: sw.Output[sw.Examples]) -> None:
        (out.path / "value.txt").write_text(str(random.random()))

    @sw.component
    def crashes(examples: sw.Input[sw.Examples], out: sw.Output[sw.Examples]) -> None:
        (out.path / "partial.txt").write_text("half")
        raise RuntimeError("boom")

    with pytest.raises(AssertionError, match="differs between two runs"):
        check_component(noisy, inputs={"examples": examples_dir})
    with pytest.raises(RuntimeError, match="boom"):
        check_component(crashes, inputs={"examples": examples_dir})
    assert list(private_tempdir.iterdir()) == []

    outputs = check_component(count_rows, inputs={"examples": examples_dir})
    assert outputs["summary"].read_json("summary.json") == {"rows": 3}  # readable while held
    assert [p.name for p in private_tempdir.iterdir()] and not list(private_tempdir.glob("*/run-2"))
    summary = outputs["summary"]
    del outputs
    gc.collect()
    assert summary.read_json("summary.json") == {"rows": 3}  # an artifact taken from the result keeps it
    del summary
    gc.collect()
    assert list(private_tempdir.iterdir()) == []


def test_the_readme_snippet_runs_as_written(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Testing your components", 1)[1].split("\n## ", 1)[0]
    snippet = section.split("```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / "test_readme_snippet.py").write_text(snippet)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_readme_snippet.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(sw.__file__).resolve().parents[1])},  # these sources
    )
    assert result.returncode == 0 and "1 passed" in result.stdout, result.stdout + result.stderr
