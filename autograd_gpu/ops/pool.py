"""2-D pooling: max_pool2d, avg_pool2d, adaptive_avg_pool2d.

Windows come from the same im2col machinery as convolutions (a strided view on cpu, the fused ``im2col``
kernel on CUDA devices). Every backward is itself an op whose backward is the forward op (or a gather), so
gradients of any order exist.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.node import Op
from ..tensor import Tensor
from ._pw_common import opmath
from .conv import _pair, fold_add, pad_array, windows_cpu

__all__ = ["max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "max_pool2d_with_indices"]


class _PoolGeo:
    """Window geometry of one pooling call: kernel, stride, dilation, padding (top, bottom, left, right),
    output size."""
    __slots__ = ("k", "s", "d", "pad4", "out", "in_hw")

    def __init__(self, k, s, d, pad4, out, in_hw):
        self.k, self.s, self.d, self.pad4, self.out, self.in_hw = k, s, d, pad4, out, in_hw


def _out_len(n, k, s, p, d, ceil_mode):
    num = n + 2 * p - d * (k - 1) - 1
    out = (-(-num // s) if ceil_mode else num // s) + 1
    if ceil_mode and (out - 1) * s >= n + p:  # the last window must start inside the input or left padding
        out -= 1
    return out


def _geometry(x, kernel_size, stride, padding, dilation, ceil_mode, max_pool):
    k = _pair(kernel_size, 2, "kernel_size")
    no_stride = stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)
    s = k if no_stride else _pair(stride, 2, "stride")
    p, d = _pair(padding, 2, "padding"), _pair(dilation, 2, "dilation")
    if any(v == 0 for v in s):
        raise RuntimeError("stride should not be zero")
    for kk, pp, dd in zip(k, p, d):
        if pp > ((kk - 1) * dd + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={pp}, "
                               f"kernel_size={kk} and dilation={dd}")
    c, h, w = x.shape[-3:]
    ho, wo = (_out_len(h, k[0], s[0], p[0], d[0], ceil_mode), _out_len(w, k[1], s[1], p[1], d[1], ceil_mode))
    if ho < 1 or wo < 1:
        raise RuntimeError(f"Given input size: ({c}x{h}x{w}). Calculated output size: ({c}x{max(ho, 0)}x"
                           f"{max(wo, 0)}). Output size is too small")
    # right/bottom padding large enough for ceil_mode windows (they may hang over the padded input)
    rb = max(p[0], (ho - 1) * s[0] + d[0] * (k[0] - 1) + 1 - h - p[0])
    rr = max(p[1], (wo - 1) * s[1] + d[1] * (k[1] - 1) + 1 - w - p[1])
    return _PoolGeo(k, s, d, (p[0], rb, p[1], rr), (ho, wo), (h, w))


def _windows(dev, x, geo, fill):
    """Pooling windows of x (N, C, H, W): (N, C, Ho, Wo, kh, kw) on cpu, (N, C, kh kw, Ho Wo) on CUDA."""
    xp = dev.xp
    xpad = pad_array(xp, x, geo.pad4, fill)
    ho, wo = geo.out
    if dev.uses_kernels:
        from . import fused
        col = fused.im2col(dev, xpad, geo.k[0], geo.k[1], geo.s, 0, geo.d)
        return col.reshape(x.shape[0], x.shape[1], geo.k[0] * geo.k[1], ho * wo)
    win = windows_cpu(xpad, *geo.k, *geo.s, *geo.d)[:, :, :ho, :wo]
    return win


def _col2im_pad_crop(dev, cols, x_shape, geo):
    """Sum window entries back onto the input grid (adjoint of _windows), dropping the padding.
    cols: (N, C, kh, kw, Ho, Wo)."""
    xp = dev.xp
    n, c, h, w = x_shape
    t, b, l, r = geo.pad4
    ho, wo = geo.out
    if dev.uses_kernels:
        from . import fused
        gxp = fused.col2im(dev, xp.ascontiguousarray(cols).reshape(n, -1, ho * wo),
                           (n, c, h + t + b, w + l + r), geo.k[0], geo.k[1], geo.s, 0, geo.d)
    else:
        gxp = np.zeros((n, c, h + t + b, w + l + r), dtype=cols.dtype)
        fold_add(gxp, cols, *geo.k, *geo.s, *geo.d, ho, wo)
    return xp.ascontiguousarray(gxp[:, :, t:t + h, l:l + w])


# ---------------------------------------------------------------- max pooling
class MaxPool2DWithIndicesBackward0(Op):
    """(y, indices): y = max over each window, indices = argmax as a flat h W + w offset into the input
    plane."""
    non_differentiable = (1,)
    save = (0,)

    def forward(self, x, geo=None):
        dev, xp = self.dev, self.dev.xp
        n, c, h, w = x.shape
        ho, wo = geo.out
        win = _windows(dev, x, geo, -np.inf)
        if dev.uses_kernels:
            arg = win.argmax(axis=2)                                     # (N, C, L)
            y = xp.take_along_axis(win, arg[:, :, None], axis=2)[:, :, 0].reshape(n, c, ho, wo)
            arg = arg.reshape(n, c, ho, wo)
        else:
            # window offsets first: both reductions then run across contiguous rows (~3x faster than over a
            # last axis of kh kw elements); ties and NaN resolve to the first offset either way
            flat = win.transpose(4, 5, 0, 1, 2, 3).reshape(win.shape[4] * win.shape[5], -1)
            arg = flat.argmax(axis=0).reshape(n, c, ho, wo)
            y = flat.max(axis=0).reshape(n, c, ho, wo)  # (the value at arg, NaN included)
        kw = geo.k[1]
        ih = (xp.arange(ho) * geo.s[0] - geo.pad4[0])[:, None] + (arg // kw) * geo.d[0]
        iw = (xp.arange(wo) * geo.s[1] - geo.pad4[2]) + (arg % kw) * geo.d[1]
        idx = (ih * w + iw).astype(np.int64)
        self.geo, self.x_shape, self.indices = geo, x.shape, idx
        return y, idx

    def backward(self, g, _):
        # x rides along (zero gradient) so the result requires grad, as with PyTorch's (grad_output, self)
        return MaxPool2DWithIndicesBackwardBackward0.apply(g, self.saved_tensors[0], x_shape=self.x_shape,
                                                           indices=self.indices)


def _global_index(xp, indices, x_shape):
    n, c, h, w = x_shape
    return (indices.reshape(n * c, -1) + (xp.arange(n * c, dtype=np.int64) * (h * w))[:, None]).reshape(-1)


class MaxPool2DWithIndicesBackwardBackward0(Op):
    """gx = scatter-add of g into the input plane at the argmax indices (windows may share a maximum)."""

    def forward(self, g, x=None, x_shape=None, indices=None):
        dev, xp = self.dev, self.dev.xp
        self.x_shape, self.indices = x_shape, indices
        gidx = _global_index(xp, indices, x_shape)
        size = math.prod(x_shape)
        if dev.uses_kernels:
            from . import fused
            out = fused.scatter_add_rows(dev, xp.zeros((size,), dtype=g.dtype), gidx, xp.ascontiguousarray(g))
        else:
            out = np.bincount(gidx, weights=g.reshape(-1), minlength=size).astype(g.dtype, copy=False)
        return out.reshape(x_shape)

    def backward(self, gg):
        gx = GatherBackward0.apply(gg, x_shape=self.x_shape, indices=self.indices)
        return (gx, None) if len(self.next_functions) == 2 else gx


class GatherBackward0(Op):
    """y = x at the pooling argmax indices (the adjoint of the scatter above)."""

    def forward(self, x, x_shape=None, indices=None):
        self.x_shape, self.indices = x_shape, indices
        gidx = _global_index(self.dev.xp, indices, x_shape)
        return x.reshape(-1)[gidx].reshape(indices.shape)

    def backward(self, g):
        return MaxPool2DWithIndicesBackwardBackward0.apply(g, x_shape=self.x_shape, indices=self.indices)


def _check_pool_input(input, name):
    if input.dim() not in (3, 4) or input.numel() == 0:
        raise RuntimeError("non-empty 3D or 4D (batch mode) tensor expected for input")


def max_pool2d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    """(max over each window, flat argmax index into each input plane)."""
    _check_pool_input(input, "max_pool2d")
    if any(v <= 0 for v in _pair(dilation, 2, "dilation")):
        raise RuntimeError("dilation should be greater than zero")
    geo = _geometry(input, kernel_size, stride, padding, dilation, ceil_mode, True)
    batched = input.dim() == 4
    y, idx = MaxPool2DWithIndicesBackward0.apply(input if batched else input.unsqueeze(0), geo=geo)
    return (y, idx) if batched else (y.squeeze(0), idx.squeeze(0))


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """y[n, c, i, j] = max over the (dilated, padded with -inf) window at (i s, j s)."""
    y, idx = max_pool2d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode)
    return (y, idx) if return_indices else y


# ---------------------------------------------------------------- average pooling
def _avg_divisor(geo, count_include_pad, divisor_override):
    """(Ho, Wo) divisors, as PyTorch: the window clipped to the padded input, or to the input itself."""
    if divisor_override:
        return np.full(geo.out, float(divisor_override))
    sizes = []
    for n_in, k, s, p, n_out in zip(geo.in_hw, geo.k, geo.s, geo.pad4[::2], geo.out):
        start = np.arange(n_out) * s - p
        end = np.minimum(start + k, n_in + p)
        if count_include_pad:
            sizes.append(end - start)
        else:
            sizes.append(np.minimum(end, n_in) - np.maximum(start, 0))
    return np.outer(sizes[0], sizes[1]).astype(np.float64)


class AvgPool2DBackward0(Op):
    """y = sum over each zero-padded window / divisor."""
    save = (0,)

    def forward(self, x, geo=None, div=None):
        dev, xp = self.dev, self.dev.xp
        self.geo, self.div, self.x_shape = geo, div, x.shape
        dt, x = x.dtype, opmath(x)  # float16: sum and divide in float32, round once (PyTorch)
        win = _windows(dev, x, geo, 0.0)
        if dev.uses_kernels:
            s = win.sum(axis=2).reshape(x.shape[0], x.shape[1], *geo.out)
        else:
            s = win.sum(axis=(4, 5))
        return (s / xp.asarray(div, dtype=x.dtype)).astype(dt, copy=False)

    def backward(self, g):
        return AvgPool2DBackwardBackward0.apply(g, self.saved_tensors[0], geo=self.geo, div=self.div,
                                                x_shape=self.x_shape)


class AvgPool2DBackwardBackward0(Op):
    """gx = col2im of g / divisor spread over each window (the adjoint of avg_pool2d)."""

    def forward(self, g, x=None, geo=None, div=None, x_shape=None):
        xp = self.dev.xp
        self.geo, self.div, self.x_shape = geo, div, x_shape
        gd = g / xp.asarray(div, dtype=g.dtype)
        n, c = x_shape[:2]
        cols = xp.broadcast_to(gd[:, :, None, None], (n, c, geo.k[0], geo.k[1]) + tuple(geo.out))
        return _col2im_pad_crop(self.dev, cols, x_shape, geo)

    def backward(self, gg):
        return AvgPool2DBackward0.apply(gg, geo=self.geo, div=self.div), None


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None) -> Tensor:
    """y[n, c, i, j] = sum of the window at (i s - p, j s - p) / divisor (window size, or count of real
    inputs with count_include_pad=False)."""
    _check_pool_input(input, "avg_pool2d")
    k = _pair(kernel_size, 2, "kernel_size")
    for kk, pp in zip(k, _pair(padding, 2, "padding")):
        if pp > kk // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={pp}, "
                               f"kernel_size={kk} and dilation=1")
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    geo = _geometry(input, k, stride, padding, 1, ceil_mode, False)
    div = _avg_divisor(geo, count_include_pad, divisor_override)
    batched = input.dim() == 4
    y = AvgPool2DBackward0.apply(input if batched else input.unsqueeze(0), geo=geo, div=div)
    return y if batched else y.squeeze(0)


# ---------------------------------------------------------------- adaptive average pooling
def _adaptive_matrix(n_in, n_out):
    """(n_out, n_in) averaging matrix over windows [floor(i n_in / n_out), ceil((i + 1) n_in / n_out))."""
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        a, b = (i * n_in) // n_out, -(-((i + 1) * n_in) // n_out)
        m[i, a:b] = 1.0 / (b - a)
    return m


class AdaptiveAvgPool2DBackward0(Op):
    """y = Ph x Pw^T with the averaging matrices Ph (Ho, H), Pw (Wo, W)."""
    save = (0,)

    def forward(self, x, ph=None, pw=None):
        xp = self.dev.xp
        self.ph, self.pw = ph, pw
        dt, x = x.dtype, opmath(x)  # float16: 1/k weights and sums in float32, round once
        y = xp.matmul(xp.matmul(xp.asarray(ph, dtype=x.dtype), x), xp.asarray(pw.T, dtype=x.dtype))
        return y.astype(dt, copy=False)

    def backward(self, g):
        return AdaptiveAvgPool2DBackwardBackward0.apply(g, self.saved_tensors[0], ph=self.ph, pw=self.pw)


class AdaptiveAvgPool2DBackwardBackward0(Op):
    """gx = Ph^T g Pw (the adjoint)."""

    def forward(self, g, x=None, ph=None, pw=None):
        xp = self.dev.xp
        self.ph, self.pw = ph, pw
        return xp.matmul(xp.matmul(xp.asarray(ph.T, dtype=g.dtype), g), xp.asarray(pw, dtype=g.dtype))

    def backward(self, gg):
        return AdaptiveAvgPool2DBackward0.apply(gg, ph=self.ph, pw=self.pw), None


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """y[..., i, j] = mean of x over rows [floor(i H / Ho), ceil((i+1) H / Ho)) and the same for columns."""
    if input.dim() not in (3, 4):
        raise RuntimeError("adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got "
                           f"[{', '.join(map(str, input.shape))}]")
    h, w = input.shape[-2:]
    if isinstance(output_size, (tuple, list)):
        ho, wo = (h if output_size[0] is None else int(output_size[0]), w if output_size[1] is None else
                  int(output_size[1]))
    else:
        ho = wo = int(output_size)
    if ho == 1 and wo == 1:  # PyTorch takes a plain mean here (grad_fn MeanBackward1)
        return input.mean((-1, -2), keepdim=True)
    return AdaptiveAvgPool2DBackward0.apply(input, ph=_adaptive_matrix(h, ho), pw=_adaptive_matrix(w, wo))
