"""Rows for shape ops that move or copy elements: cat/stack/split family, flip, roll, repeat, tril/triu,
movedim.

``noncontig=True`` in a sample (see ``nc``) swaps the first input's first two dims before the op, so the op
sees a non-contiguous view."""
import numpy as np

import autograd_gpu as ag

from ..registry import Arg, OpInfo, S


def nc(fn):
    """fn taking a ``noncontig`` flag: the first input becomes a transposed (non-contiguous) view."""
    def wrapped(x, *args, noncontig=False, **kwargs):
        return fn(x.swapaxes(0, 1) if noncontig else x, *args, **kwargs)
    return wrapped


def _cat_ref(*xs, dim=0):
    xs = [x for x in xs if not (x.ndim == 1 and x.shape[0] == 0)]
    return np.concatenate(xs, axis=dim)


def _split_ref(x, s, dim=0):
    n = x.shape[dim]
    sizes = list(s) if isinstance(s, tuple) else [min(s, n - i) for i in range(0, n, s)]
    return tuple(np.split(x, np.cumsum(sizes)[:-1], axis=dim))


def _chunk_ref(x, chunks, dim=0):
    n = x.shape[dim]
    return _split_ref(x, -(-n // chunks), dim)


def _unbind_ref(x, dim=0):
    return tuple(np.moveaxis(x, dim, 0))


def _flip_ref(x, dims):
    return np.flip(x, axis=dims) if x.ndim else x


def _roll_ref(x, shifts, dims=None):
    return np.roll(x, shifts, axis=dims)


I64 = np.int64
CAT = [S((2, 3), (4, 3)), S((2, 3), (2, 1), (2, 4), dim=1), S((2, 3), (2, 3), dim=-1),
       S((2, 0, 3), (2, 2, 3), dim=1, name="empty"), S((0,), (2, 3), name="legacy_empty"),
       S((2, 3), Arg(np.arange(6).reshape(2, 3)), name="promote_int"), S((3, 2), (1, 3), noncontig=True)]

OPS = [
    OpInfo("cat", nc(lambda *ts, dim=0: ag.cat(list(ts), dim)), nc(_cat_ref), CAT, aliases=("concat",)),
    OpInfo("concatenate", nc(lambda *ts, axis=0: ag.concatenate(ts, axis=axis)),
           nc(lambda *xs, axis=0: np.concatenate(xs, axis)), [S((2, 3), (2, 2), axis=1)]),
    OpInfo("stack", nc(lambda *ts, dim=0: ag.stack(ts, dim)), nc(lambda *xs, dim=0: np.stack(xs, axis=dim)),
           [S((3, 4), (3, 4)), S((3, 4), (3, 4), dim=2), S((), (), name="0d"),
            S((2, 3), (2, 3), (2, 3), dim=-1),
            S((4, 3), (3, 4), dim=1, noncontig=True)]),
    OpInfo("hstack", lambda *ts: ag.hstack(ts), lambda *xs: np.hstack(xs),
           [S((3,), (2,)), S((2, 3), (2, 1)), S((), (2,), name="0d")]),
    OpInfo("vstack", lambda *ts: ag.vstack(ts), lambda *xs: np.vstack(xs),
           [S((3,), (3,)), S((2, 3), (1, 3)), S((), (1,), name="0d")], aliases=("row_stack",)),
    OpInfo("dstack", lambda *ts: ag.dstack(ts), lambda *xs: np.dstack(xs),
           [S((3,), (3,)), S((2, 3), (2, 3, 2))]),
    OpInfo("split", nc(ag.split), nc(_split_ref),
           [S((5, 4), 2), S((5, 4), Arg((1, 3, 1)), name="sizes"), S((4, 5), 3, dim=1),
            S((4, 6), Arg((2, 0, 4)), dim=-1, name="sizes_zero"), S((4, 5), 2, noncontig=True)]),
    OpInfo("Tensor.split", lambda x, s, dim=0: x.split(s, dim), _split_ref,
           [S((6, 2), 4), S((3, 4), Arg((3, 1)), 1)]),
    OpInfo("chunk", nc(ag.chunk), nc(_chunk_ref),
           [S((5, 4), 2), S((6,), 3), S((4, 5), 2, dim=1), S((3, 4), 5), S((4, 3), 2, noncontig=True)]),
    OpInfo("unbind", nc(ag.unbind), nc(_unbind_ref), [S((3, 4)), S((3, 4), dim=1), S((2, 3, 4), dim=-1),
                                                     S((3, 2), dim=1, noncontig=True)]),
    OpInfo("Tensor.__iter__", lambda x: tuple(x), lambda x: tuple(x), [S((3, 2)), S((2,))]),
    OpInfo("flip", nc(ag.flip), nc(_flip_ref),
           [S((3, 4), Arg((0,))), S((2, 3, 4), Arg((0, 2))), S((3, 4), Arg((-1,))),
            S((), Arg((0,)), name="0d"),
            S((4, 3), Arg((0,)), noncontig=True)]),
    OpInfo("Tensor.flip", lambda x, *d: x.flip(*d), lambda x, *d: np.flip(x, axis=d), [S((3, 4), 1, 0)]),
    OpInfo("roll", nc(ag.roll), nc(_roll_ref),
           [S((3, 4), 1), S((3, 4), Arg((1, -2)), Arg((0, 1))), S((3, 4), 5, 1), S((3, 4), -1, -1),
            S((), 1, name="0d"), S((4, 3), 2, 0, noncontig=True)]),
    OpInfo("Tensor.repeat", nc(lambda x, *r: x.repeat(*r)), nc(lambda x, *r: np.tile(x, r)),
           [S((2, 3), 2, 2), S((3,), 2, 1, 2), S((), 3, name="0d"), S((2, 3), 1, 0, name="zero"),
            S((2, 1, 3), 1, 3, 1), S((3, 2), 2, 1, noncontig=True)]),
    OpInfo("tile", ag.tile, lambda x, d: np.tile(x, d), [S((2, 3), Arg((2,))), S((2,), Arg((2, 1, 2)))]),
    OpInfo("tril", nc(ag.tril), nc(lambda x, diagonal=0: np.tril(x, diagonal)),
           [S((4, 4)), S((3, 5), 1), S((5, 3), -1), S((2, 3, 4), diagonal=2), S((4, 3), noncontig=True)]),
    OpInfo("triu", nc(ag.triu), nc(lambda x, diagonal=0: np.triu(x, diagonal)),
           [S((4, 4)), S((3, 5), 1), S((5, 3), -1), S((2, 3, 4), diagonal=-2), S((4, 3), noncontig=True)]),
    OpInfo("movedim", nc(ag.movedim), nc(np.moveaxis),
           [S((2, 3, 4), 0, 2), S((2, 3, 4), Arg((0, 1)), Arg((2, 0))), S((2, 3, 4), -1, 0),
            S((3, 2, 4), 0, -1, noncontig=True)], aliases=("moveaxis",)),
]
