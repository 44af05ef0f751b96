"""Choosing an engine: bad choices are refused where they are made; Ray is an optional dependency."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import sluiceway as sw
from sluiceway.components import CsvExampleGen, StatisticsGen
from sluiceway.data.engine import InProcessEngine, default_engine, use_engine
from sluiceway.errors import ConfigError, DefinitionError

sys.path.insert(0, str(Path(__file__).parents[1] / "runners"))
from clitools import SAMPLE, run_cli  # noqa: E402


def test_bad_engine_choices_are_refused_when_the_pipeline_is_built() -> None:
    gen = CsvExampleGen(input_pattern="data/*.csv")
    with pytest.raises(DefinitionError, match=r"'engine' setting of component 'StatisticsGen' \(StatisticsGen\) must "
                       r"be an Engine, 'local' or 'ray'. Got 'spark' instead"):  # fmt: skip
        StatisticsGen(examples=gen.examples, engine="spark")
    with pytest.raises(DefinitionError, match=r"'engine' setting of pipeline 'p' must be .* Got 2 instead"):
        sw.Pipeline("p", [gen], engine=2)
    with pytest.raises(ConfigError, match=r"'engine' parameter of LocalRunner must be .* Got 'Ray' instead"):
        sw.LocalRunner(engine="Ray")
    with pytest.raises(ConfigError, match=r"'engine' parameter must be .* Got 'dask' instead"):
        default_engine("dask")


def test_engine_is_a_setting_not_a_parameter() -> None:
    """Not in the parameters, so not in the cache key: every engine gives the same outputs."""
    gen = CsvExampleGen(input_pattern="data/*.csv")
    stats = StatisticsGen(examples=gen.examples, engine="ray")
    assert stats.engine == "ray" and "engine" not in stats.parameters
    assert gen.engine is None
    pipeline = sw.Pipeline("p", [gen, stats], engine="local")
    assert pipeline.engine_for(stats) == "ray"
    assert pipeline.engine_for(gen) == "local" and pipeline.engine_for(gen, "ray") == "ray"
    with pytest.raises(DefinitionError, match="reserved for component settings"):

        @sw.component
        def uses_the_name(examples: sw.Input[sw.Examples], *, engine: str = "x") -> None: ...


def test_use_engine_scopes_the_choice() -> None:
    engine = InProcessEngine(max_workers=1)
    with use_engine(engine):
        assert default_engine() is engine
    assert isinstance(default_engine(), InProcessEngine) and default_engine() is not engine


def test_cli_refuses_an_unknown_engine_before_anything_runs(cli_env: dict[str, str], tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("a,b\n1,x\n2,y\n")
    commands = [
        ["stats", str(data), "--engine", "spark"],
        ["run", str(SAMPLE), "--engine", "spark"],
        ["exec", "--pipeline", str(SAMPLE), "--component", "produce", "--run", "r1", "--engine", "spark"],
    ]
    for command in commands:
        result = run_cli(command, cli_env)
        assert result.returncode == 2, command
        assert "--engine option must be 'local' or 'ray'" in result.stdout + result.stderr
        assert "Got 'spark' instead" in result.stdout + result.stderr
    assert not (tmp_path / "md.db").exists()  # no run was recorded


_WITHOUT_RAY = """
import sys
sys.modules["ray"] = None  # this interpreter behaves as if Ray were not installed
from sluiceway.data.engine import default_engine, plan_fragments
from sluiceway.errors import MissingExtraError
try:
    default_engine("ray").map_reduce(plan_fragments([sys.argv[1]]), len, max)
except MissingExtraError as exc:
    print(exc)
"""


def test_ray_engine_without_ray_says_how_to_install_it(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"a": [1, 2]}), tmp_path / "a.parquet")
    result = subprocess.run(
        [sys.executable, "-c", _WITHOUT_RAY, str(tmp_path / "a.parquet")], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "needs the optional package 'ray'" in result.stdout
    assert "pip install 'sluiceway[ray]'" in result.stdout


def test_an_unreachable_cluster_fails_fast_with_its_address(cli_env: dict[str, str], tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="needs the 'ray' extra: pip install 'sluiceway[ray]'")
    import socket

    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = tmp_path / "d.csv"
    data.write_text("a,b\n1,x\n2,y\n")
    result = run_cli(["stats", str(data), "--engine", "ray"], {**cli_env, "RAY_ADDRESS": f"127.0.0.1:{port}"})
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert f"Cannot connect to the Ray cluster at 127.0.0.1:{port}" in output and "ray start --head" in output
