"""Index-driven copies: gather, scatter, scatter_add, take_along_dim, index_select, index_add, masked_fill,
masked_select, nonzero.

Each gather is paired with a scatter-add as its gradient (and vice versa), so every order of derivative
stays within this family. Scatter-adds run ``np.add.at`` on the CPU and the fused ``scatter_add_rows``
kernel on CUDA devices (see index.add_rows).
"""
from __future__ import annotations

import numpy as np

from ..autograd.grad_mode import state as _grad_state
from ..autograd.node import Op
from ..tensor import Tensor
from ._util import held_index, is_scalar, wrap_dim
from .index_ops import SliceBackwardBackward0, _host, add_rows

_TORCH_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half", "int64": "long int",
                "int32": "int", "int16": "short int", "int8": "signed char", "uint8": "unsigned char"}


# ----------------------------------------------------------------- helpers
def _index_arg(index, input: Tensor, fn: str, pos: int = 3):
    """The index array (int32/int64) on input's device."""
    if not isinstance(index, Tensor):
        raise TypeError(f"{fn}(): argument 'index' (position {pos}) must be Tensor, not "
                        f"{type(index).__name__}")
    a = index._data
    if a.dtype != np.int64 and a.dtype != np.int32:
        raise RuntimeError(f"{fn}(): Expected dtype int32/int64 for index")
    if index._device is not input._device:
        from .conversion import move_array
        a = move_array(a, index._device, input._device)
    return held_index(index, a)


def _check_range(a, size: int, dim: int, exc=RuntimeError) -> None:
    """Refuse indices outside [0, size) (PyTorch's gather/scatter don't wrap negative indices)."""
    if a.size and (int(a.min()) < 0 or int(a.max()) >= size):
        h = _host(a).reshape(-1)
        bad = h[(h < 0) | (h >= size)][0]
        raise exc(f"index {bad} is out of bounds for dimension {dim} with size {size}")


def _flat_positions(xp, shape, dim, index):
    """C-order flat positions, in an array of ``shape``, of the elements gather/scatter address: the element
    at i (in index's shape) is x[i_0, ..., index[i], ..., i_n]."""
    if len(shape) <= 1:
        return index.reshape(-1).astype(np.int64, copy=False)
    strides = [1] * len(shape)
    for d in range(len(shape) - 2, -1, -1):
        strides[d] = strides[d + 1] * shape[d + 1]
    lin = index.astype(np.int64) * strides[dim]
    nd = index.ndim
    for d, n in enumerate(index.shape):
        if d != dim and n > 1:
            step = xp.arange(0, n * strides[d], strides[d], dtype=np.int64)
            lin += step.reshape((n,) + (1,) * (nd - d - 1))
    return lin.reshape(-1)


def _leading(xp, src, shape):
    """src[:shape[0], :shape[1], ...] as a flat contiguous array (scatter reads only that corner of src)."""
    if src.ndim <= 1:
        return src.reshape(-1)[:int(np.prod(shape))]
    return xp.ascontiguousarray(src[tuple(slice(0, n) for n in shape)]).reshape(-1)


def _pad_to(g: Tensor, shape) -> Tensor:
    """g placed in the leading corner of zeros(shape) (the gradient of _leading)."""
    gs = g._data.shape
    if gs == shape:
        return g
    if len(shape) <= 1 and len(gs) <= 1:
        g = g.reshape(-1)
        if not shape:
            return g.reshape(())
        idx = (slice(0, g._data.size),)
    else:
        idx = tuple(slice(0, n) for n in gs)
    return SliceBackwardBackward0.apply(g, shape=tuple(shape), idx=idx)


def _zeros(shape, like: Tensor) -> Tensor:
    return Tensor._make(like._device.xp.zeros(shape, like._data.dtype), like._device)


def _check_scatter_shapes(xs, ids, d, src_shape, who):
    """PyTorch's shape rules: same rank as self (<= 1-D mixes allowed), index no larger than self apart from
    dim ``d`` (``who`` is 'input' for gather, 'self' for scatter) and no larger than src."""
    n = len(xs)
    if len(ids) != n and not (n <= 1 and len(ids) <= 1):
        raise RuntimeError(f"Index tensor must have the same number of dimensions as {who} tensor")
    if src_shape is not None and len(src_shape) != len(ids) and not (len(src_shape) <= 1 and len(ids) <= 1):
        wrap_dim(len(ids) - 1, len(src_shape))  # PyTorch's IndexError for the src rank
    big = [k for k in range(min(n, len(ids))) if k != d and ids[k] > xs[k]]
    big_src = (src_shape is not None and len(src_shape) == len(ids)
               and any(a > b for a, b in zip(ids, src_shape)))
    if who == "input" and big:
        raise RuntimeError(f"Size does not match at dimension {big[0]} expected index {list(ids)} to be no "
                           f"larger than self {list(xs)} apart from dimension {d}")
    if who == "self" and (big or big_src):
        tail = f" and to be no larger size than src {list(src_shape)}" if src_shape is not None else ""
        raise RuntimeError(f"Expected index {list(ids)} to be no larger than self {list(xs)} apart from "
                           f"dimension {d}{tail}")


# ----------------------------------------------------------------- gather / scatter
class GatherBackward0(Op):
    def forward(self, x, dim=0, index=None):
        self.shape, self.dim, self.index = x.shape, dim, index
        # one flat take: faster than take_along_axis's broadcast fancy index, same on NumPy and CuPy
        pos = _flat_positions(self.dev.xp, x.shape, dim, index)
        return x.reshape(-1)[pos].reshape(index.shape)

    def backward(self, g):
        return ScatterAddBackward0.apply(_zeros(self.shape, g), g, dim=self.dim, index=self.index)


class ScatterAddBackward0(Op):
    def forward(self, x, src, dim=0, index=None):
        self.dim, self.index, self.src_shape = dim, index, src.shape
        out = x.copy()  # C-contiguous: reshape(-1) below is a view
        pos = _flat_positions(self.dev.xp, x.shape, dim, index)
        add_rows(self.dev, out.reshape(-1), pos, _leading(self.dev.xp, src, index.shape))
        return out

    def backward(self, g):
        need = self.needs_input_grad
        gs = None
        if need[1]:
            gs = _pad_to(GatherBackward0.apply(g, dim=self.dim, index=self.index), self.src_shape)
        return (g if need[0] else None), gs


class ScatterBackward0(Op):
    """scatter with a src tensor: out = x; out[.., index[i], ..] = src[i] (last write wins on repeats)."""

    def forward(self, x, src=None, dim=0, index=None, value=None):
        self.dim, self.index = dim, index
        self.src_shape = None if src is None else src.shape
        out = x.copy()
        pos = _flat_positions(self.dev.xp, x.shape, dim, index)
        out.reshape(-1)[pos] = value if src is None else _leading(self.dev.xp, src, index.shape)
        return out

    def backward(self, g):
        need = self.needs_input_grad
        gx = ScatterBackward1.apply(g, dim=self.dim, index=self.index, value=0) if need[0] else None
        if len(need) == 1:
            return gx
        gs = None
        if need[1]:
            gs = _pad_to(GatherBackward0.apply(g, dim=self.dim, index=self.index), self.src_shape)
        return gx, gs


class ScatterBackward1(ScatterBackward0):
    """scatter with a scalar value."""


def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False, out=None) -> Tensor:
    """out[i][j][k] = input[index[i][j][k]][j][k] (for dim=0)."""
    idx = _index_arg(index, input, "gather")
    xs = input._data.shape
    d = wrap_dim(dim, len(xs))
    _check_scatter_shapes(xs, idx.shape, d, None, "input")
    _check_range(idx, xs[d] if xs else 1, d)
    return GatherBackward0.apply(input, dim=d, index=idx)


def _scatter_args(input, dim, index, src, fn):
    idx = _index_arg(index, input, "scatter")
    xs = input._data.shape
    d = wrap_dim(dim, len(xs))
    if isinstance(src, Tensor) and src._data.dtype != input._data.dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    _check_scatter_shapes(xs, idx.shape, d, src._data.shape if isinstance(src, Tensor) else None, "self")
    _check_range(idx, xs[d] if xs else 1, d)
    return d, idx


def scatter(input: Tensor, dim: int, index: Tensor, src=None, *, value=None, reduce=None) -> Tensor:
    """out = input with out[.., index[i], ..] = src[i] (or the scalar ``value``) along ``dim``."""
    if reduce is not None:
        raise NotImplementedError("scatter(reduce=...) is not supported; use scatter_add or scatter_reduce")
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter() missing 1 required positional argument: 'src' or 'value'")
    d, idx = _scatter_args(input, dim, index, src, "scatter")
    if isinstance(src, Tensor):
        return ScatterBackward0.apply(input, src, dim=d, index=idx)
    return ScatterBackward1.apply(input, dim=d, index=idx, value=src)


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """out = input; out[.., index[i], ..] += src[i] along ``dim`` (repeated indices add up)."""
    d, idx = _scatter_args(input, dim, index, src, "scatter_add")
    return ScatterAddBackward0.apply(input, src, dim=d, index=idx)


def take_along_dim(input: Tensor, indices: Tensor, dim=None, *, out=None) -> Tensor:
    """gather along ``dim`` after broadcasting input and indices (flattened both when dim is None)."""
    if isinstance(indices, Tensor) and indices._data.dtype.kind not in "iu":
        raise RuntimeError(f"torch.take_along_dim(): dtype of indices should be Long but got "
                           f"{_TORCH_NAMES.get(indices._data.dtype.name, 'Float').capitalize()}")
    if dim is None:
        return gather(input.reshape(-1), 0, indices.reshape(-1))
    n = input._data.ndim
    if indices._data.ndim != n:
        raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same number of "
                           f"dimensions, but got {n} dimensions for input, and {indices._data.ndim} "
                           "dimensions for indices")
    d = wrap_dim(dim, n)
    xs, ids = list(input._data.shape), indices._data.shape
    xs[d] = ids[d]
    b = list(_broadcast(tuple(xs), ids))
    if tuple(b) != ids:
        indices = indices.expand(b)
    b[d] = input._data.shape[d]
    if tuple(b) != input._data.shape:
        input = input.expand(b)
    return gather(input, d, indices)


def _broadcast(a: tuple, b: tuple) -> tuple:
    try:
        return np.broadcast_shapes(a, b)
    except ValueError:
        n = max(len(a), len(b))
        for i in range(n - 1, -1, -1):
            sa = a[i - n + len(a)] if i - n + len(a) >= 0 else 1
            sb = b[i - n + len(b)] if i - n + len(b) >= 0 else 1
            if sa != sb and sa != 1 and sb != 1:
                raise RuntimeError(f"The size of tensor a ({sa}) must match the size of tensor b ({sb}) at "
                                   f"non-singleton dimension {i}") from None
        raise


# ----------------------------------------------------------------- index_select / index_add
class IndexSelectBackward0(Op):
    def forward(self, x, dim=0, index=None):
        self.shape, self.dim, self.index = x.shape, dim, index
        if x.ndim == 0:
            out = x.reshape(1)[index]
            return out.reshape(()) if out.size == 1 else out
        return self.dev.xp.take(x, index, axis=dim)

    def backward(self, g):
        return IndexAddBackward0.apply(_zeros(self.shape, g), g, dim=self.dim, index=self.index)


class IndexAddBackward0(Op):
    def forward(self, x, src, dim=0, index=None, alpha=1):
        self.dim, self.index, self.alpha = dim, index, alpha
        xp = self.dev.xp
        out = x.copy()
        rows = out.reshape(1) if out.ndim == 0 else out
        src = src.reshape(index.shape) if src.ndim == 0 else src
        if alpha != 1:
            src = src * alpha
        if dim:
            rows, src = xp.moveaxis(rows, dim, 0), xp.moveaxis(src, dim, 0)
        add_rows(self.dev, rows, index, src)
        return out

    def backward(self, g):
        need = self.needs_input_grad
        gs = None
        if need[1]:
            gs = IndexSelectBackward0.apply(g, dim=self.dim, index=self.index)
            if self.alpha != 1:
                gs = gs * self.alpha
        return (g if need[0] else None), gs


def _vector_index(index, input, fn):
    idx = _index_arg(index, input, fn)
    if idx.ndim > 1:
        raise IndexError(f"{fn}(): Index is supposed to be a vector")
    return idx.reshape(-1)


def index_select(input: Tensor, dim: int, index: Tensor, *, out=None) -> Tensor:
    """out = input.take(index, axis=dim): whole slices picked along ``dim``."""
    xs = input._data.shape
    d = wrap_dim(dim, len(xs))
    if isinstance(index, Tensor) and index._data.dtype.kind not in "iu":
        raise RuntimeError("index_select(): Expected dtype int32 or int64 for index")
    idx = _vector_index(index, input, "index_select")
    size = xs[d] if xs else 1
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or (hi >= size and not xs):
            raise IndexError("index out of range in self")
        if hi >= size:
            raise RuntimeError(f"INDICES element is out of DATA bounds, id={hi} axis_dim={size}")
    return IndexSelectBackward0.apply(input, dim=d, index=idx)


def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1, out=None) -> Tensor:
    """out = input; out[.., index[i], ..] += alpha * source[.., i, ..] along ``dim`` (repeats add up)."""
    xs = input._data.shape
    d = wrap_dim(dim, len(xs))
    if isinstance(index, Tensor) and index._data.dtype.kind not in "iu":
        raise RuntimeError(f"index_add_(): Expected dtype int32/int64 for index but got: "
                           f"{_TORCH_NAMES.get(index._data.dtype.name, 'float').split()[0].capitalize()}")
    idx = _index_arg(index, input, "index_add_")
    if idx.ndim > 1:
        raise IndexError(f"index_add_(): Index is supposed to be a vector, but got dim: {idx.ndim} with "
                         f"type: Long and size: {list(idx.shape)}")
    idx = idx.reshape(-1)
    ss = source._data.shape
    if source._data.dtype != input._data.dtype:
        from ._pw_common import tname
        raise RuntimeError(f"index_add_(): self ({tname(input._data.dtype)}) and source "
                           f"({tname(source._data.dtype)}) must have the same scalar type")
    n_src = ss[d] if d < len(ss) else 1
    if n_src != idx.size:
        raise RuntimeError(f"index_add_(): Number of indices ({idx.size}) should be equal to "
                           f"source.size(dim): ({n_src}), for dim: {d}")
    if (len(ss) != len(xs) and max(len(ss), len(xs)) > 1
            or any(a != b for k, (a, b) in enumerate(zip(xs, ss)) if k != d)):
        raise RuntimeError(f"source tensor shape must match self tensor shape, excluding the specified "
                           f"dimension. Got self.shape = {list(xs)} source.shape = {list(ss)}")
    _check_range(idx, xs[d] if xs else 1, d)
    return IndexAddBackward0.apply(input, source, dim=d, index=idx, alpha=alpha)


# ----------------------------------------------------------------- masks
class MaskedFillBackward0(Op):
    """masked_fill with a scalar value: out = where(mask, value, x)."""

    def forward(self, x, v=None, mask=None, value=None):
        self.mask = mask
        xp = self.dev.xp
        return xp.where(mask, xp.asarray(value if v is None else v, dtype=x.dtype), x)

    def backward(self, g):
        gx = MaskedFillBackward0.apply(g, mask=self.mask, value=0) if self.needs_input_grad[0] else None
        return gx


class MaskedFillBackward1(MaskedFillBackward0):
    """masked_fill with a 0-d tensor value: d value = sum of the gradient over the masked positions."""

    def backward(self, g):
        need = self.needs_input_grad
        gx = MaskedFillBackward0.apply(g, mask=self.mask, value=0) if need[0] else None
        gv = MaskedFillBackward0.apply(g, mask=~self.mask, value=0).sum() if need[1] else None
        return gx, gv


def _mask_arg(mask, input, fn):
    if not isinstance(mask, Tensor):
        raise TypeError(f"{fn}(): argument 'mask' (position 1) must be Tensor, not {type(mask).__name__}")
    m = mask._data
    if m.dtype.kind != "b":
        if fn == "masked_select":
            raise RuntimeError("masked_select: expected BoolTensor for mask")
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype "
                           f"{_TORCH_NAMES.get(m.dtype.name, m.dtype.name)}")
    if mask._device is not input._device:
        from .conversion import move_array
        m = move_array(m, mask._device, input._device)
    return held_index(mask, m)


def _value_arg(value, input):
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError("masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value._data.ndim} dimension(s).")
        if value._device is not input._device:
            value = value.to(input._device)
        return value
    if not is_scalar(value):
        raise TypeError(f"masked_fill() received an invalid combination of arguments - got (Tensor, "
                        f"{type(value).__name__})")
    return value


def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:
    """out = where(mask, value, input); value a scalar or a 0-d tensor (differentiable)."""
    m = _mask_arg(mask, input, "masked_fill")
    value = _value_arg(value, input)
    if m.shape != input._data.shape:
        _broadcast(input._data.shape, m.shape)
    if isinstance(value, Tensor):
        return MaskedFillBackward1.apply(input, value, mask=m)
    return MaskedFillBackward0.apply(input, mask=m, value=value)


def masked_fill_(self: Tensor, mask: Tensor, value) -> Tensor:
    """In place: self[mask] = value (mask broadcast to self's shape)."""
    m = _mask_arg(mask, self, "masked_fill")
    value = _value_arg(value, self)
    shape = self._data.shape
    if m.shape != shape and _broadcast(shape, m.shape) != shape:
        raise RuntimeError(f"output with shape {list(shape)} doesn't match the broadcast shape "
                           f"{list(_broadcast(shape, m.shape))}")
    if _grad_state.enabled and (self._requires_grad or isinstance(value, Tensor) and value._requires_grad) or \
            self._fw_grad is not None or isinstance(value, Tensor) and value._fw_grad is not None:  # forward AD
        from .inplace import apply_inplace
        return apply_inplace(self, masked_fill, mask, value)
    self._check_inplace()
    v = value._data if isinstance(value, Tensor) else value
    self._device.xp.copyto(self._data, v, casting="unsafe", where=m)
    self._version[0] += 1
    return self


class MaskedSelectBackward0(Op):
    def forward(self, x, mask=None, shape=None):
        xp = self.dev.xp
        self.shape = shape
        self.mask = mask = xp.broadcast_to(mask, shape)
        return xp.broadcast_to(x, shape)[mask]

    def backward(self, g):
        return MaskedScatterBackward0.apply(g, mask=self.mask, shape=self.shape)


class MaskedScatterBackward0(Op):
    """zeros(shape) with g's elements stored, in order, where mask is True (masked_select's gradient)."""

    def forward(self, g, mask=None, shape=None):
        self.mask, self.shape = mask, shape
        out = self.dev.xp.zeros(shape, g.dtype)
        out[mask] = g
        return out

    def backward(self, gg):
        return MaskedSelectBackward0.apply(gg, mask=self.mask, shape=self.shape)


def masked_select(input: Tensor, mask: Tensor, *, out=None) -> Tensor:
    """The elements of input (broadcast with mask) where mask is True, as a 1-D tensor."""
    m = _mask_arg(mask, input, "masked_select")
    shape = input._data.shape if m.shape == input._data.shape else _broadcast(input._data.shape, m.shape)
    return MaskedSelectBackward0.apply(input, mask=m, shape=tuple(shape))


def nonzero(input: Tensor, *, out=None, as_tuple: bool = False):
    """Indices of the non-zero elements: an (n, ndim) int64 tensor, or a tuple of ndim 1-D tensors."""
    xp = input._device.xp
    d = input._data
    if as_tuple:
        return tuple(Tensor._make(a.astype(np.int64, copy=False), input._device)
                     for a in xp.nonzero(d.reshape(1) if d.ndim == 0 else d))
    return Tensor._make(xp.argwhere(d).astype(np.int64, copy=False), input._device)


def argwhere(input: Tensor) -> Tensor:
    """nonzero(input): an (n, ndim) tensor of the indices of non-zero elements."""
    return nonzero(input)


def _inplace(name):
    from .inplace import _method
    return _method(name, "autograd_gpu.ops.gather")


TENSOR_METHODS = {
    "gather": gather, "scatter": scatter, "scatter_add": scatter_add, "take_along_dim": take_along_dim,
    "index_select": index_select, "index_add": index_add, "masked_fill": masked_fill,
    "masked_fill_": masked_fill_, "masked_select": masked_select, "nonzero": nonzero, "argwhere": argwhere,
    "scatter_": _inplace("scatter"), "scatter_add_": _inplace("scatter_add"),
    "index_add_": _inplace("index_add"),
}
