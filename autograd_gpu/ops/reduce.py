"""Reductions: sum, mean, var/std, norm, logsumexp, all/any (dim int or tuple, keepdim). Backward expands
the gradient back. Selecting reductions (max, min, median, ...) live in reduce_select, scans and prod in
reduce_scan; their Tensor methods are gathered here.
"""
from __future__ import annotations

import builtins
import math
import warnings

import numpy as np

from .. import _dtype
from ..autograd.grad_mode import state as _grad_state
from ..autograd.node import Op
from ..tensor import Tensor
from ._pw_common import _F16, const, keep, opmath, quiet, tname, to_float
from ._util import wrap_dims


def _dims(dim, ndim: int) -> tuple:
    """Reduced dims: None or () means all (PyTorch), else wrapped, sorted, without duplicates."""
    if dim is None or (not isinstance(dim, (int, np.integer)) and len(dim) == 0):
        return tuple(range(ndim))
    dims = wrap_dims(dim, ndim)  # validates dims even for a 0-d input, which has none to reduce
    return dims if ndim else ()


def _sum_dtype(x, dtype):
    if dtype is not None:
        return _dtype.to_numpy_dtype(dtype)
    if x.dtype.kind in "biu":  # PyTorch sums integers and bools as int64
        return _dtype.int64.np
    return None


_add_reduce = np.add.reduce


def _accumulate(fn, x, dtype, **kw):
    """x.sum / x.prod / a scan in PyTorch's accumulation type: float16 accumulates in float32 and the
    result is rounded back once (NumPy would round every partial sum to half)."""
    dt = _sum_dtype(x, dtype)
    if dt is None and x.dtype == _F16:
        return fn(x, dtype=np.float32, **kw).astype(_F16)
    return fn(x, dtype=dt, **kw)


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
        xp = self.dev.xp
        if xp is np:  # (ndarray.sum minus its Python wrapper; np.array wraps the scalar fastest)
            return np.array(_accumulate(_add_reduce, x, dtype, axis=None))
        return xp.asarray(_accumulate(xp.sum, x, dtype))

    def backward_raw(self, gd):
        return _fill(self.dev.xp, gd, self.shape)

    def backward(self, g):
        return g.expand(self.shape)


def _fill(xp, gd, shape):
    """The array gd (0-d) broadcast to ``shape``: a fresh array when small (NumPy's broadcast_to costs more
    than filling it), a read-only stride-0 view when large."""
    if type(gd) is not np.ndarray and isinstance(gd, np.generic):  # (NumPy's 0-d arithmetic gives scalars)
        gd = np.array(gd)
    if type(gd) is not np.ndarray or gd.ndim or len(shape) == 0:
        return xp.broadcast_to(gd, shape)
    n = 1
    for s in shape:
        n *= s
    if n <= 4096:
        out = np.empty(shape, gd.dtype)
        out[...] = gd
    else:
        out = np.ndarray(shape, gd.dtype, buffer=gd, strides=(0,) * len(shape))
        out.flags.writeable = False
    return out


class SumBackward1(Op):
    """sum over dims."""

    def forward(self, x, dim=None, keepdim=False, dtype=None):
        self.shape = x.shape
        self.dims = _dims(dim, x.ndim)
        self.keepdim = keepdim
        xp = self.dev.xp
        if xp is np:  # (as in SumBackward0)
            r = _accumulate(_add_reduce, x, dtype, axis=self.dims, keepdims=keepdim)
            return r if type(r) is np.ndarray else np.array(r)
        return xp.asarray(_accumulate(xp.sum, x, dtype, axis=self.dims, keepdims=keepdim))

    def backward(self, g):
        return _unsqueeze_to(g, self.shape, self.dims, self.keepdim).expand(self.shape)


class SumToSizeBackward0(Op):
    """Sum broadcast dims away so the result has ``shape`` (the engine's gradient reduction)."""

    def forward(self, x, shape=None):
        self.shape = x.shape
        lead = x.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape)
                                          if s == 1 and x.shape[lead + i] != 1)
        if axes:
            x = x.sum(axis=axes, keepdims=True)
        return x.reshape(shape)

    def backward(self, g):
        return g.expand(self.shape)


class MeanBackward0(Op):
    def forward(self, x, dtype=None):
        _check_float_mean(x, dtype)
        self.shape, self.n = x.shape, x.size
        with quiet():  # mean of an empty tensor is nan, silently
            out = x.mean(dtype=_dtype.to_numpy_dtype(dtype)) if dtype is not None else x.mean()
        return self.dev.xp.asarray(out)

    def backward_raw(self, gd):
        if not self.n:
            return self._backward_unwrapped(gd)
        return _fill(self.dev.xp, gd / self.n, self.shape)

    def backward(self, g):
        return (g / max(self.n, 1)).expand(self.shape) if self.n else g.expand(self.shape) * float("nan")


class MeanBackward1(Op):
    def forward(self, x, dim=None, keepdim=False, dtype=None):
        _check_float_mean(x, dtype)
        self.shape = x.shape
        self.dims = _dims(dim, x.ndim)
        self.keepdim = keepdim
        n = 1
        for d in self.dims:
            n *= x.shape[d]
        self.n = n
        with quiet():
            out = self.dev.xp.asarray(x.mean(axis=self.dims, keepdims=keepdim))
        return out.astype(_dtype.to_numpy_dtype(dtype)) if dtype is not None else out

    def backward(self, g):
        return (_unsqueeze_to(g, self.shape, self.dims, self.keepdim) / self.n).expand(self.shape)


def _check_float_mean(x, dtype):
    if dtype is None and x.dtype.kind != "f":
        raise RuntimeError("mean(): could not infer output dtype. Input dtype must be either a floating "
                           f"point or complex dtype. Got: {tname(x.dtype)}")


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


def _restore(t: Tensor, shape, dims, keepdim) -> Tensor:
    """A reduced tensor reshaped with size-1 reduced dims, so it broadcasts against the input."""
    return _unsqueeze_to(t, shape, dims, keepdim)


# --- variance and standard deviation -----------------------------------------------------------------

def _var_arrays(node, x, dim, correction, keepdim, fn):
    """(var, mean with kept dims) over dims; sets node.dims/shape/dof. Two passes, like NumPy's var."""
    if x.dtype.kind != "f":
        raise RuntimeError("std and var only support floating point and complex dtypes")
    dims = _dims(dim, x.ndim)
    node.dims, node.shape, node.keepdim, node.correction = dims, x.shape, keepdim, correction
    n = 1
    for d in dims:
        n *= x.shape[d]
    node.n = n
    dof = node.dof = n - correction
    if dof <= 0:
        warnings.warn(f"{fn}(): degrees of freedom is <= 0. Correction should be strictly less than the "
                      "reduction factor (input numel divided by output numel).", UserWarning, stacklevel=4)
    dt, x = x.dtype, opmath(x)
    with quiet():
        m = x.mean(axis=dims, keepdims=True)
        d = x - m
        v = (d * d).sum(axis=dims, keepdims=keepdim) / x.dtype.type(builtins.max(dof, 0))
    xp = node.dev.xp
    return xp.asarray(v).astype(dt, copy=False), xp.asarray(m).astype(dt, copy=False)


def _var_backward(node, g, x):
    """d var / dx = 2 (x - mean) / (N - correction), times g (Tensor ops: differentiable again)."""
    g = _restore(g, node.shape, node.dims, node.keepdim)
    scale = 2.0 / node.dof if node.dof > 0 else math.inf
    return g * (x - x.mean(node.dims, True)) * scale


def _std_grad(g, std):
    """var gradient for std = sqrt(var): g / (2 std), 0 where std == 0 (PyTorch's masked_fill)."""
    return g / (std * 2) if (std._data != 0).all() else keep(std._data != 0, g / (std * 2))


class VarBackward0(Op):
    save = (0,)

    def forward(self, x, dim=None, correction=1, keepdim=False):
        return _var_arrays(self, x, dim, correction, keepdim, "var")[0]

    def backward(self, g):
        return _var_backward(self, g, self.saved_tensors[0])


class StdBackward0(Op):
    save = (0,)
    save_result = True

    def forward(self, x, dim=None, correction=1, keepdim=False):
        return self.dev.xp.sqrt(_var_arrays(self, x, dim, correction, keepdim, "std")[0])

    def backward(self, g):
        return _var_backward(self, _std_grad(g, self.result), self.saved_tensors[0])


class VarMeanBackward0(Op):
    save = (0,)

    def forward(self, x, dim=None, correction=1, keepdim=False):
        v, m = _var_arrays(self, x, dim, correction, keepdim, "var_mean")
        return v, (m if keepdim else m.reshape(v.shape))

    def backward(self, gv, gm):
        x = self.saved_tensors[0]
        return _var_backward(self, gv, x) + _restore(gm, self.shape, self.dims, self.keepdim) / self.n


class StdMeanBackward0(Op):
    save = (0,)

    def forward(self, x, dim=None, correction=1, keepdim=False):
        v, m = _var_arrays(self, x, dim, correction, keepdim, "std_mean")
        self.std = std = self.dev.xp.sqrt(v)
        return std, (m if keepdim else m.reshape(v.shape))

    def backward(self, gs, gm):
        x = self.saved_tensors[0]
        # std is an output of this multi-output node, so it has no saved-result tensor: first order needs
        # only its value; under create_graph it is recomputed from x so its dependence on x is recorded
        std = (StdBackward0.apply(x, dim=self.dims, correction=self.correction, keepdim=self.keepdim)
               if _grad_state.enabled else const(self.std, gs))
        gm = _restore(gm, self.shape, self.dims, self.keepdim) / self.n
        return _var_backward(self, _std_grad(gs, std), x) + gm


def _correction(dim, unbiased, correction):
    """PyTorch's var/std overloads: var(x, unbiased), var(x, dim, unbiased, keepdim), correction=."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    if correction is None:
        correction = 0 if unbiased is False else 1
    elif unbiased is not None:
        raise TypeError("var() received an invalid combination of arguments - got both 'unbiased' and "
                        "'correction'")
    return dim, correction


def var(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *, correction=None,
        out=None) -> Tensor:
    """sum((x - mean)^2) / (N - correction) over ``dim`` (correction=1: unbiased)."""
    dim, correction = _correction(dim, unbiased, correction)
    return VarBackward0.apply(input, dim=dim, correction=correction, keepdim=keepdim)


def std(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *, correction=None,
        out=None) -> Tensor:
    """sqrt(var(input, dim, correction))."""
    dim, correction = _correction(dim, unbiased, correction)
    return StdBackward0.apply(input, dim=dim, correction=correction, keepdim=keepdim)


def var_mean(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
             correction=None):
    """(var, mean) over ``dim`` in one pass over the data."""
    dim, correction = _correction(dim, unbiased, correction)
    return VarMeanBackward0.apply(input, dim=dim, correction=correction, keepdim=keepdim)


def std_mean(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
             correction=None):
    """(std, mean) over ``dim``."""
    dim, correction = _correction(dim, unbiased, correction)
    return StdMeanBackward0.apply(input, dim=dim, correction=correction, keepdim=keepdim)


# --- norms ---------------------------------------------------------------------------------------------

class LinalgVectorNormBackward0(Op):
    """(sum |x|^p)^(1/p) over dims; p = inf / -inf: max / min |x|; p = 0: number of nonzeros."""
    save = (0,)
    save_result = True

    def forward(self, x, ord=2.0, dim=None, keepdim=False, dtype=None):
        if x.dtype.kind != "f":
            raise RuntimeError("linalg.vector_norm: Expected a floating point or complex tensor as input. "
                               f"Got {tname(x.dtype)}")
        if dtype is not None:
            x = x.astype(_dtype.to_numpy_dtype(dtype))
        dims = self.dims = _dims(dim, x.ndim)
        self.ord, self.shape, self.keepdim = ord, x.shape, keepdim
        return self._norm(self.dev.xp, opmath(x), ord, dims, keepdim).astype(x.dtype, copy=False)

    @staticmethod
    def _norm(xp, x, ord, dims, keepdim):
        if ord == 2:
            return xp.sqrt(xp.asarray((x * x).sum(axis=dims, keepdims=keepdim)))
        a = xp.abs(x)
        if math.isinf(ord):
            if x.size == 0:
                raise RuntimeError("linalg.vector_norm cannot compute the inf norm on an empty tensor "
                                   "because the operation does not have an identity")
            return xp.asarray((a.max if ord > 0 else a.min)(axis=dims, keepdims=keepdim))
        if ord == 1:
            return xp.asarray(a.sum(axis=dims, keepdims=keepdim))
        if ord == 0:
            return xp.asarray((a != 0).sum(axis=dims, keepdims=keepdim, dtype=x.dtype))
        with quiet():
            return xp.asarray((a ** ord).sum(axis=dims, keepdims=keepdim) ** (1.0 / ord))

    def backward(self, g):
        x = self.saved_tensors[0]
        p = self.ord
        if p == 0:  # piecewise constant: no gradient at all (None, like PyTorch's undefined grad)
            return None
        g = _restore(g, self.shape, self.dims, self.keepdim)
        r = _restore(self.result, self.shape, self.dims, self.keepdim)
        if p == 1:
            return g * x.sign()
        rd = r._data
        if math.isinf(p):
            mask = x._data.__abs__() == rd
            w = mask.astype(g._data.dtype) / mask.sum(axis=self.dims, keepdims=True).astype(g._data.dtype)
            return g * x.sign() * const(w, g)
        nz = rd != 0
        if not nz.all():  # gradient 0 where the norm is 0; a safe denominator keeps double backward finite
            from .pointwise_logic import where
            r = where(const(nz, r), r, 1.0)
        if p == 2:
            scaled = x
        elif p < 2:
            scaled = x.sign() * x.abs().pow(p - 1)
            if p < 1 and (x._data == 0).any():
                scaled = keep(x._data != 0, scaled)
        else:
            scaled = x * x.abs().pow(p - 2)
        out = scaled * (g / (r if p == 2 else r.pow(p - 1)))
        return out if nz.all() else keep(nz, out)


def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False, out=None, dtype=None) -> Tensor:
    """Vector p-norm over ``dim`` (all elements if None); p='fro' is the 2-norm."""
    if isinstance(p, str):
        if p == "nuc":
            from .linalg import nuclear_norm
            # (torch.norm's dim=None means every dim: nuclear_norm then refuses other than two, as PyTorch)
            return nuclear_norm(input, tuple(range(input._data.ndim)) if dim is None else dim, keepdim)
        if p != "fro":
            raise RuntimeError(f"linalg.matrix_norm: Order {p} not supported.")
        p = 2
    return LinalgVectorNormBackward0.apply(input, ord=float(2 if p is None else p), dim=dim, keepdim=keepdim,
                                           dtype=dtype)


# --- logsumexp, all/any ------------------------------------------------------------------------------

class LogsumexpBackward0(Op):
    """log(sum(exp(x))) over dims, shifted by the max so magnitudes like 1e4 neither overflow nor vanish."""
    save = (0,)
    save_result = True

    def forward(self, x, dim=(), keepdim=False):
        x = to_float(x)
        dt, x = x.dtype, opmath(x)
        return self._lse(x, dim, keepdim).astype(dt, copy=False)

    def _lse(self, x, dim, keepdim):
        xp = self.dev.xp
        dims = self.dims = _dims(dim, x.ndim)
        self.shape, self.keepdim = x.shape, keepdim
        if builtins.any(x.shape[d] == 0 for d in dims):
            shape = [1 if d in dims else s for d, s in enumerate(x.shape)] if keepdim else \
                [s for d, s in enumerate(x.shape) if d not in dims]
            return xp.full(shape, -np.inf, dtype=x.dtype)
        m = x.max(axis=dims, keepdims=True)
        m = xp.where(xp.isinf(m), x.dtype.type(0), m)  # all -inf (or an inf) in a slice: no shift
        with quiet():
            s = xp.log(xp.exp(x - m).sum(axis=dims, keepdims=True)) + m
        return s if keepdim else s.reshape([n for d, n in enumerate(x.shape) if d not in dims])

    def backward(self, g):
        x = self.saved_tensors[0]
        g = _restore(g, self.shape, self.dims, self.keepdim)
        r = _restore(self.result, self.shape, self.dims, self.keepdim)
        return g * (x - r).exp()


def logsumexp(input: Tensor, dim, keepdim: bool = False, *, out=None) -> Tensor:
    """log(sum(exp(x))) over ``dim``, computed stably."""
    return LogsumexpBackward0.apply(input, dim=dim, keepdim=keepdim)


def _bool_reduce(fn):
    def reduce(input: Tensor, dim=None, keepdim: bool = False, *, out=None) -> Tensor:
        x, xp = input._data, input._device.xp
        dims = _dims(dim, x.ndim)
        r = xp.asarray(getattr(xp, fn)(x, axis=dims, keepdims=keepdim))
        return Tensor._make(r.astype(np.uint8) if x.dtype == np.uint8 else r, input._device)
    reduce.__doc__ = f"Whether {fn} elements are nonzero (over ``dim`` if given); bool (uint8 for uint8)."
    return reduce


all = _bool_reduce("all")
any = _bool_reduce("any")


def count_nonzero(input: Tensor, dim=None) -> Tensor:
    """Number of nonzero elements (over ``dim`` if given), int64."""
    x, xp = input._data, input._device.xp
    dims = _dims(dim, x.ndim)
    return Tensor._make(xp.asarray((x != 0).sum(axis=dims, dtype=np.int64)), input._device)


TENSOR_METHODS = {"sum": sum, "mean": mean, "sum_to_size": sum_to_size, "var": var, "std": std, "norm": norm,
                  "logsumexp": logsumexp, "all": all, "any": any, "count_nonzero": count_nonzero}

from . import reduce_scan as _scan, reduce_select as _select  # noqa: E402

TENSOR_METHODS.update(_scan.TENSOR_METHODS)
TENSOR_METHODS.update(_select.TENSOR_METHODS)
