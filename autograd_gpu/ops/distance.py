"""Distances and similarities: normalize, cosine_similarity, pairwise_distance, pdist.

normalize, cosine_similarity and pairwise_distance are built from the library's differentiable ops (vector
norm, division, sum), so first and higher derivatives come from those ops' backward formulas on every device.
eps enters exactly where PyTorch puts it: normalize clamps the norm (differentiably), cosine_similarity clamps
each norm outside autograd (the clamp is invisible to the gradient, as PyTorch's in-place clamp under no_grad
is), pairwise_distance adds eps to the difference. pdist is an op of its own, computed over blocks of row pairs:
as a composition (gather the pairs, norm, scatter the gradients back) it ran 7x slower.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _dtype
from ..autograd.grad_mode import no_grad, state as _grad_state
from ..autograd.node import Op, _broadcast_error
from ..tensor import Tensor
from ._nnutil import TORCH_NAMES, const
from ._pw_common import ROW_BLOCK_BYTES, keep, opmath
from .reduce import LinalgVectorNormBackward0

__all__ = ["normalize", "cosine_similarity", "pairwise_distance", "pdist"]


class NormBackward1(LinalgVectorNormBackward0):
    """||x||_p over ``dim``: the vector norm under the name PyTorch's ``at::norm(x, p, dim)`` node has."""


def _broadcast_shape(a: Tensor, b: Tensor) -> tuple:
    try:
        return np.broadcast_shapes(a._data.shape, b._data.shape)
    except ValueError:
        raise _broadcast_error((a, b)) from None


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out: Tensor | None = None) -> Tensor:
    """x / max(||x||_p, eps) along ``dim`` (the clamp is differentiable: gradient x-independent below eps)."""
    denom = input.norm(p, dim, keepdim=True).clamp_min(eps)
    if out is None:
        return input / denom
    if _grad_state.enabled and (input.requires_grad or out.requires_grad):
        raise RuntimeError("div(): functions with out=... arguments don't support automatic differentiation, "
                           "but one of the arguments requires grad.")
    return out.copy_(input / denom)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum(x1 / max(||x1||, eps) * x2 / max(||x2||, eps)) along ``dim`` of the broadcast inputs.

    Each input is divided by its own clamped norm before the product (current PyTorch): the result stays in
    [-1, 1] and neither <x1, x2> nor ||x1|| ||x2|| is formed, so nothing overflows. The clamp is applied to a
    clone under no_grad, as PyTorch does: the gradient sees the clamped value but not the clamp."""
    rt = _dtype.result_type_np((x1._data, x2._data))
    if rt.kind != "f":
        raise RuntimeError(f"expected common dtype to be floating point, yet common dtype is "
                           f"{TORCH_NAMES[rt.name]}")
    # integer (and bool) inputs are converted; floats keep their dtype (the division promotes)
    x1 = x1 if x1._data.dtype.kind == "f" else x1.to(_dtype.from_numpy_dtype(rt))
    x2 = x2 if x2._data.dtype.kind == "f" else x2.to(_dtype.from_numpy_dtype(rt))
    shape = _broadcast_shape(x1, x2)
    if x1._data.shape != shape:
        x1 = x1.expand(shape)
    if x2._data.shape != shape:
        x2 = x2.expand(shape)
    n1 = x1.norm(2, dim, keepdim=True).clone()
    n2 = x2.norm(2, dim, keepdim=True).clone()
    with no_grad():
        n1.clamp_min_(eps)
        n2.clamp_min_(eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p over the last dim of the broadcast inputs (eps added to every difference)."""
    innermost = max(x1._data.ndim, x2._data.ndim) - 1
    d = x1 - x2 + eps
    if d._data.dtype.kind != "f":  # (bool inputs: PyTorch's subtraction refuses them too)
        raise RuntimeError("linalg.vector_norm: Expected a floating point or complex tensor as input. Got "
                           f"{TORCH_NAMES[d._data.dtype.name]}")
    return NormBackward1.apply(d, ord=float(p), dim=innermost if innermost >= 0 else None, keepdim=keepdim)


def _triangle_blocks(xp, n: int, m: int):
    """Row blocks [a, b) of the pairs i < j (rows a..b-1 against columns a+1..n-1) and their pair counts:
    about 1 MB of differences at a time on the CPU (cache-sized), 256 MB on a GPU (few launches); never the
    whole n(n-1)/2 x m difference array at once."""
    budget = ROW_BLOCK_BYTES if xp is np else 1 << 28
    a = 0
    while a < n - 1:
        b = min(a + max(1, budget // (8 * (n - a) * max(m, 1))), n - 1)
        yield a, b, (b - a) * (2 * n - a - b - 1) // 2  # sum over rows i in [a, b) of n - 1 - i
        a = b


def _block(xp, x, a, b):
    """Differences x_i - x_j of the block's rows i against columns j > a, and the mask of the pairs j > i."""
    n = x.shape[0]
    d = x[a:b, None, :] - x[None, a + 1:, :]
    return d, xp.arange(a + 1, n)[None, :] > xp.arange(a, b)[:, None]


def _pdist_np(xp, x, p: float):
    out = xp.empty(x.shape[0] * (x.shape[0] - 1) // 2, dtype=x.dtype)
    k = 0
    for a, b, cnt in _triangle_blocks(xp, *x.shape):
        d, pairs = _block(xp, x, a, b)
        out[k:k + cnt] = LinalgVectorNormBackward0._norm(xp, d, p, (2,), False)[pairs]
        k += cnt
    return out


def _pair_grad_np(xp, d, r, g, p: float):
    """d||d||_p / dd * g per pair (PyTorch's _pdist_backward): 0 where the distance is 0, and at p < 1 where a
    coordinate difference is 0; at p = inf every coordinate tied for the max takes the whole gradient."""
    if p == 1:
        return xp.sign(d) * g
    if math.isinf(p):
        return xp.sign(d) * (xp.abs(d) == r) * g
    scale = xp.where(r == 0, 0, g / xp.where(r == 0, 1, r) ** (p - 1))
    if p == 2:
        return d * scale
    with np.errstate(divide="ignore", invalid="ignore"):
        t = xp.sign(d) * xp.abs(d) ** (p - 1)
    if p < 1:
        t = xp.where(d == 0, 0, t)
    return t * scale


def _pdist_grad_np(xp, x, g, r, p: float):
    """The gradient block by block: pair (i, j) adds its term to row i and subtracts it from row j."""
    gx = xp.zeros_like(x)
    k = 0
    for a, b, cnt in _triangle_blocks(xp, *x.shape):
        d, pairs = _block(xp, x, a, b)
        gb, rb = xp.zeros(pairs.shape, x.dtype), xp.zeros(pairs.shape, x.dtype)
        gb[pairs], rb[pairs] = g[k:k + cnt], r[k:k + cnt]
        k += cnt
        c = _pair_grad_np(xp, d, rb[:, :, None], gb[:, :, None], p)  # (0 outside the pairs: g = 0 there)
        gx[a:b] += c.sum(axis=1)
        gx[a + 1:] -= c.sum(axis=0)
    return gx


def _pdist_grad_graph(x: Tensor, g: Tensor, r: Tensor, p: float) -> Tensor:
    """The same gradient in Tensor ops (for create_graph: differentiable again), over explicit pairs."""
    dev = x._device
    i, j = (Tensor._make(dev.xp.asarray(k.astype(np.int64)), dev)
            for k in np.triu_indices(x._data.shape[0], 1))
    d = x.index_select(0, i) - x.index_select(0, j)
    g, r = g.reshape(-1, 1), r.reshape(-1, 1)
    if p == 1:
        c = d.sign() * g
    elif math.isinf(p):
        c = d.sign() * const((abs(d._data) == r._data).astype(d._data.dtype), dev) * g
    else:
        nz = r._data != 0
        rs = keep(nz, r) + const((~nz).astype(r._data.dtype), dev)  # r, 1 where r = 0
        if p == 2:
            c = d * (g / rs)
        else:
            t = d * d.abs().pow(p - 2) if p > 2 else d.sign() * d.abs().pow(p - 1)
            if p < 1:
                t = keep(d._data != 0, t)
            c = t * (g / rs.pow(p - 1))
        c = keep(nz, c)
    return x.new_zeros(x._data.shape).index_add(0, i, c).index_add(0, j, -c)


class PdistBackward0(Op):
    """||x_i - x_j||_p for every pair of rows i < j, computed block by block. First-order backward in arrays,
    block by block too (an explicit-pairs composition spends its time scattering the pair gradients back
    to the rows); under create_graph the same formula in Tensor ops, so higher derivatives work."""
    save = (0,)
    save_result = True

    def forward(self, x, p=2.0):
        self.p = p
        return _pdist_np(self.dev.xp, opmath(x), p).astype(x.dtype, copy=False)

    def backward(self, g):
        (x,) = self.saved_tensors
        if self.p == 0:  # piecewise constant: PyTorch's zero gradient
            return const(x._device.xp.zeros_like(x._data), g._device)
        if _grad_state.enabled:
            return _pdist_grad_graph(x, g, self.result, self.p)
        xp, dt = self.dev.xp, x._data.dtype
        gx = _pdist_grad_np(xp, opmath(x._data), opmath(g._data), opmath(self.result._data), self.p)
        return Tensor._make(gx.astype(dt, copy=False), g._device)


def pdist(input: Tensor, p: float = 2) -> Tensor:
    """||x_i - x_j||_p for every pair of rows i < j, in row-major order of the upper triangle (n(n-1)/2
    values).

    Differences are formed explicitly (block by block) rather than through a Gram matrix, whose
    |x|^2 + |y|^2 - 2 x.y cancels for close rows."""
    if input._data.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input._data.ndim}D")
    if input._data.dtype.kind != "f":
        raise RuntimeError("pdist only supports floating-point dtypes")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    return PdistBackward0.apply(input, p=float(p))
