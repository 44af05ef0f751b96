"""Protocol-buffer text format, the subset TFDV's ``schema.pbtxt`` uses: a tokenizer and parser into an
ordered list of (field, value) pairs, typed readers for scalar fields, and the writer.

Parsed values remember their line, so every error says where it is. Errors are ``TextFormatError`` (a
``ValueError``); ``sluiceway.data.schema.pbtxt`` turns them into ``DataError`` naming the file.
"""

from __future__ import annotations

import math
import re
from typing import Any

class TextFormatError(ValueError):
    pass


class Word(str):
    """A bare identifier in text format (an enum value or ``true``/``inf``), as opposed to a quoted string."""

    line: int | None = None


class Quoted(str):
    """A quoted string, with the line it was read from."""

    line: int | None = None


class Fields(list[tuple[str, Any]]):
    """A sub-message (its (name, value) pairs), with the line it starts on."""

    line: int | None = None


def at(value: Any) -> str:
    """``"line N: "`` for a parsed value that knows its line."""
    line = getattr(value, "line", None)
    return f"line {line}: " if line is not None else ""


# A message is a list of (field name, value) pairs, in order, with repeated fields repeated.
Message = list[tuple[str, Any]]

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+|\#[^\n]*)
    |(?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
    |(?P<word>[A-Za-z0-9_.+\-]+)
    |(?P<punct>[{}<>:\[\],;])
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": b"\n", "t": b"\t", "r": b"\r", "a": b"\a", "b": b"\b", "f": b"\f", "v": b"\v",
            "\\": b"\\", "'": b"'", '"': b'"', "?": b"?"}


def _unescape(body: str, line: int) -> str:
    out = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out += ch.encode("utf-8")
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _ESCAPES:
            out += _ESCAPES[nxt]
            i += 2
        elif nxt in "01234567":
            m = re.match(r"[0-7]{1,3}", body[i + 1 :])
            assert m is not None
            out.append(int(m.group(0), 8) & 0xFF)
            i += 1 + len(m.group(0))
        elif nxt in "xX":
            m = re.match(r"[0-9A-Fa-f]{1,2}", body[i + 2 :])
            if not m:
                raise TextFormatError(f"line {line}: bad \\x escape in {body!r}")
            out.append(int(m.group(0), 16))
            i += 2 + len(m.group(0))
        else:
            raise TextFormatError(f"line {line}: unknown escape \\{nxt} in {body!r}")
    return out.decode("utf-8", errors="replace")


MAX_DEPTH = 100


class Parser:
    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.tokens: list[tuple[str, str, int]] = []
        pos, line = 0, 1
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m:
                raise TextFormatError(f"line {line}: unexpected character {text[pos]!r}")
            kind = m.lastgroup
            value = m.group(0)
            if kind != "ws":
                self.tokens.append((kind, value, line))  # type: ignore[arg-type]
            line += value.count("\n")
            pos = m.end()
        self.i = 0
        self.depth = 0

    def _peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _next(self, what: str) -> tuple[str, str, int]:
        tok = self._peek()
        if tok is None:
            raise TextFormatError(f"unexpected end of input, expected {what}")
        self.i += 1
        return tok

    def parse(self) -> Message:
        message = self._message(closer=None)
        return message

    def _message(self, closer: str | None, line: int | None = None) -> Message:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:  # protobuf's own text-format parser stops at 100 as well
                raise TextFormatError(f"line {line}: messages nested deeper than {MAX_DEPTH} levels")
            return self._fields_until(closer, line)
        finally:
            self.depth -= 1

    def _fields_until(self, closer: str | None, line: int | None) -> Message:
        fields = Fields()
        fields.line = line
        while True:
            tok = self._peek()
            if tok is None:
                if closer is not None:
                    raise TextFormatError(f"unexpected end of input, expected {closer!r}")
                return fields
            kind, value, line = tok
            if kind == "punct" and value == closer:
                self.i += 1
                return fields
            if kind == "punct" and value in ",;":
                self.i += 1
                continue
            if kind != "word":
                raise TextFormatError(f"line {line}: expected a field name, got {value!r}")
            self.i += 1
            fields.extend((value, v) for v in self._field_values(value, line))

    def _field_values(self, name: str, line: int) -> list[Any]:
        tok = self._next(f"a value for {name!r}")
        has_colon = tok[0] == "punct" and tok[1] == ":"
        if has_colon:
            tok = self._next(f"a value for {name!r}")
        kind, value, line = tok
        if kind == "punct" and value in "{<":
            return [self._message("}" if value == "{" else ">", line)]
        if kind == "punct" and value == "[":
            values: list[Any] = []
            while True:
                kind, value, line = self._next("']'")
                if kind == "punct" and value == "]":
                    return values
                if kind == "punct" and value == ",":
                    continue
                if kind == "punct" and value in "{<":
                    values.append(self._message("}" if value == "{" else ">", line))
                else:
                    self.i -= 1
                    values.append(self._scalar())
        if not has_colon:
            raise TextFormatError(f"line {line}: expected ':' or '{{' after {name!r}, got {value!r}")
        self.i -= 1
        return [self._scalar()]

    def _scalar(self) -> Any:
        kind, value, line = self._next("a value")
        if kind == "string":
            text = _unescape(value[1:-1], line)
            while (tok := self._peek()) is not None and tok[0] == "string":  # adjacent strings concatenate
                self.i += 1
                text += _unescape(tok[1][1:-1], tok[2])
            quoted = Quoted(text)
            quoted.line = line
            return quoted
        if kind == "word":
            word = Word(value)
            word.line = line
            return word
        raise TextFormatError(f"line {line}: expected a value, got {value!r}")


def scalar_text(value: Any, what: str) -> str:
    """A scalar field's text; a sub-message where a scalar belongs is an error."""
    if isinstance(value, list):
        raise TextFormatError(f"{at(value)}{what}: expected a value (field: value), got a message {{ ... }}")
    return str(value)


def fields(value: Any, what: str) -> Message:
    """A sub-message's fields; a scalar where a message belongs is an error."""
    if not isinstance(value, list):
        field = what.rsplit(".", 1)[-1]
        raise TextFormatError(f"{at(value)}{what}: expected a message ({field} {{ ... }}), got {value!r}")
    return value


def read_number(value: Any, what: str) -> float:
    text = scalar_text(value, what).lower()
    if re.fullmatch(r"[+-]?[0-9.]+(e[+-]?[0-9]+)?f", text):  # C-style float suffix: 1.5f
        text = text[:-1]
    try:
        if text in ("inf", "infinity", "+inf", "+infinity"):
            return math.inf
        if text in ("-inf", "-infinity"):
            return -math.inf
        if text in ("nan", "+nan", "-nan"):
            return math.nan
        if re.fullmatch(r"[+-]?0[xX][0-9a-fA-F]+", text):
            return float(int(text, 16))
        if isinstance(value, Quoted):  # a quoted "1.5" is a string, not a number (protobuf refuses it too)
            raise ValueError(text)
        return float(text)
    except (ValueError, OverflowError):
        raise TextFormatError(f"{at(value)}{what}: expected a number, got {value!r}") from None


_INTEGER = re.compile(r"([+-]?)(?:0[xX]([0-9a-fA-F]+)|(0[0-7]+)|([0-9]+))")


def read_int(value: Any, what: str) -> int:
    """An integer as protobuf reads one: decimal, hex (0x...) or octal (0...), exactly (no float detour)."""
    text = scalar_text(value, what)
    match = None if isinstance(value, Quoted) else _INTEGER.fullmatch(text)
    if match is None:
        raise TextFormatError(f"{at(value)}{what}: expected an integer, got {value!r}")
    sign, hexadecimal, octal, decimal = match.groups()
    number = int(hexadecimal, 16) if hexadecimal else int(octal, 8) if octal else int(decimal)
    return -number if sign == "-" else number


def read_bool(value: Any, what: str) -> bool:
    text = scalar_text(value, what).lower()
    if not isinstance(value, Quoted):
        if text in ("true", "t", "1"):
            return True
        if text in ("false", "f", "0"):
            return False
    raise TextFormatError(f"{at(value)}{what}: expected true or false, got {value!r}")


def get(message: Message, name: str) -> Any:
    """The last value of field ``name`` (text format merges repeats; the last wins here), or ``None``."""
    value = None
    for key, v in message:
        if key == name:
            value = v
    return value


def fmt_number(value: float) -> Word:
    if math.isinf(value):
        return Word("inf" if value > 0 else "-inf")
    if math.isnan(value):
        return Word("nan")
    return Word(repr(float(value)))


def quote(text: str) -> str:
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    )
    return f'"{escaped}"'


def format_message(message: Message, indent: int = 0) -> str:
    pad = "  " * indent
    lines: list[str] = []
    for key, value in message:
        if isinstance(value, list):
            if not value:
                lines.append(f"{pad}{key} {{\n{pad}}}")
            else:
                lines.append(f"{pad}{key} {{\n{format_message(value, indent + 1)}{pad}}}")
        elif isinstance(value, Word):
            lines.append(f"{pad}{key}: {value}")
        elif isinstance(value, bool):
            lines.append(f"{pad}{key}: {'true' if value else 'false'}")
        elif isinstance(value, (int, float)):
            lines.append(f"{pad}{key}: {fmt_number(float(value)) if isinstance(value, float) else value}")
        else:
            lines.append(f"{pad}{key}: {quote(str(value))}")
    return "".join(line + "\n" for line in lines)
