"""The pipeline the kill probes run: every component verifies every byte it reads.

Each artifact carries ``MANIFEST.json`` (file name → size and SHA-256). Readers check their inputs against
it and fail on any difference, and the probes re-check every LIVE artifact after each resume, so a
half-written or mixed-up artifact that was ever recorded cannot go unnoticed. Files are written in chunks
with a pause between them (``SLUICEWAY_KILL_PAUSE`` seconds), so a kill at a random moment often lands
while a component is writing into its staging folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from pathlib import Path

import sluiceway as sw

CHUNK = 32 * 1024


def write_verified(folder: Path, files: dict[str, bytes]) -> None:
    pause = float(os.environ.get("SLUICEWAY_KILL_PAUSE", "0.01"))
    manifest = {}
    for name, data in files.items():
        with (folder / name).open("wb") as out:
            for start in range(0, len(data), CHUNK):
                out.write(data[start : start + CHUNK])
                out.flush()
                time.sleep(pause)  # workload pacing: widens the window a random kill can hit
        manifest[name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (folder / "MANIFEST.json").write_text(json.dumps(manifest, sort_keys=True))


def read_verified(folder: Path) -> dict[str, bytes]:
    """Every file the manifest lists, checked byte for byte; raises on any difference or extra file."""
    manifest = json.loads((folder / "MANIFEST.json").read_text())
    present = {p.name for p in folder.iterdir()} - {"MANIFEST.json"}
    if present != set(manifest):
        raise ValueError(f"{folder}: files {sorted(present)} but the manifest lists {sorted(manifest)}")
    files = {}
    for name, expected in manifest.items():
        data = (folder / name).read_bytes()
        if len(data) != expected["size"] or hashlib.sha256(data).hexdigest() != expected["sha256"]:
            raise ValueError(f"{folder / name}: content differs from the manifest")
        files[name] = data
    return files


@sw.component
def source(data: sw.Output[sw.Examples], *, seed: int = 7, files: int = 3, size: int = 96 * 1024) -> None:
    generator = random.Random(seed)
    write_verified(data.path, {f"part-{i}.bin": generator.randbytes(size) for i in range(files)})
    data.properties["split_names"] = []


@sw.component
def digest(data: sw.Input[sw.Examples], out: sw.Output[sw.Model], *, salt: str = "a") -> None:
    files = read_verified(data.path)
    key = hashlib.sha256(salt.encode()).digest()
    write_verified(out.path, {name: bytes(b ^ key[i % 32] for i, b in enumerate(blob)) for name, blob in files.items()})


@sw.component
def combine(a: sw.Input[sw.Model], b: sw.Input[sw.Model], report: sw.Output[sw.ModelEvaluation]) -> None:
    left, right = read_verified(a.path), read_verified(b.path)
    write_verified(report.path, {name: hashlib.sha256(left[name] + right[name]).digest() * 64 for name in sorted(left)})


def create_pipeline() -> sw.Pipeline:
    src = source()
    first = digest(data=src.data, salt="first", id="digest_a")
    second = digest(data=src.data, salt="second", id="digest_b")
    return sw.Pipeline("killme", [src, first, second, combine(a=first.out, b=second.out)])
