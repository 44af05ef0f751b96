"""The declared minimum versions that `make test-min` installs (.ci/lowest_requirements.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / ".ci" / "lowest_requirements.py"


def _pins(pyproject: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), str(pyproject)], capture_output=True, text=True, timeout=60)


def test_every_core_dependency_is_pinned_to_its_declared_minimum() -> None:
    result = _pins(ROOT / "pyproject.toml")
    assert result.returncode == 0, result.stderr
    pins = dict(line.split(";")[0].split("==") for line in result.stdout.splitlines())
    assert {"numpy", "pyarrow", "polars", "sqlalchemy", "pydantic", "typer", "rich"} <= set(pins)
    # The code calls np.bitwise_count, which numpy gained in 2.0.
    assert int(pins["numpy"].split(".")[0]) >= 2


def test_a_dependency_without_a_minimum_is_refused(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\ndependencies = ["numpy>=2.0", "polars"]\n')
    result = _pins(pyproject)
    assert result.returncode != 0 and "'polars' has no '>=' minimum" in result.stderr
