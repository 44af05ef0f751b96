"""Open Inference Protocol v2 (KServe, Triton): tensors in, tensors out, with the binary tensor extension.

A tabular model takes one input tensor per feature of its signature, named after the feature, of shape
``[batch]`` or ``[batch, 1]`` (``BYTES`` for strings, ``INT*``/``UINT*``/``FP*`` for numbers, ``BOOL``).
It returns ``label`` (``BYTES`` or ``INT64``, ``[batch]``) and ``probabilities`` (``FP64``,
``[batch, classes]``) for a classifier, ``prediction`` (``FP64``, ``[batch]``) for a regressor.

Binary tensor extension (what ``tritonclient`` sends by default): the request header
``Inference-Header-Content-Length: N`` says the first N bytes of the body are the JSON request; an input
with ``parameters.binary_data_size`` takes that many bytes from the rest, in order (little-endian values;
``BYTES`` elements as a 4-byte little-endian length then the bytes). Outputs come back the same way when the
request asks (``parameters.binary_data_output`` or an output's ``parameters.binary_data``).
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import orjson

from sluiceway.serving.inputs import RequestError, check_batch_size, checked_value
from sluiceway.serving.repository import ServedModel

NUMPY_TYPES = {
    "BOOL": np.dtype(np.bool_),
    "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "UINT8": np.dtype("<u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
}
# Which tensor datatypes a feature of each signature type accepts.
ACCEPTED = {
    "int": {"INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"},
    "float": {"INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64", "FP16", "FP32", "FP64"},
    "bool": {"BOOL"},
    "string": {"BYTES"},
    "bytes": {"BYTES"},
    "datetime": {"BYTES"},
}


def datatype_of(kind: str) -> str:
    return {"int": "INT64", "float": "FP64", "bool": "BOOL"}.get(kind, "BYTES")


def split_body(body: bytes, header_length: str | None) -> tuple[dict[str, Any], memoryview]:
    """The JSON request and the binary tail (empty without the extension)."""
    if header_length is None:
        json_part, tail = body, b""
    else:
        try:
            length = int(header_length)
        except ValueError:
            raise RequestError(
                400, f"Inference-Header-Content-Length must be an integer; got {header_length!r}."
            ) from None
        if not 0 < length <= len(body):
            raise RequestError(400, f"Inference-Header-Content-Length is {length} but the body has {len(body)} bytes.")
        json_part, tail = body[:length], body[length:]
    try:
        request = orjson.loads(json_part)
    except orjson.JSONDecodeError as exc:
        raise RequestError(400, f"The inference request is not valid JSON: {exc}.") from None
    if not isinstance(request, dict):
        raise RequestError(400, "The inference request must be a JSON object with an 'inputs' list.")
    return request, memoryview(tail)


def _shape(tensor: dict[str, Any], name: str) -> list[int]:
    shape = tensor.get("shape")
    if not (isinstance(shape, list) and shape and all(type(d) is int and d >= 0 for d in shape)):
        raise RequestError(400, f"Input {name!r} needs a 'shape': a list of non-negative integers; got {shape!r}.")
    if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
        raise RequestError(
            400, f"Input {name!r} has shape {shape}; a feature tensor is [batch] or [batch, 1] (one value per row)."
        )
    return shape


def _binary_values(
    tensor: dict[str, Any], name: str, datatype: str, count: int, tail: memoryview, offset: int
) -> tuple[list[Any], int]:
    size = tensor["parameters"]["binary_data_size"]
    if type(size) is not int or size < 0 or offset + size > len(tail):
        raise RequestError(400, f"Input {name!r}: binary_data_size {size!r} overruns the binary data of the request.")
    chunk = tail[offset : offset + size]
    if datatype == "BYTES":
        values: list[Any] = []
        position = 0
        while position < size:
            if position + 4 > size:
                raise RequestError(400, f"Input {name!r}: truncated BYTES element in the binary data.")
            (length,) = struct.unpack_from("<I", chunk, position)
            position += 4
            if position + length > size:
                raise RequestError(400, f"Input {name!r}: a BYTES element overruns the binary data.")
            values.append(_text(bytes(chunk[position : position + length]), name))
            position += length
    else:
        dtype = NUMPY_TYPES[datatype]
        if size != count * dtype.itemsize:
            raise RequestError(
                400,
                f"Input {name!r}: {size} bytes of binary data for {count} {datatype} values "
                f"({count * dtype.itemsize} expected).",
            )
        values = np.frombuffer(chunk, dtype=dtype).tolist()
    return values, offset + size


def _text(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError(400, f"Input {name!r}: a BYTES value is not UTF-8 text.") from None


def _json_values(tensor: dict[str, Any], name: str) -> list[Any]:
    data = tensor.get("data")
    if not isinstance(data, list):
        raise RequestError(400, f"Input {name!r} needs 'data' (a list of values) or binary data.")
    flat: list[Any] = []
    for item in data:
        if isinstance(item, list):
            flat.extend(item)
        else:
            flat.append(item)
    return flat


def checked_infer_rows(
    served: ServedModel, request: dict[str, Any], tail: memoryview, max_batch: int
) -> list[dict[str, Any]]:
    """The request's input tensors as clean rows (one per batch element), checked like any other request."""
    tensors = request.get("inputs")
    if not isinstance(tensors, list) or not all(isinstance(t, dict) for t in tensors):
        raise RequestError(400, "The inference request needs 'inputs': a list of tensors, one per feature.")
    by_name: dict[str, dict[str, Any]] = {}
    columns: dict[str, list[Any]] = {}
    offset = 0
    for tensor in tensors:  # in order: binary data follows the order of the inputs
        name = tensor.get("name")
        if not isinstance(name, str):
            raise RequestError(400, "Every input tensor needs a 'name' (the feature it holds).")
        by_name[name] = tensor
        shape = _shape(tensor, name)
        datatype = tensor.get("datatype")
        if not isinstance(datatype, str) or (datatype not in NUMPY_TYPES and datatype != "BYTES"):
            raise RequestError(
                400, f"Input {name!r} has datatype {datatype!r}; expected one of {sorted([*NUMPY_TYPES, 'BYTES'])}."
            )
        parameters = tensor.get("parameters")
        if isinstance(parameters, dict) and "binary_data_size" in parameters:
            values, offset = _binary_values(tensor, name, datatype, shape[0], tail, offset)
        else:
            values = _json_values(tensor, name)
        if len(values) != shape[0]:
            raise RequestError(400, f"Input {name!r} has shape {shape} but holds {len(values)} values.")
        columns[name] = values
    count = None
    for feature, kind in served.inputs:
        tensor = by_name.get(feature)
        if tensor is None:
            raise RequestError(
                400,
                f"The request lacks the input {feature!r} ({datatype_of(kind)}, shape [batch]). Send one "
                f"tensor per feature of the model: {', '.join(f'{n} ({datatype_of(k)})' for n, k in served.inputs)}.",
            )
        if tensor["datatype"] not in ACCEPTED.get(kind, {"BYTES"}):
            raise RequestError(
                400,
                f"Input {feature!r} has datatype {tensor['datatype']}; the feature is {kind} in the model's "
                f"signature: send {datatype_of(kind)}.",
            )
        if count is None:
            count = len(columns[feature])
        elif len(columns[feature]) != count:
            raise RequestError(
                400,
                f"Input {feature!r} holds {len(columns[feature])} values, others {count}: "
                "send one value per row in every input.",
            )
    count = count or 0
    check_batch_size(count, max_batch)
    return [{f: checked_value(columns[f][i], kind, f, f"Row {i}") for f, kind in served.inputs} for i in range(count)]


def requested_outputs(served: ServedModel, request: dict[str, Any]) -> tuple[list[str], set[str]]:
    """The outputs to compute, and which of them go back as binary data."""
    parameters = request.get("parameters")
    all_binary = isinstance(parameters, dict) and parameters.get("binary_data_output") is True
    asked = request.get("outputs")
    if asked is None:
        names = list(served.output_names)
        return names, set(names) if all_binary else set()
    if not isinstance(asked, list) or not all(isinstance(o, dict) and isinstance(o.get("name"), str) for o in asked):
        raise RequestError(400, "'outputs' must be a list of objects with a 'name'.")
    names, binary = [], set()
    for output in asked:
        name = output["name"]
        if name not in served.output_names:
            raise RequestError(
                400, f"Unknown output {name!r}; model {served.name!r} has the outputs {list(served.output_names)}."
            )
        names.append(name)
        output_parameters = output.get("parameters")
        if all_binary or (isinstance(output_parameters, dict) and output_parameters.get("binary_data") is True):
            binary.add(name)
    return names, binary


def infer_response(
    served: ServedModel, request: dict[str, Any], names: list[str], binary: set[str], results: dict[str, list[Any]]
) -> tuple[bytes, int | None]:
    """The response body, and the JSON header's length when binary outputs follow it."""
    tensors = []
    blobs = []
    for name in names:
        values = results[name]
        if name == "probabilities":
            datatype, shape = "FP64", [len(values), len(served.classes or ())]
            flat: list[Any] = [p for row in values for p in row]
        elif name == "label" and served.label_type == "string":
            datatype, shape, flat = "BYTES", [len(values)], [str(v) for v in values]
        elif name == "label":
            datatype, shape, flat = "INT64", [len(values)], values
        else:
            datatype, shape, flat = "FP64", [len(values)], values
        tensor: dict[str, Any] = {"name": name, "datatype": datatype, "shape": shape}
        if name in binary:
            blob = _encode_binary(datatype, flat)
            tensor["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            tensor["data"] = flat
        tensors.append(tensor)
    response: dict[str, Any] = {"model_name": served.name, "model_version": served.version_text, "outputs": tensors}
    if "id" in request and isinstance(request["id"], str):
        response["id"] = request["id"]
    header = orjson.dumps(response)
    if not blobs:
        return header, None
    return header + b"".join(blobs), len(header)


def _encode_binary(datatype: str, values: list[Any]) -> bytes:
    if datatype == "BYTES":
        parts = []
        for value in values:
            raw = value.encode("utf-8")
            parts.append(struct.pack("<I", len(raw)) + raw)
        return b"".join(parts)
    return np.asarray(values, dtype=NUMPY_TYPES[datatype]).tobytes()


def model_metadata(served: ServedModel, versions: list[int]) -> dict[str, Any]:
    outputs: list[dict[str, Any]]
    if served.classes is None:
        outputs = [{"name": "prediction", "datatype": "FP64", "shape": [-1]}]
    else:
        outputs = [
            {"name": "label", "datatype": "BYTES" if served.label_type == "string" else "INT64", "shape": [-1]},
            {"name": "probabilities", "datatype": "FP64", "shape": [-1, len(served.classes)]},
        ]
    return {
        "name": served.name,
        "versions": [str(v) for v in versions],
        "platform": f"sluiceway_{served.model.flavor}",
        "inputs": [{"name": n, "datatype": datatype_of(k), "shape": [-1]} for n, k in served.inputs],
        "outputs": outputs,
    }
