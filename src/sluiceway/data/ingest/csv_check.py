"""The CSV structure check: header, field counts and quotes of every record, vectorized over raw bytes."""

from __future__ import annotations

import csv
import io
import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from sluiceway.data.ingest.diagnostics import _check_column_count, _check_unique_columns, _line_of, _nul_error
from sluiceway.data.ingest.sources import CsvSource
from sluiceway.errors import DataError

logger = logging.getLogger(__name__)

_SCAN_CHUNK_BYTES = 8 << 20


class _StructureCheck:
    """The structure scan of every CSV file of an input, in order; run inline or in a thread."""

    def __init__(self, files: Sequence[str], header: list[str], source: CsvSource) -> None:
        self.files = list(files)
        self.header = header
        self.source = source
        self.blank_lines = 0
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._cancelled = threading.Event()

    def run(self) -> None:
        for path in self.files:
            if self._cancelled.is_set():
                return
            data_rows, blank_lines = _scan_csv_structure(path, len(self.header), self.source.delimiter,
                                                         self.source.quote_char, self._cancelled)
            self.blank_lines += blank_lines
            if data_rows == 0 and not self._cancelled.is_set():
                raise DataError(
                    f"CSV file {path!r} has a header ({len(self.header)} columns) but zero data rows; expected at "
                    "least one row after the header. Remove the file or write its rows again."
                )

    def _run_in_thread(self) -> None:
        try:
            self.run()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            self._error = exc

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run_in_thread, name="sluiceway-csv-check", daemon=True)
        self._thread.start()

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error.with_traceback(None)

    def cancel(self) -> None:
        self._cancelled.set()
        if self._thread is not None:
            self._thread.join()



#: The longest header line read; past it the file is refused rather than read as one giant line.
_MAX_HEADER_BYTES = 16 << 20
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _read_csv_header(path: str, delimiter: str, quote_char: str | None, max_columns: int) -> list[str]:
    """The column names on line 1, after refusing what no CSV reader should be handed: a header longer
    than ``_MAX_HEADER_BYTES``, old-Mac CR-only line ends, NUL bytes, UTF-16, more than ``max_columns``."""
    with open(path, "rb") as handle:
        raw = handle.readline(_MAX_HEADER_BYTES + 1)
    if len(raw) > _MAX_HEADER_BYTES:
        raise DataError(
            f"CSV file {path!r} line 1 (the header) is longer than {_MAX_HEADER_BYTES >> 20} MB without a line "
            "end; expected a header row of column names ending with \\n or \\r\\n. Check that the file is CSV "
            "with line ends (a file with none, or with old-Mac \\r line ends, reads as one line)."
        )
    body = raw[:-2] if raw.endswith(b"\r\n") else raw.rstrip(b"\n")
    if raw.startswith(_UTF16_BOMS):
        raise DataError(
            f"CSV file {path!r} is UTF-16 (it starts with a UTF-16 byte-order mark); expected UTF-8 text. "
            "Re-encode it, e.g. iconv -f utf-16 -t utf-8 in.csv > out.csv."
        )
    if b"\r" in body:
        carriage_return = body.index(b"\r")
        raise DataError(
            f"CSV file {path!r} line 1 (the header) holds a carriage return (\\r) that is not part of a \\r\\n "
            f"line end (at byte {carriage_return}): the file uses old-Mac CR-only line ends. Expected \\n or "
            "\\r\\n line ends. Convert it, e.g. tr '\\r' '\\n' < in.csv > out.csv."
        )
    if b"\0" in body:
        raise _nul_error(path, body.index(b"\0"), delimiter)
    try:
        line = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"CSV file {path!r} line 1 (the header) is not UTF-8: byte {exc.start} is {body[exc.start]:#04x}. "
            "Expected UTF-8 text. Re-encode the file, e.g. iconv -f latin1 -t utf-8."
        ) from None
    kwargs: dict[str, Any] = {"delimiter": delimiter}
    kwargs.update({"quotechar": quote_char} if quote_char else {"quoting": csv.QUOTE_NONE})
    try:
        header = next(csv.reader(io.StringIO(line), **kwargs), [])
    except csv.Error as exc:
        raise DataError(
            f"CSV file {path!r} line 1 (the header) cannot be read as a row of column names ({exc}); expected "
            f"column names separated by {delimiter!r}, each shorter than 128 KB. Fix the header line."
        ) from None
    if not header or header == [""]:
        raise DataError(
            f"CSV file {path!r} line 1 is blank; expected a header row with column names. Add the header."
        )
    _check_column_count(len(header), max_columns, f"CSV file {path!r}")
    for position, name in enumerate(header):
        if not name.strip():
            raise DataError(
                f"CSV file {path!r} header (line 1) has an empty column name at column {position + 1}; "
                "expected a name for every column. Name it."
            )
    _check_unique_columns(header, f"CSV file {path!r} header (line 1)")
    return header


def _bitmask(mask: np.ndarray) -> np.ndarray:
    """A boolean byte mask as little-endian 64-bit words, one bit a byte (zero-padded to whole words)."""
    packed = np.packbits(mask, bitorder="little")
    if packed.size % 8:
        packed = np.concatenate((packed, np.zeros(8 - packed.size % 8, dtype=np.uint8)))
    return packed.view("<u8")


def _prefix_xor(words: np.ndarray) -> np.ndarray:
    """Within each 64-bit word, bit j becomes the XOR of bits 0..j (quote parity inside the word)."""
    x = words.copy()
    for shift in (1, 2, 4, 8, 16, 32):
        x ^= x << np.uint64(shift)
    return x


def _bit_positions(words: np.ndarray) -> np.ndarray:
    """The byte positions of the set bits of a bitmap, ascending (cheap when few bits are set)."""
    index = np.flatnonzero(words)
    remaining, base = words[index], index.astype(np.int64) * 64
    found = []
    one = np.uint64(1)
    while remaining.size:
        lowest = remaining & (~remaining + one)
        found.append(base + np.bitwise_count(lowest - one).astype(np.int64))
        remaining = remaining & (remaining - one)
        more = remaining != 0
        remaining, base = remaining[more], base[more]
    if not found:
        return np.empty(0, dtype=np.int64)
    positions = np.concatenate(found) if len(found) > 1 else found[0]
    if len(found) > 1:
        positions.sort()
    return positions


def _bits_before(words: np.ndarray, prefix: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """How many bits of ``words`` are set before each byte position (``prefix``: popcounts before each word)."""
    index = positions >> 6
    below = (np.uint64(1) << (positions & 63).astype(np.uint64)) - np.uint64(1)
    return prefix[index] + np.bitwise_count(words[index] & below).astype(np.int64)


def _scan_csv_structure(path: str, columns: int, delimiter: str, quote_char: str | None,
                        cancelled: threading.Event | None = None) -> tuple[int, int]:
    """Check every record has ``columns`` fields and every quote is closed (and that there is no NUL byte).

    Longer than ~80 lines on purpose: the state carried from one chunk to the next (quote parity, fields and
    bytes of the record that spans the boundary) is easiest to check when it is all in one loop.

    Returns (data rows, blank lines).

    Vectorized over the raw bytes as bitmaps (one bit a byte, 64 bytes a word, as simdjson does): a
    delimiter or newline counts only outside quotes, i.e. where the number of quote characters before it
    is even (RFC 4180: an escaped quote "" adds two). Quote parity is a prefix XOR inside each word plus
    the parity of all quotes in earlier words; fields a record are differences of delimiter popcounts
    between its newlines.
    """
    delim = ord(delimiter)
    quote = ord(quote_char) if quote_char else -1
    newline = ord("\n")
    parity = 0  # quote parity at the chunk start
    fields_open = 0  # delimiters seen in the record that spans the chunk boundary
    record_bytes = 0  # bytes of the record that spans the chunk boundary (to skip blank lines)
    record_start = 0  # absolute byte offset where the current record starts
    data_rows = -1  # the header is the first record
    blank_lines = 0
    consumed = 0
    all_ones = np.uint64(0xFFFFFFFFFFFFFFFF)
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(_SCAN_CHUNK_BYTES)
            if cancelled is not None and cancelled.is_set():
                return 0, 0
            if not chunk:
                break
            nul = chunk.find(b"\0")
            if nul >= 0:
                raise _nul_error(path, consumed + nul, delimiter)
            data = np.frombuffer(chunk, dtype=np.uint8)
            delims = _bitmask(data == delim)
            newlines = _bitmask(data == newline)
            if quote >= 0 and (parity or chunk.find(bytes([quote])) >= 0):
                quotes = _bitmask(data == quote)
                counts_in_word = np.bitwise_count(quotes).astype(np.int64)
                before = np.cumsum(counts_in_word) - counts_in_word + parity
                inside = _prefix_xor(quotes)
                inside ^= np.where(before & 1, all_ones, np.uint64(0))
                parity = int(before[-1] + counts_in_word[-1]) & 1
                outside = ~inside
                delims &= outside
                newlines &= outside
            ends = _bit_positions(newlines)
            delim_counts = np.bitwise_count(delims).astype(np.int64)
            total_delims = int(delim_counts.sum())
            if ends.size:
                prefix = np.cumsum(delim_counts) - delim_counts
                # Delimiters a record: the delimiters before its newline minus those before the last one.
                cumulative = _bits_before(delims, prefix, ends)
                counts = np.diff(cumulative, prepend=0)
                counts[0] += fields_open
                tail = total_delims - int(cumulative[-1])
                starts = np.empty_like(ends)
                starts[0] = -1 - record_bytes
                starts[1:] = ends[:-1]
                lengths = ends - starts - 1  # bytes in each record, without the newline
                # A blank line (maybe a lone \r) is skipped, as readers do.
                blank = (counts == 0) & ((lengths == 0) | ((lengths == 1) & (data[np.maximum(ends - 1, 0)] == 13)))
                bad = np.flatnonzero((counts != columns - 1) & ~blank)
                if bad.size:
                    first = int(bad[0])
                    start = consumed + int(starts[first]) + 1 if first else record_start
                    line = _line_of(path, start)
                    got = int(counts[first]) + 1
                    raise DataError(
                        f"CSV file {path!r} line {line} has {got} fields; expected {columns} like the header. "
                        f"{_ragged_hint(path, start, delimiter)}"
                    )
                blanks = int(np.count_nonzero(blank))
                data_rows += int(ends.size) - blanks
                blank_lines += blanks
                record_start = consumed + int(ends[-1]) + 1
                fields_open = tail
                record_bytes = len(chunk) - int(ends[-1]) - 1
            else:
                fields_open += total_delims
                record_bytes += len(chunk)
            consumed += len(chunk)
    if parity:
        line = _line_of(path, _last_open_quote(path, record_start, quote_char or '"'))
        raise DataError(
            f"CSV file {path!r} has an unterminated quoted field starting on line {line}: the quote "
            f"{quote_char!r} opened there is never closed, so the rest of the file would become one value. "
            f"Expected each quoted field to end with {quote_char!r}. Close the quote or escape it by doubling it."
        )
    if record_bytes > 0 and not (record_bytes == 1 and _file_ends_with_cr(path)):
        if fields_open != columns - 1:
            line = _line_of(path, record_start)
            raise DataError(
                f"CSV file {path!r} line {line} (the last) has {fields_open + 1} fields; expected {columns} like "
                f"the header. {_ragged_hint(path, record_start, delimiter)}"
            )
        data_rows += 1
    return max(data_rows, 0), blank_lines


def _file_ends_with_cr(path: str) -> bool:
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\r"


def _ragged_hint(path: str, start: int, delimiter: str) -> str:
    with open(path, "rb") as handle:
        handle.seek(start)
        text = handle.readline(200).decode("utf-8", "replace").rstrip("\r\n")
    return (
        f"The line reads {text!r}. Add the missing fields (empty between delimiters {delimiter!r} is fine), "
        "remove the extra ones, or quote values that contain the delimiter."
    )


def _last_open_quote(path: str, record_start: int, quote_char: str) -> int:
    """The offset of the quote that is left open at the end of the file (searched from a record start)."""
    quote = quote_char.encode()
    with open(path, "rb") as handle:
        handle.seek(record_start)
        tail = handle.read()
    open_at = None
    position = 0
    while True:
        found = tail.find(quote, position)
        if found < 0:
            break
        open_at = found if open_at is None else None
        position = found + 1
    return record_start + (open_at if open_at is not None else 0)


