"""Fused elementwise kernels (activations, pointwise losses, masks, dropout), array level.

Each function takes the device and arrays of that device (NumPy on ``cuda_emulated``, CuPy on ``cuda``),
allocates its outputs with ``dev.xp`` and launches one kernel whose body is a call into
kernels/activations.cuh. Inputs may be non-contiguous or broadcast (the kernels index by strides);
outputs are contiguous with the broadcast shape. Half inputs are computed in float (``acc_t<T>``).
Backward kernels take the saved value PyTorch saves (input ``x`` or result ``y``), named accordingly.
"""
from __future__ import annotations

import math

import numpy as np

from ..backend import kernels as K

_FLOATS = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))
_H = ("common.cuh", "activations.cuh")


def _acc(expr: str) -> str:
    return f"(acc_t<T>){expr}"


def _unary(name: str, args: str = "", scalars: str = ""):
    """Kernel ``y = ag::<name>(x[, scalars])`` (scalars declared as float64, cast to acc_t<T>)."""
    extra = "".join(f", {_acc(s)}" for s in args.split(",") if s)
    return K.elementwise("T x" + scalars, "T y", f"y = (T)ag::{name}({_acc('x')}{extra});", name, headers=_H)


def _grad(name: str, saved: str, args: str = "", scalars: str = ""):
    """Kernel ``gx = ag::<name>(saved, gy[, scalars])``."""
    extra = "".join(f", {_acc(s)}" for s in args.split(",") if s)
    return K.elementwise(f"T {saved}, T gy" + scalars, "T gx",
                         f"gx = (T)ag::{name}({_acc(saved)}, {_acc('gy')}{extra});", name, headers=_H)


# Declared at import; the factory compiles lazily on first launch (per dtype).
_k = {
    "sigmoid_fwd": _unary("sigmoid_fwd"),
    "sigmoid_bwd": _grad("sigmoid_bwd", "y"),
    "tanh_fwd": _unary("tanh_fwd"),
    "tanh_bwd": _grad("tanh_bwd", "y"),
    "relu_fwd": _unary("relu_fwd"),
    "relu_bwd": _grad("relu_bwd", "y"),
    "leaky_relu_fwd": _unary("leaky_relu_fwd", "slope", ", float64 slope"),
    "leaky_relu_bwd": _grad("leaky_relu_bwd", "x", "slope", ", float64 slope"),
    # (elu with scale / input_scale serves selu and celu too, as PyTorch's elu kernel does)
    "elu_fwd": _unary("elu_fwd", "alpha,scale,input_scale",
                      ", float64 alpha, float64 scale, float64 input_scale"),
    "elu_bwd": _grad("elu_bwd", "x", "alpha,scale,input_scale",
                     ", float64 alpha, float64 scale, float64 input_scale"),
    "hardsigmoid_fwd": _unary("hardsigmoid_fwd"),
    "hardsigmoid_bwd": _grad("hardsigmoid_bwd", "x"),
    "hardswish_fwd": _unary("hardswish_fwd"),
    "hardswish_bwd": _grad("hardswish_bwd", "x"),
    "mish_fwd": _unary("mish_fwd"),
    "mish_bwd": _grad("mish_bwd", "x"),
    "logsigmoid_fwd": _unary("logsigmoid_fwd"),
    "logsigmoid_bwd": _grad("logsigmoid_bwd", "x"),
    "softsign_fwd": _unary("softsign_fwd"),
    "softsign_bwd": _grad("softsign_bwd", "x"),
    "silu_fwd": _unary("silu_fwd"),
    "silu_bwd": _grad("silu_bwd", "x"),
    "softplus_fwd": _unary("softplus_fwd", "beta,threshold", ", float64 beta, float64 threshold"),
    "softplus_bwd": _grad("softplus_bwd", "x", "beta,threshold", ", float64 beta, float64 threshold"),
    "gelu_fwd": K.elementwise("T x, int32 approximate", "T y",
                              "y = (T)ag::gelu_fwd((acc_t<T>)x, approximate);", "gelu_fwd", headers=_H),
    "gelu_bwd": K.elementwise("T x, T gy, int32 approximate", "T gx",
                              "gx = (T)ag::gelu_bwd((acc_t<T>)x, (acc_t<T>)gy, approximate);", "gelu_bwd",
                              headers=_H),
    "bce_with_logits_fwd": K.elementwise(
        "T x, T t, T w, T pw", "T y",
        "y = (T)ag::bce_with_logits_fwd((acc_t<T>)x, (acc_t<T>)t, (acc_t<T>)w, (acc_t<T>)pw);",
        "bce_with_logits_fwd", headers=_H),
    "bce_with_logits_bwd": K.elementwise(
        "T x, T t, T gy, T w, T pw", "T gx",
        "gx = (T)ag::bce_with_logits_bwd((acc_t<T>)x, (acc_t<T>)t, (acc_t<T>)gy, (acc_t<T>)w, (acc_t<T>)pw);",
        "bce_with_logits_bwd", headers=_H),
    "mse_fwd": K.elementwise("T x, T t", "T y", "y = (T)ag::mse_fwd((acc_t<T>)x, (acc_t<T>)t);", "mse_fwd",
                             headers=_H),
    "mse_bwd": K.elementwise("T x, T t, T gy", "T gx",
                             "gx = (T)ag::mse_bwd((acc_t<T>)x, (acc_t<T>)t, (acc_t<T>)gy);", "mse_bwd",
                             headers=_H),
    "smooth_l1_fwd": K.elementwise(
        "T x, T t, float64 beta", "T y",
        "y = (T)ag::smooth_l1_fwd((acc_t<T>)x, (acc_t<T>)t, (acc_t<T>)beta);", "smooth_l1_fwd", headers=_H),
    "smooth_l1_bwd": K.elementwise(
        "T x, T t, T gy, float64 beta", "T gx",
        "gx = (T)ag::smooth_l1_bwd((acc_t<T>)x, (acc_t<T>)t, (acc_t<T>)gy, (acc_t<T>)beta);", "smooth_l1_bwd",
        headers=_H),
    "clamp_bwd": K.elementwise(
        "T x, T gy, T lo, T hi", "T gx",
        "gx = (T)ag::clamp_bwd((acc_t<T>)x, (acc_t<T>)gy, (acc_t<T>)lo, (acc_t<T>)hi);", "clamp_bwd",
        headers=_H),
    # cond is any dtype (bool / uint8 masks): a placeholder avoids a cast pass.
    "where_bwd": K.elementwise("C cond, T gy", "T ga, T gb",
                               "ga = cond ? gy : (T)0; gb = cond ? (T)0 : gy;", "where_bwd"),
    # `i` is the logical C-order index, so the mask does not depend on strides or launch geometry.
    "dropout_fwd": K.elementwise(
        "T x, uint64 seed, uint64 offset, uint32 threshold, float64 scale", "T y, bool mask",
        "const bool keep = ag::dropout_keep(seed, offset, i, threshold); mask = keep;"
        " y = keep ? (T)((acc_t<T>)x * (acc_t<T>)scale) : (T)0;", "dropout_fwd", headers=_H),
    # slope r ~ U(lower, upper) where x <= 0 (1 elsewhere), rounded to T through acc_t<T>; y = x r.
    "rrelu_with_noise_fwd": K.elementwise(
        "T x, uint64 seed, uint64 offset, float64 lower, float64 upper", "T y, T noise",
        "noise = (acc_t<T>)x <= (acc_t<T>)0 ?"
        " (T)(acc_t<T>)ag::rrelu_slope(seed, offset, i, lower, upper) : (T)1;"
        " y = (T)((acc_t<T>)x * (acc_t<T>)noise);", "rrelu_with_noise_fwd", headers=_H),
    "dropout_bwd": K.elementwise("T gy, M mask, float64 scale", "T gx",
                                 "gx = mask ? (T)((acc_t<T>)gy * (acc_t<T>)scale) : (T)0;", "dropout_bwd",
                                 headers=_H),
}


def _check_float(*arrays) -> np.dtype:
    dt = arrays[0].dtype
    for a in arrays:
        if a.dtype not in _FLOATS:
            raise TypeError(f"fused kernels take float16/float32/float64 arrays, got {a.dtype}")
        if a.dtype != dt:
            raise TypeError(f"fused kernels need one dtype, got {dt} and {a.dtype}")
    return dt


def _run(name: str, dev, arrays: tuple, scalars: tuple = (), out_dtypes=None):
    """Launch kernel ``name`` on ``arrays`` (+ trailing scalar params); skip the launch when empty."""
    xp = dev.xp
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    dtypes = out_dtypes or (arrays[0].dtype,)
    outs = tuple(xp.empty(shape, dtype=d) for d in dtypes)
    if math.prod(shape):
        _k[name](dev, *arrays, *scalars, *outs)
    return outs if len(outs) > 1 else outs[0]


def _like(dev, v, x):
    """Scalar / None-able operand as a 0-d array of x's dtype (broadcasts in the kernel, no copy of x)."""
    return dev.xp.asarray(v, dtype=x.dtype)


def sigmoid_fwd(dev, x):
    """y = 1 / (1 + exp(-x))"""
    _check_float(x)
    return _run("sigmoid_fwd", dev, (x,))


def sigmoid_bwd(dev, y, gy):
    """gx = gy * y * (1 - y)   (from the result)"""
    _check_float(y, gy)
    return _run("sigmoid_bwd", dev, (y, gy))


def tanh_fwd(dev, x):
    """y = tanh(x)"""
    _check_float(x)
    return _run("tanh_fwd", dev, (x,))


def tanh_bwd(dev, y, gy):
    """gx = gy * (1 - y^2)   (from the result)"""
    _check_float(y, gy)
    return _run("tanh_bwd", dev, (y, gy))


def relu_fwd(dev, x):
    """y = max(x, 0)   (NaN propagates)"""
    _check_float(x)
    return _run("relu_fwd", dev, (x,))


def relu_bwd(dev, x_or_y, gy):
    """gx = gy * (v > 0); v is the input or the result (same sign pattern)"""
    _check_float(x_or_y, gy)
    return _run("relu_bwd", dev, (x_or_y, gy))


def leaky_relu_fwd(dev, x, slope: float = 0.01):
    """y = x if x > 0 else slope * x"""
    _check_float(x)
    return _run("leaky_relu_fwd", dev, (x,), (float(slope),))


def leaky_relu_bwd(dev, x, gy, slope: float = 0.01):
    """gx = gy if x > 0 else slope * gy"""
    _check_float(x, gy)
    return _run("leaky_relu_bwd", dev, (x, gy), (float(slope),))


def elu_fwd(dev, x, alpha: float = 1.0, scale: float = 1.0, input_scale: float = 1.0):
    """y = scale x if x > 0 else scale alpha expm1(input_scale x)   (selu, celu: scale / input_scale)"""
    _check_float(x)
    return _run("elu_fwd", dev, (x,), (float(alpha), float(scale), float(input_scale)))


def elu_bwd(dev, x, gy, alpha: float = 1.0, scale: float = 1.0, input_scale: float = 1.0):
    """gx = gy scale if x > 0 else gy scale alpha input_scale exp(input_scale x)   (from the input)"""
    _check_float(x, gy)
    return _run("elu_bwd", dev, (x, gy), (float(alpha), float(scale), float(input_scale)))


def hardsigmoid_fwd(dev, x):
    """y = min(max(x + 3, 0), 6) / 6"""
    _check_float(x)
    return _run("hardsigmoid_fwd", dev, (x,))


def hardsigmoid_bwd(dev, x, gy):
    """gx = gy / 6 where -3 < x < 3 else 0"""
    _check_float(x, gy)
    return _run("hardsigmoid_bwd", dev, (x, gy))


def hardswish_fwd(dev, x):
    """y = x min(max(x + 3, 0), 6) / 6"""
    _check_float(x)
    return _run("hardswish_fwd", dev, (x,))


def hardswish_bwd(dev, x, gy):
    """gx = 0 if x <= -3, gy (x / 3 + 1/2) if x < 3, else gy"""
    _check_float(x, gy)
    return _run("hardswish_bwd", dev, (x, gy))


def mish_fwd(dev, x):
    """y = x tanh(softplus(x))"""
    _check_float(x)
    return _run("mish_fwd", dev, (x,))


def mish_bwd(dev, x, gy):
    """gx = gy (t + x sigmoid(x) (1 - t^2)),  t = tanh(softplus(x))"""
    _check_float(x, gy)
    return _run("mish_bwd", dev, (x, gy))


def logsigmoid_fwd(dev, x):
    """y = min(x, 0) - log1p(exp(-|x|))   (= log sigmoid(x))"""
    _check_float(x)
    return _run("logsigmoid_fwd", dev, (x,))


def logsigmoid_bwd(dev, x, gy):
    """gx = gy sigmoid(-x)"""
    _check_float(x, gy)
    return _run("logsigmoid_bwd", dev, (x, gy))


def softsign_fwd(dev, x):
    """y = x / (1 + |x|)"""
    _check_float(x)
    return _run("softsign_fwd", dev, (x,))


def softsign_bwd(dev, x, gy):
    """gx = gy / (1 + |x|)^2"""
    _check_float(x, gy)
    return _run("softsign_bwd", dev, (x, gy))


def rrelu_with_noise_fwd(dev, x, lower: float, upper: float, seed: int, offset: int):
    """(y, noise): noise_i = lower + (upper - lower) philox(seed, offset + i) / 2^32 where x_i <= 0, else 1;
    y = x noise. Counter-based like dropout: the caller advances offset by x.size per call."""
    _check_float(x)
    u64 = 0xFFFF_FFFF_FFFF_FFFF
    scalars = (int(seed) & u64, int(offset) & u64, float(lower), float(upper))
    return _run("rrelu_with_noise_fwd", dev, (x,), scalars, out_dtypes=(x.dtype, x.dtype))


def _approx_flag(approximate) -> int:
    if approximate in (False, None, "none"):
        return 0
    if approximate in (True, "tanh"):
        return 1
    raise ValueError(f"approximate argument must be either none or tanh, got {approximate!r}")


def gelu_fwd(dev, x, approximate="none"):
    """y = x * Phi(x)  ('none', erf)  or  0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))  ('tanh')"""
    _check_float(x)
    return _run("gelu_fwd", dev, (x,), (_approx_flag(approximate),))


def gelu_bwd(dev, x, gy, approximate="none"):
    """gx = gy * d gelu / dx   (from the input)"""
    _check_float(x, gy)
    return _run("gelu_bwd", dev, (x, gy), (_approx_flag(approximate),))


def silu_fwd(dev, x):
    """y = x * sigmoid(x)"""
    _check_float(x)
    return _run("silu_fwd", dev, (x,))


def silu_bwd(dev, x, gy):
    """gx = gy * s * (1 + x (1 - s)),  s = sigmoid(x)"""
    _check_float(x, gy)
    return _run("silu_bwd", dev, (x, gy))


def softplus_fwd(dev, x, beta: float = 1.0, threshold: float = 20.0):
    """y = log1p(exp(beta x)) / beta, or x where beta x > threshold"""
    _check_float(x)
    return _run("softplus_fwd", dev, (x,), (float(beta), float(threshold)))


def softplus_bwd(dev, x, gy, beta: float = 1.0, threshold: float = 20.0):
    """gx = gy * sigmoid(beta x), or gy where beta x > threshold"""
    _check_float(x, gy)
    return _run("softplus_bwd", dev, (x, gy), (float(beta), float(threshold)))


def bce_with_logits_fwd(dev, x, t, weight=None, pos_weight=None):
    """Elementwise l = w [(1 - t) x + (1 + (pw - 1) t) log(1 + exp(-x))]   (no reduction)"""
    _check_float(x, t)
    w = _like(dev, 1 if weight is None else weight, x)
    pw = _like(dev, 1 if pos_weight is None else pos_weight, x)
    return _run("bce_with_logits_fwd", dev, (x, t, w, pw))


def bce_with_logits_bwd(dev, x, t, gy, weight=None, pos_weight=None):
    """gx = gy w [(pw t + 1 - t) sigmoid(x) - pw t]"""
    _check_float(x, t, gy)
    w = _like(dev, 1 if weight is None else weight, x)
    pw = _like(dev, 1 if pos_weight is None else pos_weight, x)
    return _run("bce_with_logits_bwd", dev, (x, t, gy, w, pw))


def mse_fwd(dev, x, t):
    """Elementwise l = (x - t)^2"""
    _check_float(x, t)
    return _run("mse_fwd", dev, (x, t))


def mse_bwd(dev, x, t, gy):
    """gx = 2 (x - t) gy   (the target's gradient is -gx)"""
    _check_float(x, t, gy)
    return _run("mse_bwd", dev, (x, t, gy))


def smooth_l1_fwd(dev, x, t, beta: float = 1.0):
    """l = 0.5 d^2 / beta if |d| < beta else |d| - 0.5 beta,  d = x - t"""
    _check_float(x, t)
    return _run("smooth_l1_fwd", dev, (x, t), (float(beta),))


def smooth_l1_bwd(dev, x, t, gy, beta: float = 1.0):
    """gx = gy * clip(d / beta, -1, 1)   (sign(d) when beta == 0)"""
    _check_float(x, t, gy)
    return _run("smooth_l1_bwd", dev, (x, t, gy), (float(beta),))


def clamp_bwd(dev, x, gy, lo=None, hi=None):
    """gx = gy where lo <= x <= hi else 0; lo / hi: None, scalars or broadcastable arrays"""
    _check_float(x, gy)
    lo = _like(dev, -np.inf if lo is None else lo, x)
    hi = _like(dev, np.inf if hi is None else hi, x)
    return _run("clamp_bwd", dev, (x, gy, lo, hi))


def where_bwd(dev, cond, gy):
    """(ga, gb) = (gy where cond else 0, 0 where cond else gy), in the broadcast shape of cond and gy"""
    _check_float(gy)
    return _run("where_bwd", dev, (cond, gy), out_dtypes=(gy.dtype, gy.dtype))


def dropout_fwd(dev, x, p: float, seed: int, offset: int):
    """(y, mask): mask_i = philox(seed, offset + i) >= p 2^32,  y = x mask / (1 - p).

    Counter-based, so (seed, offset) reproduces the mask on any device; the caller advances offset
    by x.size per call (Generator.next_offset)."""
    _check_float(x)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if p == 1.0:
        xp = dev.xp
        return xp.zeros(x.shape, x.dtype), xp.zeros(x.shape, np.bool_)
    threshold = min(int(p * 2.0 ** 32), 2 ** 32 - 1)
    u64 = 0xFFFF_FFFF_FFFF_FFFF
    scalars = (int(seed) & u64, int(offset) & u64, threshold, 1.0 / (1.0 - p))
    return _run("dropout_fwd", dev, (x,), scalars, out_dtypes=(x.dtype, np.dtype(np.bool_)))


def dropout_bwd(dev, gy, mask, p: float):
    """gx = gy mask / (1 - p)"""
    _check_float(gy)
    scale = 0.0 if p >= 1.0 else 1.0 / (1.0 - p)
    return _run("dropout_bwd", dev, (gy, mask), (scale,))
