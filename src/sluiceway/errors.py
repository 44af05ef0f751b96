"""The exceptions Sluiceway raises.

Every message says what went wrong, where, what was expected and how to fix it. They split the way a
user meets them: a ``DefinitionError`` while a pipeline is being built (before anything runs), a
``DataError`` when input data is unusable, a ``ComponentError`` when a component fails while running.
"""

from __future__ import annotations

from typing import Any


class SluicewayError(Exception):
    """Base class of every error Sluiceway raises on purpose."""


class DefinitionError(SluicewayError):
    """A component, pipeline or configuration is defined wrongly; raised before anything runs."""


class ConfigError(DefinitionError):
    """A setting (sluiceway.toml, pyproject.toml, SLUICEWAY_* variable or CLI flag) is invalid."""


class DataError(SluicewayError):
    """Input data cannot be used: missing file, unreadable or malformed content, wrong types."""


class GateClosed(SluicewayError):
    """Raised by a component, after it wrote its outputs, to stop the run at this point.

    Unlike any other exception, the outputs are published (they are complete: e.g. the anomalies report
    that explains why the run stopped), the execution is recorded FAILED with this message, and the
    components downstream of it do not run.
    """


class DataValidationError(DataError, GateClosed):
    """Data was read but failed validation against its schema (anomalies found and gating is on)."""


class ComponentError(SluicewayError):
    """A component failed while running: its executor raised, or its outputs broke the contract.

    Raised by the runner around a failing executor (the executor's own exception chained as ``__cause__``)
    and when an executor sets an output property that cannot be stored. ``component_id``, ``run_name`` and
    ``log_path`` say which execution failed and where its log is, when known (``None`` otherwise).
    """

    def __init__(
        self,
        message: str,
        *,
        component_id: str | None = None,
        run_name: str | None = None,
        log_path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.component_id = component_id
        self.run_name = run_name
        self.log_path = log_path

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword attributes survive pickling (errors cross process boundaries in orchestrators).
        return (_rebuild_component_error, (str(self), self.component_id, self.run_name, self.log_path))


class RunError(SluicewayError):
    """A pipeline run cannot be started, resumed or completed (unknown run, failed upstream, ...)."""


class StoreError(SluicewayError):
    """The metadata store cannot be opened, migrated or queried."""


class NotFoundError(SluicewayError, LookupError):
    """A run, artifact or execution asked for by id or name does not exist in the store."""


class MissingExtraError(SluicewayError, ImportError):
    """An optional dependency is needed; the message gives the ``pip install 'sluiceway[extra]'`` command."""

    def __init__(self, feature: str, extra: str, module: str) -> None:
        super().__init__(
            f"{feature} needs the optional package '{module}', which is not installed. "
            f"Install it with: pip install 'sluiceway[{extra}]'"
        )
        self.feature = feature
        self.extra = extra
        self.module = module


def _rebuild_component_error(
    message: str, component_id: str | None, run_name: str | None, log_path: str | None
) -> ComponentError:
    return ComponentError(message, component_id=component_id, run_name=run_name, log_path=log_path)


def require(module: str, *, feature: str, extra: str):  # noqa: ANN201 - returns a module
    """Import an optional dependency or raise MissingExtraError with the install command."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(feature, extra, module) from exc


# -- the metadata store's failures (subclasses of StoreError, so `except StoreError` still catches them) --


class StoreNotFoundError(StoreError):
    """No metadata store exists at the URL, and the caller asked not to create one (``create=False``)."""


class StoreDamagedError(StoreError):
    """The metadata store is corrupt or its schema was changed outside Sluiceway; `sluiceway store check` says more."""


class NotAStoreError(StoreError):
    """The URL points at something that is not a Sluiceway store (an empty file, another application's database)."""


class MissingStoreDriverError(StoreError, MissingExtraError):
    """The database driver a store URL names is not installed; the message says what to install."""

    def __init__(self, message: str, *, extra: str, module: str) -> None:
        # Our own message: MissingExtraError's would name the wrong install for drivers outside the extras.
        Exception.__init__(self, message)
        self.feature = "The metadata store"
        self.extra = extra
        self.module = module
