"""A remote artifact root (any fsspec URL): local staging, upload on publish, a local read cache for inputs.

Components keep reading and writing local folders. For a root such as ``s3://bucket/prefix``:

- an executor writes its outputs into a local staging folder (``{work}/staging/{execution}``, where
  ``work`` is ``local_work_dir(url, cache_dir)``; logs go to ``{work}/logs``);
- publishing uploads each output to ``{url}/.staging/{execution}/{output}``, then copies it (server-side)
  to its final prefix ``{url}/{pipeline}/{component}/{output}/{execution}``; only then does the runner
  record the artifacts. Object stores have no atomic rename (a prefix "move" is a copy and a delete that
  watchers see half done), so atomicity comes from the store: readers only ever find recorded artifacts,
  and a crash mid-upload leaves unrecorded prefixes that ``sluiceway gc`` removes;
- an input with a remote URI is downloaded once per artifact id into ``{work}/inputs/{id}``; the marker
  ``{id}.complete`` (holding the URI) is written last, so a download cut short is never taken as complete.
  A lock file per artifact keeps parallel components and processes on one machine from downloading the
  same artifact twice at once;
- an output with no files is stored as one empty object, ``.sluiceway-empty`` (object stores have no empty
  folders, and a cache hit needs the output to exist); downloads skip it.

Credentials and endpoints come from the fsspec backend's usual configuration (for s3fs: the AWS
environment variables and config files, e.g. ``AWS_ENDPOINT_URL`` for an S3-compatible server).
"""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sluiceway.errors import StoreError
from sluiceway.storage.roots import local_work_dir

if TYPE_CHECKING:
    from sluiceway.artifacts.base import Artifact

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: a process-local lock only
    fcntl = None  # type: ignore[assignment]

COMPLETE_SUFFIX = ".complete"
EMPTY_MARKER = ".sluiceway-empty"  # the one object of an output with no files; never downloaded


class RemoteRoot:
    """An artifact root at an fsspec URL; see the module docstring for the layout and the steps."""

    def __init__(self, url: str, cache_dir: Path) -> None:
        self.url = url.rstrip("/")
        self.work = local_work_dir(self.url, cache_dir)
        self._fs: Any = None
        self._checked = False

    @property
    def fs(self) -> Any:
        if self._fs is None:
            import fsspec

            self._fs, _ = fsspec.core.url_to_fs(self.url)
        return self._fs

    def _path(self, uri: str) -> str:
        """The backend's path for a URI (s3fs: 'bucket/key', without the protocol)."""
        return str(self.fs._strip_protocol(uri))

    def check(self) -> None:
        """The bucket (first path element) exists and answers; checked once per root object."""
        if self._checked:
            return
        bucket = self._path(self.url).strip("/").split("/", 1)[0]
        with self._failing("reach", f"the bucket {bucket!r}"):
            found = self.fs.exists(bucket)
        if not found:
            raise StoreError(
                f"The artifact root {self.url} is not usable: its bucket {bucket!r} does not exist (or these "
                "credentials cannot see it). Create the bucket, or fix --artifact-root / SLUICEWAY_ARTIFACT_ROOT."
            )
        self._checked = True

    # -- where things go -------------------------------------------------------------------------------
    def staging_dir(self, execution_id: int) -> Path:
        return self.work / "staging" / str(execution_id)

    def remote_staging(self, execution_id: int) -> str:
        return f"{self.url}/.staging/{execution_id}"

    def final_uri(self, pipeline: str, component_id: str, output: str, execution_id: int) -> str:
        return f"{self.url}/{pipeline}/{component_id}/{output}/{execution_id}"

    # -- publishing ------------------------------------------------------------------------------------
    def place(self, staged: Path, final: str) -> None:
        return  # upload() already put the output at its final prefix; the store record publishes it

    def upload(self, staged: Path, final: str) -> None:
        """Upload one staged output to the remote staging prefix, then copy it to ``final``."""
        from sluiceway.runners.execute import fault_point

        execution_id = int(staged.parent.name)
        remote_staged = f"{self.remote_staging(execution_id)}/{staged.name}"
        files = sorted(p for p in staged.rglob("*") if p.is_file())
        names = [p.relative_to(staged).as_posix() for p in files]
        with self._failing("upload", f"{staged} to {remote_staged}"):
            self._remove(final)  # left by a crash between this copy and the store transaction: never recorded
            self._remove(remote_staged)
            if files:
                self.fs.put([str(p) for p in files], [self._path(f"{remote_staged}/{n}") for n in names])
            else:  # an object store has no empty folders: without one object the output would not exist
                names = [EMPTY_MARKER]
                self.fs.pipe_file(self._path(f"{remote_staged}/{EMPTY_MARKER}"), b"")
        fault_point("remote-upload")
        with self._failing("copy", f"{remote_staged} to {final}"):
            if names:
                self.fs.copy([self._path(f"{remote_staged}/{n}") for n in names],
                             [self._path(f"{final}/{n}") for n in names])
        shutil.rmtree(staged, ignore_errors=True)  # uploaded: the local copy is no longer needed

    def discard_staging(self, execution_id: int) -> None:
        shutil.rmtree(self.staging_dir(execution_id), ignore_errors=True)  # a missing folder is the usual case
        with self._failing("remove", self.remote_staging(execution_id)):
            self._remove(self.remote_staging(execution_id))

    def discard_final(self, uri: str) -> None:
        with self._failing("remove", uri):
            self._remove(uri)

    def _remove(self, uri: str) -> None:
        path = self._path(uri)
        found = self.fs.find(path)
        if found:
            self.fs.rm(found)

    # -- inputs ----------------------------------------------------------------------------------------
    def localise(self, inputs: dict[str, Artifact]) -> dict[str, Artifact]:
        """The inputs with remote URIs replaced by complete local copies (downloaded once per artifact)."""
        local: dict[str, Artifact] = {}
        for name, artifact in inputs.items():
            if "://" not in artifact.uri or artifact.uri.startswith("file://"):
                local[name] = artifact
                continue
            copy_ = copy.copy(artifact)
            copy_.uri = str(self.download(artifact))
            local[name] = copy_
        return local

    def download(self, artifact: Artifact) -> Path:
        """A complete local copy of a recorded artifact's folder, from the read cache or downloaded now."""
        key = str(artifact.id) if artifact.id is not None else _digest(artifact.uri)
        inputs = self.work / "inputs"
        folder, marker = inputs / key, inputs / (key + COMPLETE_SUFFIX)
        inputs.mkdir(parents=True, exist_ok=True)
        with _locked(inputs / (key + ".lock")):
            if _marker_holds(marker, artifact.uri):
                return folder
            marker.unlink(missing_ok=True)
            partial = inputs / (key + ".partial")
            for leftover in (partial, folder):  # an earlier download cut short
                shutil.rmtree(leftover, ignore_errors=True)
            partial.mkdir()
            with self._failing("download", f"{artifact.uri} to {folder}"):
                remote = self._path(artifact.uri)
                found = sorted(k for k in self.fs.find(remote) if Path(k).name != EMPTY_MARKER)
                if found:
                    targets = [str(partial / Path(p).relative_to(remote)) for p in found]
                    for target in targets:
                        Path(target).parent.mkdir(parents=True, exist_ok=True)
                    self.fs.get(found, targets)
            os.rename(partial, folder)
            marker.write_text(artifact.uri, encoding="utf-8")  # last: only now is the copy complete
        return folder

    def cached_copies(self) -> list[tuple[Path, str | None]]:
        """The read cache's entries: (folder, the URI it is a complete copy of, or None for a download cut short).

        An entry whose lock another process holds (a download in progress) is left out."""
        inputs = self.work / "inputs"
        if not inputs.is_dir():
            return []
        found: list[tuple[Path, str | None]] = []
        for folder in sorted(p for p in inputs.iterdir() if p.is_dir()):
            key = folder.name.removesuffix(".partial")
            if _lock_held_elsewhere(inputs / (key + ".lock")):
                continue
            marker = inputs / (key + COMPLETE_SUFFIX)
            uri = marker.read_text(encoding="utf-8") if folder.name == key and marker.is_file() else None
            found.append((folder, uri))
        return found

    def remove_cached_copy(self, folder: Path) -> None:
        """Remove one read-cache entry (its marker first, so it is never taken as complete while half gone)."""
        inputs = folder.parent
        key = folder.name.removesuffix(".partial")
        with _locked(inputs / (key + ".lock")):
            if folder.name == key:
                (inputs / (key + COMPLETE_SUFFIX)).unlink(missing_ok=True)
            shutil.rmtree(folder, ignore_errors=True)  # what is left shows up in the caller's check
        (inputs / (key + ".lock")).unlink(missing_ok=True)

    def local_staging_dirs(self) -> list[tuple[Path, int]]:
        """This machine's staging folders of the root, with the execution id each belongs to."""
        staging = self.work / "staging"
        if not staging.is_dir():
            return []
        return [(p, int(p.name)) for p in sorted(staging.iterdir()) if p.is_dir() and p.name.isdigit()]

    @contextlib.contextmanager
    def _failing(self, action: str, what: str) -> Iterator[None]:
        try:
            yield
        except Exception as exc:
            from sluiceway.metadata.urls import redact_text

            raise StoreError(
                f"Could not {action} {what} (artifact root {self.url}): {redact_text(str(exc))}. Check the "
                "bucket exists, the credentials and endpoint (for S3: AWS_* environment variables, "
                "AWS_ENDPOINT_URL for S3-compatible servers) and the network."
            ) from exc


def _marker_holds(marker: Path, uri: str) -> bool:
    try:
        return marker.read_text(encoding="utf-8") == uri
    except FileNotFoundError:
        return False


def _digest(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _lock_held_elsewhere(path: Path) -> bool:
    """Whether another process (or open file) holds the download lock at ``path`` right now."""
    if fcntl is None or not path.exists():
        return False
    with path.open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return False


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` across threads and processes of this machine (flock per open file)."""
    with path.open("a") as handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
