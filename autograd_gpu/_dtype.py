"""dtypes with PyTorch's names and promotion rules, mapped onto NumPy dtypes (CuPy shares them)."""
from __future__ import annotations

import numpy as np

# category: 0 bool, 1 integer, 2 floating. PyTorch promotes across categories to the higher one
# (int64 + float16 -> float16), unlike NumPy (-> float64).
_BOOL, _INT, _FLOAT = 0, 1, 2


class dtype:
    """torch.dtype look-alike: ``autograd_gpu.float32``; ``repr`` is ``torch.float32`` like PyTorch prints."""

    __slots__ = ("name", "np", "category", "itemsize", "is_floating_point", "is_signed")

    def __init__(self, name: str, np_dtype, category: int):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.category = category
        self.itemsize = self.np.itemsize
        self.is_floating_point = category == _FLOAT
        self.is_signed = self.np.kind in "if"

    def __repr__(self):
        return f"torch.{self.name}"

    def __reduce__(self):
        return (_by_name, (self.name,))

    def to_real(self):
        return self


bool_ = dtype("bool", np.bool_, _BOOL)
uint8 = dtype("uint8", np.uint8, _INT)
int8 = dtype("int8", np.int8, _INT)
int16 = dtype("int16", np.int16, _INT)
int32 = dtype("int32", np.int32, _INT)
int64 = dtype("int64", np.int64, _INT)
float16 = dtype("float16", np.float16, _FLOAT)
float32 = dtype("float32", np.float32, _FLOAT)
float64 = dtype("float64", np.float64, _FLOAT)

ALL = (bool_, uint8, int8, int16, int32, int64, float16, float32, float64)
_FROM_NP = {d.np: d for d in ALL}
_NAMES = {d.name: d for d in ALL}
_default_float = float32


def _by_name(name):
    return _NAMES[name]


def from_numpy_dtype(np_dtype) -> dtype:
    try:
        return _FROM_NP[np_dtype]
    except KeyError:
        pass
    try:
        return _FROM_NP[np.dtype(np_dtype)]
    except KeyError:
        raise TypeError(f"can't convert np.ndarray of type {np.dtype(np_dtype)}. The only supported types "
                        "are: float64, float32, float16, int64, "
                        "int32, int16, int8, uint8, and bool.") from None


def to_numpy_dtype(d) -> np.dtype:
    """Accept our dtype, a NumPy dtype, a Python type (float, int, bool) or None (-> None)."""
    if d is None:
        return None
    if isinstance(d, dtype):
        return d.np
    if d is float:  # Python's float is a double: torch.zeros(2, dtype=float) is float64
        return np.dtype(np.float64)
    if d is int:
        return np.dtype(np.int64)
    if d is bool:
        return np.dtype(np.bool_)
    return from_numpy_dtype(d).np


def get_default_dtype() -> dtype:
    return _default_float


def set_default_dtype(d) -> None:
    global _default_float
    d = d if isinstance(d, dtype) else from_numpy_dtype(d)
    if not d.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    _default_float = d


def promote_types(a: dtype, b: dtype) -> dtype:
    if a is b:
        return a
    if a.category != b.category:
        return a if a.category > b.category else b
    return _FROM_NP[np.promote_types(a.np, b.np)]


def _scalar_category(x) -> int:
    if isinstance(x, bool):
        return _BOOL
    if isinstance(x, int):
        return _INT
    return _FLOAT


def result_type_np(arrays_or_scalars) -> np.dtype:
    """PyTorch's result_type over NumPy arrays and Python scalars, as a NumPy dtype.

    Priority: tensors with dimensions > 0-d tensors > Python scalars; a lower-priority operand only
    changes the result when its category is higher (then 0-d tensors keep their dtype, scalars give
    the default dtype of their category).
    """
    dim_t = zero_t = None
    scalar_cat = -1
    for x in arrays_or_scalars:
        if hasattr(x, "dtype"):
            d = _FROM_NP[x.dtype]
            if x.ndim:
                dim_t = d if dim_t is None else promote_types(dim_t, d)
            else:
                zero_t = d if zero_t is None else promote_types(zero_t, d)
        else:
            scalar_cat = max(scalar_cat, _scalar_category(x))
    result = dim_t
    if zero_t is not None and (result is None or zero_t.category > result.category):
        result = zero_t
    if scalar_cat >= 0 and (result is None or scalar_cat > result.category):
        result = (bool_, int64, _default_float)[scalar_cat]
    return result.np


def scalar_dtype(x) -> dtype:
    """The dtype torch.tensor(x) gives a Python scalar."""
    return (bool_, int64, _default_float)[_scalar_category(x)]


def is_floating(np_dtype) -> bool:
    return np_dtype.kind == "f"
