"""`sluiceway stats`, `schema infer` and `validate` on files, as TFDV users use it from a notebook or CI."""

from __future__ import annotations

import json
import os
import sys
from importlib.util import find_spec
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runners"))
from clitools import run_cli  # noqa: E402

pytestmark = pytest.mark.integration
PENGUINS_CSV = str(Path(find_spec("palmerpenguins").submodule_search_locations[0]) / "data" / "penguins.csv")
ENV = {k: v for k, v in os.environ.items() if not k.startswith("SLUICEWAY_")}


def test_stats_prints_a_table_json_and_html(tmp_path: Path) -> None:
    table = run_cli(["stats", PENGUINS_CSV], ENV)
    assert table.returncode == 0 and "344 examples" in table.stdout and "body_mass_g" in table.stdout
    as_json = json.loads(run_cli(["stats", PENGUINS_CSV, "--json", "--html", str(tmp_path / "r.html")], ENV).stdout)
    (dataset,) = as_json["datasets"]
    body_mass = next(f for f in dataset["features"] if f["name"] == "body_mass_g")
    exact = pd.read_csv(PENGUINS_CSV)["body_mass_g"]
    assert body_mass["count"] == exact.count() and body_mass["missing"] == exact.isna().sum()
    assert body_mass["numeric"]["mean"] == pytest.approx(exact.mean(), rel=1e-9)
    assert "<svg" in (tmp_path / "r.html").read_text()
    frame = pd.read_csv(PENGUINS_CSV)
    frame.to_parquet(tmp_path / "p.parquet")
    parquet = json.loads(run_cli(["stats", str(tmp_path / "p.parquet"), "--json"], ENV).stdout)
    assert parquet["datasets"][0]["num_examples"] == 344


def test_infer_then_validate_clean_and_drifted_data(tmp_path: Path) -> None:
    schema = tmp_path / "schema.yaml"
    inferred = run_cli(["schema", "infer", PENGUINS_CSV, "-o", str(schema), "--label", "species"], ENV)
    assert inferred.returncode == 0 and "8 features" in inferred.stdout
    clean = run_cli(["validate", PENGUINS_CSV, "--schema", str(schema)], ENV)
    assert clean.returncode == 0 and "No anomalies" in clean.stdout

    shifted = pd.read_csv(PENGUINS_CSV)
    shifted["bill_depth_mm"] = shifted["bill_depth_mm"] * 1.5
    shifted.loc[:60, "island"] = "Atlantis"
    shifted.to_csv(tmp_path / "shifted.csv", index=False)
    drifted = run_cli(
        ["validate", str(tmp_path / "shifted.csv"), "--schema", str(schema), "--baseline", PENGUINS_CSV, "--json"], ENV
    )
    assert drifted.returncode == 1
    kinds = {(a["feature"], a["kind"]) for a in json.loads(drifted.stdout)["anomalies"]}
    assert ("island", "ENUM_TYPE_UNEXPECTED_STRING_VALUES") in kinds
    assert ("bill_depth_mm", "COMPARATOR_KS_DISTANCE_HIGH") in kinds
    assert ("island", "COMPARATOR_L_INFTY_HIGH") in kinds

    # Drop the label column textually: a pandas round trip would turn int columns with gaps into floats.
    lines = Path(PENGUINS_CSV).read_text().splitlines()
    header = lines[0].split(",")
    keep = [i for i, name in enumerate(header) if name != "species"]
    (tmp_path / "serving.csv").write_text(
        "\n".join(",".join(line.split(",")[i] for i in keep) for line in lines) + "\n"
    )
    in_serving = run_cli(
        ["validate", str(tmp_path / "serving.csv"), "--schema", str(schema), "--environment", "SERVING"], ENV
    )
    assert in_serving.returncode == 0, in_serving.stdout  # the label is not expected when serving
    in_training = run_cli(["validate", str(tmp_path / "serving.csv"), "--schema", str(schema), "--json"], ENV)
    assert in_training.returncode == 1 and "SCHEMA_MISSING_COLUMN" in in_training.stdout

    pbtxt = tmp_path / "schema.pbtxt"
    assert run_cli(["schema", "infer", PENGUINS_CSV, "-o", str(pbtxt)], ENV).returncode == 0
    assert 'name: "island"' in pbtxt.read_text()
    assert run_cli(["validate", PENGUINS_CSV, "--schema", str(pbtxt)], ENV).returncode == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"a,b\n1,2\n3\n", "line 3 has 1 fields"),
        (b"", "empty"),
        (b"a,b\n", "zero data rows"),
        (b'a,b\n1,"unterminated\n', "quote"),
        (b"a,b\n1,\xff\xfe\n", "UTF-8"),
        (b"a,a\n1,2\n", "column name 'a' twice"),
    ],
)
def test_unusable_input_exits_2_with_a_located_message(tmp_path: Path, content: bytes, message: str) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    schema = tmp_path / "schema.yaml"
    schema.write_text("schema_version: 1\nfeatures: []\n")
    for args in (["stats", str(bad)], ["validate", str(bad), "--schema", str(schema)]):
        result = run_cli(args, ENV)
        assert result.returncode == 2, result.stdout
        assert message.lower() in result.stderr.lower() and "bad.csv" in result.stderr


def test_a_broken_schema_exits_2(tmp_path: Path) -> None:
    schema = tmp_path / "schema.yaml"
    schema.write_text("schema_version: 1\nfeatures:\n- name: x\n  type: strng\n")
    result = run_cli(["validate", PENGUINS_CSV, "--schema", str(schema)], ENV)
    assert result.returncode == 2 and "schema.yaml" in result.stderr
    missing = run_cli(["validate", PENGUINS_CSV, "--schema", str(tmp_path / "none.yaml")], ENV)
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_python_dash_m_sluiceway_has_every_command() -> None:
    import subprocess

    result = subprocess.run(
        [sys.executable, "-m", "sluiceway", "--help"], env=ENV, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    for command in ("run", "exec", "runs", "artifacts", "lineage", "init", "stats", "schema", "validate"):
        assert command in result.stdout


def test_a_path_with_glob_characters_that_exists_is_read_literally(tmp_path: Path) -> None:
    # Before: Polars expanded "train[1].csv" as a glob (matching "train1.csv") and found nothing.
    frame = pd.read_csv(PENGUINS_CSV)
    frame.iloc[:100].to_csv(tmp_path / "train[1].csv", index=False)
    frame.iloc[:7].to_csv(tmp_path / "train1.csv", index=False)  # what the glob "train[1].csv" would match
    frame.iloc[:30].to_json(tmp_path / "rows[2].jsonl", orient="records", lines=True)
    frame.iloc[:40].to_parquet(tmp_path / "part[3].parquet")
    frame.iloc[:50].to_csv(tmp_path / "a*b.csv", index=False)
    frame.iloc[:9].to_csv(tmp_path / "axb.csv", index=False)  # what the wildcard "a*b.csv" would also match
    for name, rows in (("train[1].csv", 100), ("rows[2].jsonl", 30), ("part[3].parquet", 40), ("a*b.csv", 50)):
        result = run_cli(["stats", str(tmp_path / name), "--json"], ENV)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["datasets"][0]["num_examples"] == rows, name
    missing = run_cli(["stats", str(tmp_path / "train[2].csv")], ENV)  # a path, never a pattern
    assert missing.returncode == 2 and "does not exist" in missing.stderr


@pytest.mark.parametrize("command", [["stats"], ["validate"], ["schema", "infer"]])
def test_help_shows_the_positional_metavar_without_a_type(command: list[str]) -> None:
    # Before: Typer printed the Python type after the metavar ("FILE <str>", then "FILE <path>").
    result = run_cli([*command, "--help"], {**ENV, "COLUMNS": "120"})
    assert result.returncode == 0
    arguments = result.stdout.split("Arguments:", 1)[1].split("Options:", 1)[0]
    assert arguments.lstrip().startswith("FILE ") and "<" not in arguments
