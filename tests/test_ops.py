"""Every registered op, on every test device: forward vs NumPy float64, gradcheck, gradgradcheck."""
import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu.autograd.gradcheck import gradcheck, gradgradcheck
from autograd_gpu.testing.registry import all_ops, make_inputs

from conftest import DEVICES

ROWS = all_ops()
CASES = [(info, i, s) for info in ROWS for i, s in enumerate(info.samples)]


def _ids(case):
    info, i, s = case
    return f"{info.name}-{s.name or i}"


def _params():
    out = []
    for case in CASES:
        for dev in DEVICES:
            marks = []
            if case[0].skip_reason:
                marks.append(pytest.mark.skip(reason=case[0].skip_reason))
            out.append(pytest.param(case, dev, id=f"{_ids(case)}-{dev}", marks=marks))
    return out


PARAMS = _params()


def _check_device(info, dev):
    if dev.split(":")[0] not in info.devices:
        pytest.skip(f"{info.name} is not registered for {dev}")


def _host(x):
    return x.detach()._host() if isinstance(x, ag.Tensor) else np.asarray(x)


@pytest.mark.parametrize("case,dev", PARAMS)
def test_forward(case, dev):
    info, _, sample = case
    _check_device(info, dev)
    if info.ref is None:
        pytest.skip("no NumPy reference (checked elsewhere)")
    for dtype in info.dtypes:
        rng = np.random.default_rng(0)
        args, np_args, kw, np_kw = make_inputs(sample, info, dev, dtype, rng, requires_grad=False)
        out = info.fn(*args, **kw)
        expected = info.ref(*np_args, **np_kw)
        outs = out if isinstance(out, tuple) else (out,)
        exps = expected if isinstance(expected, tuple) else (expected,)
        assert len(outs) == len(exps)
        tol = (info.atol, info.rtol) if dtype == "float64" else (max(info.atol, 1e-4), max(info.rtol, 1e-4))
        for o, e in zip(outs, exps):
            assert isinstance(o, ag.Tensor)
            assert str(o.device).split(":")[0] == dev.split(":")[0]
            np.testing.assert_allclose(_host(o).astype(np.float64), np.asarray(e, dtype=np.float64),
                                       atol=tol[0], rtol=tol[1], err_msg=f"{info.name} {dtype} on {dev}")
            assert tuple(o.shape) == np.shape(e), f"{info.name}: shape {tuple(o.shape)} != {np.shape(e)}"


def _grad_fn(info, args, kw):
    pos = [i for i, a in enumerate(args) if isinstance(a, ag.Tensor) and a.requires_grad]
    kpos = [k for k, a in kw.items() if isinstance(a, ag.Tensor) and a.requires_grad]
    inputs = [args[i] for i in pos] + [kw[k] for k in kpos]

    def f(*xs):
        a = list(args)
        k = dict(kw)
        for i, x in zip(pos, xs):
            a[i] = x
        for name, x in zip(kpos, xs[len(pos):]):
            k[name] = x
        return info.fn(*a, **k)
    return f, inputs


def _differentiable(case, dev, second_order=False):
    """(info, f, inputs) of a case to differentiate in float64, or a skip."""
    info, _, sample = case
    _check_device(info, dev)
    if second_order and not (info.grad and info.gradgrad and sample.grad):
        pytest.skip("second derivative not checked for this op")
    if not (info.grad and sample.grad):
        pytest.skip("not differentiable")
    args, _, kw, _ = make_inputs(sample, info, dev, "float64", np.random.default_rng(0))
    f, inputs = _grad_fn(info, args, kw)
    if not inputs:
        pytest.skip("no differentiable input")
    return info, f, inputs


@pytest.mark.parametrize("case,dev", PARAMS)
def test_gradcheck(case, dev):
    info, f, inputs = _differentiable(case, dev)
    assert gradcheck(f, inputs, atol=info.grad_atol, rtol=info.grad_rtol)


@pytest.mark.parametrize("case,dev", PARAMS)
def test_gradgradcheck(case, dev):
    info, f, inputs = _differentiable(case, dev, second_order=True)
    assert gradgradcheck(f, inputs, atol=info.grad_atol, rtol=info.grad_rtol)


@pytest.mark.parametrize("case,dev", PARAMS)
def test_backward_paths_agree(case, dev):
    """The engine's two first-order paths give the same gradients: backward() runs an op's backward_raw on
    arrays where it has one (engine._drain), grad(create_graph=True) its Tensor formula (the double-backward
    path). gradcheck checks the first against finite differences, so this pins the second to the same values."""
    info, f, inputs = _differentiable(case, dev)
    out = f(*inputs)
    outs = [o for o in (out if isinstance(out, tuple) else (out,)) if o.requires_grad]
    rng = np.random.default_rng(1)
    cotangents = [ag.tensor(rng.standard_normal(tuple(o.shape)), dtype=o.dtype, device=o.device) for o in outs]
    ag.autograd.backward(outs, cotangents, retain_graph=True)
    raw = [None if x.grad is None else x.grad.detach()._host() for x in inputs]
    try:
        graphed = ag.autograd.grad(outs, inputs, cotangents, create_graph=True, allow_unused=True)
    except RuntimeError as e:
        if "not implemented" not in str(e):
            raise
        pytest.skip(f"no double-backward path: {e}")  # (nuclear norm: refused, not wrong)
    for i, (r, g) in enumerate(zip(raw, graphed)):
        if g is None:
            assert r is None or not np.any(r), f"{info.name}: input {i} has a gradient only through backward()"
            continue
        assert r is not None, f"{info.name}: input {i} has a gradient only through grad(create_graph=True)"
        np.testing.assert_allclose(r, g.detach()._host(), rtol=1e-9, atol=1e-12,
                                   err_msg=f"{info.name}: input {i} on {dev}")
