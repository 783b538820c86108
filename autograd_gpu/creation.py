"""Tensor factories with PyTorch's names and defaults (dtype float32, device cpu)."""
from __future__ import annotations

import numpy as np

from . import _dtype
from .backend.device import CPU, Device, check_usable
from .random import gen
from .tensor import Tensor
from .ops._util import shape_arg


def _device(device) -> Device:
    if device is None:
        return CPU
    dev = Device(device) if not isinstance(device, Device) else device
    check_usable(dev)
    return dev


def to_device_array(a: np.ndarray, dev: Device):
    """Move a host (NumPy) array onto ``dev`` (no copy on cpu)."""
    if dev.type == "cuda":
        cupy = dev.xp
        with cupy.cuda.Device(dev.index):
            return cupy.asarray(a)
    return a


def _finish(arr, dev, requires_grad):
    if dev.type == "cuda" and isinstance(arr, np.ndarray):
        arr = to_device_array(arr, dev)
    t = Tensor._make(arr, dev)
    if requires_grad:
        if arr.dtype.kind != "f":
            raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
        t.requires_grad_(True)
    return t


def _infer_dtype(data):
    """PyTorch's dtype inference for nested Python data: Python bool/int/float give bool/int64/default float,
    NumPy scalars and tensors their own dtype; the result is their promotion."""
    result = None
    stack = [data]
    while stack:
        x = stack.pop()
        if isinstance(x, (list, tuple)):
            stack.extend(x)
            continue
        if isinstance(x, Tensor):
            d = _dtype.from_numpy_dtype(x._data.dtype)
        elif isinstance(x, (np.generic, np.ndarray)):
            d = _dtype.from_numpy_dtype(x.dtype)
        elif isinstance(x, (bool, int, float)):
            d = _dtype.scalar_dtype(x)
        elif isinstance(x, str):
            raise TypeError(f"new(): invalid data type '{type(x).__name__}'")
        else:
            raise RuntimeError(f"Could not infer dtype of {type(x).__name__}")
        result = d if result is None else _dtype.promote_types(result, d)
    return (result or _dtype.get_default_dtype()).np


def _check_ragged(data):
    """Raise PyTorch's error for nested sequences of uneven lengths (called once NumPy has refused them)."""
    shape, x = [], data
    while isinstance(x, (list, tuple)):
        shape.append(len(x))
        if not x:
            break
        x = x[0]
    stack = [(data, 0)]
    while stack:
        x, dim = stack.pop()
        if dim == len(shape):
            continue
        if not isinstance(x, (list, tuple)):
            raise TypeError("not a sequence")
        if len(x) != shape[dim]:
            raise ValueError(f"expected sequence of length {shape[dim]} at dim {dim} (got {len(x)})")
        stack.extend((y, dim + 1) for y in reversed(x))


def tensor(data, *, dtype=None, device=None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, scalars, NumPy arrays or tensors)."""
    dev = _device(device)
    npd = _dtype.to_numpy_dtype(dtype)
    if isinstance(data, Tensor):
        import warnings
        warnings.warn("To copy construct from a tensor, it is recommended to use "
                      "sourceTensor.detach().clone() or sourceTensor.detach().clone().requires_grad_(True), "
                      "rather than torch.tensor(sourceTensor).",
                      UserWarning, stacklevel=2)
        arr = np.array(data._host(), dtype=npd, copy=True)
    elif isinstance(data, np.ndarray):
        if npd is None:
            _dtype.from_numpy_dtype(data.dtype)  # refuses unsupported dtypes with PyTorch's message
        arr = np.array(data, dtype=npd, copy=True)
    else:
        if npd is None:
            npd = _infer_dtype(data)
        if isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in _flat(data)):
            data = _unwrap(data)
        try:
            arr = np.array(data, dtype=npd)
        except ValueError:
            if isinstance(data, (list, tuple)):
                _check_ragged(data)
            raise
    return _finish(arr, dev, requires_grad)


def _flat(x):
    for y in x:
        if isinstance(y, (list, tuple)):
            yield from _flat(y)
        else:
            yield y


def _unwrap(x):
    if isinstance(x, Tensor):
        return x._host() if x._data.ndim else x.item()
    if isinstance(x, (list, tuple)):
        return [_unwrap(y) for y in x]
    return x


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like tensor(), but shares memory with ``data`` when dtype and device allow."""
    dev = _device(device)
    if isinstance(data, Tensor):
        t = data
        if dtype is not None and t.dtype is not dtype:
            t = t.to(dtype)
        return t.to(dev) if t._device is not dev else t
    if isinstance(data, np.ndarray) and dev.type != "cuda":
        npd = _dtype.to_numpy_dtype(dtype)
        _dtype.from_numpy_dtype(data.dtype if npd is None else npd)
        return Tensor._make(data if npd is None or npd == data.dtype else data.astype(npd), dev)
    return tensor(data, dtype=dtype, device=dev)


asarray = as_tensor


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A cpu tensor sharing memory with ``ndarray``."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    _dtype.from_numpy_dtype(ndarray.dtype)
    return Tensor._make(ndarray, CPU)


def _shape(size, fn=None) -> tuple:
    """shape_arg plus PyTorch's check for negative sizes."""
    shape = shape_arg(size)
    for d in shape:
        if d < 0:
            if fn == "zeros":
                raise RuntimeError("zeros: Dimension size must be non-negative.")
            raise RuntimeError(f"Trying to create tensor with negative dimension {d}: {list(shape)}")
    return shape


def _fill(size, value, dtype, device, requires_grad, fn=None):
    dev = _device(device)
    npd = _dtype.to_numpy_dtype(dtype) or _dtype.get_default_dtype().np
    shape = _shape(size, fn)
    if dev.type == "cuda":
        cupy = dev.xp
        with cupy.cuda.Device(dev.index):
            arr = cupy.full(shape, value, dtype=npd)
        return _finish(arr, dev, requires_grad)
    return _finish(np.full(shape, value, dtype=npd), dev, requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None) -> Tensor:
    """A tensor of zeros."""
    return _fill(size, 0, dtype, device, requires_grad, "zeros")


def ones(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None) -> Tensor:
    """A tensor of ones."""
    return _fill(size, 1, dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None,
          memory_format=None) -> Tensor:
    """An uninitialised tensor (here: zeros, so nothing stale ever leaks into results)."""
    return _fill(size, 0, dtype, device, requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    """A tensor filled with ``fill_value`` (dtype inferred from it when not given, like PyTorch)."""
    if dtype is None:
        dtype = _dtype.scalar_dtype(fill_value)
    return _fill((tuple(size) if isinstance(size, (list, tuple)) else (size,)), fill_value, dtype, device,
                 requires_grad)


def _like(input, dtype, device):
    return (dtype if dtype is not None else input.dtype), (device if device is not None else input._device)


def zeros_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return _fill(input._data.shape, 0, dtype, device, requires_grad)


def ones_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return _fill(input._data.shape, 1, dtype, device, requires_grad)


def empty_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None) -> Tensor:
    return zeros_like(input, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False,
              memory_format=None) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return _fill(input._data.shape, fill_value, dtype, device, requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Identity matrix n x m."""
    npd = _dtype.to_numpy_dtype(dtype) or _dtype.get_default_dtype().np
    for name, v in (("n", n), ("m", m)):
        if v is not None and v < 0:
            raise RuntimeError(f"{name} must be greater or equal to 0, got {v}")
    return _finish(np.eye(n, n if m is None else m, dtype=npd), _device(device), requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Values from start to end (exclusive) by step; int64 when all arguments are integers."""
    if end is None:
        start, end = 0, start
    args = (start, end, step)
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (step > 0 and start > end) or (step < 0 and start < end):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    if dtype is None:
        ints = all(isinstance(a, (int, np.integer)) for a in args)
        dtype = _dtype.int64 if ints else _dtype.get_default_dtype()
    npd = _dtype.to_numpy_dtype(dtype)
    n = int(np.ceil((end - start) / step))
    arr = (start + step * np.arange(n, dtype=np.float64)).astype(npd) if npd.kind == "f" else \
        np.arange(start, end, step, dtype=npd)
    return _finish(arr, _device(device), requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    npd = _dtype.to_numpy_dtype(dtype) or _dtype.get_default_dtype().np
    arr = np.linspace(start, end, steps, dtype=np.float64).astype(npd)
    return _finish(arr, _device(device), requires_grad)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    npd = _dtype.to_numpy_dtype(dtype) or _dtype.get_default_dtype().np
    return _finish(np.logspace(start, end, steps, base=base).astype(npd), _device(device), requires_grad)


def _float_dtype(dtype, fn):
    npd = _dtype.to_numpy_dtype(dtype) or _dtype.get_default_dtype().np
    if npd.kind != "f":
        from .tensor import _SCALAR_TYPE
        raise NotImplementedError(f"\"{fn}\" not implemented for '{_SCALAR_TYPE[npd.name]}'")
    return npd


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform samples on [0, 1)."""
    npd = _float_dtype(dtype, "check_uniform_bounds")
    arr = gen(generator).random(_shape(size), dtype=np.float64).astype(npd)
    return _finish(arr, _device(device), requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal samples."""
    npd = _float_dtype(dtype, "normal_kernel_cpu")
    arr = gen(generator).standard_normal(_shape(size), dtype=np.float64).astype(npd)
    return _finish(arr, _device(device), requires_grad)


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad=False) -> Tensor:
    """Integers uniform on [low, high)."""
    if size is None:
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    npd = _dtype.to_numpy_dtype(dtype) or np.dtype(np.int64)
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    arr = gen(generator).integers(low, high, size=_shape((size,))).astype(npd)
    return _finish(arr, _device(device), requires_grad)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    npd = _dtype.to_numpy_dtype(dtype) or np.dtype(np.int64)
    return _finish(gen(generator).permutation(n).astype(npd), _device(device), requires_grad)


def rand_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return rand(*input._data.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randn_like(input, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return randn(*input._data.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randint_like(input, low=0, high=None, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return randint(low, high, input._data.shape, dtype=dtype, device=device, requires_grad=requires_grad)
