"""Rows for reductions and scans: prod, max/min family, var/std, norm, logsumexp, cumsum/cumprod, all/any.

Random inputs have no ties, so max/min/median gradients are smooth at the samples; tie conventions are
tested against closed forms in tests/test_pointwise_extra.py. Inputs with exact zeros check the exact
prod/cumprod gradients (first and second order).
"""
import numpy as np

import autograd_gpu as ag
from ..registry import Arg, OpInfo, S

ZEROS1 = Arg(np.array([[1.5, 0.0, -2.0, 0.5], [0.7, 1.2, -0.9, 1.1], [0.0, 2.0, 0.0, -1.3]]), grad=True)
ZEROS_VEC = Arg(np.array([1.5, 0.0, 2.0, -0.5, 0.0, 3.0]), grad=True)
ONE_ZERO = Arg(np.array([1.5, -0.5, 0.0, 2.0]), grad=True)
BOOLS = Arg(np.array([[True, False, True], [True, True, True]]))
SPARSE = Arg(np.array([[0.0, 1.5, 0.0], [0.0, 0.0, 0.0], [2.0, -1.0, 3.0]]))


def _np_dim(dim):
    return tuple(dim) if isinstance(dim, (list, tuple)) else dim


def _prod_ref(x, dim=None, keepdim=False):
    return np.prod(x, axis=dim, keepdims=keepdim)


def _scan_ref(fn):
    return lambda x, dim: x.copy() if x.ndim == 0 else fn(x, axis=dim)


def _select_ref(fn, argfn):
    def ref(x, dim=None, keepdim=False):
        if dim is None:
            return fn(x)
        if x.ndim == 0:
            return x.copy(), np.array(0)
        return fn(x, axis=dim, keepdims=keepdim), argfn(x, axis=dim, keepdims=keepdim)
    return ref


def _median_ref(x, dim=None, keepdim=False):
    if dim is None:
        return np.sort(x.ravel())[(x.size - 1) // 2]
    k = (x.shape[dim] - 1) // 2
    idx = np.take(np.argsort(x, axis=dim, kind="stable"), [k], axis=dim)
    v = np.take_along_axis(x, idx, axis=dim)
    return (v, idx) if keepdim else (v.squeeze(dim), idx.squeeze(dim))


def _amax_ref(fn):
    return lambda x, dim=(), keepdim=False: fn(x, axis=_np_dim(dim) if dim != () else None, keepdims=keepdim)


def _arg_ref(fn):
    return lambda x, dim=None, keepdim=False: fn(x, axis=dim, keepdims=keepdim)


def _var_ref(x, dim=None, unbiased=None, keepdim=False, correction=None):
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    c = correction if correction is not None else (0 if unbiased is False else 1)
    return np.var(x, axis=_np_dim(dim), ddof=c, keepdims=keepdim)


def _std_ref(*a, **k):
    return np.sqrt(_var_ref(*a, **k))


def _var_mean_ref(x, dim=None, keepdim=False, correction=None):
    v = _var_ref(x, dim, keepdim=keepdim, correction=correction)
    return v, np.mean(x, axis=_np_dim(dim), keepdims=keepdim)


def _std_mean_ref(x, dim=None, keepdim=False, correction=None):
    v, m = _var_mean_ref(x, dim, keepdim, correction)
    return np.sqrt(v), m


def _norm_ref(x, p="fro", dim=None, keepdim=False):
    p = 2 if p == "fro" else p
    a, axis = np.abs(x), _np_dim(dim)
    if np.isinf(p):
        return (a.max if p > 0 else a.min)(axis=axis, keepdims=keepdim)
    if p == 0:
        return (a != 0).sum(axis=axis, keepdims=keepdim).astype(np.float64)
    return (a ** p).sum(axis=axis, keepdims=keepdim) ** (1 / p)


def _nuc_ref(x, p="nuc", dim=None, keepdim=False):
    axes = (-2, -1) if dim is None else tuple(dim)
    s = np.linalg.svd(np.moveaxis(x, axes, (-2, -1)), compute_uv=False).sum(-1)
    return np.expand_dims(s, tuple(sorted(a % x.ndim for a in axes))) if keepdim else s


def _logsumexp_ref(x, dim, keepdim=False):
    axis = _np_dim(dim)
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m
    return out if keepdim else np.squeeze(out, axis=axis)


def _bool_ref(fn):
    return lambda x, dim=None, keepdim=False: fn(x, axis=_np_dim(dim), keepdims=keepdim)


_SEL = [S((3, 4)), S((), name="0d"), S((3, 4), 1), S((3, 4), 0, True, name="keepdim"), S((2, 3, 4), -1),
        S((), 0, name="0d_dim")]

OPS = [
    OpInfo("prod", ag.prod, _prod_ref,
           [S((3, 4)), S((), name="0d"), S((3, 4), 1), S((2, 3, 4), -1, keepdim=True),
            S((), 0, name="0d_dim"),
            S(ZEROS1, name="zeros"), S(ONE_ZERO, name="one_zero"), S(ZEROS1, 1, name="zeros_dim"),
            S(ZEROS1, 0, True, name="zeros_dim0")]),
    OpInfo("cumsum", ag.cumsum, _scan_ref(np.cumsum),
           [S((3, 4), 1), S((2, 3, 4), 0), S((), 0, name="0d"), S((5,), -1)]),
    OpInfo("cumprod", ag.cumprod, _scan_ref(np.cumprod),
           [S((3, 4), 1), S((2, 3, 4), 0), S((), 0, name="0d"), S(ZEROS_VEC, 0, name="zeros"),
            S(ZEROS1, 1, name="zeros_rows"), S(ZEROS1, 0, name="zeros_cols"),
            S(ONE_ZERO, 0, name="one_zero")],
           domain=(0.5, 1.5)),
    OpInfo("max", ag.max, _select_ref(np.max, np.argmax), _SEL),
    OpInfo("min", ag.min, _select_ref(np.min, np.argmin), _SEL),
    OpInfo("max.binary", lambda a, b: ag.max(a, b), np.maximum, [S((3, 4), (4,)), S((), (3,))]),
    OpInfo("median", ag.median, _median_ref, [S((3, 4)), S((5,)), S((), name="0d"), S((3, 4), 1),
                                              S((3, 5), 0, True, name="keepdim"), S((2, 3, 4), -1)]),
    OpInfo("amax", ag.amax, _amax_ref(np.max),
           [S((3, 4)), S((), name="0d"), S((3, 4), 1), S((2, 3, 4), dim=(0, 2), keepdim=True),
            S((3, 4), -1, True)]),
    OpInfo("amin", ag.amin, _amax_ref(np.min),
           [S((3, 4)), S((), name="0d"), S((3, 4), 0), S((2, 3, 4), dim=(0, 2)), S((3, 4), -1, True)]),
    OpInfo("argmax", ag.argmax, _arg_ref(np.argmax),
           [S((3, 4)), S((3, 4), 1), S((2, 3, 4), -1, True), S((3, 4), keepdim=True, name="all_keepdim"),
            S(())],
           grad=False),
    OpInfo("argmin", ag.argmin, _arg_ref(np.argmin),
           [S((3, 4)), S((3, 4), 0), S((2, 3, 4), -2, True), S(())], grad=False),
    OpInfo("var", ag.var, _var_ref,
           [S((3, 4)), S((3, 4), 1), S((2, 3, 4), dim=(0, 2), keepdim=True),
            S((3, 4), 0, False, name="biased"),
            S((3, 4), correction=0, name="correction0"), S((3, 4), dim=1, correction=2, name="correction2"),
            S((3, 4), False, name="unbiased_positional")]),
    OpInfo("std", ag.std, _std_ref,
           [S((3, 4)), S((3, 4), 1), S((2, 3, 4), dim=(0, 2), keepdim=True),
            S((3, 4), 0, False, name="biased"),
            S((3, 4), correction=0, name="correction0"), S((3, 4), dim=-1, keepdim=True, correction=2)]),
    OpInfo("var_mean", ag.var_mean, _var_mean_ref,
           [S((3, 4)), S((3, 4), 1), S((2, 3, 4), dim=(0, 2), keepdim=True, correction=0)]),
    OpInfo("std_mean", ag.std_mean, _std_mean_ref,
           [S((3, 4)), S((3, 4), 1), S((2, 3, 4), dim=(0, 2), keepdim=True, correction=0)]),
    OpInfo("norm", ag.norm, _norm_ref,
           [S((3, 4)), S((), name="0d"), S((3, 4), 1), S((3, 4), float("inf")), S((3, 4), -float("inf")),
            S((3, 4), 3, dim=1), S((3, 4), "fro", dim=(0, 1)), S((3, 4), 0.5, dim=0, name="p_half"),
            S((3, 4), 1.5, keepdim=True, dim=1), S((2, 3, 4), 2, dim=(0, 2), keepdim=True),
            S((3, 4), 0, name="p0"),
            S((3, 4), float("inf"), dim=1, name="inf_dim")]),
    # the nuclear norm (sum of singular values; random inputs have distinct, non-zero ones): reverse mode, first
    # order only (both others refuse with an error: tests/test_errors.py)
    OpInfo("norm", ag.norm, _nuc_ref,
           [S((3, 4), "nuc", name="nuc"), S((4, 3), "nuc", dim=(1, 0), name="nuc_swapped"),
            S((2, 3, 4), "nuc", dim=(2, 0), name="nuc_batched"),
            S((2, 3, 4), "nuc", dim=(0, 2), keepdim=True, name="nuc_keepdim")], gradgrad=False, forward_ad=False),
    OpInfo("logsumexp", ag.logsumexp, _logsumexp_ref,
           [S((3, 4), 1), S((3, 4), 0, True), S((2, 3, 4), Arg((0, 2))), S((), 0, name="0d"), S((5,), -1)]),
    OpInfo("all", ag.all, _bool_ref(np.all),
           [S(BOOLS), S(BOOLS, 1), S(SPARSE, 0, True), S(SPARSE, dim=(0, 1))],
           grad=False),
    OpInfo("any", ag.any, _bool_ref(np.any), [S(BOOLS), S(BOOLS, 0), S(SPARSE, 1, True), S(SPARSE)],
           grad=False),
    OpInfo("count_nonzero", ag.count_nonzero, lambda x, dim=None: np.count_nonzero(x, axis=_np_dim(dim)),
           [S(SPARSE), S(SPARSE, 0), S(SPARSE, dim=(0, 1)), S(BOOLS, 1)], grad=False),
]
