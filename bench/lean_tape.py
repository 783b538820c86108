"""The floor for a Python autograd over NumPy: a minimal tape (no checks, hooks, version counters, grad modes,
devices) running the MLP 32x784-128-10 training step of bench/cases.py with the same NumPy calls
autograd_gpu makes, timed against autograd_gpu, PyTorch and hand-written NumPy in one process (one thread,
process CPU time, interleaved rounds, medians of paired ratios).

    python bench/lean_tape.py            # MLP 32x784-128-10
    python bench/lean_tape.py --tiny     # MLP 4-8-10, batch 2: fixed per-step costs only

What separates autograd_gpu from the lean tape is the bookkeeping of a full engine; what separates the lean tape
from hand-written NumPy is the least any tape costs.
"""
from __future__ import annotations

import heapq
import os
import sys
import time

if __name__ == "__main__":  # one BLAS / OpenMP thread, set before NumPy loads its BLAS (not when imported)
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = "1"

import numpy as np  # noqa: E402

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
if os.path.dirname(_HERE) not in sys.path:  # run from a checkout without installing (as bench/run.py)
    sys.path.insert(1, os.path.dirname(_HERE))
import cases  # noqa: E402

_add_reduce, _max_reduce = np.add.reduce, np.maximum.reduce


class Var:
    __slots__ = ("data", "grad", "node", "requires_grad")

    def __init__(self, data, requires_grad=False, node=None):
        self.data, self.grad, self.node, self.requires_grad = data, None, node, requires_grad


class Node:
    __slots__ = ("backward", "inputs", "saved", "seq")


_seq = [0]


def _record(backward, inputs, saved, out):
    n = Node()
    n.backward, n.inputs, n.saved = backward, inputs, saved
    _seq[0] += 1
    n.seq = _seq[0]
    return Var(out, True, n)


def linear(x, w, b):
    out = x.data @ w.data.T
    out += b.data
    return _record(_linear_backward, (x, w, b), (x.data, w.data), out)


def _linear_backward(saved, g, inputs):
    a, w = saved
    return (g @ w if inputs[0].requires_grad else None), g.T @ a, _add_reduce(g, axis=0)


def relu(x):
    out = np.maximum(x.data, 0.0)
    return _record(_relu_backward, (x,), out, out)


def _relu_backward(r, g, inputs):
    mask = np.less_equal(r, 0).astype(np.uint32)  # (autograd_gpu's exact where(r <= 0, 0, g))
    mask -= 1
    np.bitwise_and(g.view(np.uint32), mask, out=mask)
    return (mask.view(g.dtype),)


def cross_entropy(x, t):
    n = len(t)
    m = _max_reduce(x.data, axis=1, keepdims=True)
    z = x.data - m
    zt = z[np.arange(n), t]
    e = np.exp(z, out=z)
    s = _add_reduce(e, axis=1, keepdims=True)
    e /= s
    loss = (_add_reduce(np.log(s), axis=None) - _add_reduce(zt, axis=None)) / n
    return _record(_cross_entropy_backward, (x,), (e, t), np.array(loss, x.data.dtype))


def _cross_entropy_backward(saved, g, inputs):
    p, t = saved
    n = len(t)
    gx = p * (g / n)
    gx[np.arange(n), t] -= g / n
    return (gx,)


def backward(loss):
    grads = {id(loss.node): np.ones((), loss.data.dtype)}
    heap = [(-loss.node.seq, loss)]
    while heap:
        node = heapq.heappop(heap)[1].node
        outs = node.backward(node.saved, grads.pop(id(node)), node.inputs)
        node.saved = None
        for x, gx in zip(node.inputs, outs):
            if gx is None or not x.requires_grad:
                continue
            if x.node is None:
                x.grad = gx if x.grad is None else x.grad + gx
            elif id(x.node) in grads:
                grads[id(x.node)] = grads[id(x.node)] + gx
            else:
                grads[id(x.node)] = gx
                heapq.heappush(heap, (-x.node.seq, x))


def lean_mlp(sizes, batch, lr=0.01):
    """The step of cases._mlp on the lean tape (same initial values, same arithmetic)."""
    rng = np.random.default_rng(0)
    ws = [(rng.standard_normal((i, o)) / np.sqrt(i)).astype(np.float32) for i, o in zip(sizes, sizes[1:])]
    weights = [Var(w.T.copy(), True) for w in ws]  # (out, in), like nn.Linear
    biases = [Var(np.zeros(o, np.float32), True) for o in sizes[1:]]
    x = Var(rng.standard_normal((batch, sizes[0])).astype(np.float32))
    y = rng.integers(0, sizes[-1], batch)
    params = weights + biases

    def step():
        h = x
        for i, (w, b) in enumerate(zip(weights, biases)):
            h = linear(h, w, b)
            if i < len(weights) - 1:
                h = relu(h)
        loss = cross_entropy(h, y)
        backward(loss)
        for p in params:
            p.data -= lr * p.grad
            p.grad = None
        return loss
    return step


def main():
    sizes, batch = ((4, 8, 10), 2) if "--tiny" in sys.argv else ((784, 128, 10), 32)
    import torch
    torch.set_num_threads(1)
    steps = {lib: cases._mlp(sizes, batch)(lib) for lib in cases.LIBS}
    steps["lean tape"] = lean_mlp(sizes, batch)
    clock = time.process_time_ns
    times = {k: [] for k in steps}
    for _ in range(15):
        for name, step in steps.items():
            for _ in range(30):
                step()
            t0 = clock()
            for _ in range(200):
                step()
            times[name].append((clock() - t0) / 200 / 1e3)
    ref = np.array(times["torch"])
    print(f"MLP {'-'.join(map(str, sizes))}, batch {batch}: median us per step, median ratio to torch")
    for name, ts in times.items():
        print(f"  {name:13s} {np.median(ts):8.1f} us  {np.median(np.array(ts) / ref):.3f}x")


if __name__ == "__main__":
    main()
