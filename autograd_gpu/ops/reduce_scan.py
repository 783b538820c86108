"""Scans (cumsum, cumprod) and prod, whose gradients are built from scans.

Zeros: d prod / d x_i is the product of the *other* elements, which result / x_i cannot give when some
x_j == 0. Like PyTorch, the fast formula is used when the input has no zero, and otherwise the exact one:
exclusive-prefix product times exclusive-suffix product, written with differentiable ops so double
backward stays exact.
"""
from __future__ import annotations

from ..autograd.grad_mode import state as _grad_state
from ..autograd.node import Op
from ..tensor import Tensor
from ._pw_common import const
from ._util import wrap_dim
from .pointwise_logic import where
from .reduce import _accumulate


def _flip(xp, a, d):
    return xp.ascontiguousarray(xp.flip(a, d))


def _scan(xp, fn, x, d, dtype, reverse):
    if x.ndim == 0:
        return _accumulate(lambda a, dtype: a.astype(dtype or a.dtype, copy=True), x, dtype)
    if reverse:
        return _flip(xp, _accumulate(fn, _flip(xp, x, d), dtype, axis=d), d)
    return _accumulate(fn, x, dtype, axis=d)


class CumsumBackward0(Op):
    """Inclusive prefix sum along ``dim`` (``reverse``: suffix sum, used by the backward passes)."""

    def forward(self, x, dim=0, dtype=None, reverse=False):
        self.dim, self.reverse = wrap_dim(dim, x.ndim), reverse
        return _scan(self.dev.xp, self.dev.xp.cumsum, x, self.dim, dtype, reverse)

    def backward(self, g):
        return _cumsum(g, self.dim, not self.reverse)


class CumprodBackward0(Op):
    save = (0,)
    save_result = True

    def forward(self, x, dim=0, dtype=None, reverse=False):
        self.dim, self.reverse = wrap_dim(dim, x.ndim), reverse
        return _scan(self.dev.xp, self.dev.xp.cumprod, x, self.dim, dtype, reverse)

    def backward(self, g):
        (x,) = self.saved_tensors
        if x._data.ndim == 0:
            return g
        out, d, rev = self.result, self.dim, self.reverse
        xp = self.dev.xp
        zero = x._data == 0
        # grad_i = sum over outputs k after i (in scan order) of g_k out_k / x_i
        if not zero.any():
            return _cumsum(g * out, d, not rev) / x
        if _grad_state.enabled:  # create_graph: the masked formula below is exact in value, not in its
            return _cumprod_grad_exact(x, g, d, rev)  # derivative, so take PyTorch's O(n^2) road
        # With zeros, per slice: before the first zero the formula above still holds; at the first zero z,
        # grad_z = sum_{k >= z} g_k prod_{j <= k, j != z} x_j = suffix-sum of g * cumprod(x with x_z := 1);
        # after it, every product contains x_z = 0.
        seen = _scan(xp, xp.cumsum, zero.astype("int32"), d, None, rev)
        before, first = const(seen == 0, x), const(zero & (seen == 1), x)
        t1 = where(before, _cumsum(g * out, d, not rev) / where(before, x, 1.0), 0.0)
        y = where(first, 1.0, x)
        t2 = where(first, _cumsum(g * CumprodBackward0.apply(y, dim=d, reverse=rev), d, not rev), 0.0)
        return t1 + t2


def _cumprod_grad_exact(x: Tensor, g: Tensor, d: int, rev: bool) -> Tensor:
    """grad_i = sum over k at or after i (scan order) of g_k prod_{j up to k, j != i} x_j, for every i at
    once: row i of an (n, n) matrix is the scan of x with x_i replaced by 1. Differentiable everywhere."""
    xp = x._device.xp
    n = x._data.shape[d]
    last = x._data.ndim - 1
    xt, gt = (x, g) if d == last else (x.transpose(d, -1), g.transpose(d, -1))
    i = xp.arange(n)
    rows = where(const(i[:, None] == i[None, :], x), 1.0, xt.unsqueeze(-2))  # [..., i, k]
    scans = CumprodBackward0.apply(rows, dim=-1, reverse=rev)
    after = (i[None, :] <= i[:, None]) if rev else (i[None, :] >= i[:, None])
    out = where(const(after, x), scans * gt.unsqueeze(-2), 0.0).sum(-1)
    return out if d == last else out.transpose(d, -1)


def _cumsum(t: Tensor, d: int, reverse: bool) -> Tensor:
    return CumsumBackward0.apply(t, dim=d, reverse=reverse)


class ExclusiveShift(Op):
    """Shift along ``dim`` by one (toward the end, or toward the start with ``reverse``), filling with
    ``fill``: [a, b, c] -> [fill, a, b]. Builds exclusive products (PyTorch does it with cat + narrow)."""

    def forward(self, x, dim=0, fill=1.0, reverse=False):
        self.dim, self.reverse = dim, reverse
        xp = self.dev.xp
        out = xp.empty_like(x)
        n = x.shape[dim]
        src = [slice(None)] * x.ndim
        dst = list(src)
        edge = list(src)
        src[dim], dst[dim], edge[dim] = ((slice(0, n - 1), slice(1, n), 0) if not reverse
                                         else (slice(1, n), slice(0, n - 1), n - 1))
        out[tuple(dst)] = x[tuple(src)]
        out[tuple(edge)] = fill
        return out

    def backward(self, g):
        # the adjoint shifts back the other way; the filled slot received no input
        return ExclusiveShift.apply(g, dim=self.dim, fill=0.0, reverse=not self.reverse)


def _others_product(x: Tensor, d: int) -> Tensor:
    """prod_{j != i} x_j along dim d for every i, exact with zeros (and differentiable)."""
    before = CumprodBackward0.apply(ExclusiveShift.apply(x, dim=d), dim=d)
    after = CumprodBackward0.apply(ExclusiveShift.apply(x, dim=d, reverse=True), dim=d, reverse=True)
    return before * after


class ProdBackward0(Op):
    """Product of all elements."""
    save = (0,)
    save_result = True

    def forward(self, x, dtype=None):
        return self.dev.xp.asarray(_accumulate(self.dev.xp.prod, x, dtype))

    def backward(self, g):
        (x,) = self.saved_tensors
        if x._data.ndim == 0:
            return g
        if not (x._data == 0).any():
            return g * (self.result / x)
        return g * _others_product(x.reshape(-1), 0).reshape(x._data.shape)


class ProdBackward1(Op):
    """Product along one dim."""
    save = (0,)
    save_result = True

    def forward(self, x, dim=0, keepdim=False, dtype=None):
        self.dim, self.keepdim = wrap_dim(dim, x.ndim), keepdim
        if x.ndim == 0:
            return _scan(self.dev.xp, None, x, 0, dtype, False)
        return self.dev.xp.asarray(_accumulate(self.dev.xp.prod, x, dtype, axis=self.dim, keepdims=keepdim))

    def backward(self, g):
        (x,) = self.saved_tensors
        if x._data.ndim == 0:
            return g
        r = self.result
        if not self.keepdim:
            g, r = g.unsqueeze(self.dim), r.unsqueeze(self.dim)
        if not (x._data == 0).any():
            return g * (r / x)
        return g * _others_product(x, self.dim)


def prod(input: Tensor, dim: int | None = None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Product of elements (along ``dim`` if given); integers multiply in int64."""
    if dim is None:
        return ProdBackward0.apply(input, dtype=dtype)
    if not isinstance(dim, int):
        raise TypeError(f"prod() received an invalid combination of arguments - got ({type(dim).__name__}), "
                        "but expected one of:\n * (*, torch.dtype dtype = None)\n * (int dim, bool keepdim = "
                        "False, *, torch.dtype dtype = None)\n")
    return ProdBackward1.apply(input, dim=dim, keepdim=keepdim, dtype=dtype)


def cumsum(input: Tensor, dim: int, *, dtype=None, out=None) -> Tensor:
    """y_i = x_1 + ... + x_i along ``dim``."""
    return CumsumBackward0.apply(input, dim=dim, dtype=dtype)


def cumprod(input: Tensor, dim: int, *, dtype=None, out=None) -> Tensor:
    """y_i = x_1 * ... * x_i along ``dim``."""
    return CumprodBackward0.apply(input, dim=dim, dtype=dtype)


TENSOR_METHODS = {"prod": prod, "cumsum": cumsum, "cumprod": cumprod}
