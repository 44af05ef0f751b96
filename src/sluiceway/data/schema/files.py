"""Reading and writing schema files: Sluiceway's YAML or TFDV's ``schema.pbtxt``, chosen by the suffix."""

from __future__ import annotations

from pathlib import Path

from sluiceway.data.schema.model import DataSchema, read_schema_text
from sluiceway.errors import DataError

YAML_SUFFIXES = (".yaml", ".yml")
JSON_SUFFIXES = (".json",)  # the YAML document written as JSON (JSON is a subset of YAML, so it reads as YAML)
PBTXT_SUFFIXES = (".pbtxt", ".txt", ".textproto")


def schema_format(path: Path, what: str) -> str:
    suffix = path.suffix.lower()
    if suffix in YAML_SUFFIXES:
        return "yaml"
    if suffix in JSON_SUFFIXES:
        return "json"
    if suffix in PBTXT_SUFFIXES:
        return "pbtxt"
    raise DataError(
        f"Cannot tell the format of schema file {str(path)!r} from its suffix {suffix or '(none)'!r}: {what} "
        f"Sluiceway's YAML schema ({', '.join(YAML_SUFFIXES)}), the same as JSON (.json) or TFDV's text format "
        f"({', '.join(PBTXT_SUFFIXES)}). Rename the file, or use DataSchema.from_yaml_text/from_pbtxt_text."
    )


def load_schema(path: str | Path) -> DataSchema:
    """Read a schema file: YAML (``.yaml``/``.yml``), JSON (``.json``) or TFDV's text format (``.pbtxt``…).

    A ``sluiceway.Schema`` artifact folder (holding ``schema.yaml``) works too. Every problem — a missing
    file, an unknown suffix, malformed text, unknown fields, wrong types — is a ``DataError`` naming the
    file (and the line where known)."""
    from sluiceway.artifacts.standard import Schema

    file = Path(path)
    if file.is_dir() and (file / Schema.FILENAME).is_file():
        file = file / Schema.FILENAME
    kind = schema_format(file, "it reads")
    text = read_schema_text(file)
    if kind == "pbtxt":
        return DataSchema.from_pbtxt_text(text, source=str(file))
    return DataSchema.from_yaml_text(text, source=str(file))


def write_schema(schema: DataSchema, path: str | Path) -> Path:
    """Write ``schema`` as YAML, JSON or TFDV text format, by the suffix of ``path``; returns the path."""
    file = Path(path)
    kind = schema_format(file, "it writes")
    try:
        if kind == "pbtxt":
            schema.to_pbtxt(file)
        elif kind == "json":
            import json

            import yaml

            # The same document as the YAML form (one serialisation), written as JSON.
            document = yaml.safe_load(schema.to_yaml())
            file.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        else:
            schema.to_yaml(file)
    except OSError as exc:
        raise DataError(
            f"Cannot write schema file {str(file)!r}: {exc}. Check that its folder exists and is writable."
        ) from exc
    return file


__all__ = ["JSON_SUFFIXES", "PBTXT_SUFFIXES", "YAML_SUFFIXES", "load_schema", "write_schema"]
