"""dtype and device conversion, clone and contiguous."""
from __future__ import annotations

import numpy as np

from .. import _dtype
from ..autograd.node import Op
from ..backend.device import Device, check_usable
from ..tensor import Tensor


def move_array(a, src: Device, dst: Device):
    """Copy an array between devices (host <-> GPU; the emulated device stores host arrays)."""
    if src is dst:
        return a
    if src.type == "cuda":
        a = a.get()
    if dst.type == "cuda":
        cupy = dst.xp
        with cupy.cuda.Device(dst.index):
            return cupy.asarray(a)
    return np.array(a, copy=True)


class ToCopyBackward0(Op):
    def forward(self, x, dtype=None, device=None, copy=False):
        self.src_dtype, self.src_dev = x.dtype, self.dev
        if device is not None and device is not self.dev:
            x = move_array(x, self.dev, device)
            self.dev = device
            copy = False
        if dtype is not None and x.dtype != dtype:
            return x.astype(dtype)
        return x.copy() if copy else x

    def backward(self, g):
        if g._device is not self.src_dev:
            g = g.to(self.src_dev)
        return g


class CloneBackward0(Op):
    def forward(self, x, memory_format=None):
        return x.copy()

    def backward(self, g):
        return g


def _parse_to(args, kwargs):
    dtype = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got an unexpected keyword argument '{next(iter(kwargs))}'")
    for a in args:
        if isinstance(a, _dtype.dtype):
            dtype = a
        elif isinstance(a, Tensor):
            dtype, device = a.dtype, a._device
        elif isinstance(a, (str, Device, int)):
            device = a
        elif isinstance(a, bool):
            pass
        else:
            raise TypeError(f"to() received an invalid combination of arguments - got ({type(a).__name__})")
    return dtype, device, copy


def to(self: Tensor, *args, **kwargs) -> Tensor:
    """Tensor.to(dtype), .to(device), .to(other), .to(device, dtype): self when nothing changes."""
    dtype, device, copy = _parse_to(args, dict(kwargs))
    npd = _dtype.to_numpy_dtype(dtype)
    dev = None
    if device is not None:
        dev = Device(device)
        check_usable(dev)
        if dev is self._device:
            dev = None
    if npd is not None and npd == self._data.dtype:
        npd = None
    if npd is None and dev is None:
        return clone(self) if copy else self
    if self._requires_grad and npd is not None and npd.kind != "f":
        # casting to an integer type cuts the graph, as in PyTorch
        out = ToCopyBackward0.apply(self.detach(), dtype=npd, device=dev)
        return out
    return ToCopyBackward0.apply(self, dtype=npd, device=dev)


def clone(input: Tensor, *, memory_format=None) -> Tensor:
    """A copy with its own memory; gradient flows back unchanged."""
    return CloneBackward0.apply(input)


def contiguous(self: Tensor, memory_format=None) -> Tensor:
    if self._data.flags.c_contiguous:
        return self
    return CloneBackward0.apply(self)


def _caster(dt):
    def cast(self, memory_format=None):
        return to(self, dt)
    cast.__name__ = dt.name
    return cast


def cpu(self):
    return to(self, "cpu")


def cuda(self, device=None, non_blocking=False):
    if device is None:
        device = "cuda"
    elif isinstance(device, int):
        device = f"cuda:{device}"
    return to(self, device)


def type_as(self, other):
    return to(self, other.dtype)


_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
               "int64": "LongTensor", "int32": "IntTensor", "bool": "BoolTensor", "uint8": "ByteTensor",
               "int8": "CharTensor", "int16": "ShortTensor"}


def type_(self, dtype=None):
    """Tensor.type(): the legacy type name ('torch.FloatTensor'), or a cast when dtype is given."""
    if dtype is None:
        prefix = "torch." if self._device.type == "cpu" else "torch.cuda."
        return prefix + _TYPE_NAMES[self.dtype.name]
    return to(self, dtype)


def _new_factory(name):
    def new(self, *size, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
        from .. import creation
        dtype = self.dtype if dtype is None else dtype
        device = self._device if device is None else device
        return getattr(creation, name)(*size, dtype=dtype, device=device, requires_grad=requires_grad)
    new.__name__ = "new_" + name
    new.__doc__ = f"torch.{name} with this tensor's dtype and device unless given."
    return new


def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False, layout=None,
             pin_memory=False):
    """torch.full with this tensor's dtype and device unless given."""
    from ..creation import full
    return full(size, fill_value, dtype=self.dtype if dtype is None else dtype,
                device=self._device if device is None else device, requires_grad=requires_grad)


def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
    """torch.tensor(data) with this tensor's dtype and device unless given."""
    from ..creation import tensor
    if isinstance(data, Tensor):
        import warnings
        warnings.warn("To copy construct from a tensor, it is recommended to use "
                      "sourceTensor.detach().clone() or sourceTensor.detach().clone().requires_grad_(True), "
                      "rather than tensor.new_tensor(sourceTensor).", UserWarning, stacklevel=2)
        data = data._host()  # tensor() copies it
    return tensor(data, dtype=self.dtype if dtype is None else dtype,
                  device=self._device if device is None else device, requires_grad=requires_grad)


TENSOR_METHODS = {
    "new_zeros": _new_factory("zeros"), "new_ones": _new_factory("ones"), "new_empty": _new_factory("empty"),
    "new_full": new_full, "new_tensor": new_tensor,
    "to": to, "clone": clone, "contiguous": contiguous, "cpu": cpu, "cuda": cuda, "type_as": type_as,
    "type": type_,
    "float": _caster(_dtype.float32), "double": _caster(_dtype.float64), "half": _caster(_dtype.float16),
    "long": _caster(_dtype.int64), "int": _caster(_dtype.int32), "bool": _caster(_dtype.bool_),
    "short": _caster(_dtype.int16), "byte": _caster(_dtype.uint8), "char": _caster(_dtype.int8),
}
