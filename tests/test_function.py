"""autograd.Function: custom ops (ctx API, errors, double backward, forward AD, a user CUDA kernel) and the
autograd package's exports. Error strings are PyTorch 2.13's."""
import gc
import re
import warnings
import weakref

import numpy as np
import pytest

import autograd_gpu as torch
from autograd_gpu.autograd import Function, gradcheck, gradgradcheck
from autograd_gpu.autograd.function import once_differentiable

from conftest import DEVICES


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


def _t(values, device="cpu", **kw):
    return torch.tensor(values, dtype=torch.float64, device=device, **kw)


class Scale(Function):
    @staticmethod
    def forward(ctx, x, k):
        ctx.save_for_backward(x)
        ctx.k = k
        return x * k

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * ctx.k, None


class Cubic(Function):
    """x**3 with a backward written in Tensor ops: differentiable again."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x * x


def test_forward_backward_and_names(device):
    x = _t([1., 2., 3.], device, requires_grad=True)
    y = Scale.apply(x, 2.0)
    assert y.grad_fn.name() == "ScaleBackward"
    assert re.fullmatch(r"<autograd_gpu\.autograd\.function\.ScaleBackward "
                        r"object at 0x[0-9a-f]+>", repr(y.grad_fn))
    assert "grad_fn=<ScaleBackward>" in repr(y)
    assert y.grad_fn.next_functions == ((x.grad_fn or y.grad_fn.next_functions[0][0], 0),)
    assert y.grad_fn.needs_input_grad == (True, False)
    assert isinstance(y.grad_fn, torch.autograd.graph.Node)
    y.sum().backward()
    assert x.grad.tolist() == [2., 2., 2.]


def test_no_graph_without_grad(device):
    x = _t([1.], device, requires_grad=True)
    with torch.no_grad():
        y = Scale.apply(x, 2.0)
    assert y.grad_fn is None and not y.requires_grad
    y = Scale.apply(_t([1.], device), 2.0)
    assert y.grad_fn is None


def test_forward_runs_without_recording(device):
    class Probe(Function):
        @staticmethod
        def forward(ctx, x):
            inner = x * 2
            assert not torch.is_grad_enabled() and inner.grad_fn is None
            return inner

        @staticmethod
        def backward(ctx, g):
            return g * 2
    x = _t([1.], device, requires_grad=True)
    assert Probe.apply(x).grad_fn.name() == "ProbeBackward"


def test_wrong_number_of_gradients():
    class F(Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g
    x = _t([1., 2.], requires_grad=True)
    with pytest.raises(RuntimeError, match=re.escape("function FBackward returned an incorrect number of "
                                                     "gradients (expected 2, got 1)")):
        F.apply(x, 2).sum().backward()


def test_gradient_for_non_tensor_input_must_be_none():
    class F(Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g, g
    x = _t([1., 2.], requires_grad=True)
    with pytest.raises(RuntimeError, match="function FBackward returned a gradient different than None at "
                                           "position 2, but the corresponding forward input was not a "
                                           "Variable"):
        F.apply(x, 3.0).sum().backward()


def test_extra_none_gradients_are_accepted_and_shapes_checked():
    class Extra(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2, None, None
    x = _t([1., 2.], requires_grad=True)
    Extra.apply(x).sum().backward()
    assert x.grad.tolist() == [2., 2.]

    class BadShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g[:1]
    x = _t([1., 2., 3.], requires_grad=True)
    with pytest.raises(RuntimeError, match=re.escape("Function BadShapeBackward returned an invalid "
                                                     "gradient at index 0 - got [1] but expected shape "
                                                     "compatible with [3]")):
        BadShape.apply(x).sum().backward()


def test_saved_tensors_version_check_and_release():
    x = _t([1., 2.], requires_grad=True)
    z = x.clone()
    y = Cubic.apply(z)
    with torch.no_grad():
        z.add_(1)
    with pytest.raises(RuntimeError, match=r"one of the variables needed for gradient computation has been "
                                           r"modified by an inplace operation: \[torch.DoubleTensor "
                                           r"\[2\]\], which is output 0 of Clone.*is at version 1; expected "
                                           r"version 0 instead"):
        y.sum().backward()
    y = Cubic.apply(x)
    y.sum().backward(retain_graph=True)
    assert len(y.grad_fn.saved_tensors) == 1
    y.sum().backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.grad_fn.saved_tensors
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.sum().backward()


def test_save_for_backward_only_tensors():
    class F(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x, 3)
            return x
    with pytest.raises(TypeError, match="save_for_backward can only save variables, but argument 1 is of "
                                        "type int"):
        F.apply(_t([1.], requires_grad=True))


def test_saved_output_double_backward_and_no_cycle(device):
    class Exp(Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            assert y.grad_fn is ctx  # the saved output is reconnected to this node
            return g * y
    x = _t([0.5, 1.0], device, requires_grad=True)
    y = Exp.apply(x)
    g, = torch.autograd.grad(y.sum(), x, create_graph=True)
    gg, = torch.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.tolist(), np.exp([0.5, 1.0]))
    gc.collect()
    gc.disable()
    try:
        y = Exp.apply(x)
        ref = weakref.ref(y.grad_fn)
        del y
        assert ref() is None  # freed by reference counting: no output -> ctx -> output cycle
    finally:
        gc.enable()


def test_double_backward_gradgradcheck(device):
    x = _t([0.3, -1.2, 2.0], device, requires_grad=True)
    assert gradcheck(Cubic.apply, (x,))
    assert gradgradcheck(Cubic.apply, (x,))


def test_mark_dirty():
    class AddOne(Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g
    leaf = _t([1., 2.], requires_grad=True)
    z = leaf.clone()
    v0 = z._version[0]
    out = AddOne.apply(z)
    assert out is z and z.grad_fn.name() == "AddOneBackward" and z._version[0] == v0 + 2
    (z * 3).sum().backward()
    assert leaf.grad.tolist() == [3., 3.]
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad has been used in an in-place "
                                           "operation."):
        AddOne.apply(_t([1.], requires_grad=True))

    class NotReturned(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.mark_dirty(x)
            return x * 2
    with pytest.raises(RuntimeError, match="Some elements marked as dirty during the forward method were not "
                                           "returned as output"):
        NotReturned.apply(_t([1.], requires_grad=True).clone())


def test_non_differentiable_outputs_materialize_and_non_tensor_outputs():
    seen = {}

    class Split(Function):
        @staticmethod
        def forward(ctx, x):
            idx = x * 0 + 1
            ctx.mark_non_differentiable(idx)
            return x * 2, 5, idx

        @staticmethod
        def backward(ctx, g0, g1, g2):
            seen["grads"] = (g0, g1, g2)
            return g0 * 2
    x = _t([1., 2.], requires_grad=True)
    a, k, idx = Split.apply(x)
    assert k == 5 and not idx.requires_grad and idx.grad_fn is None and a.output_nr == 0
    a.sum().backward()
    g0, g1, g2 = seen["grads"]
    assert g0.tolist() == [1., 1.] and g1 is None and g2.tolist() == [0., 0.]

    class Two(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 1, x * 2

        @staticmethod
        def backward(ctx, g1, g2):
            seen["two"] = (g1, g2)
            return g1
    a, b = Two.apply(x)
    assert b.output_nr == 1
    a.sum().backward()
    assert seen["two"][1] is None


def test_input_returned_as_output_is_an_alias():
    class Ident(Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 4
    x = _t([1., 2.], requires_grad=True)
    y = Ident.apply(x)
    assert y is not x and y._base is x and y.grad_fn.name() == "IdentBackward"
    y.sum().backward()
    assert x.grad.tolist() == [4., 4.]
    with torch.no_grad():
        y = Ident.apply(x)
    assert y is not x and not y.requires_grad


def test_setup_context_style_with_kwargs(device):
    class Mul(Function):
        @staticmethod
        def forward(x, k=2.0):
            return x * k

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, k = inputs
            ctx.k = k
            ctx.save_for_backward(x)

        @staticmethod
        def backward(ctx, g):
            return g * ctx.k, None
    x = _t([1., 2.], device, requires_grad=True)
    Mul.apply(x, k=3.0).sum().backward()
    assert x.grad.tolist() == [3., 3.]
    x.grad = None
    Mul.apply(x).sum().backward()
    assert x.grad.tolist() == [2., 2.]


def test_once_differentiable():
    class Sq(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            assert not torch.is_grad_enabled()
            return 2 * x * g
    x = _t([1., 2.], requires_grad=True)
    Sq.apply(x).sum().backward()
    assert x.grad.tolist() == [2., 4.]
    y = Sq.apply(x)
    go = _t([1., 1.], requires_grad=True)
    g, = torch.autograd.grad(y, x, go, create_graph=True)
    assert g.tolist() == [2., 4.] and g.grad_fn.name() == "DelayedError"
    with pytest.raises(RuntimeError, match="trying to differentiate twice a function that was marked with "
                                           "@once_differentiable"):
        g.sum().backward()


def test_legacy_and_missing_methods():
    class Legacy(Function):
        def forward(self, x):
            return x
    with pytest.warns(DeprecationWarning, match="should not be instantiated"):
        inst = Legacy()
    with pytest.raises(RuntimeError, match="Legacy autograd function with non-static forward method is "
                                           "deprecated"):
        inst(_t([1.]))

    class NoBackward(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2
    with pytest.raises(NotImplementedError, match="You must implement either the backward or vjp method"):
        NoBackward.apply(_t([1.], requires_grad=True)).sum().backward()

    class Both(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g

        @staticmethod
        def vjp(ctx, g):
            return g
    with pytest.raises(RuntimeError, match="Implementing both 'backward' and 'vjp'"):
        Both.apply(_t([1.], requires_grad=True)).sum().backward()


def test_custom_function_forward_ad(device):
    fwAD = torch.autograd.forward_ad

    class Sin(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_forward(x)
            return torch.tensor(np.sin(x.detach()._host()), device=x.device, dtype=x.dtype)

        @staticmethod
        def backward(ctx, g):
            raise AssertionError("not used")

        @staticmethod
        def jvp(ctx, t):
            (x,) = ctx.saved_tensors
            return t * torch.tensor(np.cos(x.detach()._host()), device=x.device, dtype=x.dtype)
    x = _t([0.1, 0.7], device)
    with fwAD.dual_level():
        y = Sin.apply(fwAD.make_dual(x, _t([1., 2.], device)))
        np.testing.assert_allclose(fwAD.unpack_dual(y).tangent.tolist(), np.cos([0.1, 0.7]) * [1, 2])
        with pytest.raises(NotImplementedError, match="You must implement the jvp function"):
            Cubic.apply(fwAD.make_dual(x, _t([1., 2.], device)))


# --- a user's CUDA kernel (the docstring example of autograd.function) -------------------------------------

def _cube_kernel():
    from autograd_gpu.backend import kernels
    return kernels.elementwise("T x", "T y", "y = x * x * x", "user_cube_fwd", register=False)


class Cube(Function):
    kernel = None

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        a = x.detach()._data
        if x.device.uses_kernels:  # cuda / cuda_emulated: the same CUDA source
            if Cube.kernel is None:
                Cube.kernel = _cube_kernel()
            y = Cube.kernel(x.device, a)
        else:                      # cpu: NumPy
            y = a * a * a
        return torch.Tensor._make(y, x.device)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x * x


def test_user_kernel_function(device):
    x = _t([0.5, -1.5, 2.0], device, requires_grad=True)
    y = Cube.apply(x)
    assert str(y.device).startswith(device)
    np.testing.assert_allclose(y.tolist(), np.array([0.5, -1.5, 2.0]) ** 3)
    assert gradcheck(Cube.apply, (x,))
    assert gradgradcheck(Cube.apply, (x,))


def test_public_exports():
    ag = torch.autograd
    for name in ("Function", "grad", "backward", "functional", "forward_ad", "graph", "gradcheck",
                 "gradgradcheck",
                 "detect_anomaly", "set_detect_anomaly", "no_grad", "enable_grad", "set_grad_enabled",
                 "inference_mode", "Node", "set_multithreading_enabled"):
        assert hasattr(ag, name), name
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with ag.set_multithreading_enabled(False):
            pass
