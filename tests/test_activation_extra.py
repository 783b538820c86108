"""nn.functional activations of ops/activation_extra.py and ops/activation_channel.py beyond what the op
registry checks: PyTorch's node names, errors and integer dtypes, values exactly at the kinks, float16,
numerics far out and near 0, in-place variants, rrelu's random slopes, and one fused kernel per direction on
CUDA devices. Expected values are NumPy float64 formulas or closed forms (the PyTorch behaviour they encode
was read off torch 2.13; torch is not needed here)."""
import warnings
from fractions import Fraction

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu.ops.nn_ops import philox_first_word

from conftest import DEVICES, assert_emulated_matches_cpu, make_tensor as _t, host as _np, raises_exactly as _raises

F = ag.nn.functional
SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _grad(fn, x, dev, **kw):
    """(y, dy/dx summed, d2y/dx2 summed) at the points x (float64)."""
    xt = _t(x, dev, requires_grad=True)
    y = fn(xt, **kw)
    (g,) = ag.autograd.grad(y.sum(), xt, create_graph=True)
    (gg,) = ag.autograd.grad(g.sum(), xt, materialize_grads=True)  # (threshold: None, as in PyTorch)
    return _np(y), _np(g), _np(gg)


# ---------------------------------------------------------------- node names (PyTorch's)
NAMES = [  # fn, first-order node, the node of its gradient
    (F.celu, "CeluBackward0", "EluBackwardBackward0"), (F.selu, "EluBackward0", "EluBackwardBackward0"),
    (F.hardshrink, "HardshrinkBackward0", "HardshrinkBackwardBackward0"),
    (F.softshrink, "SoftshrinkBackward0", "SoftshrinkBackwardBackward0"),
    (lambda x: F.threshold(x, 0.1, 2.0), "ThresholdBackward0", "ThresholdBackwardBackward0"),
    (F.hardsigmoid, "HardsigmoidBackward0", "HardsigmoidBackwardBackward0"),
    (F.hardswish, "HardswishBackward0", "HardswishBackwardBackward0"),
    (F.logsigmoid, "LogSigmoidBackward0", "LogSigmoidBackwardBackward0"),
    (F.glu, "GluBackward0", "GluBackwardBackward0"),
    (F.rrelu, "RreluWithNoiseBackward0", "RreluWithNoiseBackwardBackward0"),
    (lambda x: F.rrelu(x, training=True), "RreluWithNoiseBackward0", "RreluWithNoiseBackwardBackward0"),
    (lambda x: F.softmin(x, 1), "SoftmaxBackward0", "NegBackward0"),
    # PyTorch composes mish_backward (MulBackward0 below it), softsign (DivBackward0) and tanhshrink
    # (SubBackward0); here they are fused ops (a kernel per direction; tanhshrink accurate near 0)
    (F.mish, "MishBackward0", "MishBackwardBackward0"),
    (F.softsign, "SoftsignBackward0", "SoftsignBackwardBackward0"),
    (F.tanhshrink, "TanhshrinkBackward0", "MulBackward0"),
]


@pytest.mark.parametrize("dev", DEVICES)
def test_grad_fn_names(dev):
    x = _t(np.random.default_rng(0).uniform(-2, 2, (3, 4)), dev, requires_grad=True)
    for fn, name, grad_name in NAMES:
        y = fn(x)
        assert y.grad_fn.name() == name
        (g,) = ag.autograd.grad(y.sum(), x, create_graph=True)
        assert g.grad_fn.name() == grad_name, name
    w = _t([0.25, 0.1, 0.3, 0.2], dev, requires_grad=True)
    y = F.prelu(x, w)
    assert y.grad_fn.name() == "PreluKernelBackward0"
    assert y.grad_fn.next_functions[1][0].name() == "ViewBackward0"  # the weight, viewed as (1, C)
    gx, gw = ag.autograd.grad(y.sum(), (x, w), create_graph=True)
    assert gx.grad_fn.name() == "PreluKernelBackwardBackward0" and gw.grad_fn.name() == "ViewBackward0"
    assert F.softmin(x, 1).grad_fn.next_functions[0][0].name() == "NegBackward0"


# ---------------------------------------------------------------- errors and integer inputs
@pytest.mark.parametrize("dev", DEVICES)
def test_integer_inputs(dev):
    i = ag.tensor([-3, -1, 0, 1, 3], device=dev)
    suffix = "cpu" if dev == "cpu" else "cuda"
    for fn, kernel in [(F.celu, f"elu_{suffix}"), (F.selu, f"elu_{suffix}"),
                       (F.hardshrink, f"hardshrink_{suffix}"), (F.softshrink, "softshrink_check"),
                       (F.hardsigmoid, f"hardsigmoid_{suffix}"),
                       (F.hardswish, f"hardswish_{suffix}"), (F.mish, f"mish_{suffix}"),
                       (F.logsigmoid, "log_sigmoid_cpu" if dev == "cpu" else "log_sigmoid_forward_cuda"),
                       (lambda v: F.glu(v[:4]), f"glu_{suffix}"), (F.rrelu, f"leaky_relu_{suffix}"),
                       (lambda v: F.rrelu(v, training=True), f"rrelu_with_noise_out_{suffix}"),
                       (lambda v: F.prelu(v, ag.tensor([1], device=dev)), f"prelu_{suffix}")]:
        with _raises(NotImplementedError, f"\"{kernel}\" not implemented for 'Long'"):
            fn(i)
    # threshold keeps integers: both scalars cast to the dtype (truncated), so -0.5 compares as 0
    y = F.threshold(i, -0.5, 7.9)
    assert y.dtype == ag.int64 and _np(y).tolist() == [7, 7, 7, 1, 3]
    # softsign and tanhshrink compute integers in the default float dtype (PyTorch's composite ops do)
    for fn, ref in [(F.softsign, lambda v: v / (1 + np.abs(v))), (F.tanhshrink, lambda v: v - np.tanh(v))]:
        y = fn(i)
        assert y.dtype == ag.float32
        np.testing.assert_allclose(_np(y), ref(np.array([-3.0, -1, 0, 1, 3])), rtol=1e-6)
    assert F.softmin(i, 0, dtype=ag.float32).dtype == ag.float32


@pytest.mark.parametrize("dev", DEVICES)
def test_argument_errors(dev):
    x = _t(np.ones((3, 5)), dev)
    with _raises(RuntimeError, "ZeroDivisionError: alpha cannot be 0 for CELU"):
        F.celu(x, 0.0)
    with _raises(RuntimeError, "ZeroDivisionError: alpha cannot be 0 for CELU"):
        F.celu_(x, 0.0)
    for dt, name, top in [(ag.float64, "Double", "1.79769e+308"), (ag.float32, "Float", "3.40282e+38"),
                          (ag.float16, "Half", "65504")]:
        msg = f"lambda must be in range [0, {top}] for input dtype {name}, but found -0.5"
        with _raises(RuntimeError, msg):
            F.softshrink(x.to(dt), -0.5)
    np.testing.assert_array_equal(_np(F.hardshrink(x, -0.5)), 1.0)  # hardshrink takes any lambd
    with _raises(RuntimeError, "glu does not support scalars because halving size must be even"):
        F.glu(_t(1.0, dev))
    with _raises(RuntimeError, "Halving dimension must be even, but dimension 1 is size 5"):
        F.glu(x)
    with _raises(RuntimeError, "Halving dimension must be even, but dimension 0 is size 3"):
        F.glu(x, 0)
    with _raises(IndexError, "Dimension out of range (expected to be in range of [-2, 1], but got 2)"):
        F.glu(x, 2)
    with _raises(RuntimeError, "Mismatch of parameter numbers and input channel size. Found parameter "
                               "numbers = 3 and channel size = 5."):
        F.prelu(x, _t([0.1, 0.2, 0.3], dev))
    with _raises(RuntimeError, "Mismatch of parameter numbers and input channel size. Found parameter "
                               "numbers = 2 and channel size = 1."):
        F.prelu(_t([1.0, -1.0], dev), _t([0.1, 0.2], dev))
    with _raises(RuntimeError, "Not allow zero-dim input tensor."):
        F.prelu(_t(-1.0, dev), _t([0.1, 0.2], dev))
    with _raises(RuntimeError, "prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = 2"):
        F.prelu(x, _t(np.ones((5, 1)), dev))
    with _raises(RuntimeError, "prelu: Type promoting not supported. Got Double and Float"):
        F.prelu(x, _t([0.25], dev, dtype=ag.float32))
    with _raises(RuntimeError, "Lower bound should be less than or equal to the upper bound"):
        F.rrelu(x, 0.5, 0.2)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmin has been deprecated"):
        y = F.softmin(x)
    np.testing.assert_allclose(_np(y), 0.2)  # dim 1 for a 2-d input, as softmax picks


# ---------------------------------------------------------------- values exactly at the kinks (PyTorch's)
@pytest.mark.parametrize("dev", DEVICES)
def test_values_at_kinks(dev):
    y, g, gg = _grad(F.hardshrink, [-0.5, 0.5, 0.0, -0.7, 0.7], dev)
    assert y.tolist() == [0, 0, 0, -0.7, 0.7] and g.tolist() == [0, 0, 0, 1, 1] and not gg.any()
    y, g, _ = _grad(F.softshrink, [-0.5, 0.5, 0.0, 0.7], dev)
    np.testing.assert_allclose(y, [0, 0, 0, 0.2], atol=1e-15)
    assert g.tolist() == [0, 0, 0, 1]
    y, g, _ = _grad(F.softshrink, [0.0, 0.5], dev, lambd=0.0)
    assert y.tolist() == [0, 0.5] and g.tolist() == [0, 1]  # the closed interval: 0 at x = 0
    y, g, _ = _grad(F.threshold, [0.5, 0.4, 0.7], dev, threshold=0.5, value=2.0)
    assert y.tolist() == [2, 2, 0.7] and g.tolist() == [0, 0, 1]
    y, g, gg = _grad(F.hardsigmoid, [-3.0, 3.0, 0.0, -4.0, 4.0], dev)
    np.testing.assert_allclose(y, [0, 1, 0.5, 0, 1])
    np.testing.assert_allclose(g, [0, 0, 1 / 6, 0, 0], rtol=1e-15)
    assert not gg.any()
    y, g, gg = _grad(F.hardswish, [-3.0, 3.0, 0.0, -4.0, 4.0, 1.0], dev)
    np.testing.assert_allclose(y, [0, 3, 0, 0, 4, 2 / 3], rtol=1e-15)
    np.testing.assert_allclose(g, [0, 1, 0.5, 0, 1, 5 / 6], rtol=1e-15)
    np.testing.assert_allclose(gg, [0, 0, 1 / 3, 0, 0, 1 / 3], rtol=1e-15)
    y, g, gg = _grad(F.selu, [-1.0, 0.0, 1.0], dev)
    np.testing.assert_allclose(g, [SELU_SCALE * SELU_ALPHA * np.exp(-1), SELU_SCALE * SELU_ALPHA, SELU_SCALE],
                               rtol=1e-14)
    np.testing.assert_allclose(gg, [SELU_SCALE * SELU_ALPHA * np.exp(-1), 0, 0], rtol=1e-14)  # 0 at the kink
    _, g, gg = _grad(F.celu, [-1.0, 0.0], dev, alpha=2.0)
    np.testing.assert_allclose(g, [np.exp(-0.5), 1], rtol=1e-14)
    np.testing.assert_allclose(gg, [np.exp(-0.5) / 2, 0], rtol=1e-14)
    _, g, _ = _grad(F.rrelu, [-1.0, 0.0, 1.0], dev)  # eval: leaky_relu's rule (x > 0), slope at 0
    np.testing.assert_allclose(g, [11 / 48, 11 / 48, 1], rtol=1e-15)
    x = _t([-1.0, 0.0, 1.0], dev, requires_grad=True)
    F.prelu(x, _t([0.25], dev)).sum().backward()
    assert _np(x.grad).tolist() == [0.25, 0.25, 1]


# ---------------------------------------------------------------- numerics
@pytest.mark.parametrize("dev", DEVICES)
def test_tails_float32(dev):
    x = np.array([-1e4, -100.0, -20.0, -1e-3, 0.0, 1e-3, 20.0, 100.0, 1e4])
    x64, xt = x.astype(np.float32).astype(np.float64), _t(x, dev, requires_grad=True, dtype=ag.float32)
    y = F.logsigmoid(xt)  # -softplus(-x): -x exactly far left, e^-x (subnormal, not 0) far right
    np.testing.assert_allclose(_np(y), -np.logaddexp(0, -x64), rtol=2e-6, atol=1e-44)
    y.sum().backward()
    np.testing.assert_allclose(_np(xt.grad), np.exp(-np.logaddexp(0, x64)), rtol=2e-6, atol=1e-44)
    xt = _t(x, dev, requires_grad=True, dtype=ag.float32)
    y = F.mish(xt)
    # (mish(-100) = -3.7e-42 is subnormal in float32: 100 x its spacing 1.4e-45 is all it can hold)
    np.testing.assert_allclose(_np(y), x64 * np.tanh(np.logaddexp(0, x64)), rtol=2e-6, atol=2e-43)
    y.sum().backward()
    assert np.isfinite(_np(xt.grad)).all() and _np(xt.grad)[-1] == 1
    for fn in (F.softsign, F.selu, F.celu, F.hardswish, F.tanhshrink):
        xt = _t(x, dev, requires_grad=True, dtype=ag.float32)
        fn(xt).sum().backward()
        assert np.isfinite(_np(xt.grad)).all(), fn


def _tanhshrink_exact(v):
    """x - tanh(x) from the series in exact rational arithmetic (ten terms: 4e-15 relative at |x| = 0.3)."""
    coeffs = [Fraction(1, 3), Fraction(-2, 15), Fraction(17, 315), Fraction(-62, 2835),
              Fraction(1382, 155925), Fraction(-21844, 6081075), Fraction(929569, 638512875),
              Fraction(-6404582, 10854718875),
              Fraction(443861162, 1856156927625), Fraction(-18888466084, 194896477400625)]
    x = Fraction(float(v))
    return float(sum(c * x ** (2 * k + 3) for k, c in enumerate(coeffs)))


@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("dtype", [ag.float32, ag.float64])
def test_tanhshrink_near_zero(dev, dtype):
    """x - tanh(x) cancels 3/x^2 of its digits near 0 (PyTorch's float32 result is 5% off at 1e-3): here the
    result keeps nearly full relative accuracy, and so does its gradient tanh(x)^2."""
    x = np.array([-0.3, -0.099, -1e-2, -1e-3, 1e-5, 3e-4, 0.05, 0.101, 0.2])
    xt = _t(x, dev, requires_grad=True, dtype=dtype)
    xs = _np(xt).astype(np.float64)  # the values the op sees (rounded to float32)
    y = F.tanhshrink(xt)
    rtol = 1e-6 if dtype == ag.float32 else 5e-14
    np.testing.assert_allclose(_np(y), [_tanhshrink_exact(v) for v in xs], rtol=rtol, atol=0)
    y.sum().backward()
    np.testing.assert_allclose(_np(xt.grad), np.tanh(xs) ** 2, rtol=1e-6 if dtype == ag.float32 else 1e-14)


SMOOTH = {  # name: (fn, float64 reference)
    "celu": (lambda v: F.celu(v, 1.5), lambda x: np.where(x > 0, x, 1.5 * np.expm1(x / 1.5))),
    "selu": (F.selu, lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x))),
    "hardsigmoid": (F.hardsigmoid, lambda x: np.clip(x + 3, 0, 6) / 6),
    "hardswish": (F.hardswish, lambda x: x * np.clip(x + 3, 0, 6) / 6),
    "mish": (F.mish, lambda x: x * np.tanh(np.logaddexp(0, x))),
    "logsigmoid": (F.logsigmoid, lambda x: -np.logaddexp(0, -x)),
    "softsign": (F.softsign, lambda x: x / (1 + np.abs(x))),
    "tanhshrink": (F.tanhshrink, lambda x: x - np.tanh(x)),
    "softshrink": (F.softshrink, lambda x: np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0))),
    "glu": (F.glu, lambda x: x[..., :3] / (1 + np.exp(-x[..., 3:]))),
}


@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("name", sorted(SMOOTH))
def test_float16(dev, name):
    """float16 computes in float32 and rounds once (PyTorch's opmath): within one half ulp-ish of the float64
    value of the rounded input; the gradient is float16 too."""
    fn, ref = SMOOTH[name]
    x = np.random.default_rng(3).uniform(-4, 4, (5, 6)).astype(np.float16)
    xt = _t(x, dev, requires_grad=True, dtype=ag.float16)
    y = fn(xt)
    assert y.dtype == ag.float16
    want = ref(x.astype(np.float64))
    np.testing.assert_allclose(_np(y).astype(np.float64), want, rtol=2 ** -10, atol=2 ** -24)
    y.backward(ag.ones_like(y))
    assert xt.grad.dtype == ag.float16 and np.isfinite(_np(xt.grad).astype(np.float64)).all()


# ---------------------------------------------------------------- in-place variants
@pytest.mark.parametrize("dev", DEVICES)
def test_inplace_variants(dev):
    x = np.array([-2.0, -0.2, 0.3, 4.0])
    cases = [(lambda v: F.celu_(v, 2.0), lambda v: F.celu(v, 2.0)),
             (lambda v: F.celu(v, 2.0, inplace=True), None),
             (F.selu_, F.selu), (lambda v: ag.selu_(v), None), (lambda v: F.selu(v, inplace=True), None),
             (lambda v: F.threshold_(v, 0.0, -1.0), lambda v: F.threshold(v, 0.0, -1.0)),
             (lambda v: ag.threshold_(v, 0.0, -1.0), None), (lambda v: F.threshold(v, 0.0, -1.0, True), None),
             (lambda v: F.hardsigmoid(v, inplace=True), F.hardsigmoid),
             (lambda v: F.hardswish(v, True), F.hardswish), (lambda v: F.mish(v, inplace=True), F.mish),
             (lambda v: F.rrelu_(v, 0.1, 0.3), lambda v: F.rrelu(v, 0.1, 0.3)),
             (lambda v: F.rrelu(v, inplace=True), F.rrelu), (lambda v: ag.celu_(v), F.celu)]
    ref = None
    for inplace, outplace in cases:
        ref = outplace or ref
        base = _t(x, dev, requires_grad=True)
        h = base * 1
        out = inplace(h)
        assert out is h and h._version_value == 1
        expected = ref(_t(x, dev, requires_grad=True))
        np.testing.assert_allclose(_np(h), _np(expected), rtol=1e-15)
        assert h.grad_fn.name() == expected.grad_fn.name()  # (PyTorch: ...Backward1 for some in-place forms)
        h.sum().backward()
        xe = _t(x, dev, requires_grad=True)
        ref(xe).sum().backward()
        np.testing.assert_allclose(_np(base.grad), _np(xe.grad), rtol=1e-15)
    leaf = _t(x, dev, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        F.celu_(leaf)


# ---------------------------------------------------------------- rrelu's random slopes
@pytest.mark.parametrize("dev", DEVICES)
def test_rrelu_training(dev):
    x = np.random.default_rng(2).uniform(-2, 2, (30, 40))
    x[0, :2] = 0.0  # x <= 0 draws a slope (PyTorch): the gradient at 0 is that slope
    ag.manual_seed(5)
    xt = _t(x, dev, requires_grad=True)
    y = F.rrelu(xt, 0.1, 0.3, training=True)
    slope = _np(y) / np.where(x == 0, 1, x)
    u = philox_first_word(5, 0, x.size).reshape(x.shape) / 2.0 ** 32
    want = np.where(x <= 0, 0.1 + 0.2 * u, 1.0)
    np.testing.assert_allclose(np.where(x == 0, want, slope), want, rtol=1e-14)
    y.backward(ag.ones_like(y))
    np.testing.assert_allclose(_np(xt.grad), want, rtol=1e-14)
    y2 = F.rrelu(_t(x, dev), 0.1, 0.3, training=True)  # the counter advanced: new slopes
    assert not np.array_equal(_np(y2), _np(y))
    ag.manual_seed(5)
    np.testing.assert_array_equal(_np(F.rrelu(_t(x, dev), 0.1, 0.3, training=True)), _np(y))
    np.testing.assert_array_equal(_np(F.rrelu(_t(x, dev), 0.1, 0.3)), np.where(x > 0, x, 0.2 * x))


def test_rrelu_same_slopes_on_every_device():
    x = np.random.default_rng(4).uniform(-1, 1, (7, 300))
    for dt in (ag.float16, ag.float32, ag.float64):
        outs = []
        for dev in DEVICES:
            ag.manual_seed(42)
            F.dropout(_t(x, dev, dtype=dt), 0.5)  # shares the counter: advance it the same way on each device
            outs.append(_np(F.rrelu(_t(x, dev, dtype=dt), training=True)))
        for o in outs[1:]:
            np.testing.assert_array_equal(o, outs[0])  # bit-identical


# ---------------------------------------------------------------- CUDA devices (launch counts: test_nn_functional.py)
def test_cuda_emulated_matches_cpu():
    x = np.random.default_rng(9).uniform(-5, 5, (4, 6))
    for name, (fn, _) in sorted(SMOOTH.items()):
        assert_emulated_matches_cpu(fn, x, rtol=2e-6, atol=2e-7, err_msg=name)


def test_public_names():
    x = ag.tensor([-1.0, 0.25, 0.75])
    for name in ("celu", "celu_", "selu", "selu_", "hardshrink", "threshold", "threshold_", "prelu", "rrelu",
                 "rrelu_"):
        assert callable(getattr(ag, name)), name
    np.testing.assert_array_equal(_np(x.hardshrink()), [-1.0, 0.0, 0.75])
    np.testing.assert_array_equal(_np(x.hardshrink(0.1)), [-1.0, 0.25, 0.75])
    np.testing.assert_array_equal(_np(x.prelu(ag.tensor([0.5]))), [-0.5, 0.25, 0.75])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.softmin(x, 0)
        F.rrelu(x, training=True)


@pytest.mark.parametrize("shape", [(), (3,)])
def test_gelu_without_scipy(shape, monkeypatch):
    """gelu's erf without SciPy (math.erf per element through np.frompyfunc), a 0-d input included (frompyfunc
    gives a Python float there): values and gradient against the closed form in float64."""
    import math

    from autograd_gpu.ops import activation
    monkeypatch.setattr(activation, "_ERF", [np.frompyfunc(math.erf, 1, 1), np.frompyfunc(math.erfc, 1, 1)])
    xs = np.array([0.7, -1.3, 2.1])[:shape[0] if shape else 1].reshape(shape)
    x = _t(xs, requires_grad=True)
    y = ag.nn.functional.gelu(x)
    y.sum().backward()
    flat = xs.reshape(-1)
    expected = [v * 0.5 * (1 + math.erf(v / math.sqrt(2))) for v in flat]
    dexpected = [0.5 * (1 + math.erf(v / math.sqrt(2))) + v * math.exp(-v * v / 2) / math.sqrt(2 * math.pi)
                 for v in flat]
    np.testing.assert_allclose(_np(y).reshape(-1), expected, rtol=1e-14)
    np.testing.assert_allclose(_np(x.grad).reshape(-1), dexpected, rtol=1e-14)
