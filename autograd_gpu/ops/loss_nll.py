"""Class-index losses: nll_loss and cross_entropy (class-index or probability targets, label smoothing).

cross_entropy with class-index targets and no class weights is one fused log-softmax + NLL node on every
device (a kernel per direction on CUDA devices, the same arithmetic in NumPy on cpu); it keeps PyTorch's
node name, NllLossBackward0. With class weights it is log_softmax + nll_loss, as in PyTorch.
Targets are validated before any computation, with PyTorch's errors.
"""
from __future__ import annotations

import numpy as np

from ..autograd.node import Op, _mismatch_error
from ..backend.device import CPU as _CPU
from ..tensor import Tensor
from ._nnutil import TORCH_NAMES, const, fused as _fused, not_differentiable, reduction_arg, REDUCTIONS
from ._pw_common import acc_dtype
from ._util import held_index
from .softmax import SoftmaxBackwardDataBackward0, log_softmax, softmax


def _class_axis(x) -> int:
    return 1 if x.ndim > 1 else 0


def _nll_parts(xp, dtype, t, w, ignore_index):
    """(safe targets, per-element weights w[t] (0 where ignored), valid mask), shaped like the target."""
    valid = t != ignore_index
    ts = xp.where(valid, t, 0)
    wt = valid.astype(dtype) if w is None else w[ts] * valid
    return ts, wt, valid


def _pick(xp, x, ts):
    """x[i, ts[i], ...] along the class axis (advanced indexing for the common 1-D / 2-D inputs)."""
    if x.ndim == 2:
        return x[xp.arange(x.shape[0]), ts]
    if x.ndim == 1:
        return x[ts]
    return xp.take_along_axis(x, xp.expand_dims(ts, 1), axis=1).squeeze(1)


def _place(xp, shape, ts, coef, dtype):
    """Zeros of ``shape`` with coef written at the target class of each element (the adjoint of _pick)."""
    if len(shape) <= 2:
        out = xp.zeros(shape, dtype)
        out[(xp.arange(shape[0]), ts) if len(shape) == 2 else ts] = coef
        return out
    hit = xp.arange(shape[1]).reshape((1, -1) + (1,) * (len(shape) - 2)) == xp.expand_dims(ts, 1)
    return xp.where(hit, xp.expand_dims(coef, 1), dtype.type(0))


class NllLossBackward0(Op):
    """loss_i = -w[t_i] x[i, t_i] (0 where t_i == ignore_index); 'mean' divides by sum_i w[t_i]."""
    save = (0,)

    def forward(self, x, target=None, weight=None, reduction="mean", ignore_index=-100):
        xp = self.dev.xp
        self.target, self.weight, self.reduction, self.ignore_index = target, weight, reduction, ignore_index
        ts, wt, valid = _nll_parts(xp, x.dtype, target, weight, ignore_index)
        loss = xp.where(valid, -_pick(xp, x, ts) * wt, x.dtype.type(0))
        if reduction == "none":
            return loss
        if reduction == "sum":
            return loss.sum()
        with np.errstate(invalid="ignore", divide="ignore"):  # all targets ignored: 0 / 0 = nan, like PyTorch
            return loss.sum() / wt.sum()

    def backward_raw(self, gd):
        return NllLossBackwardBackward0.forward_arrays(
            self.dev, gd, self.saved_tensors[0]._data, target=self.target, weight=self.weight,
            reduction=self.reduction, ignore_index=self.ignore_index)

    def backward(self, g):
        # x is an input (unused) so the gradient stays connected to it, as in PyTorch's nll_loss_backward
        return NllLossBackwardBackward0.apply(g, self.saved_tensors[0], target=self.target,
                                              weight=self.weight, reduction=self.reduction,
                                              ignore_index=self.ignore_index)


class NllLossBackwardBackward0(Op):
    """nll_loss_backward: gx[i, t_i] = -g_i w[t_i] (/ sum w[t] for 'mean'); linear in g, so its own backward
    is nll_loss of the incoming gradient."""

    def forward(self, g, x, target=None, weight=None, reduction="mean", ignore_index=-100):
        xp = self.dev.xp
        self.target, self.weight, self.reduction, self.ignore_index = target, weight, reduction, ignore_index
        ts, wt, _ = _nll_parts(xp, g.dtype, target, weight, ignore_index)
        coef = -(g * wt)
        if reduction == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):
                coef = coef / wt.sum()
        return _place(xp, x.shape, ts, coef, g.dtype)

    def backward(self, gg):
        return NllLossBackward0.apply(gg, target=self.target, weight=self.weight, reduction=self.reduction,
                                      ignore_index=self.ignore_index), None


class NllLoss2DBackward0(NllLossBackward0):
    """nll_loss over (N, C, d1, ...) inputs: PyTorch's nll_loss2d node."""


def _nll_cls(x):
    return NllLoss2DBackward0 if x.ndim > 2 else NllLossBackward0


def _check_target(input: Tensor, target: Tensor, weight, ignore_index: int):
    """PyTorch's shape / dtype / range checks for class-index targets; returns the target array (int64) and
    how many targets are not ignore_index (None when not counted)."""
    x, t = input._data, target._data
    if target._device is not input._device or (weight is not None and weight._device is not input._device):
        _mismatch_error((input, target) if weight is None else (input, target, weight), input._device)
    if t.dtype != np.int64 and t.dtype != np.uint8:
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {TORCH_NAMES[t.dtype.name]}")
    if x.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {x.ndim})")
    if x.ndim <= 2 and t.ndim > 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if x.ndim == 1 and t.ndim != 0:
        raise RuntimeError(f"Expected target to be a 0D tensor for 1D input, but got target of shape "
                           f"[{', '.join(map(str, t.shape))}]")
    if x.ndim >= 2 and (t.ndim == 0 or t.shape[0] != x.shape[0]):
        raise ValueError(f"Expected input batch_size ({x.shape[0]}) to match target batch_size "
                         f"({t.shape[0] if t.ndim else 1}).")
    if x.ndim > 2 and t.shape != x.shape[:1] + x.shape[2:]:
        raise RuntimeError(f"Expected target size [{', '.join(map(str, x.shape[:1] + x.shape[2:]))}], got "
                           f"[{', '.join(map(str, t.shape))}]")
    c = x.shape[_class_axis(x)]
    if weight is not None and weight._data.size != c:
        raise RuntimeError(f"weight tensor should be defined either for all {c} classes or no classes but "
                           f"got weight tensor of shape: [{', '.join(map(str, weight._data.shape))}]")
    t = t.astype(np.int64) if t.dtype != np.int64 else held_index(target, t)  # (kept for backward)
    if not t.size:
        return t, 0
    if input._device.uses_kernels and t.size < 1 << 31:
        # one kernel and one host read on a GPU (PyTorch's CUDA kernels assert on the device instead)
        n_bad, n_ignored = _fused().cross_entropy_targets(input._device, t, c, ignore_index)
        if not n_bad:
            return t, t.size - n_ignored
    elif type(t) is np.ndarray and _max_reduce(t.view(_U64), axis=None) < c:
        # every target in range, in one reduction (a negative target reads as >= 2**63 unsigned); all valid
        # unless ignore_index is a class
        return t, None if 0 <= ignore_index < c else t.size
    bad = ((t < 0) | (t >= c)) & (t != ignore_index)
    if bool(bad.any()):
        raise IndexError(f"Target {int(t[bad].reshape(-1)[0])} is out of bounds.")
    return t, None


def _weight_array(weight, input):
    if weight is None:
        return None
    w = weight._data
    return w if w.dtype == input._data.dtype else w.astype(input._data.dtype)


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """-sum_i w[t_i] input[i, t_i] / sum_i w[t_i] ('mean'), over targets != ignore_index."""
    reduction = reduction_arg(reduction, size_average, reduce)
    not_differentiable("nll_loss_forward", "weight", weight)
    t = _check_target(input, target, weight, ignore_index)[0]
    return _nll_cls(input._data).apply(input, target=t, weight=_weight_array(weight, input),
                                       reduction=reduction, ignore_index=ignore_index)


# ---------------------------------------------------------------- fused cross-entropy
# One node for log_softmax + nll_loss (class targets, no class weights) on every device: a kernel per
# direction on CUDA devices (kernels/cross_entropy.cu), and the same arithmetic in NumPy on cpu, where two
# nodes' worth of dispatch and passes over the logits cost more than the math on small batches.
def _xent_fwd_np(x, t, ignore_index, eps, all_valid):
    """cross_entropy_fwd's contract in NumPy: (loss per row, stats (m, log s) as two (N, 1) arrays, softmax
    rows), all in the accumulation dtype (float16 computes in float32). loss = (1 - eps)(m - x[t]) + eps/C sum(m - x) +
    log s, with m the row max and s = sum exp(x - m) (never lse - x[t], which rounds at large logits); 0 on
    ignored rows."""
    acc = acc_dtype(x.dtype)
    if x.dtype != acc:
        x = x.astype(acc)
    n, c = x.shape
    if not x.size:  # (no rows, or no classes: nothing to reduce)
        z = np.zeros((n, c), acc)
        return np.zeros(n, acc), (np.zeros((n, 1), acc), np.zeros((n, 1), acc)), z
    m = _max_reduce(x, axis=1, keepdims=True)
    z = x - m
    ts = t if all_valid else np.where(t != ignore_index, t, 0)
    zt = z[_arange(n), ts]  # x[t] - m
    if eps:
        zt *= acc.type(1 - eps)
        zt += _add_reduce(z, axis=1) * acc.type(eps / c)
    e = np.exp(z, out=z)
    s = _add_reduce(e, axis=1, keepdims=True)
    logs = np.log(s)
    loss = np.subtract(logs.reshape(n), zt, out=zt)  # (m - x[t]) + log s, as the kernel rounds it
    if not all_valid:
        loss[t == ignore_index] = 0
    e /= s  # the softmax, in place
    return loss, (m, logs), e


def _xent_bwd_from_probs(p, t, grow, ignore_index, eps, dtype, all_valid=False):
    """grow[i] (p[i, c] - eps/C - (1 - eps)[c == t_i]), 0 on ignored rows (cross_entropy_bwd's result), from
    the softmax p; ``grow`` is a scalar or one value per row."""
    n, c = p.shape
    grow = np.asarray(grow, p.dtype)
    gcol = grow.reshape(-1, 1) if grow.ndim else grow
    gx = p * gcol
    ts = t if all_valid else np.where(t != ignore_index, t, 0)
    hit = grow.reshape(-1) if grow.ndim else grow
    gx[_arange(n), ts] -= hit * p.dtype.type(1 - eps) if eps else hit
    if eps:
        gx -= gcol * p.dtype.type(eps / c)
    if not all_valid:
        gx[t == ignore_index] = 0
    return gx if gx.dtype == dtype else gx.astype(dtype)


def _xent_bwd_np(x, t, stats, grow, ignore_index, eps):
    """cross_entropy_bwd's contract in NumPy: the softmax rebuilt from x and the saved (m, log s)."""
    acc = stats.dtype
    z = x.astype(acc) if x.dtype != acc else x.copy()
    z -= stats[:, :1]
    z -= stats[:, 1:]
    return _xent_bwd_from_probs(np.exp(z, out=z), t, grow, ignore_index, eps, x.dtype)


_max_reduce, _add_reduce = np.maximum.reduce, np.add.reduce
_U64, _I64 = np.dtype(np.uint64), np.dtype(np.int64)
_arange = np.arange
_array = np.array


class _FusedCrossEntropy(Op):
    """log_softmax + nll_loss over (N, C) rows in one kernel; saves per-row (max, log sum exp(x - max))."""
    save = (0,)
    # the common call's settings as class defaults: forward stores only what differs
    reduction, ignore_index, eps, all_valid, count = "mean", -100, 0.0, False, 1

    def forward(self, x, target=None, reduction="mean", ignore_index=-100, label_smoothing=0.0,
                all_valid=False, n_valid=None):
        self.target = target
        if reduction != "mean":
            self.reduction = reduction
        if ignore_index != -100:
            self.ignore_index = ignore_index
        if label_smoothing:
            self.eps = label_smoothing
        if all_valid:
            self.all_valid = True
        if self.dev.uses_kernels:
            loss, self.stats = _fused().cross_entropy_fwd(self.dev, x, target, ignore_index, label_smoothing)
        else:  # the kernel's arithmetic in NumPy; the softmax is kept for the first-order backward
            loss, (self.row_max, self.row_log_sum), self.probs = _xent_fwd_np(x, target, ignore_index,
                                                                              label_smoothing, all_valid)
        if reduction == "none":
            return loss.astype(x.dtype, copy=False)
        if reduction == "sum":
            return loss.sum().astype(x.dtype, copy=False)  # (copy=False: no copy kernel on a GPU)
        count = self.count = (len(target) if all_valid else n_valid if n_valid is not None
                              else int((target != ignore_index).sum()))
        if self.dev.uses_kernels:
            return _fused().cross_entropy_mean(self.dev, loss, count)
        if count:
            total = _add_reduce(loss, axis=None)
            if loss.dtype is x.dtype:  # (a Python int divisor keeps the float dtype: NumPy's weak scalars)
                return _array(total / count, x.dtype)
            return (total / loss.dtype.type(count)).astype(x.dtype)
        with np.errstate(invalid="ignore", divide="ignore"):  # all targets ignored: 0 / 0 = nan, as in PyTorch
            return (loss.sum() / loss.dtype.type(self.count)).astype(x.dtype, copy=False)

    def backward_raw(self, gd):
        if self.dev.uses_kernels:
            return self._backward_unwrapped(gd)  # (CrossEntropyLossBackwardBackward0's kernel)
        (x,) = self.saved_tensors  # (the version check)
        grow = gd if self.reduction != "mean" else gd / self.count  # (weak int: g's dtype)
        return _xent_bwd_from_probs(self.probs, self.target, grow, self.ignore_index, self.eps, x._data.dtype,
                                    self.all_valid)

    def backward(self, g):
        (x,) = self.saved_tensors
        count = self.count
        stats = self.stats if self.dev.uses_kernels else np.concatenate((self.row_max, self.row_log_sum), axis=1)
        return CrossEntropyLossBackwardBackward0.apply(
            g, x, target=self.target, stats=stats, reduction=self.reduction,
            ignore_index=self.ignore_index, label_smoothing=self.eps, count=count)


# PyTorch's cross_entropy node is nll_loss's; the fused op keeps that name (and NllLoss2D for (N, C, d...)).
_FusedCrossEntropy.__name__ = _FusedCrossEntropy.__qualname__ = "NllLossBackward0"


class _FusedCrossEntropy2d(_FusedCrossEntropy):
    pass


_FusedCrossEntropy2d.__name__ = _FusedCrossEntropy2d.__qualname__ = "NllLoss2DBackward0"


class CrossEntropyLossBackwardBackward0(Op):
    """gx[i, c] = grow_i (softmax(x)[i, c] - eps / C - (1 - eps) [c == t_i]), 0 on ignored rows."""
    save = (0, 1)

    def forward(self, g, x, target=None, stats=None, reduction="mean", ignore_index=-100, label_smoothing=0.0,
                count=1):
        self.target, self.reduction, self.ignore_index, self.eps, self.count = (
            target, reduction, ignore_index, label_smoothing, count)
        if self.dev.uses_kernels:  # (the kernel divides by the mean's count: no launch of its own)
            return _fused().cross_entropy_bwd(self.dev, x, target, stats, g, ignore_index, label_smoothing,
                                              count if reduction == "mean" else 1)
        grow = g if reduction != "mean" else g / g.dtype.type(count)
        return _xent_bwd_np(x, target, stats, grow, ignore_index, label_smoothing)

    def backward(self, gg):
        g, x = self.saved_tensors
        xp, dev = x._device.xp, x._device
        n, c = x._data.shape
        t = self.target
        valid = (t != self.ignore_index)[:, None].astype(x._data.dtype)
        hit = (xp.arange(c)[None, :] == t[:, None]).astype(x._data.dtype)
        q = const(valid * (hit * (1 - self.eps) + self.eps / c), dev)
        v = const(valid, dev)
        p = softmax(x, -1)
        need = self.needs_input_grad
        gg_g = gg_x = None
        if need[0]:
            rows = (gg * (p * v - q)).sum(-1)
            gg_g = rows if self.reduction == "none" else rows.sum() if self.reduction == "sum" else \
                rows.sum() / self.count
        if need[1]:
            red = self.reduction
            grow = g.reshape(n, 1) if red == "none" else g if red == "sum" else g / self.count
            gg_x = SoftmaxBackwardDataBackward0.apply(gg * v * grow, p, dim=-1)
        return gg_g, gg_x


def _cross_entropy_fused(input: Tensor, t, reduction, ignore_index, label_smoothing, n_valid=None):
    x = input
    all_valid = n_valid == t.size
    if x._data.ndim == 2:  # (the common call)
        return _FusedCrossEntropy.apply(x, target=t, reduction=reduction, ignore_index=ignore_index,
                                        label_smoothing=label_smoothing, all_valid=all_valid, n_valid=n_valid)
    cls = _FusedCrossEntropy
    if x._data.ndim == 1:
        x = x.reshape(1, -1)
        t = t.reshape(1)
    elif x._data.ndim > 2:  # (N, C, d...) -> (N d..., C) rows
        nd = x._data.ndim
        x = x.permute(0, *range(2, nd), 1).reshape(-1, x._data.shape[1])
        cls = _FusedCrossEntropy2d
    out = cls.apply(x, target=t.reshape(-1), reduction=reduction, ignore_index=ignore_index,
                    label_smoothing=label_smoothing, all_valid=all_valid, n_valid=n_valid)
    return out.reshape(t.shape) if reduction == "none" else out


def _cross_entropy_probs(input: Tensor, target: Tensor, weight, reduction, label_smoothing):
    if target._data.dtype.kind != "f":
        raise RuntimeError(f"Expected floating point type for target with class probabilities, got "
                           f"{TORCH_NAMES[target._data.dtype.name]}")
    axis = _class_axis(input._data)
    c = input._data.shape[axis] if input._data.ndim else 1
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / c
    logp = log_softmax(input, axis)
    if weight is not None:
        shape = [1] * input._data.ndim
        shape[axis] = c
        logp = logp * weight.reshape(shape)
    if reduction == "none":
        return -(logp * target).sum(axis)
    total = -(logp * target).sum()
    return total if reduction == "sum" else total / (input._data.size // max(c, 1))


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                  ignore_index: int = -100, reduce=None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """nll_loss(log_softmax(input, 1), target) with label smoothing: (1 - eps) nll + eps / C * sum(-log p)."""
    x, td = input._data, target._data
    if (x.ndim == 2 and td.ndim == 1 and td.dtype is _I64 and weight is None and reduction == "mean"
            and ignore_index == -100 and not label_smoothing and size_average is None and reduce is None
            and input._device is _CPU and target._device is _CPU and x.dtype.kind == "f" and len(td) == len(x)
            and td.size
            and _max_reduce(td.view(_U64), axis=None) < x.shape[1]):
        # the common call on cpu (class indices of a batch, defaults) after _check_target's checks in one
        # line: every target a class (a negative one reads as >= 2**63 unsigned), so none is ignored. (CUDA
        # devices take _check_target, which checks on the device.)
        return _FusedCrossEntropy.apply(input, target=held_index(target, td), all_valid=True)
    if size_average is not None or reduce is not None or reduction not in REDUCTIONS:
        reduction = reduction_arg(reduction, size_average, reduce)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if input._data.shape == target._data.shape:  # class probabilities (weight differentiable here)
        return _cross_entropy_probs(input, target, weight, reduction, label_smoothing)
    if weight is not None:
        not_differentiable("nll_loss_forward", "weight", weight)
    t, n_valid = _check_target(input, target, weight, ignore_index)
    if weight is None and input._data.dtype.kind == "f":
        return _cross_entropy_fused(input, t, reduction, ignore_index, label_smoothing, n_valid)
    axis = _class_axis(input._data)
    logp = log_softmax(input, axis)
    w = _weight_array(weight, input)
    nll = _nll_cls(input._data).apply(logp, target=t, weight=w, reduction=reduction,
                                      ignore_index=ignore_index)
    if label_smoothing <= 0:
        return nll
    return nll * (1 - label_smoothing) + _smooth_term(logp, t, w, axis, reduction, ignore_index) * (
        label_smoothing / input._data.shape[axis])


def _smooth_term(logp: Tensor, t, w, axis, reduction, ignore_index):
    """PyTorch's label-smoothing term: -sum_c w_c logp_c per element, 0 if ignored, 'mean' over sum w[t]."""
    xp, dev = logp._device.xp, logp._device
    dt = logp._data.dtype
    if w is not None:
        shape = [1] * logp._data.ndim
        shape[axis] = w.size
        logp = logp * const(w.reshape(shape), dev)
    valid = t != ignore_index
    smooth = -logp.sum(axis) * const(valid.astype(dt), dev)
    if reduction == "none":
        return smooth
    if reduction == "sum":
        return smooth.sum()
    denom = (w[xp.where(valid, t, 0)] * valid).sum() if w is not None else valid.sum()
    return smooth.sum() / float(denom)
