"""Index op nodes: basic-index views, advanced-index gathers and puts, and the scatter-add they share.

Each gather has a put as its gradient and vice versa, so every derivative order stays in this family. An
advanced index's gradient is a scatter-add (index_put with accumulate): ``np.add.at`` on the CPU, the fused
``scatter_add_rows`` kernel on CUDA devices. Parsing an index and the public API live in index.py.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.node import Node, Op

_FULL = slice(None)

# ----------------------------------------------------------------- basic indexing: views
class _BasicIndex(Op):
    """x[idx] with ints, slices and None only: a view. Subclasses carry PyTorch's name of the last step."""

    def forward(self, x, idx=None):
        self.shape = x.shape
        self.idx = idx
        return x[idx]

    def backward(self, g):
        return self.grad_cls.apply(g, shape=self.shape, idx=self.idx)


class _BasicIndexGrad(Op):
    """zeros(shape) with g stored at [idx]: a basic index's gradient (positions never repeat: a store)."""

    def forward(self, g, shape=None, idx=None):
        self.idx = idx
        out = self.dev.xp.zeros(shape, g.dtype)
        out[idx] = g
        return out

    def backward(self, gg):
        return self.fwd_cls.apply(gg, idx=self.idx)


class SelectBackward0(_BasicIndex):
    """x[i], select(dim, i)."""


class SliceBackward0(_BasicIndex):
    """x[a:b:c], narrow."""


class UnsqueezeBackward0(_BasicIndex):
    """x[None], x[..., None]: an index whose last step inserts a dim."""


class AliasBackward0(_BasicIndex):
    """x[...], x[()], x[:, :]: the whole tensor as a view."""

    def backward(self, g):
        return g


class SelectBackwardBackward0(_BasicIndexGrad):
    fwd_cls = SelectBackward0


class SliceBackwardBackward0(_BasicIndexGrad):
    fwd_cls = SliceBackward0


class UnsqueezeBackwardBackward0(_BasicIndexGrad):
    fwd_cls = UnsqueezeBackward0


SelectBackward0.grad_cls = SelectBackwardBackward0
SliceBackward0.grad_cls = SliceBackwardBackward0
UnsqueezeBackward0.grad_cls = UnsqueezeBackwardBackward0
_VIEW_CLS = {"select": SelectBackward0, "slice": SliceBackward0, "unsqueeze": UnsqueezeBackward0,
             None: AliasBackward0}


# ----------------------------------------------------------------- advanced indexing: copies
class _HoldsIndex(Op):
    """An op keeping index arrays in a tuple (invisible to Node._release): dropped after backward too."""

    def _release(self):
        Node._release(self)
        if self.__dict__.get("adv") is not None:
            self.adv = None
            self._released = True


class IndexBackward0(_HoldsIndex):
    """x[basic][adv]: ``basic`` a NumPy basic index (or None), ``adv`` a tuple of index arrays and ``:``."""

    def forward(self, x, basic=None, adv=None):
        self.shape, self.basic, self.adv = x.shape, basic, adv
        v = x if basic is None else x[basic]
        if v.size == 0:  # PyTorch reads nothing from an empty tensor, so it checks no index
            return self.dev.xp.zeros(adv_shape(v.shape, adv), v.dtype)
        if self.dev.type == "cuda":
            _check_bounds(v.shape, adv)  # CuPy wraps out-of-range indices instead of raising
        try:
            return v[adv]
        except IndexError as e:
            raise _index_error(v.shape, adv, e) from None

    def backward(self, g):
        return IndexPutImplBackward0.apply(g, shape=self.shape, basic=self.basic, adv=self.adv)


class IndexPutImplBackward0(_HoldsIndex):
    """zeros(shape) with g added at [basic][adv], repeated positions accumulating (IndexBackward0's grad)."""

    def forward(self, g, shape=None, basic=None, adv=None):
        self.basic, self.adv = basic, adv
        out = self.dev.xp.zeros(shape, g.dtype)
        accumulate_at(self.dev, out if basic is None else out[basic], adv, g)
        return out

    def backward(self, gg):
        return IndexBackward0.apply(gg, basic=self.basic, adv=self.adv)


class IndexPutBackward0(_HoldsIndex):
    """x with ``v`` (tensor) or ``value`` (scalar) stored (or added, accumulate) at [basic][adv].

    ``inplace``: x is a private copy (apply_inplace's stand-in for the old value): written directly."""

    def forward(self, x, v=None, basic=None, adv=None, value=None, accumulate=False, inplace=False):
        self.basic, self.adv, self.accumulate = basic, adv, accumulate
        out = x if inplace else x.copy()
        view = out if basic is None else out[basic]
        val = value if v is None else v
        if adv is None:
            if accumulate:
                view += val
            else:
                view[...] = val
        elif accumulate:
            xp = self.dev.xp
            accumulate_at(self.dev, view, adv, xp.broadcast_to(xp.asarray(val, dtype=out.dtype),
                                                               adv_shape(view.shape, adv)))
        elif view.size:
            if self.dev.type == "cuda":
                _check_bounds(view.shape, adv)
            try:
                view[adv] = val
            except IndexError as e:
                raise _index_error(view.shape, adv, e) from None
        return out

    def backward(self, g):
        need = self.needs_input_grad
        gx = gv = None
        if need[0]:
            gx = g if self.accumulate else IndexPutBackward0.apply(g, basic=self.basic, adv=self.adv, value=0)
        if len(need) == 1:
            return gx
        if need[1]:
            gv = _index(g, self.basic, self.adv)
        return gx, gv


class CopySlices(IndexPutBackward0):
    """x[basic] = value (PyTorch records the copy into a view of x as CopySlices)."""

    def name(self) -> str:
        return "torch::autograd::CopySlices"


def _index(t, basic, adv):
    if adv is not None:
        return IndexBackward0.apply(t, basic=basic, adv=adv)
    return t if basic is None else SliceBackward0.apply(t, idx=basic)


# ----------------------------------------------------------------- scatter-add
def add_rows(dev, out, index, src):
    """In place: out[index[i], ...] += src[i, ...], repeated rows accumulating (index >= 0, 1-D)."""
    if dev.uses_kernels and out.dtype.kind == "f":
        from . import fused
        fused.scatter_add_rows(dev, out, index, src)
    else:
        dev.xp.add.at(out, index, src)


def accumulate_at(dev, out, adv, src):
    """In place: out[adv] += src with repeated positions accumulating (index_put(accumulate=True))."""
    xp = dev.xp
    if out.size == 0:
        return
    if all(type(a) is slice or a.dtype.kind == "b" for a in adv):
        out[adv] = src  # masks reach each element at most once: a plain store
        return
    if not (dev.uses_kernels and out.dtype.kind == "f"):
        xp.add.at(out, adv, src)
        return
    # CUDA: fold the indexed dims into one row index (moved to the front) and scatter whole rows
    dims, arrays, d = [], [], 0
    for a in adv:
        if type(a) is slice:
            d += 1
        elif a.dtype.kind == "b":
            dims.extend(range(d, d + a.ndim))
            arrays.extend(xp.nonzero(a))
            d += a.ndim
        else:
            dims.append(d)
            arrays.append(a)
            d += 1
    lin = None
    for a, s in zip(xp.broadcast_arrays(*arrays), [out.shape[i] for i in dims]):
        a = xp.where(a < 0, a + s, a).astype(np.int64, copy=False)
        lin = a if lin is None else lin * s + a
    k, nb = len(dims), lin.ndim
    front = list(range(k))
    if dims == list(range(dims[0], dims[0] + k)) and dims[0]:
        src = xp.moveaxis(src, list(range(dims[0], dims[0] + nb)), list(range(nb)))  # NumPy keeps them inline
    target = out if dims == front else xp.moveaxis(out, dims, front)
    n_rows = math.prod(target.shape[:k])
    if k == 1:
        add_rows(dev, target, lin, src)
    elif target.flags.c_contiguous:
        add_rows(dev, target.reshape((n_rows,) + target.shape[k:]), lin, src)
    else:
        buf = xp.zeros((n_rows,) + target.shape[k:], out.dtype)
        add_rows(dev, buf, lin, src)
        target += buf.reshape(target.shape)


# ----------------------------------------------------------------- errors
def _host(a):
    return a.get() if hasattr(a, "get") else np.asarray(a)


def _index_error(vshape, adv, err=None):
    """PyTorch's IndexError for index arrays that don't broadcast, or else for an out-of-range index."""
    shapes = [[int(a.sum())] if a.dtype.kind == "b" else list(a.shape) for a in adv if type(a) is not slice]
    try:
        np.broadcast_shapes(*[tuple(s) for s in shapes])
    except ValueError:
        return IndexError("shape mismatch: indexing tensors could not be broadcast together with shapes "
                          + ", ".join(str(s) for s in shapes))
    j = d = 0  # j: PyTorch numbers the dims of the index tensors only (a k-d mask counts k)
    for a in adv:
        if type(a) is slice or a.dtype.kind == "b":
            n = 1 if type(a) is slice else a.ndim
            d += n
            j += 0 if type(a) is slice else n
            continue
        s = vshape[d]
        h = _host(a).reshape(-1)
        bad = (h < -s) | (h >= s)
        if bad.any():
            return IndexError(f"index {h[bad][0]} is out of bounds for dimension {j} with size {s}")
        j += 1
        d += 1
    return err if err is not None else IndexError("invalid index")


def _check_bounds(vshape, adv):
    d = 0
    for a in adv:
        if type(a) is slice or a.dtype.kind == "b":
            d += 1 if type(a) is slice else a.ndim
            continue
        s = vshape[d]
        if a.size and bool(((a < -s) | (a >= s)).any()):
            raise _index_error(vshape, adv)
        d += 1


def adv_shape(vshape, adv) -> tuple:
    """Shape of v[adv] for v of shape ``vshape`` (NumPy's rules), without indexing."""
    shapes, dims, d = [], [], 0
    for a in adv:
        if type(a) is slice:
            d += 1
        elif a.dtype.kind == "b":
            shapes.append((int(a.sum()),))
            dims.extend(range(d, d + a.ndim))
            d += a.ndim
        else:
            shapes.append(a.shape)
            dims.append(d)
            d += 1
    try:
        b = np.broadcast_shapes(*shapes)
    except ValueError:
        raise _index_error(vshape, adv) from None
    if dims == list(range(dims[0], dims[0] + len(dims))):
        return tuple(vshape[:dims[0]]) + b + tuple(vshape[dims[-1] + 1:])
    return b + tuple(s for i, s in enumerate(vshape) if i not in dims)
