"""The public data API (``sluiceway.data``): lazy, documented, and enough to do in a notebook what
``sluiceway stats``, ``schema infer`` and ``validate`` do."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from palmerpenguins import load_penguins

import sluiceway.data as sd
from sluiceway.errors import DataError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runners"))
from clitools import run_cli  # noqa: E402


def test_import_is_light_and_names_resolve_lazily():
    code = (
        "import sys, sluiceway.data as sd; "
        "heavy = sorted(m for m in ('polars', 'pyarrow', 'pydantic', 'yaml', 'numpy') if m in sys.modules); "
        "print(heavy); "
        "assert 'compute_statistics' in dir(sd) and 'compute_statistics' not in vars(sd); "
        "sd.infer_schema; print('infer_schema' in vars(sd))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "[]", out  # nothing heavy at `import sluiceway.data`
    assert out[1] == "True"  # loaded (and cached) on first access


def test_every_public_name_resolves_and_is_documented():
    assert sd.__all__ == sorted(sd.__all__) and set(sd.__all__) == set(sd._LAZY)
    for name in sd.__all__:
        value = getattr(sd, name)
        assert value is not None
        if callable(value):
            assert (value.__doc__ or "").strip(), f"{name} has no docstring"
    assert set(sd.__all__) <= set(dir(sd))
    with pytest.raises(AttributeError, match="public names"):
        sd.no_such_thing  # noqa: B018
    # the data model is not the artifact type
    import sluiceway as sw

    assert sd.DataSchema is not sw.Schema


@pytest.mark.integration
def test_the_notebook_workflow_matches_the_cli(tmp_path: Path, cli_env: dict[str, str]) -> None:
    penguins = load_penguins()
    train = tmp_path / "train.parquet"
    penguins.to_parquet(train)
    rng = np.random.default_rng(0)
    drifted = penguins.assign(body_mass_g=penguins["body_mass_g"] * 1.3)
    drifted.loc[rng.random(len(drifted)) < 0.2, "island"] = "Atlantis"
    new = tmp_path / "new.parquet"
    drifted.to_parquet(new)

    # the notebook
    stats = sd.compute_statistics(str(train), default_split="all")
    schema = sd.infer_schema(stats, label="species")
    sd.write_schema(schema, tmp_path / "schema.yaml")
    sd.write_schema(schema, tmp_path / "schema.pbtxt")
    assert sd.load_schema(tmp_path / "schema.yaml") == schema
    assert sd.load_schema(tmp_path / "schema.pbtxt").features[0].name == schema.features[0].name
    anomalies = sd.validate_statistics(sd.compute_statistics(str(new), default_split="all"), schema, baseline=stats)
    assert {"island", "body_mass_g"} <= {a.feature for a in anomalies.anomalies}
    html = anomalies._repr_html_()
    assert html.startswith("<!DOCTYPE html>") and "Atlantis" in html and "Kolmogorov" in html
    text = sd.describe_anomalies(anomalies)
    assert "COMPARATOR_KS_DISTANCE_HIGH" in text and text == str(anomalies)

    # the same through the CLI
    inferred = run_cli(["schema", "infer", str(train), "-o", str(tmp_path / "cli.yaml"), "--label", "species"], cli_env)
    assert inferred.returncode == 0, inferred.stderr
    assert sd.load_schema(tmp_path / "cli.yaml") == schema
    validated = run_cli(["validate", str(new), "--schema", str(tmp_path / "schema.yaml"), "--baseline", str(train),
                     "--json"], cli_env)
    assert validated.returncode == 1, validated.stderr
    from_cli = sd.Anomalies.from_dict(json.loads(validated.stdout))
    assert from_cli.anomalies == anomalies.anomalies
    assert from_cli.comparisons == anomalies.comparisons


def test_load_statistics_reads_what_compute_statistics_wrote(tmp_path: Path) -> None:
    stats = sd.compute_statistics(pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]}))
    stats.to_json(tmp_path / "statistics.json")
    assert sd.load_statistics(tmp_path / "statistics.json").to_dict() == stats.to_dict()
    assert sd.load_statistics(tmp_path).to_dict() == stats.to_dict()  # an ExampleStatistics folder


def test_load_and_write_schema_choose_the_format_by_suffix(tmp_path: Path) -> None:
    schema = sd.DataSchema(features=[sd.Feature(name="x", type="int")])
    assert "features:" in sd.write_schema(schema, tmp_path / "s.yml").read_text()
    assert 'name: "x"' in sd.write_schema(schema, tmp_path / "s.pbtxt").read_text()
    assert sd.load_schema(sd.write_schema(schema, tmp_path / "s.json")) == schema  # the YAML document as JSON
    assert json.loads((tmp_path / "s.json").read_text())["features"][0]["name"] == "x"
    for bad in ("s.csv", "schema"):
        with pytest.raises(DataError, match="suffix"):
            sd.write_schema(schema, tmp_path / bad)
    (tmp_path / "s.csv").write_text("{}")
    with pytest.raises(DataError, match=r"suffix '\.csv'.*\.yaml.*\.pbtxt"):
        sd.load_schema(tmp_path / "s.csv")
    with pytest.raises(DataError, match="does not exist"):
        sd.load_schema(tmp_path / "missing.yaml")
    # a Schema artifact folder holds schema.yaml
    (tmp_path / "artifact").mkdir()
    import sluiceway as sw

    sd.write_schema(schema, tmp_path / "artifact" / sw.Schema.FILENAME)
    assert sd.load_schema(tmp_path / "artifact") == schema
