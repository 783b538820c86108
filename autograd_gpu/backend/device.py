"""Devices: where a tensor's array lives and which implementation its ops take.

Three kinds, one engine:
- ``cpu``: NumPy arrays, NumPy implementations.
- ``cuda``: CuPy arrays on a real GPU; ops launch the fused kernels in kernels/.
- ``cuda_emulated``: NumPy arrays, but ops take the CUDA branch and every kernel launch runs the same
  CUDA source on the CPU (autograd_gpu.testing.cuda_emulator). It exists so the CUDA path is tested on
  machines without a GPU; users never need it.
Device objects are interned, so identity comparison (``a is b``) is a valid and cheap device check.
"""
from __future__ import annotations

import numpy as np

from . import _cupy

_TYPES = ("cpu", "cuda", "cuda_emulated")


class _ArrayModule:
    """A lazily computed, then cached, attribute (CuPy is imported only when a cuda device is used)."""

    def __init__(self, fn):
        self.fn = fn
        self.__doc__ = fn.__doc__

    def __get__(self, obj, cls=None):
        return self if obj is None else self.fn(obj)


class Device:
    """torch.device look-alike: ``Device('cuda:0')``, ``.type``, ``.index``."""

    __slots__ = ("type", "index", "uses_kernels", "_str", "__dict__")
    _interned: dict = {}

    def __new__(cls, type_or_str="cpu", index: int | None = None):
        if isinstance(type_or_str, Device):
            return type_or_str
        key = (type_or_str, index)
        dev = cls._interned.get(key)
        if dev is not None:
            return dev
        dev_type, dev_index = _parse(type_or_str, index)
        canon = cls._interned.get((dev_type, dev_index))
        if canon is None:
            canon = object.__new__(cls)
            canon.type, canon.index = dev_type, dev_index
            canon.uses_kernels = dev_type != "cpu"
            canon._str = dev_type if dev_index is None else f"{dev_type}:{dev_index}"
            if dev_type != "cuda":
                canon.xp = np  # an instance attribute: read on every op, so no property call
            cls._interned[(dev_type, dev_index)] = canon
        cls._interned[key] = canon
        return canon

    @_ArrayModule
    def xp(self):
        """The array module holding this device's arrays (numpy, or cupy on a real GPU)."""
        xp = _cupy.import_cupy() if self.type == "cuda" else np
        self.xp = xp  # cached in the instance dict, which takes precedence over this non-data descriptor
        return xp

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self._str

    def __eq__(self, other):
        if isinstance(other, str):
            other = Device(other)
        return self is other

    def __hash__(self):
        return hash(self._str)

    def __reduce__(self):
        return (Device, (self.type, self.index))


def _parse(type_or_str, index):
    if isinstance(type_or_str, int):  # torch.device(0) means cuda:0
        return "cuda", type_or_str
    if not isinstance(type_or_str, str):
        raise TypeError(f"device() received an invalid combination of arguments - got ({type(type_or_str).__name__})")
    name = type_or_str
    if ":" in name:
        if index is not None:
            raise RuntimeError(f"type (string) must not include an index because index was passed explicitly: {name}")
        name, _, idx = name.partition(":")
        if not idx.isdigit():
            raise RuntimeError(f"Invalid device string: '{type_or_str}'")
        index = int(idx)
    if name not in _TYPES:
        raise RuntimeError("Expected one of cpu, cuda, cuda_emulated device type at start of device string: "
                           f"{type_or_str}")
    if name == "cpu":
        if index not in (None, 0):
            raise RuntimeError(f"CPU device index must be -1 or zero, got {index}")
        return "cpu", None
    return name, 0 if index is None else index


CPU = Device("cpu")


def check_usable(dev: Device) -> None:
    """Raise one clear error when a CUDA device cannot be used on this machine."""
    if dev.type != "cuda":
        return
    if _cupy.try_import_cupy() is None:
        raise RuntimeError(f"device '{dev}' needs CuPy, which is not installed: {_cupy.INSTALL_HINT}")
    n = _cupy.gpu_count()
    if n == 0:
        raise RuntimeError(f"device '{dev}' is not available: CuPy is installed but found no CUDA GPU or driver "
                           "(autograd_gpu.cuda.is_available() is False). Use device='cpu'.")
    if dev.index >= n:
        raise RuntimeError(f"CUDA error: invalid device ordinal (device '{dev}' requested, {n} GPU(s) present)")
