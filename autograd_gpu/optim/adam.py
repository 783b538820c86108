"""Adam and AdamW (amsgrad, weight decay coupled or decoupled, maximize)."""
from __future__ import annotations

import math

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer, _step_tensor

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
    p -= lr / (1 - b1^t) m / (sqrt(v_hat) / sqrt(1 - b2^t) + eps), v_hat = max over steps of v with amsgrad.
    Weight decay: g += wd p, or p *= 1 - lr wd when decoupled (AdamW).
    One fused multi-tensor kernel per group on CUDA devices, NumPy in place on cpu."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, foreach=None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False, fused=None,
                 decoupled_weight_decay: bool = False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _init_state(self, p):
        state = self.state[p]
        if len(state) == 0:
            xp = p._device.xp
            state["step"] = _step_tensor(0.0)
            state["exp_avg"] = Tensor._make(xp.zeros_like(p._data), p._device)
            state["exp_avg_sq"] = Tensor._make(xp.zeros_like(p._data), p._device)
        return state

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns closure() if given."""
        return self._fused_step(closure, self._states)

    def _states(self, group, params):
        states = []
        for p in params:
            s = self._init_state(p)
            if group["amsgrad"] and "max_exp_avg_sq" not in s:
                s["max_exp_avg_sq"] = Tensor._make(p._device.xp.zeros_like(p._data), p._device)
            s["step"]._data += 1
            states.append(s)
        return states

    def _update_kernel(self, group, params, grads, states):
        from ..ops import fused
        b1, b2 = group["betas"]
        dev = params[0]._device
        by_step: dict = {}  # one launch per distinct step count (normally just one)
        for i, s in enumerate(states):
            by_step.setdefault(int(s["step"]._data), []).append(i)
        for step, idx in by_step.items():
            col = lambda key: [states[i][key]._data for i in idx]  # noqa: E731
            vmax = col("max_exp_avg_sq") if group["amsgrad"] else None
            fused.adam_step(dev, [params[i]._data for i in idx], [grads[i] for i in idx],
                            col("exp_avg"), col("exp_avg_sq"), vmax,
                            step, group["lr"], b1, b2, group["eps"], group["weight_decay"],
                            group["decoupled_weight_decay"], group["amsgrad"], group["maximize"])

    def _update_cpu(self, group, p, g, s):
        b1, b2 = group["betas"]
        lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
        x = p._data
        dt = x.dtype.type
        step = int(s["step"]._data)
        if group["maximize"]:
            g = -g
        if wd != 0:
            if group["decoupled_weight_decay"]:
                x *= dt(1 - lr * wd)
            else:
                g = g + dt(wd) * x
        m, v = s["exp_avg"]._data, s["exp_avg_sq"]._data
        m += dt(1 - b1) * (g - m)                        # lerp, as PyTorch
        v *= dt(b2)
        v += dt(1 - b2) * (g * g)
        step_size = lr / (1 - b1 ** step)
        bc2_sqrt = math.sqrt(1 - b2 ** step)
        if group["amsgrad"]:
            vmax = s["max_exp_avg_sq"]._data
            np.maximum(vmax, v, out=vmax)
            v = vmax
        denom = np.sqrt(v)
        denom /= dt(bc2_sqrt)
        denom += dt(eps)
        np.divide(m, denom, out=denom)
        denom *= dt(step_size)
        x -= denom


class AdamW(Adam):
    """Adam with decoupled weight decay: p *= 1 - lr wd before the Adam update (default wd 1e-2)."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False, foreach=None,
                 capturable: bool = False, differentiable: bool = False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
