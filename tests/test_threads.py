"""Threads: independent graphs built and differentiated in 8 threads at once give correct gradients; grad
modes are per thread; backward calls in several threads may accumulate into the same leaf (PyTorch allows
this)."""
import threading

import numpy as np
import pytest

import autograd_gpu as torch

from conftest import DEVICES, N_THREADS, run_in_threads


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


@pytest.mark.parametrize("device", DEVICES)
def test_independent_graphs_in_parallel(device):
    iters = 30 if device == "cpu" else 5
    results = {}

    def work(i):
        rng = np.random.default_rng(i)
        xs, ws, cs = rng.normal(size=(6, 4)), rng.normal(size=(4, 3)), rng.normal(size=(6, 3))
        x, c = torch.tensor(xs, device=device), torch.tensor(cs, device=device)
        w = torch.tensor(ws, device=device, requires_grad=True)
        for _ in range(iters):
            w.grad = None
            loss = ((x @ w).sigmoid() * c).sum() + (w ** 2).sum() * (i + 1)
            loss.backward()
        s = _sigmoid(xs @ ws)
        expected = xs.T @ (s * (1 - s) * cs) + 2 * (i + 1) * ws
        results[i] = (w.grad.cpu().numpy(), expected, loss.item(), (s * cs).sum() + (ws ** 2).sum() * (i + 1))

    run_in_threads(work)
    assert sorted(results) == list(range(N_THREADS))
    for grad, expected, loss, loss_ref in results.values():
        np.testing.assert_allclose(grad, expected, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(loss, loss_ref, rtol=1e-12)


def test_higher_order_in_parallel():
    results = {}

    def work(i):
        x = torch.tensor(float(i + 1), dtype=torch.float64, requires_grad=True)
        for _ in range(20):
            (g,) = torch.autograd.grad(x ** 4, x, create_graph=True)
            (h,) = torch.autograd.grad(g, x)
        results[i] = (g.item(), h.item())

    run_in_threads(work)
    for i, (g, h) in results.items():
        v = i + 1.0
        assert (g, h) == (4 * v ** 3, 12 * v ** 2)


def test_grad_mode_is_per_thread():
    seen = {}
    step = threading.Barrier(N_THREADS)

    def work(i):
        x = torch.ones(2, requires_grad=True)
        flags = []
        for k in range(20):
            off = (i + k) % 2 == 0
            ctx = torch.no_grad() if off else torch.enable_grad()
            with ctx:
                step.wait(10)  # every thread is inside its own mode at the same time
                flags.append(((x * 2).requires_grad, torch.is_grad_enabled(), not off))
                step.wait(10)
        with torch.inference_mode():
            step.wait(10)
            flags.append(((x * 2).is_inference(), torch.is_inference_mode_enabled(), True))
        seen[i] = flags

    run_in_threads(work)
    assert len(seen) == N_THREADS
    for flags in seen.values():
        for requires, enabled, expected in flags:
            assert requires is expected and enabled is expected
    assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()


def test_no_grad_in_one_thread_does_not_leak():
    inside, done = threading.Event(), threading.Event()

    def hold():
        with torch.no_grad():
            inside.set()
            done.wait(10)

    th = threading.Thread(target=hold)
    th.start()
    inside.wait(10)
    try:
        x = torch.ones(2, requires_grad=True)
        y = x * 3
        assert torch.is_grad_enabled() and y.requires_grad
        y.sum().backward()
        assert x.grad.tolist() == [3.0, 3.0]
    finally:
        done.set()
        th.join()


def test_concurrent_backward_into_shared_leaf():
    w = torch.zeros(1000, dtype=torch.float64, requires_grad=True)
    reps = 25

    def work(i):
        for _ in range(reps):
            ((w + 1) * (i + 1)).sum().backward()

    run_in_threads(work)
    expected = reps * sum(range(1, N_THREADS + 1))
    np.testing.assert_array_equal(w.grad.numpy(), np.full(1000, float(expected)))
