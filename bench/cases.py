"""Benchmark cases: each builds one step function per library ("autograd_gpu", "torch", "numpy").

The NumPy versions are hand-written forward + backward with no autograd: the floor a tape over NumPy
can approach. Every step does the same arithmetic in every library (float32).
"""
from __future__ import annotations

import numpy as np

LIBS = ("autograd_gpu", "torch", "numpy")


def _lib(name):
    if name == "autograd_gpu":
        import autograd_gpu as m
    else:
        import torch as m
    return m


# ---- tiny recorded ops -----------------------------------------------------------------------------
def tiny_ops(lib, device="cpu"):
    """Forward of 5 tiny recorded ops (add, mul, exp, sum, matmul) on 3-element tensors."""
    if lib == "numpy":
        a, b = np.random.rand(3).astype(np.float32), np.random.rand(3).astype(np.float32)
        m = np.random.rand(3, 3).astype(np.float32)

        def step():
            c = a + b
            d = c * a
            e = np.exp(d)
            return (e @ m).sum()
        return step
    t = _lib(lib)
    a = t.rand(3, requires_grad=True, device=device)
    b = t.rand(3, requires_grad=True, device=device)
    m = t.rand(3, 3, requires_grad=True, device=device)

    def step():
        c = a + b
        d = c * a
        e = d.exp()
        return (e @ m).sum()
    return step


# ---- the seed tutorial's iteration ------------------------------------------------------------------
def tutorial(lib, device="cpu"):
    """z = x @ w + b; loss = BCE-with-logits(z, y); loss.backward(); grads reset."""
    rng = np.random.default_rng(0)
    w0, b0 = rng.standard_normal((5, 3)).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    if lib == "numpy":
        x, y = np.ones(5, np.float32), np.zeros(3, np.float32)
        w, b = w0.copy(), b0.copy()

        def step():
            z = x @ w + b
            loss = (np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))).mean()
            s = 1 / (1 + np.exp(-z))
            gz = (s - y) / z.size
            gw = np.outer(x, gz)
            gb = gz
            return loss, gw, gb
        return step
    t = _lib(lib)
    F = t.nn.functional
    x, y = t.ones(5, device=device), t.zeros(3, device=device)
    w = t.tensor(w0, requires_grad=True, device=device)
    b = t.tensor(b0, requires_grad=True, device=device)

    def step():
        z = t.matmul(x, w) + b
        loss = F.binary_cross_entropy_with_logits(z, y)
        loss.backward()
        w.grad = None
        b.grad = None
        return loss
    return step


# ---- MLP training steps -----------------------------------------------------------------------------
def _mlp(sizes, batch):
    def build(lib, device="cpu"):
        rng = np.random.default_rng(0)
        ws = [(rng.standard_normal((i, o)) / np.sqrt(i)).astype(np.float32) for i, o in zip(sizes, sizes[1:])]
        bs = [np.zeros(o, np.float32) for o in sizes[1:]]
        xb = rng.standard_normal((batch, sizes[0])).astype(np.float32)
        yb = rng.integers(0, sizes[-1], batch)
        lr = 0.01
        if lib == "numpy":
            def step():
                acts = [xb]
                h = xb
                for i, (w, b) in enumerate(zip(ws, bs)):
                    h = h @ w + b
                    if i < len(ws) - 1:
                        np.maximum(h, 0, out=h)
                    acts.append(h)
                logits = acts[-1]
                m = logits.max(1, keepdims=True)
                e = np.exp(logits - m)
                p = e / e.sum(1, keepdims=True)
                loss = -np.log(p[np.arange(batch), yb]).mean()
                g = p
                g[np.arange(batch), yb] -= 1
                g /= batch
                for i in range(len(ws) - 1, -1, -1):
                    gw = acts[i].T @ g
                    gb = g.sum(0)
                    if i:
                        g = g @ ws[i].T
                        g *= acts[i] > 0
                    ws[i] -= lr * gw
                    bs[i] -= lr * gb
                return loss
            return step
        t = _lib(lib)
        F = t.nn.functional
        W = [t.tensor(w.T.copy(), requires_grad=True, device=device) for w in ws]  # (out, in) like nn.Linear
        B = [t.tensor(b, requires_grad=True, device=device) for b in bs]
        X = t.tensor(xb, device=device)
        Y = t.tensor(yb, device=device)
        params = W + B

        def step():
            h = X
            for i, (w, b) in enumerate(zip(W, B)):
                h = F.linear(h, w, b)
                if i < len(W) - 1:
                    h = F.relu(h)
            loss = F.cross_entropy(h, Y)
            loss.backward()
            with t.no_grad():
                for p in params:
                    p -= lr * p.grad
                    p.grad = None
            return loss
        return step
    return build


mlp_big = _mlp((784, 1024, 1024, 10), 256)
mlp_small = _mlp((784, 128, 10), 32)



def sgd_step(lib, device="cpu"):
    """optimizer.step() alone: SGD with momentum 0.9 over the four parameters of a 784-128-10 MLP (gradients
    fixed). On a GPU one fused multi-tensor launch in autograd_gpu; PyTorch's foreach path on CUDA."""
    rng = np.random.default_rng(0)
    shapes = [(128, 784), (128,), (10, 128), (10,)]
    p0 = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    g0 = [rng.standard_normal(s).astype(np.float32) * 1e-3 for s in shapes]
    lr, momentum = 1e-3, 0.9
    if lib == "numpy":
        bufs = [g.copy() for g in g0]  # the state after a first step (buf = g), as the libraries' below
        ps = [p - lr * b for p, b in zip(p0, bufs)]

        def step():
            for p, g, b in zip(ps, g0, bufs):
                b *= momentum
                b += g
                p -= lr * b
            return ps[0]
        return step
    t = _lib(lib)
    params = [t.tensor(p, requires_grad=True, device=device) for p in p0]
    for p, g in zip(params, g0):
        p.grad = t.tensor(g, device=device)
    opt = t.optim.SGD(params, lr=lr, momentum=momentum)
    opt.step()  # momentum buffers exist from here on: every timed step is the steady-state one
    first = params[0]

    def step():
        opt.step()
        return first
    return step

# ---- small CNN step -----------------------------------------------------------------------------------
def cnn(lib, device="cpu"):
    """Conv(1->8,3) ReLU MaxPool Conv(8->16,3) ReLU MaxPool Linear on 32 8x8 images, SGD."""
    if lib == "numpy":
        return None  # no hand-written conv baseline
    t = _lib(lib)
    t.manual_seed(0)
    nn = t.nn
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(64, 10)).to(device)
    opt = t.optim.SGD(model.parameters(), lr=0.05)
    rng = np.random.default_rng(0)
    X = t.tensor(rng.standard_normal((32, 1, 8, 8)).astype(np.float32), device=device)
    Y = t.tensor(rng.integers(0, 10, 32), device=device)

    def step():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(X), Y)
        loss.backward()
        opt.step()
        return loss
    return step


# ---- large elementwise / row ops ---------------------------------------------------------------------
def _big_unary(name, n):
    def build(lib, device="cpu"):
        rng = np.random.default_rng(0)
        x0 = rng.standard_normal(n).astype(np.float32)
        if lib == "numpy":
            if name == "sigmoid":
                return lambda: 1 / (1 + np.exp(-x0))
            from math import sqrt
            try:
                import scipy.special as sp  # NumPy has no erf (SciPy comes with the bench extra)
            except ImportError:
                return None  # no hand-written baseline without it
            return lambda: 0.5 * x0 * (1 + sp.erf(x0 / sqrt(2)))
        t = _lib(lib)
        x = t.tensor(x0, device=device)
        fn = t.sigmoid if name == "sigmoid" else t.nn.functional.gelu
        return lambda: fn(x)
    return build


sigmoid_16m = _big_unary("sigmoid", 1 << 24)
gelu_16m = _big_unary("gelu", 1 << 24)


def softmax_ce(lib, device="cpu"):
    """cross_entropy forward + backward on 4096 x 1000 logits."""
    rng = np.random.default_rng(0)
    l0 = rng.standard_normal((4096, 1000)).astype(np.float32)
    y0 = rng.integers(0, 1000, 4096)
    if lib == "numpy":
        def step():
            m = l0.max(1, keepdims=True)
            e = np.exp(l0 - m)
            s = e.sum(1, keepdims=True)
            loss = (np.log(s[:, 0]) + m[:, 0] - l0[np.arange(4096), y0]).mean()
            g = e / s
            g[np.arange(4096), y0] -= 1
            g /= 4096
            return loss, g
        return step
    t = _lib(lib)
    logits = t.tensor(l0, requires_grad=True, device=device)
    y = t.tensor(y0, device=device)

    def step():
        loss = t.nn.functional.cross_entropy(logits, y)
        loss.backward()
        logits.grad = None
        return loss
    return step


def layer_norm(lib, device="cpu"):
    """layer_norm forward + backward on 4096 x 1024 with weight and bias."""
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((4096, 1024)).astype(np.float32)
    if lib == "numpy":
        w, b = np.ones(1024, np.float32), np.zeros(1024, np.float32)

        def step():
            mu = x0.mean(1, keepdims=True)
            xc = x0 - mu
            rstd = 1 / np.sqrt((xc * xc).mean(1, keepdims=True) + 1e-5)
            xh = xc * rstd
            y = xh * w + b
            gy = np.ones_like(y)
            gxh = gy * w
            gx = rstd * (gxh - gxh.mean(1, keepdims=True) - xh * (gxh * xh).mean(1, keepdims=True))
            return y, gx, (gy * xh).sum(0), gy.sum(0)
        return step
    t = _lib(lib)
    x = t.tensor(x0, requires_grad=True, device=device)
    w = t.ones(1024, requires_grad=True, device=device)
    b = t.zeros(1024, requires_grad=True, device=device)

    def step():
        y = t.nn.functional.layer_norm(x, (1024,), w, b)
        y.sum().backward()
        x.grad = w.grad = b.grad = None
        return y
    return step


CASES = {
    "tiny_ops_fwd": tiny_ops,
    "tutorial_iter": tutorial,
    "mlp_256x784-1024-1024-10": mlp_big,
    "mlp_32x784-128-10": mlp_small,
    "sgd_step_784-128-10": sgd_step,
    "cnn_step": cnn,
    "sigmoid_16M": sigmoid_16m,
    "gelu_16M": gelu_16m,
    "softmax_ce_4096x1000": softmax_ce,
    "layer_norm_4096x1024": layer_norm,
}
