"""Settings, from one place.

Precedence, lowest to highest: built-in defaults < ``sluiceway.toml`` (top-level keys) or
``[tool.sluiceway]`` in ``pyproject.toml`` (in the current folder) < ``SLUICEWAY_*`` environment
variables < explicit overrides (CLI flags, ``LocalRunner`` arguments).

Relative paths in a settings file are taken relative to that file's folder; relative paths from the
environment or overrides relative to the current folder.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sluiceway.errors import ConfigError

DEFAULT_HOME = ".sluiceway"
ENV_PREFIX = "SLUICEWAY_"


@dataclass(frozen=True)
class Settings:
    """Where metadata and artifacts live and how the local runner runs.

    ``store``: SQLAlchemy URL of the metadata store (``sqlite:///…`` or ``postgresql://…``).
    ``artifact_root``: folder under which artifacts (and execution logs, in ``.logs/``) are written, or an
    fsspec URL (``s3://bucket/prefix``, ``gs://...``) of a remote artifact store.
    ``cache_dir``: local folder for a remote root's staging folders, logs and downloaded inputs.
    ``parallelism``: how many components the local runner runs at once.
    ``cache``: whether executions may reuse earlier identical executions.
    """

    store: str = ""
    artifact_root: str = ""
    cache_dir: str = ""
    parallelism: int = field(default_factory=lambda: os.cpu_count() or 1)
    cache: bool = True
    source: tuple[str, ...] = ()  # where each value came from, for `sluiceway --version -v` style diagnostics

    def __repr__(self) -> str:  # the store URL may carry a password: never show it
        from sluiceway.metadata.urls import redact_url

        return (
            f"Settings(store={redact_url(self.store)!r}, artifact_root={self.artifact_root!r}, "
            f"cache_dir={self.cache_dir!r}, "
            f"parallelism={self.parallelism!r}, cache={self.cache!r}, source={self.source!r})"
        )

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with every non-None override applied (and validated)."""
        clean = {k: v for k, v in overrides.items() if v is not None}
        for key in clean:
            if key not in _FIELDS:
                raise ConfigError(
                    f"Unknown setting {key!r}. Known settings: {', '.join(sorted(_FIELDS))}."
                )
        values = {k: _coerce(k, v, "override") for k, v in clean.items()}
        if "store" in values:
            values["store"] = _normalise_store(values["store"], Path.cwd())
        if "artifact_root" in values:
            values["artifact_root"] = _artifact_root(values["artifact_root"], Path.cwd(), "override")
        if "cache_dir" in values:
            values["cache_dir"] = _artifact_root(values["cache_dir"], Path.cwd(), "override", local=True)
        return replace(self, **values)

    @property
    def log_root(self) -> Path:
        from sluiceway.storage.roots import log_root_of

        return log_root_of(self.artifact_root, self.cache_dir)


_FIELDS = {"store": str, "artifact_root": str, "cache_dir": str, "parallelism": int, "cache": bool}


def _coerce(key: str, value: Any, where: str) -> Any:
    kind = _FIELDS[key]
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"Setting {key!r} from {where} must be true or false. Got {value!r} instead.")
    if kind is int:
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = 0
        if number < 1 or isinstance(value, bool):
            raise ConfigError(
                f"Setting {key!r} from {where} must be an integer >= 1. Got {value!r} instead."
            )
        return number
    if not isinstance(value, str) or not value:
        raise ConfigError(f"Setting {key!r} from {where} must be a non-empty string. Got {value!r} instead.")
    return value


def _artifact_root(value: str, base: Path, where: str, *, local: bool = False) -> str:
    """An absolute local folder, or a checked remote URL (``s3://``, ``gs://``, ...; not for ``local``).

    ``file://`` URLs are local folders. A URL is never taken as a path: that would silently turn
    ``s3://bucket`` into a local folder named ``s3:``.
    """
    from sluiceway.storage.roots import check_root_url, is_remote, protocol_of

    if is_remote(value):
        if local:
            raise ConfigError(
                f"Setting 'cache_dir' from {where} must be a local folder. Got {value!r} instead."
            )
        return check_root_url(value, where)
    if protocol_of(value) == "file":
        value = value[len("file://") :]
    return str((base / Path(value).expanduser()).resolve())


def _normalise_store(url: str, base: Path) -> str:
    """Turn a bare path into a SQLite URL and make relative SQLite paths absolute against ``base``."""
    if "://" not in url:
        return f"sqlite:///{(base / url).expanduser().resolve()}"
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and url != "sqlite:///:memory:":
        relative = url[len("sqlite:///") :]
        return f"sqlite:///{(base / relative).resolve()}"
    return url


def _read_file_settings(folder: Path) -> tuple[dict[str, Any], Path | None]:
    candidates = [(folder / "sluiceway.toml", None), (folder / "pyproject.toml", ("tool", "sluiceway"))]
    for path, table in candidates:
        if not path.is_file():
            continue
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # Python 3.10
            import tomli as tomllib
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except Exception as exc:  # noqa: BLE001 - any parse error is a config error
            raise ConfigError(f"Cannot parse settings file {path}: {exc}. Fix the TOML syntax.") from exc
        if table:
            for key in table:
                data = data.get(key, {}) if isinstance(data, dict) else {}
            if not data:
                continue
        unknown = set(data) - set(_FIELDS)
        if unknown:
            raise ConfigError(
                f"Unknown setting(s) {sorted(unknown)} in {path}. "
                f"Known settings: {', '.join(sorted(_FIELDS))}."
            )
        return data, path
    return {}, None


def load_settings(folder: str | Path | None = None, **overrides: Any) -> Settings:
    """Read settings for a project folder (default: the current folder), then apply overrides."""
    base = Path(folder or Path.cwd()).resolve()
    home = base / DEFAULT_HOME
    values: dict[str, Any] = {
        "store": f"sqlite:///{home / 'metadata.db'}",
        "artifact_root": str(home / "artifacts"),
        "cache_dir": str(home / "cache"),
    }
    sources = []
    file_values, file_path = _read_file_settings(base)
    for key, value in file_values.items():
        value = _coerce(key, value, str(file_path))
        if key == "store":
            value = _normalise_store(value, file_path.parent)  # type: ignore[union-attr]
        if key in ("artifact_root", "cache_dir"):
            folder = file_path.parent  # type: ignore[union-attr]
            value = _artifact_root(value, folder, str(file_path), local=key == "cache_dir")
        values[key] = value
        sources.append(f"{key}={file_path}")
    for key in _FIELDS:
        env_name = ENV_PREFIX + key.upper()
        if env_name in os.environ:
            value = _coerce(key, os.environ[env_name], f"environment variable {env_name}")
            if key == "store":
                value = _normalise_store(value, Path.cwd())
            if key in ("artifact_root", "cache_dir"):
                value = _artifact_root(value, Path.cwd(), f"environment variable {env_name}", local=key == "cache_dir")
            values[key] = value
            sources.append(f"{key}=${env_name}")
    settings = Settings(**values, source=tuple(sources))
    return settings.with_overrides(**overrides)
