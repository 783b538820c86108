"""Your own CUDA kernel as an autograd op: a fused swish, y = x * sigmoid(beta * x).

``python examples/custom_kernel.py [--device cpu|cuda|cuda_emulated]``

Two elementwise kernels (CuPy ElementwiseKernel syntax) do the work on CUDA devices, one per direction, each a
single pass over memory instead of the 4-5 temporaries that ``x * torch.sigmoid(beta * x)`` allocates:

    swish_fwd:  y  = x * s                                   s = sigmoid(beta x)
    swish_bwd:  gx = gy * (s + beta * x * s * (1 - s))

They are declared through ``autograd_gpu.backend.kernels`` (the project's factory around CuPy): on device
'cuda' they are ``cupy.ElementwiseKernel`` objects, on 'cuda_emulated' the same source runs on the CPU, and on
'cpu' we simply use NumPy. Gradients: ``Swish`` is an ``autograd.Function`` whose backward calls a second
Function, ``SwishGrad`` (the fused backward kernel), and SwishGrad's own backward is written with Tensor ops,
so double backward works too (the pattern of PyTorch's sigmoid_backward or Chainer's FunctionNode).
"""
from __future__ import annotations

import argparse

import numpy as np

import autograd_gpu as torch
from autograd_gpu.backend import kernels

# ---- the kernels: CUDA C++ bodies, 'T' is bound to the array dtype (float, double, half) -------------------
_SIG = "const T s = T(1) / (T(1) + exp(-beta * x));"
swish_fwd = kernels.elementwise("T x, T beta", "T y", _SIG + " y = x * s;", "swish_fwd", register=False)
swish_bwd = kernels.elementwise("T x, T gy, T beta", "T gx",
                                _SIG + " gx = gy * (s + beta * x * s * (T(1) - s));", "swish_bwd",
                                register=False)


def _sigmoid(xp, z):
    return 0.5 * xp.tanh(0.5 * z) + 0.5  # no overflow for large |z|


class SwishGrad(torch.autograd.Function):
    """gx = gy * d swish / dx, fused; its own backward (second derivative) in Tensor ops."""

    @staticmethod
    def forward(ctx, x, gy, beta):
        ctx.save_for_backward(x, gy)
        ctx.beta = beta
        a, g = x.detach()._data, gy.detach()._data
        if x.device.uses_kernels:
            gx = swish_bwd(x.device, a, g, a.dtype.type(beta))
        else:
            s = _sigmoid(np, beta * a)
            gx = g * (s + beta * a * s * (1 - s))
        return torch.Tensor._make(gx, x.device)

    @staticmethod
    def backward(ctx, ggx):
        x, gy = ctx.saved_tensors
        b = ctx.beta
        s = torch.sigmoid(x * b)
        d1 = s + b * x * s * (1 - s)                             # d swish / dx
        d2 = b * s * (1 - s) * (2 + b * x * (1 - 2 * s))         # d^2 swish / dx^2
        return ggx * gy * d2, ggx * d1, None


class Swish(torch.autograd.Function):
    """y = x * sigmoid(beta * x), forward fused."""

    @staticmethod
    def forward(ctx, x, beta=1.0):
        ctx.save_for_backward(x)
        ctx.beta = beta
        a = x.detach()._data
        if x.device.uses_kernels:
            y = swish_fwd(x.device, a, a.dtype.type(beta))
        else:
            y = a * _sigmoid(np, beta * a)
        return torch.Tensor._make(y, x.device)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        return SwishGrad.apply(x, gy, ctx.beta), None


def swish(x: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """x * sigmoid(beta * x)."""
    return Swish.apply(x, beta)


class SwishModule(torch.nn.Module):
    """The op as a layer, usable in nn.Sequential."""

    def __init__(self, beta: float = 1.0):
        super().__init__()
        self.beta = beta

    def forward(self, x):
        return swish(x, self.beta)

    def extra_repr(self) -> str:
        return f"beta={self.beta}"


def main(device: str) -> None:
    torch.manual_seed(0)
    x = torch.randn(4, 5, dtype=torch.float64, device=device, requires_grad=True)
    y = swish(x, 1.5)
    reference = x * torch.sigmoid(x * 1.5)
    print("grad_fn:", y.grad_fn.name())
    diff = np.abs(y.detach()._host() - reference.detach()._host()).max()
    print("max |fused - composed| forward:", float(diff))
    ok1 = torch.autograd.gradcheck(lambda t: swish(t, 1.5), (x,))
    ok2 = torch.autograd.gradgradcheck(lambda t: swish(t, 1.5), (x,))
    print("gradcheck:", ok1, " gradgradcheck:", ok2)

    model = torch.nn.Sequential(torch.nn.Linear(3, 16), SwishModule(), torch.nn.Linear(16, 1)).to(device)
    print(model)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    xs = torch.linspace(-2, 2, 64, device=device).reshape(-1, 1) * torch.ones(1, 3, device=device)
    target = (xs[:, :1] ** 2)
    for step in range(201):
        loss = ((model(xs) - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0:
            print(f"step {step:3d}  loss {loss.item():.5f}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    main(p.parse_args().device)
