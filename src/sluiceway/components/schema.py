"""SchemaGen infers a data schema from statistics; ImportSchemaGen brings in a curated, frozen one.

The schema is a readable YAML file (``Schema.file``, see ``sluiceway.data.schema``). The usual workflow, as
with TFX: let SchemaGen infer a first schema, copy it into the repository, curate it (domains, presence,
ranges, drift/skew thresholds, environments) and switch to ``ImportSchemaGen(schema_file="schema.yaml")``.
TFDV ``schema.pbtxt`` files import as well.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from sluiceway.artifacts import ExampleStatistics, Schema
from sluiceway.data.schema.files import load_schema
from sluiceway.dsl.component import Component, Input, Output


class SchemaGen(Component):
    """ExampleStatistics → Schema: types, presence, categorical domains (and ranges if asked)."""

    def execute(  # type: ignore[override]
        self,
        statistics: Input[ExampleStatistics],
        schema: Output[Schema],
        *,
        split: str | None = None,
        label: str | None = None,
        max_domain_size: int = 100,
        infer_ranges: bool = False,
    ) -> None:
        from sluiceway.data.schema import infer_schema
        from sluiceway.data.statistics import load_statistics

        stats = load_statistics(statistics.file)
        inferred = infer_schema(
            stats, split=split, label=label, max_domain_size=max_domain_size, infer_ranges=infer_ranges
        )
        inferred.to_yaml(schema.file)
        schema.properties["num_features"] = len(inferred.features)


class ImportSchemaGen(Component):
    """A curated schema file (YAML, or TFDV schema.pbtxt) → Schema. Re-runs when the file changes."""

    def execute(self, schema: Output[Schema], *, schema_file: str) -> None:  # type: ignore[override]
        loaded = load_schema(schema_file)
        loaded.to_yaml(schema.file)
        schema.properties["num_features"] = len(loaded.features)
        schema.properties["source"] = str(Path(schema_file).resolve())

    def cache_key(self) -> dict[str, Any]:
        path = Path(self.parameters["schema_file"])
        try:
            return {"schema_sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        except OSError as exc:  # the executor reports a missing file with the full message
            return {"schema_error": str(exc)}
