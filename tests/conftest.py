"""Shared fixtures: metadata stores on SQLite and on a real, throwaway PostgreSQL server.

The PostgreSQL server is started once per test session on 127.0.0.1 on a free port, in a temporary data
folder, and stopped at the end. Its binaries come from Debian's ``postgresql`` package, which ``make test``
installs. Tests that use it are marked ``postgres``; when PostgreSQL is missing they fail (never skip)
with the command that fixes it.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_VERSION_BINS = "/usr/lib/postgresql/*/bin"


@dataclass(frozen=True)
class PostgresServer:
    """A running throwaway PostgreSQL server (trust authentication, user ``postgres``)."""

    host: str
    port: int
    data_dir: Path

    def url(self, database: str) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _postgres_bin_dir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    def version(path: str) -> int:
        name = path.split("/")[-2]
        return int(name) if name.isdigit() else 0

    candidates = sorted(glob.glob(PG_VERSION_BINS), key=version)
    for candidate in reversed(candidates):
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres_user(command: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root; CI runs as root, so drop to the `postgres` system user.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bin_dir = _postgres_bin_dir()
    if bin_dir is None:
        pytest.fail(
            "PostgreSQL is not installed (no initdb on the PATH or under /usr/lib/postgresql/*/bin), so the "
            "tests marked 'postgres' cannot start their server. Run `make test`, which installs Debian's "
            "postgresql package, or `apt-get install -y postgresql`.",
            pytrace=False,
        )
    base = Path(tempfile.mkdtemp(prefix="sluiceway-pg-"))
    data_dir = base / "data"
    log_file = base / "server.log"
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    port = _free_port()
    try:
        subprocess.run(
            _as_postgres_user([str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "postgres", "-A", "trust",
                               "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions"]),
            check=True, capture_output=True, text=True, cwd=base,
        )
        # A throwaway server: durability off for speed, sockets only on 127.0.0.1 and in our own folder.
        options = (f"-h 127.0.0.1 -p {port} -k {base} -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off -c max_connections=200")
        subprocess.run(
            _as_postgres_user([str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-l", str(log_file), "-o", options,
                               "-w", "-t", "60", "start"]),
            check=True, capture_output=True, text=True, cwd=base,
        )
    except subprocess.CalledProcessError as exc:
        log = log_file.read_text() if log_file.exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(
            f"Could not start the test PostgreSQL server ({' '.join(exc.cmd)} exited {exc.returncode}):\n"
            f"{exc.stdout}\n{exc.stderr}\n{log}",
            pytrace=False,
        )
    server = PostgresServer("127.0.0.1", port, data_dir)
    try:
        yield server
    finally:
        subprocess.run(
            _as_postgres_user([str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-m", "immediate", "-w", "stop"]),
            capture_output=True, cwd=base,
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """One database on the session's PostgreSQL server: ``postgresql://postgres@127.0.0.1:PORT/sluiceway``."""
    return postgres_server.create_database("sluiceway")


_database_numbers = itertools.count(1)


@pytest.fixture
def fresh_postgres_url(postgres_server: PostgresServer) -> str:
    """A new, empty database on the session's PostgreSQL server, for tests that need isolation."""
    return postgres_server.create_database(f"test_{os.getpid()}_{next(_database_numbers)}_{int(time.time())}")


@pytest.fixture
def tmp_store_url(tmp_path: Path) -> str:
    """A fresh SQLite metadata store URL in the test's temporary folder."""
    return f"sqlite:///{tmp_path / 'metadata.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty metadata store URL on each backend (SQLite file; new PostgreSQL database)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'metadata.db'}"
    return request.getfixturevalue("fresh_postgres_url")


@pytest.fixture
def store(store_url: str) -> Iterator[object]:
    """An opened ``MetadataStore`` on each backend (the same suite runs on SQLite and PostgreSQL)."""
    from sluiceway.metadata.store import MetadataStore

    opened = MetadataStore(store_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def runner(tmp_path: Path) -> object:
    """A LocalRunner on a fresh SQLite store and artifact root under tmp_path."""
    import sluiceway as sw

    return sw.LocalRunner(store=f"sqlite:///{tmp_path / 'md.db'}", artifact_root=tmp_path / "artifacts", parallelism=4)


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """Environment for running the `sluiceway` command on a fresh store: no SLUICEWAY_* leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICEWAY_")}
    env["SLUICEWAY_STORE"] = f"sqlite:///{tmp_path / 'md.db'}"
    env["SLUICEWAY_ARTIFACT_ROOT"] = str(tmp_path / "artifacts")
    env["PENGUIN_SERVING_DIR"] = str(tmp_path / "serving")  # where the penguin example's Pusher pushes
    return env


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under ``make test`` (SLUICEWAY_TEST_NO_SKIPS=1) every tool is installed: a skip means the setup lost one."""
    if os.environ.get("SLUICEWAY_TEST_NO_SKIPS") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped and exitstatus == pytest.ExitCode.OK:
        reporter.write_line(
            f"error: {len(skipped)} test(s) skipped under make test, which installs everything they need; "
            "see the skip reasons above and add what is missing to the Makefile or the dev extra.",
            red=True,
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
