"""Staging and atomic publishing of output artifacts.

An executor writes each output into ``{artifact_root}/.staging/{execution_id}/{output}``. Only after it
succeeds is each folder renamed to its final URI ``{artifact_root}/{pipeline}/{component}/{output}/{execution_id}``
(a rename on one file system is atomic) and the artifacts recorded LIVE in one store transaction. A crash
before that transaction leaves at most an unrecorded folder, which no run ever reads: the store is the
only way to find artifacts.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from sluiceway.artifacts.base import Artifact


def staging_dir(artifact_root: str | Path, execution_id: int) -> Path:
    return Path(artifact_root) / ".staging" / str(execution_id)


def final_uri(artifact_root: str | Path, pipeline: str, component_id: str, output: str, execution_id: int) -> Path:
    return Path(artifact_root) / pipeline / component_id / output / str(execution_id)


def content_fingerprint(folder: Path, properties: dict) -> str:
    """Hash of an artifact's files (relative names, sizes, bytes) and properties.

    Identical outputs get identical fingerprints, so a rerun that reproduces its output exactly lets the
    components downstream of it hit the cache.
    """
    digest = hashlib.blake2b(digest_size=32)
    digest.update(json.dumps(properties, sort_keys=True, default=str).encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.stat().st_size.to_bytes(8, "little"))
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def check_properties(owner: str, output: str, artifact: Artifact) -> None:
    """Properties are stored as JSON: reject values that would not round-trip, naming the culprit."""
    from sluiceway.errors import ComponentError

    for key, value in artifact.properties.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise ComponentError(
                f"Component {owner!r} set property {key!r} of output {output!r} to {value!r} "
                f"({type(value).__name__}), which cannot be stored as JSON ({exc}). Use str, int, float, bool, "
                "None, or lists/dicts of those."
            ) from None


def move_into_place(staged: Path, final: Path) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():  # left by a crash between the move and the store transaction: never recorded, safe to drop
        shutil.rmtree(final)
    os.replace(staged, final)


def discard(path: Path) -> None:
    try:
        os.rmdir(path)  # the usual case after publishing: already empty, and far cheaper than rmtree
    except FileNotFoundError:
        return
    except OSError:
        shutil.rmtree(path, ignore_errors=True)
