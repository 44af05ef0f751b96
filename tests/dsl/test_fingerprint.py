"""The code fingerprint: what a component's behaviour depends on, and nothing else, decides a cache hit.

Real runs of the `sluiceway` command on a small project: a pipeline file, helper modules beside it, an
unrelated module, and a fake installed distribution in its own sys.path folder.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

import sluiceway as sw
from sluiceway.dsl.fingerprint import callable_fingerprint, code_fingerprint

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runners"))
from clitools import run_cli  # noqa: E402

pytestmark = pytest.mark.usefixtures("isolated_imports")  # temporary modules do not outlive a test

PIPELINE = """\
import sluiceway as sw
import helpers
import fakelib

THRESHOLD = {threshold}


def scaled(value):
    return value * THRESHOLD


@sw.component
def train(model: sw.Output[sw.Model]) -> None:
    (model.path / "m.txt").write_text(str(scaled(helpers.score())))


@sw.component
def report(evaluation: sw.Output[sw.ModelEvaluation], *, label: str = "a") -> None:
    (evaluation.path / "r.txt").write_text(label + fakelib.NAME)


pipeline = sw.Pipeline("fingerprint", [train(), report(label="{label}")])
"""


def _install_fake_distribution(site: Path, version: str) -> None:
    for old in site.glob("fakelib-*.dist-info"):
        shutil.rmtree(old)
    (site / "fakelib").mkdir(parents=True, exist_ok=True)
    (site / "fakelib" / "__init__.py").write_text("NAME = 'fake'\n")
    info = site / f"fakelib-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: fakelib\nVersion: {version}\n")
    (info / "top_level.txt").write_text("fakelib\n")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "pipeline.py").write_text(PIPELINE.format(threshold=2, label="a"))
    (folder / "helpers.py").write_text("from deep import factor\n\n\ndef score():\n    return 10 * factor()\n")
    (folder / "deep.py").write_text("def factor():\n    return 1\n")
    (folder / "unrelated.py").write_text("VALUE = 1\n")
    _install_fake_distribution(tmp_path / "site", "1.0")
    return folder


def test_edits_rerun_exactly_the_components_whose_code_changed(project: Path, cli_env: dict[str, str]) -> None:
    site = project.parent / "site"
    # Absolute entries: the command runs in the project folder, and a relative 'src' would miss these sources.
    inherited = [os.path.abspath(p) for p in cli_env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = {**cli_env, "PYTHONPATH": os.pathsep.join([str(site), *inherited])}

    def states() -> dict[str, str]:
        result = run_cli(["run", "pipeline.py", "--json"], env, cwd=project)
        assert result.returncode == 0, result.stdout + result.stderr
        return {k: v["state"] for k, v in json.loads(result.stdout)["executions"].items()}

    assert states() == {"train": "COMPLETE", "report": "COMPLETE"}
    assert states() == {"train": "CACHED", "report": "CACHED"}

    (project / "unrelated.py").write_text("VALUE = 2\n")  # imported by nobody
    (project / "helpers.py").write_text((project / "helpers.py").read_text() + "# a comment\n")
    assert states() == {"train": "CACHED", "report": "CACHED"}

    (project / "deep.py").write_text("def factor():\n    return 2\n")  # imported by a helper train calls
    assert states() == {"train": "COMPLETE", "report": "CACHED"}

    (project / "pipeline.py").write_text(PIPELINE.format(threshold=3, label="a"))  # a constant train uses
    assert states() == {"train": "COMPLETE", "report": "CACHED"}

    (project / "pipeline.py").write_text(PIPELINE.format(threshold=3, label="b"))  # report's wiring only
    assert states() == {"train": "CACHED", "report": "COMPLETE"}

    _install_fake_distribution(site, "1.1")  # the package report imports, upgraded
    assert states() == {"train": "CACHED", "report": "COMPLETE"}


def _write_module(folder: Path, name: str, source: str) -> None:
    path = folder / f"{name}.py"
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(source)
    os.utime(path, ns=(before + 10_000_000, before + 10_000_000))  # a visibly newer file, even on coarse clocks


def test_a_reloaded_helper_changes_the_fingerprint_in_the_same_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    _write_module(tmp_path, "fp_helper_mod", "def value():\n    return 1\n")
    _write_module(
        tmp_path,
        "fp_component_mod",
        "import sluiceway as sw\nimport fp_helper_mod\n\n"
        "@sw.component\ndef uses_helper(out: sw.Output[sw.Model]) -> None:\n    fp_helper_mod.value()\n",
    )
    for name in ("fp_helper_mod", "fp_component_mod"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    import fp_component_mod  # type: ignore[import-not-found]

    first = code_fingerprint(fp_component_mod.uses_helper)
    assert code_fingerprint(fp_component_mod.uses_helper) == first  # cached and still valid
    _write_module(tmp_path, "fp_helper_mod", "def value():\n    return 2\n")
    assert code_fingerprint(fp_component_mod.uses_helper) != first


def test_a_function_parameter_is_fingerprinted_with_its_helpers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    _write_module(tmp_path, "fp_fn_mod", "SCALE = 1\n\ndef preprocessing_fn(x):\n    return x * SCALE\n")
    monkeypatch.delitem(sys.modules, "fp_fn_mod", raising=False)
    import fp_fn_mod  # type: ignore[import-not-found]

    first = callable_fingerprint(fp_fn_mod.preprocessing_fn)
    _write_module(tmp_path, "fp_fn_mod", "SCALE = 2\n\ndef preprocessing_fn(x):\n    return x * SCALE\n")
    assert callable_fingerprint(fp_fn_mod.preprocessing_fn) != first


def test_standard_components_are_identified_by_their_code_and_the_sluiceway_version() -> None:
    from sluiceway.components import StatisticsGen

    fingerprint = code_fingerprint(StatisticsGen)
    assert len(fingerprint) == 64 and fingerprint == code_fingerprint(StatisticsGen)
    assert fingerprint != code_fingerprint(sw.components.SchemaGen)


def test_fingerprinting_a_component_is_cheap(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Computed once per class and process; later calls only check the files' stamps."""
    monkeypatch.syspath_prepend(str(project.parent / "site"))
    monkeypatch.syspath_prepend(str(project))
    monkeypatch.chdir(project)
    for name in ("helpers", "deep", "fakelib"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    from sluiceway.dsl.loading import load_pipeline

    pipeline = load_pipeline("pipeline.py")
    train = type(pipeline.component("train"))
    started = time.perf_counter()
    code_fingerprint(train)
    first = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(100):
        code_fingerprint(train)
    again = (time.perf_counter() - started) / 100
    assert first < 1.0 and again < 0.005, (first, again)  # generous bounds: the machine is shared


def test_a_project_module_named_like_a_stdlib_module_counts_as_user_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    _write_module(tmp_path, "tabnanny", "def check():\n    return 1\n")  # the project's, not the stdlib's
    _write_module(
        tmp_path,
        "fp_shadow_mod",
        "import sluiceway as sw\nimport tabnanny\n\n"
        "@sw.component\ndef uses_it(out: sw.Output[sw.Model]) -> None:\n    tabnanny.check()\n",
    )
    for name in ("tabnanny", "fp_shadow_mod"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    import fp_shadow_mod  # type: ignore[import-not-found]

    first = code_fingerprint(fp_shadow_mod.uses_it)
    _write_module(tmp_path, "tabnanny", "def check():\n    return 2\n")
    assert code_fingerprint(fp_shadow_mod.uses_it) != first
