"""Where artifacts live: a local folder, or any fsspec URL (``s3://bucket/prefix``, ``gs://...``).

Components always read and write local paths. For a remote root the runner stages outputs locally,
uploads them on publish and downloads inputs into a local read cache (``sluiceway.storage.remote``).
"""

from sluiceway.storage.roots import ArtifactRoot, LocalRoot, check_root_url, is_remote, local_work_dir, open_root

__all__ = ["ArtifactRoot", "LocalRoot", "check_root_url", "is_remote", "local_work_dir", "open_root"]
