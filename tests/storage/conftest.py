"""A real S3 API on 127.0.0.1: moto's standalone server, started once per test session, s3fs as the client.

Every test gets its own bucket (``s3_root``: ``s3://{bucket}/artifacts``) and an environment
(``s3_env``) that points the AWS clients, in this process and in CLI subprocesses, at the server.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from s3_keys import s3_keys

MOTO_SERVER = Path(sys.executable).with_name("moto_server")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    if not MOTO_SERVER.exists():
        pytest.fail(
            f"moto's standalone server is not installed ({MOTO_SERVER} is missing), so the remote artifact store "
            "tests cannot start their S3 API. Install the test extra: pip install -e '.[test,s3]'.",
            pytrace=False,
        )
    port = _free_port()
    log_dir = Path(tempfile.mkdtemp(prefix="sluiceway-moto-"))
    with (log_dir / "server.log").open("w") as log:
        server = subprocess.Popen([str(MOTO_SERVER), "-p", str(port), "-H", "127.0.0.1"], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while True:  # wait until the server accepts connections (a readiness poll, not a timed guess)
            if server.poll() is not None:
                pytest.fail(f"moto_server exited {server.returncode}: {(log_dir / 'server.log').read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("moto_server did not accept connections within 60 s")
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(log_dir, ignore_errors=True)


def _aws_env(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_EC2_METADATA_DISABLED": "true",  # no credential lookups on a metadata address
    }


@pytest.fixture
def s3_root(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """``s3://{a new bucket}/artifacts``, with this process's AWS environment pointing at the test server."""
    import fsspec

    for key, value in _aws_env(s3_endpoint).items():
        monkeypatch.setenv(key, value)
    bucket = f"sw-{uuid.uuid4().hex[:12]}"
    fs, _ = fsspec.core.url_to_fs(f"s3://{bucket}")
    fs.mkdir(bucket)
    return f"s3://{bucket}/artifacts"


@pytest.fixture
def s3_cli_env(cli_env: dict[str, str], s3_root: str, s3_endpoint: str, tmp_path: Path) -> dict[str, str]:
    """``cli_env`` with the artifact root in the test bucket and a local cache folder under tmp_path."""
    return {
        **cli_env,
        **_aws_env(s3_endpoint),
        "SLUICEWAY_ARTIFACT_ROOT": s3_root,
        "SLUICEWAY_CACHE_DIR": str(tmp_path / "cache"),
    }


@pytest.fixture
def list_keys() -> object:
    return s3_keys

