"""Autograd features used from several threads at once: custom Functions, hooks, saved-tensor hooks and
checkpointing on independent graphs, and concurrent backward into shared leaves (with hooks) — results must
equal the closed forms a single thread gets."""
import threading

import numpy as np
import pytest

import autograd_gpu as torch
from autograd_gpu.autograd import Function
from autograd_gpu.autograd import functional as AF
from autograd_gpu.autograd.graph import saved_tensors_hooks
from autograd_gpu.utils.checkpoint import checkpoint

from conftest import DEVICES, N_THREADS, run_in_threads

N = 20000  # large enough that NumPy releases the GIL inside the ops


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


class Square(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * g


def test_custom_functions_and_hooks_on_independent_graphs(device):
    results = {}

    def work(i):
        x = torch.full((N,), float(i + 1), dtype=torch.float64, device=device, requires_grad=True)
        seen = []
        for _ in range(5):
            x.grad = None
            y = Square.apply(x)
            y.retain_grad()
            y.register_hook(lambda g: g * 2)
            h = x.register_hook(lambda g: seen.append(1) or g + 1)
            (y * 3).sum().backward()
            h.remove()
        results[i] = (np.unique(x.grad._host()), np.unique(y.grad._host()), len(seen))
    run_in_threads(work)
    for i in range(N_THREADS):
        gx, gy, calls = results[i]
        assert gy.tolist() == [6.0]
        assert gx.tolist() == [2 * (i + 1) * 6.0 + 1]
        assert calls == 5


def test_concurrent_backward_into_shared_leaf_with_post_accumulate_hooks(device):
    # 2 MiB: without the engine's accumulation lock, concurrent in-place adds into .grad lose updates here
    w = torch.zeros(1 << 18, dtype=torch.float64, device=device, requires_grad=True)
    calls = []
    lock = threading.Lock()

    def count(p):
        with lock:
            calls.append(1)
    w.register_post_accumulate_grad_hook(count)
    rounds = 10

    def work(i):
        for _ in range(rounds):
            ((w + 1) * float(i + 1)).sum().backward()
    run_in_threads(work)
    expected = rounds * sum(range(1, N_THREADS + 1))
    assert np.unique(w.grad._host()).tolist() == [float(expected)]
    assert len(calls) == rounds * N_THREADS


def test_saved_tensor_hooks_and_checkpoint_per_thread(device):
    results = {}

    def work(i):
        x = torch.full((N,), 0.5 + i / 10, dtype=torch.float64, device=device, requires_grad=True)
        packed = []
        with saved_tensors_hooks(lambda t: packed.append(1) or t.detach(), lambda t: t):
            y = (x * x).sum()
        y.backward()
        g1 = np.unique(x.grad._host())
        x.grad = None
        z = checkpoint(lambda t: (t * t * t).sigmoid(), x, use_reentrant=False)
        z.sum().backward()
        v = float(0.5 + i / 10)
        s = 1 / (1 + np.exp(-v ** 3))
        results[i] = (len(packed), g1, np.unique(x.grad._host()), s * (1 - s) * 3 * v * v)
    run_in_threads(work)
    for i in range(N_THREADS):
        n_packed, g1, g2, expected = results[i]
        assert n_packed == 2  # only this thread's hooks saw this thread's ops
        np.testing.assert_allclose(g1, [2 * (0.5 + i / 10)])
        np.testing.assert_allclose(g2, [expected], rtol=1e-12)


def test_functional_api_in_threads():
    results = {}

    def work(i):
        x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64) * (i + 1)
        results[i] = AF.hessian(lambda t: (t * t * t).sum(), x).tolist()
    run_in_threads(work)
    for i in range(N_THREADS):
        np.testing.assert_allclose(results[i], np.diag(6 * np.array([1.0, 2.0, 3.0]) * (i + 1)))
