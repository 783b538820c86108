"""Grad modes (no_grad, enable_grad, set_grad_enabled, inference_mode) as context managers and decorators,
and in-place ops with PyTorch's version counters. Messages are PyTorch 2.13's."""
import re
import threading

import numpy as np
import pytest

import autograd_gpu as torch

from conftest import DEVICES

HINT = ("Hint: enable anomaly detection to find the operation that failed to compute its gradient, with "
        "torch.autograd.set_detect_anomaly(True, check_nan=False).")


def _v(t):
    v = t._version
    return v if isinstance(v, int) else v[0]


def _exact(msg):
    return "^" + re.escape(msg) + "$"


def _np(t):
    return t.detach().cpu().numpy()


def T(data, device="cpu", dtype=torch.float64, rg=True):
    return torch.tensor(data, dtype=dtype, device=device, requires_grad=rg)


# --- grad modes ---------------------------------------------------------------------------------------------

def test_grad_mode_context_managers_nest():
    x = T([1.0])
    assert torch.is_grad_enabled()
    with torch.no_grad():
        assert not torch.is_grad_enabled()
        with torch.enable_grad():
            y = x * 2
            assert torch.is_grad_enabled()
        z = x * 2
        with torch.set_grad_enabled(True):
            u = x * 2
        assert not torch.is_grad_enabled()
    assert torch.is_grad_enabled()
    assert y.requires_grad and not z.requires_grad and u.requires_grad and z.grad_fn is None and z.is_leaf
    with torch.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert torch.is_grad_enabled()
    torch.set_grad_enabled(False)  # as a function: takes effect at once
    try:
        assert not torch.is_grad_enabled() and not (x * 2).requires_grad
    finally:
        torch.set_grad_enabled(True)
    assert (x * 2).requires_grad


def test_grad_mode_restored_after_exception():
    with pytest.raises(ValueError):
        with torch.no_grad():
            raise ValueError
    assert torch.is_grad_enabled()


def test_grad_mode_decorators():
    x = T([1.0])

    @torch.no_grad()
    def f1(a):
        return a * 2

    @torch.no_grad
    def f2(a):
        return a * 2

    @torch.enable_grad()
    def f3(a):
        return a * 2

    @torch.set_grad_enabled(False)
    def f4(a):
        return a * 2

    @torch.inference_mode()
    def f5(a):
        return a * 2

    @torch.inference_mode
    def f6(a):
        return a * 2

    assert torch.is_grad_enabled()  # decorating changed nothing
    assert not f1(x).requires_grad and not f2(x).requires_grad and not f4(x).requires_grad
    assert not f5(x).requires_grad and f5(x).is_inference() and f6(x).is_inference()
    with torch.no_grad():
        assert f3(x).requires_grad
    assert f1.__name__ == "f1"

    @torch.no_grad()
    def gen(a):
        for _ in range(2):
            yield a * 2
    assert [t.requires_grad for t in gen(x)] == [False, False] and torch.is_grad_enabled()


def test_inference_mode():
    x = T([1.0, 2.0])
    with torch.inference_mode():
        assert torch.is_inference_mode_enabled() and not torch.is_grad_enabled()
        y = x * 2
        c = torch.ones(2)
        c64 = torch.ones(2, dtype=torch.float64)
        with torch.inference_mode(False):  # turns grad mode back on, as c10::InferenceMode(false)
            u = x * 2
            assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()
    assert not torch.is_inference_mode_enabled() and torch.is_grad_enabled()
    assert not y.requires_grad and y.is_inference() and c.is_inference() and not x.is_inference()
    assert u.requires_grad and not u.is_inference()
    with pytest.raises(RuntimeError, match=_exact(
            "Inplace update to inference tensor outside InferenceMode is not allowed.You can make a clone "
            "to get a normal tensor before doing inplace update.See https://github.com/pytorch/rfcs/pull/17 "
            "for more details.")):
        c.add_(1)
    assert c.tolist() == [1.0, 1.0]
    with pytest.raises(RuntimeError, match=_exact(
            "Setting requires_grad=True on inference tensor outside InferenceMode is not allowed.")):
        c.requires_grad_()
    with pytest.raises(RuntimeError, match=_exact(
            "Inference tensors cannot be saved for backward. Please do not use Tensors created in inference "
            "mode in computation tracked by autograd. To work around this, you can make a clone to get a "
            "normal tensor and use it in autograd, or use `torch.no_grad()` instead of "
            "`torch.inference_mode()`.")):
        x * c64
    s = x + c64  # not saved: allowed, as in PyTorch
    s.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]
    assert not c.clone().is_inference()


def test_grad_mode_is_thread_local():
    x = T([1.0])
    entered, release = threading.Event(), threading.Event()
    seen = {}

    def worker():
        with torch.no_grad():
            entered.set()
            release.wait(5)
            seen["worker"] = (x * 2).requires_grad

    th = threading.Thread(target=worker)
    th.start()
    entered.wait(5)
    seen["main"] = (torch.is_grad_enabled(), (x * 2).requires_grad)
    release.set()
    th.join()
    assert seen == {"main": (True, True), "worker": False}

    def fresh():
        seen["fresh"] = torch.is_grad_enabled()
    with torch.no_grad():  # a new thread starts with grad enabled, whatever its parent's mode
        th = threading.Thread(target=fresh)
        th.start()
        th.join()
    assert seen["fresh"] is True


# --- in-place ops and version counters ----------------------------------------------------------------------

def test_inplace_on_leaf_requiring_grad_refused():
    x = T([1.0, 2.0])
    msg = _exact("a leaf Variable that requires grad is being used in an in-place operation.")
    for op in (lambda: x.add_(1), lambda: x.mul_(2), lambda: x.zero_(), lambda: x.fill_(3),
               lambda: x.copy_(torch.zeros(2, dtype=torch.float64))):
        with pytest.raises(RuntimeError, match=msg):
            op()
        assert x.tolist() == [1.0, 2.0] and _v(x) == 0 and x.grad is None and x.is_leaf
    with pytest.raises(RuntimeError, match=msg):
        x += 1
    assert x.tolist() == [1.0, 2.0] and _v(x) == 0
    with torch.no_grad():  # the SGD update pattern
        x -= 0.5 * torch.ones(2, dtype=torch.float64)
        x.mul_(2)
    assert x.tolist() == [1.0, 3.0] and _v(x) == 2 and x.is_leaf and x.requires_grad and x.grad_fn is None


@pytest.mark.parametrize("device", DEVICES)
def test_modified_saved_tensor_detected(device):
    x = T([1.0, 2.0, 3.0], device, dtype=torch.float32)
    y = x * 1
    z = y * y
    y.add_(1)
    assert _v(y) == 1 and y.grad_fn.name() == "AddBackward0"
    tname = "FloatTensor" if device == "cpu" else "cuda.FloatTensor"
    with pytest.raises(RuntimeError, match=_exact(
            "one of the variables needed for gradient computation has been modified by an inplace "
            f"operation: [torch.{tname} [3]], which is output 0 of Add, is at version 1; expected version 0 "
            "instead. " + HINT)):
        z.sum().backward()
    assert x.grad is None
    # a saved result (sigmoid saves its output) names the node that saved it
    s = x.sigmoid()
    s.mul_(2)
    with pytest.raises(RuntimeError, match=re.escape(f"[torch.{tname} [3]], which is output 0 of Sigmoid, is "
                                                     "at version 1; expected version 0 instead.")):
        s.sum().backward()
    # a leaf modified through detach(): no producer in the message
    w = T([[1.0, 2.0]], device)
    p = w * w
    w.detach().mul_(3)
    with pytest.raises(RuntimeError, match=re.escape(
            f"inplace operation: [torch.{tname.replace('Float', 'Double')} [1, 2]] is at version 1; expected "
            "version 0 instead.")):
        p.sum().backward()
    assert w.tolist() == [[3.0, 6.0]]


def test_modified_0d_tensor_message():
    x = T(2.0, dtype=torch.float32)
    y = x.sum()
    z = y * y
    y.add_(1)
    with pytest.raises(RuntimeError, match=re.escape("[torch.FloatTensor []], which is output 0 of Add, is "
                                                     "at version 1; expected version 0 instead.")):
        z.backward()


def test_detach_shares_data_and_version():
    x = T([1.0, 2.0, 3.0])
    d = x.detach()
    d.add_(1)
    assert x.tolist() == [2.0, 3.0, 4.0] and _v(x) == 1 and _v(d) == 1
    v = x.view(3)
    assert _v(v) == 1 and v._base is x
    with torch.no_grad():
        v.mul_(2)
    assert _v(x) == 2 and x.tolist() == [4.0, 6.0, 8.0]


@pytest.mark.parametrize("device", DEVICES)
def test_iadd_on_nonleaf_tracks_gradient(device):
    x = T([1.0, 2.0, 3.0], device)
    w = T([0.5, -1.0, 2.0], device)
    y = x * 1
    yid = id(y)
    y += w * x  # y = x + w x
    assert id(y) == yid and y.grad_fn.name() == "AddBackward0" and _v(y) == 1
    y *= x  # y = (x + w x) x
    assert y.grad_fn.name() == "MulBackward0"
    y.sum().backward()
    xs, ws = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(_np(x.grad), 2 * xs * (1 + ws))
    np.testing.assert_allclose(_np(w.grad), xs * xs)


def test_inplace_ops_keep_saved_old_values():
    """An in-place op whose backward needs the old value (mul_, pow_, div_) sees it as before the update."""
    x = T([1.0, 2.0, 3.0])
    y = x * 2
    y.mul_(x)  # y = 2x^2
    y.sum().backward()
    assert x.grad.tolist() == [4.0, 8.0, 12.0]
    x.grad = None
    y = x * 2
    y.mul_(y)  # `other` is self, saved and then modified: PyTorch refuses this backward too
    with pytest.raises(RuntimeError, match=re.escape("[torch.DoubleTensor [3]], which is output 0 of Mul, "
                                                     "is at version 1; expected version 0 instead.")):
        y.sum().backward()
    y = x * 2
    y.pow_(3)  # (2x)^3 -> 24 x^2
    y.sum().backward()
    assert x.grad.tolist() == [24.0, 96.0, 216.0]
    x.grad = None
    y = x * 2
    y.div_(x)  # 2x / x, d/dx = 0
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]
    x.grad = None
    y = torch.ones(3, dtype=torch.float64)
    y.mul_(x)
    y.mul_(x)  # x^2
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 4.0, 6.0]


def test_tracked_inplace_writes_into_the_same_memory():
    x = T([1.0, 2.0])
    y = x * 1
    data = y._data
    y.add_(x)
    y.mul_(x)  # saves the old value: that copy is the node's, y keeps its memory
    assert y._data is data and y.tolist() == [2.0, 8.0]
    y.sum().backward()
    assert x.grad.tolist() == [4.0, 8.0]  # d/dx 2x^2


def test_inplace_after_use_by_op_that_saves_nothing():
    x = T([1.0, 2.0])
    y = x * 1
    z = y + 1  # AddBackward0 saves nothing: modifying y later is fine
    y.add_(5)
    z.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]


def test_inplace_broadcast_and_cast_errors_leave_data_unchanged():
    x = torch.ones(2)
    with pytest.raises(RuntimeError, match=_exact("output with shape [2] doesn't match the broadcast shape "
                                                  "[2, 2]")):
        x.add_(torch.ones(2, 2))
    i = torch.ones(2, dtype=torch.int64)
    with pytest.raises(RuntimeError, match=_exact("result type Float can't be cast to the desired output "
                                                  "type Long")):
        i.add_(1.5)
    assert x.tolist() == [1.0, 1.0] and i.tolist() == [1, 1] and _v(x) == 0 and _v(i) == 0


def test_inplace_division_by_zero_is_silent_like_out_of_place():
    """x /= 0 and x.div_(0) give inf / nan with no NumPy RuntimeWarning, as x / 0 does (and PyTorch)."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = torch.tensor([1.0, -1.0, 0.0])
        a /= 0
        b = torch.tensor([1.0, -1.0, 0.0])
        b.div_(torch.zeros(3))
        c = torch.tensor([1.0, -1.0, 0.0]) / 0
    for t in (a, b, c):
        r = t.numpy()
        assert r[0] == np.inf and r[1] == -np.inf and np.isnan(r[2])
