"""Selecting reductions: max/min (whole, or per dim with indices), amax/amin, argmax/argmin, median.

Gradients go to the selected element: with ``dim``, to the returned index (PyTorch's
value_selecting_reduction_backward); whole-tensor max/min/median and amax/amin split it evenly among
tied elements. The selection is a constant mask built in backward, so double backward is exact.
"""
from __future__ import annotations

import types

import numpy as np

from ..autograd.node import Op
from ..tensor import Tensor
from ._pw_common import const, keep, quiet
from ._util import wrap_dim


def _structseq(name: str):
    """A torch.return_types.<name>: a (values, indices) tuple with named fields and PyTorch's repr."""
    def __new__(cls, seq):
        return tuple.__new__(cls, seq)

    def __repr__(self):
        return f"torch.return_types.{name}(\nvalues={self[0]!r},\nindices={self[1]!r})"
    ns = {"__slots__": (), "__new__": __new__, "__repr__": __repr__, "n_fields": 2, "n_sequence_fields": 2,
          "values": property(lambda self: self[0]), "indices": property(lambda self: self[1]),
          "__module__": "torch.return_types"}
    return type(name, (tuple,), ns)


return_types = types.SimpleNamespace(max=_structseq("max"), min=_structseq("min"),
                                     median=_structseq("median"))


def _no_dim_error(fn):
    return RuntimeError(f"{fn}(): Expected reduction dim to be specified for input.numel() == 0. Specify the "
                        "reduction dim with the 'dim' argument.")


def _check_dim_size(fn, x, d):
    if x.ndim and x.shape[d] == 0:
        raise IndexError(f"{fn}(): Expected reduction dim {d} to have non-zero size.")


def _dims(dim, ndim):
    """Reduced dims for amax/amin: None or () means all."""
    if dim is None or (not isinstance(dim, int) and len(dim) == 0):
        return tuple(range(ndim))
    from ._util import wrap_dims
    return wrap_dims(dim, ndim)


def _evenly(node, g, x, r):
    """g / (number of ties) at every element equal to the result (NaN counts as equal to a NaN result)."""
    xp = node.dev.xp
    mask = x == r
    if x.dtype.kind == "f":
        mask |= xp.isnan(x) & xp.isnan(r)
    dt = g._data.dtype
    return g * const(mask.astype(dt) / mask.sum().astype(dt), g)


class _WholeSelect(Op):
    save = (0,)
    save_result = True
    fn = "max"

    def forward(self, x):
        if x.size == 0:
            raise _no_dim_error(self.fn)
        return self.dev.xp.asarray(x.max() if self.fn == "max" else x.min())

    def backward(self, g):
        return _evenly(self, g, self.saved_tensors[0]._data, self.result._data)


class MaxBackward1(_WholeSelect):
    fn = "max"


class MinBackward1(_WholeSelect):
    fn = "min"


class _DimSelect(Op):
    """(values, indices) along one dim; backward puts g at the index (a one-hot mask times g)."""
    non_differentiable = (1,)
    fn = "max"

    def forward(self, x, dim=0, keepdim=False):
        d = self.dim = wrap_dim(dim, x.ndim)
        self.keepdim = keepdim
        xp = self.dev.xp
        if x.ndim == 0:
            self.shape, self.idx = (), None
            return x.copy(), xp.zeros((), dtype=np.int64)
        _check_dim_size(self.fn, x, d)
        idx = self._index(xp, x, d)
        values = xp.take_along_axis(x, idx, axis=d)
        self.shape, self.idx = x.shape, idx
        if not keepdim:
            values, idx = values.squeeze(d), idx.squeeze(d)
        return values, idx.astype(np.int64, copy=False)

    def _index(self, xp, x, d):
        return (xp.argmax if self.fn == "max" else xp.argmin)(x, axis=d, keepdims=True)

    def backward(self, g, _gi=None):
        if self.idx is None:
            return g
        xp = self.dev.xp
        d = self.dim
        if not self.keepdim:
            g = g.unsqueeze(d)
        pos = xp.arange(self.shape[d]).reshape((-1,) + (1,) * (len(self.shape) - d - 1))
        return keep(pos == self.idx, g)  # PyTorch scatters into zeros: +0 elsewhere


class MaxBackward0(_DimSelect):
    fn = "max"


class MinBackward0(_DimSelect):
    fn = "min"


class MedianBackward1(_DimSelect):
    """Lower median along a dim (NaN if the slice has one, with the first NaN's index, like PyTorch)."""
    fn = "median"

    def _index(self, xp, x, d):
        order = xp.argsort(x, axis=d, kind="stable") if xp is np else xp.argsort(x, axis=d)
        k = (x.shape[d] - 1) // 2
        idx = xp.take(order, [k], axis=d)
        if x.dtype.kind == "f":
            nan = xp.isnan(x)
            idx = xp.where(nan.any(axis=d, keepdims=True), xp.argmax(nan, axis=d, keepdims=True), idx)
        return idx


class MedianBackward0(Op):
    """Lower median of all elements (NaN if any); gradient split among elements equal to it."""
    save = (0,)
    save_result = True

    def forward(self, x):
        xp = self.dev.xp
        if x.size == 0:
            return xp.asarray(np.nan, dtype=x.dtype) if x.dtype.kind == "f" else xp.zeros((), x.dtype)
        flat = xp.sort(x.reshape(-1))
        m = flat[(x.size - 1) // 2]
        if x.dtype.kind == "f" and xp.isnan(flat[-1]):
            m = flat[-1]
        return xp.asarray(m)

    def backward(self, g):
        return _evenly(self, g, self.saved_tensors[0]._data, self.result._data)


class AmaxBackward0(Op):
    """max over dims; ties share the gradient evenly."""
    save = (0,)
    save_result = True
    fn = "amax"

    def forward(self, x, dim=(), keepdim=False):
        dims = self.dims = _dims(dim, x.ndim)
        self.keepdim = keepdim
        if x.size == 0:
            if len(dims) == x.ndim:
                raise _no_dim_error(self.fn)
            for d in dims:
                _check_dim_size(self.fn, x, d)
        r = x.max(axis=dims, keepdims=keepdim) if self.fn == "amax" else x.min(axis=dims, keepdims=keepdim)
        return self.dev.xp.asarray(r)

    def backward(self, g):
        x = self.saved_tensors[0]._data
        r = self.result._data
        if not self.keepdim and self.dims:
            shape = list(x.shape)
            for d in self.dims:
                shape[d] = 1
            r = r.reshape(shape)
            g = g.reshape(shape)
        mask = x == r
        dt = g._data.dtype
        with quiet():  # a NaN max matches nothing: 0 / 0, a NaN gradient like PyTorch's
            w = mask.astype(dt) / mask.sum(axis=self.dims, keepdims=True).astype(dt)
        return g * const(w, g)


class AminBackward0(AmaxBackward0):
    fn = "amin"


def _select(name, whole, per_dim):
    def select(input: Tensor, dim=None, keepdim: bool = False, *, other=None, out=None):
        if other is not None or isinstance(dim, Tensor):
            from .pointwise_clamp import maximum, minimum
            return (maximum if name == "max" else minimum)(input, dim if other is None else other)
        if dim is None:
            return whole.apply(input)
        if not isinstance(dim, (int, np.integer)):
            raise TypeError(f"{name}() received an invalid combination of arguments - got (Tensor, "
                            f"{type(dim).__name__}), but expected (Tensor input, int dim, "
                            "bool keepdim = False)")
        return getattr(return_types, name)(per_dim.apply(input, dim=int(dim), keepdim=keepdim))
    return select


max = _select("max", MaxBackward1, MaxBackward0)
min = _select("min", MinBackward1, MinBackward0)
max.__doc__ = "Largest element; with dim, (values, indices) of the largest along dim; with a tensor: maximum."
min.__doc__ = "Smallest element; with dim, (values, indices) along dim; with a tensor: minimum."


def median(input: Tensor, dim: int | None = None, keepdim: bool = False, *, out=None):
    """Lower median of all elements; with dim, (values, indices) of the lower median along dim."""
    if dim is None:
        return MedianBackward0.apply(input)
    return return_types.median(MedianBackward1.apply(input, dim=dim, keepdim=keepdim))


def amax(input: Tensor, dim=(), keepdim: bool = False, *, out=None) -> Tensor:
    """Max over ``dim`` (int or tuple; () = all); the gradient is shared evenly by ties."""
    return AmaxBackward0.apply(input, dim=dim, keepdim=keepdim)


def amin(input: Tensor, dim=(), keepdim: bool = False, *, out=None) -> Tensor:
    """Min over ``dim`` (int or tuple; () = all); the gradient is shared evenly by ties."""
    return AminBackward0.apply(input, dim=dim, keepdim=keepdim)


def _arg(name, fn):
    def arg(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
        x, xp = input._data, input._device.xp
        if dim is None:
            if x.size == 0:
                raise IndexError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0.")
            r = getattr(xp, fn)(x.reshape(-1))
            r = xp.asarray(r, dtype=np.int64).reshape((1,) * x.ndim if keepdim else ())
        else:
            d = wrap_dim(dim, x.ndim)
            if x.ndim == 0:
                r = xp.zeros((), dtype=np.int64)
            else:
                _check_dim_size(name, x, d)
                r = getattr(xp, fn)(x, axis=d, keepdims=keepdim).astype(np.int64, copy=False)
        return Tensor._make(r, input._device)
    arg.__doc__ = f"Index of the {'largest' if fn == 'argmax' else 'smallest'} element (along dim if given)."
    return arg


argmax = _arg("argmax", "argmax")
argmin = _arg("argmin", "argmin")

TENSOR_METHODS = {"max": max, "min": min, "amax": amax, "amin": amin, "argmax": argmax, "argmin": argmin,
                  "median": median}
