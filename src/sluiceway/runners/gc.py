"""Reclaim disk space the metadata store no longer accounts for (``sluiceway gc``).

A remote root (an fsspec URL) is judged the same way, by prefixes instead of folders; with the machine's
``cache_dir`` given, gc also clears that root's local leftovers there: staging folders of executions no longer
RUNNING, downloads cut short, and read-cache copies of artifacts that are no longer LIVE (a copy of a LIVE
artifact stays: the next run that reads it would download it again).

Three kinds of folder under an artifact root can be garbage, and only these (nothing else is touched):

- ``.staging/{execution_id}`` of an execution that is no longer RUNNING (an interrupted or killed run);
- ``{pipeline}/{component}/{output}/{execution_id}`` that no LIVE artifact records: a process killed
  between renaming an output into place and recording it, an execution whose record is gone, or an
  artifact marked DELETED (the artifacts of deleted runs).

A folder whose execution the store says is RUNNING is never touched while that process may still write it:
only when the execution ran on this host and its process is gone (killed) is its folder garbage. The folders
are listed *before* the store is read, and executions before artifacts,
so a folder that appears or is recorded while gc runs is seen as protected or live, never as garbage.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from sluiceway.errors import StoreError
from sluiceway.metadata.store import LIVE, RUNNING, MetadataStore, _pid_alive
from sluiceway.storage import is_remote

logger = logging.getLogger(__name__)

STALE_STAGING = "staging of a finished execution"
UNRECORDED = "folder no artifact records"
NO_EXECUTION = "folder of an execution the store does not know"
DELETED_ARTIFACT = "artifact marked DELETED"
STALE_COPY = "local copy of an artifact no longer live"
PARTIAL_DOWNLOAD = "download cut short"


@dataclass(frozen=True)
class Garbage:
    path: Path | str  # a local folder, or a remote root's prefix URL
    reason: str
    size: int  # bytes of the files inside

    def to_dict(self) -> dict[str, object]:
        return {"path": str(self.path), "reason": self.reason, "bytes": self.size}


@dataclass
class GcReport:
    """What gc found (and deleted, unless it was a dry run), and what it left because it may be in use."""

    artifact_root: Path | str
    garbage: list[Garbage] = field(default_factory=list)
    in_use: list[Path | str] = field(default_factory=list)  # folders of RUNNING executions, never touched
    deleted: bool = False
    not_deleted: list[Path | str] = field(default_factory=list)  # garbage that could not be removed (permissions)

    @property
    def total_bytes(self) -> int:
        return sum(item.size for item in self.garbage)

    def to_dict(self) -> dict[str, object]:
        return {
            "artifact_root": str(self.artifact_root),
            "deleted": self.deleted,
            "total_bytes": self.total_bytes,
            "garbage": [item.to_dict() for item in self.garbage],
            "in_use": [str(path) for path in self.in_use],
            "not_deleted": [str(path) for path in self.not_deleted],
        }


def _folder_size(path: Path) -> int:
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:  # removed while we walk: it no longer takes space
                continue
    return total


def _candidates(root: Path) -> tuple[list[tuple[Path, int]], list[tuple[Path, int]]]:
    """(staging folders, final artifact folders), each with the execution id its name carries."""
    staging: list[tuple[Path, int]] = []
    final: list[tuple[Path, int]] = []
    staging_root = root / ".staging"
    if staging_root.is_dir():
        staging = [(p, int(p.name)) for p in staging_root.iterdir() if p.is_dir() and p.name.isdigit()]
    for pipeline in root.iterdir():
        if pipeline.name.startswith(".") or not pipeline.is_dir() or pipeline.is_symlink():
            continue  # .staging, .logs and anything hidden are not artifact folders
        for leaf in pipeline.glob("*/*/*"):
            if leaf.name.isdigit() and leaf.is_dir() and not leaf.is_symlink():
                final.append((leaf, int(leaf.name)))
    return staging, final


def collect_garbage(
    store: MetadataStore,
    artifact_root: str | os.PathLike[str],
    *,
    delete: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
) -> GcReport:
    """Find (and with ``delete=True`` remove) what the store no longer accounts for under ``artifact_root``.

    ``artifact_root`` may be a remote fsspec URL: its ``.staging/`` and final prefixes are judged the same way,
    and with ``cache_dir`` (this machine's cache folder) so are the root's local staging and read cache.
    """
    if is_remote(str(artifact_root)):
        report = _collect_remote(store, str(artifact_root), delete)
        if cache_dir is not None:
            _collect_local_cache(store, report, str(artifact_root), Path(cache_dir), delete)
        return report
    root = Path(artifact_root)
    report = GcReport(root.resolve() if root.exists() else root)
    if not root.is_dir():
        return report
    root = root.resolve()
    staging, final = _candidates(root)  # listed first: see the module docstring
    states = _execution_states(store)
    live, deleted = _recorded_uris(store, os.path.realpath)
    _judge(report, [(p, i, partial(_folder_size, p)) for p, i in staging],
           [(p, i, partial(_folder_size, p)) for p, i in final], states, live, deleted, key=os.path.realpath)
    if delete:
        for item in report.garbage:
            shutil.rmtree(item.path, ignore_errors=True)  # errors show as what is still there, below
            if Path(item.path).exists():
                report.not_deleted.append(item.path)
        report.deleted = True
    return report


def _execution_states(store: MetadataStore) -> dict[int, str]:
    states: dict[int, str] = {}
    for run in store.list_runs(limit=2**31 - 1, include_deleted=True):
        for execution in store.executions(run.id, with_artifacts=False):
            # RUNNING in the store but its process on this host is gone (killed): nothing writes there any more.
            dead = execution.host == store.host and execution.pid is not None and not _pid_alive(execution.pid)
            states[execution.id] = "DEAD" if execution.state == RUNNING and dead else execution.state
    return states


def _recorded_uris(store: MetadataStore, key: Callable[[str], str]) -> tuple[set[str], set[str]]:
    live: set[str] = set()
    deleted: set[str] = set()
    for artifact in store.list_artifacts(limit=2**31 - 1):
        (live if artifact.state == LIVE else deleted).add(key(artifact.uri))
    return live, deleted


Candidate = tuple[Any, int, Callable[[], int]]  # (folder, execution id, its size in bytes when asked)


def _judge(
    report: GcReport,
    staging: list[Candidate],
    final: list[Candidate],
    states: dict[int, str],
    live: set[str],
    deleted: set[str],
    key: Callable[[str], str],
) -> None:
    for path, execution_id, size in staging:
        if states.get(execution_id) == RUNNING:
            report.in_use.append(path)
        else:
            report.garbage.append(Garbage(path, STALE_STAGING, size()))
    for path, execution_id, size in final:
        real = key(str(path))
        if real in live:
            continue
        if states.get(execution_id) == RUNNING:
            report.in_use.append(path)
            continue
        if real in deleted:
            reason = DELETED_ARTIFACT
        elif execution_id not in states:
            reason = NO_EXECUTION
        else:
            reason = UNRECORDED
        report.garbage.append(Garbage(path, reason, size()))
    report.garbage.sort(key=lambda item: str(item.path))


def _collect_remote(store: MetadataStore, url: str, delete: bool) -> GcReport:
    """gc of a remote root: prefixes (``{url}/.staging/{id}``, ``{url}/{p}/{c}/{o}/{id}``) instead of folders."""
    import fsspec

    url = url.rstrip("/")
    report = GcReport(url)
    try:
        fs, root = fsspec.core.url_to_fs(url)
        fs.invalidate_cache()
        keys = fs.find(root, detail=True)  # listed first: see the module docstring
    except Exception as exc:
        raise StoreError(
            f"gc could not list the artifact root {url}: {exc}. Check the bucket, the credentials and the endpoint."
        ) from exc
    sizes: dict[tuple[str, ...], int] = {}
    for name, info in keys.items():
        parts = tuple(name[len(root) :].strip("/").split("/"))
        if len(parts) > 2 and parts[0] == ".staging" and parts[1].isdigit():
            prefix = parts[:2]
        elif len(parts) > 4 and not parts[0].startswith(".") and parts[3].isdigit():
            prefix = parts[:4]
        else:
            continue  # .logs and anything else are not artifact prefixes
        sizes[prefix] = sizes.get(prefix, 0) + int(info.get("size") or 0)
    states = _execution_states(store)
    live, deleted = _recorded_uris(store, lambda uri: uri.rstrip("/"))
    staging: list[Candidate] = []
    final: list[Candidate] = []
    for prefix, size in sizes.items():
        candidate: Candidate = (f"{url}/{'/'.join(prefix)}", int(prefix[-1]), partial(int, size))
        (staging if prefix[0] == ".staging" else final).append(candidate)
    _judge(report, staging, final, states, live, deleted, key=lambda uri: uri)
    if delete:
        for item in report.garbage:
            path = fs._strip_protocol(str(item.path))
            try:
                fs.rm(fs.find(path))
            except Exception as exc:  # noqa: BLE001 - reported below as not deleted, with the reason logged
                logger.warning("gc could not delete %s: %s", item.path, exc)
                report.not_deleted.append(item.path)
        report.deleted = True
    return report


def _collect_local_cache(store: MetadataStore, report: GcReport, url: str, cache_dir: Path, delete: bool) -> None:
    """A remote root's leftovers on this machine (see the module docstring), added to ``report``."""
    from sluiceway.storage.remote import RemoteRoot

    root = RemoteRoot(url, cache_dir)
    staging = root.local_staging_dirs()  # listed first: see the module docstring
    copies = root.cached_copies()
    states = _execution_states(store)
    live, _ = _recorded_uris(store, lambda uri: uri.rstrip("/"))
    found: list[Garbage] = []
    for path, execution_id in staging:
        if states.get(execution_id) == RUNNING:
            report.in_use.append(path)
        else:
            found.append(Garbage(path, STALE_STAGING, _folder_size(path)))
    for path, uri in copies:
        if uri is None:
            found.append(Garbage(path, PARTIAL_DOWNLOAD, _folder_size(path)))
        elif uri.rstrip("/") not in live:
            found.append(Garbage(path, STALE_COPY, _folder_size(path)))
    report.garbage.extend(found)
    if delete:
        for item in found:
            path = Path(item.path)
            if item.reason == STALE_STAGING:
                shutil.rmtree(path, ignore_errors=True)  # errors show as what is still there, below
            else:
                root.remove_cached_copy(path)
            if path.exists():
                report.not_deleted.append(item.path)
