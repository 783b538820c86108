"""Pointwise losses (mse, l1, smooth_l1, huber, binary cross-entropy with and without logits).

The elementwise parts run as one fused kernel per direction on CUDA devices; each backward is an op of its
own (PyTorch's ``mse_loss_backward`` etc.) whose backward is written in Tensor ops. The reduction's 1/n is
passed to the backward op as ``scale``. Class-index losses (nll_loss, cross_entropy) live in loss_nll.py.
"""
from __future__ import annotations

import numpy as np

from ..autograd.node import Op, raw_backward
from ..tensor import Tensor
from ._nnutil import (REDUCTIONS, const, fused as _fused, kernels as _kernels, not_differentiable,
                      reduction_arg, size_str, warn_target_size)
from ._util import promote
from .activation import sigmoid, softplus
from .loss_nll import cross_entropy, nll_loss  # noqa: F401  (re-exported)


def _reduce_array(loss, reduction):
    if reduction == "mean":
        if loss.dtype.kind == "f" and loss.dtype.itemsize >= 4 and type(loss) is np.ndarray and loss.size:
            # what ndarray.mean computes (pairwise sum in the dtype, then / n in the dtype), minus the
            # microseconds of its Python wrapper; a Python int divisor is a weak scalar (NumPy 2: the division
            # runs in the loss dtype), and the 0-d result array keeps the dtype on NumPy 1.x too
            return _array(_add_reduce(loss, axis=None) / loss.size, loss.dtype)
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


_add_reduce = np.add.reduce
_array = np.array


def _scaled(g, scale):
    """The upstream gradient times the reduction's scale, as an array (no-op for scale 1)."""
    return g if scale == 1 else g * g.dtype.type(scale)


# ---------------------------------------------------------------- binary cross-entropy with logits
class BinaryCrossEntropyWithLogitsBackward0(Op):
    """loss = w [(1-y) x + (1 + (p-1) y) softplus(-x)], softplus(-x) = log1p(exp(-|x|)) + max(-x, 0): the
    form -w [p y log σ(x) + (1-y) log(1-σ(x))] takes without ever overflowing exp."""

    # the common call's attributes as class defaults: forward stores only what differs (n = 0: the loss has
    # input's size, which backward reads from the saved input)
    reduction, has_w, has_pw, save, n = "mean", False, False, (0, 1), 0

    def forward(self, x, y, *extra, has_weight=False, has_pos_weight=False, reduction="mean"):
        if reduction != "mean":
            self.reduction = reduction
        if extra:
            self.has_w, self.has_pw = has_weight, has_pos_weight
            self.save = tuple(range(2 + len(extra)))
        w = extra[0] if has_weight else None
        pw = extra[-1] if has_pos_weight else None
        if self.dev.uses_kernels and x.dtype.kind == "f":
            loss = _fused().bce_with_logits_fwd(self.dev, x, y, w, pw)
        elif pw is None and w is None and x.ndim and x.shape == y.shape and x.dtype == y.dtype:
            # (1 - y) x + softplus(-x) = log(e^(-x y) + e^(x - x y)): NumPy's logaddexp (max + log1p(exp(-|d|)))
            # in four passes instead of eight. Never softplus(x) - x y, which cancels where the loss is small
            # (y = 1, x >> 0: all of it at x = 20 in float32); here x - x y is exactly 0 for y = 1 and the
            # log1p term keeps every digit.
            xp = self.dev.xp
            c = x * y
            loss = x - c
            xp.negative(c, out=c)
            xp.logaddexp(c, loss, out=loss)
        else:
            xp = self.dev.xp
            sp = xp.abs(x) if x.ndim else xp.abs(x.reshape(1)).reshape(())  # (0-d ufuncs give scalars)
            xp.negative(sp, out=sp)
            xp.exp(sp, out=sp)
            xp.log1p(sp, out=sp)  # log1p(exp(-|x|)): softplus(-x) = this + max(-x, 0)
            # (1 - y) x + c max(-x, 0) before the log1p term: exactly 0 for a confident, correct prediction
            # (y = 0, x < 0 or y = 1, x > 0), so its small loss keeps every digit (the kernel's order too)
            c = 1 + (pw - 1) * y if pw is not None else None
            m = xp.maximum(-x, 0)
            loss = (1 - y) * x + (m if c is None else c * m)
            loss += sp if c is None else c * sp
            if w is not None:
                loss = loss * w
        if extra:
            self.n = loss.size
        return _reduce_array(loss, reduction)

    def _dx_array(self, gd, saved):
        """d loss / dx on arrays (the NumPy formula; no graph to record)."""
        x, y, extra = saved[0], saved[1], saved[2:]
        scale = 1 / (self.n or x._data.size) if self.reduction == "mean" else 1
        w = extra[0]._data if self.has_w else None
        pw = extra[-1]._data if self.has_pw else None
        # a 0-d upstream gradient (mean / sum) as a Python float: NumPy keeps x's dtype for it
        gy = float(gd) * scale if not gd.ndim else _scaled(gd, scale)
        return _bce_logits_dx(self.dev.xp, gy, x._data, y._data, w, pw)

    def backward_raw(self, gd):
        need = self.needs_input_grad
        if self.dev.uses_kernels or need[1]:
            return self._backward_unwrapped(gd)
        saved = self.saved_tensors
        grads = [None] * len(saved)
        if need[0]:
            grads[0] = self._dx_array(gd, saved)
        return tuple(grads)

    def backward(self, g):
        saved = self.saved_tensors
        x, y, extra = saved[0], saved[1], saved[2:]
        scale = 1 / (self.n or x._data.size) if self.reduction == "mean" else 1
        need = self.needs_input_grad
        grads = [None] * len(saved)
        if need[0]:
            if not self.dev.uses_kernels and raw_backward():  # (backward_raw's fallback, for need[1])
                grads[0] = Tensor._make(self._dx_array(g._data, saved), g._device)
            else:
                grads[0] = BinaryCrossEntropyWithLogitsBackwardBackward0.apply(
                    g, x, y, *extra, has_weight=self.has_w, has_pos_weight=self.has_pw, scale=scale)
        if need[1]:  # dl/dy = w [-x + (p - 1) softplus(-x)]
            dy = -x
            if self.has_pw:
                dy = dy + (extra[-1] - 1) * softplus(-x, 1.0, float("inf"))
            if self.has_w:
                dy = dy * extra[0]
            grads[1] = dy * (g * scale if scale != 1 else g)
        return tuple(grads)


class BinaryCrossEntropyWithLogitsBackwardBackward0(Op):
    """dl/dx = g w [(p y + 1 - y) σ(x) - p y]: one fused launch on CUDA devices."""

    def forward(self, g, x, y, *extra, has_weight=False, has_pos_weight=False, scale=1.0):
        self.has_w, self.has_pw, self.scale = has_weight, has_pos_weight, scale
        self.save = tuple(range(1 + len(extra) + 2))
        w = extra[0] if has_weight else None
        pw = extra[-1] if has_pos_weight else None
        gy = _scaled(g, scale)
        if _kernels(self.dev, x):
            return _fused().bce_with_logits_bwd(self.dev, x, y, gy, w, pw)
        return _bce_logits_dx(self.dev.xp, gy, x, y, w, pw)

    def backward(self, gg):
        saved = self.saved_tensors
        g, x, y, extra = saved[0], saved[1], saved[2], saved[3:]
        w = extra[0] if self.has_w else None
        pw = extra[-1] if self.has_pw else None
        need = self.needs_input_grad
        grads = [None] * len(saved)
        if need[0]:
            grads[0] = BinaryCrossEntropyWithLogitsBackwardBackward0.apply(
                gg, x, y, *extra, has_weight=self.has_w, has_pos_weight=self.has_pw, scale=self.scale)
        if need[1] or need[2]:
            c = gg * g * self.scale if self.scale != 1 else gg * g
            if w is not None:
                c = c * w
            s = sigmoid(x)
            if need[1]:  # d/dx: (p y + 1 - y) σ (1 - σ)
                grads[1] = c * s * (1 - s) * (1 + (pw - 1) * y if pw is not None else 1)
            if need[2]:  # d/dy: (p - 1) σ - p
                grads[2] = c * ((pw - 1) * s - pw if pw is not None else -1)
        return tuple(grads)


def _bce_logits_dx(xp, gy, x, y, w, pw):
    s = xp.tanh(x * 0.5)
    if pw is None and w is None and s.ndim and s.shape == y.shape and s.dtype == y.dtype:  # (in place)
        s *= 0.5
        s += 0.5
        s -= y
        s *= gy
        return s
    s = s * 0.5 + 0.5
    dx = s - y if pw is None else s * (1 + (pw - 1) * y) - pw * y
    return gy * (dx if w is None else dx * w)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     size_average=None, reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Sigmoid + binary cross entropy in one numerically stable op (weight and pos_weight broadcast)."""
    if size_average is not None or reduce is not None or reduction not in REDUCTIONS:
        reduction = reduction_arg(reduction, size_average, reduce)
    if target._data.shape != input._data.shape:
        raise ValueError(f"Target size ({target.shape}) must be the same as input size ({input.shape})")
    if weight is None and pos_weight is None:  # (the common call: no extra inputs to sort out)
        return BinaryCrossEntropyWithLogitsBackward0.apply(input, target, reduction=reduction)
    not_differentiable("binary_cross_entropy_with_logits", "weight", weight)
    not_differentiable("binary_cross_entropy_with_logits", "pos_weight", pos_weight)
    extra = [t for t in (weight, pos_weight) if t is not None]
    return BinaryCrossEntropyWithLogitsBackward0.apply(
        input, target, *extra, has_weight=weight is not None, has_pos_weight=pos_weight is not None,
        reduction=reduction)




# ---------------------------------------------------------------- binary cross-entropy on probabilities
class BinaryCrossEntropyBackward0(Op):
    """loss = -w [y max(log x, -100) + (1 - y) max(log(1 - x), -100)] (PyTorch clamps the logs at -100)."""

    def forward(self, x, y, *w, reduction="mean"):
        xp = self.dev.xp
        if not bool(((x >= 0) & (x <= 1)).all()):
            raise RuntimeError("all elements of input should be between 0 and 1")
        self.reduction = reduction
        self.save = (0, 1, 2) if w else (0, 1)
        with np.errstate(divide="ignore"):
            log_x = xp.maximum(xp.log(x), x.dtype.type(-100))
            log_1mx = xp.maximum(xp.log1p(-x), x.dtype.type(-100))
        loss = (y - 1) * log_1mx - y * log_x
        if w:
            loss = loss * w[0]
        self.n = loss.size
        return _reduce_array(loss, reduction)

    def backward(self, g):
        saved = self.saved_tensors
        x, y, w = saved[0], saved[1], saved[2:]
        scale = 1 / self.n if self.reduction == "mean" else 1
        need = self.needs_input_grad
        gx = BinaryCrossEntropyBackwardBackward0.apply(g, x, y, *w, scale=scale) if need[0] else None
        gy = None
        if need[1]:  # dl/dy = -w logit(x)
            gy = ((1 - x).log() - x.log()) * (g * scale if scale != 1 else g)
            if w:
                gy = gy * w[0]
        return (gx, gy) + (None,) * len(w)


class BinaryCrossEntropyBackwardBackward0(Op):
    """binary_cross_entropy_backward: dl/dx = g w (x - y) / max(x (1 - x), 1e-12)."""

    def forward(self, g, x, y, *w, scale=1.0):
        self.scale = scale
        self.save = tuple(range(3 + len(w)))
        xp = self.dev.xp
        d = (x - y) / xp.maximum((1 - x) * x, x.dtype.type(1e-12))
        if w:
            d = d * w[0]
        return _scaled(g, scale) * d

    def backward(self, gg):
        saved = self.saved_tensors
        g, x, y, w = saved[0], saved[1], saved[2], saved[3:]
        need = self.needs_input_grad
        grads = [None] * len(saved)
        if need[0]:
            grads[0] = BinaryCrossEntropyBackwardBackward0.apply(gg, x, y, *w, scale=self.scale)
        if need[1] or need[2]:
            c = gg * g * self.scale if self.scale != 1 else gg * g
            if w:
                c = c * w[0]
            den = x * (1 - x)
            if need[1]:  # d/dx (x - y) / (x (1 - x)) = (x^2 - 2 x y + y) / (x (1 - x))^2
                grads[1] = c * (x * x - x * y * 2 + y) / (den * den)
            if need[2]:
                grads[2] = -c / den
        return tuple(grads)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                         reduce=None, reduction: str = "mean") -> Tensor:
    """-w [y log(x) + (1 - y) log(1 - x)] on probabilities x (logs clamped at -100)."""
    reduction = reduction_arg(reduction, size_average, reduce)
    if target._data.shape != input._data.shape:
        raise ValueError(f"Using a target size ({size_str(target._data.shape)}) that is different to the "
                         f"input size ({size_str(input._data.shape)}) is deprecated. Please ensure they have "
                         "the same size.")
    if weight is None:
        return BinaryCrossEntropyBackward0.apply(input, target, reduction=reduction)
    not_differentiable("binary_cross_entropy", "weight", weight)
    weight = weight.expand(np.broadcast_shapes(target._data.shape, weight._data.shape))
    return BinaryCrossEntropyBackward0.apply(input, target, weight, reduction=reduction)


# ---------------------------------------------------------------- regression losses
class MseLossBackward0(Op):
    save = (0, 1)

    def forward(self, x, y, reduction="mean"):
        self.reduction = reduction
        if _kernels(self.dev, x):
            loss = _fused().mse_fwd(self.dev, x, y)
        else:
            loss = x - y
            loss *= loss
        self.n = loss.size
        return _reduce_array(loss, reduction)

    def backward_raw(self, gd):
        x, y = self.saved_tensors
        gx = MseLossBackwardBackward0.forward_arrays(self.dev, gd, x._data, y._data,
                                                     scale=1 / self.n if self.reduction == "mean" else 1)
        return gx, (-gx if self.needs_input_grad[1] else None)

    def backward(self, g):
        x, y = self.saved_tensors
        gx = MseLossBackwardBackward0.apply(g, x, y, scale=1 / self.n if self.reduction == "mean" else 1)
        return gx, (-gx if self.needs_input_grad[1] else None)


class MseLossBackwardBackward0(Op):
    """mse_loss_backward: dl/dx = 2 (x - y) g."""
    save = (0, 1, 2)

    def forward(self, g, x, y, scale=1.0):
        self.scale = scale
        gy = _scaled(g, scale)
        if _kernels(self.dev, x):
            return _fused().mse_bwd(self.dev, x, y, gy)
        return (x - y) * 2 * gy

    def backward(self, gg):
        g, x, y = self.saved_tensors
        need = self.needs_input_grad
        gg_g = MseLossBackwardBackward0.apply(gg, x, y, scale=self.scale) if need[0] else None
        gg_x = gg * g * (2 * self.scale) if need[1] or need[2] else None
        return gg_g, gg_x, (-gg_x if need[2] else None)


class SmoothL1LossBackward0(Op):
    save = (0, 1)

    def forward(self, x, y, reduction="mean", beta=1.0):
        self.reduction, self.beta = reduction, beta
        if _kernels(self.dev, x):
            loss = _fused().smooth_l1_fwd(self.dev, x, y, beta)
        else:
            d = self.dev.xp.abs(x - y)
            loss = self.dev.xp.where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta)
        loss = self._post(loss)
        self.n = loss.size
        return _reduce_array(loss, reduction)

    def _post(self, loss):
        return loss

    def backward(self, g):
        x, y = self.saved_tensors
        scale = 1 / self.n if self.reduction == "mean" else 1
        gx = self._bwd.apply(g, x, y, beta=self.beta, scale=scale * self._factor())
        return gx, (-gx if self.needs_input_grad[1] else None)

    def _factor(self):
        return 1


class SmoothL1LossBackwardBackward0(Op):
    """smooth_l1_loss_backward: dl/dx = g clip((x - y) / beta, -1, 1)."""
    save = (0, 1, 2)

    def forward(self, g, x, y, beta=1.0, scale=1.0):
        self.beta, self.scale = beta, scale
        gy = _scaled(g, scale)
        if _kernels(self.dev, x):
            return _fused().smooth_l1_bwd(self.dev, x, y, gy, beta)
        return self.dev.xp.clip((x - y) / beta, -1, 1) * gy

    def backward(self, gg):
        g, x, y = self.saved_tensors
        need = self.needs_input_grad
        gg_g = type(self).apply(gg, x, y, beta=self.beta, scale=self.scale) if need[0] else None
        gg_x = None
        if need[1] or need[2]:
            inside = const((abs(x._data - y._data) < self.beta).astype(x._data.dtype), x._device)
            gg_x = gg * g * inside * (self.scale / self.beta)
        return gg_g, gg_x, (-gg_x if need[2] else None)


class HuberLossBackwardBackward0(SmoothL1LossBackwardBackward0):
    """huber_loss_backward = delta * smooth_l1_loss_backward with beta = delta."""


class HuberLossBackward0(SmoothL1LossBackward0):
    """huber(d) = delta smooth_l1(d; beta=delta): 0.5 d^2 where |d| < delta, else delta (|d| - delta / 2)."""
    _bwd = HuberLossBackwardBackward0

    def _post(self, loss):
        return loss if self.beta == 1 else loss * loss.dtype.type(self.beta)

    def _factor(self):
        return self.beta


SmoothL1LossBackward0._bwd = SmoothL1LossBackwardBackward0


def _pair(input, target):
    warn_target_size(input, target)
    if target._data.dtype != input._data.dtype:
        input, target = promote(input, target)
    return input, target


def _weighted(loss: Tensor, weight: Tensor, reduction: str, mean_by_weight: bool) -> Tensor:
    """PyTorch's weighted regression losses: loss * weight, 'mean' divides by sum(weight) (mse, l1) or n."""
    if weight._data.shape != loss._data.shape:
        raise ValueError("Weights and input must have the same size.")
    loss = loss * weight
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / weight.sum() if mean_by_weight else loss.mean()


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
             weight: Tensor | None = None) -> Tensor:
    """mean((x - y)^2) (or sum / none)."""
    reduction = reduction_arg(reduction, size_average, reduce)
    input, target = _pair(input, target)
    if weight is not None:
        return _weighted(MseLossBackward0.apply(input, target, reduction="none"), weight, reduction, True)
    return MseLossBackward0.apply(input, target, reduction=reduction)


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
            weight: Tensor | None = None) -> Tensor:
    """mean(|x - y|) (or sum / none)."""
    reduction = reduction_arg(reduction, size_average, reduce)
    input, target = _pair(input, target)
    loss = (input - target).abs()
    if weight is not None:
        return _weighted(loss, weight, reduction, True)
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta else |d| - beta / 2, d = x - y (beta = 0 is l1_loss)."""
    reduction = reduction_arg(reduction, size_average, reduce)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    if beta == 0.0:
        return l1_loss(input, target, reduction=reduction)
    input, target = _pair(input, target)
    return SmoothL1LossBackward0.apply(input, target, reduction=reduction, beta=float(beta))


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """0.5 d^2 where |d| < delta else delta (|d| - delta / 2), d = x - y."""
    reduction = reduction_arg(reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    input, target = _pair(input, target)
    if weight is not None:
        loss = HuberLossBackward0.apply(input, target, reduction="none", beta=float(delta))
        return _weighted(loss, weight, reduction, False)
    return HuberLossBackward0.apply(input, target, reduction=reduction, beta=float(delta))


__all__ = ["binary_cross_entropy_with_logits", "binary_cross_entropy", "mse_loss", "l1_loss",
           "smooth_l1_loss", "huber_loss", "nll_loss", "cross_entropy"]
