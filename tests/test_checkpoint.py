"""utils.checkpoint: same gradients as without checkpointing (both variants, RNG preserved for dropout), a
lower memory peak for a chain of big ops (tracemalloc), and PyTorch's warnings and errors."""
import tracemalloc

import numpy as np
import pytest

import autograd_gpu as torch
import autograd_gpu.nn.functional as F
from autograd_gpu.utils.checkpoint import CheckpointError, checkpoint, checkpoint_sequential

from conftest import DEVICES


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


def _segment(x, w):
    h = x.mm(w).sigmoid()
    return (h * h).mm(w.t()).sigmoid() * x


def _grads(fn, x, w):
    x.grad = w.grad = None
    fn(x, w).sum().backward()
    return x.grad.tolist(), w.grad.tolist()


@pytest.mark.parametrize("reentrant", [False, True])
def test_same_gradients(device, reentrant):
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.standard_normal((4, 3)), device=device, requires_grad=True)
    w = torch.tensor(rng.standard_normal((3, 5)), device=device, requires_grad=True)
    ref = _grads(_segment, x, w)
    got = _grads(lambda a, b: checkpoint(_segment, a, b, use_reentrant=reentrant), x, w)
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-12)
    np.testing.assert_allclose(got[1], ref[1], rtol=1e-12)


@pytest.mark.parametrize("reentrant", [False, True])
def test_rng_state_is_replayed(device, reentrant):
    x = torch.ones(64, device=device, dtype=torch.float64, requires_grad=True)

    def fn(t):
        return F.dropout(t * 2, p=0.5, training=True)
    torch.manual_seed(3)
    y = checkpoint(fn, x, use_reentrant=reentrant)
    y.sum().backward()
    # the gradient is 2 / (1 - p) where the forward kept an element, 0 where it dropped it
    np.testing.assert_allclose(x.grad.tolist(), np.where(np.asarray(y.tolist()) != 0, 4.0, 0.0))


def test_non_reentrant_kwargs_double_backward_and_retain_graph():
    x = torch.tensor([0.5, -1.0], dtype=torch.float64, requires_grad=True)
    y = checkpoint(lambda t, k=1.0: t * t * t * k, x, use_reentrant=False, k=2.0)
    g, = torch.autograd.grad(y.sum(), x, create_graph=True)
    assert g.tolist() == [1.5, 6.0]
    gg, = torch.autograd.grad(g.sum(), x)
    assert gg.tolist() == [6.0, -12.0]
    y = checkpoint(lambda t: t.exp(), x, use_reentrant=False)
    y.sum().backward(retain_graph=True)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.tolist(), 2 * np.exp([0.5, -1.0]))


def test_warnings_and_errors():
    x = torch.tensor([1.0], requires_grad=True)
    with pytest.warns(UserWarning, match="torch.utils.checkpoint: the use_reentrant parameter should be "
                                         "passed explicitly"):
        checkpoint(lambda t: t * 2, x)
    with pytest.warns(UserWarning, match="None of the inputs have "
                                         "requires_grad=True. Gradients will be None"):
        checkpoint(lambda t: t * 2, torch.tensor([1.0]), use_reentrant=True)
    with pytest.raises(ValueError, match="Unexpected keyword arguments: foo"):
        checkpoint(lambda t: t, x, use_reentrant=True, foo=1)
    with pytest.raises(ValueError, match="Passing `context_fn` or `debug` is only supported when "
                                         "use_reentrant=False."):
        checkpoint(lambda t: t, x, use_reentrant=True, debug=True)
    with pytest.raises(ValueError, match="determinism_check should be one of"):
        checkpoint(lambda t: t, x, use_reentrant=False, determinism_check="bogus")
    for first, again, msg in ((3, 2, "A different number of tensors was saved during the original forward "
                                     "and recomputation"),
                              (2, 3, "trying to save more tensors during recomputation than during the "
                                     "original forward pass")):
        calls = []

        def shifty(t):  # saves a different number of tensors when recomputed
            calls.append(1)
            y = t
            for _ in range(first if len(calls) == 1 else again):
                y = y * t
            return y
        y = checkpoint(shifty, x, use_reentrant=False)
        with pytest.raises(CheckpointError, match=msg):
            y.sum().backward()


def test_checkpoint_sequential(device):
    rng = np.random.default_rng(1)
    ws = [torch.tensor(rng.standard_normal((3, 3)), device=device, requires_grad=True) for _ in range(4)]
    fns = [lambda t, w=w: t.mm(w).sigmoid() for w in ws]
    x = torch.tensor(rng.standard_normal((2, 3)), device=device, requires_grad=True)

    def plain(t):
        for f in fns:
            t = f(t)
        return t
    plain(x).sum().backward()
    ref = [w.grad.tolist() for w in ws]
    for w in ws:
        w.grad = None
    checkpoint_sequential(fns, 2, x, use_reentrant=False).sum().backward()
    for w, r in zip(ws, ref):
        np.testing.assert_allclose(w.grad.tolist(), r, rtol=1e-12)


def _chain(x, n_ops):
    for _ in range(n_ops):
        x = (x * 1.01).sigmoid()  # each sigmoid saves its output: one big array per op
    return x


def _peak_bytes(fn):
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_drops():
    n = 1 << 17  # 1 MiB per float64 array
    segments, per_segment = 6, 6
    x = torch.randn(n, dtype=torch.float64, requires_grad=True)

    def plain():
        _chain(x, segments * per_segment).sum().backward()

    def checkpointed():
        h = x
        for _ in range(segments):
            h = checkpoint(_chain, h, per_segment, use_reentrant=False)
        h.sum().backward()
    plain()
    g_ref = x.grad.tolist()
    x.grad = None
    checkpointed()
    np.testing.assert_allclose(x.grad.tolist(), g_ref, rtol=1e-12)
    x.grad = None
    peak_plain = _peak_bytes(plain)
    x.grad = None
    peak_ckpt = _peak_bytes(checkpointed)
    mib = 8 * n
    # plain keeps all 36 sigmoid outputs until backward; checkpointing keeps 6 segment outputs plus one
    # segment's 6 recomputed outputs (and a few temporaries)
    assert peak_plain > 30 * mib
    assert peak_ckpt < 0.6 * peak_plain, (peak_ckpt / mib, peak_plain / mib)
