"""Hostile and odd input files (issue 7): every one gets a located DataError or is read, never a traceback.

The corpus (well over 70 files: CSV, TSV, JSON lines, Parquet — encodings, line ends, quoting, ragged rows,
huge fields and headers, empty files, header-only files, duplicate/empty column names, NUL bytes, BOMs,
mixed types, integer overflow, deep JSON, binary junk, …) is generated at test time. Each file runs through
the real ingest path in-process; a subset (all of it under ``SLUICEWAY_FAULTS_FULL=1``) also runs through
``sluiceway stats`` and ``sluiceway run`` subprocesses. Counted into the fault table: located errors,
tracebacks (any exception but DataError), partial output (files left after a refusal) and unexpected
outcomes (a file read that should have been refused, or the reverse).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from faultlog import record, rng, trials

import sluiceway
from sluiceway.data.ingest import CsvSource, JsonLinesSource, ParquetSource, ingest
from sluiceway.errors import DataError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runners"))
from clitools import run_cli  # noqa: E402

ERROR, ERROR_AT_LINE, OK, EITHER = "error", "error at a line", "ok", "either"


@dataclass(frozen=True)
class Case:
    name: str  # also the file name: its extension picks the source
    content: bytes | Callable[[Path], None]
    expect: str
    options: dict[str, Any] = field(default_factory=dict)


def _rows(count: int, width: int = 3) -> bytes:
    header = ",".join(f"c{i}" for i in range(width))
    return (header + "\n" + "".join(",".join(str(r * width + i) for i in range(width)) + "\n"
                                    for r in range(count))).encode()


def _parquet(table_or_bytes: pa.Table | Callable[[], bytes]) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        if isinstance(table_or_bytes, pa.Table):
            pq.write_table(table_or_bytes, path)
        else:
            path.write_bytes(table_or_bytes())
    return write


def _truncated_parquet() -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"a": list(range(1000))}), buffer)
    return buffer.getvalue()[: len(buffer.getvalue()) // 2]


def _footer_only() -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"a": [1, 2]}), buffer)
    return buffer.getvalue()[-64:]


def _junk(seed: str, size: int) -> bytes:
    generator = rng(f"hostile-junk-{seed}")
    return bytes(generator.getrandbits(8) for _ in range(size))


def _duplicate_parquet(path: Path) -> None:
    table = pa.Table.from_arrays([pa.array([1, 2]), pa.array([3, 4])], names=["a", "a"])
    pq.write_table(table, path)


def corpus() -> list[Case]:
    good = b"a,b,c\n1,x,2.5\n2,y,3.5\n3,z,4.5\n"
    big_header = 17 << 20  # past the 16 MB header bound
    cases = [
        # ---- encodings
        Case("utf8-bom.csv", b"\xef\xbb\xbf" + good, OK),
        Case("utf16-le-bom.csv", b"\xff\xfe" + good.decode().encode("utf-16-le"), ERROR),
        Case("utf16-be-bom.csv", b"\xfe\xff" + good.decode().encode("utf-16-be"), ERROR),
        Case("utf16-no-bom.csv", good.decode().encode("utf-16-le"), ERROR_AT_LINE),
        Case("utf32.csv", good.decode().encode("utf-32"), ERROR),
        Case("latin1-header.csv", "caf\xe9,b\n1,2\n".encode("latin-1"), ERROR_AT_LINE),
        Case("latin1-data.csv", "a,b\n1,caf\xe9\n2,x\n".encode("latin-1"), ERROR_AT_LINE),
        Case("cp1252-quotes.csv", "a,b\n1,\u201cquoted\u201d\n".encode("cp1252"), ERROR_AT_LINE),
        Case("truncated-utf8.csv", b"a,b\n1,caf\xc3", ERROR_AT_LINE),
        Case("overlong-utf8.csv", b"a,b\n1,\xc0\xaf\n", ERROR_AT_LINE),
        Case("surrogate-utf8.csv", b"a,b\n1,\xed\xa0\x80\n", ERROR_AT_LINE),
        Case("unicode-names.csv", "\u00e9t\u00e9,\u6570\u5b57,\U0001f600\n1,2,3\n".encode(), OK),
        # ---- line ends
        Case("crlf.csv", good.replace(b"\n", b"\r\n"), OK),
        Case("cr-only.csv", good.replace(b"\n", b"\r"), ERROR_AT_LINE),
        Case("cr-only-data.csv", b"a,b\n1,2\r3,4\r", ERROR_AT_LINE),
        Case("mixed-line-ends.csv", b"a,b\r\n1,2\n3,4\r\n", OK),
        Case("no-final-newline.csv", good.rstrip(b"\n"), OK),
        Case("blank-lines.csv", b"a,b\n\n1,2\n\n\n3,4\n\n", OK),
        # ---- quoting
        Case("unterminated-quote.csv", b'a,b\n1,"open\n2,3\n', ERROR_AT_LINE),
        Case("quote-at-eof.csv", b'a,b\n1,2\n3,"', ERROR_AT_LINE),
        Case("escaped-quotes.csv", b'a,b\n1,"say ""hi"""\n', OK),
        Case("quoted-newline.csv", b'a,b\n1,"two\nlines"\n2,x\n', OK),
        Case("quoted-delimiter.csv", b'a,b\n1,"x,y"\n', OK),
        Case("quote-inside-field.csv", b'a,b\n1,ab"c\n', EITHER),
        Case("quoted-header.csv", b'"a b","c,d"\n1,2\n', OK),
        # ---- ragged rows
        Case("short-row.csv", b"a,b,c\n1,2,3\n4,5\n", ERROR_AT_LINE),
        Case("long-row.csv", b"a,b\n1,2\n3,4,5\n", ERROR_AT_LINE),
        Case("trailing-delimiter.csv", b"a,b\n1,2,\n3,4,\n", ERROR_AT_LINE),
        Case("only-delimiters.csv", b"a,b,c\n,,\n1,2,3\n", OK),
        Case("ragged-last-line.csv", b"a,b\n1,2\n3", ERROR_AT_LINE),
        # ---- huge
        Case("huge-header.csv", lambda p: p.write_bytes(b"x" * big_header), ERROR_AT_LINE),
        Case("huge-column-name.csv", b"a," + b"n" * 200_000 + b"\n1,2\n", ERROR_AT_LINE),
        Case("huge-field.csv", b"a,b\n1," + b"v" * (2 << 20) + b"\n2,w\n", OK),
        Case("too-many-columns.csv", lambda p: p.write_bytes(_rows(2, width=20_001)), ERROR),
        Case("over-max-columns.csv", _rows(3, width=11), ERROR, {"max_columns": 10}),
        # ---- empty and header only
        Case("zero-bytes.csv", b"", ERROR),
        Case("only-newline.csv", b"\n", ERROR_AT_LINE),
        Case("only-bom.csv", b"\xef\xbb\xbf", ERROR_AT_LINE),
        Case("header-only.csv", b"a,b,c\n", ERROR),
        Case("header-blank-lines.csv", b"a,b\n\n\n", ERROR),
        Case("whitespace-only.csv", b"   \n  \n", ERROR_AT_LINE),
        # ---- column names
        Case("duplicate-names.csv", b"a,b,a\n1,2,3\n", ERROR_AT_LINE),
        Case("empty-name.csv", b"a,,c\n1,2,3\n", ERROR_AT_LINE),
        Case("blank-name.csv", b"a,  ,c\n1,2,3\n", ERROR_AT_LINE),
        Case("markup-names.csv", b"[bold]x[/bold],[red]\n1,2\n", OK),
        Case("numeric-names.csv", b"1,2,3\n4,5,6\n", OK),
        # ---- NUL bytes
        Case("nul-header.csv", b"a,b\x00c\n1,2\n", ERROR_AT_LINE),
        Case("nul-field.csv", b"a,b\n1,x\x00y\n", ERROR_AT_LINE),
        Case("nul-quoted.csv", b'a,b\n1,"x\x00y"\n', ERROR_AT_LINE),
        Case("nul-at-eof.csv", b"a,b\n1,2\n\x00", ERROR_AT_LINE),
        # ---- types
        Case("mixed-types.csv", b"a\n1\nx\n2.5\n", OK),
        Case("int-overflow.csv", b"a,b\n1,2\n99999999999999999999999,3\n", ERROR_AT_LINE),
        Case("int-overflow-negative.csv", b"a\n-99999999999999999999999\n", ERROR_AT_LINE),
        Case("uint64-max.csv", b"a\n18446744073709551615\n", ERROR_AT_LINE),
        Case("int-overflow-declared.csv", b"a\n1\n99999999999999999999999\n", OK, {"column_types": {"a": "string"}}),
        Case("int-overflow-late.csv", lambda p: p.write_bytes(_rows(12_000, 1) + b"99999999999999999999999\n"),
             ERROR_AT_LINE),
        Case("huge-digits.csv", b"a\n" + b"9" * 5000 + b"\n", ERROR),
        Case("float-overflow.csv", b"a\n1.5\n1e400\n", EITHER),
        Case("nan-markers.csv", b"a,b\n1,NaN\nNA,null\n", OK),
        Case("bools.csv", b"a,b\ntrue,1\nFalse,0\n", OK),
        Case("bad-declared-type.csv", good, ERROR, {"column_types": {"a": "integer"}}),
        Case("declared-unknown-column.csv", good, ERROR, {"column_types": {"zz": "string"}}),
        # ---- binary junk
        Case("random-bytes.csv", _junk("csv", 4096), ERROR),
        Case("png.csv", b"\x89PNG\r\n\x1a\n" + _junk("png", 512), ERROR),
        Case("gzip.csv", gzip.compress(good, mtime=0), ERROR),
        Case("zip.csv", b"PK\x03\x04" + _junk("zip", 512), ERROR),
        # ---- TSV
        Case("good.tsv", b"a\tb\n1\tx\n2\ty\n", OK),
        Case("ragged.tsv", b"a\tb\n1\tx\ty\n", ERROR_AT_LINE),
        Case("commas-in.tsv", b"a\tb\n1,2\tx\n", OK),
        # ---- JSON lines
        Case("good.jsonl", b'{"a": 1, "b": "x"}\n{"a": 2, "b": "y"}\n', OK),
        Case("array-line.jsonl", b'{"a": 1}\n[1, 2]\n', ERROR_AT_LINE),
        Case("scalar-line.jsonl", b"3\n", ERROR_AT_LINE),
        Case("truncated.jsonl", b'{"a": 1}\n{"a": 2\n', ERROR_AT_LINE),
        Case("trailing-comma.jsonl", b'{"a": 1,}\n', ERROR_AT_LINE),
        Case("deep.jsonl", b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}\n", ERROR_AT_LINE),
        Case("nested-50.jsonl", b'{"a": ' + b'{"b": ' * 50 + b"1" + b"}" * 50 + b"}\n", EITHER),
        Case("nan-literal.jsonl", b'{"a": NaN}\n', ERROR_AT_LINE),
        Case("big-int.jsonl", b'{"a": 99999999999999999999999}\n', ERROR_AT_LINE),
        Case("beyond-int128.jsonl", b'{"a": ' + b"9" * 50 + b"}\n", ERROR_AT_LINE),
        Case("big-int-declared.jsonl", b'{"a": 99999999999999999999999}\n', OK, {"column_types": {"a": "string"}}),
        Case("float-overflow.jsonl", b'{"a": 1e400}\n', EITHER),
        Case("duplicate-keys.jsonl", b'{"a": 1, "a": 2}\n', EITHER),
        Case("empty-objects.jsonl", b"{}\n{}\n", ERROR),
        Case("nul-key.jsonl", b'{"a\\u0000b": 1}\n', ERROR),
        Case("empty-key.jsonl", b'{"": 1}\n', ERROR),
        Case("raw-nul.jsonl", b'{"a": "x\x00y"}\n', ERROR_AT_LINE),
        Case("mixed-types.jsonl", b'{"a": 1}\n{"a": "x"}\n', OK),
        Case("blank-lines.jsonl", b'{"a": 1}\n\n{"a": 2}\n', OK),
        Case("latin1.jsonl", '{"a": "caf\xe9"}\n'.encode("latin-1"), ERROR_AT_LINE),
        Case("random-bytes.jsonl", _junk("jsonl", 4096), ERROR),
        Case("zero-bytes.jsonl", b"", ERROR),
        Case("only-blank.jsonl", b"\n\n\n", ERROR),
        Case("empty-object-value.jsonl", b'{"a": {}}\n', ERROR),
        Case("nul-nested-key.jsonl", b'{"a": {"b\\u0000": 1}}\n', ERROR),
        Case("nested-object.jsonl", b'{"a": {"b": 1, "c": [1, 2]}}\n', EITHER),
        Case("long-string.jsonl", b'{"a": "' + b"s" * (1 << 20) + b'"}\n', OK),
        Case("utf8-bom.jsonl", b'\xef\xbb\xbf{"a": 1}\n', EITHER),
        # ---- Parquet
        Case("good.parquet", _parquet(pa.table({"a": [1, 2, 3], "b": ["x", "y", "z"]})), OK),
        Case("zero-rows.parquet", _parquet(pa.table({"a": pa.array([], pa.int64())})), ERROR),
        Case("zero-columns.parquet", _parquet(pa.table({})), ERROR),
        Case("truncated.parquet", _parquet(_truncated_parquet), ERROR),
        Case("footer-only.parquet", _parquet(_footer_only), ERROR),
        Case("random-bytes.parquet", _parquet(lambda: _junk("parquet", 4096)), ERROR),
        Case("csv-named.parquet", _parquet(lambda: good), ERROR),
        Case("duplicate-names.parquet", _duplicate_parquet, ERROR),
        Case("nul-name.parquet", _parquet(pa.table({"a\x00b": [1]})), ERROR),
        Case("empty-name.parquet", _parquet(pa.table({"": [1]})), ERROR),
        Case("uint64.parquet", _parquet(pa.table({"a": pa.array([2**64 - 1], pa.uint64())})), EITHER),
        Case("decimal.parquet", _parquet(pa.table({"a": pa.array([1], pa.decimal128(38, 2))})), EITHER),
        Case("struct.parquet", _parquet(pa.table({"a": [{"x": 1}, {"x": 2}]})), EITHER),
        Case("null-column.parquet", _parquet(pa.table({"a": pa.nulls(3), "b": [1, 2, 3]})), EITHER),
        Case("dictionary.parquet", _parquet(pa.table({"a": pa.array(["x", "y", "x"]).dictionary_encode()})), OK),
        Case("too-wide.parquet", _parquet(pa.table({f"c{i}": [i] for i in range(12)})), ERROR, {"max_columns": 10}),
    ]
    assert len({c.name for c in cases}) == len(cases), "case names must be unique"
    return cases


CORPUS = corpus()


def _write(case: Case, folder: Path) -> Path:
    path = folder / case.name
    if callable(case.content):
        case.content(path)
    else:
        path.write_bytes(case.content)
    return path


def _source(case: Case, path: Path) -> Any:
    options = {k: v for k, v in case.options.items() if k != "max_columns"}
    if path.suffix == ".parquet":
        return ParquetSource(str(path))
    if path.suffix == ".jsonl":
        return JsonLinesSource(str(path), **options)
    return CsvSource(str(path), delimiter="\t" if path.suffix == ".tsv" else ",", **options)


@dataclass
class Outcome:
    located: bool = False
    traceback: str | None = None
    partial: list[str] = field(default_factory=list)
    unexpected: str | None = None


def judge(case: Case, path: Path, error: BaseException | None, leftovers: list[str]) -> Outcome:
    outcome = Outcome(partial=leftovers if error is not None else [])
    if error is not None and not isinstance(error, DataError):
        outcome.traceback = f"{type(error).__name__}: {error}"
        return outcome
    if error is None:
        if case.expect in (ERROR, ERROR_AT_LINE):
            outcome.unexpected = "read, but should have been refused"
        return outcome
    message = str(error)
    outcome.located = str(path) in message and (case.expect != ERROR_AT_LINE or re.search(r"\bline \d+", message)
                                                is not None)
    if case.expect == OK:
        outcome.unexpected = f"refused, but should have been read: {message}"
    elif case.expect != EITHER and not outcome.located:
        outcome.unexpected = f"the error does not say where: {message}"
    return outcome


def test_bad_input_corpus_through_ingest(tmp_path: Path) -> None:
    assert len(CORPUS) >= 70
    outcomes: dict[str, Outcome] = {}
    for case in CORPUS:
        path = _write(case, tmp_path)
        output = tmp_path / f"out-{case.name}"
        error: BaseException | None = None
        try:
            ingest(_source(case, path), output, max_columns=case.options.get("max_columns", 20_000))
        except BaseException as exc:  # noqa: BLE001 - a traceback is what this probe counts
            error = exc
        leftovers = [str(p) for p in output.rglob("*") if p.is_file()] if output.exists() else []
        outcomes[case.name] = judge(case, path, error, leftovers)
        path.unlink()  # the huge ones are not kept around
    row = record(
        "hostile inputs (ingest)",
        trials=len(outcomes),
        located=sum(o.located for o in outcomes.values()),
        partial=sum(bool(o.partial) for o in outcomes.values()),
        tracebacks=sum(o.traceback is not None for o in outcomes.values()),
        unexpected=sum(o.unexpected is not None for o in outcomes.values()),
    )
    problems = {name: o for name, o in outcomes.items() if o.traceback or o.partial or o.unexpected}
    assert not problems, problems
    refusals = sum(c.expect in (ERROR, ERROR_AT_LINE) for c in CORPUS)
    assert row["located"] >= refusals


# Through the real command line: `sluiceway stats FILE` (exit 2 and a one-line error for bad input) and
# `sluiceway run` of a pipeline whose ExampleGen reads the file (the execution FAILED with the located error,
# nothing published).
CLI_FAST = ("cr-only.csv", "int-overflow.csv", "zero-rows.parquet", "good.csv")
RUN_FAST = ("int-overflow.csv", "good.csv")
PIPELINE = """
import os
import sluiceway as sw
from sluiceway.components.example_gen import CsvExampleGen, JsonExampleGen, ParquetExampleGen

path = os.environ["HOSTILE_INPUT"]
gen = {".jsonl": JsonExampleGen, ".parquet": ParquetExampleGen}.get(os.path.splitext(path)[1], CsvExampleGen)
pipeline = sw.Pipeline("hostile", [gen(input_pattern=path)])
"""


def _cli_cases() -> list[Case]:
    extra = [Case("good.csv", b"a,b\n1,2\n3,4\n", OK)]
    every = [c for c in CORPUS if c.options == {} and not c.name.endswith(".tsv") and "huge" not in c.name
             and "too-many" not in c.name] + extra
    if trials(0, 1):
        return every
    return [c for c in every if c.name in CLI_FAST]


@pytest.mark.integration
@pytest.mark.timeout(1800)  # the full corpus is ~130 subprocesses under `make test-faults`
def test_bad_input_corpus_through_the_cli(tmp_path: Path, cli_env: dict[str, str]) -> None:
    cases = _cli_cases()
    # The subprocesses run in other folders: the sources under test must be on an absolute path.
    source_root = str(Path(sluiceway.__file__).resolve().parents[1])
    cli_env = {**cli_env, "PYTHONPATH": os.pathsep.join([source_root, cli_env.get("PYTHONPATH", "")])}
    run_cases = cases[::3] + cases[-1:] if trials(0, 1) else [c for c in cases if c.name in RUN_FAST]
    (tmp_path / "pipeline.py").write_text(PIPELINE)
    outcomes: dict[str, Outcome] = {}
    for case in cases:
        folder = tmp_path / f"case-{len(outcomes)}"
        folder.mkdir()
        path = _write(case, folder)
        done = run_cli(["stats", str(path)], cli_env, cwd=folder)
        text = done.stdout + done.stderr
        outcome = Outcome()
        if "Traceback (most recent call last)" in text or done.returncode not in (0, 2):
            outcome.traceback = f"exit {done.returncode}: {text[-2000:]}"
        elif (done.returncode == 0) != (case.expect == OK) and case.expect != EITHER:
            outcome.unexpected = f"stats exit {done.returncode}: {text[-500:]}"
        elif done.returncode == 2:
            outcome.located = path.name in text
        if case in run_cases:
            env = {**cli_env, "HOSTILE_INPUT": str(path), "SLUICEWAY_STORE": f"sqlite:///{folder / 'md.db'}",
                   "SLUICEWAY_ARTIFACT_ROOT": str(folder / "artifacts")}
            ran = run_cli(["run", str(tmp_path / "pipeline.py")], env, cwd=folder)
            ran_text = ran.stdout + ran.stderr
            published = [str(p) for p in (folder / "artifacts").rglob("*.parquet")]
            if "Traceback (most recent call last)" in ran_text or ran.returncode not in (0, 1):
                outcome.traceback = f"run exit {ran.returncode}: {ran_text[-2000:]}"
            elif ran.returncode == 1:
                outcome.partial = published
                if case.expect == OK or "DataError" not in ran_text or path.name not in ran_text:
                    outcome.unexpected = f"run failed without a located DataError: {ran_text[-800:]}"
            elif case.expect in (ERROR, ERROR_AT_LINE):
                outcome.unexpected = f"run succeeded: {ran_text[-500:]}"
        outcomes[case.name] = outcome
    record(
        "hostile inputs (CLI stats/run)",
        trials=len(outcomes) + len(run_cases),
        located=sum(o.located for o in outcomes.values()),
        partial=sum(bool(o.partial) for o in outcomes.values()),
        tracebacks=sum(o.traceback is not None for o in outcomes.values()),
        unexpected=sum(o.unexpected is not None for o in outcomes.values()),
    )
    problems = {name: o for name, o in outcomes.items() if o.traceback or o.partial or o.unexpected}
    assert not problems, problems
    assert all(outcomes[c.name].located for c in cases if c.expect in (ERROR, ERROR_AT_LINE))


def test_corpus_files_are_generated_the_same_way_every_time(tmp_path: Path) -> None:
    # The probe must be repeatable: the junk is seeded, the gzip has no timestamp.
    first, second = corpus(), corpus()
    assert [c.content for c in first if isinstance(c.content, bytes)] == \
        [c.content for c in second if isinstance(c.content, bytes)]
    assert json.dumps([c.expect for c in first]) == json.dumps([c.expect for c in second])
