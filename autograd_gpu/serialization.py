"""save / load without pickle: a NumPy .npz archive (allow_pickle=False) of the tensors' arrays plus a JSON
description of the structure around them.

Supported: tensors and Parameters, NumPy arrays, dicts (any of str/int/float/bool/None/tuple keys;
OrderedDict kept), lists, tuples, str, int, float, bool, None, dtypes and devices: enough for model and
optimizer state dicts and checkpoints built from them. Anything else is refused with a TypeError on save;
loading never runs code.
"""
from __future__ import annotations

import io
import json
import math
import os
import zipfile
from collections import OrderedDict

import numpy as np

from . import _dtype
from .backend.device import CPU, Device
from .tensor import Tensor

__all__ = ["save", "load"]

_FORMAT = "autograd_gpu.save/1"
_STRUCT = "__structure__"


def _rebuild_tensor(array, dtype_name: str, device: str, requires_grad: bool) -> Tensor:
    """Inverse of Tensor.__reduce_ex__ (pickle / copy support)."""
    from .creation import tensor
    return tensor(array, dtype=getattr(_dtype, dtype_name) if dtype_name != "bool" else _dtype.bool_,
                  device=device, requires_grad=requires_grad)


def _rebuild_parameter(array, dtype_name: str, device: str, requires_grad: bool):
    from .nn.parameter import Parameter
    return Parameter(_rebuild_tensor(array, dtype_name, device, False), requires_grad=requires_grad)


# ---------------------------------------------------------------- encoding
class _Encoder:
    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}
        self.memo: dict[int, int] = {}  # id(tensor) -> array index: a tensor saved twice loads as one object

    def _array(self, obj, host: np.ndarray) -> int:
        key = id(obj)
        if key in self.memo:
            return self.memo[key]
        i = len(self.arrays)
        # (not np.ascontiguousarray: it turns 0-d arrays into 1-d ones)
        self.arrays[f"a{i}"] = host if host.flags.c_contiguous else host.copy()
        self.memo[key] = i
        return i

    def encode(self, obj, path="obj"):
        if obj is None:
            return {"t": "none"}
        if isinstance(obj, bool):
            return {"t": "bool", "v": obj}
        if isinstance(obj, (int, np.integer)):
            return {"t": "int", "v": int(obj)}
        if isinstance(obj, (float, np.floating)):
            return {"t": "float", "v": float(obj) if math.isfinite(obj) else repr(float(obj))}
        if isinstance(obj, str):
            return {"t": "str", "v": obj}
        if isinstance(obj, Tensor):
            from .nn.parameter import Parameter
            if obj._data.dtype == object:
                raise TypeError(f"autograd_gpu.save: {path} holds an object array")
            return {"t": "tensor", "i": self._array(obj, obj._host()), "dtype": obj.dtype.name,
                    "device": str(obj._device), "requires_grad": obj._requires_grad,
                    "param": isinstance(obj, Parameter)}
        if isinstance(obj, np.ndarray):
            if obj.dtype.hasobject:
                raise TypeError(f"autograd_gpu.save: {path} is an object array, which cannot be saved "
                                "without pickle")
            return {"t": "ndarray", "i": self._array(obj, obj)}
        if isinstance(obj, _dtype.dtype):
            return {"t": "dtype", "v": obj.name}
        if isinstance(obj, Device):
            return {"t": "device", "v": str(obj)}
        if isinstance(obj, dict):
            kind = "odict" if isinstance(obj, OrderedDict) else "dict"
            keys, vals = [], []
            for k, v in obj.items():
                if not isinstance(k, (str, int, float, bool, tuple, type(None))):
                    raise TypeError(f"autograd_gpu.save: unsupported dict key type {type(k).__name__} in "
                                    f"{path}")
                keys.append(self.encode(k, f"{path} key"))
                vals.append(self.encode(v, f"{path}[{k!r}]"))
            return {"t": kind, "k": keys, "v": vals}
        if isinstance(obj, (list, tuple)):
            if isinstance(obj, tuple) and hasattr(obj, "_fields"):
                raise TypeError(f"autograd_gpu.save: namedtuple {type(obj).__name__} at {path} is not "
                                "supported")
            kind = "list" if isinstance(obj, list) else "tuple"
            return {"t": kind, "v": [self.encode(v, f"{path}[{i}]") for i, v in enumerate(obj)]}
        raise TypeError(f"autograd_gpu.save: cannot save an object of type {type(obj).__module__}."
                        f"{type(obj).__qualname__} (at {path}); only tensors, NumPy arrays, dicts, lists, "
                        "tuples, str, int, float, bool and None are supported (no pickle)")


def save(obj, f, pickle_module=None, pickle_protocol=None, _use_new_zipfile_serialization=True) -> None:
    """Write ``obj`` (tensors and containers of them, e.g. a state_dict) to the path or binary file ``f``."""
    if pickle_module is not None:
        raise ValueError("autograd_gpu.save never pickles: pickle_module is not supported")
    enc = _Encoder()
    structure = {"format": _FORMAT, "root": enc.encode(obj)}
    arrays = dict(enc.arrays)
    arrays[_STRUCT] = np.array(json.dumps(structure))
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as fh:  # an open file: np.savez would append '.npz' to a bare path
            np.savez(fh, **arrays)
    else:
        np.savez(f, **arrays)


# ---------------------------------------------------------------- decoding
def _target_device(saved: str, map_location):
    if map_location is None:
        dev = Device(saved)
    elif isinstance(map_location, dict):
        target = map_location.get(saved, map_location.get(saved.split(":")[0], saved))  # 'cuda:0' or 'cuda'
        dev = Device(target)
    elif isinstance(map_location, (str, Device)):
        dev = Device(map_location)
    elif callable(map_location):
        dev = None  # handled by the caller
    else:
        raise TypeError(f"map_location should be a str, a device, a dict or a callable, got "
                        f"{type(map_location).__name__}")
    if dev is not None and dev.type == "cuda":
        from .backend import _cupy
        if _cupy.gpu_count() == 0:
            raise RuntimeError("Attempting to deserialize object on a CUDA device but "
                               "torch.cuda.is_available() is False. If you are running on a CPU-only "
                               "machine, please use torch.load with map_location=torch.device('cpu') to map "
                               "your storages to the CPU.")
    return dev


class _Decoder:
    def __init__(self, archive, map_location):
        self.archive = archive
        self.map_location = map_location
        self.cache: dict = {}

    def decode(self, node):
        t = node["t"]
        if t == "none":
            return None
        if t in ("bool", "int", "str"):
            return node["v"]
        if t == "float":
            return float(node["v"])
        if t == "tensor":
            key = ("tensor", node["i"])
            if key not in self.cache:
                self.cache[key] = self._tensor(node)
            return self.cache[key]
        if t == "ndarray":
            key = ("ndarray", node["i"])
            if key not in self.cache:
                self.cache[key] = self.archive[f"a{node['i']}"]
            return self.cache[key]
        if t == "dtype":
            return _dtype.bool_ if node["v"] == "bool" else getattr(_dtype, node["v"])
        if t == "device":
            return Device(node["v"])
        if t in ("dict", "odict"):
            items = [(self._key(k), self.decode(v)) for k, v in zip(node["k"], node["v"])]
            return OrderedDict(items) if t == "odict" else dict(items)
        if t == "list":
            return [self.decode(v) for v in node["v"]]
        if t == "tuple":
            return tuple(self.decode(v) for v in node["v"])
        raise RuntimeError(f"autograd_gpu.load: unknown entry type {t!r} (file written by a newer version?)")

    def _key(self, node):
        k = self.decode(node)
        return tuple(k) if isinstance(k, list) else k

    def _tensor(self, node):
        arr = self.archive[f"a{node['i']}"]
        name = node["dtype"]
        want = _dtype.to_numpy_dtype(_dtype.bool_ if name == "bool" else getattr(_dtype, name))
        if arr.dtype != want:
            raise RuntimeError(f"autograd_gpu.load: array a{node['i']} has dtype {arr.dtype}, expected "
                               f"{want}")
        dev = _target_device(node["device"], self.map_location)
        t = Tensor._make(arr, CPU)
        if dev is not None and dev is not CPU:
            t = t.to(dev)
        if node.get("param"):
            from .nn.parameter import Parameter
            t = Parameter(t, requires_grad=node["requires_grad"])
        elif node["requires_grad"]:
            t.requires_grad_(True)
        if dev is None:  # callable map_location(tensor, saved_location) -> tensor
            t = self.map_location(t, node["device"])
        return t


def load(f, map_location=None, pickle_module=None, *, weights_only: bool = True, mmap=None,
         **pickle_load_args):
    """Read what save() wrote. Tensors go back to their saved device, or as ``map_location`` says (a
    device, a {saved: target} dict, or a callable(tensor, saved_location)). Never unpickles (weights_only
    is always in effect)."""
    if pickle_module is not None:
        raise ValueError("autograd_gpu.load never unpickles: pickle_module is not supported")
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as fh:
            data = fh.read()
    else:
        data = f.read()
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise RuntimeError("autograd_gpu.load: not an autograd_gpu checkpoint (expected the .npz archive "
                           "that autograd_gpu.save writes). PyTorch pickle checkpoints are not supported: "
                           "unpickling can execute arbitrary code.")
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        if _STRUCT not in archive.files:
            raise RuntimeError("autograd_gpu.load: the archive has no structure entry (not written by "
                               "autograd_gpu.save)")
        structure = json.loads(str(archive[_STRUCT]))
        if structure.get("format") != _FORMAT:
            raise RuntimeError(f"autograd_gpu.load: unsupported format {structure.get('format')!r}")
        arrays = {name: archive[name] for name in archive.files if name != _STRUCT}
    return _Decoder(arrays, map_location).decode(structure["root"])
