"""Fixtures of the DSL tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def isolated_imports(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Modules these tests import from temporary folders do not outlive them (nor do sys.path entries)."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    temporary = tmp_path_factory.getbasetemp().resolve()
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        file = getattr(sys.modules[name], "__file__", None)
        if file and Path(file).resolve().is_relative_to(temporary):
            del sys.modules[name]
