"""The analyzer cache: per-file accumulators, keyed by the file's content and the analyzer's input.

Re-fitting over files already analyzed (a rolling window of spans, a ``preprocessing_fn`` that gained one
output) reads the stored accumulator of each (file, accumulator) pair instead of recomputing it; only new
files and new analyzer inputs are read. Keys are content hashes: the file's bytes (blake2b, computed
once per process and file version), the accumulator kind and its input expression, the cache format and
the Sluiceway version. A renamed file with the same bytes hits; a changed file misses. Because merging
accumulators does not depend on order, a fit from the cache gives the same graph, byte for byte, as a
fit without it.

Entries are pickles written atomically (temporary file + rename), so a crash leaves no half-written
entry. Only point ``folder`` at a directory you trust: loading a pickle runs code.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import tempfile
import threading
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

CACHE_FORMAT = 2  # 2: quantiles as the statistics sketch (QuantileSketch), not a bottom-k sample
_file_digests: dict[tuple[str, int, int], str] = {}
_lock = threading.Lock()


def file_digest(path: str) -> str:
    """blake2b of a file's bytes, remembered per (path, size, mtime) so a file is hashed once per process."""
    info = os.stat(path)
    stamp = (str(Path(path).resolve()), info.st_size, info.st_mtime_ns)
    with _lock:
        known = _file_digests.get(stamp)
    if known is not None:
        return known
    digest = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    value = digest.hexdigest()
    with _lock:
        _file_digests[stamp] = value
    return value


class AnalyzerCache:
    """A folder of cached accumulators. ``hits`` and ``misses`` count (file, accumulator) lookups."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.hits = 0
        self.misses = 0

    def key(self, accumulator_id: str, path: str) -> str:
        from sluiceway import __version__

        material = json.dumps([CACHE_FORMAT, __version__, accumulator_id, file_digest(path)])
        return hashlib.blake2b(material.encode(), digest_size=20).hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.pkl"

    def load(self, key: str) -> Any | None:
        path = self._path(key)
        try:
            with path.open("rb") as handle:
                value = pickle.load(handle)  # noqa: S301 - our own entries, in a folder the user chose
        except FileNotFoundError:  # not cached yet: the caller computes it
            self.misses += 1
            return None
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
            # A damaged or outdated entry is only a miss: the accumulator is recomputed and the entry rewritten.
            logger.warning("Ignoring the unreadable analyzer cache entry %s (%s); recomputing it.", path, exc)
            self.misses += 1
            return None
        self.hits += 1
        return value

    def save(self, key: str, accumulator: Any) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(handle, "wb") as stream:
                pickle.dump(accumulator, stream, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


__all__ = ["AnalyzerCache", "file_digest"]
