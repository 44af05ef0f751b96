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
``retries``, ``retry_backoff``, ``after`` (extra upstream components without data between them),
``when`` (run only if a condition on upstream outputs holds, else SKIPPED; see ``sluiceway.dsl.conditions``),
``engine`` and ``resources`` (what one run of the component reserves on a Ray cluster under ``RayRunner``:
``{"num_cpus": 2, "num_gpus": 1, "memory": 4e9, "my_resource": 1}``; other runners ignore it).
"""

from __future__ import annotations

import inspect
import math
import re
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, TypeVar

from sluiceway.artifacts.base import Artifact
from sluiceway.dsl.conditions import Predicate, PropertyRef, active_conditions, as_predicate, combined
from sluiceway.dsl.parameters import canonical_parameters as canonical_parameters  # noqa: F401 - runners import it here
from sluiceway.dsl.parameters import check_parameter, describe_type
from sluiceway.errors import DefinitionError

A = TypeVar("A", bound=Artifact)

RESERVED_NAMES = frozenset(
    {"id", "cache", "retries", "retry_backoff", "after", "when", "engine", "resources", "execute", "outputs", "inputs"}
)
# Ray's reserved resource names, spelled as its task options; any other key is a custom resource.
RAY_RESOURCE_OPTIONS = ("num_cpus", "num_gpus", "memory")
_NO_DEFAULT = inspect.Parameter.empty
MAX_ID_LENGTH = 200
_ID = re.compile(rf"[A-Za-z0-9_][A-Za-z0-9_.-]{{0,{MAX_ID_LENGTH - 1}}}", re.ASCII)


class _ArtifactMarker(Generic[A]):
    def __class_getitem__(cls, item: Any) -> Any:
        if isinstance(item, tuple):  # Input[Examples, Model]: a DefinitionError, not typing's TypeError
            given = ", ".join(_type_label(i) for i in item)
            raise DefinitionError(
                f"{cls.__name__}[...] takes one artifact type, e.g. {cls.__name__}[Examples]. Got "
                f"{cls.__name__}[{given}] instead; declare one argument per artifact."
            )
        return super().__class_getitem__(item)  # type: ignore[misc]


if TYPE_CHECKING:
    # For type checkers an executor's ``examples: Input[Examples]`` *is* an ``Examples`` (with .path,
    # .properties, ...); at run time the markers below carry the direction.
    Input = Annotated[A, "sluiceway.Input"]
    Output = Annotated[A, "sluiceway.Output"]
else:

    class Input(_ArtifactMarker[A]):
        """Marks an ``execute`` argument as an input artifact of type ``A`` (``Input[Examples]``)."""

    class Output(_ArtifactMarker[A]):
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

    def property(self, name: str) -> PropertyRef:
        """A property of the artifact this output will hold, for a condition: ``ev.evaluation.property("acc")``."""
        if not isinstance(name, str) or not name:
            raise DefinitionError(f"{self!r}.property(...) takes a property name. Got {name!r} instead.")
        return PropertyRef(self, name)

    def __getattr__(self, name: str) -> PropertyRef:
        # Declared properties read as attributes (``ev.blessing.blessed``) for conditions; see dsl.conditions.
        if name.startswith("_") or name in OutputChannel.__slots__:  # not set yet (copying): no recursion
            raise AttributeError(name)
        artifact_type = self.artifact_type
        if name in artifact_type.PROPERTIES:
            return PropertyRef(self, name)
        declared = sorted(artifact_type.PROPERTIES)
        raise AttributeError(
            f"{self!r} has no attribute {name!r}; the properties {artifact_type.TYPE_NAME} declares "
            f"are {declared}{_suggest(name, declared)} Read another with .property({name!r})."
        )


def _artifact_of(marker: type, annotation: Any, where: str) -> type[Artifact] | None:
    if typing.get_origin(annotation) is marker:
        arguments = typing.get_args(annotation)
        artifact_type = arguments[0] if len(arguments) == 1 else None
        if isinstance(artifact_type, type) and issubclass(artifact_type, Artifact):
            return artifact_type
        given = ", ".join(_type_label(a) for a in arguments)
        raise DefinitionError(
            f"{where}: {marker.__name__}[...] takes one artifact type (a subclass of sluiceway.Artifact, e.g. "
            f"{marker.__name__}[Examples]). Got {marker.__name__}[{given}] instead. A plain value such as an int "
            "is a parameter: declare it after the '*'."
        )
    return None


def _type_label(value: Any) -> str:
    return value.__name__ if isinstance(value, type) else repr(value)


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
        # include_extras keeps Annotated[int, pydantic.Field(ge=1)], whose bounds are checked at build time.
        hints = typing.get_type_hints(fn, include_extras=True)
    except NameError as exc:
        raise DefinitionError(
            f"Component {owner}: cannot resolve the type annotations of its executor ({exc}). "
            "Define the artifact types at module level or import them where the component is defined."
        ) from exc
    except (TypeError, SyntaxError) as exc:  # a malformed annotation, e.g. a string that is not an expression
        raise DefinitionError(
            f"Component {owner}: the type annotations of its executor are malformed ({type(exc).__name__}: {exc}). "
            "Annotate inputs as Input[ArtifactType], outputs as Output[ArtifactType] and parameters with a type."
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
        input_type = _artifact_of(Input, inner, where)
        output_type = _artifact_of(Output, inner, where)
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


class Component:
    """Base class of every component. Subclass it and define ``execute``; see the module docstring."""

    SPEC: ClassVar[ComponentSpec] = ComponentSpec({}, {}, {})
    _EXECUTE_IS_STATIC: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        raw = cls.__dict__.get("execute")
        if raw is not None:
            cls._EXECUTE_IS_STATIC = isinstance(raw, staticmethod)
            fn = raw.__func__ if isinstance(raw, staticmethod) else raw
            _require_plain_function(fn, cls.__name__)
            cls.SPEC = spec_from_function(fn, owner=cls.__name__, skip_self=not cls._EXECUTE_IS_STATIC)
        if raw is not None or "__init__" in cls.__dict__:
            # What help(), IDEs and inspect.signature show: the real inputs and parameters, not **kwargs,
            # and the settings' defaults as this class's __init__ sets them (SqlExampleGen: cache=False).
            cls.__signature__ = construction_signature(cls.SPEC, _settings_defaults(cls))  # type: ignore[attr-defined]

    def execute(self, **kwargs: Any) -> None:  # pragma: no cover - replaced by subclasses
        raise NotImplementedError(f"{type(self).__name__} does not define execute()")

    def __init__(
        self,
        *positional: Any,
        id: str | None = None,  # noqa: A002 - the user-facing name
        cache: bool = True,
        retries: int = 0,
        retry_backoff: float = 1.0,
        after: list[Component] | tuple[Component, ...] = (),
        when: Predicate | PropertyRef | None = None,
        engine: Any = None,
        resources: Mapping[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        cls = type(self)
        spec = cls.SPEC
        if positional:
            first_input = next(iter(spec.inputs), "examples")
            raise DefinitionError(
                f"{cls.__name__} takes its inputs and parameters by keyword; got {len(positional)} positional "
                f"argument(s). Name them, e.g. {cls.__name__}({first_input}=<upstream>.<output>)."
            )
        self.id = id if id is not None else cls.__name__
        owner = f"component {self.id!r} ({cls.__name__})"
        if not isinstance(self.id, str) or not _ID.fullmatch(self.id):
            # The id names folders and log files: '..', '/', '\\' or a leading dot would escape them.
            raise DefinitionError(
                f"The id of {cls.__name__} must start with a letter, digit or '_' and contain only letters, "
                f"digits, '_', '-' or '.' (at most {MAX_ID_LENGTH} characters), because it names folders and "
                f"log files. Got {self.id!r} instead."
            )
        if not isinstance(cache, bool):
            raise DefinitionError(f"The 'cache' setting of {owner} must be True or False. Got {cache!r} instead.")
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise DefinitionError(f"The 'retries' setting of {owner} must be an integer >= 0. Got {retries!r} instead.")
        if not isinstance(retry_backoff, (int, float)) or retry_backoff < 0:
            raise DefinitionError(
                f"The 'retry_backoff' setting of {owner} must be a number of seconds >= 0. "
                f"Got {retry_backoff!r} instead."
            )
        from sluiceway.data.engine import check_engine_spec

        check_engine_spec(engine, f"The 'engine' setting of {owner}")
        # where this component's data work runs ('local', 'ray' or an Engine); None: the run's or pipeline's.
        # Not part of the cache key: every engine gives the same outputs.
        self.engine = engine
        # What one run reserves on a Ray cluster (RayRunner); not part of the cache key either: it changes
        # where the component runs, not what it outputs.
        self.resources: dict[str, float] = check_resources(resources, owner)
        self.cache = cache
        self.retries = retries
        self.retry_backoff = float(retry_backoff)
        self.upstream_components: list[Component] = []
        if not isinstance(after, (list, tuple)):
            raise DefinitionError(
                f"The 'after' setting of {owner} must be a list of components. Got {after!r} instead; "
                f"write after=[{getattr(after, 'id', 'other')}]."
            )
        for other in after:
            self.add_upstream(other)
        conditions = list(active_conditions())
        if when is not None:
            conditions.append(as_predicate(when, f"The 'when' setting of {owner}"))
        self.condition: Predicate | None = combined(conditions)
        for reference in self.condition.references() if self.condition is not None else []:
            self.add_upstream(reference.channel.producer)  # the condition is read once its producer ran

        self.inputs: dict[str, Channel] = {}
        self.parameters: dict[str, Any] = {}
        for name, value in kwargs.items():
            if name in spec.inputs:
                self._wire_input(owner, spec.inputs[name], value)
            elif name in spec.parameters:
                self.parameters[name] = check_parameter(owner, spec.parameters[name], value)
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
                        f"{owner} is missing its required parameter {name!r} ({describe_type(param_spec.annotation)}). "
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
        """``module.QualName``; for a class defined in a pipeline file, the file's stem is the module."""
        cls = type(self)
        module = sys.modules.get(cls.__module__)
        module_name = getattr(module, "__sluiceway_display_name__", cls.__module__)
        return f"{module_name}.{cls.__qualname__}"

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


class _Shown:
    """An annotation in a displayed signature, shown as written (``Input[Examples]``, not a dotted path)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


_KEYWORD = inspect.Parameter.KEYWORD_ONLY
_SETTINGS = (
    inspect.Parameter("id", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=_Shown("str | None")),
    inspect.Parameter("cache", inspect.Parameter.KEYWORD_ONLY, default=True, annotation=bool),
    inspect.Parameter("retries", inspect.Parameter.KEYWORD_ONLY, default=0, annotation=int),
    inspect.Parameter("retry_backoff", inspect.Parameter.KEYWORD_ONLY, default=1.0, annotation=float),
    inspect.Parameter("after", inspect.Parameter.KEYWORD_ONLY, default=(), annotation=_Shown("list[Component]")),
    inspect.Parameter("when", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=_Shown("Predicate | None")),
    inspect.Parameter("engine", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=_Shown("str | Engine | None")),
    inspect.Parameter(
        "resources", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=_Shown("dict[str, float] | None")
    ),
)


def check_resources(resources: Any, owner: str) -> dict[str, float]:
    """The ``resources`` setting as a plain dict: resource names to amounts >= 0 (checked at build time)."""
    if resources is None:
        return {}
    example = '{"num_cpus": 2, "num_gpus": 1, "memory": 4e9}'
    if not isinstance(resources, Mapping):
        raise DefinitionError(
            f"The 'resources' setting of {owner} must be a mapping of resource names to amounts, e.g. {example}. "
            f"Got {resources!r} instead."
        )
    checked: dict[str, float] = {}
    for name, amount in resources.items():
        if not isinstance(name, str) or not name:
            raise DefinitionError(
                f"The 'resources' setting of {owner} names resources with strings, e.g. {example}. Got the key "
                f"{name!r} instead."
            )
        if name in ("CPU", "GPU"):
            raise DefinitionError(
                f"The 'resources' setting of {owner} asks for {name!r}: write it as 'num_{name.lower()}' "
                f"(Ray's task option), e.g. {example}."
            )
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not math.isfinite(amount) or amount < 0:
            raise DefinitionError(
                f"The 'resources' setting of {owner}: {name!r} must be a number >= 0 (CPUs, GPUs, bytes of memory "
                f"or units of a custom resource). Got {amount!r} instead."
            )
        checked[name] = amount
    return checked


def _settings_defaults(cls: type) -> dict[str, Any]:
    """Defaults of the common settings where a subclass's ``__init__`` changes them."""
    init = next((k.__dict__["__init__"] for k in cls.__mro__ if "__init__" in k.__dict__), None)
    if init is None or init is Component.__init__:
        return {}
    names = {setting.name for setting in _SETTINGS}
    return {
        name: p.default
        for name, p in inspect.signature(init).parameters.items()
        if name in names and p.default is not inspect.Parameter.empty
    }


def construction_signature(spec: ComponentSpec, defaults: dict[str, Any] | None = None) -> inspect.Signature:
    """The signature of calling a component class: its inputs, its parameters, then the common settings.

    Everything is keyword-only, in the executor's order; an optional input defaults to ``None``.
    ``defaults`` overrides the settings' defaults.
    """
    parameters = []
    for name, item in spec.inputs.items():
        shown = f"Input[{item.artifact_type.__name__}]" + (" | None" if item.optional else "")
        default = None if item.optional else _NO_DEFAULT
        parameters.append(inspect.Parameter(name, _KEYWORD, default=default, annotation=_Shown(shown)))
    for name, parameter in spec.parameters.items():
        parameters.append(inspect.Parameter(name, _KEYWORD, default=parameter.default, annotation=parameter.annotation))
    settings = [setting.replace(default=(defaults or {}).get(setting.name, setting.default)) for setting in _SETTINGS]
    return inspect.Signature([*parameters, *settings])


def _suggest(name: str, options: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, options, n=1)
    return f". Did you mean {close[0]!r}?" if close else "."


def _require_plain_function(fn: Any, owner: str) -> None:
    if inspect.iscoroutinefunction(fn) or inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
        # Calling it would only create a coroutine or generator: the body would silently never run.
        raise DefinitionError(
            f"Component {owner}: the executor must be a plain function (not async, not a generator). "
            "Run async code inside it with asyncio.run(...)."
        )


def code_fingerprint(cls: type[Component]) -> str:
    """The hash of what a component class's behaviour depends on; see ``sluiceway.dsl.fingerprint``."""
    from sluiceway.dsl.fingerprint import code_fingerprint as fingerprint  # loaded when a run needs it

    return fingerprint(cls)


def component(fn: Any = None, /) -> Any:
    """Turn a typed function into a component class (see the module docstring)."""
    if fn is None:
        return component
    if not callable(fn) or not hasattr(fn, "__code__"):
        raise DefinitionError(f"@component decorates a function; got {fn!r}.")
    _require_plain_function(fn, fn.__qualname__)
    namespace = {
        "execute": staticmethod(fn),
        "__doc__": fn.__doc__,
        "__module__": fn.__module__ or "__main__",
        "__qualname__": fn.__qualname__,
        "__wrapped__": fn,
    }
    return type(fn.__name__, (Component,), namespace)
