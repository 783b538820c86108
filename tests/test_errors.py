"""The error catalogue: PyTorch's exception type and exact message for each mistake, raised before anything is
modified: every tensor involved keeps its data, version, grad, grad_fn and requires_grad.

Messages are PyTorch 2.13's for the same call (only ops that exist in autograd_gpu are covered here; the
devices case uses the emulated CUDA device, whose name stands where PyTorch prints ``cuda:0``).
"""
import re

import numpy as np
import pytest

import autograd_gpu as torch

from conftest import DEVICES

SECOND_BACKWARD = (
    "Trying to backward through the graph a second time (or directly access saved tensors after they have "
    "already been freed). Saved intermediate values of the graph are freed when you call .backward() or "
    "autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time or "
    "if you need to access saved tensors after calling backward.")


def _v(t):
    v = t._version
    return v if isinstance(v, int) else v[0]


def _state(t):
    g = t._grad
    return (t._host().copy(), t.dtype, tuple(t.shape), _v(t), t.grad_fn, t.requires_grad, t.is_leaf, g,
            None if g is None else g._host().copy())


def _same(a, b):
    assert a[1:3] == b[1:3]
    np.testing.assert_array_equal(a[0], b[0])
    assert a[3] == b[3], "version changed"
    assert a[4] is b[4] and a[5] == b[5] and a[6] == b[6], "autograd metadata changed"
    assert a[7] is b[7], ".grad replaced"
    if a[8] is not None:
        np.testing.assert_array_equal(a[8], b[8])


def _check(exc, msg, fn, *tensors, regex=False):
    before = [_state(t) for t in tensors]
    with pytest.raises(exc, match=msg if regex else "^" + re.escape(msg) + "$"):
        fn()
    for b, t in zip(before, tensors):
        _same(b, _state(t))


def _leaf(*shape, dtype=torch.float32, device="cpu"):
    return torch.ones(*shape, dtype=dtype, device=device).requires_grad_()


# --- shapes -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape_a,shape_b,call,msg", [
    ((2, 3), (4, 5), "mm", "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"),
    ((2, 3), (4, 5), "matmul", "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"),
    ((2, 3), (4, 5), "@", "mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"),
    ((3,), (4, 5), "@", "mat1 and mat2 shapes cannot be multiplied (1x3 and 4x5)"),
    ((2, 3), (4,), "@", "size mismatch, got input (2), mat (2x3), vec (4)"),
    ((2, 3), (4,), "mv", "size mismatch, got input (2), mat (2x3), vec (4)"),
    ((3,), (4,), "dot", "inconsistent tensor size, expected tensor [3] and src [4] to have the same number "
                        "of elements, but got 3 and 4 elements respectively"),
    ((3,), (4,), "@", "inconsistent tensor size, expected tensor [3] and src [4] to have the same number of "
                      "elements, but got 3 and 4 elements respectively"),
    ((2, 2, 3), (2, 4, 5), "bmm", "Expected size for first two dimensions of batch2 tensor to be: [2, 3] "
                                  "but got: [2, 4]."),
    ((2, 3), (3,), "mm", "mat2 must be a matrix"),
])
def test_matmul_shape_mismatch(shape_a, shape_b, call, msg):
    a = _leaf(*shape_a)
    b = torch.ones(*shape_b)
    fn = (lambda: a @ b) if call == "@" else (lambda: getattr(torch, call)(a, b))
    _check(RuntimeError, msg, fn, a, b)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow"])
@pytest.mark.parametrize("device", DEVICES)
def test_broadcast_mismatch(op, device):
    a = _leaf(2, 3, device=device)
    b = torch.ones(4, 3, device=device, requires_grad=True)
    _check(RuntimeError, "The size of tensor a (2) must match the size of tensor b (4) at non-singleton "
                         "dimension 0",
           lambda: getattr(torch, op)(a, b), a, b)
    c = torch.ones(5, 1, 3, device=device)
    d = torch.ones(2, 4, device=device)
    _check(RuntimeError, "The size of tensor a (3) must match the size of tensor b (4) at non-singleton "
                         "dimension 2",
           lambda: getattr(torch, op)(c, d), c, d)


def test_inplace_broadcast_mismatch():
    y = _leaf(2) * 1
    _check(RuntimeError, "output with shape [2] doesn't match the broadcast shape [2, 2]",
           lambda: y.add_(torch.ones(2, 2)), y)
    x = torch.ones(3)
    _check(RuntimeError, "The size of tensor a (3) must match the size of tensor b (2) at non-singleton "
                         "dimension 0",
           lambda: x.add_(torch.ones(2)), x)
    _check(RuntimeError, "output with shape [2, 3] doesn't match the broadcast shape [4, 2, 3]",
           lambda: torch.ones(2, 3).copy_(torch.ones(4, 1, 3)))
    z = torch.ones(2, 3)
    _check(RuntimeError, "The size of tensor a (3) must match the size of tensor b (2) at non-singleton "
                         "dimension 1",
           lambda: z.copy_(torch.ones(2)), z)


@pytest.mark.parametrize("fn,msg", [
    (lambda a: a.t().view(6), "view size is not compatible with input tensor's size and stride (at least one "
                              "dimension spans across two contiguous subspaces). Use .reshape(...) instead."),
    (lambda a: a.view(4), "shape '[4]' is invalid for input of size 6"),
    (lambda a: a.reshape(5), "shape '[5]' is invalid for input of size 6"),
    (lambda a: a.view(-1, -1), "only one dimension can be inferred"),
    (lambda a: a.expand(3, 3), "The expanded size of the tensor (3) must match the existing size (2) at "
                               "non-singleton dimension 0.  Target sizes: [3, 3].  Tensor sizes: [2, 3]"),
    (lambda a: a.expand(3), "expand(torch.FloatTensor{[2, 3]}, size=[3]): the number of sizes provided (1) "
                            "must be greater or equal to the number of dimensions in the tensor (2)"),
    (lambda a: a.flatten(1, 0), "flatten() has invalid args: start_dim cannot come after end_dim"),
    (lambda a: a.mean((0, 0)), "dim 0 appears multiple times in the list of dims"),
])
def test_view_and_shape_errors(fn, msg):
    a = _leaf(2, 3)
    _check(RuntimeError, msg, lambda: fn(a), a)


@pytest.mark.parametrize("fn,msg", [
    (lambda a: a.transpose(0, 2), "Dimension out of range (expected to be in range of [-2, 1], but got 2)"),
    (lambda a: a.sum(2), "Dimension out of range (expected to be in range of [-2, 1], but got 2)"),
    (lambda a: a.unsqueeze(3), "Dimension out of range (expected to be in range of [-3, 2], but got 3)"),
    (lambda a: a.size(-3), "Dimension out of range (expected to be in range of [-2, 1], but got -3)"),
])
def test_dim_out_of_range(fn, msg):
    a = _leaf(2, 3)
    _check(IndexError, msg, lambda: fn(a), a)


@pytest.mark.parametrize("fn,msg", [
    (lambda a: torch.norm(a.reshape(1, 2, 3), "nuc"), "linalg.matrix_norm: dim must be a 2-tuple. Got 0 1 2"),
    (lambda a: torch.norm(a, "nuc", dim=1), "linalg.matrix_norm: dim must be a 2-tuple. Got 1"),
    (lambda a: torch.norm(a, "nuc", dim=(1, 1)), "linalg.matrix_norm: dims must be different. Got (1, 1)"),
    (lambda a: torch.norm(a[0], "nuc"), "linalg.matrix_norm: The input tensor A must have at least 2 dimensions."),
    (lambda a: torch.norm(a.long(), "nuc"),
     "linalg.matrix_norm: Expected a floating point or complex tensor as input. Got Long"),
    (lambda a: torch.norm(a.half(), "nuc"), "linalg.matrix_norm: Low precision dtypes not supported. Got Half"),
])
def test_nuclear_norm_errors(fn, msg):
    a = _leaf(2, 3)
    _check(RuntimeError, msg, lambda: fn(a), a)


def test_nuclear_norm_refuses_a_second_derivative_and_forward_mode():
    a = _leaf(2, 3)
    n = torch.norm(a, "nuc")
    with pytest.raises(RuntimeError, match="second derivative and forward-mode AD of linalg.svd"):
        torch.autograd.grad(n, [a], create_graph=True)
    import autograd_gpu.autograd.forward_ad as fwAD
    with fwAD.dual_level():
        dual = fwAD.make_dual(torch.ones(2, 3), torch.ones(2, 3))
        with pytest.raises(RuntimeError, match="second derivative and forward-mode AD of linalg.svd"):
            torch.norm(dual, "nuc")


def test_loss_target_size():
    a = _leaf(2, 3)
    b = torch.ones(3, 2)
    _check(ValueError, "Target size (torch.Size([3, 2])) must be the same as input size (torch.Size([2, 3]))",
           lambda: torch.nn.functional.binary_cross_entropy_with_logits(a, b), a, b)


# --- dtypes -------------------------------------------------------------------------------------------------

def test_int_tensor_requires_grad():
    i = torch.ones(2, dtype=torch.int64)
    _check(RuntimeError, "only Tensors of floating point and complex dtype can require gradients",
           lambda: i.requires_grad_(), i)
    _check(RuntimeError, "only Tensors of floating point and complex dtype can require gradients",
           lambda: setattr(i, "requires_grad", True), i)
    _check(RuntimeError, "Only Tensors of floating point and complex dtype can require gradients",
           lambda: torch.tensor([1, 2], requires_grad=True))
    _check(RuntimeError, "Only Tensors of floating point and complex dtype can require gradients",
           lambda: torch.zeros(2, dtype=torch.bool, requires_grad=True))


def test_dtype_errors():
    i = torch.ones(2, 3, dtype=torch.int64)
    _check(RuntimeError, "mean(): could not infer output dtype. Input dtype must be either a floating point "
                         "or complex dtype. Got: Long", lambda: i.mean(), i)
    _check(RuntimeError, "Integers to negative integer powers are not allowed.", lambda: i ** -1, i)
    cast = "result type Float can't be cast to the desired output type Long"
    _check(RuntimeError, cast, lambda: i.add_(1.5), i)
    _check(RuntimeError, cast, lambda: i.mul_(torch.ones(2, 3)), i)
    b = torch.tensor([True, False])
    _check(RuntimeError, "Subtraction, the `-` operator, with two bool tensors is not supported. Use the "
                         "`^` or `logical_xor()` operator instead.", lambda: b - b, b)
    _check(RuntimeError, "Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
                         "to invert a mask, use the `~` or `logical_not()` operator instead.", lambda: -b, b)


# --- devices ------------------------------------------------------------------------------------------------

@pytest.mark.skipif("cuda_emulated" not in DEVICES, reason="needs the emulated CUDA device")
@pytest.mark.parametrize("fn", [
    lambda c, g: c + g, lambda c, g: g * c, lambda c, g: torch.sub(c, g), lambda c, g: c.matmul(g.t()),
    lambda c, g: torch.nn.functional.binary_cross_entropy_with_logits(c, g),
    lambda c, g: torch.nn.functional.linear(c, g, c[0]), lambda c, g: torch.nn.functional.linear(c, c, g[0]),
])
def test_mixed_devices(fn):
    c = _leaf(2, 2)
    g = torch.ones(2, 2, device="cuda_emulated")
    # PyTorch names the first non-CPU device first, whatever the operand order
    _check(RuntimeError, "Expected all tensors to be on the same device, but found at least two devices, "
                         "cuda_emulated:0 and cpu!", lambda: fn(c, g), c, g)


@pytest.mark.skipif("cuda_emulated" not in DEVICES, reason="needs the emulated CUDA device")
def test_mixed_devices_grad_assignment():
    x = _leaf(2)
    _check(RuntimeError,
           "attempting to assign a gradient with device type 'cuda_emulated' to a tensor with device type "
           "'cpu'. Please ensure that the gradient and the tensor are on the same device",
           lambda: setattr(x, "grad", torch.ones(2, device="cuda_emulated")), x)


# --- autograd -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
def test_wrong_gradient_shape(device):
    x = _leaf(2, device=device)
    y = x * 2
    g = torch.ones(3, device=device)
    _check(RuntimeError, "Mismatch in shape: grad_output[0] has a shape of torch.Size([3]) and output[0] "
                         "has a shape of torch.Size([2]).", lambda: y.backward(g), x, y, g)
    _check(RuntimeError, "grad can be implicitly created only for scalar outputs", lambda: y.backward(), x, y)
    y.sum().backward()  # the graph is intact after the refusals
    assert x.grad.tolist() == [2.0, 2.0]


@pytest.mark.parametrize("device", DEVICES)
def test_backward_twice(device):
    x = _leaf(2, device=device)
    y = (x * x).sum()
    y.backward()
    assert x.grad.tolist() == [2.0, 2.0]
    _check(RuntimeError, SECOND_BACKWARD, lambda: y.backward(), x, y)
    _check(RuntimeError, SECOND_BACKWARD, lambda: torch.autograd.grad(y, x), x, y)


@pytest.mark.parametrize("device", DEVICES)
def test_inplace_on_leaf(device):
    x = _leaf(3, device=device)
    x.grad = torch.full((3,), 5.0, device=device)
    msg = "a leaf Variable that requires grad is being used in an in-place operation."
    other = torch.ones(3, device=device)
    for fn in (lambda: x.add_(1), lambda: x.sub_(other), lambda: x.mul_(2), lambda: x.div_(2),
               lambda: x.pow_(2), lambda: x.neg_(), lambda: x.zero_(), lambda: x.fill_(2),
               lambda: x.copy_(other)):
        _check(RuntimeError, msg, fn, x, other)


@pytest.mark.parametrize("device", DEVICES)
def test_inplace_on_saved_tensor(device):
    x = _leaf(3, device=device)
    y = x * 1
    z = y * y
    y.add_(1)
    t = "FloatTensor" if device == "cpu" else "cuda.FloatTensor"
    _check(RuntimeError,
           "one of the variables needed for gradient computation has been modified by an inplace operation: "
           f"[torch.{t} [3]], which is output 0 of Add, is at version 1; expected version 0 instead. Hint: "
           "enable anomaly detection to find the operation that failed to compute its gradient, with "
           "torch.autograd.set_detect_anomaly(True, check_nan=False).",
           lambda: z.sum().backward(), x, y, z)


def test_numpy_with_requires_grad():
    x = _leaf(2)
    msg = "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead."
    _check(RuntimeError, msg, lambda: x.numpy(), x)
    y = x * 2
    _check(RuntimeError, msg, lambda: y.numpy(), x, y)
    _check(RuntimeError, msg, lambda: np.asarray(y), x, y)


def test_requires_grad_on_nonleaf():
    x = _leaf(2)
    y = x * 2
    _check(RuntimeError, "you can only change requires_grad flags of leaf variables. If you want to use a "
                         "computed variable in a subgraph that doesn't require differentiation use "
                         "var_no_grad = var.detach().", lambda: y.requires_grad_(False), x, y)


def test_grad_api_errors():
    x = _leaf(3)
    z = _leaf(3)
    y = (x * x).sum()
    _check(RuntimeError, "One of the differentiated Tensors does not require grad",
           lambda: torch.autograd.grad(y, torch.ones(3)), x)
    _check(RuntimeError, "element 0 of tensors does not require grad and does not have a grad_fn",
           lambda: torch.autograd.grad(torch.ones(2).sum(), x), x)
    _check(RuntimeError, "The differentiated Tensor at index 1 appears to not have been used in the graph. "
                         "Set allow_unused=True if this is the desired behavior.",
           lambda: torch.autograd.grad((x * x).sum(), [x, z]), x, z)
    _check(RuntimeError, "grad can be implicitly created only for scalar outputs",
           lambda: torch.autograd.grad(x * 2, x), x)


def test_item_and_bool_errors():
    x = torch.tensor([1.0, 2.0])
    _check(RuntimeError, "a Tensor with 2 elements cannot be converted to Scalar", lambda: x.item(), x)
    _check(RuntimeError, "Boolean value of Tensor with more than one value is ambiguous", lambda: bool(x), x)
    _check(RuntimeError, "tensor.mT is only supported on matrices or batches of matrices. Got 1-D tensor.",
           lambda: x.mT, x)


def test_factory_errors():
    _check(RuntimeError, "zeros: Dimension size must be non-negative.", lambda: torch.zeros(-1))
    _check(RuntimeError, "Trying to create tensor with "
                         "negative dimension -1: [2, -1]", lambda: torch.ones(2, -1))
    _check(RuntimeError, "Trying to create tensor with negative dimension -1: [-1]", lambda: torch.randn(-1))
    _check(RuntimeError, "n must be greater or equal to 0, got -1", lambda: torch.eye(-1))
    _check(RuntimeError, "Invalid device string: 'cuda:x'", lambda: torch.device("cuda:x"))
