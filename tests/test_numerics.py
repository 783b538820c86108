"""Numerics on every test device: huge logits, float16 accumulation, gradient conventions at ties and kinks.

References are float64 closed forms computed stably on the inputs' exact values. Expected gradients at ties
and kinks are PyTorch's (documented behaviour, checked against torch 2.13), written out literally.
"""
import math

import numpy as np
import pytest

import autograd_gpu as ag

from conftest import DEVICES

F = ag.nn.functional
EPS32 = float(np.finfo(np.float32).eps)


def _t(values, dev, dtype=ag.float64, grad=True):
    return ag.tensor(np.asarray(values), dtype=dtype, device=dev, requires_grad=grad)


def _np(t):
    return t.detach()._host().astype(np.float64)


def _grad(out, x, g=None):
    """d(sum(g * out))/dx as float64 NumPy (g: NumPy weights, default ones)."""
    gt = ag.tensor(np.ones(tuple(out.shape)) if g is None else g, dtype=out.dtype, device=out.device)
    (gx,) = ag.autograd.grad(out, [x], [gt])
    assert gx.dtype == x.dtype and tuple(gx.shape) == tuple(x.shape)
    return _np(gx)


def _check(got, expected, rtol, atol, what):
    assert np.isfinite(got).all(), f"{what}: non-finite {got}"
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, err_msg=what)


# --- logits of magnitude 1e4 -----------------------------------------------------------------------------

_rng = np.random.default_rng(0)
# Every value is exact in float32, so the float64 references see the very inputs the float32 ops see.
LOGITS = np.concatenate([
    np.array([[1e4, -1e4, 0.0, 1e4 - 3, 5.0],
              [-1e4, -1e4 + 1, -1e4 + 2, -2e4, -1e4 + 0.5],
              [1e4, 1e4, 1e4, 1e4, 1e4],                     # all tied
              [-1e4, 0.5, -3e3, 7e3, 7e3 - 1]]),
    _rng.uniform(-1e4, 1e4, (3, 5)).astype(np.float32)]).astype(np.float64)
TARGET = np.array([1, 2, 0, 3, 4, 0, 2])
GOUT = _rng.uniform(-1, 1, LOGITS.shape)
# float64: a few ulps of 1e4; float32: a few ulps of each result (PyTorch's kernels meet these)
TOL = {"float64": (1e-12, 1e-10), "float32": (1e-5, 1e-6)}


def _lse(x, axis=-1, keepdims=False):
    m = x.max(axis=axis, keepdims=True)
    out = m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis)


def _log_softmax(x):
    m = x.max(axis=-1, keepdims=True)
    return (x - m) - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))   # never x - lse: lse ~ 1e4 rounds


def _sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


@pytest.fixture(params=["float32", "float64"])
def dtype(request):
    return request.param


@pytest.mark.parametrize("dev", DEVICES)
def test_logsumexp_large_logits(dev, dtype):
    x = _t(LOGITS, dev, getattr(ag, dtype))
    y = ag.logsumexp(x, 1)
    rtol, atol = TOL[dtype]
    lse = _lse(LOGITS)
    _check(_np(y), lse, rtol, 0, "logsumexp forward")
    g = GOUT[:, 0]
    # PyTorch's backward is g * exp(x - result): the float32 rounding of result (spacing 2**-10 at 1e4)
    # shifts each exp by up to that much, relatively: eps32 * |lse|
    grtol = EPS32 * np.abs(lse).max() if dtype == "float32" else rtol
    _check(_grad(y, x, g), g[:, None] * np.exp(LOGITS - lse[:, None]), grtol, atol, "logsumexp backward")


@pytest.mark.parametrize("dev", DEVICES)
def test_softmax_large_logits(dev, dtype):
    x = _t(LOGITS, dev, getattr(ag, dtype))
    y = F.softmax(x, dim=1)
    rtol, atol = TOL[dtype]
    p = np.exp(_log_softmax(LOGITS))
    _check(_np(y), p, rtol, atol, "softmax forward")
    _check(_grad(y, x, GOUT), p * (GOUT - (GOUT * p).sum(1, keepdims=True)), rtol, atol, "softmax backward")


@pytest.mark.parametrize("dev", DEVICES)
def test_log_softmax_large_logits(dev, dtype):
    x = _t(LOGITS, dev, getattr(ag, dtype))
    y = F.log_softmax(x, dim=1)
    rtol, atol = TOL[dtype]
    ls = _log_softmax(LOGITS)
    _check(_np(y), ls, rtol, atol, "log_softmax forward")
    expected = GOUT - np.exp(ls) * GOUT.sum(1, keepdims=True)
    _check(_grad(y, x, GOUT), expected, rtol, atol, "log_softmax backward")


@pytest.mark.parametrize("dev", DEVICES)
def test_bce_with_logits_large_logits(dev, dtype):
    target = _rng.uniform(0, 1, LOGITS.shape)
    target[:2] = np.round(target[:2])                    # hard labels too: loss exactly 0 or |x|
    x = _t(LOGITS, dev, getattr(ag, dtype))
    tt = _t(target, dev, getattr(ag, dtype), grad=False)
    y = F.binary_cross_entropy_with_logits(x, tt, reduction="none")
    rtol, atol = TOL[dtype]
    # max(x, 0) - x y + log1p(exp(-|x|)); target values are rounded to the dtype like the op sees them
    t = target.astype(dtype).astype(np.float64)
    _check(_np(y), np.maximum(LOGITS, 0) - LOGITS * t + np.log1p(np.exp(-np.abs(LOGITS))), rtol, atol,
           "bce_with_logits forward")
    _check(_grad(y, x, GOUT), GOUT * (_sigmoid(LOGITS) - t), rtol, atol, "bce_with_logits backward")


@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("hard_label", [1.0, 0.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_with_logits_confident_correct_keeps_relative_accuracy(dev, dtype, hard_label, weighted):
    """Losses of confident, correct predictions are tiny (log1p(exp(-|x|)), times pos_weight for y = 1);
    softplus(x) - x y, or (1 - y) x + softplus(-x) summed in that order, cancels them to nothing in float32 at
    |x| = 20. Relative error within a few ulps of the dtype, every device, with and without weights."""
    logits = np.array([8.0, 12.0, 16.0, 20.0, 24.0]) * (1 if hard_label else -1)
    x = _t(logits, dev, getattr(ag, dtype))
    target = _t(np.full(5, hard_label), dev, getattr(ag, dtype), grad=False)
    kw, scale = {}, np.ones(5)
    if weighted:
        w, pw = np.array([0.5, 1.0, 2.0, 3.0, 0.25]), 1.5
        kw = dict(weight=_t(w, dev, getattr(ag, dtype), grad=False),
                  pos_weight=_t(np.full(5, pw), dev, getattr(ag, dtype), grad=False))
        scale = w * (pw if hard_label else 1.0)
    y = F.binary_cross_entropy_with_logits(x, target, reduction="none", **kw)
    expected = scale * np.log1p(np.exp(-np.abs(logits)))          # the exact loss of each element
    _check(_np(y), expected, 8 * np.finfo(dtype).eps, 0, "bce_with_logits forward (small losses)")
    mean = F.binary_cross_entropy_with_logits(x, target, **kw)
    _check(np.array(mean.item()), expected.mean(), 8 * np.finfo(dtype).eps, 0, "bce_with_logits mean")


@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_cross_entropy_large_logits(dev, dtype, label_smoothing):
    x = _t(LOGITS, dev, getattr(ag, dtype))
    tgt = ag.tensor(TARGET, device=dev)
    n, c = LOGITS.shape
    ls = _log_softmax(LOGITS)
    onehot = np.eye(c)[TARGET]
    soft = (1 - label_smoothing) * onehot + label_smoothing / c
    rtol, atol = TOL[dtype]
    y = F.cross_entropy(x, tgt, reduction="none", label_smoothing=label_smoothing)
    _check(_np(y), -(soft * ls).sum(1), rtol, atol, "cross_entropy forward")
    g = GOUT[:, 0]
    _check(_grad(y, x, g), g[:, None] * (np.exp(ls) - soft), rtol, atol, "cross_entropy backward")
    mean = F.cross_entropy(x, tgt, label_smoothing=label_smoothing)
    _check(_np(mean), -(soft * ls).sum(1).mean(), rtol, atol, "cross_entropy mean")
    _check(_grad(mean, x), (np.exp(ls) - soft) / n, rtol, atol, "cross_entropy mean backward")


# --- float16: thousands of elements, accumulated in float32 ----------------------------------------------

N = 4096
F16_RTOL, F16_ATOL = 1e-3, 1e-5      # torch.testing's float16 defaults; PyTorch's CPU kernels meet them here


def _h(values, dev, grad=True):
    return _t(np.asarray(values, dtype=np.float16), dev, ag.float16, grad)


def _exact16(shape, lo, hi, seed):
    """Random float16 values, returned as the float64 array of their exact values."""
    return np.random.default_rng(seed).uniform(lo, hi, shape).astype(np.float16).astype(np.float64)


def _check16(t, expected, what):
    assert t.dtype == ag.float16, f"{what}: {t.dtype}"
    _check(_np(t), expected, F16_RTOL, F16_ATOL, what)


@pytest.mark.parametrize("dev", DEVICES)
def test_float16_sum_mean_accumulate_in_float32(dev):
    # a float16 running sum of ones stalls at 2048 (2048 + 1 rounds back to 2048)
    assert ag.ones(2 * N, dtype=ag.float16, device=dev).sum().item() == 2 * N
    # partial sums reach 30 * 4096 = 122880, past float16's max 65504: float16 accumulation gives inf or nan
    halves = np.concatenate([np.full(N, 30.0), np.full(N, -30.0)])
    assert ag.sum(_h(halves, dev, grad=False)).item() == 0.0
    assert _np(ag.sum(_h(np.stack([halves, -halves]), dev, grad=False), 1)).tolist() == [0.0, 0.0]
    assert ag.mean(_h(np.full(2 * N, 16.0), dev, grad=False)).item() == 16.0
    assert _np(ag.mean(_h(np.full((2, 2 * N), 16.0), dev, grad=False), dim=1)).tolist() == [16.0, 16.0]
    v = _exact16((3, N), 0, 1, 1)
    x = _h(v, dev)
    for name, out, ref, grad in [("sum", ag.sum(x), v.sum(), np.ones_like(v)),
                                 ("sum(dim)", ag.sum(x, 1), v.sum(1), np.ones_like(v)),
                                 ("mean", ag.mean(x), v.mean(), np.full_like(v, 1 / v.size)),
                                 ("mean(dim)", ag.mean(x, 1), v.mean(1), np.full_like(v, 1 / N))]:
        _check16(out, ref, f"float16 {name}")
        _check(_grad(out, x), grad, F16_RTOL, F16_ATOL, f"float16 {name} backward")


@pytest.mark.parametrize("dev", DEVICES)
def test_float16_softmax_long_rows(dev):
    same = _h(np.full((2, N), 3.0), dev)
    assert (_np(F.softmax(same, 1)) == 1.0 / N).all()    # 2**-12 exactly; a stalled float16 sum: 2**-11
    _check16(F.log_softmax(same, 1), np.full((2, N), -math.log(N)), "float16 log_softmax, equal logits")
    v = _exact16((2, N), -8, 8, 2)
    g = _exact16((2, N), -1, 1, 3)
    x = _h(v, dev)
    ls = _log_softmax(v)
    p = np.exp(ls)
    y = F.softmax(x, 1)
    _check16(y, p, "float16 softmax")
    expected = p * (g - (g * p).sum(1, keepdims=True))
    _check(_grad(y, x, g), expected, F16_RTOL, F16_ATOL, "float16 softmax backward")
    y = F.log_softmax(x, 1)
    _check16(y, ls, "float16 log_softmax")
    # backward reads the saved float16 output: y ~ -8 carries up to half a spacing (2**-8) of error, and
    # exp(y) that much relative error, so g - exp(y) sum(g) is off by up to ~spacing * |exp(y) sum(g)|
    atol = float(np.spacing(np.float16(np.abs(ls).max()))) * np.abs(p * g.sum(1, keepdims=True)).max()
    _check(_grad(y, x, g), g - p * g.sum(1, keepdims=True), F16_RTOL, atol, "float16 log_softmax backward")


@pytest.mark.parametrize("dev", DEVICES)
def test_float16_layer_norm_large_mean(dev):
    # sum(x) ~ 4e6 and sum(x^2) ~ 4e9: far past float16's range, fine in float32
    v = _exact16((2, N), 950, 1050, 4)
    g = _exact16((2, N), -1, 1, 5)
    x = _h(v, dev)
    mu = v.mean(1, keepdims=True)
    rstd = 1 / np.sqrt(((v - mu) ** 2).mean(1, keepdims=True) + 1e-5)
    xhat = (v - mu) * rstd
    y = F.layer_norm(x, (N,))
    _check16(y, xhat, "float16 layer_norm")
    expected = rstd * (g - g.mean(1, keepdims=True) - xhat * (g * xhat).mean(1, keepdims=True))
    _check(_grad(y, x, g), expected, F16_RTOL, F16_ATOL, "float16 layer_norm backward")


def _k(shape, lo=-2, hi=2, seed=0):
    return lambda: _exact16(shape, lo, hi, seed)


# float16 ops PyTorch computes in float32 and rounds once. Reference: the same op in float64 on the exact
# float16 values (the float64 paths are checked against NumPy references in test_ops.py). Products are summed
# over non-negative terms: with cancellation, float32 accumulation error (PyTorch's too) exceeds a float16
# ulp of a small result.
F16_OPS = [  # (name, f, input makers)
    ("conv1d", lambda x, w: F.conv1d(x, w, padding=2), [_k((2, 8, 64), 0), _k((4, 8, 5), 0, seed=1)]),
    ("conv2d", lambda x, w: F.conv2d(x, w, padding=1), [_k((2, 8, 12, 12), 0), _k((4, 8, 3, 3), 0, seed=1)]),
    ("matmul", ag.matmul, [_k((2, 16, 512), 0), _k((512, 8), 0, seed=1)]),
    ("linear", F.linear, [_k((16, 512), 0), _k((8, 512), 0, seed=1)]),
    ("linear_bias", F.linear, [_k((16, 512), 0), _k((8, 512), 0, seed=1), _k((8,), 0, seed=2)]),
    ("avg_pool2d", lambda x: F.avg_pool2d(x, 3, padding=1), [_k((2, 3, 18, 18))]),
    ("adaptive_avg_pool2d", lambda x: F.adaptive_avg_pool2d(x, (2, 3)), [_k((2, 3, 32, 33))]),
    ("sum_dim", lambda x: ag.sum(x, 1), [_k((3, N), 0, 1)]),
    ("cumsum", lambda x: ag.cumsum(x, 1), [_k((3, N), 0, 1)]),
    ("sigmoid", ag.sigmoid, [_k((N,), -10, 10)]),
    ("silu", F.silu, [_k((N,), -10, 10)]),
    ("gelu", F.gelu, [_k((N,), -6, 6)]),
    ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), [_k((N,), -6, 6)]),
    ("erf", ag.erf, [_k((N,), -3, 3)]),
    ("erfc", ag.erfc, [_k((N,), -3, 3)]),
    ("erfinv", ag.erfinv, [_k((N,), -0.999, 0.999)]),
    ("lerp", lambda a, b: ag.lerp(a, b, 0.3), [_k((N,)), _k((N,), seed=1)]),
    ("lerp_tensor", ag.lerp, [_k((N,)), _k((N,), seed=1), _k((N,), 0, 1, seed=2)]),
    ("addcmul", lambda a, b, c: ag.addcmul(a, b, c, value=0.7),
     [_k((N,)), _k((N,), seed=1), _k((N,), seed=2)]),
    ("log_softmax", lambda x: F.log_softmax(x, 1), [_k((4, 1024), -8, 8)]),
    ("round_decimals", lambda x: ag.round(x, decimals=2), [_k((N,), -8, 8)]),
]


@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("name,f,makers", F16_OPS, ids=[o[0] for o in F16_OPS])
def test_float16_computes_in_float32(dev, name, f, makers):
    vals = [m() for m in makers]
    got = f(*[_h(v, dev, grad=False) for v in vals])
    assert got.dtype == ag.float16, f"{name}: {got.dtype}"
    ref = _np(f(*[_t(v, dev, grad=False) for v in vals]))
    # one float16 ulp of the exact result (0.5 from the final rounding, the rest for float32 arithmetic)
    ulp = np.spacing(np.abs(ref).astype(np.float16)).astype(np.float64)
    err = np.abs(_np(got) - ref) / ulp
    assert np.isfinite(err).all() and err.max() <= 1, f"{name}: {err.max():.2f} float16 ulps"


# --- gradient conventions at ties and kinks (PyTorch's) --------------------------------------------------

INF = math.inf
Z = ag.zeros_like
KINKS = [  # (name, f, x, d sum(f(x)) / dx)
    ("abs_at_0", ag.abs, [0.0, -1.0, 2.0], [0.0, -1.0, 1.0]),                     # sgn(0) = 0
    ("relu_at_0", F.relu, [0.0, -1.0, 2.0], [0.0, 0.0, 1.0]),
    ("leaky_relu_at_0", lambda x: F.leaky_relu(x, 0.1), [0.0], [0.1]),
    ("clamp_at_bounds", lambda x: ag.clamp(x, -1.0, 1.0), [-1.0, 1.0, 0.5, 2.0, -2.0], [1, 1, 1, 0, 0]),
    ("clamp_tensor_bounds", lambda x: ag.clamp(x, Z(x) - 1, Z(x) + 1), [-1.0, 1.0, 0.5, 2.0, -2.0],
     [1, 1, 1, 0, 0]),
    ("clamp_min_at_bound", lambda x: ag.clamp_min(x, 0.5), [0.5, 0.0, 1.0], [1, 0, 1]),
    ("clamp_max_at_bound", lambda x: ag.clamp_max(x, 0.5), [0.5, 0.0, 1.0], [1, 1, 0]),
    ("clamp_min_above_max", lambda x: ag.clamp(x, 1.0, -1.0), [-1.0, 1.0, 0.5, 2.0], [0, 0, 0, 0]),
    ("hardtanh_at_bounds", F.hardtanh, [-1.0, 1.0, 0.0], [0, 0, 1]),             # strict, unlike clamp
    ("relu6_at_bounds", F.relu6, [0.0, 6.0, 3.0], [0, 0, 1]),
    ("max_ties", ag.max, [1.0, 3.0, 3.0, 2.0], [0, 0.5, 0.5, 0]),                 # split evenly
    ("min_ties", ag.min, [1.0, 1.0, 3.0, 1.0], [1 / 3, 1 / 3, 0, 1 / 3]),
    ("max_ties_2d", ag.max, [[2.0, 1.0], [2.0, 2.0]], [[1 / 3, 0], [1 / 3, 1 / 3]]),
    ("amax_dim_ties", lambda x: ag.amax(x, 1), [[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, 1.0, 0.0]],
     [[0, 0.5, 0.5, 0], [0.5, 0.5, 0, 0]]),
    ("amin_dim_ties", lambda x: ag.amin(x, 1), [[1.0, 3.0, 1.0, 2.0], [5.0, 5.0, 1.0, 1.0]],
     [[0.5, 0, 0.5, 0], [0, 0, 0.5, 0.5]]),
    ("median_ties", ag.median, [1.0, 2.0, 2.0, 3.0], [0, 0.5, 0.5, 0]),
    ("sqrt_at_0", ag.sqrt, [0.0, 4.0], [INF, 0.25]),
    ("pow_half_at_0", lambda x: x ** 0.5, [0.0], [INF]),
    ("square_at_0", lambda x: x ** 2, [0.0], [0.0]),
    ("norm_at_0", ag.norm, [0.0, 0.0], [0.0, 0.0]),
    ("norm_dim_zero_row", lambda x: ag.norm(x, dim=1), [[0.0, 0.0], [3.0, 4.0]], [[0, 0], [0.6, 0.8]]),
    ("norm_p1_at_0", lambda x: ag.norm(x, 1), [0.0, 0.0, 1.0], [0, 0, 1]),
    ("norm_p3_at_0", lambda x: ag.norm(x, 3), [0.0, 0.0], [0, 0]),
    ("norm_inf_ties", lambda x: ag.norm(x, INF), [1.0, -3.0, 3.0], [0, -0.5, 0.5]),
    ("std_of_constant", ag.std, [1.0, 1.0, 1.0], [0, 0, 0]),
    ("sign", ag.sign, [0.0, 1.0], [0, 0]),
    ("l1_loss_at_0", lambda x: F.l1_loss(x, Z(x)), [0.0], [0.0]),
    ("smooth_l1_at_beta", lambda x: F.smooth_l1_loss(x, Z(x), reduction="sum"), [1.0, -1.0, 0.0], [1, -1, 0]),
    ("prod_one_zero", ag.prod, [0.0, 2.0, 3.0], [6, 0, 0]),
    ("prod_two_zeros", ag.prod, [0.0, 2.0, 0.0], [0, 0, 0]),
    ("logsumexp_minus_inf", lambda x: ag.logsumexp(x, 0), [-INF, 0.0], [0, 1]),
]


@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("name,f,x,expected", KINKS, ids=[k[0] for k in KINKS])
def test_gradient_convention(dev, dtype, name, f, x, expected):
    t = _t(x, dev, getattr(ag, dtype))
    out = f(t)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = _grad(out, t)
    np.testing.assert_allclose(g, np.array(expected, dtype=np.float64), rtol=1e-6, atol=0, err_msg=name)


@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("fn", ["max", "min"])
def test_reduction_along_dim_sends_gradient_to_returned_index(dev, dtype, fn):
    x = _t([[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, 1.0, 1.0]], dev, getattr(ag, dtype))
    values, indices = getattr(ag, fn)(x, 1)
    first = [1, 0] if fn == "max" else [0, 2]        # ties: the first occurrence, as documented
    assert _np(indices).tolist() == first
    expected = np.zeros((2, 4))
    expected[[0, 1], first] = 1
    np.testing.assert_array_equal(_grad(values, x), expected)


@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("fn,ga,gb", [
    ("maximum", [0.5, 1.0, 0.5], [0.5, 0.0, 0.5]),
    ("minimum", [0.5, 0.0, 0.5], [0.5, 1.0, 0.5]),
    ("max", [0.5, 1.0, 0.5], [0.5, 0.0, 0.5]),            # max(a, b) is maximum
    ("atan2", [0.0, 0.5, 0.0], [0.0, 0.0, -1.0]),          # atan2(0, 0): gradient 0, not nan
])
def test_binary_ties(dev, dtype, fn, ga, gb):
    a = _t([1.0, 2.0, 3.0] if fn != "atan2" else [0.0, 0.0, 1.0], dev, getattr(ag, dtype))
    b = _t([1.0, 1.0, 3.0] if fn != "atan2" else [0.0, 2.0, 0.0], dev, getattr(ag, dtype))
    with np.errstate(divide="ignore", invalid="ignore"):
        da, db = ag.autograd.grad(getattr(ag, fn)(a, b).sum(), [a, b])
    np.testing.assert_array_equal(_np(da), ga)
    np.testing.assert_array_equal(_np(db), gb)


# --- gelu in float32 on cpu: float64 arithmetic in chunks (ops/gelu_np.py), no SciPy needed ---------------

# (forward ulps, backward eps, forward error in subnormal units where the result is below float32's normal
# range. cpu: float64 arithmetic rounded once, ops/gelu_np.py. The kernels: float arithmetic with erfc's
# argument and the density's exponent made exact to first order, within a few ulps of CUDA's erfcf and expf;
# below x ~ -13 erfc(-x / sqrt 2) itself is subnormal, its last unit scaled by |x| / 2.)
_GELU_ULPS = {"cpu": (3, 4, 1)}


@pytest.mark.parametrize("dev", DEVICES)
def test_gelu_float32_tails_and_chunks(dev):
    """x Phi(x) keeps its relative accuracy down the negative tail (where 1 + erf(x / sqrt 2) cancels to 0,
    and where erfc's sensitivity, 2 z^2, turns the rounding of z = -x / sqrt 2 into ~170 ulps at x = -13),
    across chunk boundaries and for a non-contiguous input; the gradient Phi + x phi is accurate to the size
    of its two terms (it crosses 0 near x = -0.75). Reference: math.erfc in float64."""
    fwd_ulps, bwd_eps, sub_units = _GELU_ULPS.get(dev, (8, 16, 8))
    rng = np.random.default_rng(0)
    x = np.concatenate([np.linspace(-13.0, 9.0, 40001), rng.standard_normal(9999) * 4]).astype(np.float32)
    x = np.stack([x, -x], 1)[:, 0]  # (a strided view)
    xd = x.astype(np.float64)
    phi2 = np.vectorize(math.erfc)(-xd / math.sqrt(2))  # 2 Phi(x)
    dens = np.exp(-xd * xd / 2) / math.sqrt(2 * math.pi)
    xt = ag.tensor(x, requires_grad=True, device=dev)
    y = F.gelu(xt)
    ref = xd * phi2 / 2
    normal = np.abs(ref) >= np.finfo(np.float32).tiny
    ulps = np.abs(_np(y) - ref)[normal] / np.spacing(np.abs(ref[normal]).astype(np.float32))
    assert ulps.max() <= fwd_ulps, f"gelu: {ulps.max():.2f} float32 ulps at x = {x[normal][ulps.argmax()]}"
    assert np.abs(_np(y)[~normal] - ref[~normal]).max() <= sub_units * np.finfo(np.float32).smallest_subnormal
    g = rng.standard_normal(x.shape).astype(np.float32)
    got = _grad(y, xt, g)
    scale = np.abs(g.astype(np.float64)) * (phi2 / 2 + np.abs(xd) * dens)
    err = np.abs(got - g * (phi2 / 2 + xd * dens))
    tiny = np.finfo(np.float32).smallest_subnormal  # (results below float32's normal range round absolutely)
    bad = err > bwd_eps * EPS32 * scale + tiny
    assert not bad.any(), f"gelu backward at x = {x[bad][:3]}: {(err / (EPS32 * scale))[bad].max():.2f} eps"


@pytest.mark.parametrize("dev", DEVICES)
def test_gelu_float64_backward_negative_tail(dev):
    """gelu'(x) = Phi(x) + x phi(x) for x << 0 in float64: Phi from erfc (1 + erf(x / sqrt 2) rounds to 0 at
    x = -10, a 1% error of the gradient there). Reference: math.erfc and math.exp in float64."""
    x = np.array([-10.0, -8.0, -6.0, -4.0, -2.0])
    xt = _t(x, dev)
    expected = [math.erfc(-v / math.sqrt(2)) / 2 + v * math.exp(-v * v / 2) / math.sqrt(2 * math.pi) for v in x]
    _check(_grad(F.gelu(xt), xt), np.array(expected), 1e-12, 0, "gelu backward (float64 tail)")


@pytest.mark.parametrize("dtype", [ag.float32, ag.float64])
def test_layer_norm_cpu_row_blocks(dtype):
    """layer_norm on cpu runs over blocks of rows (ops/nn_ops.py): many blocks and a ragged last one, forward
    and all three gradients, against float64 closed forms."""
    rng = np.random.default_rng(0)
    m, d = 301, 1000  # (131 rows per block: 3 blocks, the last one partial)
    xv, wv, bv, gv = (rng.standard_normal(s) for s in ((m, d), d, d, (m, d)))
    x, w, b = (_t(v, "cpu", dtype) for v in (xv, wv, bv))
    y = F.layer_norm(x, (d,), w, b)
    mu = xv.mean(1, keepdims=True)
    rstd = 1 / np.sqrt(((xv - mu) ** 2).mean(1, keepdims=True) + 1e-5)
    xh = (xv - mu) * rstd
    gxh = gv * wv
    gx_ref = rstd * (gxh - gxh.mean(1, keepdims=True) - xh * (gxh * xh).mean(1, keepdims=True))
    expect = {"y": xh * wv + bv, "x": gx_ref, "w": (gv * xh).sum(0), "b": gv.sum(0)}
    gx, gw, gb = ag.autograd.grad(y, [x, w, b], [ag.tensor(gv, dtype=dtype)])
    tol = 1e-5 if dtype == ag.float32 else 1e-12
    for name, got in (("y", y), ("x", gx), ("w", gw), ("b", gb)):
        ref = expect[name]
        err = np.abs(_np(got) - ref).max() / np.abs(ref).max()
        assert err <= tol, f"{name}: {err:.2e}"


# float16 activation backward: PyTorch reads the saved float16 value (the output for sigmoid/tanh, the input
# for silu/gelu), computes in float32 and rounds once. Reference: the same formula in float64 on those
# exact float16 values; bound: one float16 ulp (half from the final rounding, the rest float32 arithmetic).
def _phi2(x):  # 2 Phi(x)
    return np.vectorize(math.erfc)(-x / math.sqrt(2))


F16_BACKWARD = [  # (name, f, input range, d f / dx from x and the float16 output y)
    ("sigmoid", ag.sigmoid, (-10, 10), lambda x, y: y * (1 - y)),
    ("tanh", ag.tanh, (-4, 4), lambda x, y: 1 - y * y),
    ("silu", F.silu, (-10, 10), lambda x, y: (lambda s: s * (1 + x * (1 - s)))(1 / (1 + np.exp(-x)))),
    ("gelu", F.gelu, (-6, 6), lambda x, y: _phi2(x) / 2 + x * np.exp(-x * x / 2) / math.sqrt(2 * math.pi)),
]


@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("name,f,span,deriv", F16_BACKWARD, ids=[o[0] for o in F16_BACKWARD])
def test_float16_activation_backward_computes_in_float32(dev, name, f, span, deriv):
    v, g = _exact16((N,), *span, 0), _exact16((N,), -1, 1, 1)
    x = _h(v, dev)
    y = f(x)
    got = _grad(y, x, g)
    expected = g * deriv(v, _np(y))
    ulp = np.spacing(np.abs(expected).astype(np.float16)).astype(np.float64)
    err = np.abs(got - expected) / ulp
    assert err.max() <= 1, f"{name} backward: {err.max():.2f} float16 ulps"
