"""autograd.functional: jacobian, hessian, vjp, jvp, hvp, vhp against closed forms and finite differences,
with PyTorch's return structures and errors."""
import numpy as np
import pytest

import autograd_gpu as torch
from autograd_gpu.autograd import functional as F

from conftest import DEVICES


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


def _t(values, device="cpu", **kw):
    return torch.tensor(values, dtype=torch.float64, device=device, **kw)


def _np(t):
    return np.asarray(t.detach()._host())


X = np.array([0.5, -1.0, 2.0])
A = np.array([[1.0, 2.0, -1.0], [0.5, 0.0, 3.0]])


def cubic_sum(x):
    return (x * x * x).sum()


def test_jacobian_closed_form(device):
    x = _t(X, device)
    J = F.jacobian(lambda t: t * t, x)
    assert isinstance(J, torch.Tensor) and tuple(J.shape) == (3, 3) and J.grad_fn is None
    np.testing.assert_allclose(_np(J), np.diag(2 * X))
    a = _t(A, device)
    np.testing.assert_allclose(_np(F.jacobian(lambda t: a.mv(t), x)), A)
    Jf = F.jacobian(lambda t: t * t, x, strategy="forward-mode", vectorize=True)
    np.testing.assert_allclose(_np(Jf), np.diag(2 * X))


def test_jacobian_tuple_structure(device):
    x, y = _t(X, device), _t([[1.0, 2.0]], device)

    def f(x, y):
        return x * 2, (x.sum() * y).sum(1)
    J = F.jacobian(f, (x, y))
    assert isinstance(J, tuple) and len(J) == 2 and all(isinstance(r, tuple) and len(r) == 2 for r in J)
    assert [tuple(b.shape) for b in J[0]] == [(3, 3), (3, 1, 2)]
    assert [tuple(b.shape) for b in J[1]] == [(1, 3), (1, 1, 2)]
    np.testing.assert_allclose(_np(J[0][0]), 2 * np.eye(3))
    np.testing.assert_allclose(_np(J[0][1]), 0)
    np.testing.assert_allclose(_np(J[1][0]), [[3.0, 3.0, 3.0]])
    np.testing.assert_allclose(_np(J[1][1]), [[[X.sum(), X.sum()]]])
    J1 = F.jacobian(lambda x: (x * 2,), x)  # tuple output, single input
    assert isinstance(J1, tuple) and isinstance(J1[0], torch.Tensor)
    J2 = F.jacobian(lambda x: x * 2, (x,))  # single output, tuple input
    assert isinstance(J2, tuple) and isinstance(J2[0], torch.Tensor)


def test_hessian(device):
    x = _t(X, device)
    H = F.hessian(cubic_sum, x)
    np.testing.assert_allclose(_np(H), np.diag(6 * X))
    y = _t([3.0], device)
    H = F.hessian(lambda x, y: (x * x).sum() * y.sum(), (x, y))
    assert [[tuple(b.shape) for b in row] for row in H] == [[(3, 3), (3, 1)], [(1, 3), (1, 1)]]
    np.testing.assert_allclose(_np(H[0][0]), 2 * 3.0 * np.eye(3))
    np.testing.assert_allclose(_np(H[0][1]), (2 * X)[:, None])
    np.testing.assert_allclose(_np(H[1][1]), [[0.0]])
    with pytest.raises(RuntimeError, match="The Tensor returned by the function given to hessian should "
                                           "contain a single element"):
        F.hessian(lambda t: t * t, x)


def test_vjp_jvp(device):
    x, v = _t(X, device), _t([1.0, -2.0], device)
    a = _t(A, device)
    out, vj = F.vjp(lambda t: a.mv(t).sin(), x, v)
    y = A @ X
    np.testing.assert_allclose(_np(out), np.sin(y))
    np.testing.assert_allclose(_np(vj), A.T @ (np.cos(y) * [1.0, -2.0]))
    u = _t([0.1, 0.2, 0.3], device)
    out, jv = F.jvp(lambda t: a.mv(t) * a.mv(t), x, u)
    np.testing.assert_allclose(_np(out), y * y)
    np.testing.assert_allclose(_np(jv), 2 * y * (A @ [0.1, 0.2, 0.3]))
    out, g = F.vjp(cubic_sum, x)  # v may be omitted for a one-element output
    np.testing.assert_allclose(_np(g), 3 * X * X)
    with pytest.raises(RuntimeError, match="The vector v can only be None if the user-provided function "
                                           "returns a single Tensor with a single element."):
        F.vjp(lambda t: t * 2, x)
    with pytest.raises(RuntimeError, match=r"v has invalid size: should be torch.Size\(\[3\]\) but got "
                                           r"torch.Size\(\[2\]\)."):
        F.vjp(lambda t: t * 2, x, v)
    with pytest.raises(TypeError, match="The inputs given to vjp must be either a Tensor or a tuple of "
                                        "Tensors"):
        F.vjp(lambda t: t, [1.0])


def test_hvp_vhp(device):
    x, v = _t(X, device), _t([1.0, 0.5, -1.0], device)
    for fn in (F.hvp, F.vhp):
        out, hv = fn(cubic_sum, x, v)
        np.testing.assert_allclose(_np(out), (X ** 3).sum())
        np.testing.assert_allclose(_np(hv), 6 * X * [1.0, 0.5, -1.0])
    y = _t([2.0], device)
    out, (hx, hy) = F.hvp(lambda x, y: (x * x).sum() * y.sum(), (x, y), (v, _t([1.0], device)))
    np.testing.assert_allclose(_np(hx), 2 * 2.0 * np.array([1.0, 0.5, -1.0]) + 2 * X)
    np.testing.assert_allclose(_np(hy), [2 * X @ [1.0, 0.5, -1.0]])
    with pytest.raises(RuntimeError, match="The function given to hvp should return a single Tensor"):
        F.hvp(lambda t: (t.sum(), t.sum()), x, v)


def test_create_graph_and_strict():
    x = _t(X, requires_grad=True)
    J = F.jacobian(lambda t: t * t * t, x, create_graph=True)
    assert J.requires_grad
    g, = torch.autograd.grad(J.sum(), x)
    np.testing.assert_allclose(_np(g), 6 * X)
    out, vj = F.vjp(cubic_sum, x, create_graph=True)
    assert vj.requires_grad
    out, vj = F.vjp(cubic_sum, x)
    assert not vj.requires_grad and vj.grad_fn is None
    with pytest.raises(RuntimeError, match="Output 0 of the user-provided function does not require "
                                           "gradients"):
        F.jacobian(lambda t: t.detach() * 2, x, strict=True)
    J = F.jacobian(lambda t, u: t * 2, (x, _t([1.0])))
    np.testing.assert_allclose(_np(J[1]), 0)
    with pytest.raises(RuntimeError, match="Output 0 of the user-provided function is independent of input "
                                           "1. This is not allowed in strict mode."):
        F.jacobian(lambda t, u: t * 2, (x, _t([1.0])), strict=True)


def test_jacobian_matches_finite_differences(device):
    rng = np.random.default_rng(1)
    w1, w2 = rng.standard_normal((4, 3)), rng.standard_normal((2, 4))
    W1, W2 = _t(w1, device), _t(w2, device)

    def mlp(x):
        return W2.mm(W1.mm(x).sigmoid())
    x0 = rng.standard_normal((3, 2))

    def ref(x):
        return w2 @ (1 / (1 + np.exp(-(w1 @ x))))
    eps, num = 1e-6, np.zeros((2, 2, 3, 2))
    for idx in np.ndindex(3, 2):
        d = np.zeros((3, 2))
        d[idx] = eps
        num[(...,) + idx] = (ref(x0 + d) - ref(x0 - d)) / (2 * eps)
    J = F.jacobian(mlp, _t(x0, device))
    np.testing.assert_allclose(_np(J), num, atol=1e-7)
    Jf = F.jacobian(mlp, _t(x0, device), strategy="forward-mode", vectorize=True)
    np.testing.assert_allclose(_np(Jf), num, atol=1e-7)
