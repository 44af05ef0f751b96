"""Input patterns with spans and versions, as TFX ExampleGen understands them.

A pattern is a path with placeholders:

- ``{SPAN}`` (any number of digits) or ``{SPAN:2}`` (exactly 2 digits, zero-padded);
- ``{VERSION}`` / ``{VERSION:3}``, the same for versions (optional; needs a span or a date);
- ``{YYYY}``, ``{MM}``, ``{DD}`` together, a date span: span = days since 1970-01-01, like TFX;
- ``*`` and ``?``, shell wildcards inside one path component.

``{SPAN}`` and the date placeholders are mutually exclusive. A pattern without placeholders is span 0 and
has no version. By default the latest span, and the latest version within it, are resolved.
"""

from __future__ import annotations

import datetime as _dt
import glob
import hashlib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sluiceway.errors import DataError

_EPOCH = _dt.date(1970, 1, 1)
_TOKEN = re.compile(r"\{(SPAN|VERSION)(?::(\d+))?\}|\{(YYYY|MM|DD)\}|(\*\*?)|(\?)")


@dataclass(frozen=True)
class ResolvedInput:
    """One span (and version) of an input pattern, with the files it matched, in name order."""

    pattern: str
    span: int
    version: int | None
    files: tuple[str, ...]

    @property
    def date(self) -> _dt.date:
        """The calendar date of a date span (``{YYYY}{MM}{DD}`` patterns)."""
        return span_to_date(self.span)


@dataclass(frozen=True)
class _CompiledPattern:
    pattern: str
    glob: str
    regex: re.Pattern[str]
    has_span: bool
    has_date: bool
    has_version: bool

    @property
    def search_folder(self) -> str:
        """The deepest folder of the pattern that contains no placeholder or wildcard."""
        head = re.split(r"[*?\[{]", self.pattern, maxsplit=1)[0]
        folder = os.path.dirname(head) if not head.endswith(os.sep) else head.rstrip(os.sep)
        return folder or "."


def date_to_span(date: _dt.date) -> int:
    """The span of a date: days since 1970-01-01 (TFX's convention for ``{YYYY}{MM}{DD}``)."""
    return (date - _EPOCH).days


def span_to_date(span: int) -> _dt.date:
    """The date of a date span (inverse of :func:`date_to_span`)."""
    return _EPOCH + _dt.timedelta(days=span)


def _compile(pattern: str) -> _CompiledPattern:
    pattern = os.fspath(pattern)
    glob_parts: list[str] = []
    regex_parts: list[str] = []
    seen: dict[str, int] = {}
    pos = 0
    for match in _TOKEN.finditer(pattern):
        literal = pattern[pos : match.start()]
        glob_parts.append(glob.escape(literal))
        regex_parts.append(re.escape(literal))
        pos = match.end()
        name, width, date_part, star, question = match.groups()
        if star:
            glob_parts.append(star)
            regex_parts.append(".*" if star == "**" else "[^/]*")
            continue
        if question:
            glob_parts.append("?")
            regex_parts.append("[^/]")
            continue
        key = name or date_part
        if key in seen:
            # A repeated placeholder must match the same digits again: use a back-reference.
            glob_parts.append("*")
            regex_parts.append(f"(?P={key.lower()})")
            continue
        seen[key] = 1
        digits: int | None
        if date_part:
            digits = {"YYYY": 4, "MM": 2, "DD": 2}[date_part]
        else:
            digits = int(width) if width else None
            if width is not None and digits == 0:
                raise DataError(
                    f"Input pattern {pattern!r} has {match.group(0)}: the width must be a positive "
                    f"number of digits, got 0. Write {{{name}}} for any width or {{{name}:2}} for two digits."
                )
        if digits:
            glob_parts.append("[0-9]" * digits)
            regex_parts.append(f"(?P<{key.lower()}>[0-9]{{{digits}}})")
        else:
            glob_parts.append("*")
            regex_parts.append(f"(?P<{key.lower()}>[0-9]+)")
    glob_parts.append(glob.escape(pattern[pos:]))
    regex_parts.append(re.escape(pattern[pos:]))

    has_date_parts = {k for k in ("YYYY", "MM", "DD") if k in seen}
    if has_date_parts and has_date_parts != {"YYYY", "MM", "DD"}:
        missing = sorted({"YYYY", "MM", "DD"} - has_date_parts)
        raise DataError(
            f"Input pattern {pattern!r} has a partial date: {{YYYY}}, {{MM}} and {{DD}} must all appear, "
            f"but {', '.join('{' + m + '}' for m in missing)} is missing. Add it, or use {{SPAN}} instead."
        )
    if "SPAN" in seen and has_date_parts:
        raise DataError(
            f"Input pattern {pattern!r} has both {{SPAN}} and a date ({{YYYY}}{{MM}}{{DD}}); they are two "
            "ways to say the same thing. Keep one of them."
        )
    if "VERSION" in seen and not ("SPAN" in seen or has_date_parts):
        raise DataError(
            f"Input pattern {pattern!r} has {{VERSION}} but no {{SPAN}} or {{YYYY}}{{MM}}{{DD}}; a version "
            "is a version of a span. Add {SPAN} (or a date) to the pattern."
        )
    return _CompiledPattern(
        pattern=pattern,
        glob="".join(glob_parts),
        regex=re.compile("".join(regex_parts) + r"\Z"),
        has_span="SPAN" in seen,
        has_date=bool(has_date_parts),
        has_version="VERSION" in seen,
    )


def _scan(compiled: _CompiledPattern) -> dict[int, dict[int | None, list[str]]]:
    """Every matched file grouped by span, then version."""
    folder = compiled.search_folder
    if not os.path.isdir(folder):
        raise DataError(
            f"Input pattern {compiled.pattern!r} cannot match anything: its folder {folder!r} does not exist "
            f"(searched the glob {compiled.glob!r}). Check the path, or create the folder and put the input "
            "files in it."
        )
    found: dict[int, dict[int | None, list[str]]] = {}
    for path in glob.iglob(compiled.glob, recursive=True):
        if not os.path.isfile(path):
            continue
        match = compiled.regex.match(path)
        if match is None:
            continue
        groups = match.groupdict()
        if compiled.has_date:
            try:
                date = _dt.date(int(groups["yyyy"]), int(groups["mm"]), int(groups["dd"]))
            except ValueError as exc:
                raise DataError(
                    f"File {path!r} matches the date pattern {compiled.pattern!r} but its date "
                    f"{groups['yyyy']}-{groups['mm']}-{groups['dd']} is not a calendar date ({exc}). "
                    "Rename or remove the file."
                ) from None
            span = date_to_span(date)
        elif compiled.has_span:
            span = int(groups["span"])
        else:
            span = 0
        version = int(groups["version"]) if compiled.has_version else None
        found.setdefault(span, {}).setdefault(version, []).append(path)
    if not found:
        try:
            entries = sorted(os.listdir(folder))
        except OSError:
            entries = []
        shown = ", ".join(entries[:10]) + (f", ... ({len(entries)} in all)" if len(entries) > 10 else "")
        raise DataError(
            f"Input pattern {compiled.pattern!r} matched no files: searched the glob {compiled.glob!r} in the "
            f"folder {folder!r}, which contains [{shown}]. Expected at least one file. Fix the pattern or add "
            "input files."
        )
    return found


def _resolved(compiled: _CompiledPattern, span: int, versions: dict[int | None, list[str]],
              version: int | None) -> ResolvedInput:
    if version is None:
        version = max((v for v in versions if v is not None), default=None)
    elif version not in versions:
        raise DataError(
            f"Input pattern {compiled.pattern!r} has no version {version} of span {span}; it has versions "
            f"{sorted(v for v in versions if v is not None)}. Pick one of those or leave version unset for the "
            "latest."
        )
    return ResolvedInput(compiled.pattern, span, version, tuple(sorted(versions[version])))


def list_spans(pattern: str) -> list[ResolvedInput]:
    """Every span the pattern matches, each at its latest version, in span order."""
    compiled = _compile(pattern)
    found = _scan(compiled)
    return [_resolved(compiled, span, found[span], None) for span in sorted(found)]


def resolve_pattern(pattern: str, *, span: int | None = None, version: int | None = None) -> ResolvedInput:
    """Resolve a pattern to one (span, version, files): by default the latest span and its latest version.

    Raises DataError if the folder is missing, nothing matches, or the requested span/version is absent.
    """
    compiled = _compile(pattern)
    found = _scan(compiled)
    if span is None:
        if version is not None and not compiled.has_version:
            raise DataError(f"Input pattern {pattern!r} has no {{VERSION}}; got version={version}. Remove it.")
        span = max(found)
    elif span not in found:
        raise DataError(
            f"Input pattern {pattern!r} has no span {span}; spans found: {_short(sorted(found))}. Pick one of "
            "those, or leave span unset for the latest."
        )
    return _resolved(compiled, span, found[span], version)


def span_range(pattern: str, start: int, end: int) -> list[ResolvedInput]:
    """The spans from ``start`` to ``end`` inclusive that the pattern matches, each at its latest version.

    Raises DataError if none of them exists.
    """
    if start > end:
        raise DataError(f"span_range got start={start} after end={end}; expected start <= end. Swap them.")
    compiled = _compile(pattern)
    found = _scan(compiled)
    chosen = [s for s in sorted(found) if start <= s <= end]
    if not chosen:
        raise DataError(
            f"Input pattern {pattern!r} has no span in [{start}, {end}]; spans found: {_short(sorted(found))}. "
            "Widen the range."
        )
    return [_resolved(compiled, s, found[s], None) for s in chosen]


def rolling_window(pattern: str, num_spans: int) -> list[ResolvedInput]:
    """The last ``num_spans`` spans the pattern matches (fewer if fewer exist), oldest first."""
    if num_spans < 1:
        raise DataError(f"rolling_window needs num_spans >= 1; got {num_spans}. Pass a positive count.")
    return list_spans(pattern)[-num_spans:]


def resolve_splits(patterns: Mapping[str, str], *, span: int | None = None,
                   version: int | None = None) -> dict[str, ResolvedInput]:
    """Resolve one pattern per split (pre-split input) to the same span and version across splits.

    By default the latest span that every split has. Raises DataError if the splits share no span.
    """
    if not patterns:
        raise DataError("Pre-split input needs at least one split pattern; got an empty mapping.")
    if span is None:
        common: set[int] | None = None
        for pattern in patterns.values():
            spans = {r.span for r in list_spans(pattern)}
            common = spans if common is None else common & spans
        if not common:
            raise DataError(
                f"The split patterns {dict(patterns)} share no span; every split needs the same span. "
                "Add the missing span's files or pick a span that all of them have."
            )
        span = max(common)
    return {name: resolve_pattern(p, span=span, version=version) for name, p in patterns.items()}


def input_fingerprint(files: Iterable[str | os.PathLike[str]]) -> str:
    """A cache key for input files from their (path, size, mtime); changes when any file changes.

    Contents are not read, so it is cheap on large inputs (like TFX's fingerprint of a span).
    """
    digest = hashlib.sha256()
    for path in sorted(os.path.abspath(os.fspath(f)) for f in files):
        stat = os.stat(path)
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return "sha256:" + digest.hexdigest()


def _short(values: Sequence[int]) -> str:
    if len(values) <= 8:
        return str(list(values))
    return f"[{values[0]}, {values[1]}, ..., {values[-1]}] ({len(values)} spans)"


__all__ = [
    "ResolvedInput",
    "date_to_span",
    "input_fingerprint",
    "list_spans",
    "resolve_pattern",
    "resolve_splits",
    "rolling_window",
    "span_range",
    "span_to_date",
]
