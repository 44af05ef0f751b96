"""The fitted graph: JSON round trip, versioning, determinism, and training == serving for every op."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from transform_fixtures import every_op, fit_fn

import sluiceway as sw
import sluiceway.transform as T
from sluiceway.data.engine import InProcessEngine
from sluiceway.errors import DataError
from sluiceway.transform.fit import apply_to_files


@pytest.fixture(scope="module")
def fitted_folder(penguins_file: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("graph")
    fitted = fit_fn(every_op, [penguins_file], engine=InProcessEngine(max_workers=3))
    fitted.save(folder / "transform")
    apply_to_files(fitted, [penguins_file], folder / "Split-train", engine=InProcessEngine(max_workers=3))
    return folder


def test_graph_is_self_contained_json(fitted_folder: Path) -> None:
    data = json.loads((fitted_folder / "transform" / "transform_graph.json").read_text())
    assert data["format"] == "sluiceway-transform-graph" and data["format_version"] == T.FORMAT_VERSION
    assert data["sluiceway_version"] == sw.__version__
    outputs = {spec["name"]: spec for spec in data["outputs"]}
    assert [spec["name"] for spec in data["outputs"]][:3] == ["z", "unit", "range"]  # preprocessing_fn's order
    assert (
        len(outputs) == 17
        and outputs["mass_bucket"]["kind"] == "int"
        and outputs["species_tfidf"]["kind"] == "list<float>"
    )
    assert outputs["island"]["columns"] == ["island"]
    assert data["inputs"]["body_mass_g"] == {"type": "int", "serving": True}
    assert "every_op" not in json.dumps(data)  # no reference to the user's code


def test_training_rows_through_the_graph_give_the_transformed_examples_exactly(
    fitted_folder: Path, penguins_file: str
) -> None:
    expected = pl.read_parquet(fitted_folder / "Split-train")
    raw = pl.read_parquet(penguins_file)
    loaded = sw.load_transform(fitted_folder)
    assert loaded.transform(raw).equals(expected)  # Polars
    assert pl.from_arrow(loaded.transform(raw.to_arrow())).equals(expected)  # Arrow Table
    assert pl.from_arrow(loaded.transform(raw.to_arrow().to_batches()[0])).equals(
        expected.head(raw.to_arrow().to_batches()[0].num_rows)
    )
    rows = raw.to_dicts()
    assert pl.from_dicts(loaded.transform(rows), schema=expected.schema).equals(expected)  # list of dicts
    assert loaded.transform(rows[5]) == expected.row(5, named=True)  # one dict
    from_pandas = loaded.transform(raw.to_pandas())  # int columns with nulls arrive as float64 in pandas
    assert isinstance(from_pandas, pd.DataFrame)
    assert (
        pl.from_pandas(from_pandas)
        .select(pl.exclude("species_tfidf"))
        .equals(expected.select(pl.exclude("species_tfidf")))
    )


def test_same_data_same_bytes_whatever_the_parallelism(penguins_file: str, tmp_path: Path) -> None:
    one = fit_fn(every_op, [penguins_file], engine=InProcessEngine(max_workers=1)).save(tmp_path / "one")
    four = fit_fn(every_op, [penguins_file], engine=InProcessEngine(max_workers=4)).save(tmp_path / "four")
    assert one.read_bytes() == four.read_bytes()


def test_a_newer_format_says_which_version_to_install(fitted_folder: Path, tmp_path: Path) -> None:
    data = json.loads((fitted_folder / "transform" / "transform_graph.json").read_text())
    data.update(format_version=T.FORMAT_VERSION + 1, sluiceway_version="9.0.0")
    path = tmp_path / "transform_graph.json"
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"format version 3 .*reads format versions 1, 2\. Install sluiceway>=9\.0\.0"):
        sw.load_transform(path)
    data.update(format_version=0)
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"format version 0 .*reads format versions 1, 2\. Refit the transform"):
        sw.load_transform(path)
    data.update(format_version=T.FORMAT_VERSION)
    data["outputs"][0]["expression"]["op"] = "warp_drive"
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"op 'warp_drive' \(output 'z'\).*Install sluiceway>=9\.0\.0"):
        sw.load_transform(path)


def test_loading_something_else_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="No transform graph at"):
        sw.load_transform(tmp_path)
    (tmp_path / "transform_graph.json").write_text('{"format": "other"}')
    with pytest.raises(DataError, match="is not a Sluiceway transform graph"):
        sw.load_transform(tmp_path)
    (tmp_path / "transform_graph.json").write_text("{not json")
    with pytest.raises(DataError, match="Cannot read the transform graph"):
        sw.load_transform(tmp_path)


def test_transform_refuses_what_it_cannot_read(fitted_folder: Path) -> None:
    with pytest.raises(DataError, match="takes a dict .* Got int instead"):
        sw.load_transform(fitted_folder).transform(42)
    with pytest.raises(DataError, match="takes a dict .* Got list instead"):
        sw.load_transform(fitted_folder).transform([{"year": 2008}, 42])
    with pytest.raises(DataError, match=r"Column 'year' mixes values of types \['int', 'str'\] across rows"):
        sw.load_transform(fitted_folder).transform([{"year": 1}, {"year": "x"}])
    with pytest.raises(DataError, match=r"Column 'island' mixes values of types \['bool', 'str'\]"):
        sw.load_transform(fitted_folder).transform([{"island": True}, {"island": "Dream"}])


FIXTURES = Path(__file__).parent / "fixtures"


def test_a_graph_written_by_format_version_1_still_loads_and_gives_its_outputs() -> None:
    """transform_graph_v1.json was written by the first version (bottom-k quantiles), with its outputs."""
    assert json.loads((FIXTURES / "transform_graph_v1.json").read_text())["format_version"] == 1
    loaded = sw.load_transform(FIXTURES / "transform_graph_v1.json")
    stored = json.loads((FIXTURES / "transform_graph_v1_rows.json").read_text())
    assert loaded.transform(stored["rows"]) == stored["expected"]  # the row path
    frame = loaded.transform(pl.from_dicts(stored["rows"], infer_schema_length=None))
    assert frame.to_dicts() == stored["expected"]  # the frame path
    label_outputs = {"species", "species_tfidf"}  # the outputs of the label, absent in SERVING
    assert loaded.transform({k: v for k, v in stored["rows"][0].items() if k != "species"}) == {
        k: v for k, v in stored["expected"][0].items() if k not in label_outputs
    }


def test_quantile_constants_record_their_accuracy(fitted_folder: Path) -> None:
    data = json.loads((fitted_folder / "transform" / "transform_graph.json").read_text())
    quantiles = [c for c in data["constants"].values() if c["analyzer"] == "quantiles"]
    assert quantiles and all(c["accuracy"] == {"exact": True, "rank_error": 0.0} for c in quantiles)
