"""Artifact roots: the local folder (today's fast path, untouched) and remote fsspec URLs.

An ``ArtifactRoot`` is what the runner asks where staging folders are, what an output's final URI is, how
to publish a staged output there and how to hand inputs to an executor as local folders. ``LocalRoot``
keeps the rename-into-place of ``sluiceway.runners.publish`` (no copies); ``RemoteRoot``
(``sluiceway.storage.remote``) uploads and downloads. This module imports nothing heavy: checking a
URL only looks for the fsspec backend's package, it does not import it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sluiceway.errors import ConfigError, MissingExtraError

if TYPE_CHECKING:
    from sluiceway.artifacts.base import Artifact

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# The extra that installs each protocol's fsspec backend (pyproject.toml); others name the package itself.
_EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs"}


def protocol_of(root: str) -> str | None:
    """The URL scheme of ``root`` (``s3``, ``gs``, ``file``), or None for a plain path."""
    match = _URL.match(root)
    return match.group(1).lower() if match else None


def is_remote(root: str | Path) -> bool:
    """True for an fsspec URL other than ``file://`` (a ``file://`` root is a local folder)."""
    protocol = protocol_of(str(root))
    return protocol is not None and protocol != "file"


def check_root_url(url: str, where: str) -> str:
    """Validate a remote artifact root URL; returns it without a trailing '/'.

    An unknown protocol is a ConfigError; a known one whose backend package is missing raises
    MissingExtraError naming the extra to install (``s3`` for s3fs, ``gcs`` for gcsfs).
    """
    from fsspec.registry import known_implementations, registry

    protocol = protocol_of(url) or ""
    stripped = url.rstrip("/")
    if len(stripped) <= len(protocol) + 3:
        raise ConfigError(
            f"Setting 'artifact_root' from {where} must name a bucket or folder after {protocol}://. "
            f"Got {url!r} instead, e.g. use '{protocol}://my-bucket/sluiceway'."
        )
    if protocol in registry:  # registered by code already imported (e.g. a plugin): usable as is
        return stripped
    known = known_implementations.get(protocol)
    if known is None:
        raise ConfigError(
            f"Setting 'artifact_root' from {where} uses the protocol {protocol!r}, which fsspec does not know. "
            f"Got {url!r} instead. Use a local folder or an fsspec URL such as 's3://bucket/prefix' or "
            "'gs://bucket/prefix'."
        )
    module = str(known["class"]).split(".", 1)[0]
    if importlib.util.find_spec(module) is None:
        raise MissingExtraError(f"The artifact root {url!r}", _EXTRAS.get(protocol, module), module)
    return stripped


def local_work_dir(root: str, cache_dir: str | Path) -> Path:
    """The local folder a remote root's staging, logs and read cache live in: one per root URL."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", root.split("://", 1)[-1]).strip("-.")[:60]
    digest = hashlib.sha256(root.encode()).hexdigest()[:10]
    return Path(cache_dir) / f"{slug}-{digest}"


def log_root_of(root: str | Path, cache_dir: str | Path) -> Path:
    """Where execution logs go: ``{root}/.logs`` locally, the local work folder for a remote root."""
    if is_remote(root):
        return local_work_dir(str(root), cache_dir) / "logs"
    return Path(root) / ".logs"


class ArtifactRoot(Protocol):
    """What the runner needs from an artifact root (see the module docstring)."""

    url: str  # as recorded in the run's properties

    def check(self) -> None:
        """Raise StoreError if the root cannot be used (a missing bucket), before anything is recorded."""

    def staging_dir(self, execution_id: int) -> Path: ...

    def final_uri(self, pipeline: str, component_id: str, output: str, execution_id: int) -> str: ...

    def upload(self, staged: Path, final: str) -> None:
        """Before the publish lock: make ``final`` hold the staged output (remote: upload; local: nothing)."""

    def place(self, staged: Path, final: str) -> None:
        """Inside the publish lock, just before recording: the local rename into place (remote: nothing)."""

    def discard_staging(self, execution_id: int) -> None: ...

    def discard_final(self, uri: str) -> None: ...

    def localise(self, inputs: dict[str, Artifact]) -> dict[str, Artifact]: ...


class LocalRoot:
    """A local folder: outputs are renamed into place, inputs are read where they are."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.url = str(root)

    def check(self) -> None:
        return  # a missing folder is created on first write; an unwritable one fails the execution clearly

    def staging_dir(self, execution_id: int) -> Path:
        from sluiceway.runners import publish

        return publish.staging_dir(self.root, execution_id)

    def final_uri(self, pipeline: str, component_id: str, output: str, execution_id: int) -> str:
        from sluiceway.runners import publish

        return str(publish.final_uri(self.root, pipeline, component_id, output, execution_id))

    def upload(self, staged: Path, final: str) -> None:
        return  # a rename in place() publishes locally: no copy

    def place(self, staged: Path, final: str) -> None:
        from sluiceway.runners import publish

        publish.move_into_place(staged, Path(final))

    def discard_staging(self, execution_id: int) -> None:
        from sluiceway.runners import publish

        publish.discard(self.staging_dir(execution_id))

    def discard_final(self, uri: str) -> None:
        from sluiceway.runners import publish

        publish.discard(Path(uri))

    def localise(self, inputs: dict[str, Artifact]) -> dict[str, Artifact]:
        return inputs


def open_root(root: str | Path, cache_dir: str | Path | None = None) -> ArtifactRoot:
    """The artifact root for a setting's value: ``LocalRoot`` for a path, ``RemoteRoot`` for a URL.

    A remote root needs ``cache_dir``: the local folder for its staging, logs and read cache.
    """
    text = str(root)
    if not is_remote(text):
        return LocalRoot(Path(text.removeprefix("file://")) if text.startswith("file://") else root)
    if cache_dir is None:
        raise ConfigError(
            f"The remote artifact root {text!r} needs a local cache folder for staging and downloads; none was "
            "given. Set 'cache_dir' (SLUICEWAY_CACHE_DIR) or pass cache_dir to ExecutionTarget."
        )
    from sluiceway.storage.remote import RemoteRoot

    return RemoteRoot(check_root_url(text, "the run"), Path(cache_dir))
