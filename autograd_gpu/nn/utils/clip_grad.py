"""Gradient clipping."""
from __future__ import annotations

import math

from ...autograd.grad_mode import no_grad
from ...tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p._grad for p in parameters if p._grad is not None]


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach=None) -> Tensor:
    """Scale all gradients in place so their joint norm is at most max_norm:
    g *= min(1, max_norm / (norm + 1e-6)). Returns the total norm (before clipping) as a 0-d tensor."""
    grads = _grads(parameters)
    from ... import creation
    if not grads:
        return creation.tensor(0.0)
    dev = grads[0]._device
    xp = dev.xp
    norm_type = float(norm_type)
    with no_grad():
        if math.isinf(norm_type):
            norms = [xp.abs(g._data).max() if g._data.size else xp.zeros((), g._data.dtype) for g in grads]
            total = xp.max(xp.stack([n.astype(xp.float64) for n in norms]))
        else:
            powers = sum((xp.abs(g._data.astype(xp.float64)) ** norm_type).sum() for g in grads)
            total = powers ** (1.0 / norm_type)
        total_f = float(total)
        if error_if_nonfinite and not math.isfinite(total_f):
            raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is "
                               "non-finite, so it cannot be clipped. To disable this error and scale the "
                               "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`")
        coef = min(max_norm / (total_f + 1e-6), 1.0)
        if coef < 1.0:
            for g in grads:
                g._data *= g._data.dtype.type(coef)
                g._version[0] += 1
    return Tensor._make(xp.asarray(total_f, dtype=grads[0]._data.dtype), dev)


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient element to [-clip_value, clip_value] in place."""
    for g in _grads(parameters):
        xp = g._device.xp
        xp.clip(g._data, -clip_value, clip_value, out=g._data)
        g._version[0] += 1
