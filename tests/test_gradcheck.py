"""The public gradcheck / gradgradcheck: PyTorch's defaults, checks and failure text (slow, fast and
forward mode). Expected strings are what PyTorch 2.13 prints for the same programs."""
import numpy as np
import pytest

import autograd_gpu as torch
from autograd_gpu.autograd import Function, gradcheck, gradgradcheck
from autograd_gpu.autograd.gradcheck import GradcheckError

from conftest import DEVICES


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


def _t(values, device="cpu", **kw):
    return torch.tensor(values, dtype=torch.float64, device=device, **kw)


class Bad(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 3


def test_gradcheck_failure_text_matches_pytorch():
    x = _t([0.25, -1.0], requires_grad=True)
    y = _t([1., 2., 3.], requires_grad=True)
    with pytest.raises(GradcheckError) as e:
        gradcheck(lambda a, b: (a.sum() * b, Bad.apply(a)), (x, y))
    assert str(e.value) == ("Jacobian mismatch for output 1 with respect to input "
                            "0,\nnumerical:tensor([[2.0000, 0.0000],\n        [0.0000, 2.0000]], "
                            "dtype=torch.float64)\nanalytical:tensor([[3., 0.],\n        [0., 3.]], "
                            "dtype=torch.float64)\n")
    assert isinstance(e.value, RuntimeError)
    with pytest.raises(GradcheckError, match=r"(?s)Jacobian mismatch for output 1 with respect to input "
                                             r"0,\nnumerical:[-0-9.e]+\nanalytical:[-0-9.e]+\n\nThe above "
                                             r"quantities.*in fast mode.*The max per-element difference "
                                             r"\(slow mode\) is: 1\.0"):
        gradcheck(lambda a, b: (a.sum() * b, Bad.apply(a)), (x, y), fast_mode=True)
    assert gradcheck(Bad.apply, (x,), raise_exception=False) is False


def test_gradcheck_passes_fast_and_forward_modes(device):
    x = _t([[0.3, -0.2], [1.1, 0.5]], device, requires_grad=True)
    w = _t([[1.0], [-2.0]], device, requires_grad=True)

    def f(x, w):
        return (x.mm(w).sigmoid() * x).sum(1), x.t()
    assert gradcheck(f, (x, w))
    assert gradcheck(f, (x, w), fast_mode=True)
    assert gradcheck(f, (x, w), check_forward_ad=True)
    assert gradcheck(f, (x, w), check_forward_ad=True, check_backward_ad=False, fast_mode=True)
    assert gradgradcheck(f, (x, w))
    assert gradgradcheck(f, (x, w), check_fwd_over_rev=True)


def test_gradcheck_input_checks():
    with pytest.raises(ValueError, match="gradcheck expects at least one input tensor to require gradient, "
                                         "but none of them have requires_grad=True."):
        gradcheck(lambda a: a * 2, (_t([1.]),))
    x = torch.tensor([1., 2.], requires_grad=True)
    with pytest.warns(UserWarning, match="Input #0 requires gradient and is not a double precision floating "
                                         "point or complex."):
        gradcheck(lambda a: a * 2, (x,), atol=1e-2, rtol=1e-2, eps=1e-3)
    e = _t([1.]).expand(3).requires_grad_()
    with pytest.raises(RuntimeError, match="The 0th input has a dimension with stride 0"):
        gradcheck(lambda a: a * 2, (e,))
    with pytest.raises(AssertionError, match="Expected at least one of "
                                             "check_forward_ad or check_backward_ad"):
        gradcheck(lambda a: a, (_t([1.], requires_grad=True),), check_backward_ad=False)


def test_gradcheck_detects_nondeterminism_and_missing_grad_output():
    rng = np.random.default_rng(0)

    class Noisy(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * (2 + float(rng.uniform(-1e-7, 1e-7)))
    x = _t([1., 2.], requires_grad=True)
    with pytest.raises(GradcheckError, match="Backward is not reentrant"):
        gradcheck(Noisy.apply, (x,))
    assert gradcheck(Noisy.apply, (x,), nondet_tol=1e-6)

    class Ones(Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum()

        @staticmethod
        def backward(ctx, g):
            return torch.ones(2, dtype=torch.float64)  # forgets to multiply by g
    with pytest.raises(GradcheckError, match="backward not multiplied by grad_output"):
        gradcheck(Ones.apply, (x,))


def test_gradcheck_output_without_grad_must_be_constant():
    x = _t([1., 2.], requires_grad=True)
    assert gradcheck(lambda a: a.detach() * 0 + 1, (x,))
    with pytest.raises(GradcheckError, match="Numerical gradient for function expected to be zero"):
        gradcheck(lambda a: a.detach() * 2, (x,))
