"""Activation modules of nn/modules/activation_extra.py: forward against NumPy float64, PyTorch's reprs and
constructor checks, PReLU's parameter and its gradient, RReLU's train / eval modes."""
import math

import numpy as np
import pytest

import autograd_gpu as ag
import autograd_gpu.nn as nn

from conftest import DEVICES

SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _softmin(x, dim):
    e = np.exp(-x - (-x).max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


MODULES = [  # constructor, NumPy float64 reference (input of shape (2, 4, 3))
    (lambda: nn.Threshold(0.1, 20.0), lambda x: np.where(x > 0.1, x, 20.0)),
    (lambda: nn.Hardtanh(-0.5, 0.75), lambda x: np.clip(x, -0.5, 0.75)),
    (lambda: nn.ReLU6(), lambda x: np.clip(x, 0, 6)),
    (lambda: nn.RReLU(0.1, 0.3).eval(), lambda x: np.where(x > 0, x, 0.2 * x)),
    (lambda: nn.Hardsigmoid(), lambda x: np.clip(x / 6 + 0.5, 0, 1)),
    (lambda: nn.Hardswish(), lambda x: x * np.clip(x + 3, 0, 6) / 6),
    (lambda: nn.CELU(0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x / 0.5))),
    (lambda: nn.SELU(), lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x))),
    (lambda: nn.GLU(1), lambda x: x[:, :2] * _sig(x[:, 2:])),
    (lambda: nn.Hardshrink(1.0), lambda x: np.where(np.abs(x) > 1.0, x, 0)),
    (lambda: nn.Softshrink(), lambda x: np.sign(x) * np.maximum(np.abs(x) - 0.5, 0)),
    (lambda: nn.LogSigmoid(), lambda x: np.log(_sig(x))),
    (lambda: nn.Softsign(), lambda x: x / (1 + np.abs(x))),
    (lambda: nn.Tanhshrink(), lambda x: x - np.tanh(x)),
    (lambda: nn.Softmin(1), lambda x: _softmin(x, 1)),
    (lambda: nn.PReLU(), lambda x: np.where(x > 0, x, 0.25 * x)),
    (lambda: nn.PReLU(4, init=0.125), lambda x: np.where(x > 0, x, 0.125 * x)),  # (float32 weight: exact)
    (lambda: nn.Mish(), lambda x: x * np.tanh(np.log1p(np.exp(x)))),
]


@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("make,ref", MODULES,
                         ids=[f"{type(m()).__name__}{i}" for i, (m, _) in enumerate(MODULES)])
def test_forward(make, ref, dev):
    x = np.random.default_rng(0).uniform(-4, 4, (2, 4, 3))
    m = make().to(dev).to(ag.float64)
    y = m(ag.tensor(x, device=dev))
    np.testing.assert_allclose(y.detach()._host(), ref(x), rtol=1e-12, atol=1e-14)


REPRS = [  # PyTorch 2.13's strings
    (lambda: nn.Threshold(0.1, 20), "Threshold(threshold=0.1, value=20)"),
    (lambda: nn.Threshold(0.1, 20.0, True), "Threshold(threshold=0.1, value=20.0, inplace=True)"),
    (lambda: nn.Hardtanh(), "Hardtanh(min_val=-1.0, max_val=1.0)"),
    (lambda: nn.Hardtanh(-2, 3, True), "Hardtanh(min_val=-2, max_val=3, inplace=True)"),
    (lambda: nn.ReLU6(), "ReLU6()"), (lambda: nn.ReLU6(True), "ReLU6(inplace=True)"),
    (lambda: nn.RReLU(), "RReLU(lower=0.125, upper=0.3333333333333333)"),
    (lambda: nn.RReLU(0.1, 0.3, True), "RReLU(lower=0.1, upper=0.3, inplace=True)"),
    (lambda: nn.Hardsigmoid(True), "Hardsigmoid()"), (lambda: nn.Hardswish(True), "Hardswish()"),
    (lambda: nn.CELU(), "CELU(alpha=1.0)"), (lambda: nn.CELU(2.0, True), "CELU(alpha=2.0, inplace=True)"),
    (lambda: nn.SELU(), "SELU()"), (lambda: nn.SELU(True), "SELU(inplace=True)"),
    (lambda: nn.GLU(), "GLU(dim=-1)"), (lambda: nn.Hardshrink(), "Hardshrink(0.5)"),
    (lambda: nn.Softshrink(0.3), "Softshrink(0.3)"), (lambda: nn.LogSigmoid(), "LogSigmoid()"),
    (lambda: nn.Softsign(), "Softsign()"), (lambda: nn.Tanhshrink(), "Tanhshrink()"),
    (lambda: nn.Softmin(), "Softmin(dim=None)"), (lambda: nn.Softmin(1), "Softmin(dim=1)"),
    (lambda: nn.PReLU(), "PReLU(num_parameters=1)"), (lambda: nn.PReLU(3), "PReLU(num_parameters=3)"),
    (lambda: nn.Mish(), "Mish()"), (lambda: nn.Mish(True), "Mish(inplace=True)"),
    (lambda: nn.Sequential(nn.Linear(2, 2), nn.PReLU(2)),
     "Sequential(\n  (0): Linear(in_features=2, out_features=2, bias=True)\n"
     "  (1): PReLU(num_parameters=2)\n)"),
]


@pytest.mark.parametrize("make,expected", REPRS,
                         ids=[r.split("(")[0] + str(i) for i, (_, r) in enumerate(REPRS)])
def test_repr_matches_pytorch(make, expected):
    assert repr(make()) == expected


@pytest.mark.parametrize("dev", DEVICES)
def test_prelu_parameter(dev):
    m = nn.PReLU(3, init=0.2, device=dev, dtype=ag.float64)
    assert [n for n, _ in m.named_parameters()] == ["weight"] and list(m.state_dict()) == ["weight"]
    assert m.weight.shape == (3,) and m.weight.requires_grad and isinstance(m.weight, nn.Parameter)
    np.testing.assert_array_equal(m.weight.detach()._host(), 0.2)
    x = np.random.default_rng(1).uniform(-2, 2, (2, 3, 4, 5))
    v = np.random.default_rng(2).standard_normal((2, 3, 4, 5))
    xt = ag.tensor(x, device=dev, requires_grad=True)
    m(xt).backward(ag.tensor(v, device=dev))
    # dL/dw_c = sum over the batch and spatial positions of channel c of v x where x <= 0
    np.testing.assert_allclose(m.weight.grad._host(), np.where(x > 0, 0, v * x).sum(axis=(0, 2, 3)),
                               rtol=1e-12)
    np.testing.assert_allclose(xt.grad._host(), np.where(x > 0, v, 0.2 * v), rtol=1e-14)
    shared = nn.PReLU(device=dev, dtype=ag.float64)
    shared(ag.tensor(x, device=dev)).backward(ag.tensor(v, device=dev))
    assert shared.weight.grad.shape == (1,)
    np.testing.assert_allclose(shared.weight.grad._host(), [np.where(x > 0, 0, v * x).sum()], rtol=1e-12)
    m.reset_parameters()
    assert m.weight.grad is not None and (m.weight.detach()._host() == 0.2).all()
    with pytest.raises(RuntimeError, match="Found parameter numbers = 3 and channel size = 2"):
        m(ag.tensor(np.ones((4, 2)), device=dev))
    assert nn.PReLU().weight.dtype == ag.float32


def test_constructor_checks_and_warnings():
    with pytest.raises(AssertionError, match=r"max_val \(1\.0\) must be greater than min_val \(1\.0\)"):
        nn.Hardtanh(1.0, 1.0)
    with pytest.warns(FutureWarning, match="`min_value` is deprecated and renamed to `min_val`"):
        m = nn.Hardtanh(min_value=-2.0)
    with pytest.warns(FutureWarning, match="`max_value` is deprecated and renamed to `max_val`"):
        m2 = nn.Hardtanh(max_value=2.0)
    assert (m.min_val, m.max_val, m2.min_val, m2.max_val) == (-2.0, 1.0, -1.0, 2.0)
    assert (nn.ReLU6().min_val, nn.ReLU6().max_val) == (0.0, 6.0)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmin has been deprecated"):
        nn.Softmin()(ag.ones(2, 3))


def test_rrelu_module_train_eval():
    x = ag.tensor(np.linspace(-3, -0.5, 200))
    m = nn.RReLU(0.1, 0.3)
    ag.manual_seed(0)
    slopes = (m(x) / x).numpy()  # training (the default): a slope per element in [0.1, 0.3)
    assert ((slopes >= 0.1) & (slopes < 0.3)).all() and np.unique(slopes).size == 200
    np.testing.assert_allclose((m.eval()(x) / x).numpy(), 0.2, rtol=1e-15)


def test_inplace_modules_and_glu():
    for m in (nn.CELU(inplace=True), nn.SELU(True), nn.Threshold(0.0, 1.0, True), nn.Hardtanh(inplace=True),
              nn.ReLU6(True), nn.RReLU(inplace=True), nn.Hardsigmoid(True), nn.Hardswish(True),
              nn.Mish(True)):
        x = ag.tensor([-2.0, 0.5, 7.0])
        assert m(x) is x and x._version_value == 1, m
    y = nn.GLU()(ag.tensor(np.arange(12.0).reshape(3, 4)))
    assert y.shape == (3, 2)
    np.testing.assert_allclose(y.numpy(), np.arange(12.0).reshape(3, 4)[:, :2] * _sig(
        np.arange(12.0).reshape(3, 4)[:, 2:]), rtol=1e-6)
    assert math.isclose(nn.Softmin(0)(ag.tensor([0.0, 0.0])).numpy()[0], 0.5)
