"""Components: typed inputs, typed outputs, keyword parameters and an executor.

There is one mechanism. A component class declares its contract with the signature of its ``execute``
method; ``@component`` turns a typed function into such a class. Either way::

    @sw.component
    def drop_outliers(examples: Input[Examples], cleaned: Output[Examples], *, z: float = 4.0) -> None: ...

    class StatisticsGen(sw.Component):
        def execute(self, examples: Input[Examples], statistics: Output[ExampleStatistics], *, top_k: int = 20): ...

Calling the class wires an instance: ``drop_outliers(examples=gen.examples, z=3.0)``. Outputs are
attributes of the instance (``gen.examples``). Wiring and parameter errors raise ``DefinitionError`` here,
before anything runs. Every component also accepts the keyword-only settings ``id``, ``cache``,
``retries``, ``retry_backoff`` and ``after`` (extra upstream components without data between them).
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import threading
import types
import typing
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from sluiceway.artifacts.base import Artifact
from sluiceway.errors import DefinitionError

A = TypeVar("A", bound=Artifact)

RESERVED_NAMES = frozenset({"id", "cache", "retries", "retry_backoff", "after", "execute", "outputs", "inputs"})
_NO_DEFAULT = inspect.Parameter.empty


class Input(Generic[A]):
    """Marks an ``execute`` argument as an input artifact of type ``A`` (``Input[Examples]``)."""


class Output(Generic[A]):
    """Marks an ``execute`` argument as an output artifact of type ``A`` (``Output[Model]``)."""


@dataclass(frozen=True)
class InputSpec:
    name: str
    artifact_type: type[Artifact]
    optional: bool


@dataclass(frozen=True)
class OutputSpec:
    name: str
    artifact_type: type[Artifact]


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    annotation: Any
    default: Any  # inspect.Parameter.empty when required

    @property
    def required(self) -> bool:
        return self.default is _NO_DEFAULT


@dataclass(frozen=True)
class ComponentSpec:
    inputs: dict[str, InputSpec]
    outputs: dict[str, OutputSpec]
    parameters: dict[str, ParameterSpec]


class Channel:
    """A reference to an artifact that will exist when the pipeline runs."""

    artifact_type: type[Artifact]


class OutputChannel(Channel):
    """The output ``name`` of component ``producer``; what ``gen.examples`` returns."""

    __slots__ = ("producer", "name", "artifact_type")

    def __init__(self, producer: Component, name: str, artifact_type: type[Artifact]) -> None:
        self.producer = producer
        self.name = name
        self.artifact_type = artifact_type

    def __repr__(self) -> str:
        return f"<{self.artifact_type.TYPE_NAME} output {self.producer.id}.{self.name}>"


def _artifact_of(marker: type, annotation: Any) -> type[Artifact] | None:
    if typing.get_origin(annotation) is marker:
        (artifact_type,) = typing.get_args(annotation)
        if isinstance(artifact_type, type) and issubclass(artifact_type, Artifact):
            return artifact_type
        raise TypeError(f"{marker.__name__}[...] takes an Artifact subclass, got {artifact_type!r}")
    return None


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(annotation)) == 2:
            return args[0], True
    return annotation, False


def spec_from_function(fn: Any, *, owner: str, skip_self: bool) -> ComponentSpec:
    """Read a component's contract from the signature of its executor function."""
    try:
        hints = typing.get_type_hints(fn)
    except NameError as exc:
        raise DefinitionError(
            f"Component {owner}: cannot resolve the type annotations of its executor ({exc}). "
            "Define the artifact types at module level or import them where the component is defined."
        ) from exc
    inputs: dict[str, InputSpec] = {}
    outputs: dict[str, OutputSpec] = {}
    parameters: dict[str, ParameterSpec] = {}
    params = list(inspect.signature(fn).parameters.values())
    if skip_self and params:
        params = params[1:]
    for param in params:
        where = f"Component {owner}, argument {param.name!r}"
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise DefinitionError(f"{where}: *args/**kwargs are not allowed; declare each input, output and parameter.")
        if param.name in RESERVED_NAMES:
            raise DefinitionError(
                f"{where}: the name is reserved for component settings ({', '.join(sorted(RESERVED_NAMES))}). "
                "Rename the argument."
            )
        if param.name.startswith("_"):
            raise DefinitionError(f"{where}: names starting with '_' are private; rename the argument.")
        annotation = hints.get(param.name, _NO_DEFAULT)
        inner, optional = _unwrap_optional(annotation)
        input_type = _artifact_of(Input, inner)
        output_type = _artifact_of(Output, inner)
        if input_type is not None:
            if param.kind is param.KEYWORD_ONLY:
                raise DefinitionError(f"{where}: inputs go before the '*'; only parameters are keyword-only.")
            optional = optional or param.default is None
            inputs[param.name] = InputSpec(param.name, input_type, optional)
        elif output_type is not None:
            if param.kind is param.KEYWORD_ONLY:
                raise DefinitionError(f"{where}: outputs go before the '*'; only parameters are keyword-only.")
            outputs[param.name] = OutputSpec(param.name, output_type)
        elif param.kind is param.KEYWORD_ONLY:
            if annotation is _NO_DEFAULT:
                raise DefinitionError(
                    f"{where}: parameters need a type annotation (e.g. '{param.name}: float = 1.0') "
                    "so values can be checked when the pipeline is built."
                )
            parameters[param.name] = ParameterSpec(param.name, annotation, param.default)
        else:
            raise DefinitionError(
                f"{where}: expected Input[ArtifactType] or Output[ArtifactType] before the '*', "
                f"got {annotation!r}. Parameters must be keyword-only: put them after a bare '*'."
            )
    return ComponentSpec(inputs, outputs, parameters)


@functools.lru_cache(maxsize=512)
def _type_adapter(annotation: Any) -> Any:
    from pydantic import ConfigDict, TypeAdapter

    return TypeAdapter(annotation, config=ConfigDict(arbitrary_types_allowed=True))


def _check_parameter(owner: str, spec: ParameterSpec, value: Any) -> Any:
    if spec.annotation is Any:
        return value
    # Fast path for the common scalar types: no pydantic import, which costs ~0.1 s of start-up.
    kind = spec.annotation
    if kind in (str, bool) and type(value) is kind:
        return value
    if kind is int and type(value) is int:
        return value
    if kind is float and type(value) in (int, float):
        return float(value)
    try:
        adapter = _type_adapter(spec.annotation)
    except Exception:  # noqa: BLE001 - an annotation pydantic cannot model is checked by the executor
        return value
    from pydantic import ValidationError

    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        problem = exc.errors()[0].get("msg", str(exc))
        raise DefinitionError(
            f"The {spec.name!r} parameter of {owner} must be {_describe(spec.annotation)}. "
            f"Got {value!r} instead ({problem})."
        ) from None


def _describe(annotation: Any) -> str:
    if isinstance(annotation, type):
        return f"a {annotation.__name__}"
    return f"of type {annotation}".replace("typing.", "")


class Component:
    """Base class of every component. Subclass it and define ``execute``; see the module docstring."""

    SPEC: ClassVar[ComponentSpec] = ComponentSpec({}, {}, {})
    _EXECUTE_IS_STATIC: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        raw = cls.__dict__.get("execute")
        if raw is None:
            return
        cls._EXECUTE_IS_STATIC = isinstance(raw, staticmethod)
        fn = raw.__func__ if isinstance(raw, staticmethod) else raw
        cls.SPEC = spec_from_function(fn, owner=cls.__name__, skip_self=not cls._EXECUTE_IS_STATIC)

    def execute(self, **kwargs: Any) -> None:  # pragma: no cover - replaced by subclasses
        raise NotImplementedError(f"{type(self).__name__} does not define execute()")

    def __init__(
        self,
        *,
        id: str | None = None,  # noqa: A002 - the user-facing name
        cache: bool = True,
        retries: int = 0,
        retry_backoff: float = 1.0,
        after: list[Component] | tuple[Component, ...] = (),
        **kwargs: Any,
    ) -> None:
        cls = type(self)
        spec = cls.SPEC
        self.id = id if id is not None else cls.__name__
        owner = f"component {self.id!r} ({cls.__name__})"
        if not isinstance(self.id, str) or not self.id or not self.id.replace("_", "a").replace("-", "a").replace(".", "a").isalnum():
            raise DefinitionError(
                f"The id of {cls.__name__} must be a non-empty string of letters, digits, '_', '-' or '.'. "
                f"Got {self.id!r} instead."
            )
        if not isinstance(cache, bool):
            raise DefinitionError(f"The 'cache' setting of {owner} must be True or False. Got {cache!r} instead.")
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise DefinitionError(f"The 'retries' setting of {owner} must be an integer >= 0. Got {retries!r} instead.")
        if not isinstance(retry_backoff, (int, float)) or retry_backoff < 0:
            raise DefinitionError(
                f"The 'retry_backoff' setting of {owner} must be a number of seconds >= 0. Got {retry_backoff!r} instead."
            )
        self.cache = cache
        self.retries = retries
        self.retry_backoff = float(retry_backoff)
        self.upstream_components: list[Component] = []
        for other in after:
            self.add_upstream(other)

        self.inputs: dict[str, Channel] = {}
        self.parameters: dict[str, Any] = {}
        for name, value in kwargs.items():
            if name in spec.inputs:
                self._wire_input(owner, spec.inputs[name], value)
            elif name in spec.parameters:
                self.parameters[name] = _check_parameter(owner, spec.parameters[name], value)
            elif name in spec.outputs:
                raise DefinitionError(
                    f"{owner}: {name!r} is an output, not an input or parameter; outputs are created by the "
                    f"component. Read it as {self.id}.{name} and pass it to a downstream component."
                )
            else:
                raise DefinitionError(
                    f"{owner} got an unknown argument {name!r}. "
                    f"Inputs: {sorted(spec.inputs) or 'none'}; parameters: {sorted(spec.parameters) or 'none'}"
                    + _suggest(name, [*spec.inputs, *spec.parameters])
                )
        for name, input_spec in spec.inputs.items():
            if name not in self.inputs and not input_spec.optional:
                raise DefinitionError(
                    f"{owner} is missing its required input {name!r} ({input_spec.artifact_type.TYPE_NAME}). "
                    f"Pass it, e.g. {cls.__name__}({name}=<upstream>.<output>)."
                )
        for name, param_spec in spec.parameters.items():
            if name not in self.parameters:
                if param_spec.required:
                    raise DefinitionError(
                        f"{owner} is missing its required parameter {name!r} ({_describe(param_spec.annotation)}). "
                        f"Pass it as {cls.__name__}({name}=...)."
                    )
                self.parameters[name] = param_spec.default
        self.outputs: dict[str, OutputChannel] = {
            name: OutputChannel(self, name, out.artifact_type) for name, out in spec.outputs.items()
        }
        self.check_parameters(owner, self.parameters)

    def check_parameters(self, owner: str, parameters: dict[str, Any]) -> None:
        """Check constraints between parameters when the component is built; raise ``DefinitionError``.

        Each parameter's type (and any ``Annotated[..., pydantic.Field(ge=...)]`` bound) is already checked;
        override this for rules that involve several parameters (e.g. ``time_column`` needs
        ``time_cutoff``). ``owner`` names the component for messages; ``parameters`` has defaults filled in.
        """

    def _wire_input(self, owner: str, spec: InputSpec, value: Any) -> None:
        if value is None:
            if spec.optional:
                return
            raise DefinitionError(
                f"{owner}: input {spec.name!r} is required ({spec.artifact_type.TYPE_NAME}) but None was given. "
                "Wire it to an upstream output."
            )
        if isinstance(value, Component):
            candidates = [c for c in value.outputs.values() if issubclass(c.artifact_type, spec.artifact_type)]
            hint = f" Did you mean {value.id}.{candidates[0].name}?" if len(candidates) == 1 else ""
            raise DefinitionError(
                f"{owner}: input {spec.name!r} expects an output channel of type {spec.artifact_type.TYPE_NAME}, "
                f"got the component {value.id!r} itself.{hint}"
            )
        if not isinstance(value, Channel):
            raise DefinitionError(
                f"{owner}: input {spec.name!r} expects an output of an upstream component "
                f"(type {spec.artifact_type.TYPE_NAME}), got {type(value).__name__} {value!r}."
            )
        if not issubclass(value.artifact_type, spec.artifact_type):
            source = repr(value)
            raise DefinitionError(
                f"{owner}: input {spec.name!r} expects {spec.artifact_type.TYPE_NAME}, "
                f"but {source} produces {value.artifact_type.TYPE_NAME}. "
                f"Wire an output of type {spec.artifact_type.TYPE_NAME} instead."
            )
        self.inputs[spec.name] = value

    def add_upstream(self, other: Component) -> Component:
        """Run this component after ``other`` even though no artifact passes between them."""
        if not isinstance(other, Component):
            raise DefinitionError(f"component {self.id!r}: 'after' takes components, got {other!r}.")
        if other not in self.upstream_components:
            self.upstream_components.append(other)
        return self

    def __getattr__(self, name: str) -> OutputChannel:
        outputs = self.__dict__.get("outputs")
        if outputs is not None and name in outputs:
            return outputs[name]
        known = sorted(outputs) if outputs else []
        raise AttributeError(
            f"{type(self).__name__} {self.__dict__.get('id', '?')!r} has no attribute {name!r}; "
            f"its outputs are {known}{_suggest(name, known)}"
        )

    @property
    def upstream(self) -> list[Component]:
        """Every component this one depends on: producers of its inputs and explicit ``after`` components."""
        result: list[Component] = []
        for channel in self.inputs.values():
            producer = getattr(channel, "producer", None)
            if producer is not None and producer not in result:
                result.append(producer)
        for other in self.upstream_components:
            if other not in result:
                result.append(other)
        return result

    @property
    def type_name(self) -> str:
        cls = type(self)
        return f"{cls.__module__}.{cls.__qualname__}"

    def cache_key(self) -> dict[str, Any]:
        """Extra values that identify this execution for caching (e.g. the files an ExampleGen reads).

        Override in components whose result depends on something outside their input artifacts.
        """
        return {}

    def call_execute(self, arguments: dict[str, Any]) -> None:
        if self._EXECUTE_IS_STATIC:
            type(self).__dict__["execute"].__func__(**arguments)
        else:
            self.execute(**arguments)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id!r}>"


def _suggest(name: str, options: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, options, n=1)
    return f". Did you mean {close[0]!r}?" if close else "."


# inspect.getsource of a class parses its module with ast.parse, which CPython 3.11 cannot run in two
# threads at once ("AST constructor recursion depth mismatch", python/cpython#106905): components are
# fingerprinted in the runner's worker threads, so one at a time.
_SOURCE_LOCK = threading.Lock()


@functools.lru_cache(maxsize=256)
def code_fingerprint(cls: type[Component]) -> str:
    """Identify a component's code: its source (and, for Sluiceway's own components, the package version).

    Changing the executor's source invalidates cached executions of it. Class components contribute the
    source of every class in their hierarchy up to ``Component``, so an inherited ``execute`` counts too.
    """
    with _SOURCE_LOCK:
        return _code_fingerprint(cls)


def _code_fingerprint(cls: type[Component]) -> str:
    if cls._EXECUTE_IS_STATIC:
        fn = cls.__dict__["execute"].__func__
        try:
            source = inspect.getsource(fn)
        except (OSError, TypeError):
            source = repr((fn.__code__.co_code, fn.__code__.co_consts))
    else:
        parts = []
        for klass in cls.__mro__:
            if klass is Component or not issubclass(klass, Component):
                break
            try:
                parts.append(inspect.getsource(klass))
            except (OSError, TypeError):
                execute = klass.__dict__.get("execute")
                code = getattr(execute, "__code__", None)
                parts.append(repr((code.co_code, code.co_consts)) if code else klass.__qualname__)
        source = "\n".join(parts)
    if (cls.__module__ or "").startswith("sluiceway."):
        from sluiceway import __version__

        source += f"\nsluiceway=={__version__}"
    return hashlib.sha256(source.encode()).hexdigest()


def canonical_parameters(parameters: dict[str, Any]) -> str:
    """Parameters as canonical JSON: the form that is fingerprinted and recorded in the store."""
    return json.dumps(parameters, sort_keys=True, default=_json_default, separators=(",", ":"))


def _json_default(value: Any) -> Any:
    import dataclasses
    import pathlib

    if callable(value) and hasattr(value, "__code__"):
        try:
            source = inspect.getsource(value)
        except (OSError, TypeError):
            source = repr((value.__code__.co_code, value.__code__.co_consts))
        return {"callable": f"{value.__module__}.{value.__qualname__}", "source_sha256": hashlib.sha256(source.encode()).hexdigest()}
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, pathlib.PurePath):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return repr(value)


def component(fn: Any = None, /) -> Any:
    """Turn a typed function into a component class (see the module docstring)."""
    if fn is None:
        return component
    if not callable(fn) or not hasattr(fn, "__code__"):
        raise DefinitionError(f"@component decorates a function; got {fn!r}.")
    namespace = {
        "execute": staticmethod(fn),
        "__doc__": fn.__doc__,
        "__module__": fn.__module__ or "__main__",
        "__qualname__": fn.__qualname__,
        "__wrapped__": fn,
    }
    return type(fn.__name__, (Component,), namespace)
