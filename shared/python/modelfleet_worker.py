"""Python end of modelfleet's bridge: one process per worker, serving every model of the server's Python engine.

Framing on fds 3 (requests in) and 4 (replies out), so anything the model prints on stdout/stderr goes to the
server log and cannot corrupt the protocol. A frame is: uint32 LE header length, uint32 LE blob length, a JSON
header, then the blob: numeric tensors travel as raw little-endian bytes, never as per-element JSON.

A server supplies a loader module with `load(path, options) -> model`, where the model has `info() -> dict` and
`infer(inputs: dict[name, ndarray], outputs: list[str], parameters: dict) -> dict[name, array-like]` (or a pair:
that dict and a response parameters dict, when the answer needs describing, e.g. MLServer's content_type), and may
have `call(header, blob) -> (reply header, byte chunks)` for other operations. Frames name their model by the id the
server gave it at load (`model`); `unload` frees one. One process holds many models, so they share the interpreter
and the libraries it imported.
"""
import gc
import importlib.util
import json
import os
import struct
import sys
import traceback
import warnings

import numpy as np

DTYPES = {
    "BOOL": "?", "UINT8": "<u1", "UINT16": "<u2", "UINT32": "<u4", "UINT64": "<u8",
    "INT8": "<i1", "INT16": "<i2", "INT32": "<i4", "INT64": "<i8",
    "FP16": "<f4", "FP32": "<f4", "FP64": "<f8", "BF16": "<f4",  # FP16/BF16 arrive widened to float32
}


class UserError(Exception):
    """Raised by loaders for problems with the request (HTTP 400), not with the server."""


class Bridge:
    def __init__(self, rfd, wfd):
        self.rf = os.fdopen(rfd, "rb", buffering=0)
        self.wf = os.fdopen(wfd, "wb", buffering=0)
        self.models = {}
        self.loaders = {}

    def read_exact(self, n):
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            k = self.rf.readinto(view[got:])
            if not k:
                sys.exit(0)  # the server closed the pipe: it is stopping
            got += k
        return buf

    def send(self, header, chunks=()):
        try:
            h = json.dumps(header, allow_nan=False).encode()
        except ValueError:  # NaN/Infinity are not JSON; JSON answers carry them as null
            h = json.dumps(_finite(header)).encode()
        total = sum(len(c) for c in chunks)
        self.wf.write(struct.pack("<II", len(h), total) + h)
        for c in chunks:
            self.wf.write(c)

    def fail(self, kind, exc):
        self.send({"error": {"kind": kind, "type": type(exc).__name__, "message": str(exc),
                             "trace": traceback.format_exc(limit=8)}})

    def serve(self):
        while True:
            hl, bl = struct.unpack("<II", self.read_exact(8))
            header = json.loads(self.read_exact(hl))
            blob = self.read_exact(bl) if bl else b""
            op = header.get("op")
            if op == "infer":
                self.infer(header, blob)
            elif op == "load":
                self.load(header)
            elif op == "call":
                self.call(header, blob)
            elif op == "unload":
                self.models.pop(header.get("model", ""), None)
                gc.collect()  # the model's arrays go now, not at some later allocation
                self.send({"ok": True})
            else:
                self.fail("internal", ValueError(f"unknown op {op!r}"))

    def load(self, header):
        try:
            module = self.loaders.get(header["loader"])
            if module is None:  # once per loader file: its models share it
                spec = importlib.util.spec_from_file_location("modelfleet_loader", header["loader"])
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                self.loaders[header["loader"]] = module
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                model = module.load(header["path"], header.get("options") or {})
            info = model.info()
            self.models[header.get("model", "")] = model
            info.setdefault("warnings", [])
            info["warnings"] += [str(w.message) for w in caught]
            self.send({"ok": info, "pid": os.getpid()})
        except Exception as exc:  # reported to the operator at start-up, with the loader's message
            self.fail("load", exc)

    def model(self, header):
        model = self.models.get(header.get("model", ""))
        if model is None:
            raise RuntimeError(f"model {header.get('model')!r} is not loaded in this process")
        return model

    def call(self, header, blob):
        """Operations beyond infer (the language wrapper's hooks): the model answers a header and byte chunks."""
        try:
            reply, chunks = self.model(header).call(header, blob)
            self.send({"ok": reply} if "error" not in reply else reply, chunks)
        except Exception as exc:
            self.fail("internal", exc)

    def infer(self, header, blob):
        try:
            inputs = decode(header["inputs"], blob)
            results = self.model(header).infer(inputs, header["outputs"], header.get("parameters") or {})
            reply = {}
            if isinstance(results, tuple):
                results, reply["parameters"] = results
            out_header, chunks = encode(results)
            reply["ok"] = out_header
            self.send(reply, chunks)
        except UserError as exc:
            self.fail("bad_input", exc)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            # What estimators raise for inputs they cannot take (wrong feature count, strings in a numeric model).
            self.fail("bad_input", exc)
        except Exception as exc:
            self.fail("internal", exc)


def _finite(v):
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_finite(x) for x in v]
    return v


def decode(header, blob):
    mv = memoryview(blob)
    inputs = {}
    for t in header:
        shape = tuple(t["shape"])
        if t["datatype"] == "BYTES":
            arr = np.empty(len(t["data"]), dtype=object)
            arr[:] = t["data"]
            inputs[t["name"]] = arr.reshape(shape)
        else:
            dt = np.dtype(DTYPES[t["datatype"]])
            inputs[t["name"]] = np.frombuffer(mv, dtype=dt, count=t["count"], offset=t["offset"]).reshape(shape)
    return inputs


def datatype_of(arr):
    k = arr.dtype.kind
    if k == "b":
        return "BOOL"
    if k == "f":
        return "FP32" if arr.dtype.itemsize <= 4 else "FP64"
    if k in "iu":
        return ("UINT" if k == "u" else "INT") + str(arr.dtype.itemsize * 8)
    return "BYTES"


def encode(results):
    outputs, chunks, offset = [], [], 0
    for name, value in results.items():
        if hasattr(value, "to_numpy"):  # pandas objects
            value = value.to_numpy()
        arr = np.asarray(value)
        dt = datatype_of(arr)
        entry = {"name": name, "datatype": dt, "shape": list(arr.shape)}
        if dt == "BYTES":
            entry["data"] = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in arr.ravel().tolist()]
        else:
            arr = np.ascontiguousarray(arr, dtype=np.dtype(DTYPES[dt]))
            data = memoryview(arr).cast("B") if arr.size else b""  # cast() refuses shapes with a zero
            entry["offset"], entry["bytes"] = offset, len(data)
            chunks.append(data)
            offset += len(data)
        outputs.append(entry)
    return outputs, chunks


if __name__ == "__main__":
    try:
        Bridge(3, 4).serve()
    except BrokenPipeError:
        # The server closed our pipe: it is stopping, or another worker's failed load already stopped the start-up
        # and reported why. A traceback here would only bury that message.
        os._exit(0)
