"""Rows for the ranking, margin, embedding and likelihood losses of nn.functional (kl_div, margin_ranking_loss,
hinge_embedding_loss, soft_margin_loss, cosine_embedding_loss, triplet_margin_loss(_with_distance),
poisson_nll_loss, gaussian_nll_loss, multilabel_soft_margin_loss, multi_margin_loss, multilabel_margin_loss).
References are NumPy float64 formulas and per-sample loops from PyTorch's documented definitions."""
import math

import numpy as np

from ..registry import Arg, OpInfo, S
import autograd_gpu as ag

F = ag.nn.functional
_r = np.random.default_rng(13)
REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction](loss)


def _u(shape, lo=0.0, hi=1.0, grad=False):
    return Arg(_r.uniform(lo, hi, shape), grad=grad)


def _sign(*shape):
    return Arg(np.where(_r.uniform(size=shape) < 0.5, -1.0, 1.0))


def _i64(*v):
    return Arg(np.array(v, dtype=np.int64))


def _kl_div(x, t, size_average=None, reduce=None, reduction="mean", log_target=False):
    if log_target:
        loss = np.exp(t) * (t - x)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            loss = np.where(t > 0, t * np.log(np.where(t > 0, t, 1.0)), 0.0) - t * x
    if reduction == "batchmean":
        return loss.sum() / (x.shape[0] if x.ndim else 1)
    return _reduce(loss, reduction)


def _margin_ranking(x1, x2, y, margin=0.0, reduction="mean"):
    return _reduce(np.maximum(0.0, -y * (x1 - x2) + margin), reduction)


def _hinge_embedding(x, y, margin=1.0, reduction="mean"):
    x, y = np.broadcast_arrays(x, y)
    loss = np.where(y == 1, x, np.where(y == -1, np.maximum(0.0, margin - x), x + np.maximum(0.0, margin - x)))
    return _reduce(loss, reduction)


def _soft_margin(x, y, reduction="mean"):
    return _reduce(np.log1p(np.exp(-y * x)), reduction)


def _cosine_embedding(x1, x2, y, margin=0.0, reduction="mean"):
    d = x1.ndim - 1
    cos = (x1 * x2).sum(d) / np.sqrt(((x1 * x1).sum(d) + 1e-12) * ((x2 * x2).sum(d) + 1e-12))
    loss = np.where(y == 1, 1 - cos, np.where(y == -1, np.maximum(0.0, cos - margin), 0.0))
    return _reduce(loss, reduction)


def _dist(a, b, p=2.0, eps=1e-6):
    d = np.abs(a - b + eps)
    return d.max(-1) if p == math.inf else (d ** p).sum(-1) ** (1 / p)


def _triplet(a, pos, neg, margin=1.0, p=2.0, eps=1e-6, swap=False, reduction="mean"):
    dp, dn = _dist(a, pos, p, eps), _dist(a, neg, p, eps)
    if swap:
        dn = np.minimum(dn, _dist(pos, neg, p, eps))
    return _reduce(np.maximum(0.0, margin + dp - dn), reduction)


def _triplet_with_distance(a, pos, neg, distance_function=None, margin=1.0, swap=False, reduction="mean"):
    return _triplet(a, pos, neg, margin, swap=swap, reduction=reduction)


def _poisson_nll(x, t, log_input=True, full=False, eps=1e-8, reduction="mean"):
    loss = np.exp(x) - t * x if log_input else x - t * np.log(x + eps)
    if full:
        ts = np.where(t > 1, t, 1.0)
        loss = loss + np.where(t > 1, ts * np.log(ts) - ts + 0.5 * np.log(2 * np.pi * ts), 0.0)
    return _reduce(loss, reduction)


def _gaussian_nll(x, t, var, full=False, eps=1e-6, reduction="mean"):
    var = np.asarray(var, dtype=np.float64)
    if var.ndim == x.ndim - 1 and var.shape == x.shape[:-1]:
        var = var[..., None]
    var = np.maximum(var, eps)
    loss = 0.5 * (np.log(var) + (x - t) ** 2 / var) + (0.5 * np.log(2 * np.pi) if full else 0.0)
    return _reduce(np.broadcast_to(loss, np.broadcast_shapes(x.shape, t.shape, var.shape)), reduction)


def _multilabel_soft_margin(x, y, weight=None, reduction="mean"):
    logsig = -np.logaddexp(0.0, -x)
    logsig_neg = -np.logaddexp(0.0, x)
    loss = -(y * logsig + (1 - y) * logsig_neg)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss.mean(-1), reduction)


def _multi_margin(x, t, p=1, margin=1.0, weight=None, reduction="mean"):
    x2 = np.atleast_2d(x).reshape(-1, x.shape[-1] if x.ndim else 1)
    t1 = np.reshape(t, -1)
    loss = np.zeros(len(t1))
    for i, y in enumerate(t1):
        for j in range(x2.shape[1]):
            if j != y:
                z = max(0.0, margin - x2[i, y] + x2[i, j]) ** p
                loss[i] += z * (1.0 if weight is None else weight[y])
    loss /= x2.shape[1]
    return _reduce(loss if x.ndim == 2 else loss[0], reduction)


def _multilabel_margin(x, t, reduction="mean"):
    x2, t2 = np.atleast_2d(x), np.atleast_2d(t)
    loss = np.zeros(len(x2))
    for i in range(len(x2)):
        targets = []
        for v in t2[i]:
            if v < 0:
                break
            targets.append(v)
        for j in targets:
            for k in range(x2.shape[1]):
                if k not in targets:
                    loss[i] += max(0.0, 1 - (x2[i, j] - x2[i, k]))
    loss /= x2.shape[1]
    return _reduce(loss if x.ndim == 2 else loss[0], reduction)


_P = _u((3, 4), 0.05, 1.0)
_P0 = Arg(np.array([[0.0, 0.3, 0.7, 0.0], [0.25, 0.25, 0.25, 0.25]]))  # zero probabilities: 0 log 0 = 0
_COUNTS = Arg(np.array([[0.0, 1.0, 2.0, 5.0], [3.0, 0.0, 1.0, 7.0], [1.5, 0.5, 4.0, 2.0]]))
_LABELS = Arg((_r.uniform(size=(4, 5)) < 0.5).astype(np.float64))
_MT = Arg(np.array([[0, 1, -1, 2, 3], [4, -1, 0, 0, 0], [2, 2, 3, -1, 1], [-1, 0, 1, 2, 3]], dtype=np.int64))

OPS = [
    OpInfo("nn.functional.kl_div", F.kl_div, _kl_div,
           [S((3, 4), _P, reduction=r, name=r) for r in REDUCTIONS + ("batchmean",)] +
           [S((3, 4), (3, 4), reduction="sum", log_target=True, name="log_target"),
            S((3, 4), _u((3, 4), 0.1, 1.0, grad=True), reduction="batchmean", name="target_grad"),
            S((2, 4), _P0, reduction="none", name="zero_target"),
            S((), Arg(np.array(0.4)), reduction="batchmean", name="0d_batchmean")]),
    OpInfo("nn.functional.margin_ranking_loss", F.margin_ranking_loss, _margin_ranking,
           [S((5,), (5,), _sign(5), reduction=r, name=r) for r in REDUCTIONS] +
           [S((3, 1), (1, 4), _sign(3, 4), margin=0.3, name="broadcast_margin")]),
    OpInfo("nn.functional.hinge_embedding_loss", F.hinge_embedding_loss, _hinge_embedding,
           [S((3, 4), _sign(3, 4), reduction=r, name=r) for r in REDUCTIONS] +
           [S((3, 4), Arg(np.array([1.0, -1.0, 0.5, -1.0])), margin=0.5, name="other_targets_broadcast")]),
    OpInfo("nn.functional.soft_margin_loss", F.soft_margin_loss, _soft_margin,
           [S((3, 4), _sign(3, 4), reduction=r, name=r) for r in REDUCTIONS] +
           [S((3, 4), _sign(4), name="broadcast_target")], domain=(-4, 4)),
    OpInfo("nn.functional.cosine_embedding_loss", F.cosine_embedding_loss, _cosine_embedding,
           [S((4, 5), (4, 5), Arg(np.array([1.0, -1.0, 1.0, -1.0])), reduction=r, name=r) for r in REDUCTIONS] +
           [S((5,), (5,), Arg(np.array(-1.0)), margin=-0.5, name="1d_margin"),
            S((4, 5), (1, 5), Arg(np.array([1.0, -1.0, 0.5, 1.0])), margin=0.1, name="broadcast_other")]),
    OpInfo("nn.functional.triplet_margin_loss", F.triplet_margin_loss, _triplet,
           [S((4, 5), (4, 5), (4, 5), margin=2.0, reduction=r, name=r) for r in REDUCTIONS] +
           [S((4, 5), (4, 5), (4, 5), margin=2.0, p=1.0, eps=1e-3, swap=True, name="p1_swap"),
            S((5,), (5,), (5,), margin=3.0, p=3.0, name="1d_p3")]),
    OpInfo("nn.functional.triplet_margin_with_distance_loss", F.triplet_margin_with_distance_loss,
           _triplet_with_distance,
           [S((4, 5), (4, 5), (4, 5), margin=2.0),
            S((4, 5), (4, 5), (4, 5), margin=2.0, swap=True, reduction="none", name="swap_none"),
            S((4, 5), (4, 5), (4, 5), distance_function=F.pairwise_distance, margin=1.5, reduction="sum",
              name="given_distance")]),
    OpInfo("nn.functional.poisson_nll_loss", F.poisson_nll_loss, _poisson_nll,
           [S((3, 4), _COUNTS, reduction=r, name=r) for r in REDUCTIONS] +
           [S(_u((3, 4), 0.2, 3.0, grad=True), _COUNTS, log_input=False, full=True, reduction="none",
              name="rate_full"),
            S((3, 4), _COUNTS, full=True, eps=1e-3, reduction="sum", name="log_full"),
            S((3, 4), _u((3, 4), 1.5, 4.0, grad=True), full=True, name="target_grad_full")]),
    OpInfo("nn.functional.gaussian_nll_loss", F.gaussian_nll_loss, _gaussian_nll,
           [S((4, 3), (4, 3), _u((4, 3), 0.2, 2.0, grad=True), reduction=r, name=r) for r in REDUCTIONS] +
           [S((4, 3), (4, 3), _u((4,), 0.2, 2.0, grad=True), full=True, name="one_dim_short_full"),
            S((4, 3), (4, 3), _u((4, 1), 0.6, 2.0, grad=True), eps=0.5, name="homoscedastic_eps"),
            # var below eps: clamped outside autograd (PyTorch), so var's gradient is not the derivative finite
            # differences see; forward only here, tests/test_nn_loss_extra.py checks the gradient
            S((4, 3), (4, 3), _u((4, 3), 0.0, 0.4), eps=0.2, name="clamped_var", grad=False),
            S((4, 3), (4, 3), 0.7, reduction="sum", name="float_var")]),
    OpInfo("nn.functional.multilabel_soft_margin_loss", F.multilabel_soft_margin_loss, _multilabel_soft_margin,
           [S((4, 5), _LABELS, reduction=r, name=r) for r in REDUCTIONS] +
           [S((4, 5), _LABELS, weight=_u((5,), 0.5, 2.0), name="weight"),
            S((5,), _u((5,)), reduction="none", name="1d_soft_labels")], domain=(-4, 4)),
    OpInfo("nn.functional.multi_margin_loss", F.multi_margin_loss, _multi_margin,
           [S((4, 5), _i64(0, 4, 2, 1), reduction=r, name=r) for r in REDUCTIONS] +
           [S((4, 5), _i64(0, 4, 2, 1), p=2, margin=0.8, name="p2_margin"),
            S((4, 5), _i64(3, 3, 0, 1), 2, weight=_u((5,), 0.5, 2.0), reduction="sum", name="p2_weight"),
            S((5,), Arg(np.array(3)), reduction="none", name="1d")]),
    OpInfo("nn.functional.multilabel_margin_loss", F.multilabel_margin_loss, _multilabel_margin,
           [S((4, 5), _MT, reduction=r, name=r) for r in REDUCTIONS] +
           [S((5,), Arg(np.array([3, 0, -1, 1, 2])), reduction="none", name="1d")]),
]
