"""Which features a table has: the kind of each Arrow column, and struct fields flattened as ``a.b``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sluiceway.data.statistics.model import FeatureKind

# (feature name, path of struct fields from the column, kind, element kind)
FeaturePlan = tuple[str, tuple[str, ...], FeatureKind, FeatureKind]


def feature_kind(dtype: Any) -> tuple[FeatureKind, FeatureKind]:
    """(type, value_type) of an Arrow data type."""
    import pyarrow as pa

    t = pa.types
    if t.is_dictionary(dtype):
        return feature_kind(dtype.value_type)
    if t.is_boolean(dtype):
        return FeatureKind.BOOL, FeatureKind.BOOL
    if t.is_integer(dtype):
        return FeatureKind.INT, FeatureKind.INT
    if t.is_floating(dtype) or t.is_decimal(dtype):
        return FeatureKind.FLOAT, FeatureKind.FLOAT
    if t.is_string(dtype) or t.is_large_string(dtype) or getattr(t, "is_string_view", lambda _: False)(dtype):
        return FeatureKind.STRING, FeatureKind.STRING
    if t.is_binary(dtype) or t.is_large_binary(dtype) or t.is_fixed_size_binary(dtype):
        return FeatureKind.BYTES, FeatureKind.BYTES
    if t.is_temporal(dtype):
        return FeatureKind.DATETIME, FeatureKind.DATETIME
    if t.is_list(dtype) or t.is_large_list(dtype) or t.is_fixed_size_list(dtype):
        inner, _ = feature_kind(dtype.value_type)
        if inner in (FeatureKind.LIST, FeatureKind.STRUCT):
            inner = FeatureKind.STRING  # nested lists: values are summarised as text
        return FeatureKind.LIST, inner
    if t.is_struct(dtype):
        return FeatureKind.STRUCT, FeatureKind.STRUCT
    if t.is_null(dtype):
        return FeatureKind.NULL, FeatureKind.NULL
    return FeatureKind.STRING, FeatureKind.STRING


def plan_features(schema: Any, exclude: Sequence[str] = ()) -> list[FeaturePlan]:
    """(feature name, path of struct fields, type, value_type) for every feature; structs flattened."""
    out: list[FeaturePlan] = []

    def visit(name: str, path: tuple[str, ...], dtype: Any) -> None:
        ftype, vtype = feature_kind(dtype)
        out.append((name, path, ftype, vtype))
        if ftype is FeatureKind.STRUCT:
            for i in range(dtype.num_fields):
                child = dtype.field(i)
                visit(f"{name}.{child.name}", (*path, child.name), child.type)

    for fld in schema:
        if fld.name in exclude:
            continue
        visit(fld.name, (fld.name,), fld.type)
    return out


__all__ = ["FeaturePlan", "feature_kind", "plan_features"]
