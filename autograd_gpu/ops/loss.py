"""Loss functions. Elementwise parts run as one fused kernel per direction on CUDA devices."""
from __future__ import annotations

from ..autograd.node import Op
from ..tensor import Tensor

_REDUCTIONS = ("none", "mean", "sum")


def _reduction_enum(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _reduce_array(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


class BinaryCrossEntropyWithLogitsBackward0(Op):
    """loss = w [(1-y) x + (1 + (p-1) y) softplus(-x)], softplus(-x) = log1p(exp(-|x|)) + max(-x, 0): the
    form -w [p y log σ(x) + (1-y) log(1-σ(x))] takes without ever overflowing exp."""

    def forward(self, x, y, *extra, has_weight=False, has_pos_weight=False, reduction="mean"):
        self.reduction, self.has_w, self.has_pw = reduction, has_weight, has_pos_weight
        self.save = tuple(range(2 + len(extra)))
        w = extra[0] if has_weight else None
        pw = extra[-1] if has_pos_weight else None
        if self.dev.uses_kernels:
            from . import fused
            loss = fused.bce_with_logits_fwd(self.dev, x, y, w, pw)
        else:
            xp = self.dev.xp
            sp = xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(-x, 0)
            loss = (1 - y) * x + ((1 + (pw - 1) * y) * sp if pw is not None else sp)
            if w is not None:
                loss = loss * w
        self.n = loss.size
        return _reduce_array(loss, reduction)

    def backward(self, g):
        saved = self.saved_tensors
        x, y = saved[0], saved[1]
        w = saved[2] if self.has_w else None
        pw = saved[-1] if self.has_pw else None
        if self.reduction == "mean":
            g = g / self.n
        need = self.needs_input_grad
        grads = [None] * len(saved)
        if need[0]:
            s = x.sigmoid()
            dx = s - y if pw is None else s * (1 + (pw - 1) * y) - pw * y
            grads[0] = g * (dx if w is None else dx * w)
        if need[1]:
            dy = -x
            if pw is not None:
                dy = dy + (pw - 1) * ((-x.abs()).exp().log1p() + (-x).clamp(min=0))
            grads[1] = g * (dy if w is None else dy * w)
        if self.has_w and need[2]:
            raise RuntimeError("binary_cross_entropy_with_logits: gradient with respect to weight is not "
                               "implemented")
        if self.has_pw and need[-1]:
            raise RuntimeError("binary_cross_entropy_with_logits: gradient with respect to pos_weight is not "
                               "implemented")
        return tuple(grads)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                                     reduce=None, reduction: str = "mean", pos_weight: Tensor | None = None) -> Tensor:
    """Sigmoid + binary cross entropy in one numerically stable op (weight and pos_weight broadcast)."""
    _reduction_enum(reduction)
    if target._data.shape != input._data.shape:
        raise ValueError(f"Target size ({target.shape}) must be the same as input size ({input.shape})")
    extra = [t for t in (weight, pos_weight) if t is not None]
    return BinaryCrossEntropyWithLogitsBackward0.apply(input, target, *extra, has_weight=weight is not None,
                                                       has_pos_weight=pos_weight is not None, reduction=reduction)


__all__ = ["binary_cross_entropy_with_logits"]
