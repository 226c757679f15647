"""Python end of modelfleet's bridge: one of these runs per worker thread (pythonia child process).

The Node side calls exactly two functions, each once per operation, with and returning plain strings, so a
request costs one bridge round trip. Numeric tensors travel as one base64 blob of little-endian bytes; BYTES
tensors as JSON lists. A server supplies a loader module with `load(path, options) -> model`, where the model has
`info() -> dict` and `infer(inputs: dict[name, ndarray], outputs: list[str], parameters: dict) -> dict[name, value]`.
"""
import base64
import importlib.util
import json
import traceback
import warnings

import numpy as np

DTYPES = {
    "BOOL": "?", "UINT8": "<u1", "UINT16": "<u2", "UINT32": "<u4", "UINT64": "<u8",
    "INT8": "<i1", "INT16": "<i2", "INT32": "<i4", "INT64": "<i8",
    "FP16": "<f4", "FP32": "<f4", "FP64": "<f8", "BF16": "<f4",  # FP16/BF16 arrive widened to float32
}
KIND_TO_DATATYPE = {"b": "BOOL", "f": None, "i": None, "u": None}

_model = None


class UserError(Exception):
    """Raised by loaders for problems with the request (HTTP 400), not with the server."""


def _fail(kind, exc):
    return json.dumps({"error": {"kind": kind, "type": type(exc).__name__, "message": str(exc),
                                 "trace": traceback.format_exc(limit=8)}})


def load(loader_path, model_path, options_json):
    global _model
    try:
        spec = importlib.util.spec_from_file_location("modelfleet_loader", loader_path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _model = module.load(model_path, json.loads(options_json))
        info = _model.info()
        info.setdefault("warnings", [])
        info["warnings"] += [str(w.message) for w in caught]
        return json.dumps({"ok": info})
    except Exception as exc:  # reported to the operator at start-up, with the loader's message
        return _fail("load", exc)


def _decode(header, blob):
    raw = base64.b64decode(blob) if blob else b""
    inputs = {}
    for t in header:
        shape = tuple(t["shape"])
        if t["datatype"] == "BYTES":
            arr = np.empty(len(t["data"]), dtype=object)
            arr[:] = t["data"]
            inputs[t["name"]] = arr.reshape(shape)
        else:
            dt = np.dtype(DTYPES[t["datatype"]])
            inputs[t["name"]] = np.frombuffer(raw, dtype=dt, count=t["count"], offset=t["offset"]).reshape(shape)
    return inputs


def _datatype(arr):
    k = arr.dtype.kind
    if k == "b":
        return "BOOL"
    if k == "f":
        return {2: "FP16", 4: "FP32"}.get(arr.dtype.itemsize, "FP64")
    if k in "iu":
        return ("UINT" if k == "u" else "INT") + str(arr.dtype.itemsize * 8)
    return "BYTES"


def _encode(results):
    outputs, chunks, offset = [], [], 0
    for name, value in results.items():
        if hasattr(value, "to_numpy"):  # pandas objects
            value = value.to_numpy()
        arr = np.asarray(value)
        dt = _datatype(arr)
        entry = {"name": name, "datatype": dt, "shape": list(arr.shape)}
        if dt == "BYTES":
            entry["data"] = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in arr.ravel().tolist()]
        else:
            if dt == "FP16":
                arr, entry["datatype"] = arr.astype("<f4"), "FP32"
            data = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
            entry["offset"], entry["bytes"] = offset, len(data)
            chunks.append(data)
            offset += len(data)
        outputs.append(entry)
    return json.dumps({"ok": outputs, "blob": base64.b64encode(b"".join(chunks)).decode("ascii")})


def infer(header_json, blob, outputs_json, parameters_json):
    try:
        inputs = _decode(json.loads(header_json), blob)
        results = _model.infer(inputs, json.loads(outputs_json), json.loads(parameters_json))
        return _encode(results)
    except UserError as exc:
        return _fail("bad_input", exc)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        # What estimators raise for inputs they cannot take (wrong feature count, strings in a numeric model).
        return _fail("bad_input", exc)
    except Exception as exc:
        return _fail("internal", exc)
