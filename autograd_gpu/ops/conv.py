"""Convolutions (conv1d, conv2d) as im2col + GEMM.

cpu: the im2col matrix is a strided NumPy view (sliding_window_view) contracted with tensordot (one BLAS call
per group); col2im is kh*kw strided slice-adds. CUDA devices: the fused ``im2col`` / ``col2im`` kernels and a
batched matmul. conv1d runs as conv2d with H = 1.

Gradients: ConvolutionBackward0's backward is ConvolutionBackwardBackward0 (gx, gw, gb from g, x, w), whose
own backward is again made of these two ops, so gradients of any order exist (as in PyTorch).
"""
from __future__ import annotations

import numpy as np

from ..autograd.node import Op
from ..tensor import Tensor

__all__ = ["conv1d", "conv2d"]


# ---------------------------------------------------------------- geometry
def _pair(v, n=2, name="") -> tuple:
    if isinstance(v, (tuple, list)):
        if len(v) == 1:
            return tuple(int(v[0]) for _ in range(n))
        if len(v) != n:
            raise RuntimeError(f"expected {name} to be a single integer value or a list of {n} values to "
                               f"match the convolution dimensions, but got {name}={list(v)}")
        return tuple(int(a) for a in v)
    return (int(v),) * n


def windows_cpu(x: np.ndarray, kh, kw, sh, sw, dh, dw):
    """(N, C, Ho, Wo, kh, kw) strided view of an already padded (N, C, H, W) array (no copy): what
    sliding_window_view(...)[:, :, ::sh, ::sw, ::dh, ::dw] gives, built directly (its Python costs more than
    a small convolution's arithmetic)."""
    from numpy.lib.stride_tricks import as_strided, sliding_window_view
    n, c, h, w = x.shape
    eh, ew = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    if h < eh or w < ew:  # (no window fits: sliding_window_view's error)
        return sliding_window_view(x, (eh, ew), axis=(2, 3))
    s0, s1, s2, s3 = x.strides
    return as_strided(x, (n, c, (h - eh) // sh + 1, (w - ew) // sw + 1, kh, kw),
                      (s0, s1, s2 * sh, s3 * sw, s2 * dh, s3 * dw), writeable=False)


def pad_array(xp, x, pad4, value=0.0):
    """Pad the last two dims by (top, bottom, left, right); a no-op when all are 0."""
    if not any(pad4):
        return x
    t, b, l, r = pad4
    n, c, h, w = x.shape  # (np.pad's result, minus its ~40 us of Python per call)
    out = xp.full((n, c, h + t + b, w + l + r), value, x.dtype)
    out[:, :, t:t + h, l:l + w] = x
    return out


def _out_hw(h, w, k, stride, pad4, dil):
    ho = (h + pad4[0] + pad4[1] - dil[0] * (k[0] - 1) - 1) // stride[0] + 1
    wo = (w + pad4[2] + pad4[3] - dil[1] * (k[1] - 1) - 1) // stride[1] + 1
    return ho, wo


def fold_add(gxp, cols, kh, kw, sh, sw, dh, dw, ho, wo):
    """col2im on cpu: gxp[:, :, i dh + oh sh, j dw + ow sw] += cols[:, :, i, j, oh, ow] (in place)."""
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + (ho - 1) * sh + 1, sh)
            gxp[:, :, rows, j * dw:j * dw + (wo - 1) * sw + 1:sw] += cols[:, :, i, j]
    return gxp


# ---------------------------------------------------------------- array-level conv (4-D, NCHW)
class _Geo:
    """Convolution geometry: kernel (kh, kw), stride, padding (top, bottom, left, right), dilation, groups."""
    __slots__ = ("k", "stride", "pad4", "dil", "groups", "sym")

    def __init__(self, k, stride, pad4, dil, groups):
        self.k, self.stride, self.pad4, self.dil, self.groups = k, stride, pad4, dil, groups
        self.sym = pad4[0] == pad4[1] and pad4[2] == pad4[3]


def _im2col_kernel(dev, x, geo):
    """(N, C kh kw, Ho Wo) columns through the fused kernel; asymmetric padding is applied beforehand."""
    from . import fused
    if geo.sym:
        return fused.im2col(dev, x, geo.k[0], geo.k[1], geo.stride, (geo.pad4[0], geo.pad4[2]), geo.dil)
    return fused.im2col(dev, pad_array(dev.xp, x, geo.pad4), geo.k[0], geo.k[1], geo.stride, 0, geo.dil)


def conv_fwd(dev, x, w, geo: _Geo):
    """y[n, o] = sum_{c, i, j} w[o, c, i, j] x_pad[n, c, oh sh + i dh, ow sw + j dw]  (per group)."""
    xp = dev.xp
    n, c, h, wd = x.shape
    o, cg = w.shape[:2]
    g = geo.groups
    og = o // g
    ho, wo = _out_hw(h, wd, geo.k, geo.stride, geo.pad4, geo.dil)
    if dev.uses_kernels:
        col = _im2col_kernel(dev, x, geo).reshape(n, g, cg * geo.k[0] * geo.k[1], ho * wo)
        return xp.matmul(w.reshape(g, og, -1), col).reshape(n, o, ho, wo)
    win = windows_cpu(pad_array(xp, x, geo.pad4), *geo.k, *geo.stride, *geo.dil)
    kk = geo.k[0] * geo.k[1]
    # the im2col matrix as (N, G, Cg kh kw, Ho Wo), one copy; then one BLAS product per image and group,
    # landing in NCHW order (no transposed copy of the output, as tensordot's (N, Ho, Wo, O) would need)
    col = win.transpose(0, 1, 4, 5, 2, 3).reshape(n, g, cg * kk, ho * wo)
    return (w.reshape(g, og, cg * kk) @ col).reshape(n, o, ho, wo)


def conv_bwd_input(dev, gy, w, x_shape, geo: _Geo):
    """gx = col2im(w^T gy): the adjoint of conv_fwd in x."""
    xp = dev.xp
    n, c, h, wd = x_shape
    o, cg, kh, kw = w.shape
    g = geo.groups
    og = o // g
    ho, wo = gy.shape[2:]
    t, b, l, r = geo.pad4
    if dev.uses_kernels:
        from . import fused
        gcol = xp.matmul(w.reshape(g, og, -1).transpose(0, 2, 1), gy.reshape(n, g, og, ho * wo))
        gcol = gcol.reshape(n, c * kh * kw, ho * wo)
        if geo.sym:
            return fused.col2im(dev, gcol, x_shape, kh, kw, geo.stride, (t, l), geo.dil)
        gxp = fused.col2im(dev, gcol, (n, c, h + t + b, wd + l + r), kh, kw, geo.stride, 0, geo.dil)
        return xp.ascontiguousarray(gxp[:, :, t:t + h, l:l + wd])
    gxp = np.zeros((n, c, h + t + b, wd + l + r), dtype=gy.dtype)
    for i in range(g):
        # (Cg, kh, kw, N, Ho, Wo) -> (N, Cg, kh, kw, Ho, Wo) as a view; fold_add reads it slice by slice
        cols = np.tensordot(w[i * og:(i + 1) * og], gy[:, i * og:(i + 1) * og], axes=([0], [1]))
        fold_add(gxp[:, i * cg:(i + 1) * cg], cols.transpose(3, 0, 1, 2, 4, 5), kh, kw, *geo.stride, *geo.dil,
                 ho, wo)
    return gxp[:, :, t:t + h, l:l + wd] if any(geo.pad4) else gxp


def conv_bwd_weight(dev, gy, x, w_shape, geo: _Geo):
    """gw[o, c, i, j] = sum_{n, oh, ow} gy[n, o, oh, ow] x_pad[n, c, oh sh + i dh, ow sw + j dw]."""
    xp = dev.xp
    n = x.shape[0]
    o, cg, kh, kw = w_shape
    g = geo.groups
    og = o // g
    ho, wo = gy.shape[2:]
    if dev.uses_kernels:
        col = _im2col_kernel(dev, x, geo).reshape(n, g, cg * kh * kw, ho * wo)
        gw = xp.matmul(gy.reshape(n, g, og, ho * wo), col.transpose(0, 1, 3, 2)).sum(axis=0)
        return gw.reshape(w_shape)
    win = windows_cpu(pad_array(xp, x, geo.pad4), kh, kw, *geo.stride, *geo.dil)
    col = win.transpose(0, 1, 4, 5, 2, 3).reshape(n, g, cg * kh * kw, ho * wo)  # (as in conv_fwd)
    gw = np.add.reduce(gy.reshape(n, g, og, ho * wo) @ col.transpose(0, 1, 3, 2), axis=0)  # sum over images
    return gw.reshape(w_shape)


def _to4(a):
    return a if a.ndim == 4 else a[:, :, None, :]


# ---------------------------------------------------------------- autograd ops
class ConvolutionBackward0(Op):
    """y = conv(x, w) + b; conv1d inputs are (N, C, L) and run with H = 1."""
    save = (0, 1)

    def forward(self, x, w, b=None, geo=None):
        self.geo = geo
        y = conv_fwd(self.dev, _to4(x), _to4(w), geo)
        if b is not None:
            y += b.reshape(1, -1, 1, 1)
        return y if x.ndim == 4 else y[:, :, 0, :]

    def backward(self, g):
        x, w = self.saved_tensors
        need = self.needs_input_grad
        mask = (need[0], need[1], len(need) > 2 and need[2])
        outs = iter(ConvolutionBackwardBackward0.apply(g, x, w, geo=self.geo, mask=mask))
        grads = tuple(next(outs) if m else None for m in mask)
        return grads if len(need) > 2 else grads[:2]


class ConvolutionBackwardBackward0(Op):
    """(gx, gw, gb) of a convolution from (g, x, w); ``mask`` says which of them to compute (and return)."""
    save = (0, 1, 2)

    def forward(self, g, x, w, geo=None, mask=(True, True, True)):
        self.geo, self.mask = geo, mask
        dev = self.dev
        g4, x4, w4 = _to4(g), _to4(x), _to4(w)
        outs = []
        if mask[0]:
            gx = conv_bwd_input(dev, g4, w4, x4.shape, geo)
            outs.append(gx if x.ndim == 4 else gx[:, :, 0, :])
        if mask[1]:
            gw = conv_bwd_weight(dev, g4, x4, w4.shape, geo)
            outs.append(gw if w.ndim == 4 else gw[:, :, 0, :])
        if mask[2]:
            outs.append(g.sum(axis=(0, 2, 3) if g.ndim == 4 else (0, 2)))
        return tuple(outs)

    def backward(self, *grads):
        g, x, w = self.saved_tensors
        it = iter(grads)
        ggx, ggw, ggb = (next(it) if m else None for m in self.mask)
        need = self.needs_input_grad
        geo = self.geo
        dg = dx = dw = None
        if need[0]:
            if ggx is not None:
                dg = ConvolutionBackward0.apply(ggx, w, geo=geo)
            if ggw is not None:
                t = ConvolutionBackward0.apply(x, ggw, geo=geo)
                dg = t if dg is None else dg + t
            if ggb is not None:
                t = ggb.reshape((1, -1) + (1,) * (g.dim() - 2))
                dg = t.expand(g.shape) if dg is None else dg + t
        if need[1] and ggw is not None:  # gw is bilinear in (g, x): d<ggw, gw>/dx = gx(g, ggw)
            (dx,) = ConvolutionBackwardBackward0.apply(g, x, ggw, geo=geo, mask=(True, False, False))
        if need[2] and ggx is not None:  # gx is bilinear in (g, w): d<ggx, gx>/dw = gw(g, ggx)
            (dw,) = ConvolutionBackwardBackward0.apply(g, ggx, w, geo=geo, mask=(False, True, False))
        return dg, dx, dw


# ---------------------------------------------------------------- public functions
def _dims_str(shape):
    return ", ".join(str(s) for s in shape)


def _tname(t):
    return {"float32": "Float", "float64": "Double", "float16": "Half"}.get(t.dtype.name, t.dtype.name)


def _check_conv(input, weight, bias, groups, n_spatial):
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    c = input.shape[1]
    o = weight.shape[0]
    if weight.shape[1] * groups != c:
        raise RuntimeError(f"Given groups={groups}, weight of size [{_dims_str(weight.shape)}], expected "
                           f"input[{_dims_str(input.shape)}] to have {weight.shape[1] * groups} channels, "
                           f"but got {c} channels instead")
    if o % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension "
                           f"0, but got weight of size [{_dims_str(weight.shape)}] instead")
    if input.dtype is not weight.dtype:
        raise RuntimeError(f"expected scalar type {_tname(input)} but found {_tname(weight)}")
    if bias is not None and bias.dtype is not input.dtype:
        it, bt = _tname(input).lower(), _tname(bias).lower()
        raise RuntimeError(f"Input type ({it}) and bias type ({bt}) should be the same")
    if bias is not None and (bias.dim() != 1 or bias.shape[0] != o):
        raise RuntimeError(f"Given weight of size [{_dims_str(weight.shape)}], expected bias to be "
                           f"1-dimensional with {o} elements, but got bias of size [{_dims_str(bias.shape)}] "
                           "instead")


def _conv(input, weight, bias, stride, padding, dilation, groups, nd):
    name = "conv1d" if nd == 1 else "conv2d"
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {name}, but got "
                           f"input of size: [{_dims_str(input.shape)}]")
    if weight.dim() != nd + 2:
        raise RuntimeError(f"weight should have at least three dimensions" if nd == 1 else
                           f"Expected {nd + 2}-dimensional weight for {nd + 2}-dimensional input, but got "
                           f"{weight.dim()}-dimensional weight of size [{_dims_str(weight.shape)}] instead")
    batched = input.dim() == nd + 2
    x = input if batched else input.unsqueeze(0)
    _check_conv(x, weight, bias, groups, nd)
    k = tuple(weight.shape[2:])
    st, dl = _pair(stride, nd, "stride"), _pair(dilation, nd, "dilation")
    if any(s <= 0 for s in st):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dl):
        raise RuntimeError("dilation should be greater than zero")
    if isinstance(padding, str):
        if padding == "valid":
            pad = [(0, 0)] * nd
        elif padding == "same":
            if any(s != 1 for s in st):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            # PyTorch puts the odd extra element of a 'same' padding on the right
            pad = [(d * (kk - 1) // 2, d * (kk - 1) - d * (kk - 1) // 2) for d, kk in zip(dl, k)]
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        p = _pair(padding, nd, "padding")
        if any(v < 0 for v in p):
            raise RuntimeError("negative padding is not supported")
        pad = [(v, v) for v in p]
    if nd == 1:
        k, st, dl, pad = (1,) + k, (1,) + st, (1,) + dl, [(0, 0)] + pad
    pad4 = (pad[0][0], pad[0][1], pad[1][0], pad[1][1])
    h, w = (x.shape[2], x.shape[3]) if nd == 2 else (1, x.shape[2])
    hp, wp = h + pad4[0] + pad4[1], w + pad4[2] + pad4[3]
    if hp < dl[0] * (k[0] - 1) + 1 or wp < dl[1] * (k[1] - 1) + 1:
        ksz = (k[1],) if nd == 1 else k
        psz = (wp,) if nd == 1 else (hp, wp)
        eff = " x ".join(str((kk - 1) * d + 1) for kk, d in zip(ksz, dl[-len(ksz):]))
        raise RuntimeError(f"Calculated padded input size per channel: ({' x '.join(map(str, psz))}). "
                           f"Kernel size: ({eff}). Kernel size can't be greater than actual input size")
    geo = _Geo(k, st, pad4, dl, groups)
    args = (x, weight) if bias is None else (x, weight, bias)
    y = ConvolutionBackward0.apply(*args, geo=geo)
    return y if batched else y.squeeze(0)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation):
    y[n, o, h, w] = b[o] + sum_{c, i, j} w[o, c, i, j] x_pad[n, c, s h + d i, s w + d j]."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """1-D convolution (cross-correlation): y[n, o, l] = b[o] + sum_{c, i} w[o, c, i] x[n, c, s l + d i]."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1)
