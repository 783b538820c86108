"""Helpers shared by op modules: turning arguments into tensors, dtype promotion, dims."""
from __future__ import annotations

import numbers

import numpy as np

from .. import _dtype
from ..autograd.grad_mode import state as _grad_state
from ..tensor import Tensor

Scalar = (int, float, bool, np.number, np.bool_)


def is_scalar(x) -> bool:
    return isinstance(x, Scalar)


def py_scalar(s):
    """A NumPy scalar as the Python number PyTorch reads it as: a wrapped number, which never widens a
    tensor's dtype (float32 tensor * np.float64(2) stays float32, as x / np.sqrt(d) in attention code)."""
    return s.item() if isinstance(s, np.generic) else s


def as_tensor_like(x, like: Tensor, dtype=None) -> Tensor:
    """Wrap a scalar/array as a (non-grad) tensor on ``like``'s device."""
    if isinstance(x, Tensor):
        return x
    xp = like._device.xp
    if dtype is None:
        dtype = _dtype.result_type_np((like._data, x)) if is_scalar(x) else None
    return Tensor._make(xp.asarray(x, dtype=dtype), like._device)


def promote(a: Tensor, b: Tensor):
    """Cast two tensors to PyTorch's common dtype (differentiably); a no-op when dtypes already agree."""
    da, db = a._data.dtype, b._data.dtype
    if da == db:
        return a, b
    rt = _dtype.result_type_np((a._data, b._data))
    if da != rt:
        a = a.to(_dtype.from_numpy_dtype(rt))
    if db != rt:
        b = b.to(_dtype.from_numpy_dtype(rt))
    return a, b


def scalar_out_dtype(x_dtype: np.dtype, s):
    """dtype of ``tensor op scalar`` when it differs from the tensor's (int tensor * 2.5 -> float32),
    else None. NumPy 2 (NEP 50) already keeps the tensor dtype when the categories agree."""
    if x_dtype.kind == "f":
        return None
    if isinstance(s, (bool, np.bool_)):
        return None
    if isinstance(s, (float, np.floating)):
        return _dtype.get_default_dtype().np
    if x_dtype.kind == "b" and isinstance(s, numbers.Integral):
        return np.dtype(np.int64)
    return None


def wrap_dim(dim: int, ndim: int) -> int:
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim % n if ndim else 0


def wrap_dims(dim, ndim: int) -> tuple:
    """dim=None -> all dims; int or sequence -> sorted tuple of non-negative dims (duplicates refused)."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (int, np.integer)):
        return (wrap_dim(int(dim), ndim),)
    dims = tuple(wrap_dim(int(d), ndim) for d in dim)
    if len(set(dims)) != len(dims):
        d = next(d for d in dims if dims.count(d) > 1)
        raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    return tuple(sorted(dims))


def shape_arg(size) -> tuple:
    """Accept f(2, 3), f((2, 3)), f([2, 3]) and torch.Size."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    return tuple(int(s) for s in size)


def held_index(t, a):
    """The index or mask array ``a`` read from tensor ``t``, as an op may keep it for backward: a private copy
    while gradients are recorded, so that changing ``t`` in place before backward can't change the gradient
    (PyTorch refuses such a change with its version-counter error; the copy keeps the forward's indices)."""
    return a.copy() if a is t._data and _grad_state.enabled else a
