"""Joining and splitting: cat (concat, concatenate), stack, hstack/vstack/dstack, split, chunk, unbind.

Joins copy and promote dtypes like PyTorch; splits return views of the input (one node, many outputs).
"""
from __future__ import annotations

from .. import _dtype
from ..autograd.node import Op
from ..tensor import Tensor
from ._util import wrap_dim
from .shape import _view_of

_FULL = slice(None)


def _tensor_list(tensors, fn: str, arg: str = "tensors") -> list:
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{fn}(): argument '{arg}' (position 1) must be tuple of Tensors, not "
                        f"{type(tensors).__name__}")
    return list(tensors)


def _promoted(tensors: list) -> list:
    """Cast every tensor to the list's common dtype (PyTorch's result_type), differentiably."""
    first = tensors[0]._data.dtype
    if all(t._data.dtype == first for t in tensors):
        return tensors
    rt = _dtype.result_type_np([t._data for t in tensors])
    dt = _dtype.from_numpy_dtype(rt)
    return [t if t._data.dtype == rt else t.to(dt) for t in tensors]


def _legacy_empty(shape) -> bool:
    """A 1-D empty tensor, which cat skips whatever the other shapes (PyTorch's legacy behaviour)."""
    return len(shape) == 1 and shape[0] == 0


class CatBackward0(Op):
    def forward(self, *xs, dim=0):
        self.dim = dim
        self.sizes = [None if _legacy_empty(x.shape) else x.shape[dim] for x in xs]
        arrays = [x for x, s in zip(xs, self.sizes) if s is not None]
        if not arrays:
            return self.dev.xp.zeros((0,), xs[0].dtype)
        return self.dev.xp.concatenate(arrays, axis=dim)

    def backward(self, g):
        from .index import narrow
        grads, off = [], 0
        for need, s in zip(self.needs_input_grad, self.sizes):
            if s is None:
                empty = Tensor._make(g._device.xp.zeros((0,), g._data.dtype), g._device)
                grads.append(empty if need else None)
                continue
            grads.append(narrow(g, self.dim, off, s) if need else None)
            off += s
        return tuple(grads)


def cat(tensors, dim: int = 0, *, out=None) -> Tensor:
    """Concatenate along ``dim``: shapes must agree elsewhere (1-D empty tensors are skipped)."""
    tensors = _tensor_list(tensors, "cat")
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    tensors = _promoted(tensors)
    ref = None
    for i, t in enumerate(tensors):
        shape = t._data.shape
        if not shape:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
        if _legacy_empty(shape):
            continue
        if ref is None:
            ref = shape
            d = wrap_dim(dim, len(shape))
            continue
        if len(shape) != len(ref):
            raise RuntimeError(f"Tensors must have same number of dimensions: got {len(ref)} and "
                               f"{len(shape)}")
        for k, (a, b) in enumerate(zip(ref, shape)):
            if k != d and a != b:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. Expected size {a} "
                                   f"but got size {b} for tensor number {i} in the list.")
    return CatBackward0.apply(*tensors, dim=0 if ref is None else d)


def concat(tensors, dim: int = 0, *, out=None) -> Tensor:
    """Alias of cat."""
    return cat(tensors, dim)


def concatenate(tensors, axis: int = 0, out=None) -> Tensor:
    """Alias of cat (NumPy's argument name)."""
    return cat(tensors, axis)


class StackBackward0(Op):
    def forward(self, *xs, dim=0):
        self.dim = dim
        return self.dev.xp.stack(xs, axis=dim)

    def backward(self, g):
        from .index import select
        return tuple(select(g, self.dim, i) if need else None for i, need in enumerate(self.needs_input_grad))


def stack(tensors, dim: int = 0, *, out=None) -> Tensor:
    """Join equal-shaped tensors along a new dim ``dim``."""
    tensors = _tensor_list(tensors, "stack")
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    tensors = _promoted(tensors)
    shape = tensors[0]._data.shape
    for i, t in enumerate(tensors):
        if t._data.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(shape)} at entry "
                               f"0 and {list(t._data.shape)} at entry {i}")
    return StackBackward0.apply(*tensors, dim=wrap_dim(dim, len(shape) + 1))


def _at_least(t: Tensor, n: int) -> Tensor:
    """Pad t's shape with size-1 dims up to n dims (atleast_1d/2d/3d layouts)."""
    shape = t._data.shape
    if len(shape) >= n:
        return t
    if n == 3 and len(shape) == 2:
        return t.reshape(shape + (1,))
    if n == 3 and len(shape) == 1:
        return t.reshape((1,) + shape + (1,))
    return t.reshape((1,) * (n - len(shape)) + shape)


def hstack(tensors, *, out=None) -> Tensor:
    """cat along dim 1 (dim 0 for 1-D tensors) after atleast_1d."""
    ts = [_at_least(t, 1) for t in _tensor_list(tensors, "hstack")]
    return cat(ts, 0 if ts and ts[0]._data.ndim == 1 else 1)


def vstack(tensors, *, out=None) -> Tensor:
    """cat along dim 0 after atleast_2d."""
    return cat([_at_least(t, 2) for t in _tensor_list(tensors, "vstack")], 0)


row_stack = vstack


def dstack(tensors, *, out=None) -> Tensor:
    """cat along dim 2 after atleast_3d."""
    return cat([_at_least(t, 3) for t in _tensor_list(tensors, "dstack")], 2)


class SplitBackward0(Op):
    """Views x[..., a:b, ...] along ``dim`` for consecutive ``sizes``."""

    def forward(self, x, dim=0, sizes=()):
        self.dim = dim
        pre = (_FULL,) * dim
        outs, off = [], 0
        for s in sizes:
            outs.append(x[pre + (slice(off, off + s),)])
            off += s
        return tuple(outs)

    def backward(self, *grads):
        return cat(list(grads), self.dim)


class SplitWithSizesBackward0(SplitBackward0):
    pass


def _split(input, sizes, dim, cls):
    outs = cls.apply(input, dim=dim, sizes=tuple(sizes))
    for o in outs:
        _view_of(o, input)
    return outs


def split(tensor: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Views of consecutive pieces along ``dim``: of size split_size (the last may be smaller) or of the
    given sizes."""
    shape = tensor._data.shape
    if not shape:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    d = wrap_dim(dim, len(shape))
    n = shape[d]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [int(s) for s in split_size_or_sections]
        if any(s < 0 for s in sizes):
            raise RuntimeError("split_with_sizes expects split_sizes have only non-negative entries, but got "
                               f"split_sizes={sizes}")
        if sum(sizes) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's "
                               f"size at dimension {d}), but got split_sizes={sizes}")
        return _split(tensor, sizes, d, SplitWithSizesBackward0)
    s = int(split_size_or_sections)
    if s < 0:
        raise RuntimeError(f"split expects split_size be non-negative, but got split_size={s}")
    if s == 0 and n != 0:
        raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}")
    k = max(-(-n // s), 1) if s else 1
    sizes = [min(s, n - i * s) for i in range(k)]
    return _split(tensor, sizes, d, SplitBackward0)


def _split_method(self, split_size, dim=0):
    return split(self, split_size, dim)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """Split into ``chunks`` pieces of ceil(size / chunks) (fewer when the size runs out)."""
    shape = input._data.shape
    if not shape:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = wrap_dim(dim, len(shape))
    n = shape[d]
    if n == 0:
        return _split(input, [0] * chunks, d, SplitBackward0)
    return split(input, -(-n // chunks), d)


class UnbindBackward0(Op):
    def forward(self, x, dim=0):
        self.dim = dim
        pre = (_FULL,) * dim
        return tuple(x[pre + (i, Ellipsis)] for i in range(x.shape[dim]))

    def backward(self, *grads):
        return stack(list(grads), self.dim)


def unbind(input: Tensor, dim: int = 0) -> tuple:
    """The slices along ``dim`` as a tuple of views (that dim removed)."""
    shape = input._data.shape
    if not shape:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    d = wrap_dim(dim, len(shape))
    outs = UnbindBackward0.apply(input, dim=d)
    for o in outs:
        _view_of(o, input)
    return outs


TENSOR_METHODS = {"split": _split_method, "chunk": chunk, "unbind": unbind}

__all__ = ["cat", "concat", "concatenate", "stack", "hstack", "vstack", "row_stack", "dstack", "split",
           "chunk", "unbind"]
