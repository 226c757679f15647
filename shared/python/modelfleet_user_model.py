"""Loader for a user's own Python model class, with Seldon's language-wrapper user contract.

The server sends each Seldon operation as a `call` frame: the message decoded (numeric data as raw bytes in the
frame's blob, the rest as JSON) and, when the class defines the operation's `*_raw` hook, the whole message too.
This module calls the user's hook and answers what it returned, typed, so the server encodes it in the caller's
protocol. Hooks are all optional; what is missing falls back as Seldon's wrapper does.
"""
import importlib
import inspect
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
# Classes written for Seldon import a few names from seldon_core; a shim stands in when it is not installed.
sys.path.append(os.path.join(HERE, "compat"))
if HERE not in sys.path:
    sys.path.append(HERE)  # the bridge module beside this one (normally already first: it is the running script)

from seldon_core.user_model import SeldonNotImplementedError  # noqa: E402  (the real one when installed)
from modelfleet_worker import DTYPES, encode  # noqa: E402  (the bridge's own tensor framing)

HOOKS = ("predict", "transform_input", "transform_output", "route", "aggregate", "send_feedback", "health_status")
METHOD_LABEL = {"predict": "predict", "transform_input": "inputtransform", "transform_output": "outputtransform",
                "route": "router", "aggregate": "aggregate", "send_feedback": "feedback", "health_status": "health"}


class CallError(Exception):
    """An error answered with an HTTP status and a Seldon reason (and, optionally, the user's own body)."""

    def __init__(self, message, status=500, reason="MICROSERVICE_INTERNAL_ERROR", body=None):
        super().__init__(message)
        self.status, self.reason, self.body = status, reason, body


def import_class(interface):
    """`Foo` is class Foo in module Foo; `pkg.mod.Foo` is class Foo in module pkg.mod (Seldon's rule)."""
    module_name, _, class_name = interface.rpartition(".")
    module = importlib.import_module(module_name or interface)
    try:
        return getattr(module, class_name)
    except AttributeError:
        raise ImportError(f"module {module.__name__} ({getattr(module, '__file__', '?')}) has no class {class_name}") from None


def defined(obj, name):
    """A hook counts when the class has it and it is not SeldonComponent's "not implemented" default."""
    attr = getattr(obj, name, None)
    if not callable(attr):
        return False
    func = getattr(type(obj), name, None)
    for base in type(obj).__mro__:
        if base.__name__ == "SeldonComponent" and func is not None and base.__dict__.get(name) is func:
            return False
    return True


def to_json(value):
    """JSON for what users return: numpy scalars and arrays included."""
    return json.loads(json.dumps(value, default=_json_default))


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (bytes, bytearray)):
        return o.decode("utf-8", "replace")
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


def decode_msg(m, blob):
    """The message as Seldon's wrapper hands it to hooks: (X, names, meta)."""
    meta = m.get("meta")
    names = m.get("names") or []
    form = m["form"]
    if form in ("ndarray", "tensor", "tftensor"):
        if "ndarray" in m:
            return np.array(m["ndarray"]), names, meta
        t = m["tensor"]
        arr = np.frombuffer(memoryview(blob), dtype=np.dtype(DTYPES[t["datatype"]]), count=t["count"], offset=t["offset"])
        return arr.reshape(t["shape"]), names, meta
    if form == "jsonData":
        return m.get("jsonData"), names, meta
    if form == "strData":
        return m.get("strData"), names, meta
    if form == "binData":
        off, n = m["bin"]
        return bytes(blob[off:off + n]), names, meta
    return np.array([]), names, meta


class UserModel:
    def __init__(self, obj, interface, folder):
        self.obj = obj
        self.interface = interface
        self.folder = folder
        self.hooks = {h: defined(obj, h) for h in HOOKS}
        self.raw = {h: defined(obj, h + "_raw") for h in HOOKS}

    def info(self):
        metadata = None
        if defined(self.obj, "init_metadata"):
            try:
                metadata = to_json(self.obj.init_metadata())
            except SeldonNotImplementedError:
                metadata = None
        return {
            "outputs": ["predict"],
            "class": f"{type(self.obj).__module__}.{type(self.obj).__name__}",
            "hooks": [h for h, ok in self.hooks.items() if ok],
            "raw_hooks": [h for h, ok in self.raw.items() if ok],
            "init_metadata": metadata,
            "python": sys.version.split()[0],
        }

    # --- the frame entry point -------------------------------------------------------------------------------
    def call(self, header, blob):
        method = header["method"]
        if os.getcwd() != self.folder:
            os.chdir(self.folder)  # the process may hold several classes: each runs in its own folder
        start = time.perf_counter()
        try:
            reply, chunks = getattr(self, "op_" + method)(header, blob)
        except CallError as exc:
            return {"error": {"kind": "status", "status": exc.status, "reason": exc.reason, "message": str(exc), "body": exc.body}}, []
        except SeldonNotImplementedError:
            return {"error": {"kind": "status", "status": 501, "reason": "MICROSERVICE_NOT_IMPLEMENTED",
                              "message": f"{self.interface} does not implement {method}"}}, []
        except Exception as exc:  # the user's own exception: its status and body when it carries them
            status = getattr(exc, "status_code", None)
            body = None
            if callable(getattr(exc, "to_dict", None)):
                try:
                    body = to_json(exc.to_dict())
                except Exception:
                    body = None
            message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            return {"error": {"kind": "status", "status": int(status) if isinstance(status, int) else 500,
                              "reason": getattr(exc, "reason", None) or ("MICROSERVICE_BAD_DATA" if status and int(status) < 500 else "MICROSERVICE_INTERNAL_ERROR"),
                              "message": str(message), "body": body}}, []
        if method in METHOD_LABEL and "error" not in reply:
            reply["metrics"] = reply.get("metrics", []) + self.user_metrics()
            reply["elapsed_ms"] = (time.perf_counter() - start) * 1000
        return reply, chunks

    # --- hooks ---------------------------------------------------------------------------------------------
    def call_hook(self, name, *args, meta=None):
        """Seldon passes meta as a keyword; a hook that does not take it is called without (TypeError retry)."""
        fn = getattr(self.obj, name)
        if meta is not None or _accepts(fn, "meta"):
            try:
                return fn(*args, meta=meta)
            except TypeError as exc:
                if "meta" not in str(exc):
                    raise
        return fn(*args)

    def raw_or_none(self, method, header):
        """The *_raw hook's answer, or None when there is none (or it says not implemented)."""
        if not self.raw.get(method) or "raw" not in header:
            return None
        try:
            value = getattr(self.obj, method + "_raw")(header["raw"])
        except SeldonNotImplementedError:
            return None
        if not isinstance(value, dict):
            raise CallError(f"{method}_raw must return a dict (a SeldonMessage), got {type(value).__name__}", 500)
        value = to_json(value)
        metrics = (value.get("meta") or {}).get("metrics") or []
        return {"kind": "raw", "value": value, "metrics": validate_metrics(metrics)}, []

    def op_predict(self, header, blob):
        return self.data_op("predict", header, blob, names_from="class")

    def op_transform_input(self, header, blob):
        return self.data_op("transform_input", header, blob, names_from="feature")

    def op_transform_output(self, header, blob):
        return self.data_op("transform_output", header, blob, names_from="class")

    def data_op(self, method, header, blob, names_from):
        raw = self.raw_or_none(method, header)
        if raw:
            return raw
        X, names, meta = decode_msg(header["msgs"][0], blob)
        if not self.hooks[method]:
            if method == "predict":  # Seldon's default: an empty answer
                return self.encode(method, [], names, names_from)
            return {"kind": "identity"}, []
        try:
            result = self.call_hook(method, X, names, meta=meta)
        except SeldonNotImplementedError:
            if method == "predict":
                return self.encode(method, [], names, names_from)
            return {"kind": "identity"}, []
        return self.encode(method, result, names, names_from)

    def op_route(self, header, blob):
        raw = self.raw_or_none("route", header)
        if raw:
            return raw
        if not self.hooks["route"]:
            raise CallError(f"{self.interface} has no route method: it is not a router", 501, "MICROSERVICE_NOT_IMPLEMENTED")
        X, names, _meta = decode_msg(header["msgs"][0], blob)
        result, tags, metrics = unwrap(self.obj.route(X, names))
        if isinstance(result, (bool, np.bool_)) or not isinstance(result, (int, np.integer)):
            raise CallError(f"Routing response must be int but got {result!r}", 500)
        return {"kind": "route", "value": int(result), "tags": self.tags(tags), "metrics": validate_metrics(metrics)}, []

    def op_aggregate(self, header, blob):
        raw = self.raw_or_none("aggregate", header)
        if raw:
            return raw
        if not self.hooks["aggregate"]:
            raise CallError(f"{self.interface} has no aggregate method: it is not a combiner", 501, "MICROSERVICE_NOT_IMPLEMENTED")
        decoded = [decode_msg(m, blob) for m in header["msgs"]]
        result = self.call_hook("aggregate", [d[0] for d in decoded], [d[1] for d in decoded])
        return self.encode("aggregate", result, decoded[0][1] if decoded else [], "class")

    def op_send_feedback(self, header, blob):
        raw = self.raw_or_none("send_feedback", header)
        if raw:
            return raw
        if not self.hooks["send_feedback"]:
            return {"kind": "none", "metrics": []}, []
        request, names, _ = decode_msg(header["msgs"][0], blob) if header["msgs"] else (np.array([]), [], None)
        truth = decode_msg(header["truth"], blob)[0] if header.get("truth") else None
        fn = self.obj.send_feedback
        args = (request, names, header.get("reward", 0.0), truth)
        result = fn(*args, routing=header.get("routing")) if _accepts(fn, "routing") else fn(*args)
        if result is None:
            return {"kind": "none", "metrics": []}, []
        return self.encode("send_feedback", result, names, "class")

    def op_health_status(self, header, blob):
        if self.raw["health_status"]:
            try:
                value = self.obj.health_status_raw()
                return {"kind": "raw", "value": to_json(value), "metrics": []}, []
            except SeldonNotImplementedError:
                pass
        if not self.hooks["health_status"]:
            # Seldon: a SeldonComponent without the hook "assumes healthy"; a class without the attribute is "healthy".
            base = any(b.__name__ == "SeldonComponent" for b in type(self.obj).__mro__)
            return {"kind": "strData", "value": "not implemented - assuming healthy" if base else "healthy"}, []
        return self.encode("health_status", self.obj.health_status(), [], "class")

    # --- results -------------------------------------------------------------------------------------------
    def optional(self, name, default=None):
        if not defined(self.obj, name):
            return default
        try:
            return getattr(self.obj, name)()
        except SeldonNotImplementedError:
            return default

    def tags(self, runtime_tags=None):
        tags = dict(self.optional("tags", None) or {})
        tags.update(runtime_tags or {})
        return to_json(tags)

    def user_metrics(self):
        return validate_metrics(self.optional("metrics", None) or [])

    def encode(self, method, result, request_names, names_from):
        """What a hook returned, as Seldon's wrapper would put it in a response."""
        result, tags, metrics = unwrap(result)
        reply = {"tags": self.tags(tags), "metrics": validate_metrics(metrics)}
        if isinstance(result, dict):
            reply.update(kind="jsonData", value=to_json(result))
            return reply, []
        if isinstance(result, (bytes, bytearray)):
            reply.update(kind="binData")
            return reply, [bytes(result)]
        if isinstance(result, str):
            reply.update(kind="strData", value=result)
            return reply, []
        if hasattr(result, "to_numpy") and not isinstance(result, np.ndarray):
            result = result.to_numpy()
        if not isinstance(result, (list, tuple, np.ndarray)):
            raise CallError(f"Unknown data type returned as payload (must be list or np array):{result!r}", 400, "MICROSERVICE_BAD_DATA")
        try:
            arr = np.asarray(result)
        except ValueError:  # ragged lists: numpy refuses, JSON keeps them as they are
            arr = None
        if arr is not None and arr.ndim >= 2:
            if names_from == "feature":
                names = self.optional("feature_names", None)
                names = list(names) if names is not None else list(request_names)
            else:
                names = self.optional("class_names", None)
                names = list(names) if names is not None else None
            reply["names"] = to_json(names)
        else:
            reply["names"] = []
        if arr is not None and arr.dtype.kind in "iuf":
            (tensor,), chunks = encode({"predict": arr})
            reply.update(kind="tensor", tensor=tensor)
            return reply, chunks
        reply.update(kind="ndarray", value=to_json(arr.tolist() if arr is not None else list(result)))
        return reply, []


def unwrap(result):
    """SeldonResponse(data, tags, metrics) -> its parts; anything else is plain data."""
    if type(result).__name__ == "SeldonResponse" and hasattr(result, "data"):
        return result.data, getattr(result, "tags", None) or {}, getattr(result, "metrics", None) or []
    return result, {}, []


def validate_metrics(metrics):
    """Seldon's rules: a list of {key, type COUNTER|GAUGE|TIMER, numeric value, optional string tags}."""
    if not isinstance(metrics, (list, tuple)):
        raise CallError(f"metrics must be a list of dicts, got {type(metrics).__name__}", 500, "MICROSERVICE_BAD_METRIC")
    out = []
    for m in metrics:
        if not isinstance(m, dict) or not isinstance(m.get("key"), str) or m.get("type") not in ("COUNTER", "GAUGE", "TIMER") \
                or isinstance(m.get("value"), bool) or not isinstance(m.get("value"), (int, float, np.integer, np.floating)):
            raise CallError(f"invalid metric {m!r}: needs a string key, type COUNTER, GAUGE or TIMER and a numeric value", 500, "MICROSERVICE_BAD_METRIC")
        tags = m.get("tags") or {}
        if not isinstance(tags, dict):
            raise CallError(f"invalid metric {m!r}: tags must be a dict", 500, "MICROSERVICE_BAD_METRIC")
        out.append({"key": m["key"], "type": m["type"], "value": float(m["value"]), **({"tags": {str(k): str(v) for k, v in tags.items()}} if tags else {})})
    return out


def _accepts(fn, name):
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind == p.VAR_KEYWORD for p in params.values())


def load(path, options):
    """Imports the class from the model folder (which becomes the working directory, as /microservice is in Seldon's
    images), builds it with the unit's parameters as keyword arguments, then calls its optional load()."""
    folder = os.path.abspath(path if os.path.isdir(path) else os.path.dirname(path))
    os.chdir(folder)
    # The process may already hold another model's class under the same module name (Model.py in two folders):
    # import this folder's own.
    module_name = options["interface"].rpartition(".")[0] or options["interface"]
    top = module_name.split(".")[0]
    for name in [m for m in sys.modules if m == top or m.startswith(top + ".")]:
        if not os.path.abspath(getattr(sys.modules[name], "__file__", None) or "").startswith(folder + os.sep):
            del sys.modules[name]
    sys.path.insert(0, folder)
    cls = import_class(options["interface"])
    obj = cls(**(options.get("parameters") or {}))
    if callable(getattr(obj, "load", None)):
        obj.load()
    return UserModel(obj, options["interface"], folder)
