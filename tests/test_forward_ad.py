"""Forward-mode AD (autograd.forward_ad): the dual-tensor API with PyTorch's errors, tangents through in-place
ops and nested differentiation, and every registered op's forward-mode Jacobian against finite differences."""
import numpy as np
import pytest

import autograd_gpu as torch
import autograd_gpu.autograd.forward_ad as fwAD
from autograd_gpu.autograd import gradcheck
from autograd_gpu.autograd import node as _node
from autograd_gpu.testing.registry import all_ops, make_inputs

from conftest import DEVICES


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


def _t(values, device="cpu", **kw):
    return torch.tensor(values, dtype=torch.float64, device=device, **kw)


def _np(t):
    return np.asarray(t.detach()._host())


def test_dual_api_and_errors():
    x = _t([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match="Trying to create a dual Tensor for forward AD but no level "
                                           "exists, make sure to enter_dual_level\\(\\) first."):
        fwAD.make_dual(x, torch.ones(3, dtype=torch.float64))
    assert fwAD.unpack_dual(x) == (x, None)
    with fwAD.dual_level() as level:
        assert level == 0
        d = fwAD.make_dual(x, _t([1.0, 0.0, 2.0]))
        assert d.grad_fn is None and d._base is x and d is not x
        p, t = fwAD.unpack_dual(d)
        assert type(fwAD.unpack_dual(d)).__name__ == "UnpackedDualTensor"
        assert p.tolist() == [1.0, 2.0, 3.0] and t.tolist() == [1.0, 0.0, 2.0]
        assert fwAD.unpack_dual(p).tangent is None and fwAD.unpack_dual(x).tangent is None
        with pytest.raises(RuntimeError, match=r"Trying to set a forward gradient that has a different size "
                                               r"than that of the original Tensor, this is not supported. "
                                               r"Tensor is of size \[3\] while the given forward gradient "
                                               r"is of size \[2\]."):
            fwAD.make_dual(x, _t([1.0, 2.0]))
        with pytest.raises(ValueError, match="Expected primal to be floating point or complex, but got: "
                                             "torch.int64"):
            fwAD.make_dual(torch.arange(3), _t([1.0, 2.0, 3.0]))
        with pytest.raises(RuntimeError, match="Nested forward mode AD is not supported at the moment"):
            fwAD.enter_dual_level()
        y = d * 2
    assert fwAD.unpack_dual(y).tangent is None  # tangents are dropped with their level
    with pytest.raises(RuntimeError, match="Dual level must be a positive number."):
        fwAD.exit_dual_level()
    assert not _node._fw_enabled[0]


def test_make_dual_keeps_the_graph():
    x = _t([1.0, 2.0], requires_grad=True)
    with fwAD.dual_level():
        d = fwAD.make_dual(x, _t([1.0, 1.0]))
        assert d.grad_fn.name() == "ViewBackward0"
        (d * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_tangents_closed_forms(device):
    xv, tv = np.array([0.3, -0.8, 1.5]), np.array([1.0, -2.0, 0.5])
    a = _t([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0]], device)
    with fwAD.dual_level():
        x = fwAD.make_dual(_t(xv, device), _t(tv, device))
        cases = {
            "exp": (x.exp(), np.exp(xv) * tv),
            "sin": (x.sin(), np.cos(xv) * tv),
            "mul": (x * x, 2 * xv * tv),
            "div": (1.0 / x, -tv / xv ** 2),
            "sigmoid": (x.sigmoid(), np.exp(-xv) / (1 + np.exp(-xv)) ** 2 * tv),
            "mv": (a.mv(x), _np(a) @ tv),
            "sum": (x.sum(), tv.sum()),
            "expand": (x.unsqueeze(0).expand(2, 3), np.broadcast_to(tv, (2, 3))),
            "softmax": (x.softmax(0), None),
        }
        for name, (y, expected) in cases.items():
            tan = fwAD.unpack_dual(y).tangent
            assert tan is not None, name
            assert tuple(tan.shape) == tuple(y.shape) and str(tan.device).startswith(device), name
            if expected is None:  # softmax: J v = s * (v - <s, v>)
                s = np.exp(xv) / np.exp(xv).sum()
                expected = s * (tv - s @ tv)
            np.testing.assert_allclose(_np(tan), expected, rtol=1e-12, atol=1e-12, err_msg=name)


def test_tangents_propagate_under_no_grad_and_drop_on_detach():
    with fwAD.dual_level():
        x = fwAD.make_dual(_t([1.0, 2.0]), _t([1.0, 1.0]))
        with torch.no_grad():
            assert fwAD.unpack_dual(x * 2).tangent.tolist() == [2.0, 2.0]
        assert fwAD.unpack_dual(x.detach()).tangent is None
        assert fwAD.unpack_dual(x.data).tangent is None


def test_inplace_ops_update_tangents(device):
    with fwAD.dual_level():
        x = fwAD.make_dual(_t([1.0, 2.0, 3.0], device), _t([1.0, 1.0, 1.0], device))
        y = x.clone()
        y.mul_(3)
        assert fwAD.unpack_dual(y).tangent.tolist() == [3.0, 3.0, 3.0]
        y[1] = 5.0
        assert fwAD.unpack_dual(y).tangent.tolist() == [3.0, 0.0, 3.0]
        z = _t([0.0, 0.0, 0.0], device)
        z.copy_(x)
        assert fwAD.unpack_dual(z).tangent.tolist() == [1.0, 1.0, 1.0]
        z.zero_()
        assert fwAD.unpack_dual(z).tangent.tolist() == [0.0, 0.0, 0.0]


def test_reverse_over_forward_and_forward_over_reverse(device):
    xv = np.array([0.3, -0.7])
    x = _t(xv, device, requires_grad=True)
    with fwAD.dual_level():
        d = fwAD.make_dual(x, _t([1.0, 2.0], device))
        tan = fwAD.unpack_dual(d * d * d).tangent  # 3 x^2 v: differentiable w.r.t. x
        g, = torch.autograd.grad(tan.sum(), x)
    np.testing.assert_allclose(_np(g), 6 * xv * [1.0, 2.0])
    with fwAD.dual_level():  # Hessian-vector product as the tangent of a gradient
        d = fwAD.make_dual(_t(xv, device), _t([1.0, 1.0], device)).requires_grad_()
        g, = torch.autograd.grad(d.sigmoid().sum(), d, create_graph=True)
        hv = fwAD.unpack_dual(g).tangent
    s = 1 / (1 + np.exp(-xv))
    np.testing.assert_allclose(_np(hv), s * (1 - s) * (1 - 2 * s))


def test_no_tangent_bookkeeping_without_a_level():
    assert not _node._fw_enabled[0]
    y = _t([1.0]) * 2
    assert "_fw_grad" not in y.__dict__


# --- every registered op: forward-mode Jacobian == finite differences ---------------------------------------

def _cases():
    out = []
    for info in all_ops():
        if not info.grad or info.skip_reason or not info.forward_ad:
            continue
        for i, s in enumerate(info.samples):
            if s.grad:
                for dev in DEVICES:
                    if dev.split(":")[0] in info.devices:
                        out.append(pytest.param(info, s, dev, id=f"{info.name}-{s.name or i}-{dev}"))
    return out


@pytest.mark.parametrize("info,sample,dev", _cases())
def test_registry_forward_mode_jacobian(info, sample, dev):
    args, _, kw, _ = make_inputs(sample, info, dev, "float64", np.random.default_rng(0))
    pos = [i for i, a in enumerate(args) if isinstance(a, torch.Tensor) and a.requires_grad]
    kpos = [k for k, a in kw.items() if isinstance(a, torch.Tensor) and a.requires_grad]
    inputs = [args[i] for i in pos] + [kw[k] for k in kpos]
    if not inputs:
        pytest.skip("no differentiable input")

    def f(*xs):
        a, k = list(args), dict(kw)
        for i, x in zip(pos, xs):
            a[i] = x
        for name, x in zip(kpos, xs[len(pos):]):
            k[name] = x
        return info.fn(*a, **k)
    assert gradcheck(f, inputs, atol=info.grad_atol, rtol=info.grad_rtol, check_forward_ad=True,
                     check_backward_ad=False)
