"""SGD with momentum, dampening, Nesterov, weight decay and maximize."""
from __future__ import annotations

from ..autograd.grad_mode import no_grad
from ..tensor import Tensor
from .optimizer import Optimizer, _params_with_grad, _per_device

__all__ = ["SGD"]


class SGD(Optimizer):
    """g = ±grad + wd p; buf = momentum buf + (1 - dampening) g (buf = g at first);
    g = g + momentum buf (nesterov) or buf; p -= lr g.
    One fused multi-tensor kernel per group on CUDA devices, NumPy in place on cpu."""

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False, foreach=None,
                 differentiable: bool = False, fused=None):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach, differentiable=differentiable,
                        fused=fused)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns closure() if given."""
        loss = self._closure_loss(closure)
        with no_grad():
            for group in self.param_groups:
                for params, grads in _per_device(*_params_with_grad(group)):
                    self._update_group(group, params, grads)
        return loss

    def _update_group(self, group, params, grads):
        lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
        wd, nesterov, maximize = group["weight_decay"], group["nesterov"], group["maximize"]
        dev = params[0]._device
        if dev.uses_kernels:
            from ..ops import fused
            xp = dev.xp
            if momentum == 0:
                fused.sgd_step(dev, [p._data for p in params], grads, None, lr, 0.0, dampening, nesterov, wd,
                               maximize, False)
            else:
                # parameters whose buffer exists already and those starting now take separate launches
                for first in (False, True):
                    idx = [i for i, p in enumerate(params)
                           if ("momentum_buffer" not in self.state[p]) == first]
                    if not idx:
                        continue
                    if first:
                        for i in idx:
                            p = params[i]
                            self.state[p]["momentum_buffer"] = Tensor._make(xp.empty_like(p._data), dev)
                    bufs = [self.state[params[i]]["momentum_buffer"]._data for i in idx]
                    fused.sgd_step(dev, [params[i]._data for i in idx], [grads[i] for i in idx], bufs, lr,
                                   momentum, dampening, nesterov, wd, maximize, first)
            for p in params:
                p._version[0] += 1
            return
        for p, g in zip(params, grads):
            self._update_cpu(p, g, lr, momentum, dampening, wd, nesterov, maximize)

    def _update_cpu(self, p, g, lr, momentum, dampening, wd, nesterov, maximize):
        import numpy as np
        x = p._data
        d = -g if maximize else g
        if wd != 0:
            d = d + wd * x if d is g else np.add(d, wd * x, out=d)
        if momentum != 0:
            state = self.state[p]
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = Tensor._make(np.array(d, dtype=x.dtype, copy=True), p._device)
                state["momentum_buffer"] = buf
            else:
                b = buf._data
                b *= momentum
                if dampening == 0:  # (the default: saves a pass and a temporary the size of the parameter)
                    b += d
                else:
                    b += (1 - dampening) * d
            d = d + momentum * buf._data if nesterov else buf._data
        x -= (lr * d).astype(x.dtype, copy=False)
        p._version[0] += 1
