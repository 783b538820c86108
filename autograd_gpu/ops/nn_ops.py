"""Layer ops of torch.nn.functional: linear, dropout, layer_norm, embedding, one_hot (pad is in nn_pad.py).

dropout draws its mask from a counter-based Philox-4x32-10 stream keyed by the default generator's seed and
a counter offset, computed by the fused kernel on CUDA devices and by the same algorithm in NumPy on cpu:
one seed gives the same mask on every device.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.grad_mode import state as _grad_state
from ..autograd.node import Op
from ..random import default_generator as _gen
from ..tensor import Tensor
from ._nnutil import TORCH_NAMES, const, fused as _fused, kernels as _kernels
from ._pw_common import _F16, opmath, row_blocks
from ._util import held_index
from .linalg import LinearAddmmBackward0, _check_addmm_dtypes, _mat_shape_error, addmm, matmul, mm
from .nn_pad import pad  # noqa: F401  (re-exported)
from .shape import t as _t


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """input @ weight.T + bias."""
    x, w = input._data, weight._data
    if x.ndim == 2:
        if bias is not None:  # PyTorch's addmm: one matmul with the bias added in place
            if w.ndim == 2 and bias._data.shape == w.shape[:1]:
                dt = w.dtype
                if bias._data.dtype is not dt or x.dtype is not dt:  # (same dtype: the same descriptor object)
                    _check_addmm_dtypes(bias._data.dtype, x.dtype, dt)
                if x.shape[1] != w.shape[1]:
                    raise _mat_shape_error(input, weight.t())
                return LinearAddmmBackward0.apply(bias, input, weight)
            return addmm(bias, input, _t(weight))
        return mm(input, _t(weight))
    out = matmul(input, _t(weight))
    return out if bias is None else out + bias


# ---------------------------------------------------------------- dropout
_PHILOX_M0, _PHILOX_M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_PHILOX_W0, _PHILOX_W1 = 0x9E3779B9, 0xBB67AE85
_LO32 = np.uint64(0xFFFFFFFF)
_U32 = np.uint64(32)
_CHUNK = 1 << 16  # cache-sized chunks: ~3x faster than whole-array passes on large tensors


def philox_first_word(seed: int, offset: int, n: int) -> np.ndarray:
    """First 32-bit word of Philox-4x32-10(counter = offset + i, key = seed) for i < n, as uint64:
    the NumPy twin of ``ag::philox_4x32_10`` in kernels/activations.cuh (64-bit products for mulhilo)."""
    out = np.empty(n, np.uint64)
    k0_init, k1_init = seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF
    for start in range(0, n, _CHUNK):
        m = min(_CHUNK, n - start)
        c0 = np.arange(start, start + m, dtype=np.uint64)
        c0 += np.uint64(offset & 0xFFFFFFFFFFFFFFFF)  # wraps modulo 2^64 like the kernel's u64 sum
        c1 = c0 >> _U32
        c0 &= _LO32
        k0, k1 = k0_init, k1_init
        # round 1: the counter's words 2 and 3 are 0, so the second product is 0
        p0 = c0 * _PHILOX_M0
        c0 = c1 ^ np.uint64(k0)
        c2 = p0 >> _U32
        c2 ^= np.uint64(k1)
        c1 = np.zeros(m, np.uint64)
        c3 = p0 & _LO32
        for _ in range(9):
            k0, k1 = (k0 + _PHILOX_W0) & 0xFFFFFFFF, (k1 + _PHILOX_W1) & 0xFFFFFFFF
            p0 = c0 * _PHILOX_M0
            p1 = c2 * _PHILOX_M1
            c0 = p1 >> _U32
            c0 ^= c1
            c0 ^= np.uint64(k0)
            c2 = p0 >> _U32
            c2 ^= c3
            c2 ^= np.uint64(k1)
            p1 &= _LO32
            p0 &= _LO32
            c1, c3 = p1, p0
        out[start:start + m] = c0
    return out


def dropout_threshold(p: float) -> int:
    """Keep element i when its 32-bit draw is >= floor(p 2^32) (the kernel's rule)."""
    return min(int(p * 2.0 ** 32), 2 ** 32 - 1)


class NativeDropoutBackward0(Op):
    """CUDA devices: (y, mask) = one fused launch; y = x mask / (1 - p)."""

    def forward(self, x, p=0.5, seed=0, offset=0):
        self.p = p
        y, self.mask = _fused().dropout_fwd(self.dev, x, p, seed, offset)
        return y

    def backward_raw(self, gd):
        return NativeDropoutBackwardBackward0.forward_arrays(self.dev, gd, mask=self.mask, p=self.p)

    def backward(self, g):
        return NativeDropoutBackwardBackward0.apply(g, mask=self.mask, p=self.p)


class NativeDropoutBackwardBackward0(Op):
    """native_dropout_backward: gx = g mask / (1 - p); linear in g, so its backward is itself."""

    def forward(self, g, mask=None, p=0.5):
        self.mask, self.p = mask, p
        if _kernels(self.dev, g):
            return _fused().dropout_bwd(self.dev, g, mask, p)
        return g * mask * g.dtype.type(0.0 if p >= 1 else 1.0 / (1.0 - p))

    def backward(self, gg):
        return NativeDropoutBackwardBackward0.apply(gg, mask=self.mask, p=self.p)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the rest by 1 / (1 - p) (identity unless training)."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"result type Float can't be cast to the desired output type "
                           f"{TORCH_NAMES[input._data.dtype.name]}")
    if inplace:
        from .inplace import apply_inplace
        return apply_inplace(input, dropout, p, training)
    seed, offset = _gen.initial_seed(), _gen.next_offset(input._data.size)
    x = input._data
    if _kernels(input._device, x):
        return NativeDropoutBackward0.apply(input, p=p, seed=seed, offset=offset)
    # cpu: input * (mask / (1 - p)) as a MulBackward0 node, like PyTorch's CPU dropout. For float32/64 the
    # products are bit-identical to the kernel's (it also multiplies by the scale rounded to the dtype).
    dt = x.dtype
    if p == 1.0:
        mask = np.zeros(x.shape, dt)
    else:
        keep = philox_first_word(seed, offset, x.size) >= np.uint64(dropout_threshold(p))
        mask = keep.reshape(x.shape).astype(dt)
        mask *= dt.type(1.0 / (1.0 - p))
    return input * const(mask, input._device)


# ---------------------------------------------------------------- layer norm
def _layer_norm_np(xp, x, w, b, eps, d):
    dt = x.dtype
    if dt == _F16:  # like PyTorch: float32 statistics and arithmetic, one rounding of y; mean / rstd float32
        x, w, b = opmath(x), None if w is None else opmath(w), None if b is None else opmath(b)
    m = x.size // d if d else 0
    xr = x.reshape(m, d)
    # on NumPy over blocks of rows that stay in cache through all five passes (rows are independent: the
    # results are whole-array passes' bit for bit)
    y, mean, rstd = xp.empty((m, d), x.dtype), xp.empty(m, x.dtype), xp.empty(m, x.dtype)
    e = x.dtype.type(eps)
    wr = None if w is None else w.reshape(d)
    br = None if b is None else b.reshape(d)
    for s in row_blocks(m, d) if xp is np else [slice(None)]:
        xb, yb = xr[s], y[s]
        mb = xb.mean(axis=1)
        xp.subtract(xb, mb[:, None], out=yb)
        rb = 1 / xp.sqrt(xp.square(yb).mean(axis=1) + e)
        yb *= rb[:, None]
        if wr is not None:
            yb *= wr
        if br is not None:
            yb += br
        mean[s], rstd[s] = mb, rb
    return y.reshape(x.shape).astype(dt, copy=False), mean, rstd


class NativeLayerNormBackward0(Op):
    """y = (x - mean) rstd w + b over the trailing normalized dims; mean / rstd saved for backward."""

    def forward(self, x, *wb, n_norm=1, has_weight=False, has_bias=False, eps=1e-5):
        self.n_norm, self.eps, self.has_w, self.has_b = n_norm, eps, has_weight, has_bias
        w = wb[0] if has_weight else None
        b = wb[-1] if has_bias else None
        d = math.prod(x.shape[x.ndim - n_norm:])
        self.save = (0, 1) if has_weight else (0,)
        if _kernels(self.dev, x) and x.size:
            y, self.mean, self.rstd = _fused().layer_norm_fwd(self.dev, x, w, b, eps, d)
        else:
            y, self.mean, self.rstd = _layer_norm_np(self.dev.xp, x, w, b, eps, d)
        return y

    def backward_raw(self, gd):
        # one fused launch on CUDA devices (plus the parameter-gradient reduction)
        saved = self.saved_tensors
        w = saved[1]._data if self.has_w else None
        grads = _layer_norm_backward_arrays(self.dev, gd, saved[0]._data, self.mean, self.rstd, w,
                                            any(self.needs_input_grad[1:]))
        return self._per_input(grads, w)

    def backward(self, g):
        if not _grad_state.enabled:  # (forward AD without create_graph: no graph of the backward)
            return tuple(None if a is None else Tensor._make(a, self.dev) for a in self.backward_raw(g._data))
        saved = self.saved_tensors
        x, w = saved[0], (saved[1] if self.has_w else None)
        # a Tensor-op backward, differentiable to any order
        grads = _layer_norm_backward_graph(g, x, w, self.n_norm, self.eps, any(self.needs_input_grad[1:]))
        return self._per_input(grads, w)

    def _per_input(self, grads, w):
        """(gx, gw, gb) -> one gradient per input, the parameter gradients in their parameters' shapes."""
        gx, gw, gb = grads
        if gw is not None and w is not None:
            gw = gw.reshape(w.shape)
        if gb is not None and self.has_b:
            gb = gb.reshape(self._input_meta[-1][0])
        return (gx,) + ((gw,) if self.has_w else ()) + ((gb,) if self.has_b else ())


def _layer_norm_backward_arrays(dev, g, x, mean, rstd, w, need_params):
    if _kernels(dev, x) and x.size:
        return _fused().layer_norm_bwd(dev, x, g, mean, rstd, w, need_params)
    dt = x.dtype
    if dt == _F16:  # float32 arithmetic (mean / rstd already are), results rounded once
        g, x, w = opmath(g), opmath(x), None if w is None else opmath(w)
    m = mean.size
    d = x.size // m if m else 0
    xr, gr = x.reshape(m, d), g.reshape(m, d)
    wr = None if w is None else w.reshape(d)
    gx = dev.xp.empty(xr.shape, xr.dtype)
    gw = gb = None
    for s in row_blocks(m, d) if dev.xp is np else [slice(None)]:  # (as in _layer_norm_np)
        xhat = (xr[s] - mean[s, None]) * rstd[s, None]
        gs = gr[s]
        a = gs if wr is None else gs * wr
        t = a - a.mean(axis=1, keepdims=True)
        t -= xhat * (a * xhat).mean(axis=1, keepdims=True)
        t *= rstd[s, None]
        gx[s] = t
        if need_params:  # column sums, block by block
            pw, pb = (gs * xhat).sum(axis=0), gs.sum(axis=0)
            gw, gb = (pw, pb) if gw is None else (gw + pw, gb + pb)
    gx = gx.reshape(x.shape).astype(dt, copy=False)
    if not need_params:
        return gx, None, None
    if gw is None:  # (no rows)
        gw, gb = dev.xp.zeros(d, xr.dtype), dev.xp.zeros(d, xr.dtype)
    return gx, gw.astype(dt, copy=False), gb.astype(dt, copy=False)


def _layer_norm_backward_graph(g, x, w, n_norm, eps, need_params):
    nd = x._data.ndim
    dims = tuple(range(nd - n_norm, nd))
    mu = x.mean(dims, keepdim=True)
    xc = x - mu
    rstd = ((xc * xc).mean(dims, keepdim=True) + eps) ** -0.5
    xhat = xc * rstd
    a = g if w is None else g * w
    gx = rstd * (a - a.mean(dims, keepdim=True) - xhat * (a * xhat).mean(dims, keepdim=True))
    if not need_params:
        return gx, None, None
    lead = tuple(range(nd - n_norm))
    gw, gb = g * xhat, g
    if lead:
        gw, gb = gw.sum(lead), gb.sum(lead)
    return gx, gw, gb


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """(x - mean) / sqrt(var + eps) * weight + bias over the trailing normalized_shape dims (biased var)."""
    ns = (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) else \
        tuple(int(s) for s in normalized_shape)
    shape = input._data.shape
    k = len(ns)
    if k == 0 or len(shape) < k or shape[len(shape) - k:] != ns:
        raise RuntimeError(f"Given normalized_shape={list(ns)}, expected input with shape [*, "
                           f"{', '.join(map(str, ns))}], but got input of size{list(shape)}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and p._data.shape != ns:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but got {name} of "
                               f"shape {list(p._data.shape)} and normalized_shape = {list(ns)}")
    wb = [p for p in (weight, bias) if p is not None]
    return NativeLayerNormBackward0.apply(input, *wb, n_norm=k, has_weight=weight is not None,
                                          has_bias=bias is not None, eps=eps)


# ---------------------------------------------------------------- embedding
class EmbeddingBackward0(Op):
    """out[..., :] = weight[indices[...], :]."""

    def forward(self, weight, indices=None, padding_idx=None, scale_grad_by_freq=False):
        self.indices, self.padding_idx, self.freq = indices, padding_idx, scale_grad_by_freq
        self.num_weights = weight.shape[0]
        return self.dev.xp.take(weight, indices, axis=0)

    def backward_raw(self, gd):
        return EmbeddingBackwardBackward0.forward_arrays(self.dev, gd, indices=self.indices,
                                                         num_weights=self.num_weights, padding_idx=self.padding_idx,
                                                         scale_grad_by_freq=self.freq)

    def backward(self, g):
        return EmbeddingBackwardBackward0.apply(g, indices=self.indices, num_weights=self.num_weights,
                                                padding_idx=self.padding_idx, scale_grad_by_freq=self.freq)


class EmbeddingBackwardBackward0(Op):
    """embedding_backward: gw[r] = sum of g rows whose index is r (0 at padding_idx; / count with freq)."""

    def forward(self, g, indices=None, num_weights=0, padding_idx=None, scale_grad_by_freq=False):
        xp = self.dev.xp
        self.indices, self.padding_idx, self.freq = indices, padding_idx, scale_grad_by_freq
        dim = g.shape[-1] if g.ndim else 1
        idx = indices.reshape(-1)
        src = g.reshape(idx.size, dim)
        coef = _row_coef(xp, idx, num_weights, padding_idx, scale_grad_by_freq, g.dtype)
        if coef is not None:
            src = src * coef[:, None]
        out = xp.zeros((num_weights, dim), dtype=g.dtype)
        if _kernels(self.dev, g):
            _fused().scatter_add_rows(self.dev, out, idx, src)
        else:
            np.add.at(out, idx, src)
        return out

    def backward(self, gg):
        out = EmbeddingBackward0.apply(gg, indices=self.indices)
        xp = gg._device.xp
        coef = _row_coef(xp, self.indices.reshape(-1), gg._data.shape[0], self.padding_idx, self.freq,
                         gg._data.dtype)
        if coef is not None:
            out = out * const(coef.reshape(self.indices.shape + (1,)), gg._device)
        return out


def _row_coef(xp, idx, num_weights, padding_idx, freq, dtype):
    """Per-index gradient factor: 0 at padding_idx, 1 / count(index) with scale_grad_by_freq (None: all 1)."""
    if padding_idx is None and not freq:
        return None
    coef = xp.ones(idx.shape, dtype)
    if freq:
        coef = coef / xp.bincount(idx, minlength=num_weights)[idx].astype(dtype)
    if padding_idx is not None:
        coef = coef * (idx != padding_idx)
    return coef


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """weight[input]: rows of weight looked up by integer indices (gradient scatter-added back)."""
    idx = held_index(input, input._data)
    if idx.dtype != np.int64 and idx.dtype != np.int32:
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the following scalar "
                           f"types: Long, Int; but got torch.{TORCH_NAMES[idx.dtype.name]}Tensor instead "
                           "(while checking arguments for embedding)")
    num = weight._data.shape[0]
    if padding_idx is not None:
        if padding_idx > 0:
            assert padding_idx < num, "Padding_idx must be within num_embeddings"
        elif padding_idx < 0:
            assert padding_idx >= -num, "Padding_idx must be within num_embeddings"
            padding_idx = num + padding_idx
    if sparse:
        raise NotImplementedError("embedding(sparse=True): sparse gradients are not supported")
    if idx.size and bool(((idx < 0) | (idx >= num)).any()):
        raise IndexError("index out of range in self")
    if max_norm is not None:
        _embedding_renorm(weight, idx, max_norm, norm_type)
    return EmbeddingBackward0.apply(weight, indices=idx, padding_idx=padding_idx,
                                    scale_grad_by_freq=scale_grad_by_freq)


def _embedding_renorm(weight: Tensor, idx, max_norm, norm_type):
    """In place, without gradient: rows referenced by idx whose norm exceeds max_norm are scaled onto it."""
    xp, w = weight._device.xp, weight._data
    rows = xp.unique(idx.reshape(-1))
    norms = (xp.abs(w[rows]) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
    scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(w.dtype)
    w[rows] *= scale[:, None]
    weight._version[0] += 1


# ---------------------------------------------------------------- one_hot
def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 (*, num_classes): 1 at each value's class (num_classes = -1: max + 1)."""
    t = tensor._data
    if t.dtype != np.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    xp = tensor._device.xp
    if num_classes == -1:
        if t.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(t.max()) + 1
    if t.size:
        if int(t.min()) < 0:
            raise RuntimeError("Class values must be non-negative.")
        if int(t.max()) >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    out = (t[..., None] == xp.arange(num_classes)).astype(np.int64)
    return Tensor._make(out, tensor._device)


__all__ = ["linear", "dropout", "layer_norm", "embedding", "one_hot", "pad"]
