"""What the store refuses and how it says so: missing, empty, foreign, newer, damaged, full; secrets redacted.

The damaged-store corpus (every case through the API and the CLI) is tests/faults/test_damaged_stores.py;
these are the single behaviours, in-process where they can be.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, text

from sluiceway.errors import (
    MissingExtraError,
    MissingStoreDriverError,
    NotAStoreError,
    StoreDamagedError,
    StoreError,
    StoreNotFoundError,
)
from sluiceway.metadata import opening
from sluiceway.metadata.migrations import HEAD, MIN_VERSION_KEY, MINIMUM_VERSIONS
from sluiceway.metadata.store import MetadataStore

SLUICEWAY = str(Path(sys.executable).with_name("sluiceway"))
SRC = str(Path(__file__).resolve().parents[2] / "src")


def _engine_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def _execute(url: str, *statements: str) -> None:
    engine = create_engine(_engine_url(url))
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def _cli(args: list[str], tmp_path: Path, store_url: str) -> subprocess.CompletedProcess[str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICEWAY_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [SRC, env.get("PYTHONPATH")]))
    env["SLUICEWAY_STORE"] = store_url
    env["COLUMNS"] = "300"
    return subprocess.run([SLUICEWAY, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)


def _flat(text_: str) -> str:
    return " ".join(text_.split())


# -- a store that is not there --------------------------------------------------------------------------


def test_create_false_does_not_create_a_store(store_url, tmp_path):
    with pytest.raises(StoreNotFoundError) as caught:
        MetadataStore(store_url, create=False)
    assert "No metadata store at" in str(caught.value) and "sluiceway store init" in str(caught.value)
    assert not (tmp_path / "metadata.db").exists()
    with MetadataStore(store_url) as created:  # the default still creates it
        created.create_run("p", "first")
    with MetadataStore(store_url, create=False) as reopened:
        assert [r.name for r in reopened.list_runs()] == ["first"]


def test_create_false_in_an_empty_folder_creates_no_folder(tmp_path):
    url = f"sqlite:///{tmp_path / 'nothing-here' / '.sluiceway' / 'metadata.db'}"
    with pytest.raises(StoreNotFoundError, match="nothing-here"):
        MetadataStore(url, create=False)
    assert not (tmp_path / "nothing-here").exists()


# -- what is not a Sluiceway store ----------------------------------------------------------------------


def test_a_zero_byte_file_is_refused_until_initialized(tmp_path):
    path = tmp_path / "metadata.db"
    path.touch()
    url = f"sqlite:///{path}"
    with pytest.raises(NotAStoreError) as caught:
        MetadataStore(url)
    assert str(path) in str(caught.value) and "0 bytes" in str(caught.value)
    assert f"sluiceway store init --store {url}" in str(caught.value)
    assert path.stat().st_size == 0  # left as it was
    store, outcome = MetadataStore.initialize(url)
    with store:
        assert outcome == "created"
        store.create_run("p", "r")
    with MetadataStore(url) as reopened:
        assert reopened.revision() == HEAD


def test_another_applications_database_is_refused_and_left_byte_for_byte(tmp_path):
    path = tmp_path / "shop.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    connection.execute("INSERT INTO customers (name) VALUES ('Ada')")
    connection.commit()
    connection.close()
    before = path.read_bytes()
    url = f"sqlite:///{path}"
    for attempt in (
        lambda: MetadataStore(url),
        lambda: MetadataStore(url, create=False),
        lambda: MetadataStore.initialize(url),
    ):
        with pytest.raises(NotAStoreError) as caught:
            attempt()
        assert "customers" in str(caught.value) and "--force" in str(caught.value) and str(path) in str(caught.value)
    assert path.read_bytes() == before
    store, outcome = MetadataStore.initialize(url, force=True)
    with store:
        assert outcome == "created"
        store.create_run("p", "r")
    connection = sqlite3.connect(path)
    assert connection.execute("SELECT name FROM customers").fetchall() == [("Ada",)]  # their data kept
    connection.close()


@pytest.mark.postgres
def test_another_applications_postgresql_database_is_refused(fresh_postgres_url):
    _execute(fresh_postgres_url, "CREATE TABLE orders (id serial PRIMARY KEY)")
    with pytest.raises(NotAStoreError, match=r"holds other tables \(orders\)"):
        MetadataStore(fresh_postgres_url)
    store, _ = MetadataStore.initialize(fresh_postgres_url, force=True)
    with store:
        assert store.revision() == HEAD


def test_a_folder_or_a_text_file_is_refused(tmp_path):
    folder = tmp_path / "metadata.db"
    folder.mkdir()
    with pytest.raises(NotAStoreError, match="is a folder"):
        MetadataStore(f"sqlite:///{folder}")
    text_file = tmp_path / "notes.db"
    text_file.write_text("not a database\n" * 10)
    with pytest.raises(NotAStoreError, match="is not a SQLite database"):
        MetadataStore(f"sqlite:///{text_file}")


# -- schema revisions -----------------------------------------------------------------------------------


def test_every_revision_has_a_minimum_version_and_head_is_recorded(store, store_url):
    assert HEAD in MINIMUM_VERSIONS
    engine = create_engine(_engine_url(store_url))
    try:
        with engine.connect() as conn:
            value = conn.execute(text("SELECT value FROM store_info WHERE key = :k"), {"k": MIN_VERSION_KEY}).scalar()
    finally:
        engine.dispose()
    assert value == MINIMUM_VERSIONS[HEAD]


def test_a_store_from_a_newer_sluiceway_says_which_version_to_install(store, store_url):
    store.create_run("p", "kept")
    store.close()
    _execute(
        store_url,
        "UPDATE alembic_version SET version_num = '0042_future'",
        f"UPDATE store_info SET value = '7.3.0' WHERE key = '{MIN_VERSION_KEY}'",
    )
    with pytest.raises(StoreError) as caught:
        MetadataStore(store_url)
    message = str(caught.value)
    assert "'0042_future'" in message and "pip install 'sluiceway>=7.3.0'" in message and "newer" in message


def test_an_unknown_revision_is_damage_not_a_newer_version(store, store_url):
    store.close()
    _execute(store_url, "UPDATE alembic_version SET version_num = 'abc123'")
    with pytest.raises(StoreDamagedError, match="unknown schema revision 'abc123'"):
        MetadataStore(store_url)


def test_a_store_at_the_first_revision_is_migrated(store_url):
    from alembic import command
    from alembic.config import Config

    engine = create_engine(_engine_url(store_url))
    config = Config()
    config.set_main_option("script_location", str(Path(opening.__file__).parent / "migrations"))
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0001_initial")
    finally:
        engine.dispose()
    with MetadataStore(store_url) as store:
        assert store.revision() == HEAD
        store.create_run("p", "after-upgrade")


def test_a_dropped_table_or_column_is_named(store, store_url):
    store.close()
    _execute(store_url, "ALTER TABLE executions DROP COLUMN log_uri")
    with pytest.raises(StoreDamagedError, match=r"table 'executions' lacks column\(s\) log_uri"):
        MetadataStore(store_url)


# -- corruption ------------------------------------------------------------------------------------------


def _corrupt_a_page(path: Path) -> None:
    """Overwrite the header of the last page (a b-tree page of the store's tables) with garbage."""
    data = bytearray(path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    start = (len(data) // page_size - 1) * page_size
    data[start + 1 : start + 8] = b"\xff" * 7  # first free block and cell count: structurally impossible
    path.write_bytes(bytes(data))


def _store_with_runs(tmp_path: Path, runs: int) -> tuple[str, Path]:
    path = tmp_path / "metadata.db"
    url = f"sqlite:///{path}"
    with MetadataStore(url) as store:
        for number in range(runs):
            store.create_run("p", f"run-{number}")
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return url, path


def test_a_corrupt_store_is_refused_before_the_first_write(tmp_path):
    url, path = _store_with_runs(tmp_path, 200)
    _corrupt_a_page(path)
    before = path.read_bytes()
    opening._quick_checked.clear()  # a new "process" as far as the once-per-process check goes
    with pytest.raises(StoreDamagedError) as caught:
        with MetadataStore(url) as store:
            store.create_run("p", "on-a-corrupt-store")
    message = str(caught.value)
    assert str(path) in message and "sluiceway store check" in message and ".recover" in message
    assert path.read_bytes() == before


def test_quick_check_runs_once_per_process_per_file(tmp_path):
    url, path = _store_with_runs(tmp_path, 3)
    opening._quick_checked.clear()
    checks = []
    for _ in range(2):
        store = MetadataStore(url)
        event.listen(
            store._engine,
            "before_cursor_execute",
            lambda conn, cursor, statement, *rest: checks.append(statement) if "quick_check" in statement else None,
        )
        for number in range(3):
            store.create_run("p", f"more-{len(checks)}-{number}-{id(store)}")
        store.close()
    assert len(checks) == 1


def test_store_check_command_reports_healthy_damaged_and_missing(tmp_path):
    url, path = _store_with_runs(tmp_path, 20)
    healthy = _cli(["store", "check"], tmp_path, url)
    assert healthy.returncode == 0, healthy.stderr
    assert "is healthy" in healthy.stdout and "integrity_check: ok" in healthy.stdout
    _corrupt_a_page(path)
    damaged = _cli(["store", "check"], tmp_path, url)
    assert damaged.returncode == 2 and "Traceback" not in damaged.stderr
    assert "is damaged" in damaged.stderr and "integrity_check found" in damaged.stderr and ".recover" in damaged.stderr
    missing_url = f"sqlite:///{tmp_path / 'none.db'}"
    missing = _cli(["store", "check", "--store", missing_url], tmp_path, url)
    assert missing.returncode == 2 and "No metadata store at" in _flat(missing.stderr)
    assert not (tmp_path / "none.db").exists()


def test_store_init_command_adopts_an_empty_file_and_needs_force_for_foreign_tables(tmp_path):
    empty = tmp_path / "empty.db"
    empty.touch()
    refused = _cli(["runs", "list"], tmp_path, f"sqlite:///{empty}")
    assert refused.returncode == 2 and "0 bytes" in refused.stderr and "Traceback" not in refused.stderr
    adopted = _cli(["store", "init", "--store", f"sqlite:///{empty}"], tmp_path, "sqlite:///unused.db")
    assert adopted.returncode == 0 and "Created a new metadata store" in adopted.stdout
    assert _cli(["runs", "list"], tmp_path, f"sqlite:///{empty}").returncode == 0
    again = _cli(["store", "init"], tmp_path, f"sqlite:///{empty}")
    assert again.returncode == 0 and "already exists" in again.stdout
    foreign = tmp_path / "shop.db"
    connection = sqlite3.connect(foreign)
    connection.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    connection.close()
    without_force = _cli(["store", "init"], tmp_path, f"sqlite:///{foreign}")
    assert without_force.returncode == 2 and "customers" in without_force.stderr and "--force" in without_force.stderr
    forced = _cli(["store", "init", "--force"], tmp_path, f"sqlite:///{foreign}")
    assert forced.returncode == 0, forced.stderr


# -- full --------------------------------------------------------------------------------------------------


def test_a_full_store_says_so_and_where_and_keeps_what_was_recorded(tmp_path):
    url, path = _store_with_runs(tmp_path, 5)
    store = MetadataStore(url)
    limit = {"pages": 0}

    def cap(dbapi_connection, _record):  # SQLite's own size limit: writes past it fail with SQLITE_FULL
        dbapi_connection.execute(f"PRAGMA max_page_count = {limit['pages']}")

    with sqlite3.connect(path) as connection:
        limit["pages"] = connection.execute("PRAGMA page_count").fetchone()[0] + 1
    store.close()
    event.listen(store._engine, "connect", cap)
    with pytest.raises(StoreError) as caught:
        for number in range(500):
            store.create_run("p", f"filler-{number}-" + "x" * 200)
    message = str(caught.value)
    assert "is full" in message and str(path.parent) in message and "Free disk space" in message
    assert "database server" not in message
    store.close()
    with MetadataStore(url) as reopened:
        assert {f"run-{n}" for n in range(5)} <= {r.name for r in reopened.list_runs(limit=1000)}


# -- secrets -----------------------------------------------------------------------------------------------


def test_a_missing_driver_names_the_right_extra_and_no_password():
    url = "postgresql+pg8000://analyst:Sup3r-s3cret@db.example:5432/metadata"
    with pytest.raises(MissingStoreDriverError) as caught:
        MetadataStore(url)
    error = caught.value
    assert isinstance(error, StoreError) and isinstance(error, MissingExtraError)
    message = str(error)
    assert "Sup3r-s3cret" not in message and "postgresql+pg8000://analyst:***@db.example:5432/metadata" in message
    assert "pip install 'sluiceway[postgres]'" in message and "pg8000" in message
    other = "mysql+pymysql://root:Sup3r-s3cret@db/x"
    with pytest.raises(MissingStoreDriverError) as caught:
        MetadataStore(other)
    assert "Sup3r-s3cret" not in str(caught.value) and "sluiceway[postgres]" in str(caught.value)
    assert "pymysql" in str(caught.value)


@pytest.mark.postgres
def test_repr_and_errors_never_show_the_password(postgres_url):
    secret_url = postgres_url.replace("postgresql://postgres@", "postgresql://postgres:Sup3r-s3cret@", 1)
    with MetadataStore(secret_url) as store:  # trust authentication: the password is not needed, only carried
        assert "Sup3r-s3cret" not in repr(store) and "***" in repr(store)
        with pytest.raises(Exception) as caught:
            store.get_run("no-such-run")
        assert "Sup3r-s3cret" not in str(caught.value)


# -- creating a new store from several processes at once ------------------------------------------------------

_OPEN_TOGETHER = """
import sys, time
from pathlib import Path
from sluiceway.metadata.store import MetadataStore

url, barrier, name = sys.argv[1:4]
Path(barrier, name + ".ready").touch()
while not Path(barrier, "go").exists():
    time.sleep(0.001)
with MetadataStore(url) as store:
    store.create_run("p", name)
"""


def test_processes_creating_one_new_store_together_all_succeed(tmp_path):
    """SQLite creates a file empty: a store made in place would be refused as a 0-byte file by the others."""
    import os

    url = f"sqlite:///{tmp_path / 'new' / 'metadata.db'}"
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")]))}
    names = [f"p{i}" for i in range(6)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN_TOGETHER, url, str(barrier), n], env=env, stderr=subprocess.PIPE, text=True
        )
        for n in names
    ]
    try:
        while not all((barrier / f"{n}.ready").exists() for n in names):
            assert all(p.poll() is None for p in processes), [p.communicate() for p in processes]
        (barrier / "go").touch()
        errors = [p.communicate(timeout=120)[1] for p in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    assert [p.returncode for p in processes] == [0] * len(names), errors
    with MetadataStore(url) as store:
        assert sorted(r.name for r in store.list_runs()) == names
    assert [p.name for p in (tmp_path / "new").iterdir() if "creating" in p.name] == []  # no leftovers


def test_store_check_on_each_backend(store, store_url, tmp_path):
    store.create_run("p", "r")
    store.close()
    healthy = _cli(["store", "check"], tmp_path, store_url)
    assert healthy.returncode == 0 and "is healthy" in healthy.stdout and "schema revision" in healthy.stdout
    _execute(store_url, "DROP TABLE events")
    damaged = _cli(["store", "check"], tmp_path, store_url)
    assert damaged.returncode == 2 and "'events' is missing" in _flat(damaged.stderr)
    assert "Traceback" not in damaged.stderr
