"""The public surface: what `sluiceway` exports, what dir() and help() show, and what stays lazy."""

from __future__ import annotations

import inspect
import pydoc
import subprocess
import sys

import pytest

import sluiceway as sw
import sluiceway.components as standard
import sluiceway.testing


def test_every_exported_name_resolves_and_dir_lists_the_lazy_ones() -> None:
    assert len(sw.__all__) == len(set(sw.__all__))
    listed = dir(sw)
    for name in sw.__all__:
        assert name in listed, name
        assert getattr(sw, name) is not None
    expected = {"LocalRunner", "CeleryRunner", "Run", "MetadataStore", "RunHooks", "load_settings", "Settings"}
    expected |= {"RayEngine", "RayRunner"}
    assert expected <= set(listed)


def test_an_unknown_name_says_so() -> None:
    with pytest.raises(AttributeError, match="module 'sluiceway' has no attribute 'LocalRuner'"):
        sw.LocalRuner  # noqa: B018


def test_importing_sluiceway_stays_light_until_a_lazy_name_is_used() -> None:
    code = (
        "import sys, sluiceway as sw\n"
        "heavy = ['sluiceway.runners.local', 'sluiceway.metadata.store', 'sqlalchemy', 'pyarrow', 'polars']\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "print('LocalRunner' in dir(sw))\n"
        "sw.LocalRunner\n"
        "print('sluiceway.runners.local' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:3] == ["[]", "True", "True"]


@pytest.mark.parametrize("name", standard.__all__)
def test_standard_components_show_their_real_parameters(name: str) -> None:
    cls = getattr(standard, name)
    signature = inspect.signature(cls)
    kinds = {p.kind for p in signature.parameters.values()}
    assert kinds == {inspect.Parameter.KEYWORD_ONLY}  # no **kwargs hiding the contract
    names = list(signature.parameters)
    assert names[-8:] == ["id", "cache", "retries", "retry_backoff", "after", "when", "engine", "resources"]
    assert set(names[:-8]) == set(cls.SPEC.inputs) | set(cls.SPEC.parameters)
    for parameter_name, spec in cls.SPEC.parameters.items():
        assert signature.parameters[parameter_name].default == spec.default


def test_a_decorated_component_shows_inputs_parameters_and_settings_to_help() -> None:
    @sw.component
    def drop_outliers(
        examples: sw.Input[sw.Examples],
        reference: sw.Input[sw.Examples] | None,
        cleaned: sw.Output[sw.Examples],
        *,
        z: float = 4.0,
    ) -> None:
        """Drop rows further than z standard deviations from the mean."""

    signature = str(inspect.signature(drop_outliers))
    assert signature == (
        "(*, examples: Input[Examples], reference: Input[Examples] | None = None, z: float = 4.0, "
        "id: str | None = None, cache: bool = True, retries: int = 0, retry_backoff: float = 1.0, "
        "after: list[Component] = (), when: Predicate | None = None, engine: str | Engine | None = None, "
        "resources: dict[str, float] | None = None)"
    )
    text = pydoc.render_doc(drop_outliers, renderer=pydoc.plaintext)
    assert "drop_outliers(*, examples: Input[Examples]" in text and "Drop rows further than z" in text


def test_public_modules_declare_their_surface() -> None:
    assert sluiceway.testing.__all__ == ["CheckedOutputs", "check_component"]
    assert all(issubclass(getattr(standard, n), sw.Component) for n in standard.__all__)


def test_a_settings_default_changed_by_the_class_shows_in_its_signature() -> None:
    assert inspect.signature(standard.SqlExampleGen).parameters["cache"].default is False
    assert inspect.signature(standard.StatisticsGen).parameters["cache"].default is True
