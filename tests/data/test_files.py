"""Statistics of data files and folders outside a pipeline (what `sluiceway stats FILE|FOLDER` reads)."""

from __future__ import annotations

import json
import sys
from importlib.util import find_spec
from pathlib import Path

import pandas as pd
import pytest

from sluiceway.data.files import statistics_of_file
from sluiceway.errors import DataError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runners"))
from clitools import run_cli  # noqa: E402

PENGUINS_CSV = Path(find_spec("palmerpenguins").submodule_search_locations[0]) / "data" / "penguins.csv"


@pytest.fixture()
def penguins() -> pd.DataFrame:
    return pd.read_csv(PENGUINS_CSV)


def test_a_folder_of_csv_files_is_one_dataset_of_all_their_rows(tmp_path: Path, penguins: pd.DataFrame) -> None:
    folder = tmp_path / "csv"
    folder.mkdir()
    penguins.iloc[:200].to_csv(folder / "part-1.csv", index=False)
    penguins.iloc[200:].to_csv(folder / "part-2.csv", index=False)
    (folder / "README").write_text("not data: ignored", encoding="utf-8")
    stats = statistics_of_file(folder)
    (dataset,) = stats.datasets
    assert dataset.num_examples == len(penguins)
    mass = dataset.feature("body_mass_g")
    assert mass.missing == penguins["body_mass_g"].isna().sum()
    assert mass.numeric.mean == pytest.approx(penguins["body_mass_g"].mean(), rel=1e-9)
    assert dataset.feature("species").string.unique == 3


def test_folders_of_json_lines_and_of_parquet(tmp_path: Path, penguins: pd.DataFrame) -> None:
    (tmp_path / "jsonl").mkdir()
    penguins.iloc[:100].to_json(tmp_path / "jsonl" / "a.jsonl", orient="records", lines=True)
    penguins.iloc[100:].to_json(tmp_path / "jsonl" / "b.jsonl", orient="records", lines=True)
    assert statistics_of_file(tmp_path / "jsonl")["all"].num_examples == len(penguins)
    (tmp_path / "pq").mkdir()
    penguins.iloc[:50].to_parquet(tmp_path / "pq" / "a.parquet")
    penguins.iloc[50:].to_parquet(tmp_path / "pq" / "b.parquet")
    assert statistics_of_file(tmp_path / "pq")["all"].num_examples == len(penguins)


def test_unusable_folders_are_data_errors_that_say_what_to_do(tmp_path: Path, penguins: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="holds no data files"):
        statistics_of_file(tmp_path)
    penguins.to_csv(tmp_path / "a.csv", index=False)
    penguins.to_parquet(tmp_path / "b.parquet")
    with pytest.raises(DataError, match=r"mixes data formats \(CSV, parquet\)"):
        statistics_of_file(tmp_path)
    with pytest.raises(DataError, match="does not exist"):
        statistics_of_file(tmp_path / "missing")


def test_a_statistics_json_is_read_as_statistics(tmp_path: Path, penguins: pd.DataFrame) -> None:
    stats = statistics_of_file(PENGUINS_CSV)
    path = stats.write_json(tmp_path / "statistics.json")
    assert statistics_of_file(path) == stats
    (tmp_path / "broken.json").write_text('{"format": "sluiceway.statistics", "datasets": [{}]}', encoding="utf-8")
    with pytest.raises(DataError, match="broken.json is not a valid Sluiceway statistics document"):
        statistics_of_file(tmp_path / "broken.json")


@pytest.mark.integration
def test_cli_stats_of_a_folder_of_csv_files(tmp_path: Path, cli_env: dict[str, str], penguins: pd.DataFrame) -> None:
    penguins.iloc[:150].to_csv(tmp_path / "one.csv", index=False)
    penguins.iloc[150:].to_csv(tmp_path / "two.csv", index=False)
    done = run_cli(["stats", str(tmp_path), "--json"], cli_env)
    assert done.returncode == 0, done.stderr
    (dataset,) = json.loads(done.stdout)["datasets"]
    assert dataset["num_examples"] == len(penguins)
    table = run_cli(["stats", str(tmp_path)], cli_env)
    assert table.returncode == 0 and f"{len(penguins)} examples" in table.stdout
