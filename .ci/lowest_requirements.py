#!/usr/bin/env python3
"""Print the core dependencies of pyproject.toml pinned to their declared minimum versions.

`make test-min` installs the package with these as pip constraints, so the core suite runs against the
oldest versions the package claims to support (what `uv pip install --resolution lowest-direct` does, with
pip alone). A dependency declared without a lower bound is an error: every one must state its minimum.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib  # type: ignore[no-redef]

REQUIREMENT = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9_.\-]+(?:\[[^\]]*\])?)\s*>=\s*(?P<version>[^,;\s]+)\s*(?P<marker>;.*)?$"
)


def lowest_pins(pyproject: Path) -> list[str]:
    dependencies = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    pins = []
    for requirement in dependencies:
        match = REQUIREMENT.match(requirement)
        if match is None:
            raise SystemExit(f"{pyproject}: dependency {requirement!r} has no '>=' minimum; declare one.")
        name = re.sub(r"\[.*\]", "", match["name"])  # constraints files take no extras
        pins.append(f"{name}=={match['version']}{match['marker'] or ''}")
    return pins


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "pyproject.toml"
    print("\n".join(lowest_pins(path)))
