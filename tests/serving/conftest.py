"""Fixtures of the server tests: models trained once per session, a serving directory per test."""

from __future__ import annotations

from pathlib import Path

import pytest
import serving_fixtures as sf


@pytest.fixture(scope="session")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Model bundles trained with the standard Trainer on the penguins: sklearn, sklearn-weak, lightgbm."""
    return sf.train_models(tmp_path_factory.mktemp("serving-models"), lightgbm=True)


@pytest.fixture(scope="module")
def serving_dir(tmp_path_factory: pytest.TempPathFactory, bundles: dict[str, Path]) -> Path:
    """A serving directory: penguin versions 1 (weak) and 2, and penguin-lgb version 1."""
    base = tmp_path_factory.mktemp("serving")
    sf.publish(bundles["sklearn-weak"], base, "penguin", 1)
    sf.publish(bundles["sklearn"], base, "penguin", 2)
    sf.publish(bundles["lightgbm"], base, "penguin-lgb", 1)
    (base / "penguin" / "notes.txt").write_text("not a version: ignored")
    return base


@pytest.fixture(scope="module")
def server(serving_dir: Path):  # noqa: ANN201 - a generator fixture
    with sf.ServerProcess(serving_dir, "--max-batch", "50", "--max-body-bytes", "65536") as running:
        yield running
