"""The Tensor API as PyTorch defines it: dtype promotion, attributes, conversions, in-place basics, printing
(factories: test_factories.py). Every expected value, dtype and message below is what PyTorch 2.13 gives for
the same call."""
import re
import warnings

import numpy as np
import pytest

import autograd_gpu as torch

from conftest import DEVICES


def _v(t):
    """The version counter's value (PyTorch's ``t._version``)."""
    v = t._version
    return v if isinstance(v, int) else v[0]


def _dev(device):
    return torch.device(device)


# --- type promotion -----------------------------------------------------------------------------------------

_AB = {"b": torch.bool, "u8": torch.uint8, "i8": torch.int8, "i16": torch.int16, "i32": torch.int32,
       "i64": torch.int64, "f16": torch.float16, "f32": torch.float32, "f64": torch.float64}

# PyTorch 2.13: dtype of (tensor with dims of row dtype) op (tensor with dims of column dtype)
PROMOTE_DIM_DIM = """
       b   u8   i8  i16  i32  i64  f16  f32  f64
 b:    b   u8   i8  i16  i32  i64  f16  f32  f64
u8:   u8   u8  i16  i16  i32  i64  f16  f32  f64
i8:   i8  i16   i8  i16  i32  i64  f16  f32  f64
i16: i16  i16  i16  i16  i32  i64  f16  f32  f64
i32: i32  i32  i32  i32  i32  i64  f16  f32  f64
i64: i64  i64  i64  i64  i64  i64  f16  f32  f64
f16: f16  f16  f16  f16  f16  f16  f16  f32  f64
f32: f32  f32  f32  f32  f32  f32  f32  f32  f64
f64: f64  f64  f64  f64  f64  f64  f64  f64  f64
"""
# PyTorch 2.13: (tensor with dims of row dtype) op (0-d tensor of column dtype): the 0-d operand only
# matters when its category (bool < integer < floating) is higher
PROMOTE_DIM_0D = """
       b   u8   i8  i16  i32  i64  f16  f32  f64
 b:    b   u8   i8  i16  i32  i64  f16  f32  f64
u8:   u8   u8   u8   u8   u8   u8  f16  f32  f64
i8:   i8   i8   i8   i8   i8   i8  f16  f32  f64
i16: i16  i16  i16  i16  i16  i16  f16  f32  f64
i32: i32  i32  i32  i32  i32  i32  f16  f32  f64
i64: i64  i64  i64  i64  i64  i64  f16  f32  f64
f16: f16  f16  f16  f16  f16  f16  f16  f16  f16
f32: f32  f32  f32  f32  f32  f32  f32  f32  f32
f64: f64  f64  f64  f64  f64  f64  f64  f64  f64
"""
# PyTorch 2.13: tensor (dims or 0-d) * Python scalar True / 2 / 2.5, and tensor / scalar (true division)
PROMOTE_SCALAR = """
 b:    b  i64  f32  f32
u8:   u8   u8  f32  f32
i8:   i8   i8  f32  f32
i16: i16  i16  f32  f32
i32: i32  i32  f32  f32
i64: i64  i64  f32  f32
f16: f16  f16  f16  f16
f32: f32  f32  f32  f32
f64: f64  f64  f64  f64
"""


def _table(text, header=True):
    lines = [ln for ln in text.strip("\n").splitlines()]
    cols = lines[0].split() if header else None
    rows = {}
    for ln in lines[1:] if header else lines:
        name, rest = ln.split(":")
        rows[name.strip()] = rest.split()
    return cols, rows


def _t(dtype, zero_d):
    v = True if dtype is torch.bool else 1
    return torch.tensor(v if zero_d else [v, v], dtype=dtype)


@pytest.mark.parametrize("op", ["add", "mul"])
def test_promotion_tensor_tensor(op):
    cols, rows = _table(PROMOTE_DIM_DIM)
    f = getattr(torch, op)
    for r, res in rows.items():
        for c, expected in zip(cols, res):
            a, b = _AB[r], _AB[c]
            assert torch.promote_types(a, b) is _AB[expected], (r, c)
            assert f(_t(a, False), _t(b, False)).dtype is _AB[expected], (r, c)
            assert f(_t(a, True), _t(b, True)).dtype is _AB[expected], (r, c)  # 0-d with 0-d: same rule


@pytest.mark.parametrize("op", ["add", "mul"])
def test_promotion_dimensioned_vs_0d(op):
    cols, rows = _table(PROMOTE_DIM_0D)
    f = getattr(torch, op)
    for r, res in rows.items():
        for c, expected in zip(cols, res):
            assert f(_t(_AB[r], False), _t(_AB[c], True)).dtype is _AB[expected], (r, c)
            assert f(_t(_AB[c], True), _t(_AB[r], False)).dtype is _AB[expected], (c, r)


def test_promotion_tensor_scalar():
    _, rows = _table(PROMOTE_SCALAR, header=False)
    for r, (with_bool, with_int, with_float, div) in rows.items():
        for zero_d in (False, True):
            x = _t(_AB[r], zero_d)
            assert (x * True).dtype is _AB[with_bool], r
            assert (x * 2).dtype is _AB[with_int] and (2 * x).dtype is _AB[with_int], r
            assert (x * 2.5).dtype is _AB[with_float] and (x + 2.5).dtype is _AB[with_float], r
            assert (x / 2).dtype is _AB[div] and (x / 2.5).dtype is _AB[div], r
            assert (x + 2).dtype is _AB[with_int], r


def test_promotion_values_and_grads():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = torch.tensor([3.0, 4.0], dtype=torch.float64, requires_grad=True)
    z = x * y
    assert z.dtype is torch.float64 and z.tolist() == [3.0, 8.0]
    z.sum().backward()
    assert x.grad.dtype is torch.float32 and y.grad.dtype is torch.float64
    assert x.grad.tolist() == [3.0, 4.0] and y.grad.tolist() == [1.0, 2.0]
    i = torch.tensor([1, 2])
    assert (i / i).dtype is torch.float32 and (i * 2).tolist() == [2, 4]
    assert (torch.tensor([1, 2], dtype=torch.int32) + torch.tensor(2**40)).dtype is torch.int32


# --- attributes ---------------------------------------------------------------------------------------------

def test_shape_size_dim_numel():
    x = torch.zeros(2, 3, 4)
    assert isinstance(x.shape, torch.Size) and x.shape == (2, 3, 4)
    assert repr(x.shape) == "torch.Size([2, 3, 4])"
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4
    assert x.dim() == 3 and x.ndim == 3 and x.ndimension() == 3 and x.numel() == 24 and x.nelement() == 24
    assert len(x) == 2 and x.shape.numel() == 24 and x.element_size() == 4
    msg = "^" + re.escape("Dimension out of range (expected to be in range of [-3, 2], but got 3)") + "$"
    with pytest.raises(IndexError, match=msg):
        x.size(3)
    s = torch.zeros(())
    assert s.shape == () and s.dim() == 0 and s.numel() == 1 and repr(s.shape) == "torch.Size([])"
    with pytest.raises(TypeError, match="^len\\(\\) of a 0-d tensor$"):
        len(s)
    assert torch.zeros(0, 3).numel() == 0 and torch.zeros(0, 3).tolist() == []
    assert x.stride() == (12, 4, 1) and x.is_contiguous() and not x.mT.is_contiguous()


@pytest.mark.parametrize("device", DEVICES)
def test_device_attribute(device):
    x = torch.zeros(2, device=device)
    d = _dev(device)
    assert x.device is d and x.device == d
    if device == "cpu":
        assert repr(x.device) == "device(type='cpu')" and str(x.device) == "cpu" and not x.is_cuda
        assert x.device.index is None
    else:
        assert x.device.type == device.split(":")[0] and x.device.index == 0 and x.is_cuda
        assert str(x.device) == device.split(":")[0] + ":0"


def test_leaf_grad_fn_and_requires_grad():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    assert x.is_leaf and x.grad_fn is None and x.requires_grad
    assert not y.is_leaf and y.grad_fn.name() == "MulBackward0" and y.requires_grad
    assert re.fullmatch(r"<MulBackward0 object at 0x[0-9a-f]+>", repr(y.grad_fn))
    assert y.grad_fn.next_functions[0][0].name() == "AccumulateGrad"
    assert y.grad_fn.next_functions[0][0].variable is x
    c = torch.ones(2)
    assert c.is_leaf and not c.requires_grad and (c * 2).is_leaf and (c * 2).grad_fn is None
    assert c.requires_grad_() is c and c.requires_grad and c.is_leaf
    assert c.requires_grad_(False) is c and not c.requires_grad
    c.requires_grad = True
    assert c.requires_grad
    msg = ("you can only change requires_grad flags of leaf variables. If you want to use a computed "
           "variable in a subgraph that doesn't require differentiation use var_no_grad = var.detach().")
    with pytest.raises(RuntimeError, match="^" + re.escape(msg) + "$"):
        y.requires_grad_(False)
    with pytest.raises(RuntimeError, match="^" + re.escape(msg) + "$"):
        y.requires_grad = False
    assert y.requires_grad_(True) is y
    i = torch.ones(2, dtype=torch.int64)
    msg = "^" + re.escape("only Tensors of floating point and complex dtype can require gradients") + "$"
    with pytest.raises(RuntimeError, match=msg):
        i.requires_grad_()
    with pytest.raises(RuntimeError, match=msg):
        i.requires_grad = True
    assert not i.requires_grad and i.requires_grad_(False) is i


def test_grad_setter():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    g = torch.ones(2)
    x.grad = g
    assert x.grad is g
    x.grad = None
    assert x.grad is None
    x.grad = torch.ones(2).requires_grad_()  # allowed, as in PyTorch
    del x.grad
    assert x.grad is None
    cases = [
        (3, TypeError, "assigned grad expected to be a Tensor or None but got grad of type int"),
        (torch.ones(3), RuntimeError,
         "attempting to assign a gradient of size '[3]' to a tensor of size '[2]'. Please ensure that the "
         "gradient and the tensor are the same size"),
        (torch.ones(2, dtype=torch.float64), RuntimeError,
         "attempting to assign a gradient with dtype 'double' to a tensor with grad_dtype 'Float'. The "
         "gradient must match the tensor's grad_dtype (defaults to the tensor's dtype). You can set the "
         "tensor's grad_dtype attribute with a specific dtype, or None to allow any dtype. Set grad_dtype "
         "with caution. Diverging the dtypes of a tensor and its gradient may break downstream systems that "
         "assume they match."),
        (torch.ones(2, dtype=torch.int64), RuntimeError,
         "attempting to assign a gradient with dtype 'long int' to a tensor with grad_dtype 'Float'."),
    ]
    for value, exc, msg in cases:
        with pytest.raises(exc, match="^" + re.escape(msg)):
            x.grad = value
        assert x.grad is None


def test_data_detach_and_detach_():
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    d = x.data
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    d.add_(1)
    assert x.tolist() == [2.0, 3.0, 4.0] and _v(x) == 0  # .data shares memory, not the version counter
    e = x.detach()
    assert not e.requires_grad and e.is_leaf
    e.mul_(2)
    assert x.tolist() == [4.0, 6.0, 8.0] and _v(x) == 1 and _v(e) == 1  # detach() shares both
    y = x * 2
    assert y.detach_() is y and not y.requires_grad and y.is_leaf and y.grad_fn is None
    v = torch.tensor([[1.0, 2.0]], requires_grad=True).view(2)
    with pytest.raises(RuntimeError, match="^" + re.escape("Can't detach views in-place. Use detach() "
                                                           "instead.")):
        v.detach_()
    x.data = torch.zeros(3)
    assert x.tolist() == [0.0, 0.0, 0.0] and x.requires_grad


def test_T_mT():
    x = torch.tensor([[1, 2], [3, 4]])
    assert x.T.tolist() == [[1, 3], [2, 4]] and x.mT.tolist() == [[1, 3], [2, 4]]
    assert x.t().tolist() == x.T.tolist()
    b = torch.zeros(2, 3, 4)
    assert b.mT.shape == (2, 4, 3) and b.mT.stride() == (12, 1, 4)
    with pytest.raises(RuntimeError, match="^" + re.escape("tensor.mT is only supported on matrices or "
                                                           "batches of matrices. Got 1-D tensor.") + "$"):
        torch.tensor([1.0, 2.0]).mT
    y = torch.tensor([[1.0, 2.0]], requires_grad=True)
    y.T.sum().backward()
    assert y.grad.tolist() == [[1.0, 1.0]]


def test_item_tolist_numpy():
    assert torch.tensor([1.5]).item() == 1.5 and type(torch.tensor([1.5]).item()) is float
    assert torch.tensor(3).item() == 3 and type(torch.tensor(3).item()) is int
    assert torch.tensor(True).item() is True and torch.tensor([[2.0]]).item() == 2.0
    with pytest.raises(RuntimeError, match="^a Tensor with 2 elements cannot be converted to Scalar$"):
        torch.tensor([1.0, 2.0]).item()
    assert torch.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]] and torch.tensor(2.5).tolist() == 2.5
    x = torch.tensor([1.25, 2.0], requires_grad=True)
    assert x.tolist() == [1.25, 2.0] and x[0].item() == 1.25 if hasattr(torch.Tensor, "__getitem__") else True
    msg = "^" + re.escape("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                          "instead.")
    with pytest.raises(RuntimeError, match=msg):
        x.numpy()
    with pytest.raises(RuntimeError, match=msg):
        np.asarray(x)
    assert x.detach().numpy().dtype == np.float32 and x.numpy(force=True).tolist() == [1.25, 2.0]
    assert torch.tensor([1, 2], dtype=torch.int32).numpy().dtype == np.int32
    assert float(torch.tensor(2.5)) == 2.5 and int(torch.tensor(2.7)) == 2 and not bool(torch.tensor([0.0]))
    with pytest.raises(RuntimeError, match="^Boolean value of Tensor with more than one value is ambiguous$"):
        bool(torch.tensor([1.0, 2.0]))
    assert format(torch.tensor(2.5), ".2f") == "2.50"


def test_clone_contiguous():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert c.grad_fn.name() == "CloneBackward0" and not c.is_leaf and c.tolist() == [1.0, 2.0]
    (c * c).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]
    p = torch.ones(2)
    q = p.clone()
    q.add_(1)
    assert p.tolist() == [1.0, 1.0] and q.is_leaf and not q.requires_grad
    m = torch.zeros(2, 3, requires_grad=True)
    assert m.contiguous() is m
    t = m.t().contiguous()
    assert t.is_contiguous() and t.grad_fn.name() == "CloneBackward0" and t.shape == (3, 2)


@pytest.mark.parametrize("device", DEVICES)
def test_to_and_casts(device):
    x = torch.tensor([1.5, -2.7, 0.0], device=device)
    assert x.to(torch.float32) is x and x.float() is x and x.to(device) is x
    assert x.to(torch.float32, copy=True) is not x
    assert x.long().tolist() == [1, -2, 0] and x.int().dtype is torch.int32
    assert x.bool().tolist() == [True, True, False]
    assert x.double().dtype is torch.float64 and x.half().dtype is torch.float16
    assert x.to(dtype=torch.float64).dtype is torch.float64
    assert x.to(torch.tensor([1], dtype=torch.int32)).dtype is torch.int32
    c = x.cpu()
    assert c.device == torch.device("cpu") and c.tolist() == x.tolist()
    assert x.to("cpu", torch.float64).dtype is torch.float64
    back = c.to(device)
    assert back.device == torch.device(device) and back.tolist() == x.tolist()
    assert (back is c) == (device == "cpu")
    assert torch.tensor([1, 0]).to(device).float().tolist() == [1.0, 0.0]


@pytest.mark.parametrize("device", DEVICES)
def test_to_is_differentiable(device):
    x = torch.tensor([1.5, -2.0, 0.5], requires_grad=True)
    y = x.to(torch.float64)
    assert y.grad_fn.name() == "ToCopyBackward0" and y.dtype is torch.float64
    (y * y).sum().backward()
    assert x.grad.dtype is torch.float32 and x.grad.tolist() == [3.0, -4.0, 1.0]
    x.grad = None
    z = x.to(device)
    (z * 3).sum().backward()
    assert x.grad.device == torch.device("cpu") and x.grad.tolist() == [3.0, 3.0, 3.0]
    n = x.long()
    assert not n.requires_grad and n.grad_fn is None  # casting to an integer type cuts the graph
    assert not x.bool().requires_grad


def test_new_factories():
    x = torch.tensor([1.0, 2.0], dtype=torch.float64)
    assert x.new_tensor([3, 4]).dtype is torch.float64 and x.new_tensor([3, 4]).tolist() == [3.0, 4.0]
    assert x.new_zeros(2, 3).shape == (2, 3) and x.new_zeros((2,)).dtype is torch.float64
    assert x.new_ones(2).tolist() == [1.0, 1.0] and x.new_full((2,), 3).tolist() == [3.0, 3.0]
    assert x.new_empty(2).shape == (2,) and x.new_tensor([1], dtype=torch.int64).dtype is torch.int64
    assert x.new_zeros(2, requires_grad=True).requires_grad


# --- in-place basics ----------------------------------------------------------------------------------------

def test_zero_fill_copy():
    x = torch.tensor([1.0, 2.0, 3.0])
    assert x.zero_() is x and x.tolist() == [0.0, 0.0, 0.0] and _v(x) == 1
    assert x.fill_(2.5).tolist() == [2.5, 2.5, 2.5] and _v(x) == 2
    assert x.fill_(torch.tensor(1)).tolist() == [1.0, 1.0, 1.0]
    assert x.copy_(torch.tensor([4, 5, 6])).tolist() == [4.0, 5.0, 6.0] and x.dtype is torch.float32
    assert x.copy_(torch.tensor(7.0)).tolist() == [7.0] * 3 and _v(x) == 5
    i = torch.tensor([1, 2, 3])
    assert i.fill_(2.5).tolist() == [2, 2, 2]
    assert i.copy_(torch.tensor([1.7, -2.2, 0.0])).tolist() == [1, -2, 0]
    m = torch.zeros(2, 3)
    m.copy_(torch.tensor([1.0, 2.0, 3.0]))
    assert m.tolist() == [[1.0, 2.0, 3.0]] * 2
    with pytest.raises(RuntimeError, match="^" + re.escape("fill_ only supports 0-dimension value tensor "
                                                           "but got tensor with 1 dimensions.") + "$"):
        x.fill_(torch.ones(3))


def test_grad_of_zero_fill_copy():
    x = torch.ones(2, requires_grad=True)
    y = x * 1
    y.zero_()
    assert y.grad_fn.name() == "ZeroBackward0"
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]
    y = x * 1
    y.fill_(3)
    assert y.grad_fn.name() == "FillBackward2" and y.tolist() == [3.0, 3.0]
    v = torch.tensor(2.0, requires_grad=True)
    z = torch.ones(2)
    z.fill_(v)
    assert z.grad_fn.name() == "FillBackward3"
    (z * torch.tensor([1.0, 2.0])).sum().backward()
    assert v.grad.item() == 3.0
    w = torch.tensor([2.0, 3.0], requires_grad=True)
    x.grad = None
    y = x * 1
    y.copy_(w * w)
    assert y.grad_fn.name() == "CopyBackwards" and y.tolist() == [4.0, 9.0]
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0] and w.grad.tolist() == [4.0, 6.0]
    d = torch.ones(2, 3, dtype=torch.float64)
    s = torch.tensor([1.0, 2.0], requires_grad=True)
    d.copy_(s.unsqueeze(1))  # broadcast and cast: the gradient is summed back and cast to float32
    (d * d).sum().backward()
    assert s.grad.dtype is torch.float32 and s.grad.tolist() == [6.0, 12.0]


# --- printing -----------------------------------------------------------------------------------------------

def test_repr_suffixes():
    assert repr(torch.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(torch.tensor([1.0, 2.0], requires_grad=True)) == "tensor([1., 2.], requires_grad=True)"
    x = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    assert repr(x) == "tensor([1., 2.], dtype=torch.float64, requires_grad=True)"
    assert repr(x * 2) == "tensor([2., 4.], dtype=torch.float64, grad_fn=<MulBackward0>)"
    assert repr((x * 2).sum()) == "tensor(6., dtype=torch.float64, grad_fn=<SumBackward0>)"
    y = torch.tensor([1.0, 2.0], requires_grad=True) * 2
    assert repr(y) == "tensor([2., 4.], grad_fn=<MulBackward0>)"
    assert repr(torch.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(torch.tensor([1, 2], dtype=torch.int32)) == "tensor([1, 2], dtype=torch.int32)"
    assert repr(torch.tensor([True])) == "tensor([True])"
    assert repr(torch.tensor(1.5, dtype=torch.float16)) == "tensor(1.5000, dtype=torch.float16)"
    assert repr(torch.tensor([])) == "tensor([])"
    assert repr(torch.tensor([], dtype=torch.int64)) == "tensor([], dtype=torch.int64)"
    assert repr(torch.zeros(2, 0)) == "tensor([], size=(2, 0))"
    assert repr(torch.zeros(0, 3, requires_grad=True)) == "tensor([], size=(0, 3), requires_grad=True)"
    assert repr(x.detach()) == "tensor([1., 2.], dtype=torch.float64)"
    assert repr(torch.tensor([1.0, 2.0], requires_grad=True).to(torch.float64)) == \
        "tensor([1., 2.], dtype=torch.float64, grad_fn=<ToCopyBackward0>)"
    assert str(torch.tensor([1.5, 2.0], requires_grad=True)) == "tensor([1.5000, 2.0000], requires_grad=True)"
    with torch.no_grad():
        assert repr(x * 2) == "tensor([2., 4.], dtype=torch.float64)"


@pytest.mark.parametrize("device", [d for d in DEVICES if d != "cpu"])
def test_repr_device_suffix(device):
    name = device.split(":")[0] + ":0"
    assert repr(torch.tensor([1.0, 2.0], device=device)) == f"tensor([1., 2.], device='{name}')"
    x = torch.tensor([1.0], device=device, requires_grad=True)
    assert repr(x * 2) == f"tensor([2.], device='{name}', grad_fn=<MulBackward0>)"
    x = torch.tensor([1.0], dtype=torch.float64, device=device, requires_grad=True)
    # past 80 columns the suffixes wrap, as PyTorch's _str_intern does
    assert repr(x * 2) == (f"tensor([2.], device='{name}', dtype=torch.float64,\n"
                           "       grad_fn=<MulBackward0>)")


def test_warnings_are_not_raised_by_plain_use():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = torch.tensor([1.0, 2.0], requires_grad=True)
        (x * x).sum().backward()
        assert x.grad.tolist() == [2.0, 4.0]


def test_T_is_permute_at_every_rank_and_warns_once_per_kind(monkeypatch):
    """PyTorch's numpy_T: x.T reverses all dims as a PermuteBackward0 view (2-D included; x.t() is
    TBackward0), warning once per process for ranks other than 2 and once for 0-D."""
    import warnings
    from autograd_gpu.ops import shape as shape_ops
    monkeypatch.setattr(shape_ops, "_T_WARNED", [False, False])
    expect = [((2, 3), None), ((2, 3, 4), "dimension other than 2"), ((4,), None), ((), "0-D tensors")]
    for dims, warned in expect:
        values = np.arange(float(np.prod(dims, dtype=int))).reshape(dims)
        x = torch.tensor(values, requires_grad=True)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            y = x.T
        messages = [str(m.message) for m in w]
        assert (len(messages) == 1 and warned in messages[0]) if warned else not messages, (dims, messages)
        assert type(y.grad_fn).__name__ == "PermuteBackward0" and y._base is x
        np.testing.assert_array_equal(y.detach().numpy(), values.T)
    assert type(torch.ones(2, 3, requires_grad=True).t().grad_fn).__name__ == "TBackward0"
