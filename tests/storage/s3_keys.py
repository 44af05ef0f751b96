"""Listing a bucket prefix, shared by the storage tests (not in conftest: see tests/export/export_env.py)."""

from __future__ import annotations


def s3_keys(root: str) -> list[str]:
    """Every object key under ``root`` (an ``s3://`` URL), read fresh from the server."""
    import fsspec

    fs, path = fsspec.core.url_to_fs(root)
    fs.invalidate_cache()
    return sorted(fs.find(path))
