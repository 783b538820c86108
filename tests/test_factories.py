"""Tensor factories as PyTorch defines them: tensor/as_tensor/from_numpy, zeros/ones/full/empty/eye/arange/
linspace, rand/randn/randint and the *_like forms, seeds, dtype inference and the default dtype. Every
expected value, dtype and message is what PyTorch 2.13 gives for the same call."""
import re

import numpy as np
import pytest

import autograd_gpu as torch

from conftest import DEVICES


def _dev(device):
    return torch.device(device)


# --- factories ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("data,dtype", [
    ([1, 2, 3], torch.int64), ([1.0, 2], torch.float32), ([True, False], torch.bool), (3, torch.int64),
    (3.5, torch.float32), (True, torch.bool), ([], torch.float32), ((), torch.float32),
    ([[1, 2], [3, 4]], torch.int64),
    ([True, 2], torch.int64), ([1, 2.5], torch.float32), ([[1], [2.0]], torch.float32),
    (np.float64(2.0), torch.float64), (np.int32(2), torch.int32), (np.bool_(True), torch.bool),
    (np.float16(1), torch.float16), ([np.float64(1.0)], torch.float64),
    ([np.float32(1.0), 2.0], torch.float32),
    ([np.int32(1), 2], torch.int64), ([np.int32(1), 2.5], torch.float32),
    (np.array([1, 2], dtype=np.int32), torch.int32), (np.array([1.0, 2.0]), torch.float64),
    (np.array([1, 2], dtype=np.uint8), torch.uint8), (np.array(True), torch.bool),
])
def test_tensor_dtype_inference(data, dtype):
    t = torch.tensor(data)
    assert t.dtype is dtype
    np.testing.assert_array_equal(t.numpy(), np.asarray(data))


def test_tensor_explicit_dtype_and_python_types():
    assert torch.tensor([1, 2], dtype=torch.float64).dtype is torch.float64
    assert torch.tensor([1.5], dtype=torch.int64).tolist() == [1]
    assert torch.tensor([1, 2], dtype=float).dtype is torch.float64  # Python float is double
    assert torch.zeros(2, dtype=float).dtype is torch.float64
    assert torch.zeros(2, dtype=int).dtype is torch.int64
    assert torch.zeros(2, dtype=bool).dtype is torch.bool
    assert torch.tensor([0, 2], dtype=torch.bool).tolist() == [False, True]
    assert (torch.float32, torch.float64, torch.float16, torch.int64, torch.int32, torch.int16) == \
        (torch.float, torch.double, torch.half, torch.long, torch.int, torch.short)
    assert repr(torch.float32) == "torch.float32" and repr(torch.bool) == "torch.bool"
    assert torch.float32.is_floating_point and not torch.int64.is_floating_point
    assert torch.float32.itemsize == 4


def test_tensor_copies_and_as_tensor_shares():
    a = np.ones(3)
    t = torch.tensor(a)
    a[0] = 5
    assert t.tolist() == [1.0, 1.0, 1.0]
    a = np.ones(3)
    s = torch.as_tensor(a)
    f = torch.from_numpy(a)
    a[0] = 5
    assert s.tolist() == [5.0, 1.0, 1.0] and f.tolist() == [5.0, 1.0, 1.0]
    assert s.dtype is torch.float64 and f.dtype is torch.float64
    c = torch.as_tensor(np.ones(2, dtype=np.float32), dtype=torch.float64)  # a cast copies
    assert c.dtype is torch.float64
    x = torch.ones(2)
    assert torch.as_tensor(x) is x
    assert torch.as_tensor([1, 2]).dtype is torch.int64
    n = x.numpy()
    n[1] = 7
    assert x.tolist() == [1.0, 7.0]  # numpy() shares memory on cpu


def test_legacy_tensor_constructor():
    assert torch.Tensor().shape == (0,) and torch.Tensor().dtype is torch.float32
    assert torch.Tensor(2, 3).shape == (2, 3) and torch.Tensor(torch.Size([2, 3])).shape == (2, 3)
    assert torch.Tensor([1, 2]).tolist() == [1.0, 2.0] and torch.Tensor((1, 2)).dtype is torch.float32
    assert torch.Tensor([True]).tolist() == [1.0] and torch.Tensor(np.array([1, 2])).dtype is torch.float32
    x = torch.tensor([1, 2])
    a = torch.Tensor(x)
    assert a.dtype is torch.int64 and a._data is x._data  # an alias
    with pytest.raises(TypeError, match=re.escape("new(): data must be a sequence (got float)")):
        torch.Tensor(2.5)
    assert isinstance(torch.ones(1), torch.Tensor)


def test_tensor_from_tensor_warns_and_copies():
    x = torch.ones(2, requires_grad=True)
    with pytest.warns(UserWarning, match=re.escape(
            "To copy construct from a tensor, it is recommended to use sourceTensor.detach().clone() or "
            "sourceTensor.detach().clone().requires_grad_(True), rather than torch.tensor(sourceTensor).")):
        y = torch.tensor(x)
    assert not y.requires_grad and y.is_leaf
    y.add_(1)
    assert x.tolist() == [1.0, 1.0]
    assert torch.tensor([torch.tensor(1.0), torch.tensor(2.0)]).tolist() == [1.0, 2.0]


@pytest.mark.parametrize("data,exc,msg", [
    ([[1, 2], [3]], ValueError, "expected sequence of length 2 at dim 1 (got 1)"),
    ([[1, 2], [3, 4, 5]], ValueError, "expected sequence of length 2 at dim 1 (got 3)"),
    ([[[1], [2]], [[1], [2, 3]]], ValueError, "expected sequence of length 1 at dim 2 (got 2)"),
    ([[1, 2], 3], TypeError, "not a sequence"),
    (None, RuntimeError, "Could not infer dtype of NoneType"),
    ([1, None], RuntimeError, "Could not infer dtype of NoneType"),
    ([1, "a"], TypeError, "new(): invalid data type 'str'"),
])
def test_tensor_bad_data(data, exc, msg):
    with pytest.raises(exc, match="^" + re.escape(msg) + "$"):
        torch.tensor(data)


def test_requires_grad_only_for_floating_factories():
    msg = "^" + re.escape("Only Tensors of floating point and complex dtype can require gradients") + "$"
    with pytest.raises(RuntimeError, match=msg):
        torch.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match=msg):
        torch.zeros(2, dtype=torch.int64, requires_grad=True)
    assert torch.tensor([1.0], requires_grad=True).requires_grad
    assert torch.zeros(2, dtype=torch.float64, requires_grad=True).requires_grad


@pytest.mark.parametrize("device", DEVICES)
def test_fill_factories(device):
    d = _dev(device)
    for t in (torch.zeros(2, 3, device=device), torch.zeros((2, 3), device=device),
              torch.zeros([2, 3], device=device), torch.zeros(torch.Size([2, 3]), device=device)):
        assert t.shape == (2, 3) and t.dtype is torch.float32 and t.device == d
        assert t.tolist() == [[0.0] * 3] * 2
    assert torch.ones(2, device=device).tolist() == [1.0, 1.0]
    assert torch.ones(2, dtype=torch.int32, device=device).dtype is torch.int32
    assert torch.empty(2, 3, device=device).shape == (2, 3)
    assert torch.zeros((), device=device).shape == () and torch.zeros(0, 3, device=device).numel() == 0
    f = torch.full((2,), 3, device=device)
    assert f.dtype is torch.int64 and f.tolist() == [3, 3]
    assert torch.full((2,), 3.0, device=device).dtype is torch.float32
    assert torch.full((2,), True, device=device).dtype is torch.bool
    assert torch.full((2, 2), 1.5, dtype=torch.int64, device=device).tolist() == [[1, 1], [1, 1]]
    assert torch.zeros(2, requires_grad=True, device=device).requires_grad


@pytest.mark.parametrize("device", DEVICES)
def test_like_factories(device):
    i = torch.tensor([1, 2], device=device)
    f = torch.tensor([1.0, 2.0], dtype=torch.float64, device=device)
    assert torch.zeros_like(i).dtype is torch.int64 and torch.zeros_like(i).tolist() == [0, 0]
    assert torch.ones_like(f).dtype is torch.float64 and torch.ones_like(f).device == _dev(device)
    assert torch.ones_like(f, dtype=torch.float32).dtype is torch.float32
    assert torch.full_like(i, 7).tolist() == [7, 7]
    assert torch.full_like(i, 7.5).tolist() == [7, 7]  # the input's dtype wins
    assert torch.empty_like(f).shape == (2,)
    assert torch.rand_like(f).dtype is torch.float64 and torch.randn_like(f).shape == (2,)
    r = torch.randint_like(f, 3, 5)
    assert r.dtype is torch.float64 and all(3 <= v < 5 for v in r.tolist())
    assert torch.zeros_like(f, requires_grad=True).requires_grad


def test_eye_arange_linspace():
    assert torch.eye(2).tolist() == [[1.0, 0.0], [0.0, 1.0]] and torch.eye(2).dtype is torch.float32
    assert torch.eye(2, 3).shape == (2, 3)
    assert torch.eye(3, dtype=torch.int64).dtype is torch.int64
    a = torch.arange(5)
    assert a.dtype is torch.int64 and a.tolist() == [0, 1, 2, 3, 4]
    assert torch.arange(5.0).dtype is torch.float32
    assert torch.arange(1, 4, 0.5).tolist() == [1.0, 1.5, 2.0, 2.5, 3.0, 3.5]
    np.testing.assert_allclose(torch.arange(0, 1, 0.3).numpy(), [0.0, 0.3, 0.6, 0.9], rtol=1e-6)
    assert torch.arange(0.0, 1, 0.25).tolist() == [0.0, 0.25, 0.5, 0.75]
    with pytest.raises(RuntimeError, match="^upper bound and lower bound inconsistent with step sign$"):
        torch.arange(1, 0)
    with pytest.raises(RuntimeError, match="^step must be nonzero$"):
        torch.arange(0, 1, 0)
    assert torch.linspace(0, 1, 5).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert torch.linspace(0, 1, 1).tolist() == [0.0] and torch.linspace(0, 1, 0).shape == (0,)
    assert torch.linspace(0, 1, 3).dtype is torch.float32


@pytest.mark.parametrize("device", DEVICES)
def test_random_factories_and_seed(device):
    torch.manual_seed(123)
    def draw():
        return (torch.rand(3, 4, device=device), torch.randn(5, device=device),
                torch.randint(0, 10, (6,), device=device))
    a = draw()
    torch.manual_seed(123)
    b = draw()
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.cpu().numpy(), y.cpu().numpy())
    assert a[0].dtype is torch.float32 and a[1].dtype is torch.float32 and a[2].dtype is torch.int64
    assert 0 <= a[0].cpu().numpy().min() and a[0].cpu().numpy().max() < 1
    assert set(a[2].tolist()) <= set(range(10))
    assert torch.rand(2, device=device).tolist() != torch.rand(2, device=device).tolist()
    assert torch.randn(2, 3, dtype=torch.float64, device=device).dtype is torch.float64
    assert torch.randint(10, (3,), device=device).shape == (3,)
    r = torch.randint(3, 10, (2, 2), device=device)
    assert r.shape == (2, 2) and r.cpu().numpy().min() >= 3
    assert torch.randint(0, 5, (3,), dtype=torch.int32, device=device).dtype is torch.int32
    assert torch.randn(2, 3, requires_grad=True, device=device).requires_grad
    # the same seed gives the same numbers on every device
    torch.manual_seed(7)
    here = torch.randn(4, device=device).cpu().numpy()
    torch.manual_seed(7)
    np.testing.assert_array_equal(here, torch.randn(4).numpy())


def test_random_factory_errors():
    with pytest.raises(NotImplementedError, match="^" + re.escape("\"check_uniform_bounds\" not implemented "
                                                                  "for 'Long'") + "$"):
        torch.rand(2, dtype=torch.int64)
    with pytest.raises(NotImplementedError, match=re.escape("\"normal_kernel_cpu\" "
                                                            "not implemented for 'Int'")):
        torch.randn(2, dtype=torch.int32)
    with pytest.raises(NotImplementedError, match=re.escape("not implemented for 'Bool'")):
        torch.rand(2, dtype=torch.bool)
    with pytest.raises(RuntimeError, match="^" + re.escape("random_ expects 'from' to be less than 'to', "
                                                           "but got from=5 >= to=3") + "$"):
        torch.randint(5, 3, (2,))


def test_default_dtype():
    assert torch.get_default_dtype() is torch.float32
    try:
        torch.set_default_dtype(torch.float64)
        assert torch.tensor([1.5]).dtype is torch.float64
        assert torch.zeros(2).dtype is torch.float64 and torch.rand(2).dtype is torch.float64
        assert torch.arange(2.0).dtype is torch.float64
        assert torch.tensor([1]).dtype is torch.int64
        assert (torch.tensor([1]) * 1.5).dtype is torch.float64
    finally:
        torch.set_default_dtype(torch.float32)
    assert torch.tensor([1.5]).dtype is torch.float32
    with pytest.raises(TypeError, match="^only floating-point types are supported as the default type$"):
        torch.set_default_dtype(torch.int64)
