"""Ranking, margin, embedding and likelihood losses: kl_div, margin_ranking_loss, hinge_embedding_loss,
soft_margin_loss, cosine_embedding_loss, triplet_margin_loss (and _with_distance_loss), poisson_nll_loss,
gaussian_nll_loss, multilabel_soft_margin_loss, multi_margin_loss, multilabel_margin_loss.

Each is PyTorch's own formula written with the library's differentiable ops (gradients of every order come
from those ops), with numerical departures only where PyTorch's formula overflows or produces NaN for no
reason: soft_margin_loss is softplus(-y x) (PyTorch's log1p(exp(-y x)) is inf for -y x > 88 in float32); the
Stirling term of poisson_nll_loss is evaluated on max(target, 1) where it is masked out anyway, and kl_div's
t log t on t = 1 where t = 0 (PyTorch's 0 * log(0) there makes the target's gradient NaN); triplet losses
compute float16 inputs in float32 (see _triplet).
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ..autograd.grad_mode import no_grad
from ..autograd.node import _broadcast_error, _mismatch_error
from ..tensor import Tensor
from ._nnutil import REDUCTIONS, TORCH_NAMES, const, not_differentiable, reduction_arg, size_str
from ._util import promote
from .activation import relu, softplus
from .distance import pairwise_distance
from .loss import binary_cross_entropy_with_logits
from .pointwise_clamp import minimum
from .pointwise_logic import where

__all__ = ["kl_div", "margin_ranking_loss", "hinge_embedding_loss", "soft_margin_loss",
           "cosine_embedding_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss",
           "poisson_nll_loss", "gaussian_nll_loss", "multilabel_soft_margin_loss", "multi_margin_loss",
           "multilabel_margin_loss"]


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def _shape_list(t: Tensor) -> str:
    return str(list(t._data.shape))


# ---------------------------------------------------------------- divergences and likelihoods
_KL_MEAN_WARNING = ("reduction: 'mean' divides the total loss by both the batch size and the support size."
                    "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                    "'mean' will be changed to behave the same as 'batchmean' in the next major release.")


def _xlogy_self(t: Tensor) -> Tensor:
    """t log t with 0 log 0 = 0 (xlogy(t, t)); log's argument is 1 where t = 0, so neither the value nor the
    gradient picks up 0 * -inf."""
    return t * where(t == 0, 1.0, t).log()


def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """Pointwise KL divergence with log-probability input: t (log t - x), or e^t (t - x) with log_target;
    'batchmean' divides the sum by the batch size (input.size(0))."""
    if size_average is not None or reduce is not None:
        red = reduction_arg(reduction, size_average, reduce)
    else:
        if reduction == "mean":
            warnings.warn(_KL_MEAN_WARNING, stacklevel=2)
        red = "sum" if reduction == "batchmean" else reduction if reduction in REDUCTIONS else \
            reduction_arg(reduction)
    if input._data.dtype.kind in "biu" or target._data.dtype.kind in "biu":
        raise RuntimeError("kl_div: Integral inputs not supported.")
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = _xlogy_self(target) - target * input
    out = _reduce(loss, red)
    if reduction == "batchmean" and input._data.ndim != 0:
        out = out / input._data.shape[0]
    return out


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average=None, eps: float = 1e-8, reduce=None, reduction: str = "mean") -> Tensor:
    """e^x - t x (log_input), else x - t log(x + eps); full adds Stirling's t log t - t + log(2 pi t) / 2
    where t > 1."""
    if size_average is not None or reduce is not None:
        reduction = reduction_arg(reduction, size_average, reduce)
    elif reduction not in REDUCTIONS:
        raise ValueError(reduction + " is not a valid value for reduction")
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        big = target > 1
        t = where(big, target, 1.0)
        stirling = t * t.log() - t + 0.5 * (t * (2 * math.pi)).log()
        loss = loss + where(big, stirling, 0.0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input: Tensor, target: Tensor, var, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Tensor:
    """(log max(var, eps) + (x - t)^2 / max(var, eps)) / 2 (+ log(2 pi) / 2 with full); var is a tensor of
    input's shape, one dim short of it, or with one mismatched dim of size 1 (homoscedastic), or a number.
    The clamp is applied outside autograd, as in PyTorch: var's gradient is taken at the clamped value."""
    if isinstance(var, (int, float)) and not isinstance(var, bool):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = input.new_full(input._data.shape, float(var))
    elif bool((var < 0).any()):
        raise ValueError("var has negative entry/entries")
    vs, xs = var._data.shape, input._data.shape
    if vs != xs:
        if xs[:-1] == vs:  # one dim short: the same variance across the last dim
            var = var.unsqueeze(-1)
        elif not (len(xs) == len(vs) and sum(v for x, v in zip(xs, vs) if x != v) == 1):
            raise ValueError("var is of incorrect size")
    if reduction not in REDUCTIONS:
        raise ValueError(reduction + " is not valid")
    var = var.clone()
    with no_grad():
        var.clamp_(min=eps)
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


# ---------------------------------------------------------------- margin and ranking losses
def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0, size_average=None,
                        reduce=None, reduction: str = "mean") -> Tensor:
    """max(0, -y (x1 - x2) + margin)."""
    reduction = reduction_arg(reduction, size_average, reduce)
    if input1._data.ndim != input2._data.ndim or input1._data.ndim != target._data.ndim:
        raise RuntimeError("margin_ranking_loss : All input tensors should have same dimension but got "
                           f"sizes: input1: {size_str(input1._data.shape)}, input2: "
                           f"{size_str(input2._data.shape)}, target: {size_str(target._data.shape)} ")
    return _reduce((-target * (input1 - input2) + margin).clamp_min(0), reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, size_average=None, reduce=None,
                         reduction: str = "mean") -> Tensor:
    """x where y = 1, max(0, margin - x) where y = -1 (PyTorch adds both terms for any other y)."""
    reduction = reduction_arg(reduction, size_average, reduce)
    loss = where(target != 1, (margin - input).clamp_min(0), 0.0) + where(target != -1, input, 0.0)
    return _reduce(loss, reduction)


def soft_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """log(1 + exp(-y x)), as softplus(-y x): finite where exp(-y x) overflows."""
    reduction = reduction_arg(reduction, size_average, reduce)
    not_differentiable("soft_margin_loss", "target", target)
    xs = input._data.shape
    try:
        shape = np.broadcast_shapes(xs, target._data.shape)
    except ValueError:
        raise _broadcast_error((input, target)) from None
    if shape != xs:  # (PyTorch writes the loss into an input-shaped output)
        raise RuntimeError(f"output with shape {list(xs)} doesn't match the broadcast shape {list(shape)}")
    return _reduce(softplus(-input * target, 1.0, float("inf")), reduction)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                          size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """1 - cos(x1, x2) where y = 1, max(0, cos(x1, x2) - margin) where y = -1, 0 for any other y;
    cos = <x1, x2> / sqrt((|x1|^2 + 1e-12)(|x2|^2 + 1e-12)) over the last dim."""
    reduction = reduction_arg(reduction, size_average, reduce)
    td = target._data.ndim
    if td > 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    want = 2 if td == 1 else 1
    if input1._data.ndim != want or input2._data.ndim != want:
        raise RuntimeError(f"{td}D target tensor expects {want}D input tensors, but found inputs with sizes "
                           f"{_shape_list(input1)} and {_shape_list(input2)}.")
    eps = 1e-12  # PyTorch's EPSILON, added to each squared magnitude
    prod = (input1 * input2).sum(td)
    mag1 = (input1 * input1).sum(td) + eps
    mag2 = (input2 * input2).sum(td) + eps
    cos = prod / (mag1 * mag2).sqrt()
    loss = where(target == 1, 1 - cos, 0.0) + where(target == -1, (cos - margin).clamp_min(0), 0.0)
    return _reduce(loss, reduction)


def _triplet(anchor: Tensor, positive: Tensor, negative: Tensor, margin, swap, reduction, d) -> Tensor:
    """max(0, margin + d(a, p) - d(a, n)) reduced; float16 inputs are computed in float32 and the loss rounded
    once: margin + d(a, p) - d(a, n) cancels, and three float16 roundings of terms larger than the loss put
    it off by several of its ulps (PyTorch's float16 result too)."""
    half = anchor._data.dtype == np.float16
    if half:
        anchor, positive, negative = anchor.float(), positive.float(), negative.float()
    d_pos = d(anchor, positive)
    d_neg = d(anchor, negative)
    if swap:
        d_neg = minimum(d_neg, d(positive, negative))
    loss = _reduce((margin + d_pos - d_neg).clamp_min(0), reduction)
    return loss.half() if half else loss


def _check_triplet_dims(anchor: Tensor, positive: Tensor, negative: Tensor):
    a, p, n = anchor._data.ndim, positive._data.ndim, negative._data.ndim
    if not a == p == n:
        raise RuntimeError("The anchor, positive, and negative tensors are expected to have the same number "
                           f"of dimensions, but got: anchor {a}D, positive {p}D, and negative {n}D inputs")


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, p: float = 2,
                        eps: float = 1e-6, swap: bool = False, size_average=None, reduce=None,
                        reduction: str = "mean") -> Tensor:
    """max(0, margin + d(a, p) - d(a, n)), d = pairwise_distance(., ., p, eps); swap: d(a, n) becomes
    min(d(a, n), d(p, n))."""
    reduction = reduction_arg(reduction, size_average, reduce)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    _check_triplet_dims(anchor, positive, negative)
    return _triplet(anchor, positive, negative, margin, swap, reduction,
                    lambda u, v: pairwise_distance(u, v, p, eps))


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function=None, margin: float = 1.0, swap: bool = False,
                                      reduction: str = "mean") -> Tensor:
    """max(0, margin + d(a, p) - d(a, n)) for any distance function d (default: pairwise_distance)."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    _check_triplet_dims(anchor, positive, negative)
    if distance_function is not None:  # (the user's function sees the tensors as given)
        d_pos = distance_function(anchor, positive)
        d_neg = distance_function(anchor, negative)
        if swap:
            d_neg = minimum(d_neg, distance_function(positive, negative))
        return _reduce((margin + d_pos - d_neg).clamp_min(0), reduction)
    return _triplet(anchor, positive, negative, margin, swap, reduction, pairwise_distance)


# ---------------------------------------------------------------- multi-class / multi-label margins
def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """mean over classes (the last dim) of -w [y log sigmoid(x) + (1 - y) log sigmoid(-x)]: the fused,
    overflow-free binary_cross_entropy_with_logits per element."""
    if size_average is not None or reduce is not None:
        reduction = reduction_arg(reduction, size_average, reduce)
    class_dim = input._data.ndim - 1
    if class_dim < 0:
        raise IndexError("Dimension specified as -1 but tensor has no dimensions")
    c = input._data.shape[class_dim]
    if target._data.shape != input._data.shape:  # PyTorch's formula broadcasts
        try:
            shape = np.broadcast_shapes(target._data.shape, input._data.shape)
        except ValueError:
            raise _broadcast_error((target, input)) from None
        input, target = input.expand(shape), target.expand(shape)
    if target._data.dtype != input._data.dtype:
        input, target = promote(input, target)
    loss = binary_cross_entropy_with_logits(input, target, reduction="none")
    if weight is not None:
        loss = loss * weight
    # the input's last dim, also when a larger target broadcast the loss to more dims (PyTorch's indexing)
    loss = loss.sum(class_dim) / c
    if reduction not in REDUCTIONS:
        raise ValueError(reduction + " is not valid")
    return _reduce(loss, reduction)


def _margin_input_dims(input: Tensor, target: Tensor):
    """(frames, classes) of a multi_margin / multilabel_margin input: (N, C), (C,) or () (one class)."""
    if target._device is not input._device:  # (the target is read as an array, not an op input)
        _mismatch_error((input, target), input._device)
    xs = input._data.shape
    if not ((len(xs) == 2 and xs[1] != 0) or (len(xs) == 1 and xs[0] != 0) or len(xs) == 0):
        raise RuntimeError("Expected non-empty vector or matrix with optional 0-dim batch size, but got: "
                           f"{list(xs)}")
    return (1, xs[0] if xs else 1) if len(xs) <= 1 else xs


def _check_long(t: Tensor):
    if t._data.dtype != np.int64:
        raise RuntimeError(f"expected scalar type Long but found {TORCH_NAMES[t._data.dtype.name]}")


def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0,
                      weight: Tensor | None = None, size_average=None, reduce=None,
                      reduction: str = "mean") -> Tensor:
    """sum over classes j != y of w[y] max(0, margin - x[y] + x[j])^p / C per sample (p = 1 or 2)."""
    reduction = reduction_arg(reduction, size_average, reduce)
    if p != 1 and p != 2:
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight._data.ndim != 1:
        raise ValueError("weight must be one-dimensional")
    not_differentiable("multi_margin_loss", "weight", weight)
    n, c = _margin_input_dims(input, target)
    if target._data.ndim > 1 or target._data.size != n:
        raise RuntimeError("multi_margin_loss: target tensor should be 1-D with size equal to the number of "
                           f"input samples (batch size). Expected target size [{n}], but got "
                           f"{_shape_list(target)}. Input has shape {_shape_list(input)}.")
    if weight is not None and weight._data.size != c:
        raise RuntimeError(f"inconsistent weight size, expected {c} but got {_shape_list(weight)}")
    _check_long(target)
    if weight is not None and weight._data.dtype != input._data.dtype:
        raise RuntimeError(f"expected scalar type {TORCH_NAMES[input._data.dtype.name]} but found "
                           f"{TORCH_NAMES[weight._data.dtype.name]}")
    t = target._data.reshape(n)
    if t.size and bool(((t < 0) | (t >= c)).any()):  # (one host sync on a GPU, as the kernel's check)
        raise RuntimeError("target out of range")
    dev = input._device
    x = input.reshape(n, c)
    ti = Tensor._make(t, dev)
    z = margin - x.gather(1, ti.reshape(n, 1)) + x
    h = relu(z)  # (PyTorch counts a term only where z > 0: relu's zero gradient at 0 agrees)
    if p == 2:
        h = h * h
    if weight is not None:
        h = h * weight.index_select(0, ti).reshape(n, 1)
    others = dev.xp.arange(c)[None, :] != t[:, None]  # the target's own term (z = margin) is left out
    loss = (h * const(others.astype(h._data.dtype), dev)).sum(1) / c
    if input._data.ndim <= 1:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


def multilabel_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                           reduction: str = "mean") -> Tensor:
    """sum over target classes j (target's leading entries, up to the first -1) and non-target classes i of
    max(0, 1 - (x[j] - x[i])) / C per sample."""
    reduction = reduction_arg(reduction, size_average, reduce)
    n, c = _margin_input_dims(input, target)
    ts = target._data.shape
    if (input._data.ndim <= 1 and ts != (() if input._data.ndim == 0 else (c,))) or \
            (input._data.ndim == 2 and ts != (n, c)):
        raise RuntimeError(f"inconsistent target size: {_shape_list(target)} for input of size: "
                           f"{_shape_list(input)}")
    _check_long(target)
    dev = input._device
    xp = dev.xp
    t = target._data.reshape(n, c)
    if t.size and bool(((t < -1) | (t >= c)).any()):
        raise RuntimeError("argument #2 'target' is out of range")
    # the targets are each row's entries before its first -1 (duplicates count twice, as in PyTorch)
    active = xp.cumprod(t != -1, axis=1).astype(bool)
    ts_safe = xp.where(active, t, 0)
    is_target = xp.zeros((n, c), dtype=bool)
    rows = xp.broadcast_to(xp.arange(n)[:, None], (n, c))
    is_target[rows[active], ts_safe[active]] = True
    x = input.reshape(n, c)
    xj = x.gather(1, Tensor._make(ts_safe, dev))  # (n, c): x at each target entry
    z = relu(1 - xj.reshape(n, c, 1) + x.reshape(n, 1, c))  # (n, target entry, class)
    pairs = active[:, :, None] & ~is_target[:, None, :]
    loss = (z * const(pairs.astype(z._data.dtype), dev)).sum((1, 2)) / c
    if input._data.ndim <= 1:
        loss = loss.reshape(())
    return _reduce(loss, reduction)
