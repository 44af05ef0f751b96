"""Fixtures of the monitoring tests: the synthetic model trained once per session."""

from __future__ import annotations

from pathlib import Path

import monitoring_fixtures as mf
import pytest


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return mf.train(tmp_path_factory.mktemp("monitored-model"))
