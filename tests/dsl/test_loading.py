"""Loading a pipeline file: a private module name, never a shadowed module, and located errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import sluiceway as sw
from sluiceway.dsl.loading import load_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runners"))
from clitools import run_cli  # noqa: E402

pytestmark = pytest.mark.usefixtures("isolated_imports")  # temporary modules do not outlive a test

ONE_COMPONENT = """\
import sluiceway as sw


@sw.component
def make(out: sw.Output[sw.Model]) -> None:
    (out.path / "value.txt").write_text("{value}")


pipeline = sw.Pipeline("{name}", [make()])
"""


def test_a_pipeline_file_named_like_a_stdlib_module_does_not_shadow_it(tmp_path: Path) -> None:
    import code as stdlib_code

    file = tmp_path / "code.py"
    file.write_text(ONE_COMPONENT.format(value=1, name="shadow"))
    pipeline = load_pipeline(str(file))
    assert sys.modules["code"] is stdlib_code
    make = pipeline.component("make")
    assert type(make).__module__.startswith("_sluiceway_pipeline_") and sys.modules[
        type(make).__module__
    ].__file__ == str(file)
    assert make.type_name == "code.make"  # what runs show: the file's stem, not the private name


def test_two_files_with_the_same_stem_keep_their_own_modules(tmp_path: Path) -> None:
    first, second = tmp_path / "a" / "pipe.py", tmp_path / "b" / "pipe.py"
    for index, file in enumerate((first, second)):
        file.parent.mkdir()
        file.write_text(ONE_COMPONENT.format(value=index, name=f"p{index}"))
    one, two = load_pipeline(str(first)), load_pipeline(str(second))
    assert (one.name, two.name) == ("p0", "p1")
    module_one, module_two = (sys.modules[type(p.component("make")).__module__] for p in (one, two))
    assert module_one is not module_two and Path(module_two.__file__).parent.name == "b"
    assert load_pipeline(str(first)).component("make").__class__ is one.component("make").__class__  # reused


@pytest.mark.parametrize(
    ("source", "located", "original"),
    [
        ("import sluiceway as sw\n\nvalue = 1\nratio = value / 0\n", "line 4", "ZeroDivisionError: division by zero"),
        ("import sluiceway as sw\n\ndef broken(:\n    pass\n", "line 3", "SyntaxError"),
        (
            "import not_a_module_anyone_has\n",
            "line 1",
            "ModuleNotFoundError: No module named 'not_a_module_anyone_has'",
        ),
        (
            "import sluiceway as sw\n\n@sw.component\ndef a(o: sw.Output[sw.Model]) -> None: ...\n\n"
            "p = sw.Pipeline('p', [a(id='..')])\n",
            "line 6",
            "Got '..' instead",
        ),
        ("def create_pipeline():\n    return {}['missing']\n", "line 2", "KeyError: 'missing'"),
    ],
)
def test_an_error_while_loading_names_the_file_and_line(
    tmp_path: Path, source: str, located: str, original: str
) -> None:
    file = tmp_path / "pipeline_with_error.py"
    file.write_text(source)
    with pytest.raises(sw.DefinitionError) as info:
        load_pipeline(str(file))
    message = str(info.value)
    assert str(file) in message and located in message and original in message, message
    assert info.value.__cause__ is not None  # the original error stays chained
    if "create_pipeline" not in source:  # a file that failed to import leaves no half-loaded module behind
        assert not [m for m in sys.modules.values() if getattr(m, "__file__", None) == str(file)]


def test_the_cli_shows_where_the_pipeline_file_failed(tmp_path: Path, cli_env: dict[str, str]) -> None:
    file = tmp_path / "failing.py"
    file.write_text("import sluiceway as sw\n\nsettings = {'a': 1}\nthreshold = settings['b']\n")
    result = run_cli(["run", str(file)], cli_env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "line 4" in result.stderr and "KeyError" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("bad_id", ["..", ".", "a/b", "a\\b", ".hidden", "-x", "", "a b", "x" * 201, 7])
def test_component_ids_that_could_escape_a_folder_are_refused(bad_id: object) -> None:
    @sw.component
    def make(out: sw.Output[sw.Model]) -> None: ...

    with pytest.raises(sw.DefinitionError, match="names folders and log files"):
        make(id=bad_id)


def test_ordinary_component_ids_are_accepted() -> None:
    @sw.component
    def make(out: sw.Output[sw.Model]) -> None: ...

    assert [make(id=name).id for name in ("train", "train_2", "stats-v1.2", "_private", "A1")] == [
        "train",
        "train_2",
        "stats-v1.2",
        "_private",
        "A1",
    ]
