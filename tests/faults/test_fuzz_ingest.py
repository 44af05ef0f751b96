"""A structure-aware fuzzer on CSV and JSON-lines ingestion (issue 7): nothing but DataError comes out.

Hypothesis builds files from rows of fields drawn from what breaks readers (delimiters, quotes, CR, LF, NUL,
BOMs, non-UTF-8 bytes, integers beyond 64 bits, NaN markers, very long fields), then mutates their bytes
(truncation, insertion, byte flips). Every file runs through the real ``ingest``; the outcome must be
Examples with the right row count, or a ``DataError`` that names the file and leaves no output behind.
The budget is a fixed number of examples: a few seconds in ``make test``, ten times more in
``make test-faults``; the seed comes from ``SLUICEWAY_FAULTS_SEED`` (faultlog), so a run can be repeated.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path

from faultlog import SEED, record, trials
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from sluiceway.data.ingest import CsvSource, JsonLinesSource, ingest
from sluiceway.errors import DataError

FIELD_PIECES = st.sampled_from([
    "", "a", "x y", ",", ";", "\t", '"', '""', "\r", "\n", "\r\n", "\x00", "\ufeff", "é", "\u6570", "NaN", "NA",
    "null", "1", "-7", "3.5", "1e400", "99999999999999999999999", "18446744073709551615", "true", "2024-01-31",
    "[b]", "\\", "'",
])
FIELD = st.lists(FIELD_PIECES, max_size=4).map("".join) | st.text(max_size=12)
QUOTED = st.booleans()


SAFE_FIELD = st.sampled_from(["", "a", "x y", "1", "-7", "3.5", "NA", "true", "é", '"q,uoted"'])


def csv_text(draw: st.DrawFn) -> bytes:
    # Half the files are well-formed (distinct names, full rows of tame values) so that the reader's success
    # path is fuzzed too; the other half draw every piece from what breaks readers.
    width = draw(st.integers(1, 6))
    if draw(st.booleans()):
        header = [f"c{i}" for i in range(width)]
        rows = draw(st.lists(st.lists(SAFE_FIELD, min_size=width, max_size=width), min_size=1, max_size=12))
        return ("\n".join(",".join(r) for r in [header, *rows]) + "\n").encode()
    header = draw(st.lists(FIELD, min_size=width, max_size=width))
    rows = draw(st.lists(st.lists(FIELD, min_size=0, max_size=width + 1), max_size=12))
    quote = draw(QUOTED)

    def line(fields: list[str]) -> str:
        if quote:
            return ",".join('"' + f.replace('"', '""') + '"' for f in fields)
        return ",".join(fields)

    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = newline.join(line(r) for r in [header, *rows]) + draw(st.sampled_from(["", newline]))
    return text.encode("utf-8", "surrogatepass")


JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80) | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)


def jsonl_text(draw: st.DrawFn) -> bytes:
    if draw(st.booleans()):  # well-formed records over a few fixed keys
        tame = st.none() | st.integers(-1000, 1000) | st.text(max_size=6) | st.booleans()
        records = draw(st.lists(st.fixed_dictionaries({"a": tame}, optional={"b": tame, "c": tame}),
                                min_size=1, max_size=8))
        return "\n".join(json.dumps(r) for r in records).encode()
    keys = st.sampled_from(["a", "b", "c", "", "a\x00", "é"]) | st.text(max_size=4)
    records = draw(st.lists(st.dictionaries(keys, JSON_VALUE, max_size=4) | JSON_VALUE, max_size=8))
    return "\n".join(json.dumps(r) for r in records).encode("utf-8", "surrogatepass")


@st.composite
def mutated(draw: st.DrawFn, kind: str) -> bytes:
    data = bytearray(csv_text(draw) if kind == "csv" else jsonl_text(draw))
    for _ in range(draw(st.sampled_from([0, 0, 1, 2, 3]))):
        action = draw(st.sampled_from(["truncate", "insert", "flip", "none"]))
        position = draw(st.integers(0, len(data)))
        if action == "truncate":
            del data[position:]
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=4))
        elif action == "flip" and position < len(data):
            data[position] ^= draw(st.integers(1, 255))
    return bytes(data)


def _fuzz(kind: str, examples: int) -> Counter[str]:
    outcomes: Counter[str] = Counter()
    failures: list[str] = []

    @seed(SEED)
    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(mutated(kind))
    def one(data: bytes) -> None:
        with tempfile.TemporaryDirectory(prefix="sluiceway-fuzz-") as folder:
            path = Path(folder) / f"input.{kind}"
            path.write_bytes(data)
            output = Path(folder) / "out"
            source = CsvSource(str(path)) if kind == "csv" else JsonLinesSource(str(path))
            try:
                result = ingest(source, output)
            except DataError as exc:
                left = [p for p in output.rglob("*") if p.is_file()] if output.exists() else []
                outcomes["located" if str(path) in str(exc) else "unlocated"] += 1
                if left:
                    outcomes["partial"] += 1
                    failures.append(f"files left after a DataError: {left}")
                    raise AssertionError(failures[-1]) from exc
                return
            except BaseException as exc:  # noqa: BLE001 - a traceback is what the fuzzer hunts
                outcomes["tracebacks"] += 1
                failures.append(f"{type(exc).__name__}: {exc} on {data[:200]!r}")
                raise
            outcomes["read"] += 1
            assert sum(result.row_counts.values()) >= 1

    try:
        one()
    finally:
        record(f"fuzz {kind} ingest", trials=sum(outcomes.values()), located=outcomes["located"],
               partial=outcomes["partial"], tracebacks=outcomes["tracebacks"], unexpected=outcomes["unlocated"])
    return outcomes


def test_fuzz_csv_ingest() -> None:
    outcomes = _fuzz("csv", trials(60, 1500))
    assert outcomes["tracebacks"] == 0 and outcomes["partial"] == 0 and outcomes["unlocated"] == 0
    assert outcomes["read"] > 0 and outcomes["located"] > 0  # the generator reaches both outcomes


def test_fuzz_jsonl_ingest() -> None:
    outcomes = _fuzz("jsonl", trials(60, 1500))
    assert outcomes["tracebacks"] == 0 and outcomes["partial"] == 0 and outcomes["unlocated"] == 0
    assert outcomes["read"] > 0 and outcomes["located"] > 0
