"""Damaged, wrong, full and read-only metadata stores (issues 6.12 and 7): a clear StoreError, never a traceback.

A real store with a few runs is made once (by `sluiceway run` of the sample pipeline); every case damages a
copy of it, then tries it three ways in fresh processes: the Python API (open, list runs, run the pipeline),
`sluiceway runs list` and `sluiceway run`. Each way must either work on a store that is still healthy, or
fail with a StoreError (exit 2 from the CLI) whose message names the store and says what to do, with no
traceback and the store file left as it was. Malformed-page cases write seeded random bytes into pages;
their count is `trials(fast, full)`.

Cases that need file permissions to bite run their processes without root's override of them
(``setpriv`` drops CAP_DAC_OVERRIDE and friends); the full store lives on a small tmpfs mounted for the case
(root only), so SQLite meets a really full disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from faultlog import record, rng, trials

TESTS = Path(__file__).resolve().parents[1]
SAMPLE = TESTS / "runners" / "sample_pipelines.py"
SLUICEWAY = str(Path(sys.executable).with_name("sluiceway"))
SRC = str(TESTS.parent / "src")
# Root ignores file permissions; these capabilities are dropped for the cases about permissions.
WITHOUT_ROOT_OVERRIDE = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--"]

# The Python API probe: open the store read-only, list runs, run the pipeline; report as JSON on stdout.
API_PROBE = textwrap.dedent(
    """
    import json, sys
    import sluiceway as sw
    from sluiceway.errors import SluicewayError
    from sluiceway.metadata.store import MetadataStore

    url, artifact_root, sample = sys.argv[1:4]
    result = {}
    try:
        with MetadataStore(url, create=False) as store:
            result["runs"] = len(store.list_runs())
        result["list"] = "ok"
    except SluicewayError as exc:
        result["list"] = [type(exc).__name__, str(exc)]
    from sluiceway.dsl.loading import load_pipeline

    pipeline = load_pipeline(sample)
    try:
        run = sw.LocalRunner(store=url, artifact_root=artifact_root, parallelism=2).run(pipeline)
        errors = [e.error for e in run.executions.values() if e.error]
        result["run"] = "ok" if run.succeeded else ["failed run", " | ".join([str(run.state), *errors])]
    except SluicewayError as exc:
        result["run"] = [type(exc).__name__, str(exc)]
    print(json.dumps(result))
    """
)


@dataclass
class Case:
    """One damaged store: how to make it from a healthy copy, and what a correct refusal must say."""

    name: str
    damage: Callable[[Path], str]  # damages the copy at this path; returns the store URL to use
    says: tuple[str, ...]  # fragments every refusal's message must contain (beyond naming the store)
    error: str = "StoreError"  # the StoreError subclass a refusal raises (StoreError: any subclass)
    unprivileged: bool = False  # run without root's permission override
    may_work: bool = False  # damage a store can survive (random bytes in unused space): then it must be healthy
    changes_store: bool = False  # the run may record (full store: what fits; values SQLite cannot check)
    notes: list[str] = field(default_factory=list)


# -- damage ---------------------------------------------------------------------------------------------


def _sql(*statements: str) -> Callable[[Path], str]:
    def damage(path: Path) -> str:
        connection = sqlite3.connect(path, isolation_level=None)
        try:
            for statement in statements:
                connection.execute(statement)
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            connection.close()
        return f"sqlite:///{path}"

    return damage


def _truncate(size: Callable[[int], int]) -> Callable[[Path], str]:
    def damage(path: Path) -> str:
        with path.open("r+b") as handle:
            handle.truncate(size(path.stat().st_size))
        return f"sqlite:///{path}"

    return damage


def _replace_with(content: bytes | None) -> Callable[[Path], str]:
    def damage(path: Path) -> str:
        path.unlink()
        if content is None:
            path.mkdir()
        else:
            path.write_bytes(content)
        return f"sqlite:///{path}"

    return damage


def _foreign_sqlite(path: Path) -> str:
    path.unlink()
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    connection.execute("INSERT INTO customers (name) VALUES ('Ada'), ('Grace')")
    connection.commit()
    connection.close()
    return f"sqlite:///{path}"


def _chmod(file_mode: int | None, folder_mode: int | None) -> Callable[[Path], str]:
    def damage(path: Path) -> str:
        if file_mode is not None:
            path.chmod(file_mode)
        if folder_mode is not None:
            path.parent.chmod(folder_mode)
        return f"sqlite:///{path}"

    return damage


def _random_bytes(seed_name: str, *, structural: bool) -> Callable[[Path], str]:
    """Seeded random bytes written into pages: into b-tree page headers (structural) or anywhere past page 1."""

    def damage(path: Path) -> str:
        generator = rng(seed_name)
        data = bytearray(path.read_bytes())
        page_size = int.from_bytes(data[16:18], "big") or 65536
        pages = len(data) // page_size
        for _ in range(generator.randint(1, 4)):
            page = generator.randrange(1, pages)  # never page 0: its header is the file-format case
            offset = page * page_size + (
                generator.randrange(0, 24) if structural else generator.randrange(0, page_size - 64)
            )
            data[offset : offset + 16] = bytes(generator.randrange(256) for _ in range(16))
        path.write_bytes(bytes(data))
        return f"sqlite:///{path}"

    return damage


DAMAGED = ("damaged", "store check")


def _cases() -> list[Case]:
    cases = [
        Case(
            "unknown Alembic revision",
            _sql("UPDATE alembic_version SET version_num = 'b7c3f1_unrelated'"),
            ("unknown schema revision", "b7c3f1_unrelated"),
            "StoreDamagedError",
        ),
        Case(
            "newer schema revision",
            _sql("UPDATE alembic_version SET version_num = '0042_future'", "UPDATE store_info SET value = '7.3.0'"),
            ("newer", "pip install 'sluiceway>=7.3.0'"),
        ),
        Case("revision row deleted", _sql("DELETE FROM alembic_version"), ("revision", *DAMAGED), "StoreDamagedError"),
        Case("revision table dropped", _sql("DROP TABLE alembic_version"), ("revision", *DAMAGED), "StoreDamagedError"),
        Case("dropped table events", _sql("DROP TABLE events"), ("'events' is missing", *DAMAGED), "StoreDamagedError"),
        Case(
            "dropped table artifacts",
            _sql("PRAGMA foreign_keys=OFF", "DROP TABLE artifacts"),
            ("'artifacts' is missing", *DAMAGED),
            "StoreDamagedError",
        ),
        Case(
            "renamed table contexts",
            _sql("PRAGMA foreign_keys=OFF", "ALTER TABLE contexts RENAME TO contexts_old"),
            ("'contexts' is missing", *DAMAGED),
            "StoreDamagedError",
        ),
        Case(
            "dropped column executions.log_uri",
            _sql("ALTER TABLE executions DROP COLUMN log_uri"),
            ("log_uri", *DAMAGED),
            "StoreDamagedError",
        ),
        Case(
            "dropped column artifacts.name",
            _sql("ALTER TABLE artifacts DROP COLUMN name"),
            ("lacks column(s) name", *DAMAGED),
            "StoreDamagedError",
        ),
        Case("truncated to half", _truncate(lambda size: size // 2), DAMAGED, "StoreDamagedError"),
        Case("truncated inside the header", _truncate(lambda size: 50), DAMAGED, "StoreDamagedError"),
        Case("0-byte file", _replace_with(b""), ("0 bytes", "sluiceway store init"), "NotAStoreError"),
        Case(
            "text file",
            _replace_with(b"name,value\na,1\n" * 20),
            ("not a SQLite database", "restore a backup"),
            "NotAStoreError",
        ),
        Case("overwritten file header", _truncate(lambda size: size), ("not a SQLite database",), "NotAStoreError"),
        Case("unrelated SQLite database", _foreign_sqlite, ("customers", "store init", "--force"), "NotAStoreError"),
        Case("a folder where the file should be", _replace_with(None), ("is a folder",), "NotAStoreError"),
        Case("unreadable file", _chmod(0o000, None), ("cannot be read",), unprivileged=True),
        Case("read-only file", _chmod(0o444, None), ("read-only", "writable"), unprivileged=True, may_work=True),
        Case("read-only folder", _chmod(None, 0o555), ("read-only", "writable"), unprivileged=True, may_work=True),
        Case("store full mid-run", _on_a_small_disk, ("is full", "Free disk space"), may_work=True, changes_store=True),
    ]
    cases[13].damage = _overwrite_header
    structural = trials(3, 12)
    anywhere = trials(1, 6)
    cases += [
        Case(
            f"random bytes in page headers #{i + 1}",
            _random_bytes(f"page-headers-{i}", structural=True),
            DAMAGED,
            "StoreDamagedError",
            may_work=True,
        )
        for i in range(structural)
    ]
    cases += [
        Case(
            f"random bytes anywhere past page 1 #{i + 1}",
            _random_bytes(f"pages-{i}", structural=False),
            DAMAGED,
            "StoreDamagedError",
            may_work=True,
        )
        for i in range(anywhere)
    ]
    return cases


_MOUNTS: list[Path] = []  # small disks to unmount after their case


def _on_a_small_disk(path: Path) -> str:
    """The store on a tmpfs with room for its file and about a dozen more pages: the first run fills it."""
    content = path.read_bytes()
    path.unlink()
    size = len(content) + 32 * 1024 + 56 * 1024  # the file, SQLite's -shm index, and a -wal of ~13 pages
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path.parent)], capture_output=True, text=True
    )
    assert mounted.returncode == 0, (
        f"The full-store case mounts a small tmpfs, which needs root (CAP_SYS_ADMIN): {mounted.stderr.strip()}"
    )
    _MOUNTS.append(path.parent)
    path.write_bytes(content)
    return f"sqlite:///{path}"


def _overwrite_header(path: Path) -> str:
    with path.open("r+b") as handle:
        handle.write(b"Not SQLite at all")
    return f"sqlite:///{path}"


# -- the healthy store every case starts from -------------------------------------------------------------


def _env(tmp: Path, store_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICEWAY_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [SRC, env.get("PYTHONPATH")]))
    env["SLUICEWAY_STORE"] = store_url
    env["SLUICEWAY_ARTIFACT_ROOT"] = str(tmp / "artifacts")
    env["COLUMNS"] = "200"
    return env


@pytest.fixture(scope="module")
def healthy_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store after three runs of the sample pipeline (the first computes, the others are cached)."""
    home = tmp_path_factory.mktemp("healthy")
    path = home / "metadata.db"
    env = _env(home, f"sqlite:///{path}")
    for _ in range(3):
        done = subprocess.run([SLUICEWAY, "run", str(SAMPLE)], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return path


# -- one case, three ways ---------------------------------------------------------------------------------


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
    except OSError:
        return None


def _integrity_ok(path: Path) -> bool:
    connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return [row[0] for row in connection.execute("PRAGMA integrity_check")] == ["ok"]
    except sqlite3.DatabaseError:
        return False
    finally:
        connection.close()


@dataclass
class Outcome:
    way: str
    code: int
    error_type: str | None
    message: str
    traceback: bool


def _with_cli(probe: str, count: int) -> set[int]:
    """Which cases also go through the two CLI commands: all of them in `make test-faults`, a seeded third in
    `make test` (every case still goes through the Python API, in its own process)."""
    if trials(0, 1):
        return set(range(count))
    offset = rng(probe).randrange(3)
    return {number for number in range(count) if number % 3 == offset}


def _ways(
    case: Case, work: Path, url: str, extra_env: dict[str, str] | None = None, *, cli: bool = True
) -> list[Outcome]:
    env = {**_env(work, url), **(extra_env or {})}
    prefix = WITHOUT_ROOT_OVERRIDE if case.unprivileged else []
    outcomes = []
    probe = subprocess.run(
        [*prefix, sys.executable, "-c", API_PROBE, url, str(work / "artifacts"), str(SAMPLE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=work,
    )
    result = json.loads(probe.stdout.strip().splitlines()[-1]) if probe.returncode == 0 and probe.stdout.strip() else {}
    for key in ("list", "run"):
        value = result.get(key, ["no result", probe.stderr[-2000:]])
        if value == "ok":
            outcomes.append(Outcome(f"api {key}", 0, None, "", "Traceback" in probe.stderr))
        else:
            code = {"no result": 70, "failed run": 1}.get(value[0], 2)
            outcomes.append(Outcome(f"api {key}", code, value[0], value[1], "Traceback" in probe.stderr))
    for args in (["runs", "list"], ["run", str(SAMPLE)]) if cli else ():
        done = subprocess.run(
            [*prefix, SLUICEWAY, *args], env=env, capture_output=True, text=True, timeout=300, cwd=work
        )
        outcomes.append(Outcome(f"cli {args[0]}", done.returncode, None, done.stderr, "Traceback" in done.stderr))
    return outcomes


def _problems(case: Case, path: Path, outcomes: list[Outcome], before: str | None, named: str = "") -> list[str]:
    """Everything wrong with how the store was handled in this case ([] = handled right).

    ``named``: what a message must name (default: the file ``path``).
    """
    named = named or str(path)
    problems = []
    refused = [o for o in outcomes if o.code != 0]
    for outcome in outcomes:
        if outcome.traceback:
            problems.append(f"{outcome.way}: traceback")
    for outcome in refused:
        # A store that fills up mid-run: the runner records the run FAILED (exit 1) with the store's message.
        if outcome.code != 2 and not (case.changes_store and outcome.code == 1 and outcome.way.endswith("run")):
            problems.append(f"{outcome.way}: exit {outcome.code}, expected 2: {outcome.message[-800:]}")
            continue
        if case.changes_store and outcome.error_type == "failed run" and not outcome.message.split(" | ")[1:]:
            # The runner could not record why (the store is full), so the Python Run says only FAILED; the
            # CLI's run output, checked too, carries the store's message. (Run errors belong to the runner.)
            continue
        if outcome.error_type is not None and case.error != "StoreError" and outcome.error_type != case.error:
            problems.append(f"{outcome.way}: {outcome.error_type}, expected {case.error}: {outcome.message}")
        text = " ".join(outcome.message.split())  # the CLI wraps long lines
        if named not in text:
            problems.append(f"{outcome.way}: the message does not name {named}: {text}")
        missing = [fragment for fragment in case.says if fragment not in text]
        if missing:
            problems.append(f"{outcome.way}: the message lacks {missing}: {text}")
    worked = [o.way for o in outcomes if o.code == 0]
    wrote = [way for way in worked if way.endswith("run")]  # listing only reads; a run writes
    if worked and not case.may_work:
        problems.append(f"worked on a damaged store: {worked}")
    if wrote and path.is_file() and path.suffix == ".db" and not _integrity_ok(path):
        problems.append(f"{wrote} wrote into a store that fails integrity_check")
    if before is not None and not wrote and not case.changes_store and _digest(path) != before:
        problems.append("a store nothing was allowed to write to was changed")
    return problems


def _runs(path: Path) -> list[tuple[str, str]]:
    connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    connection.text_factory = bytes  # damaged text must not stop the comparison
    try:
        return connection.execute("SELECT name, state FROM contexts WHERE type = 'pipeline_run' ORDER BY id").fetchall()
    finally:
        connection.close()


def _earlier_runs_kept(before: list[tuple[str, str]], path: Path) -> list[str]:
    """A store a run was allowed to write to: still healthy, every run recorded before kept as it was."""
    if not _integrity_ok(path):
        return ["the store fails integrity_check after the run"]
    after = _runs(path)
    return [] if after[: len(before)] == before else [f"earlier runs changed: {before} -> {after}"]


@pytest.mark.integration
def test_damaged_stores_give_a_store_error_never_a_traceback(healthy_store: Path, tmp_path: Path) -> None:
    cases = _cases()
    assert len(cases) >= 23
    failures: dict[str, list[str]] = {}
    located = tracebacks = 0
    with_cli = _with_cli("damaged-sqlite", len(cases))
    for number, case in enumerate(cases):
        work = tmp_path / f"case-{number:02d}"
        folder = work / "store"
        folder.mkdir(parents=True)
        path = folder / "metadata.db"
        shutil.copyfile(healthy_store, path)
        url = case.damage(path)
        before = _digest(path)
        if case.name.startswith("random bytes") and _integrity_ok(path):
            # The bytes landed in stored values only (SQLite's checks cannot see that): a run may start, record
            # itself and then fail on a value it cannot read, which must still be named as damage to the store.
            case.changes_store = True
        earlier = _runs(path) if case.changes_store else []
        try:
            outcomes = _ways(case, work, url, cli=number in with_cli)
            folder.chmod(stat.S_IRWXU)
            if path.exists() and not path.is_dir():
                path.chmod(stat.S_IRUSR | stat.S_IWUSR)
            problems = _problems(case, path, outcomes, before)
            if case.changes_store:
                problems += _earlier_runs_kept(earlier, path)
        finally:
            folder.chmod(stat.S_IRWXU)
            while _MOUNTS:
                subprocess.run(["umount", str(_MOUNTS.pop())], check=True)
        tracebacks += sum(o.traceback for o in outcomes)
        located += sum(o.code == 2 and str(path) in " ".join(o.message.split()) for o in outcomes)
        if problems:
            failures[case.name] = problems
    record(
        "damaged stores (SQLite)", trials=len(cases), located=located, tracebacks=tracebacks, unexpected=len(failures)
    )
    assert not failures, json.dumps(failures, indent=2)


# -- PostgreSQL: unreachable, wrong user, missing driver, someone else's database, damaged schema ----------


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pg_execute(url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        for statement in statements:
            connection.execute(statement)


def _pg_store(url: str) -> str:
    """A real store with one recorded run, made by the store itself."""
    from sluiceway.metadata.store import MetadataStore

    with MetadataStore(url) as store:
        store.create_run("sample", "kept-run")
    return url


def _without_psycopg(folder: Path) -> str:
    """A folder to put first on PYTHONPATH in which `import psycopg` fails as it does when it is not installed."""
    package = folder / "psycopg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('raise ModuleNotFoundError("No module named \'psycopg\'", name="psycopg")\n')
    return str(folder)


# Reading a read-only database works; only the run, which writes, must be refused.
READ_ONLY_DATABASE = "read-only database"


def _pg_cases(
    server_url: str, fresh: Callable[[], str], tmp: Path
) -> list[tuple[str, str, tuple[str, ...], str, dict[str, str]]]:
    """(name, store URL, fragments the message must hold, StoreError subclass, extra environment) per case."""
    host_port = server_url.split("@", 1)[1].split("/", 1)[0]
    closed = _closed_port()
    other = fresh()
    _pg_execute(other, "CREATE TABLE customers (id serial PRIMARY KEY, name text)")
    newer = _pg_store(fresh())
    _pg_execute(
        newer, "UPDATE alembic_version SET version_num = '0042_future'", "UPDATE store_info SET value = '7.3.0'"
    )
    dropped = _pg_store(fresh())
    _pg_execute(dropped, "DROP TABLE events CASCADE")
    column = _pg_store(fresh())
    _pg_execute(column, "ALTER TABLE executions DROP COLUMN log_uri")
    read_only = _pg_store(fresh())
    _pg_execute(server_url, f'ALTER DATABASE "{read_only.rsplit("/", 1)[1]}" SET default_transaction_read_only = on')
    secret = "Sup3r-s3cret"
    blocked = {"PYTHONPATH": _without_psycopg(tmp / "no-psycopg")}
    return [
        (
            "unreachable server",
            f"postgresql://analyst:{secret}@127.0.0.1:{closed}/metadata",
            ("database server is running",),
            "StoreError",
            {},
        ),
        (
            "unknown user (wrong credentials)",
            f"postgresql://analyst:{secret}@{host_port}/sluiceway",
            ("user name and password",),
            "StoreError",
            {},
        ),
        (
            "database does not exist",
            f"postgresql://postgres:{secret}@{host_port}/no_such_database",
            ("Check the URL",),
            "StoreError",
            {},
        ),
        (
            "missing driver psycopg",
            f"postgresql://analyst:{secret}@{host_port}/sluiceway",
            ("pip install 'sluiceway[postgres]'",),
            "MissingStoreDriverError",
            blocked,
        ),
        (
            "driver not installed (pg8000)",
            f"postgresql+pg8000://analyst:{secret}@{host_port}/sluiceway",
            ("pg8000", "pip install 'sluiceway[postgres]'"),
            "MissingStoreDriverError",
            {},
        ),
        ("another application's database", other, ("customers", "--force"), "NotAStoreError", {}),
        ("newer schema revision", newer, ("pip install 'sluiceway>=7.3.0'",), "StoreError", {}),
        ("dropped table events", dropped, ("'events' is missing",), "StoreDamagedError", {}),
        ("dropped column executions.log_uri", column, ("log_uri",), "StoreDamagedError", {}),
        (READ_ONLY_DATABASE, read_only, ("read-only", "write access"), "StoreError", {}),
    ]


@pytest.mark.integration
@pytest.mark.postgres
def test_postgresql_stores_that_cannot_be_used_give_a_store_error(
    postgres_server: object, postgres_url: str, tmp_path: Path
) -> None:
    from sluiceway.metadata.urls import redact_url

    fresh = lambda: postgres_server.create_database(f"damaged_{os.getpid()}_{next(_numbers)}")  # type: ignore[attr-defined]  # noqa: E731
    cases = _pg_cases(postgres_url, fresh, tmp_path)
    failures: dict[str, list[str]] = {}
    located = tracebacks = 0
    with_cli = _with_cli("damaged-postgresql", len(cases))
    for number, (name, url, says, error, extra_env) in enumerate(cases):
        work = tmp_path / f"pg-{number:02d}"
        work.mkdir()
        case = Case(name, lambda _path, url=url: url, says, error, may_work=name == READ_ONLY_DATABASE)
        env_extra = dict(extra_env)
        if "PYTHONPATH" in env_extra:
            env_extra["PYTHONPATH"] = os.pathsep.join([env_extra["PYTHONPATH"], SRC])
        outcomes = _ways(case, work, url, env_extra, cli=number in with_cli)
        shown = redact_url(url)
        problems = _problems(case, Path(shown), outcomes, None, named=shown)
        if name == READ_ONLY_DATABASE and any(o.code == 0 for o in outcomes if o.way.endswith("run")):
            problems.append("a run wrote into a read-only database")
        password = url.split("://", 1)[1].split("@", 1)[0].partition(":")[2]
        if password and "***" not in shown:
            problems.append("the URL was not redacted")
        problems += [f"{o.way}: the password leaked" for o in outcomes if password and password in o.message]
        tracebacks += sum(o.traceback for o in outcomes)
        located += sum(o.code == 2 and shown in " ".join(o.message.split()) for o in outcomes)
        if problems:
            failures[name] = problems
    record(
        "damaged stores (PostgreSQL)",
        trials=len(cases),
        located=located,
        tracebacks=tracebacks,
        unexpected=len(failures),
    )
    assert not failures, json.dumps(failures, indent=2)


_numbers = iter(range(1, 1_000_000))
