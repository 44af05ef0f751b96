"""What a ``preprocessing_fn`` calls: analyzers (full-pass reducers) and the ops built on them.

Every function returns an ``Expr`` node; nothing is computed here. Analyzers (``mean``, ``var``, ``min``,
``max``, ``count``, ``quantiles``, ``vocabulary``) become constants after the one full pass over the
analyze splits; the mapping ops (``scale_to_z_score``, ``bucketize``, ...) combine a column with them.

Missing values: analyzers skip nulls; mapping ops turn a null into a null (never a made-up number), so a
model sees exactly which values were missing. Replace them explicitly with ``fill_missing``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sluiceway.errors import DefinitionError
from sluiceway.transform.expressions import NUMERIC, Expr, as_expr, deferred, unary


def _check_int(name: str, owner: str, value: Any, minimum: int, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        allowed = f"an int >= {minimum}" + (" or None" if allow_none else "")
        raise DefinitionError(f"The {name!r} parameter of T.{owner} must be {allowed}. Got {value!r} instead.")


def _input(value: Any, owner: str, kinds: Sequence[str]) -> Expr:
    node = as_expr(value, f"the input of T.{owner}")
    if node.kind not in kinds:
        raise DefinitionError(
            f"T.{owner} needs {' or '.join(kinds)} values; got {node.describe()}, which is {node.kind}."
            + (
                " Encode strings first with T.compute_and_apply_vocabulary or T.hash_strings."
                if "string" == node.kind
                else ""
            )
        )
    return node


def _analyzer(name: str, value: Any, kinds: Sequence[str], result_kind: str, **params: Any) -> Expr:
    node = _input(value, name, kinds)
    return Expr("analyzer", (node,), {"analyzer": name, **params}, result_kind)


# ---- reducers ---------------------------------------------------------------------------------------


@deferred
def mean(x: Any) -> Expr:
    """The mean of ``x`` over the analyze splits (nulls and NaN skipped)."""
    return _analyzer("mean", x, NUMERIC, "float")


@deferred
def var(x: Any) -> Expr:
    """The population variance of ``x`` (nulls and NaN skipped), as tf.Transform's ``tft.var``."""
    return _analyzer("var", x, NUMERIC, "float")


@deferred
def min(x: Any) -> Expr:  # noqa: A001 - the analyzer's name, as in tf.Transform
    """The smallest value of ``x``."""
    return _analyzer("min", x, NUMERIC, "float")


@deferred
def max(x: Any) -> Expr:  # noqa: A001
    """The largest value of ``x``."""
    return _analyzer("max", x, NUMERIC, "float")


@deferred
def count(x: Any) -> Expr:
    """The number of non-null values of ``x``."""
    return _analyzer("count", x, (*NUMERIC, "string", "bool"), "int")


@deferred
def quantiles(x: Any, num_buckets: int) -> Expr:
    """The ``num_buckets - 1`` boundaries that cut ``x`` into buckets of about equal counts (deduplicated).

    Deterministic: the same data gives the same boundaries, byte for byte (see ``quantiles.py``)."""
    _check_int("num_buckets", "quantiles", num_buckets, 2)
    return _analyzer("quantiles", x, NUMERIC, "boundaries", num_buckets=num_buckets)


@deferred
def vocabulary(x: Any, *, top_k: int | None = None, frequency_threshold: int = 1) -> Expr:
    """The distinct values of ``x`` seen at least ``frequency_threshold`` times, most frequent first (ties by
    value), at most ``top_k`` of them."""
    _check_int("top_k", "vocabulary", top_k, 1, allow_none=True)
    _check_int("frequency_threshold", "vocabulary", frequency_threshold, 1)
    return _analyzer(
        "vocabulary", x, ("string", "int"), "vocabulary", top_k=top_k, frequency_threshold=frequency_threshold
    )


# ---- mapping ops --------------------------------------------------------------------------------------


@deferred
def scale_to_z_score(x: Any) -> Expr:
    """``(x - mean(x)) / std(x)``; where the standard deviation is 0, ``x - mean(x)`` (tf.Transform's rule)."""
    node = _input(x, "scale_to_z_score", NUMERIC)
    return Expr("z_score", (node, mean(node), var(node)), {}, "float")


@deferred
def scale_by_min_max(x: Any, output_min: float = 0.0, output_max: float = 1.0) -> Expr:
    """Map ``[min(x), max(x)]`` linearly onto ``[output_min, output_max]``; a constant column maps to the
    middle of the output range. Values outside the fitted range fall outside the output range (not clipped)."""
    node = _input(x, "scale_by_min_max", NUMERIC)
    for name, value in (("output_min", output_min), ("output_max", output_max)):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise DefinitionError(
                f"The {name!r} parameter of T.scale_by_min_max must be a number. Got {value!r} instead."
            )
    if output_min >= output_max:
        raise DefinitionError(
            f"T.scale_by_min_max needs output_min < output_max. "
            f"Got output_min={output_min!r}, output_max={output_max!r}."
        )
    return Expr(
        "min_max",
        (node, min(node), max(node)),
        {"output_min": float(output_min), "output_max": float(output_max)},
        "float",
    )


@deferred
def scale_to_0_1(x: Any) -> Expr:
    """``scale_by_min_max(x, 0, 1)``."""
    return scale_by_min_max(x, 0.0, 1.0)


@deferred
def apply_vocabulary(x: Any, vocab: Any, *, num_oov_buckets: int = 0, default_value: int = -1) -> Expr:
    """The position of each value of ``x`` in ``vocab`` (a ``T.vocabulary(...)`` or a list of values).

    A value not in the vocabulary goes to one of ``num_oov_buckets`` extra ids after the vocabulary (chosen by
    a stable hash of the value), or is ``default_value`` when there are no OOV buckets. Nulls stay null."""
    node = _input(x, "apply_vocabulary", ("string", "int"))
    _check_int("num_oov_buckets", "apply_vocabulary", num_oov_buckets, 0)
    if not isinstance(default_value, int) or isinstance(default_value, bool):
        raise DefinitionError(
            f"The 'default_value' parameter of T.apply_vocabulary must be an int. Got {default_value!r} instead."
        )
    if isinstance(vocab, (list, tuple)):
        if not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in vocab) or len(set(vocab)) != len(
            vocab
        ):
            raise DefinitionError("T.apply_vocabulary needs a list of distinct strings or ints as its vocabulary.")
        vocab = Expr("literal", (), {"value": list(vocab)}, "vocabulary")
    if not isinstance(vocab, Expr) or vocab.kind != "vocabulary":
        raise DefinitionError(
            f"The 'vocab' argument of T.apply_vocabulary must be T.vocabulary(...) or a list of values. "
            f"Got {vocab!r} instead."
        )
    return Expr(
        "apply_vocabulary", (node, vocab), {"num_oov_buckets": num_oov_buckets, "default_value": default_value}, "int"
    )


@deferred
def compute_and_apply_vocabulary(
    x: Any,
    *,
    top_k: int | None = None,
    frequency_threshold: int = 1,
    num_oov_buckets: int = 0,
    default_value: int = -1,
) -> Expr:
    """Integer ids of the values of ``x``: ``apply_vocabulary(x, vocabulary(x, ...))``."""
    vocab = vocabulary(x, top_k=top_k, frequency_threshold=frequency_threshold)
    return apply_vocabulary(x, vocab, num_oov_buckets=num_oov_buckets, default_value=default_value)


@deferred
def apply_buckets(x: Any, boundaries: Any) -> Expr:
    """The bucket of each value: 0 below ``boundaries[0]``, ``i`` for ``boundaries[i-1] <= x < boundaries[i]``,
    ``len(boundaries)`` from the last boundary up. ``boundaries``: ``T.quantiles(...)`` or a sorted list."""
    node = _input(x, "apply_buckets", NUMERIC)
    if isinstance(boundaries, (list, tuple)):
        values = list(boundaries)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values) or values != sorted(values):
            raise DefinitionError(
                f"T.apply_buckets needs a sorted list of numbers as boundaries. Got {values!r} instead."
            )
        boundaries = Expr("literal", (), {"value": [float(v) for v in values]}, "boundaries")
    if not isinstance(boundaries, Expr) or boundaries.kind != "boundaries":
        raise DefinitionError(
            f"The 'boundaries' argument of T.apply_buckets must be T.quantiles(...) or a sorted list of numbers. "
            f"Got {boundaries!r} instead."
        )
    return Expr("apply_buckets", (node, boundaries), {}, "int")


@deferred
def bucketize(x: Any, num_buckets: int) -> Expr:
    """Bucket ids by quantiles: ``apply_buckets(x, quantiles(x, num_buckets))``. Ids run from 0 to
    ``num_buckets - 1`` (fewer when many values are equal: duplicate boundaries are merged)."""
    _check_int("num_buckets", "bucketize", num_buckets, 2)
    node = _input(x, "bucketize", NUMERIC)
    return apply_buckets(node, quantiles(node, num_buckets))


@deferred
def hash_strings(x: Any, hash_buckets: int) -> Expr:
    """A stable hash of each string into ``[0, hash_buckets)`` (the same in every process and version)."""
    node = _input(x, "hash_strings", ("string",))
    _check_int("hash_buckets", "hash_strings", hash_buckets, 1)
    return Expr("hash_strings", (node,), {"hash_buckets": hash_buckets}, "int")


@deferred
def tfidf(x: Any, *, top_k: int = 100, frequency_threshold: int = 1) -> Expr:
    """TF-IDF weights of the whitespace-separated tokens of a text column, as a list of ``len(terms)`` floats.

    Terms: the ``top_k`` tokens found in the most documents (rows), at least ``frequency_threshold`` of them,
    ties by token. Weight of a term in a row: ``tf * idf`` with ``tf`` = its count / the row's token count and
    ``idf = 1 + ln((1 + N) / (1 + df))`` (N rows, df rows containing it: tf.Transform's smoothed idf). A null
    row gives null; an empty row gives zeros."""
    node = _input(x, "tfidf", ("string",))
    _check_int("top_k", "tfidf", top_k, 1)
    _check_int("frequency_threshold", "tfidf", frequency_threshold, 1)
    stats = Expr(
        "analyzer",
        (node,),
        {"analyzer": "document_frequency", "top_k": top_k, "frequency_threshold": frequency_threshold},
        "idf",
    )
    return Expr("tfidf", (node, stats), {}, "list<float>")


@deferred
def fill_missing(x: Any, value: Any) -> Expr:
    """``x`` with nulls (and NaN, for floats) replaced by ``value``: a constant or an analyzer (``T.mean(x)``)."""
    node = as_expr(x, "the input of T.fill_missing")
    filler = as_expr(value, "the value of T.fill_missing")
    numeric_pair = node.kind in NUMERIC and filler.kind in NUMERIC
    if not numeric_pair and node.kind != filler.kind:
        raise DefinitionError(
            f"T.fill_missing: the value {filler.describe()} is {filler.kind} but {node.describe()} is {node.kind}; "
            "give a value of the same type."
        )
    if filler.kind not in ("int", "float", "string", "bool"):
        raise DefinitionError(f"T.fill_missing needs a scalar value; {filler.describe()} is {filler.kind}.")
    kind = "float" if numeric_pair and "float" in (node.kind, filler.kind) else node.kind
    return Expr("fill_missing", (node, filler), {}, kind)


@deferred
def sqrt(x: Any) -> Expr:
    """The square root (NaN for negative values, as numpy)."""
    return unary("sqrt", x)


@deferred
def log1p(x: Any) -> Expr:
    """``ln(1 + x)``."""
    return unary("log1p", x)


@deferred
def exp(x: Any) -> Expr:
    """``e ** x``."""
    return unary("exp", x)


__all__ = [
    "apply_buckets",
    "apply_vocabulary",
    "bucketize",
    "compute_and_apply_vocabulary",
    "count",
    "exp",
    "fill_missing",
    "hash_strings",
    "log1p",
    "max",
    "mean",
    "min",
    "quantiles",
    "scale_by_min_max",
    "scale_to_0_1",
    "scale_to_z_score",
    "sqrt",
    "tfidf",
    "var",
    "vocabulary",
]
