"""Memory: backward frees what the graph saved (unless retain_graph), and training creates no reference
cycles, so memory stays flat with the garbage collector off."""
import gc
import tracemalloc
import weakref

import numpy as np
import pytest

import autograd_gpu as torch

from conftest import DEVICES

MB = 1 << 20


def _relu(x):
    f = getattr(torch.nn.functional, "relu", None)
    return f(x) if f is not None else x.clamp(min=0)


def _graph_nodes(t):
    """Every node reachable from t.grad_fn."""
    seen, stack = {}, [t.grad_fn]
    while stack:
        n = stack.pop()
        if n is None or id(n) in seen:
            continue
        seen[id(n)] = n
        stack.extend(c for c, _ in n.next_functions)
    return list(seen.values())


def _saved_arrays(nodes):
    arrays = []
    for n in nodes:
        arrays.extend(t._data for t in n._saved)
        if n._result is not None:
            arrays.append(n._result[0])
        arrays.extend(v for v in vars(n).values() if isinstance(v, np.ndarray))
    return arrays


def _loss(x):
    """A graph whose intermediates are held only by the graph itself."""
    y = x.sigmoid()          # saves its result
    z = y * y * x            # saves y, y*y and x
    return (z ** 2).mean()   # saves z


@pytest.mark.parametrize("device", DEVICES)
def test_backward_releases_saved_values(device):
    x = torch.randn(1000, dtype=torch.float64, device=device, requires_grad=True)
    loss = _loss(x)
    nodes = _graph_nodes(loss)
    names = {n.name() for n in nodes}
    assert {"SigmoidBackward0", "MulBackward0", "PowBackward0", "MeanBackward0", "AccumulateGrad"} <= names
    saved = [a for a in _saved_arrays(nodes) if a is not x._data]
    assert len(saved) >= 3
    refs = [weakref.ref(a) for a in saved]
    del saved
    assert all(r() is not None for r in refs)  # alive while the graph may still run
    loss.backward()
    for n in nodes:
        assert n._saved == () and n._result is None
        assert not any(isinstance(v, np.ndarray) for v in vars(n).values())
    assert all(r() is None for r in refs), "saved arrays outlived backward"
    assert x.grad is not None


def test_retain_graph_keeps_saved_values():
    x = torch.randn(1000, dtype=torch.float64, requires_grad=True)
    loss = _loss(x)
    nodes = _graph_nodes(loss)
    refs = [weakref.ref(a) for a in _saved_arrays(nodes) if a is not x._data]
    loss.backward(retain_graph=True)
    assert all(r() is not None for r in refs)
    g1 = x.grad.clone()
    loss.backward()  # still possible, and frees them this time
    np.testing.assert_allclose(x.grad.numpy(), 2 * g1.numpy())
    assert all(r() is None for r in refs)


def test_backward_frees_memory_tracemalloc():
    n = 1 << 18  # 2 MiB per float64 array
    x = torch.randn(n, dtype=torch.float64, requires_grad=True)
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        loss = _loss(x)
        held = tracemalloc.get_traced_memory()[0] - base
        assert held > 5 * MB  # sigmoid's result, y * y and z, 2 MiB each
        loss.backward()
        after = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    # what is left: x.grad (2 MiB) and a few small objects
    assert after < 2 * MB + 256 * 1024, f"{after / MB:.2f} MiB still held after backward"
    assert loss.grad_fn is not None  # the graph object survives; only its saved values are gone


def _mlp_step(params, x, t, lr=0.05):
    w1, b1, w2, b2 = params
    h = _relu(x @ w1 + b1)
    y = h @ w2 + b2
    loss = ((y - t) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
            p.grad = None
    return loss.item()


def _our_objects(objs):
    def ours(o):
        m = getattr(type(o), "__module__", None)  # (a descriptor, not a str, for some metatypes)
        return isinstance(m, str) and m.startswith("autograd_gpu")
    return [o for o in objs if ours(o)]


def _count_ours():
    return len(_our_objects(gc.get_objects()))


@pytest.mark.parametrize("device", DEVICES)
def test_training_loop_creates_no_cycles_and_flat_memory(device):
    steps = 1000 if device == "cpu" else 200  # the emulated device runs every kernel on the CPU
    torch.manual_seed(0)
    params = [torch.randn(8, 16, device=device) * 0.3, torch.zeros(16, device=device),
              torch.randn(16, 4, device=device) * 0.3, torch.zeros(4, device=device)]
    for p in params:
        p.requires_grad_()
    x = torch.randn(32, 8, device=device)
    t = torch.randn(32, 4, device=device)
    first = _mlp_step(params, x, t)  # warm caches (kernels, imports) before measuring

    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    tracemalloc.start()
    try:
        marks = []
        for i in range(steps):
            last = _mlp_step(params, x, t)
            if i + 1 in (steps // 2, steps):
                # the first half also fills CPython's free lists (tuples, floats), which tracemalloc counts
                marks.append((tracemalloc.get_traced_memory()[0], _count_ours()))
        found = gc.collect()
        cyclic = _our_objects(gc.garbage)
    finally:
        tracemalloc.stop()
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert not cyclic, f"reference cycles through: {sorted({type(o).__name__ for o in cyclic})}"
    if device == "cpu":  # (the emulator's ctypes makes array types, cyclic by nature, on first use of a size)
        assert found == 0, f"gc found {found} unreachable objects"
    (mem0, n0), (mem1, n1) = marks
    assert n1 == n0, f"live autograd_gpu objects went from {n0} to {n1}"
    growth = mem1 - mem0
    # a leaked step graph would be ~10 KiB/step here; allow for allocator noise only
    assert growth < 256 * 1024, f"memory grew by {growth} bytes over {steps - steps // 2} steps"
    assert last < first  # and it trained


def test_no_cycles_from_autograd_features():
    """retain_grad, backward(inputs=), autograd.grad, in-place ops on non-leaves and views leave no cycles."""
    x = torch.randn(5, requires_grad=True)
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(50):
            y = x * 2
            y.retain_grad()
            z = y.sigmoid() * 1
            z += 1
            w = (z * z).view(5, 1).sum()
            w.backward(retain_graph=True)
            torch.autograd.grad(w, [y, x])
            (y * 3).sum().backward(inputs=[y])
            x.grad = None
        del x, y, z, w
        found = gc.collect()
        cyclic = _our_objects(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert not cyclic, f"reference cycles through: {sorted({type(o).__name__ for o in cyclic})}"
    assert found == 0
