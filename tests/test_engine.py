"""The autograd engine as PyTorch defines it: accumulation, backward/grad arguments, higher-order gradients,
scale. Expected values are closed forms; messages are PyTorch 2.13's. (Grad modes and in-place ops:
test_inplace.py.)"""
import gc
import re
import sys
import warnings
import weakref

import numpy as np
import pytest

import autograd_gpu as torch

from conftest import DEVICES

NONLEAF_GRAD_WARNING = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad attribute won't "
    "be populated during autograd.backward(). If you indeed want the .grad field to be populated for a "
    "non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. If you access the non-leaf Tensor by "
    "mistake, make sure you access the leaf Tensor instead. See github.com/pytorch/pytorch/pull/30531 for "
    "more information.")
SECOND_BACKWARD = (
    "Trying to backward through the graph a second time (or directly access saved tensors after they have "
    "already been freed). Saved intermediate values of the graph are freed when you call .backward() or "
    "autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time or "
    "if you need to access saved tensors after calling backward.")
NO_RETAIN = "can't retain_grad on Tensor that has requires_grad=False"


def _exact(msg):
    return "^" + re.escape(msg) + "$"


def _np(t):
    return t.detach().cpu().numpy()


def T(data, device="cpu", dtype=torch.float64, rg=True):
    return torch.tensor(data, dtype=dtype, device=device, requires_grad=rg)


# --- accumulation and .grad ---------------------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
def test_leaves_accumulate_in_place(device):
    x = T([1.0, 2.0, 3.0], device)
    (x * x).sum().backward()
    g = x.grad
    np.testing.assert_array_equal(_np(g), [2.0, 4.0, 6.0])
    (x * 3).sum().backward()
    assert x.grad is g  # accumulated into the same tensor, as PyTorch does
    np.testing.assert_array_equal(_np(x.grad), [5.0, 7.0, 9.0])
    assert not x.grad.requires_grad and x.grad.grad_fn is None
    x.grad = None
    (x.sum() * 2).backward()
    np.testing.assert_array_equal(_np(x.grad), [2.0, 2.0, 2.0])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_leaf_takes_relu_gradient_with_its_own_dtype(device, dtype):
    # relu's cpu backward builds the gradient's bits in an unsigned array and views it as float: the leaf
    # must own the float view, not the unsigned base (a second accumulation then fails or is garbage)
    x = T([-1.0, 2.0, 0.0, 3.0], device, dtype)
    torch.relu(x).sum().backward()
    assert x.grad.dtype == dtype
    np.testing.assert_array_equal(_np(x.grad), [0.0, 1.0, 0.0, 1.0])
    (torch.relu(x) * 2).sum().backward()
    np.testing.assert_array_equal(_np(x.grad), [0.0, 3.0, 0.0, 3.0])


def test_leaf_keeps_one_accumulator_without_a_cycle():
    w = T([1.0, 2.0])
    acc = (w * 3).grad_fn.next_functions[0][0]
    assert acc.name() == "AccumulateGrad" and acc.variable is w
    assert (w * 2).grad_fn.next_functions[0][0] is acc  # made once per leaf, reused by every graph
    alive = weakref.ref(w)
    gc.disable()
    try:
        del w  # freed by reference counting alone: the accumulator refers back to it weakly
        assert alive() is None and acc.variable is None
    finally:
        gc.enable()


def test_backward_into_a_leaf_nothing_else_keeps():
    # PyTorch keeps such a leaf alive through its AccumulateGrad; its gradient could never be read, so here it
    # is skipped, but the leaf's tensor hooks still see the gradient
    calls = []
    w = T([1.0, 2.0])
    w.register_hook(lambda g: calls.append(g.tolist()))
    loss = (w * 3).sum()
    del w
    loss.backward()
    assert calls == [[3.0, 3.0]]


def test_user_gradient_is_not_aliased():
    x = T([1.0, 2.0])
    g0 = torch.ones(2, dtype=torch.float64)
    (x + 0).backward(g0)
    assert x.grad is not g0
    g0.add_(5)
    assert x.grad.tolist() == [1.0, 1.0]
    (x + 0).backward(g0)
    assert x.grad.tolist() == [7.0, 7.0] and g0.tolist() == [6.0, 6.0]


@pytest.mark.parametrize("device", DEVICES)
def test_shared_gradient_arrays_are_copied_before_leaves_own_them(device):
    # backward() carries gradients as raw arrays, and add's backward hands one array to both inputs: each leaf
    # (and a retained non-leaf) must end up with its own, so in-place accumulation into one leaves the others
    x, y = T([1.0, 2.0], device), T([3.0, 4.0], device)
    (x + y).sum().backward()
    x.grad.add_(10)
    assert _np(y.grad).tolist() == [1.0, 1.0] and _np(x.grad).tolist() == [11.0, 11.0]
    h = x + 0
    h.retain_grad()
    (h * 1).sum().backward()
    x.grad.zero_()
    assert _np(h.grad).tolist() == [1.0, 1.0]
    z = T([1.0, 2.0], device)
    (z + z).sum().backward()  # the same leaf twice: the two gradients summed, once
    assert _np(z.grad).tolist() == [2.0, 2.0]


def test_backward_raw_result_is_checked_like_backward():
    """An op's backward_raw (the array form the engine runs under backward()) gets backward's checks: the
    count of gradients, broadcast dims summed back, the input's dtype."""
    from autograd_gpu.autograd.node import Op

    class PairBackward0(Op):
        def forward(self, x, y):
            return x + y

        def backward(self, g):
            return g, g

    class ShortPair(PairBackward0):
        def backward_raw(self, gd):
            return (gd,)

    class BroadcastPair(PairBackward0):
        def backward_raw(self, gd):
            return gd, gd.astype(np.float32)  # (2, 3) for a (3,) float64 input: summed and cast back

    x, y = T(np.ones((2, 3))), T(np.ones(3))
    with pytest.raises(RuntimeError, match=_exact("function ShortPair returned an incorrect number of "
                                                  "gradients (expected 2, got 1)")):
        ShortPair.apply(x, y).sum().backward()
    BroadcastPair.apply(x, y).sum().backward()
    assert y.grad.dtype is torch.float64 and _np(y.grad).tolist() == [2.0, 2.0, 2.0]
    assert _np(x.grad).tolist() == [[1.0] * 3] * 2


def test_nonleaf_grad_warns_and_retain_grad():
    x = T([1.0, 2.0])
    y = x * 2
    z = (y * y).sum()
    with pytest.warns(UserWarning, match="^" + re.escape(NONLEAF_GRAD_WARNING)):
        assert y.grad is None
    w = x * 3
    w.retain_grad()
    assert w.retains_grad and not y.retains_grad and not x.retains_grad
    (z + (w * w).sum()).backward()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(_np(w.grad), [6.0, 12.0])  # no warning once retained
        assert x.grad.tolist() == [8.0 + 18.0, 16.0 + 36.0]
    x.retain_grad()  # a no-op on leaves
    assert not x.retains_grad
    with pytest.raises(RuntimeError, match=_exact(NO_RETAIN)):
        torch.ones(2).retain_grad()


def test_retained_grad_accumulates():
    x = T([1.0, 2.0])
    y = x * 2
    y.retain_grad()
    z = (y * y).sum()
    z.backward(retain_graph=True)
    z.backward()
    assert y.grad.tolist() == [8.0, 16.0] and x.grad.tolist() == [16.0, 32.0]


# --- backward() arguments -----------------------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
def test_vector_jacobian_product(device):
    x = T([1.0, 2.0, 3.0], device)
    y = x * x  # J = diag(2x)
    v = torch.tensor([1.0, 0.5, -1.0], dtype=torch.float64, device=device)
    y.backward(v)
    np.testing.assert_array_equal(_np(x.grad), [2.0, 2.0, -6.0])


def test_implicit_gradient_only_for_scalars():
    x = T([1.0, 2.0])
    with pytest.raises(RuntimeError, match=_exact("grad can be implicitly created only for scalar outputs")):
        (x * 2).backward()
    assert x.grad is None
    s = (x * 2).sum()
    s.backward(torch.tensor(3.0, dtype=torch.float64))
    assert x.grad.tolist() == [6.0, 6.0]
    x.grad = None
    (x * 2).sum().reshape(1).backward()  # one element is a scalar too
    assert x.grad.tolist() == [2.0, 2.0]


def test_wrong_gradient_shape():
    x = T([1.0, 2.0])
    y = x * 2
    f64 = torch.float64
    for bad, shape in ((torch.ones(3, dtype=f64), "[3]"), (torch.ones(2, 1, dtype=f64), "[2, 1]")):
        with pytest.raises(RuntimeError, match=_exact(
                f"Mismatch in shape: grad_output[0] has a shape of torch.Size({shape}) and output[0] has a "
                "shape of torch.Size([2]).")):
            y.backward(bad)
    assert x.grad is None
    y.backward(torch.ones(2, dtype=torch.int64))  # another dtype is cast, as in PyTorch
    assert x.grad.dtype is torch.float64 and x.grad.tolist() == [2.0, 2.0]


def test_backward_argument_errors():
    x = T([1.0, 2.0])
    with pytest.raises(RuntimeError, match=_exact("element 0 of tensors does not require grad and does not "
                                                  "have a grad_fn")):
        torch.ones(2).sum().backward()
    with pytest.raises(RuntimeError, match=_exact("element 1 of tensors does not require grad and does not "
                                                  "have a grad_fn")):
        torch.autograd.backward([(x * x).sum(), torch.ones(1)])
    with pytest.raises(RuntimeError, match=_exact("got 2 tensors and 1 gradients")):
        torch.autograd.backward([x.sum(), x.sum()], [torch.tensor(1.0)])
    with pytest.raises(RuntimeError, match=_exact("`inputs` argument to `backward()` cannot be empty.")):
        (x * x).sum().backward(inputs=[])
    assert x.grad is None
    torch.autograd.backward([x.sum(), (x * x).sum()])
    assert x.grad.tolist() == [3.0, 5.0]


def test_backward_twice_and_retain_graph():
    x = T([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [4.0, 8.0]
    with pytest.raises(RuntimeError, match=_exact(SECOND_BACKWARD)):
        y.backward()
    assert x.grad.tolist() == [4.0, 8.0]
    z = (x + 1).sum()  # nothing saved: PyTorch allows a second pass too
    z.backward()
    z.backward()
    assert x.grad.tolist() == [6.0, 10.0]
    w = x * x
    (w * 2).sum().backward()
    with pytest.raises(RuntimeError, match=_exact(SECOND_BACKWARD)):
        w.sum().backward()  # a shared, already-freed subgraph


def test_backward_inputs_leaves_and_nonleaves():
    x = T([1.0, 2.0, 3.0])
    w = T([1.0, 2.0, 3.0])
    (w * x).sum().backward(inputs=[x])
    assert x.grad.tolist() == [1.0, 2.0, 3.0] and w.grad is None
    x.grad = None
    y = x * 2
    (y * y).sum().backward(inputs=[y])  # a non-leaf input gets .grad (PyTorch retains it)
    assert y.grad.tolist() == [4.0, 8.0, 12.0] and x.grad is None and y.retains_grad
    y = x * 2
    z = (y * y).sum()
    z.backward(inputs=[y, x], retain_graph=True)
    assert y.grad.tolist() == [4.0, 8.0, 12.0] and x.grad.tolist() == [8.0, 16.0, 24.0]
    z.backward(inputs=y)
    assert y.grad.tolist() == [8.0, 16.0, 24.0] and x.grad.tolist() == [8.0, 16.0, 24.0]
    with pytest.raises(RuntimeError, match=_exact(NO_RETAIN)):
        (x * x).sum().backward(inputs=[torch.ones(3)])


def test_backward_inputs_stops_at_the_input():
    x = T([1.0, 2.0])
    y = x * x
    z = (y * 3).sum()
    z.backward(inputs=[y])
    assert y.grad.tolist() == [3.0, 3.0] and x.grad is None
    with pytest.raises(RuntimeError, match=_exact(SECOND_BACKWARD)):
        y.sum().backward()  # as in PyTorch, the pass freed y's node too


# --- autograd.grad ------------------------------------------------------------------------------------------

def test_grad_basics():
    x = T([1.0, 2.0, 3.0])
    z = T([1.0, 1.0, 1.0])
    (g,) = torch.autograd.grad((x * x).sum(), x)
    assert g.tolist() == [2.0, 4.0, 6.0] and x.grad is None and not g.requires_grad
    (g,) = torch.autograd.grad(x * x, x, grad_outputs=torch.ones(3, dtype=torch.float64))
    assert g.tolist() == [2.0, 4.0, 6.0]
    v = torch.tensor([1.0, 0.0, 2.0], dtype=torch.float64)
    (g,) = torch.autograd.grad([x * x], [x], grad_outputs=[v])
    assert g.tolist() == [2.0, 0.0, 12.0]
    gx, gz = torch.autograd.grad((x * x).sum(), [x, z], allow_unused=True)
    assert gx.tolist() == [2.0, 4.0, 6.0] and gz is None
    gx, gz = torch.autograd.grad((x * x).sum(), [x, z], materialize_grads=True)
    assert gz.tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(RuntimeError, match=_exact("The differentiated Tensor at index 1 appears to not have "
                                                  "been used in the graph. Set allow_unused=True if this is "
                                                  "the desired behavior.")):
        torch.autograd.grad((x * x).sum(), [x, z])
    with pytest.raises(RuntimeError, match=_exact("One of the differentiated Tensors does not require grad")):
        torch.autograd.grad((x * x).sum(), [x, torch.ones(3)])
    with pytest.raises(RuntimeError, match=_exact("grad can be implicitly created only for scalar outputs")):
        torch.autograd.grad(x * x, x)
    (g,) = torch.autograd.grad([x * 1, x.sum()], x, grad_outputs=[torch.ones(3, dtype=torch.float64), None])
    assert g.tolist() == [2.0, 2.0, 2.0]
    assert x.grad is None and z.grad is None


def test_grad_nonleaf_inputs_and_multiple_outputs():
    x = T([1.0, 2.0, 3.0])
    y = x * 2
    w = y * 3
    z = (w * w).sum()
    gw, gy, gx = torch.autograd.grad(z, [w, y, x])
    assert gw.tolist() == [12.0, 24.0, 36.0] and gy.tolist() == [36.0, 72.0, 108.0]
    assert gx.tolist() == [72.0, 144.0, 216.0]
    a, b = x * 2, x * x
    (g,) = torch.autograd.grad([a.sum(), b.sum()], x)
    assert g.tolist() == [4.0, 6.0, 8.0]


# --- higher order -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
def test_third_derivative_of_cube(device):
    x = T(2.0, device)
    y = x ** 3
    (g,) = torch.autograd.grad(y, x, create_graph=True)
    (g2,) = torch.autograd.grad(g, x, create_graph=True)
    (g3,) = torch.autograd.grad(g2, x)
    assert (g.item(), g2.item(), g3.item()) == (12.0, 12.0, 6.0)
    assert g.requires_grad and g2.requires_grad and not g3.requires_grad
    assert g.dtype is torch.float64 and g.shape == ()


def test_backward_create_graph_grad_is_differentiable():
    x = T(2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's reference-cycle warning
        (x ** 3).backward(create_graph=True)
    g = x.grad
    assert g.item() == 12.0 and g.requires_grad and g.grad_fn.name() == "CopyBackwards"
    (g2,) = torch.autograd.grad(g, x)
    assert g2.item() == 12.0


def _sin_series(x):
    """sin by its Taylor polynomial through x^9, built with pow (a chain of pow nodes)."""
    return x - x ** 3 / 6 + x ** 5 / 120 - x ** 7 / 5040 + x ** 9 / 362880


@pytest.mark.parametrize("device", DEVICES)
def test_sin_series_derivatives_up_to_fourth(device):
    xs = np.array([-1.0, -0.3, 0.0, 0.5, 1.2])
    x = T(xs, device)
    y = _sin_series(x)
    derivs = []
    out = y
    for k in range(4):
        (out,) = torch.autograd.grad(out.sum(), x, create_graph=k < 3)
        derivs.append(_np(out))
    # closed forms of the polynomial's derivatives
    p = np.polynomial.Polynomial([0, 1, 0, -1 / 6, 0, 1 / 120, 0, -1 / 5040, 0, 1 / 362880])
    for k, d in enumerate(derivs, start=1):
        np.testing.assert_allclose(d, p.deriv(k)(xs), rtol=1e-12, atol=1e-12)
    # and they approximate sin's: cos, ..., sin (the 4th derivative keeps the series only through x^5)
    np.testing.assert_allclose(derivs[0], np.cos(xs), atol=3e-6)
    np.testing.assert_allclose(derivs[3], np.sin(xs), atol=1e-3)


def _mlp_loss(params, x, t):
    w1, b1, w2, b2 = params
    h = (x.matmul(w1) + b1).sigmoid()
    y = h.matmul(w2) + b2
    return ((y - t) ** 2).mean()


@pytest.mark.parametrize("device", DEVICES)
def test_mlp_hessian_vector_product_vs_finite_differences(device):
    rng = np.random.default_rng(0)
    shapes = [(4, 5), (5,), (5, 3), (3,)]
    base = [rng.normal(size=s) for s in shapes]
    vec = [rng.normal(size=s) for s in shapes]
    x = torch.tensor(rng.normal(size=(6, 4)), device=device)
    t = torch.tensor(rng.normal(size=(6, 3)), device=device)

    params = [T(b, device) for b in base]
    grads = torch.autograd.grad(_mlp_loss(params, x, t), params, create_graph=True)
    dot = sum((g * torch.tensor(v, device=device)).sum() for g, v in zip(grads, vec))
    hvp = torch.autograd.grad(dot, params)

    def grad_at(shift):
        ps = [T(b + shift * v, device) for b, v in zip(base, vec)]
        return [_np(g) for g in torch.autograd.grad(_mlp_loss(ps, x, t), ps)]
    eps = 1e-5
    plus, minus = grad_at(eps), grad_at(-eps)
    for h, p, m, s in zip(hvp, plus, minus, shapes):
        assert h.shape == s and h.dtype is torch.float64
        np.testing.assert_allclose(_np(h), (p - m) / (2 * eps), rtol=1e-5, atol=1e-7)


# --- scale and metadata -------------------------------------------------------------------------------------

def test_100k_node_chain_has_no_recursion():
    x = T([1.0, 2.0])
    y = x
    for _ in range(100_000):
        y = y + 1.0
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # the engine must not recurse
    try:
        y.sum().backward()
    finally:
        sys.setrecursionlimit(limit)
    assert x.grad.tolist() == [1.0, 1.0] and y.tolist() == [100_001.0, 100_002.0]
    del y  # tearing the chain down must not recurse either


def test_gradients_from_a_function_are_reduced_cast_or_kept():
    """The engine's check of a backward's result, per input: a broadcast gradient summed back, another dtype
    cast, and a dtype equal to the input's but a distinct descriptor object (NumPy metadata) kept as it is:
    for one-, two- and three-input nodes (the one- and two-input checks are unrolled)."""
    tagged = np.dtype(np.float32, metadata={"tag": 1})  # == float32, but not the same object

    class Grads(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *xs):
            return xs[0] * 1

        @staticmethod
        def backward(ctx, g):
            return (torch.from_numpy(np.full((2, 3), 2, tagged)),  # kept (equal dtype)
                    torch.from_numpy(np.full((2, 3), 3, np.float64)),  # cast to float32
                    torch.from_numpy(np.full((2, 3), 4, np.float32)))[:len(ctx.needs_input_grad)]

    for n in (1, 2, 3):
        shapes = [(2, 3), (2, 3), (3,)][:n]
        xs = [torch.zeros(s, requires_grad=True) for s in shapes]
        Grads.apply(*xs).sum().backward()
        assert xs[0].grad._data.dtype == np.float32 and xs[0].grad._data.dtype.metadata == {"tag": 1}
        np.testing.assert_array_equal(_np(xs[0].grad), np.full((2, 3), 2.0))
        if n > 1:
            assert xs[1].grad.dtype is torch.float32
            np.testing.assert_array_equal(_np(xs[1].grad), np.full((2, 3), 3.0))
        if n > 2:  # (3,) input, (2, 3) gradient: summed over the broadcast dim
            np.testing.assert_array_equal(_np(xs[2].grad), np.full(3, 8.0))


@pytest.mark.parametrize("device", DEVICES)
def test_grad_dtype_and_shape_match_inputs(device):
    a = torch.randn(3, 1, dtype=torch.float32, device=device, requires_grad=True)
    b = torch.randn(4, dtype=torch.float64, device=device, requires_grad=True)
    c = torch.randn((), dtype=torch.float32, device=device, requires_grad=True)
    d = torch.randn(1, 4, dtype=torch.float16, device=device, requires_grad=True)
    out = (a * b + c) * d.double() - a / 2
    assert out.shape == (3, 4) and out.dtype is torch.float64
    out.sum().backward()
    for t in (a, b, c, d):
        assert t.grad.shape == t.shape and t.grad.dtype is t.dtype and t.grad.device == t.device
    ad, bd, cd, dd = (_np(t).astype(np.float64) for t in (a, b, c, d))
    np.testing.assert_allclose(_np(a.grad)[:, 0], (bd * dd[0]).sum() - 4 / 2 + 0 * ad[:, 0], rtol=1e-5)
    np.testing.assert_allclose(_np(b.grad), 3 * 0 + ad.sum() * dd[0], rtol=1e-6)
    np.testing.assert_allclose(_np(c.grad), dd.sum() * 3, rtol=1e-5)
    np.testing.assert_allclose(_np(d.grad)[0], (ad * bd + cd).sum(0), rtol=2e-3)
