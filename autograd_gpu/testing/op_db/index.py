"""Rows for indexing: __getitem__/__setitem__, select, narrow, index_put, gather/scatter,
index_select/index_add, masked_fill/masked_select, take_along_dim, nonzero.

Index tuples are given with NumPy arrays inside (``Arg`` passes tuples as is); ``_ix`` turns those arrays into
index tensors on the input's device, so the op sees tensors and the NumPy reference sees arrays. Repeated
indices are there on purpose: their gradients must add up (scatter-add)."""
import numpy as np

import autograd_gpu as ag

from ..registry import Arg, OpInfo, S
from .shape import nc


def _ix(idx, like):
    """Index with NumPy arrays -> the same index with tensors on ``like``'s device."""
    if isinstance(idx, tuple):
        return tuple(_ix(i, like) for i in idx)
    if isinstance(idx, np.ndarray):
        return ag.tensor(idx, device=like.device)
    return idx


def _getitem(x, idx):
    return x[_ix(idx, x)]


def _setitem(x, idx, v):
    y = x.clone()
    y[_ix(idx, x)] = v
    return y


def _setitem_ref(x, idx, v):
    y = x.copy()
    y[idx] = v
    return y


def _index_put_ref(x, idx, v, accumulate=False):
    y = x.copy()
    if accumulate:
        np.add.at(y, idx, v)
    else:
        y[idx] = v
    return y


def _gather_ref(x, dim, idx):
    if x.ndim <= 1 and idx.ndim <= 1:
        return x.reshape(-1)[idx.reshape(-1)].reshape(idx.shape)
    corner = tuple(slice(None) if d == dim % x.ndim else slice(0, n) for d, n in enumerate(idx.shape))
    return np.take_along_axis(x[corner], idx, axis=dim)


def _positions(idx, dim):
    """Full index tuple addressing x[.., idx[i], ..] for every i (scatter's target positions)."""
    dim %= idx.ndim
    grids = np.indices(idx.shape, sparse=True)
    return tuple(idx if d == dim else g for d, g in enumerate(grids))


def _scatter_ref(x, dim, idx, src):
    y = x.copy()
    if isinstance(src, np.ndarray):
        src = src[tuple(slice(0, n) for n in idx.shape)]
    y[_positions(idx, dim)] = src
    return y


def _scatter_add_ref(x, dim, idx, src):
    y = x.copy()
    np.add.at(y, _positions(idx, dim), src[tuple(slice(0, n) for n in idx.shape)])
    return y


def _index_add_ref(x, dim, idx, src, alpha=1):
    y = np.moveaxis(x.copy(), dim, 0)
    np.add.at(y, idx, np.moveaxis(src, dim, 0) * alpha)
    return np.moveaxis(y, 0, dim)


def _masked_fill_ref(x, mask, value):
    return np.where(mask, value, x)


def _masked_select_ref(x, mask):
    shape = np.broadcast_shapes(x.shape, mask.shape)
    return np.broadcast_to(x, shape)[np.broadcast_to(mask, shape)]


def _take_along_dim_ref(x, idx, dim=None):
    if dim is None:
        return x.reshape(-1)[idx.reshape(-1)]
    s = list(x.shape)
    s[dim] = idx.shape[dim]
    b = list(np.broadcast_shapes(tuple(s), idx.shape))
    idx = np.broadcast_to(idx, b)
    b[dim] = x.shape[dim]
    return np.take_along_axis(np.broadcast_to(x, b), idx, axis=dim)


def _narrow_ref(x, dim, start, length):
    start %= x.shape[dim]
    return np.moveaxis(np.moveaxis(x, dim, 0)[start:start + length], 0, dim)


A = np.array
B = lambda *v: np.array(v, dtype=bool)  # noqa: E731
MASK34 = A([[True, False, True, True], [False, False, True, False], [True, True, False, False]])

GETITEM = [
    S((3, 4), 1, name="int"), S((3, 4), -1, name="neg_int"), S((3,), 0, name="to_0d"),
    S((5, 4), Arg(slice(1, 4)), name="slice"), S((6, 4), Arg(slice(None, None, 2)), name="step"),
    S((5, 4), Arg((slice(None), slice(1, None, 2))), name="slices"), S((2, 3, 4), Arg((1, slice(1, 3), -1))),
    S((3, 4), Arg((None, Ellipsis, 1)), name="none_ellipsis"), S((2, 3, 4), Arg((Ellipsis, None, 0))),
    S((), Arg(()), name="0d_empty_tuple"), S((), Arg(None), name="0d_none"), S((), Arg(True), name="0d_true"),
    S((4, 3), Arg(A([0, 2, 2, -1])), name="index_repeated"),
    S((5, 3), Arg(A([[0, 1], [4, 4]])), name="index_2d"),
    S((4, 3), Arg([1, 1, 0]), name="list"), S((4, 3), Arg(A(2)), name="0d_index_tensor"),
    S((3, 4), Arg((slice(None), A([1, 1, 0]))), name="slice_index"),
    S((3, 4), Arg((A([[0], [2]]), A([1, 1, 3]))), name="broadcast_indices"),
    S((2, 3, 4), Arg((A([0, 1, 1]), slice(None), A([2, 2, 0]))), name="separated_indices"),
    S((2, 3, 4), Arg((slice(1, None), A([0, 0]), A([1, 3]))), name="sliced_then_index"),
    S((3, 4), Arg(B(True, False, True)), name="mask"), S((3, 4, 2), Arg(MASK34), name="mask_2d"),
    S((2, 4), Arg((slice(None), B(True, False, True, True))), name="slice_mask"),
    S((3, 4), Arg(True), name="true"), S((3, 4), Arg(False), name="false"),
    S((4, 3), Arg(A([0, 0, 2])), noncontig=True, name="noncontig"),
    S((4, 3), Arg((slice(1, 3), 1)), noncontig=True, name="noncontig_basic"),
]

SETITEM = [
    S((3, 4), 1, (4,), name="row"), S((3, 4), 1, 2.5, name="scalar"), S((3, 4), Arg(slice(0, 2)), (1, 4)),
    S((3, 4), Arg((slice(None), 2)), (), name="0d_value"), S((4, 3), Arg(A([0, 2])), (2, 3), name="index"),
    S((4, 3), Arg(B(True, False, True, False)), (), name="mask_0d_value"),
    S((3, 4), Arg((slice(None), A([1, 3]))), (3, 1), name="slice_index_broadcast"),
    S((3, 4), Arg(MASK34), (6,), name="mask_2d"), S((), Arg(()), (), name="0d"),
    S((3, 4), Arg((Ellipsis, 0)), (1, 1, 3), name="leading_ones"), S((4, 3), Arg(A([3, 1])), -1.0),
]

OPS = [
    OpInfo("Tensor.__getitem__", nc(_getitem), nc(lambda x, idx: x[idx]), GETITEM),
    OpInfo("Tensor.__setitem__", nc(_setitem), nc(_setitem_ref), SETITEM),
    OpInfo("index_put", lambda x, idx, v, accumulate=False: ag.index_put(x, _ix(idx, x), v, accumulate),
           _index_put_ref,
           [S((5, 3), Arg((A([0, 2, 2]),)), (3, 3), accumulate=True, name="accumulate_repeated"),
            S((5, 3), Arg((A([0, 2]), A([1, 1]))), (2,)),
            S((5, 3), Arg((B(True, False, False, True, True),)), (3,)),
            S((4, 3), Arg((A([1, 1, 3]), A([2, 2, 0]))), (), accumulate=True)]),
    OpInfo("select", nc(ag.select), nc(lambda x, d, i: np.take(x, i, axis=d)),
           [S((3, 4), 0, 1), S((3, 4), -1, -2), S((3,), 0, 2, name="to_0d"),
            S((4, 3), 1, 0, noncontig=True)]),
    OpInfo("narrow", nc(ag.narrow), nc(_narrow_ref),
           [S((4, 5), 0, 1, 2), S((4, 5), -1, -3, 2), S((4, 5), 1, 0, 0, name="empty"),
            S((5, 4), 1, 1, 3, noncontig=True)]),
    OpInfo("gather", nc(ag.gather), nc(_gather_ref),
           [S((3, 4), 0, Arg(A([[0, 1, 2, 0], [2, 2, 1, 0]]))),
            S((3, 4), 1, Arg(A([[0, 0], [3, 1], [2, 2]]))),
            S((3, 4, 2), -1, Arg(A([[[1, 1, 0]], [[0, 0, 0]]])), name="smaller_index"),
            S((4, 5), 1, Arg(A([[0, 0], [4, 1]]))), S((), 0, Arg(A(0)), name="0d"),
            S((3,), 0, Arg(A([2, 2, 0, 1]))),
            S((4, 3), 0, Arg(A([[0, 1, 1, 2], [2, 2, 0, 0]])), noncontig=True)]),
    OpInfo("scatter", nc(ag.scatter), nc(_scatter_ref),
           [S((3, 4), 0, Arg(A([[0, 1, 2, 0], [2, 0, 1, 1]])), (2, 4), name="src"),
            S((3, 4), 1, Arg(A([[3, 0], [1, 2], [0, 3]])), 1.5, name="value"),
            S((3, 4), 0, Arg(A([[1, 0, 2], [0, 2, 1]])), (3, 5), name="src_larger"),
            S((4, 3), 1, Arg(A([[0, 2], [3, 1], [1, 0]])), (3, 2), noncontig=True)]),
    OpInfo("scatter_add", nc(ag.scatter_add), nc(_scatter_add_ref),
           [S((3, 4), 0, Arg(A([[0, 0, 1, 2], [0, 2, 2, 2]])), (2, 4), name="repeated"),
            S((3, 4), -1, Arg(A([[3, 3, 3], [0, 1, 0], [2, 2, 1]])), (3, 5), name="src_larger"),
            S((4,), 0, Arg(A([1, 1, 1, 0, 3])), (5,), name="1d"),
            S((4, 3), 0, Arg(A([[1, 1], [0, 1]])), (2, 2), noncontig=True)]),
    OpInfo("index_select", nc(ag.index_select), nc(lambda x, d, i: np.take(x, i.reshape(-1), axis=d) if x.ndim
                                                   else x.reshape(-1)[i].reshape(())),
           [S((4, 3), 0, Arg(A([0, 2, 2, 3])), name="repeated"), S((4, 3), -1, Arg(A([1]))),
            S((3, 4), 1, Arg(A(1)), name="0d_index"), S((), 0, Arg(A([0])), name="0d"),
            S((4, 3), 1, Arg(A([3, 3, 0])), noncontig=True)]),
    OpInfo("index_add", nc(ag.index_add), nc(_index_add_ref),
           [S((4, 3), 0, Arg(A([0, 2, 2])), (3, 3), name="repeated"),
            S((4, 3), 1, Arg(A([2, 0])), (4, 2), alpha=-1.5),
            S((4, 3), 0, Arg(A([1, 1])), (2, 4), noncontig=True)]),
    OpInfo("masked_fill", nc(ag.masked_fill), nc(_masked_fill_ref),
           [S((3, 4), Arg(MASK34), 1.5),
            S((3, 4), Arg(B(True, False, False, True)), -2.0, name="broadcast_mask"),
            S((4,), Arg(MASK34), 0.5, name="mask_wider"), S((3, 4), Arg(MASK34), (), name="tensor_value"),
            S((), Arg(A(True)), 2.0, name="0d"), S((4, 3), Arg(MASK34), (), noncontig=True)]),
    OpInfo("Tensor.masked_fill_", lambda x, m, v: x.clone().masked_fill_(m, v), _masked_fill_ref,
           [S((3, 4), Arg(MASK34), 1.5),
            S((3, 4), Arg(B(False, True, True, False)), (), name="tensor_value")]),
    OpInfo("masked_select", nc(ag.masked_select), nc(_masked_select_ref),
           [S((3, 4), Arg(MASK34)), S((3, 4), Arg(B(True, False, False, True)), name="broadcast_mask"),
            S((4,), Arg(MASK34), name="mask_wider"), S((4, 3), Arg(MASK34), noncontig=True)]),
    OpInfo("take_along_dim", nc(ag.take_along_dim), nc(_take_along_dim_ref),
           [S((3, 4), Arg(A([[0, 3], [1, 1], [2, 0]])), 1), S((3, 4), Arg(A([11, 0, 5, 5])), name="flat"),
            S((3, 4), Arg(A([[0, 3]])), 1, name="broadcast"),
            S((4, 3), Arg(A([[2], [0], [1]])), 1, noncontig=True)]),
    OpInfo("nonzero", ag.nonzero, np.argwhere, [S(Arg(A([[0., 1., 2.], [3., 0., 0.]]))), S(Arg(A(0.5)))],
           grad=False, aliases=("argwhere",)),
]
