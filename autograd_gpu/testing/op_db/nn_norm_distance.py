"""Rows for nn.functional normalizations (group, instance, RMS, local response, normalize) and distances
(cosine_similarity, pairwise_distance, pdist). References are NumPy float64 loops and direct formulas,
written independently of the ops (no reshaped layer norm, no index_select)."""
import itertools

import numpy as np

from ..registry import Arg, OpInfo, S
import autograd_gpu as ag

F = ag.nn.functional
_r = np.random.default_rng(11)
INF = float("inf")


def _vnorm(d, p, axis):
    """Vector p-norm along ``axis`` by its definition."""
    a = np.abs(d)
    if p == INF:
        return a.max(axis=axis)
    if p == 0:
        return (a != 0).sum(axis=axis).astype(np.float64)
    return (a ** p).sum(axis=axis) ** (1.0 / p)


def _normalize(x, p=2.0, dim=1, eps=1e-12):
    return x / np.maximum(np.expand_dims(_vnorm(x, p, dim), dim), eps)


def _cosine_similarity(x1, x2, dim=1, eps=1e-8):
    x1, x2 = np.broadcast_arrays(x1, x2)
    n1 = np.maximum(np.sqrt((x1 * x1).sum(axis=dim, keepdims=True)), eps)
    n2 = np.maximum(np.sqrt((x2 * x2).sum(axis=dim, keepdims=True)), eps)
    return (x1 * x2).sum(axis=dim) / (n1 * n2).squeeze(dim)


def _pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    d = x1 - x2 + eps
    if d.ndim == 0:
        return np.abs(d)
    out = _vnorm(d, p, -1)
    return out[..., None] if keepdim else out


def _pdist(x, p=2.0):
    n = x.shape[0]
    return np.array([_vnorm(x[i] - x[j], p, 0) for i, j in itertools.combinations(range(n), 2)],
                    dtype=np.float64).reshape(-1)


def _channel_affine(y, weight, bias):
    """y * weight[c] + bias[c] along dim 1 (either may be None)."""
    shape = (1, y.shape[1]) + (1,) * (y.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def _group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
    n, c = x.shape[:2]
    y = np.empty_like(x)
    per = c // num_groups
    for i in range(n):
        for g in range(num_groups):
            blk = x[i, g * per:(g + 1) * per]
            y[i, g * per:(g + 1) * per] = (blk - blk.mean()) / np.sqrt(blk.var() + eps)
    return _channel_affine(y, weight, bias)


def _instance_norm(x, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                   momentum=0.1, eps=1e-5):
    n, c = x.shape[:2]
    y = np.empty_like(x)
    for i in range(n):
        for j in range(c):
            if use_input_stats:
                m, v = x[i, j].mean(), x[i, j].var()
            else:
                m, v = running_mean[j], running_var[j]
            y[i, j] = (x[i, j] - m) / np.sqrt(v + eps)
    return _channel_affine(y, weight, bias)


def _rms_norm(x, normalized_shape, weight=None, eps=None):
    k = 1 if isinstance(normalized_shape, int) else len(normalized_shape)
    axes = tuple(range(x.ndim - k, x.ndim))
    eps = np.finfo(np.float64).eps if eps is None else eps
    y = x / np.sqrt((x * x).mean(axis=axes, keepdims=True) + eps)
    return y if weight is None else y * weight


def _local_response_norm(x, size, alpha=1e-4, beta=0.75, k=1.0):
    c = x.shape[1]
    y = np.empty_like(x)
    for j in range(c):
        lo, hi = max(j - size // 2, 0), min(j + (size - 1) // 2, c - 1)
        s = (x[:, lo:hi + 1] ** 2).sum(axis=1)
        y[:, j] = x[:, j] / (k + alpha / size * s) ** beta
    return y


_TINY = Arg(_r.uniform(-1e-3, 1e-3, (2, 3)), grad=True)  # norms below eps = 0.1: the clamp is active
_STATS = (Arg(_r.uniform(-0.5, 0.5, 3)), Arg(_r.uniform(0.5, 1.5, 3)))

OPS = [
    OpInfo("nn.functional.normalize", F.normalize, _normalize,
           [S((3, 4)), S((3, 4), 1.0, 0, name="p1_dim0"), S((2, 3, 4), 3.0, -1, eps=1e-3, name="p3_last"),
            S((3, 4), INF, name="inf"), S(_TINY, eps=0.1, name="clamped")]),
    # the clamped sample is forward-only: PyTorch clamps each norm outside autograd, so its gradient is not
    # the derivative finite differences see (tests/test_nn_norm_distance.py checks it against PyTorch's values)
    OpInfo("nn.functional.cosine_similarity", F.cosine_similarity, _cosine_similarity,
           [S((3, 4), (3, 4)), S((2, 3, 4), (3, 4), dim=-1, name="broadcast"), S((4,), (4,), dim=0, name="1d"),
            S((3, 4), (3, 4), 0, 1e-3, name="dim0"), S(_TINY, (2, 3), eps=0.1, name="clamped", grad=False)],
           aliases=("cosine_similarity",)),
    OpInfo("nn.functional.pairwise_distance", F.pairwise_distance, _pairwise_distance,
           [S((3, 4), (3, 4)), S((3, 4), (3, 4), 1.0, 1e-3, True, name="p1_keepdim"),
            S((4,), (2, 4), 3.0, name="broadcast_p3"), S((3, 4), (3, 4), INF, name="inf"),
            S((), (), name="0d"), S((2, 3), (2, 3), 0.5, eps=0.0, name="p_half")],
           aliases=("pairwise_distance",)),
    OpInfo("nn.functional.pdist", F.pdist, _pdist,
           [S((4, 3)), S((4, 3), 1.0, name="p1"), S((4, 3), 3.0, name="p3"), S((4, 3), INF, name="inf"),
            S((5, 2), 0.5, name="p_half"), S((4, 3), 0.0, name="p0"), S((1, 3), name="one_row", grad=False)],
           aliases=("pdist",)),
    OpInfo("nn.functional.group_norm", F.group_norm, _group_norm,
           [S((2, 6, 3), 3), S((2, 6, 3), 2, (6,), (6,), eps=1e-3, name="affine"), S((3, 4), 2, name="2d"),
            S((2, 4, 2, 3), 4, (4,), None, name="4d_weight"), S((2, 4, 3), 1, None, (4,), name="one_group_bias")]),
    OpInfo("nn.functional.instance_norm", F.instance_norm, _instance_norm,
           [S((2, 3, 4)), S((2, 3, 4), None, None, (3,), (3,), name="affine"),
            S((2, 3, 2, 3), eps=1e-3, name="4d"),
            S((2, 3, 4), *_STATS, name="running_buffers"),
            S((2, 3, 4), *_STATS, (3,), (3,), False, name="eval_running_stats")]),
    OpInfo("nn.functional.rms_norm", F.rms_norm, _rms_norm,
           [S((3, 4), Arg((4,))), S((3, 4), Arg((4,)), (4,), name="weight"),
            S((2, 3, 4), Arg((3, 4)), (3, 4), 1e-3, name="two_dims"), S((5,), Arg((5,)), eps=0.5, name="1d")]),
    OpInfo("nn.functional.local_response_norm", F.local_response_norm, _local_response_norm,
           [S((2, 5, 4), 3), S((2, 5, 3, 2), 2, alpha=0.1, beta=0.5, k=2.0, name="4d"),
            S((1, 4, 2, 2, 2), 5, alpha=0.5, name="5d_wide"), S((2, 3, 4), 1, name="size1")]),
]
