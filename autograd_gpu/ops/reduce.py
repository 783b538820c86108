"""Reductions: sum, mean, ... (dim int or tuple, keepdim). Backward expands the gradient back."""
from __future__ import annotations

from .. import _dtype
from ..autograd.node import Op
from ..tensor import Tensor
from ._util import wrap_dims


def _sum_dtype(x, dtype):
    if dtype is not None:
        return _dtype.to_numpy_dtype(dtype)
    if x.dtype.kind in "biu":  # PyTorch sums integers and bools as int64
        return _dtype.int64.np
    return None


def _unsqueeze_to(g: Tensor, shape, dims, keepdim):
    """Reshape a reduced gradient so it broadcasts against the input shape."""
    if keepdim or not dims:
        return g
    kept = list(shape)
    for d in dims:
        kept[d] = 1
    return g.reshape(kept)


class SumBackward0(Op):
    """sum over all elements."""

    def forward(self, x, dtype=None):
        self.shape = x.shape
        return x.sum(dtype=_sum_dtype(x, dtype))

    def backward(self, g):
        return g.expand(self.shape)


class SumBackward1(Op):
    """sum over dims."""

    def forward(self, x, dim=None, keepdim=False, dtype=None):
        self.shape = x.shape
        self.dims = wrap_dims(dim, x.ndim) if x.ndim else ()
        self.keepdim = keepdim
        return x.sum(axis=self.dims, keepdims=keepdim, dtype=_sum_dtype(x, dtype))

    def backward(self, g):
        return _unsqueeze_to(g, self.shape, self.dims, self.keepdim).expand(self.shape)


class SumToSizeBackward0(Op):
    """Sum broadcast dims away so the result has ``shape`` (the engine's gradient reduction)."""

    def forward(self, x, shape=None):
        self.shape = x.shape
        lead = x.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and x.shape[lead + i] != 1)
        if axes:
            x = x.sum(axis=axes, keepdims=True)
        return x.reshape(shape)

    def backward(self, g):
        return g.expand(self.shape)


class MeanBackward0(Op):
    def forward(self, x, dtype=None):
        _check_float_mean(x, dtype)
        self.shape, self.n = x.shape, x.size
        return x.mean(dtype=_dtype.to_numpy_dtype(dtype)) if dtype is not None else x.mean()

    def backward(self, g):
        return (g / max(self.n, 1)).expand(self.shape) if self.n else g.expand(self.shape) * float("nan")


class MeanBackward1(Op):
    def forward(self, x, dim=None, keepdim=False, dtype=None):
        _check_float_mean(x, dtype)
        self.shape = x.shape
        self.dims = wrap_dims(dim, x.ndim) if x.ndim else ()
        self.keepdim = keepdim
        n = 1
        for d in self.dims:
            n *= x.shape[d]
        self.n = n
        out = x.mean(axis=self.dims, keepdims=keepdim)
        return out.astype(_dtype.to_numpy_dtype(dtype)) if dtype is not None else out

    def backward(self, g):
        return (_unsqueeze_to(g, self.shape, self.dims, self.keepdim) / self.n).expand(self.shape)


def _check_float_mean(x, dtype):
    if dtype is None and x.dtype.kind != "f":
        name = _dtype.from_numpy_dtype(x.dtype).name.capitalize().replace("Int64", "Long").replace("Bool", "Bool")
        raise RuntimeError("mean(): could not infer output dtype. Input dtype must be either a floating point or "
                           f"complex dtype. Got: {name}")


def sum(input, dim=None, keepdim=False, *, dtype=None):
    """Sum of elements, over ``dim`` (int or tuple) if given."""
    if dim is None:
        if keepdim:
            return SumBackward1.apply(input, dim=None, keepdim=True, dtype=dtype)
        return SumBackward0.apply(input, dtype=dtype)
    return SumBackward1.apply(input, dim=dim, keepdim=keepdim, dtype=dtype)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    """Arithmetic mean, over ``dim`` if given."""
    if dim is None and not keepdim:
        return MeanBackward0.apply(input, dtype=dtype)
    return MeanBackward1.apply(input, dim=dim, keepdim=keepdim, dtype=dtype)


def sum_to_size(input, *size):
    """Sum ``input`` down to a broadcast-compatible ``size``."""
    from ._util import shape_arg
    shape = shape_arg(size)
    if tuple(input._data.shape) == shape:
        return input
    return SumToSizeBackward0.apply(input, shape=shape)


TENSOR_METHODS = {"sum": sum, "mean": mean, "sum_to_size": sum_to_size}
