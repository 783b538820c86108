"""RMSprop (alpha, eps, weight decay, momentum, centered, maximize)."""
from __future__ import annotations

from ..tensor import Tensor
from .optimizer import Optimizer, _step_tensor

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """v = alpha v + (1 - alpha) g^2; avg = sqrt(v - mean_g^2 if centered else v) + eps;
    buf = momentum buf + g / avg, p -= lr buf (momentum > 0) else p -= lr g / avg.
    One fused multi-tensor kernel per group on CUDA devices, NumPy in place on cpu."""

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False,
                 capturable: bool = False, foreach=None, maximize: bool = False,
                 differentiable: bool = False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach, maximize=maximize,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns closure() if given."""
        return self._fused_step(closure, lambda group, params: [self._state_of(group, p) for p in params])

    def _state_of(self, group, p):
        """The parameter's state, created at its first step; its step count advanced."""
        state = self.state[p]
        if len(state) == 0:
            dev, x = p._device, p._data
            state["step"] = _step_tensor(0.0)
            state["square_avg"] = Tensor._make(dev.xp.zeros_like(x), dev)
            if group["momentum"] > 0:
                state["momentum_buffer"] = Tensor._make(dev.xp.zeros_like(x), dev)
            if group["centered"]:
                state["grad_avg"] = Tensor._make(dev.xp.zeros_like(x), dev)
        state["step"]._data += 1
        return state

    def _update_kernel(self, group, params, grads, states):
        from ..ops import fused
        centered, momentum = group["centered"], group["momentum"]
        col = lambda key: [s[key]._data for s in states]  # noqa: E731
        fused.rmsprop_step(params[0]._device, [p._data for p in params], grads, col("square_avg"),
                           col("grad_avg") if centered else None,
                           col("momentum_buffer") if momentum > 0 else None, group["lr"], group["alpha"],
                           group["eps"], group["weight_decay"], momentum, centered, group["maximize"])

    def _update_cpu(self, group, p, g, state):
        xp = p._device.xp
        x = p._data
        dt = x.dtype.type
        alpha, eps, wd, momentum = group["alpha"], group["eps"], group["weight_decay"], group["momentum"]
        if group["maximize"]:
            g = -g
        if wd != 0:
            g = g + dt(wd) * x
        v = state["square_avg"]._data
        v *= dt(alpha)
        v += dt(1 - alpha) * (g * g)
        if group["centered"]:
            ga = state["grad_avg"]._data
            ga += dt(1 - alpha) * (g - ga)  # lerp
            avg = xp.sqrt(v - ga * ga)
        else:
            avg = xp.sqrt(v)
        avg += dt(eps)
        if momentum > 0:
            buf = state["momentum_buffer"]._data
            buf *= dt(momentum)
            buf += g / avg
            x -= dt(group["lr"]) * buf
        else:
            x -= dt(group["lr"]) * (g / avg)
