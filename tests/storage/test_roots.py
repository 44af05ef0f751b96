"""Which artifact roots are accepted, and the local read cache of a remote root."""

from __future__ import annotations

import sys
import threading
from importlib.util import find_spec
from pathlib import Path

import fsspec
import pytest

import sluiceway as sw
from sluiceway.artifacts.standard import Examples
from sluiceway.storage import LocalRoot, open_root
from sluiceway.storage.remote import RemoteRoot

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runners"))
from clitools import SAMPLE, run_cli  # noqa: E402


def test_unknown_protocols_are_refused_with_where_they_came_from(
    cli_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(sw.ConfigError, match="protocol 'nosuch', which fsspec does not know. Got 'nosuch://b/x'"):
        sw.LocalRunner(artifact_root="nosuch://b/x")
    with pytest.raises(sw.ConfigError, match="must name a bucket or folder after s3://"):
        sw.LocalRunner(artifact_root="s3://")
    with pytest.raises(sw.ConfigError, match="'cache_dir' from override must be a local folder"):
        sw.load_settings(tmp_path, cache_dir="s3://bucket/cache")
    monkeypatch.setenv("SLUICEWAY_ARTIFACT_ROOT", "nosuch://bucket")
    with pytest.raises(sw.ConfigError, match="environment variable SLUICEWAY_ARTIFACT_ROOT"):
        sw.load_settings(tmp_path)
    result = run_cli(["--artifact-root", "nosuch://bucket/x", "run", str(SAMPLE)], {**cli_env}, cwd=tmp_path)
    assert result.returncode == 2 and "nosuch://bucket/x" in result.stderr, result.stderr
    assert not (tmp_path / "nosuch:").exists(), "a URL is never taken as a local folder"


def test_a_missing_backend_names_the_extra_to_install() -> None:
    assert find_spec("gcsfs") is None, "this test needs an environment without gcsfs (it is in no test extra)"
    with pytest.raises(sw.MissingExtraError, match=r"pip install 'sluiceway\[gcs\]'") as caught:
        sw.load_settings(artifact_root="gs://bucket/prefix")
    assert caught.value.extra == "gcs" and caught.value.module == "gcsfs"


def test_s3_and_file_urls_are_accepted_and_a_file_url_is_the_local_folder(tmp_path: Path) -> None:
    assert sw.load_settings(tmp_path, artifact_root="s3://bucket/prefix/").artifact_root == "s3://bucket/prefix"
    local = sw.load_settings(tmp_path, artifact_root=f"file://{tmp_path / 'art'}")
    assert local.artifact_root == str(tmp_path / "art")
    assert local.log_root == tmp_path / "art" / ".logs"  # unchanged for local roots
    assert isinstance(open_root(local.artifact_root, local.cache_dir), LocalRoot)
    remote = sw.load_settings(tmp_path, artifact_root="s3://bucket/prefix")
    assert remote.cache_dir == str(tmp_path / ".sluiceway" / "cache")
    assert Path(remote.cache_dir) in remote.log_root.parents, "logs of a remote root stay on this machine"


def test_a_local_root_run_makes_no_cache_folder_and_no_copies(runner: sw.LocalRunner, tmp_path: Path) -> None:
    sys.path.insert(0, str(SAMPLE.parent))
    from sample_pipelines import create_pipeline

    result = runner.run(create_pipeline())
    assert result.succeeded
    assert not (tmp_path / ".sluiceway").exists() and not Path(runner.settings.cache_dir).exists()
    (examples,) = result.executions["produce"].outputs.values()
    assert examples.uri.startswith(str(tmp_path / "artifacts" / "sample" / "produce"))


def _uploaded_examples(s3_root: str, files: int) -> Examples:
    fs, path = fsspec.core.url_to_fs(s3_root)
    for index in range(files):
        fs.pipe_file(f"{path}/p/gen/examples/7/Split-train/part-{index}.txt", str(index).encode())
    return Examples(f"{s3_root}/p/gen/examples/7", id=7)


def test_a_download_cut_short_is_never_taken_as_complete(s3_root: str, tmp_path: Path) -> None:
    root = RemoteRoot(s3_root, tmp_path / "cache")
    artifact = _uploaded_examples(s3_root, 3)
    folder = root.download(artifact)
    assert sorted(p.name for p in (folder / "Split-train").iterdir()) == ["part-0.txt", "part-1.txt", "part-2.txt"]
    # A crash mid-download: the marker (written last) is missing and a file is gone.
    (folder.parent / "7.complete").unlink()
    (folder / "Split-train" / "part-2.txt").unlink()
    again = root.download(artifact)
    assert again == folder and (folder / "Split-train" / "part-2.txt").read_text() == "2"
    assert (folder.parent / "7.complete").read_text() == artifact.uri
    # A complete copy is reused, not fetched again (a local edit would be overwritten by a new download).
    (folder / "Split-train" / "part-0.txt").write_text("kept")
    assert (root.download(artifact) / "Split-train" / "part-0.txt").read_text() == "kept"


def test_parallel_components_share_one_download(s3_root: str, tmp_path: Path) -> None:
    root = RemoteRoot(s3_root, tmp_path / "cache")
    artifact = _uploaded_examples(s3_root, 20)
    folders: list[Path] = []
    errors: list[BaseException] = []

    def fetch() -> None:
        try:
            local = root.localise({"examples": artifact})["examples"]
            folders.append(Path(local.uri))
            assert len(list((Path(local.uri) / "Split-train").iterdir())) == 20  # complete when handed out
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread's assertion
            errors.append(exc)

    threads = [threading.Thread(target=fetch) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(set(folders)) == 1 and len(folders) == 6
    assert artifact.uri.startswith("s3://"), "the input handed to the executor is a copy; the record keeps its URI"
    assert not list((tmp_path / "cache").rglob("*.partial"))
