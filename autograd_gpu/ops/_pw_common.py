"""Helpers shared by the pointwise-math and reduction modules: dtype rules, PyTorch's dtype errors,
quiet NumPy, and constant (non-differentiable) tensors built from raw masks."""
from __future__ import annotations

import numpy as np

from .. import _dtype
from ..backend.fp import quiet as _quiet
from ..tensor import Tensor

_TNAME = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int", "int64": "Long",
          "float16": "Half", "float32": "Float", "float64": "Double"}


def tname(np_dtype) -> str:
    """PyTorch's scalar-type name of a dtype ('Float', 'Long', ...) as used in its error messages."""
    return _TNAME[np.dtype(np_dtype).name]


def to_float(x):
    """Integer/bool array -> the default float dtype (PyTorch computes float-valued ops of ints there)."""
    return x if x.dtype.kind == "f" else x.astype(_dtype.get_default_dtype().np)


def not_implemented(kernel: str, np_dtype, dev) -> NotImplementedError:
    """PyTorch's dispatch error, e.g. '"abs_cpu" not implemented for 'Bool''; kernel is the CPU name."""
    if dev.type != "cpu":
        kernel = kernel.replace("_vml_cpu", "_cuda").replace("_cpu", "_cuda")
    return NotImplementedError(f"\"{kernel}\" not implemented for '{tname(np_dtype)}'")


def quiet():
    """NumPy error state for ops whose domain edges give inf/nan silently in PyTorch (log(0), x / 0)."""
    return _quiet()  # np.errstate(all="ignore"), minus its per-use cost (backend/fp.py)


def const(arr, like: Tensor) -> Tensor:
    """A raw array (mask, weights, quotient) as a constant tensor on ``like``'s device."""
    return Tensor._make(arr, like._device)


def zeros_grad(g: Tensor) -> Tensor:
    """The zero gradient of a piecewise-constant op (floor, sign, ...): a constant, like PyTorch's."""
    return Tensor._make(g._device.xp.zeros_like(g._data), g._device)


def keep(mask, g: Tensor) -> Tensor:
    """g where mask else 0, for a raw bool mask (differentiable in g; zero, not NaN, where masked)."""
    from .pointwise_logic import where
    return where(const(mask, g), g, 0.0)


def as_result_dtype(input: Tensor, *scalars) -> Tensor:
    """Cast ``input`` (differentiably) to the result dtype with Python scalar operands (None skipped)."""
    rt = _dtype.result_type_np((input._data,) + tuple(s for s in scalars if s is not None))
    return input if rt == input._data.dtype else input.to(_dtype.from_numpy_dtype(rt))


def promote_all(*ts):
    """Cast tensors (None allowed) to their common dtype, differentiably."""
    rt = _dtype.result_type_np([t._data for t in ts if t is not None])
    dt = _dtype.from_numpy_dtype(rt)
    return tuple(t if t is None or t._data.dtype == rt else t.to(dt) for t in ts)


_F16 = np.dtype(np.float16)
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


def acc_dtype(dtype) -> np.dtype:
    """Accumulation dtype (what ``acc_t<T>`` is in the kernels): float64 stays, the rest is float32."""
    return _F64 if dtype == _F64 else _F32


# Row-wise formulas of several NumPy passes (layer_norm) run over blocks of rows: each pass
# then reads the block from cache, not memory. Bytes per block, counted in float64: best on 4096 x 1024
# between 512 KiB and 2 MiB (larger blocks fall out of cache between passes, smaller ones pay NumPy's
# per-call cost more often).
ROW_BLOCK_BYTES = 1 << 20


def row_blocks(m, d):
    """Slices of at most ROW_BLOCK_BYTES / 8 elements' worth of rows covering m rows of d elements."""
    r = max(1, ROW_BLOCK_BYTES // (8 * max(d, 1)))
    return [slice(s, s + r) for s in range(0, m, r)]


def opmath(x):
    """float16 computes in float32 (PyTorch's opmath type): composite formulas and long sums lose too much,
    and overflow, in half precision. Other dtypes pass through."""
    return x.astype(np.float32) if x.dtype == _F16 else x
