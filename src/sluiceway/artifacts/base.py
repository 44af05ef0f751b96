"""The artifact base class: an immutable, typed output stored under a URI.

An ``Artifact`` instance is a handle, not the data: it carries the type, the URI where the files live,
the properties recorded in the metadata store and, once published, the store id and a content fingerprint.
Executors receive input artifacts (published, read-only) and output artifacts whose ``uri`` points at a
private staging folder; the runner moves the staging folder to its final URI only after the executor
succeeded (see ``sluiceway.runners.publish``).

Each subclass documents its on-disk layout in its docstring and declares ``PROPERTIES``: the names and
Python types of the properties its producers record.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from sluiceway.errors import DefinitionError

_REGISTRY: dict[str, type[Artifact]] = {}


class Artifact:
    """Base class of every artifact type. Subclass it to define your own type.

    ``TYPE_NAME`` is the name recorded in the metadata store (default: the class name); it must be unique.
    """

    TYPE_NAME: ClassVar[str] = "Artifact"
    PROPERTIES: ClassVar[dict[str, type]] = {}
    # The main file and the static report of types whose layout has them (e.g. ExampleStatistics).
    FILENAME: ClassVar[str | None] = None
    REPORT_FILENAME: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.TYPE_NAME = cls.__dict__.get("TYPE_NAME", cls.__name__)
        if not isinstance(cls.TYPE_NAME, str) or not cls.TYPE_NAME.strip() or len(cls.TYPE_NAME) > 255:
            raise DefinitionError(
                f"Artifact type {cls.__qualname__}: TYPE_NAME must be a non-empty string of at most 255 "
                f"characters. Got {cls.TYPE_NAME!r} instead."
            )
        taken = _REGISTRY.get(cls.TYPE_NAME)
        if taken is not None and _qualified(taken) != _qualified(cls):
            # The store reads artifacts back by this name: two classes sharing it would read as each other.
            raise DefinitionError(
                f"Artifact type {_qualified(cls)}: the type name {cls.TYPE_NAME!r} is already used by "
                f"{_qualified(taken)}. Give it its own name, e.g. TYPE_NAME = "
                f"'{cls.__module__.split('.')[0]}.{cls.__name__}'."
            )
        _REGISTRY[cls.TYPE_NAME] = cls  # the same class defined again (a reload, a notebook cell) replaces it

    def __init__(
        self,
        uri: str,
        properties: dict[str, Any] | None = None,
        *,
        id: int | None = None,  # noqa: A002 - the metadata store's name for it
        fingerprint: str | None = None,
        state: str | None = None,
        name: str | None = None,
        producer: str | None = None,
    ) -> None:
        self.uri = str(uri)
        self.properties: dict[str, Any] = dict(properties or {})
        self.id = id
        self.fingerprint = fingerprint
        self.state = state
        self.name = name
        self.producer = producer

    @property
    def path(self) -> Path:
        """The artifact's folder as a local path (artifacts on the local file system only)."""
        return Path(self.uri)

    @property
    def file(self) -> Path:
        """``{uri}/{FILENAME}``: the artifact's main file, for types whose layout has one."""
        return self.path / self._layout_name("FILENAME")

    @property
    def report_file(self) -> Path:
        """``{uri}/{REPORT_FILENAME}``: the artifact's static HTML report, for types that write one."""
        return self.path / self._layout_name("REPORT_FILENAME")

    def _layout_name(self, attribute: str) -> str:
        name = getattr(self, attribute)
        if name is None:
            raise AttributeError(
                f"{self.TYPE_NAME} declares no {attribute} in its layout; see the type's docstring for its files."
            )
        return str(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.TYPE_NAME,
            "uri": self.uri,
            "state": self.state,
            "name": self.name,
            "producer": self.producer,
            "fingerprint": self.fingerprint,
            "properties": self.properties,
        }

    def read_json(self, filename: str) -> Any:
        """Read a JSON file stored inside the artifact's folder."""
        return json.loads((self.path / filename).read_text(encoding="utf-8"))

    def write_json(self, filename: str, value: Any) -> Path:
        """Write a JSON file inside the artifact's folder (executors use it on output artifacts)."""
        target = self.path / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(value, indent=2, sort_keys=True, default=str), encoding="utf-8")
        return target

    def __repr__(self) -> str:
        ident = f"id={self.id}, " if self.id is not None else ""
        return f"{self.TYPE_NAME}({ident}uri={self.uri!r})"


_REGISTRY[Artifact.TYPE_NAME] = Artifact


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def artifact_class(type_name: str) -> type[Artifact]:
    """The registered class for a type name; unknown names (types defined in code not imported) get the base."""
    return _REGISTRY.get(type_name, Artifact)
