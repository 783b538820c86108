"""Fused CUDA kernels (autograd_gpu.ops.fused) against NumPy float64 references.

Runs on the emulated CUDA device (the kernel sources executed on the CPU) and on a real GPU when one
is present. Forward kernels are checked against the formulas, elementwise backward kernels against
central finite differences of the float64 reference (independent of the closed forms in the .cuh),
raw backward kernels against closed forms and finite differences.
Tolerances (TOL): float64 1e-10 (libm vs CUDA math differ in the last bits; reductions reorder),
float32 2e-5, float16 5e-3 relative / 1e-3 absolute (10 mantissa bits: math runs in float, only the
loads / stores are half), scaled up per check where an output amplifies rounding (sums, rstd).
"""
from __future__ import annotations

import numpy as np
import pytest

from autograd_gpu.backend import Device
from autograd_gpu.backend import kernels as K
from autograd_gpu.ops import fused as F
from autograd_gpu.ops import fused_elementwise
from autograd_gpu.testing import devices as _devices
from conftest import require_nvrtc

DEVICES = [d for d in _devices.test_devices() if d != "cpu"]
TOL = {np.float16: dict(rtol=5e-3, atol=1e-3), np.float32: dict(rtol=2e-5, atol=2e-6),
       np.float64: dict(rtol=1e-10, atol=1e-12)}
ALL_FLOATS = [np.float16, np.float32, np.float64]


@pytest.fixture(params=DEVICES)
def dev(request):
    return Device(request.param)


def put(dev, a, dtype=None):
    """A device copy (never the same NumPy object: in-place kernels must not touch the reference data)."""
    return dev.xp.array(a, dtype=dtype)


def get(a) -> np.ndarray:
    return a.get() if hasattr(a, "get") else np.asarray(a)


def close(actual, expected, dtype, scale=1.0):
    tol = TOL[np.dtype(dtype).type]
    np.testing.assert_allclose(get(actual).astype(np.float64), expected, rtol=tol["rtol"] * scale,
                               atol=tol["atol"] * scale)


def rand(shape, dtype, lo=-3.0, hi=3.0, seed=0):
    """Values rounded to dtype first, so the float64 reference sees exactly the kernel's input."""
    return np.random.default_rng(seed).uniform(lo, hi, shape).astype(dtype)


def num_grad(f, args, k, h=1e-6):
    """Central differences of the scalar f(*args) with respect to args[k] (float64)."""
    a, out = args[k], np.zeros(args[k].size)
    for i in range(a.size):
        e = np.zeros(a.size)
        e[i] = h
        hi, lo = list(args), list(args)
        hi[k], lo[k] = a + e.reshape(a.shape), a - e.reshape(a.shape)
        out[i] = (f(*hi) - f(*lo)) / (2 * h)
    return out.reshape(a.shape)


# ------------------------------------------------------------------ elementwise
def _softplus(z):
    return np.logaddexp(0.0, z)


def _erf(x):
    from math import erf
    return np.vectorize(erf)(x)


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
W_BCE, PW_BCE = np.array([0.5, 1.0, 2.0, 1.5, 0.25]), np.array([3.0, 1.0, 0.5, 2.0, 1.0])
# name: (fwd, bwd, what bwd takes: x, y or (x, t) for losses, extra args, float64 reference f(x, t))
ELEMENTWISE = {
    "sigmoid": (F.sigmoid_fwd, F.sigmoid_bwd, "y", (), lambda x, t: 1 / (1 + np.exp(-x))),
    "tanh": (F.tanh_fwd, F.tanh_bwd, "y", (), lambda x, t: np.tanh(x)),
    "relu": (F.relu_fwd, F.relu_bwd, "y", (), lambda x, t: np.maximum(x, 0)),
    "leaky_relu": (F.leaky_relu_fwd, F.leaky_relu_bwd, "x", (0.2,), lambda x, t: np.where(x > 0, x, 0.2 * x)),
    "elu": (F.elu_fwd, F.elu_bwd, "x", (1.3,), lambda x, t: np.where(x > 0, x, 1.3 * np.expm1(x))),
    "gelu": (F.gelu_fwd, F.gelu_bwd, "x", ("none",), lambda x, t: 0.5 * x * (1 + _erf(x / np.sqrt(2)))),
    "gelu_tanh": (F.gelu_fwd, F.gelu_bwd, "x", ("tanh",),
                  lambda x, t: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))),
    "silu": (F.silu_fwd, F.silu_bwd, "x", (), lambda x, t: x / (1 + np.exp(-x))),
    # selu and celu run on the elu kernels with PyTorch's scale / input_scale
    "selu": (F.elu_fwd, F.elu_bwd, "x", (_SELU_ALPHA, _SELU_SCALE, 1.0),
             lambda x, t: _SELU_SCALE * np.where(x > 0, x, _SELU_ALPHA * np.expm1(x))),
    "celu": (F.elu_fwd, F.elu_bwd, "x", (2.0, 1.0, 0.5),
             lambda x, t: np.where(x > 0, x, 2.0 * np.expm1(x / 2))),
    "hardsigmoid": (F.hardsigmoid_fwd, F.hardsigmoid_bwd, "x", (), lambda x, t: np.clip(x / 6 + 0.5, 0, 1)),
    "hardswish": (F.hardswish_fwd, F.hardswish_bwd, "x", (), lambda x, t: x * np.clip(x + 3, 0, 6) / 6),
    "mish": (F.mish_fwd, F.mish_bwd, "x", (), lambda x, t: x * np.tanh(_softplus(x))),
    "logsigmoid": (F.logsigmoid_fwd, F.logsigmoid_bwd, "x", (), lambda x, t: -_softplus(-x)),
    "softsign": (F.softsign_fwd, F.softsign_bwd, "x", (), lambda x, t: x / (1 + np.abs(x))),
    "softplus": (F.softplus_fwd, F.softplus_bwd, "x", (2.0, 5.0),
                 lambda x, t: np.where(2 * x > 5, x, _softplus(2 * x) / 2)),
    "bce_with_logits": (F.bce_with_logits_fwd, F.bce_with_logits_bwd, "xt", (),
                        lambda x, t: (1 - t) * x + _softplus(-x)),
    "bce_with_logits_weighted": (F.bce_with_logits_fwd, F.bce_with_logits_bwd, "xt", (W_BCE, PW_BCE),
                                 lambda x, t: W_BCE * ((1 - t) * x + (1 + (PW_BCE - 1) * t) * _softplus(-x))),
    "mse": (F.mse_fwd, F.mse_bwd, "xt", (), lambda x, t: (x - t) ** 2),
    "smooth_l1": (F.smooth_l1_fwd, F.smooth_l1_bwd, "xt", (0.5,),
                  lambda x, t: np.where(np.abs(x - t) < 0.5, (x - t) ** 2, np.abs(x - t) - 0.25)),
}
KINKS = {"relu": [0.0], "leaky_relu": [0.0], "elu": [0.0], "softplus": [2.5], "selu": [0.0], "celu": [0.0],
         "hardsigmoid": [-3.0, 3.0], "hardswish": [-3.0, 3.0], "softsign": [0.0]}


def _inputs(name, dtype, shape=(4, 5)):
    x = rand(shape, dtype, seed=1).astype(np.float64)
    t = rand(shape, dtype, 0.0, 1.0, seed=2).astype(np.float64)
    # keep finite differences away from kinks (relu at 0, smooth_l1 at |x - t| = beta, ...)
    for k in KINKS.get(name, []):
        x = np.where(np.abs(x - k) < 0.05, x + 0.1, x)
    if name == "smooth_l1":
        x = np.where(np.abs(np.abs(x - t) - 0.5) < 0.05, x + 0.1, x)
    return x.astype(dtype), t.astype(dtype)


@pytest.mark.parametrize("dtype", ALL_FLOATS)
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_fwd_bwd(dev, name, dtype):
    fwd, bwd, saved, args, ref = ELEMENTWISE[name]
    args = tuple(put(dev, a, dtype) if isinstance(a, np.ndarray) else a for a in args)
    x, t = _inputs(name, dtype)
    g = rand(x.shape, dtype, seed=3)
    x64, t64, g64 = (a.astype(np.float64) for a in (x, t, g))
    xd, td, gd = put(dev, x), put(dev, t), put(dev, g)
    if saved == "xt":
        y, gx = fwd(dev, xd, td, *args), bwd(dev, xd, td, gd, *args)
    else:
        y = fwd(dev, xd, *args)
        gx = bwd(dev, y if saved == "y" else xd, gd, *args)
    close(y, ref(x64, t64), dtype)
    h = 1e-6
    fd = g64 * (ref(x64 + h, t64) - ref(x64 - h, t64)) / (2 * h)
    assert gx.dtype == dtype and gx.shape == x.shape
    close(gx, fd, dtype, scale=1e4 if dtype == np.float64 else 1.0)  # fd itself is accurate to ~1e-9


def test_elementwise_edges(dev):
    for shape in [(0,), (3, 0), (), (1,)]:
        x = rand(shape, np.float32)
        y = F.sigmoid_fwd(dev, put(dev, x))
        assert y.shape == shape and y.dtype == np.float32
        close(y, 1 / (1 + np.exp(-x.astype(np.float64))), np.float32)
    # non-contiguous (transposed, strided) input and broadcast upstream gradient
    x = rand((6, 8), np.float64)
    xv = put(dev, x)[:, ::2].T
    close(F.tanh_fwd(dev, xv), np.tanh(x[:, ::2].T), np.float64)
    gy = put(dev, np.float64(2.0))
    close(F.mse_bwd(dev, xv, put(dev, np.zeros((1, 6))), gy), 4 * x[:, ::2].T, np.float64)
    # extreme logits: the stable forms give finite values, sigmoid saturates without NaN
    big = np.array([-1e4, -100.0, 0.0, 100.0, 1e4], np.float32)
    t = np.array([1.0, 0.0, 0.5, 1.0, 0.0], np.float32)
    loss = get(F.bce_with_logits_fwd(dev, put(dev, big), put(dev, t)))
    np.testing.assert_allclose(loss, [1e4, 0, np.log(2), np.exp(-100.0), 1e4], rtol=1e-6, atol=1e-30)
    assert np.isfinite(get(F.softplus_bwd(dev, put(dev, big), put(dev, t), 1.0, 1e6))).all()
    np.testing.assert_array_equal(get(F.relu_fwd(dev, put(dev, np.array([np.nan, -1.0])))), [np.nan, 0.0])
    with pytest.raises(TypeError):
        F.sigmoid_fwd(dev, put(dev, np.arange(3)))
    x, t = np.array([-1.0, 0.0, 2.0]), np.zeros(3)  # smooth_l1 with beta == 0 is L1 (sign(0) = 0, no 0/0)
    close(F.smooth_l1_fwd(dev, put(dev, x), put(dev, t), 0.0), np.abs(x), np.float64)
    close(F.smooth_l1_bwd(dev, put(dev, x), put(dev, t), put(dev, np.ones(3)), 0.0), np.sign(x), np.float64)


@pytest.mark.parametrize("dtype", ALL_FLOATS)
def test_clamp_bwd_where_bwd(dev, dtype):
    x, g = rand((5, 7), dtype, seed=4), rand((5, 7), dtype, seed=5)
    x[0, 0] = np.nan
    x64 = x.astype(np.float64)
    close(F.clamp_bwd(dev, put(dev, x), put(dev, g), -1.0, 0.5), np.where((x64 >= -1) & (x64 <= 0.5), g, 0),
          dtype)
    close(F.clamp_bwd(dev, put(dev, x), put(dev, g), None, 0.5), np.where(x64 <= 0.5, g, 0), dtype)
    lo = rand((7,), dtype, seed=6)  # tensor bound, broadcast over rows
    close(F.clamp_bwd(dev, put(dev, x), put(dev, g), put(dev, lo)), np.where(x64 >= lo, g, 0), dtype)
    cond = rand((1, 7), np.float32, seed=7) > 0  # broadcast condition
    ga, gb = F.where_bwd(dev, put(dev, cond), put(dev, g))
    close(ga, np.where(cond, g, 0), dtype)
    close(gb, np.where(cond, 0, g), dtype)


# ------------------------------------------------------------------ dropout (Philox-4x32-10)
def philox_4x32_10(ctr, key):
    """Reference Philox-4x32-10 (Random123) on Python ints."""
    m = 0xFFFFFFFF
    c, k = list(ctr), list(key)
    for _ in range(10):
        p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k[0], p1 & m, (p0 >> 32) ^ c[3] ^ k[1], p0 & m]
        k = [(k[0] + 0x9E3779B9) & m, (k[1] + 0xBB67AE85) & m]
    return c


def test_philox_reference_known_answers():
    # Random123 kat_vectors, philox4x32 10 rounds
    assert philox_4x32_10([0, 0, 0, 0], [0, 0]) == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
    assert philox_4x32_10([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0]) == \
        [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]


@pytest.mark.parametrize("dtype", ALL_FLOATS)
def test_dropout(dev, dtype):
    seed, offset, p = 0x1234_5678_9ABC_DEF0, 77, 0.3
    x = rand((300, 350), dtype) + dtype(5)
    y, mask = F.dropout_fwd(dev, put(dev, x), p, seed, offset)
    y2, mask2 = F.dropout_fwd(dev, put(dev, x), p, seed, offset)
    mask = get(mask)
    assert mask.dtype == np.bool_ and (mask == get(mask2)).all() and (get(y) == get(y2)).all()
    assert abs(mask.mean() - (1 - p)) < 4 * np.sqrt(p * (1 - p) / mask.size)
    close(y, np.where(mask, x.astype(np.float64) / (1 - p), 0), dtype)
    # bit-exact against the reference generator: identical on every device
    thr = int(p * 2 ** 32)
    key = [seed & 0xFFFFFFFF, seed >> 32]
    for i in [0, 1, 12345, mask.size - 1]:
        ctr = offset + i
        assert mask.flat[i] == (philox_4x32_10([ctr & 0xFFFFFFFF, ctr >> 32, 0, 0], key)[0] >= thr)
    _, other = F.dropout_fwd(dev, put(dev, x), p, seed, offset + 1)
    assert (get(other) != mask).any()
    # the counter is the logical (C-order) index: a transposed view gets the mask of its contiguous copy
    yt, mt = F.dropout_fwd(dev, put(dev, x).T, p, seed, offset)
    yc, mc = F.dropout_fwd(dev, put(dev, x.T.copy()), p, seed, offset)
    assert (get(mt) == get(mc)).all() and (get(yt) == get(yc)).all()
    g = rand(x.shape, dtype, seed=9)
    close(F.dropout_bwd(dev, put(dev, g), put(dev, mask), p), np.where(mask, g / (1 - p), 0), dtype)
    y, m = F.dropout_fwd(dev, put(dev, x[:0]), p, seed, offset)
    assert y.shape == (0, 350) and m.shape == (0, 350)
    y, m = F.dropout_fwd(dev, put(dev, x[:2]), 1.0, seed, offset)
    assert not get(y).any() and not get(m).any()


def test_activation_kernel_tails(dev):
    """The stable forms of logsigmoid, mish, softsign: no overflow, no NaN, exact limits far out."""
    x = np.array([-1e4, -100.0, -30.0, -1e-3, 0.0, 1e-3, 30.0, 100.0, 1e4], np.float32)
    x64, one = x.astype(np.float64), put(dev, np.ones(9, np.float32))
    np.testing.assert_allclose(get(F.logsigmoid_fwd(dev, put(dev, x))), -np.logaddexp(0, -x64), rtol=1e-6,
                               atol=1e-38)
    np.testing.assert_allclose(get(F.logsigmoid_bwd(dev, put(dev, x), one)), np.exp(-np.logaddexp(0, x64)),
                               rtol=1e-6, atol=1e-38)
    mish = get(F.mish_fwd(dev, put(dev, x)))
    np.testing.assert_allclose(mish, x64 * np.tanh(np.logaddexp(0, x64)), rtol=1e-6, atol=1e-38)
    assert np.isfinite(get(F.mish_bwd(dev, put(dev, x), one))).all()
    huge = put(dev, np.array([-3e38, 1e30, 3e38], np.float32))
    np.testing.assert_array_equal(get(F.softsign_bwd(dev, huge, put(dev, np.ones(3, np.float32)))), 0)
    np.testing.assert_allclose(get(F.softsign_fwd(dev, huge)), [-1, 1, 1])


@pytest.mark.parametrize("dtype", ALL_FLOATS)
def test_rrelu_with_noise(dev, dtype):
    """rrelu_with_noise_fwd: slopes lower + (upper - lower) philox / 2^32 where x <= 0 (1 elsewhere), bit for
    bit (the double slope rounded through the accumulation type, as the NumPy twin does on cpu)."""
    seed, offset, lo, hi = 0x0123_4567_89AB_CDEF, 11, 0.1, 0.4
    x = rand((40, 50), dtype)
    x[0, :3] = 0
    y, noise = F.rrelu_with_noise_fwd(dev, put(dev, x), lo, hi, seed, offset)
    noise, neg = get(noise), x <= 0
    assert noise.dtype == dtype and (noise[~neg] == 1).all()
    assert ((noise[neg] >= dtype(lo)) & (noise[neg] <= dtype(hi))).all()
    assert abs(noise[neg].astype(np.float64).mean() - 0.25) < 0.02  # ~1000 draws of U(0.1, 0.4): sd 0.003
    key, acc = [seed & 0xFFFFFFFF, seed >> 32], np.float64 if dtype == np.float64 else np.float32
    for i in [0, 1, 2, 77, 1234, x.size - 1]:
        ctr = offset + i
        u = philox_4x32_10([ctr & 0xFFFFFFFF, ctr >> 32, 0, 0], key)[0] / 2 ** 32
        assert noise.flat[i] == (dtype(acc(lo + (hi - lo) * u)) if neg.flat[i] else dtype(1))
    assert (get(y) == x * noise).all()
    # the counter is the logical (C-order) index, as in dropout
    _, nt = F.rrelu_with_noise_fwd(dev, put(dev, x).T, lo, hi, seed, offset)
    _, nc = F.rrelu_with_noise_fwd(dev, put(dev, x.T.copy()), lo, hi, seed, offset)
    assert (get(nt) == get(nc)).all()


# ------------------------------------------------------------------ softmax family (raw kernels)
def _softmax_ref(x, dim):
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


SOFTMAX_CASES = [((5, 3000), -1), ((7, 33), 1), ((4, 5, 6), 0), ((4, 5, 6), 1), ((3, 1100, 2), 1), ((1,), 0),
                 ((), 0), ((0, 5), 1), ((3, 0), 1)]


@pytest.mark.parametrize("dtype", ALL_FLOATS)
@pytest.mark.parametrize("shape,dim", SOFTMAX_CASES)
def test_softmax_family(dev, shape, dim, dtype):
    """softmax_fwd, softmax_bwd, log_softmax_fwd, log_softmax_bwd over any dim, any row length."""
    x = rand(shape, dtype, -4, 4)
    g = rand(shape, dtype, seed=8)
    x64, g64 = x.astype(np.float64), g.astype(np.float64)
    d = dim if x.ndim else None
    y = F.softmax_fwd(dev, put(dev, x), dim)
    assert y.shape == shape and y.dtype == dtype
    if x.size == 0:
        assert F.log_softmax_bwd(dev, y, put(dev, g), dim).shape == shape
        return
    sm = _softmax_ref(x64, d)
    close(y, sm, dtype)
    ly = F.log_softmax_fwd(dev, put(dev, x), dim)
    close(ly, np.log(sm), dtype)
    gx = F.softmax_bwd(dev, y, put(dev, g), dim)
    y64 = get(y).astype(np.float64)
    close(gx, y64 * (g64 - (g64 * y64).sum(axis=d, keepdims=True)), dtype)
    gx = F.log_softmax_bwd(dev, ly, put(dev, g), dim)
    close(gx, g64 - np.exp(get(ly).astype(np.float64)) * g64.sum(axis=d, keepdims=True), dtype)


def test_softmax_noncontiguous_and_fd(dev):
    x = rand((6, 9), np.float64)
    xv = put(dev, x).T[::2]  # (5, 6), strided view
    close(F.softmax_fwd(dev, xv, -1), _softmax_ref(x.T[::2], -1), np.float64)
    # finite differences of L = sum(g * log_softmax(x)) through the backward kernel
    xs, g = x[:2], rand((2, 9), np.float64, seed=3)
    ly = F.log_softmax_fwd(dev, put(dev, xs), 1)
    gx = get(F.log_softmax_bwd(dev, ly, put(dev, g), 1))
    fd = num_grad(lambda z: (g * np.log(_softmax_ref(z, 1))).sum(), [xs], 0)
    np.testing.assert_allclose(gx, fd, rtol=1e-6, atol=1e-8)


def test_softmax_half_long_row_no_overflow(dev):
    # 4096 values ~10: exp(10) * 4096 overflows fp16 (max 65504) unless max-shifted and summed in float
    x = (10 + rand((2, 4096), np.float16, -1, 1)).astype(np.float16)
    y = get(F.softmax_fwd(dev, put(dev, x), -1)).astype(np.float64)
    assert np.isfinite(y).all()
    np.testing.assert_allclose(y, _softmax_ref(x.astype(np.float64), -1), rtol=1e-2, atol=1e-6)
    np.testing.assert_allclose(y.sum(-1), 1, rtol=5e-3)
    ly = get(F.log_softmax_fwd(dev, put(dev, x), -1)).astype(np.float64)
    np.testing.assert_allclose(ly, np.log(_softmax_ref(x.astype(np.float64), -1)), atol=2e-2)


# ------------------------------------------------------------------ cross-entropy
def _xent_ref(x, t, ignore, eps):
    (n, c), valid = x.shape, t != ignore
    lse, tt = np.log(np.exp(x - x.max(1, keepdims=True)).sum(1)) + x.max(1), np.where(valid, t, 0)
    loss = lse - (1 - eps) * x[np.arange(n), tt] - eps / c * x.sum(1)
    grad = np.exp(x - lse[:, None]) - eps / c - (1 - eps) * np.eye(c)[tt]
    return np.where(valid, loss, 0), lse, np.where(valid[:, None], grad, 0)


@pytest.mark.parametrize("dtype", ALL_FLOATS)
@pytest.mark.parametrize("c,eps", [(7, 0.0), (1100, 0.1), (1, 0.0)])
def test_cross_entropy(dev, c, eps, dtype):
    """cross_entropy_fwd / cross_entropy_bwd: fused log-softmax + NLL, ignore_index, label smoothing."""
    n = 6
    x = rand((n, c), dtype, -5, 5)
    t = np.random.default_rng(0).integers(0, c, n)
    t[2] = -100
    loss, stats = F.cross_entropy_fwd(dev, put(dev, x), put(dev, t), -100, eps)
    assert loss.dtype == dtype and stats.dtype == (np.float64 if dtype == np.float64 else np.float32)
    assert stats.shape == (n, 2)  # per row (max, log sum exp(x - max))
    ref_loss, ref_lse, ref_grad = _xent_ref(x.astype(np.float64), t, -100, eps)
    close(loss, ref_loss, dtype, scale=5)
    m, log_s = get(stats).astype(np.float64).T
    close(np.where(t != -100, m, 0), np.where(t != -100, x.astype(np.float64).max(1), 0), dtype)
    close(np.where(t != -100, m + log_s, 0), np.where(t != -100, ref_lse, 0), dtype)
    grow = rand((n,), np.float64, 0.5, 1.5, seed=4)
    gx = F.cross_entropy_bwd(dev, put(dev, x), put(dev, t), stats, put(dev, grow), -100, eps)
    close(gx, grow[:, None] * ref_grad, dtype)
    gx = F.cross_entropy_bwd(dev, put(dev, x), put(dev, t), stats, 0.5, -100, eps)  # scalar (mean) grad
    close(gx, 0.5 * ref_grad, dtype)
    # one value for every row as a 0-d array, divided by a mean's count in the kernel; per-row values too
    gx = F.cross_entropy_bwd(dev, put(dev, x), put(dev, t), stats, put(dev, np.array(1.5)), -100, eps, 5)
    close(gx, 0.3 * ref_grad, dtype)
    gx = F.cross_entropy_bwd(dev, put(dev, x), put(dev, t), stats, put(dev, grow), -100, eps, 4)
    close(gx, grow[:, None] / 4 * ref_grad, dtype)
    with pytest.raises(ValueError, match="grow needs 1 or 6 values, got 2"):
        F.cross_entropy_bwd(dev, put(dev, x), put(dev, t), stats, put(dev, grow[:2]), -100, eps)


def test_cross_entropy_edges(dev):
    x = rand((3, 4), np.float32)
    loss, _ = F.cross_entropy_fwd(dev, put(dev, x), put(dev, np.array([0, 4, -1])), -100, 0.0)
    assert np.isnan(get(loss)[1:]).all() and np.isfinite(get(loss)[0])  # out-of-range target -> NaN
    loss, stats = F.cross_entropy_fwd(dev, put(dev, x[:0]), put(dev, np.zeros(0, np.int64)), -100, 0.0)
    assert loss.shape == (0,) and stats.shape == (0, 2)
    gx = F.cross_entropy_bwd(dev, put(dev, x[:0]), put(dev, np.zeros(0, np.int64)), stats, 1.0)
    assert gx.shape == (0, 4)


# ------------------------------------------------------------------ layer norm
def _ln_ref(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    rs = 1 / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + eps)
    y = (x - mu) * rs
    return y * (1 if w is None else w) + (0 if b is None else b), mu[..., 0], rs[..., 0]


@pytest.mark.parametrize("dtype", ALL_FLOATS)
@pytest.mark.parametrize("shape,affine", [((4, 7, 33), True), ((3, 3000), True), ((200, 40), True),
                                          ((5, 9), False), ((1, 1), True)])
def test_layer_norm(dev, shape, affine, dtype):
    """layer_norm_fwd, layer_norm_bwd_input, layer_norm_bwd_params (multi-chunk at M = 200)."""
    D = shape[-1]
    x = rand(shape, dtype) + dtype(3)  # |mean| > std: the case a one-pass variance gets wrong
    w = rand((D,), dtype, 0.5, 1.5, seed=1) if affine else None
    b = rand((D,), dtype, seed=2) if affine else None
    g = rand(shape, dtype, seed=3)
    x64, g64, w64, b64 = (None if a is None else a.astype(np.float64) for a in (x, g, w, b))
    y, mean, rstd = F.layer_norm_fwd(dev, put(dev, x), None if w is None else put(dev, w),
                                     None if b is None else put(dev, b), 1e-5, D)
    ry, rmu, rrs = _ln_ref(x64, w64, b64, 1e-5)
    close(y, ry, dtype, scale=2)
    close(mean, rmu.reshape(-1), dtype)
    close(rstd, rrs.reshape(-1), dtype, scale=5)
    gx, gw, gb = F.layer_norm_bwd(dev, put(dev, x), put(dev, g), mean, rstd,
                                  None if w is None else put(dev, w))
    xhat = (x64 - rmu[..., None]) * rrs[..., None]
    gh = g64 * (1 if w64 is None else w64)
    ref_gx = rrs[..., None] * (gh - gh.mean(-1, keepdims=True) - xhat * (gh * xhat).mean(-1, keepdims=True))
    close(gx, ref_gx, dtype, scale=10)
    red = tuple(range(x.ndim - 1))
    close(gw, (g64 * xhat).sum(red), dtype, scale=20)
    close(gb, g64.sum(red), dtype, scale=20)


def test_layer_norm_fd_and_edges(dev):
    x, w, b, g = (rand(s, np.float64, seed=i) for i, s in enumerate([(3, 5), (5,), (5,), (3, 5)]))
    _, mean, rstd = F.layer_norm_fwd(dev, put(dev, x), put(dev, w), put(dev, b), 1e-5, 5)
    gx, gw, gb = (get(a) for a in F.layer_norm_bwd(dev, put(dev, x), put(dev, g), mean, rstd, put(dev, w)))
    for k, got in enumerate((gx, gw, gb)):
        fd = num_grad(lambda xx, ww, bb: (g * _ln_ref(xx, ww, bb, 1e-5)[0]).sum(), [x, w, b], k)
        np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-8)
    y, mean, rstd = F.layer_norm_fwd(dev, put(dev, x[:0]), None, None, 1e-5, 5)
    assert y.shape == (0, 5) and mean.shape == (0,)
    gx, gw, gb = F.layer_norm_bwd(dev, put(dev, x[:0]), put(dev, g[:0]), mean, rstd, put(dev, w))
    assert gx.shape == (0, 5) and (get(gw) == 0).all() and gb.shape == (5,)


# ------------------------------------------------------------------ scatter_add_rows
@pytest.mark.parametrize("dtype", ALL_FLOATS)
def test_scatter_add_rows(dev, dtype):
    """scatter_add_rows: embedding / index_select / gather backward with repeated indices."""
    rng = np.random.default_rng(0)
    out = rand((10, 3, 2), dtype)
    idx = rng.integers(0, 10, 50)
    src = rand((50, 3, 2), dtype, seed=1)
    ref = out.astype(np.float64)
    np.add.at(ref, idx, src.astype(np.float64))
    o = put(dev, out)
    assert F.scatter_add_rows(dev, o, put(dev, idx), put(dev, src)) is o
    close(o, ref, dtype, scale=5)
    # 1-D (gather of scalars), out-of-range indices skipped, non-contiguous src
    out1 = np.zeros(4, dtype)
    src1 = rand((6, 2), dtype, seed=2)
    idx1 = np.array([0, 3, 3, -1, 9, 1])
    o1 = put(dev, out1)
    F.scatter_add_rows(dev, o1, put(dev, idx1), put(dev, src1)[:, 0])
    ref1 = np.zeros(4)
    np.add.at(ref1, idx1[[0, 1, 2, 5]], src1[[0, 1, 2, 5], 0].astype(np.float64))
    close(o1, ref1, dtype)
    F.scatter_add_rows(dev, o1, put(dev, np.zeros(0, np.int64)), put(dev, np.zeros(0, dtype)))


# ------------------------------------------------------------------ multi-tensor optimizers
SHAPES = [(7,), (33, 5), (1,), (20000,), (0,)]  # 20000 > one 16384-element chunk


def _state(dtype, seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


def _sgd_ref(p, g, buf, lr, mom, damp, nesterov, wd, maximize, first):
    g = -g if maximize else g
    g = g + wd * p
    if mom:
        buf = g if first else mom * buf + (1 - damp) * g
        g = g + mom * buf if nesterov else buf
    return p - lr * g, buf


SGD_CASES = [(0.9, 0.0, True, 0.01, False), (0.9, 0.2, False, 0.0, True), (0.0, 0.0, False, 0.1, False)]


@pytest.mark.parametrize("dtype", ALL_FLOATS)
@pytest.mark.parametrize("mom,damp,nesterov,wd,maximize", SGD_CASES)
def test_sgd_step(dev, dtype, mom, damp, nesterov, wd, maximize):
    """sgd_step: several odd-sized tensors updated in one launch, 3 steps vs PyTorch's rule."""
    ps, bufs = _state(dtype, 0), [np.zeros(s, dtype) for s in SHAPES]
    dp, db = [put(dev, a) for a in ps], [put(dev, a) for a in bufs]
    for step in range(3):
        gs = _state(dtype, 10 + step)
        F.sgd_step(dev, dp, [put(dev, a) for a in gs], db if mom else None, 0.1, mom, damp, nesterov, wd,
                   maximize, step == 0)
        for i in range(len(ps)):  # reference stores state in the parameter dtype, as the kernel does
            p64, g64, b64 = (a.astype(np.float64) for a in (ps[i], gs[i], bufs[i]))
            p, b = _sgd_ref(p64, g64, b64, 0.1, mom, damp, nesterov, wd, maximize, step == 0)
            ps[i], bufs[i] = p.astype(dtype), b.astype(dtype)
    for got, want in zip(dp + db, ps + bufs):
        close(got, want, dtype, scale=5)


def _adam_ref(p, g, m, v, vmax, step, lr, b1, b2, eps, wd, decoupled, amsgrad, maximize):
    g = -g if maximize else g
    if wd:
        if decoupled:
            p = p * (1 - lr * wd)
        else:
            g = g + wd * p
    m = m + (1 - b1) * (g - m)
    v = b2 * v + (1 - b2) * g * g
    vmax = np.maximum(vmax, v) if amsgrad else vmax
    denom = np.sqrt(vmax if amsgrad else v) / np.sqrt(1 - b2 ** step) + eps
    return p - lr / (1 - b1 ** step) * m / denom, m, v, vmax


@pytest.mark.parametrize("dtype", ALL_FLOATS)
@pytest.mark.parametrize("wd,decoupled,amsgrad,maximize",
                         [(0.0, False, False, False), (0.05, False, True, False), (0.05, True, False, True),
                          (0.01, True, True, False)])
def test_adam_step(dev, dtype, wd, decoupled, amsgrad, maximize):
    """adam_step: Adam / AdamW (+ amsgrad, maximize), one launch for all tensors, 3 steps."""
    ps = _state(dtype, 1)
    ms, vs, vmax = ([np.zeros(s, dtype) for s in SHAPES] for _ in range(3))
    dp, dm, dv, dx = ([put(dev, a) for a in lst] for lst in (ps, ms, vs, vmax))
    for step in range(1, 4):
        gs = _state(dtype, 20 + step)
        hyper = (1e-2, 0.9, 0.999, 1e-8, wd, decoupled, amsgrad, maximize)
        F.adam_step(dev, dp, [put(dev, a) for a in gs], dm, dv, dx if amsgrad else None, step, *hyper)
        for i in range(len(ps)):
            state = (a.astype(np.float64) for a in (ps[i], gs[i], ms[i], vs[i], vmax[i]))
            r = _adam_ref(*state, step, *hyper)
            ps[i], ms[i], vs[i], vmax[i] = (a.astype(dtype) for a in r)
    for got, want in zip(dp + dm + dv + (dx if amsgrad else []), ps + ms + vs + (vmax if amsgrad else [])):
        close(got, want, dtype, scale=5)



def _rmsprop_ref(p, g, v, ga, buf, lr, alpha, eps, wd, momentum, centered, maximize):
    g = -g if maximize else g
    g = g + wd * p
    v = alpha * v + (1 - alpha) * g * g
    if centered:
        ga = ga + (1 - alpha) * (g - ga)
        avg = np.sqrt(v - ga * ga) + eps
    else:
        avg = np.sqrt(v) + eps
    if momentum > 0:
        buf = momentum * buf + g / avg
        return p - lr * buf, v, ga, buf
    return p - lr * g / avg, v, ga, buf


@pytest.mark.parametrize("dtype", ALL_FLOATS)
@pytest.mark.parametrize("wd,momentum,centered,maximize",
                         [(0.0, 0.0, False, False), (0.1, 0.9, True, False), (0.0, 0.5, False, True),
                          (0.01, 0.0, True, True)])
def test_rmsprop_step(dev, dtype, wd, momentum, centered, maximize):
    """rmsprop_step: RMSprop (+ centered, momentum, maximize), one launch for all tensors, 3 steps."""
    ps = _state(dtype, 2)
    vs, gas, bufs = ([np.zeros(s, dtype) for s in SHAPES] for _ in range(3))
    dp, dv, dga, dbuf = ([put(dev, a) for a in lst] for lst in (ps, vs, gas, bufs))
    hyper = (1e-2, 0.9, 1e-6, wd, momentum, centered, maximize)
    for step in range(3):
        gs = _state(dtype, 30 + step)
        F.rmsprop_step(dev, dp, [put(dev, a) for a in gs], dv, dga if centered else None,
                       dbuf if momentum else None, *hyper)
        for i in range(len(ps)):
            state = (a.astype(np.float64) for a in (ps[i], gs[i], vs[i], gas[i], bufs[i]))
            ps[i], vs[i], gas[i], bufs[i] = (a.astype(dtype) for a in _rmsprop_ref(*state, *hyper))
    got = dp + dv + (dga if centered else []) + (dbuf if momentum else [])
    want = ps + vs + (gas if centered else []) + (bufs if momentum else [])
    for g, w in zip(got, want):
        close(g, w, dtype, scale=5)
    with pytest.raises(ValueError, match="grad_avgs"):
        F.rmsprop_step(dev, dp, dp, dv, None, None, 0.1, centered=True)
    with pytest.raises(ValueError, match="momentum buffers"):
        F.rmsprop_step(dev, dp, dp, dv, None, None, 0.1, momentum=0.9)


def test_optimizer_float32_complements_are_exact(dev):
    """float32 steps with beta2 / alpha = 0.999 and dampening = 0.9: the parameter changes against the
    float64 rule, to float32 accuracy. 1 - 0.999f computed in float is off by 1.3e-5 relative, which moved
    Adam's and RMSprop's updates by ~6e-6 relative: the complements must come from the host, in double."""
    rng = np.random.default_rng(5)
    p0, g0 = rng.uniform(0.01, 0.02, 1000), rng.uniform(1.0, 2.0, 1000)
    change = {}
    for dtype in (np.float64, np.float32):
        zeros = lambda: [put(dev, np.zeros(1000, dtype))]  # noqa: E731
        sgd_p, adam_p, rms_p = ([put(dev, p0.astype(dtype))] for _ in range(3))
        buf, m, v, sq, ga = (zeros() for _ in range(5))
        g = [put(dev, g0.astype(dtype))]
        for step in range(1, 4):
            F.sgd_step(dev, sgd_p, g, buf, 1e-3, 0.5, 0.9, False, 0.0, False, step == 1)
            F.adam_step(dev, adam_p, g, m, v, None, step, 1e-3, 0.9, 0.999)
            F.rmsprop_step(dev, rms_p, g, sq, ga, None, 1e-4, 0.999, centered=True)
        p0_rounded = p0.astype(dtype).astype(np.float64)
        change[dtype] = [get(a[0]).astype(np.float64) - p0_rounded for a in (sgd_p, adam_p, rms_p)]
    for name, got, want in zip(("sgd", "adam", "rmsprop"), change[np.float32], change[np.float64]):
        np.testing.assert_allclose(got, want, rtol=1e-6, err_msg=name)

def test_optimizer_mixed_dtypes_and_errors(dev):
    ps = [np.ones(5, np.float32), np.ones(3, np.float64)]
    dp = [put(dev, a) for a in ps]
    gs = [put(dev, np.full(5, 2.0, np.float32)), put(dev, np.full(6, 2.0)[::2])]  # strided grad: copied
    F.sgd_step(dev, dp, gs, None, 0.5)
    close(dp[0], np.zeros(5), np.float32)
    close(dp[1], np.zeros(3), np.float64)
    with pytest.raises(ValueError):  # in-place state must be the real (contiguous) memory
        F.sgd_step(dev, [put(dev, np.ones(6))[::2]], [put(dev, np.ones(3))], None, 0.1)
    with pytest.raises(ValueError):  # a buffer of the wrong size would be written out of bounds
        F.sgd_step(dev, [put(dev, np.ones(3))], [put(dev, np.ones(3))], [put(dev, np.ones(2))], 0.1, 0.9)


# ------------------------------------------------------------------ im2col / col2im
def _im2col_ref(x, kh, kw, s, p, d):
    n, c, h, w = x.shape
    xp_ = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    ho = (h + 2 * p[0] - d[0] * (kh - 1) - 1) // s[0] + 1
    wo = (w + 2 * p[1] - d[1] * (kw - 1) - 1) // s[1] + 1
    col = np.empty((n, c, kh, kw, ho, wo), x.dtype)
    for i in range(kh):
        for j in range(kw):
            r0, c0 = i * d[0], j * d[1]
            col[:, :, i, j] = xp_[:, :, r0: r0 + s[0] * ho: s[0], c0: c0 + s[1] * wo: s[1]]
    return col.reshape(n, c * kh * kw, ho * wo)


@pytest.mark.parametrize("dtype", ALL_FLOATS)
@pytest.mark.parametrize("shape,k,s,p,d", [((2, 3, 7, 6), (3, 2), (2, 1), (1, 0), (2, 1)),
                                           ((1, 2, 5, 5), (3, 3), (1, 1), (1, 1), (1, 1)),
                                           ((2, 3, 9), (1, 3), 2, 1, 1)])
def test_im2col_col2im(dev, dtype, shape, k, s, p, d):
    """im2col gathers windows; col2im is its adjoint (<im2col(x), c> == <x, col2im(c)>), deterministic."""
    x = rand(shape, dtype)
    conv1d = len(shape) == 3
    x4 = x[:, :, None] if conv1d else x
    s2, p2, d2 = ((1, s), (0, p), (1, d)) if conv1d else (s, p, d)
    ref = _im2col_ref(x4.astype(np.float64), *k, s2, p2, d2)
    col = F.im2col(dev, put(dev, x), *k, s, p, d)
    assert col.shape == ref.shape
    close(col, ref, dtype)
    c = rand(ref.shape, dtype, seed=5)
    gx = get(F.col2im(dev, put(dev, c), shape, *k, s, p, d)).astype(np.float64)
    assert gx.shape == shape
    lhs, rhs = (ref * c.astype(np.float64)).sum(), (x.astype(np.float64) * gx).sum()
    np.testing.assert_allclose(lhs, rhs, rtol=TOL[dtype]["rtol"] * 10)
    assert (get(F.col2im(dev, put(dev, c), shape, *k, s, p, d)) == gx.astype(dtype)).all()  # deterministic


# ------------------------------------------------------------------ compile gate
_OURS_EW = {id(k) for k in fused_elementwise._k.values()}


@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
@pytest.mark.parametrize("name", sorted({k.name for k in K.registry()}))
def test_every_kernel_compiles(name, arch):
    """NVRTC with -Werror=all-warnings for every declared kernel: raw modules with all their template
    instantiations (float, double, __half), elementwise kernels per dtype (ours include CuPy's float16)."""
    require_nvrtc()
    for kern in (k for k in K.registry() if k.name == name):
        if id(kern) in _OURS_EW:
            kern.check_compiles(arch, dtypes=("float16", "float32", "float64"))
        else:
            kern.check_compiles(arch)
