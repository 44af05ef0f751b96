"""sluiceway.testing.check_component: custom components tested in isolation, with the contract enforced."""

from __future__ import annotations

import random
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
