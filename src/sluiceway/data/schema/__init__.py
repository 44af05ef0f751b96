"""The data schema: what a feature's data is expected to look like, curated by people and frozen.

* ``model``: ``DataSchema``, ``Feature`` and their parts, and the YAML form (see its docstring for the
  file format and the differences from TFDV);
* ``inference``: ``infer_schema`` from statistics;
* ``pbtxt``: TFDV's ``schema.pbtxt`` text format, read and written without tensorflow-metadata;
* ``files``: ``load_schema`` / ``write_schema``, YAML or pbtxt by the file's suffix.
"""

from __future__ import annotations

from sluiceway.data.schema.files import load_schema, write_schema
from sluiceway.data.schema.inference import infer_schema, listed_values, normalize_type
from sluiceway.data.schema.model import (
    DEFAULT_MAX_DOMAIN_SIZE,
    FEATURE_TYPES,
    SCHEMA_VERSION,
    SERVING,
    TRAINING,
    Comparator,
    DataSchema,
    Feature,
    FeatureType,
    Presence,
    Range,
    ValueCount,
)

__all__ = [
    "DEFAULT_MAX_DOMAIN_SIZE",
    "FEATURE_TYPES",
    "SCHEMA_VERSION",
    "SERVING",
    "TRAINING",
    "Comparator",
    "DataSchema",
    "Feature",
    "FeatureType",
    "Presence",
    "Range",
    "ValueCount",
    "infer_schema",
    "listed_values",
    "load_schema",
    "normalize_type",
    "write_schema",
]
