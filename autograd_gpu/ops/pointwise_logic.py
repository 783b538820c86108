"""Comparisons, logical and bitwise ops, NaN tests, and where(): bool/int results, never differentiable
(except where(), whose gradient routes to the selected branch).

Comparisons run on raw arrays (no graph node: PyTorch's ``(x > 0).requires_grad`` is False). Tensor-scalar
operands rely on NumPy 2's weak Python scalars, which match PyTorch's promotion (float32 x vs 0.1 compares
in float32).
"""
from __future__ import annotations

import operator

import numpy as np

from .. import _dtype
from ..autograd.node import Op, _mismatch_error
from ..tensor import Tensor
from ._pw_common import not_implemented, tname
from ._util import is_scalar


def _operands(input: Tensor, other):
    """Raw arrays of ``input`` and ``other`` promoted to PyTorch's common dtype; None if ``other`` is not a
    tensor or a scalar (the operator then answers NotImplemented, like PyTorch's ``x == None`` -> False)."""
    a = input._data
    if isinstance(other, Tensor):
        if other._device is not input._device:
            _mismatch_error((input, other), input._device)
        b = other._data
        if a.dtype != b.dtype:
            rt = _dtype.result_type_np((a, b))
            a, b = a.astype(rt, copy=False), b.astype(rt, copy=False)
        return a, b
    if is_scalar(other):
        return a, other
    return None


def _compare(op):
    """A comparison through the array operators (``op``: operator.lt, ...), so NumPy and CuPy both work."""
    def compare(input, other, *, out=None):
        if not isinstance(input, Tensor):  # torch.lt(2, x)
            return _reflected[op](other, input)
        ab = _operands(input, other)
        if ab is None:
            return NotImplemented
        return Tensor._make(op(*ab), input._device)
    return compare


eq = _compare(operator.eq)
ne = _compare(operator.ne)
lt = _compare(operator.lt)
le = _compare(operator.le)
gt = _compare(operator.gt)
ge = _compare(operator.ge)
_reflected = {operator.eq: eq, operator.ne: ne, operator.lt: gt, operator.le: ge, operator.gt: lt,
              operator.ge: le}
eq.__doc__, ne.__doc__ = "input == other, elementwise (bool).", "input != other, elementwise (bool)."
lt.__doc__, le.__doc__ = "input < other, elementwise (bool).", "input <= other, elementwise (bool)."
gt.__doc__, ge.__doc__ = "input > other, elementwise (bool).", "input >= other, elementwise (bool)."
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def equal(input: Tensor, other: Tensor) -> bool:
    """True if both tensors have the same shape and elements."""
    if input._data.shape != other._data.shape:
        return False
    a, b = _operands(input, other)
    return bool(input._device.xp.all(a == b))


def isclose(input: Tensor, other, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """|input - other| <= atol + rtol |other|, elementwise (bool)."""
    a, b = _operands(input, other)
    xp = input._device.xp
    return Tensor._make(xp.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan), input._device)


def allclose(input: Tensor, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """isclose(...).all() as a Python bool."""
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


# --- logical (any dtype -> bool) and bitwise (bool/int only) -------------------------------------------

def _logical(name, doc):
    def logical(input, other, *, out=None):
        ab = _operands(input, other)
        if ab is None:
            raise TypeError(f"{name}(): argument 'other' (position 1) must be Tensor, not "
                            f"{type(other).__name__}")
        return Tensor._make(getattr(input._device.xp, name)(*ab), input._device)
    logical.__doc__ = doc
    return logical


logical_and = _logical("logical_and", "input and other, elementwise, nonzero as True (bool).")
logical_or = _logical("logical_or", "input or other, elementwise, nonzero as True (bool).")
logical_xor = _logical("logical_xor", "input xor other, elementwise, nonzero as True (bool).")


def logical_not(input: Tensor, *, out=None) -> Tensor:
    """not input, elementwise, nonzero as True (bool)."""
    return Tensor._make(input._device.xp.logical_not(input._data), input._device)


def _bitwise(op, name, doc):
    def bitwise(input, other, *, out=None):
        if not isinstance(input, Tensor):
            input, other = other, input
        ab = _operands(input, other)
        if ab is None:
            return NotImplemented
        a, b = ab
        if a.dtype.kind == "f" or isinstance(b, (float, np.floating)):
            dt = a.dtype if a.dtype.kind == "f" else _dtype.get_default_dtype().np
            raise not_implemented(f"bitwise_{name}_cpu", dt, input._device)
        return Tensor._make(op(a, b), input._device)
    bitwise.__doc__ = doc
    return bitwise


bitwise_and = _bitwise(operator.and_, "and", "input & other, bitwise for integers, logical for bool.")
bitwise_or = _bitwise(operator.or_, "or", "input | other, bitwise for integers, logical for bool.")
bitwise_xor = _bitwise(operator.xor, "xor", "input ^ other, bitwise for integers, logical for bool.")


def bitwise_not(input: Tensor, *, out=None) -> Tensor:
    """~input: bitwise for integers, logical for bool."""
    a = input._data
    if a.dtype.kind == "f":
        raise not_implemented("bitwise_not_cpu", a.dtype, input._device)
    xp = input._device.xp
    return Tensor._make(xp.logical_not(a) if a.dtype.kind == "b" else xp.invert(a), input._device)


def _invert(self: Tensor) -> Tensor:
    """~x (the operator refuses floats with TypeError; torch.bitwise_not with NotImplementedError)."""
    if self._data.dtype.kind == "f":
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type tensors")
    return bitwise_not(self)


# --- NaN / inf tests -------------------------------------------------------------------------------------

def _nan_test(name, doc, for_ints):
    def test(input: Tensor) -> Tensor:
        a, xp = input._data, input._device.xp
        if a.dtype.kind != "f":  # integers are never nan/inf
            out = xp.full(a.shape, for_ints, dtype=np.bool_)
        else:
            out = getattr(xp, name)(a)
        return Tensor._make(out, input._device)
    test.__doc__ = doc
    return test


isnan = _nan_test("isnan", "input != input, elementwise (bool).", False)
isinf = _nan_test("isinf", "|input| == inf, elementwise (bool).", False)
isfinite = _nan_test("isfinite", "not nan and not inf, elementwise (bool).", True)
isposinf = _nan_test("isposinf", "input == +inf, elementwise (bool).", False)
isneginf = _nan_test("isneginf", "input == -inf, elementwise (bool).", False)


# --- where ---------------------------------------------------------------------------------------------

class WhereBackward0(Op):
    """where(condition, input, other); the tensors are (condition, t[, u]) and a Python scalar stands in
    for the missing branch (``scalar_first``: the scalar is ``input``)."""
    save = (0,)

    def forward(self, c, t, u=None, scalar=None, scalar_first=False):
        self.scalar_first = scalar_first
        xp = self.dev.xp
        if u is not None:
            return xp.where(c, t, u)
        s = xp.asarray(scalar, dtype=t.dtype)  # 0-d: keeps the tensor branch's (already promoted) dtype
        return xp.where(c, s, t) if scalar_first else xp.where(c, t, s)

    def backward(self, g):
        (c,) = self.saved_tensors
        need = self.needs_input_grad
        if len(need) == 3:
            if need[1] and need[2]:
                return (None,) + WhereBackwardBackward0.apply(c, g)
            return (None, where(c, g, 0.0) if need[1] else None, where(c, 0.0, g) if need[2] else None)
        return None, (where(c, 0.0, g) if self.scalar_first else where(c, g, 0.0))


class WhereBackwardBackward0(Op):
    """(g where c else 0, 0 where c else g): both branch gradients of where in one op (one fused kernel
    launch on CUDA devices). Linear in g: its backward is where(c, g_a, g_b)."""
    save = (0,)

    def forward(self, c, g):
        if self.dev.uses_kernels and g.dtype.kind == "f":
            from . import fused
            return fused.where_bwd(self.dev, c, g)
        xp, z = self.dev.xp, g.dtype.type(0)
        return xp.where(c, g, z), xp.where(c, z, g)

    def backward(self, ga, gb):
        return None, where(self.saved_tensors[0], ga, gb)


def where(condition: Tensor, input=None, other=None, *, out=None):
    """condition ? input : other, elementwise (scalars allowed); where(condition) = nonzero(as_tuple=True)."""
    if input is None and other is None:
        xp = condition._device.xp
        c = condition._data if condition._data.ndim else condition._data.reshape(1)
        return tuple(Tensor._make(i.astype(np.int64, copy=False), condition._device) for i in xp.nonzero(c))
    if condition._data.dtype.kind != "b":
        raise RuntimeError("where expected condition to be a boolean tensor, but got a tensor with dtype "
                           f"{tname(condition._data.dtype)}")
    ti, to = isinstance(input, Tensor), isinstance(other, Tensor)
    if ti and to:
        if input._data.dtype != other._data.dtype:
            from ._util import promote
            input, other = promote(input, other)
        return WhereBackward0.apply(condition, input, other)
    if not ti and not to:  # two scalars: a constant
        xp = condition._device.xp
        dt = _dtype.result_type_np((input, other))
        return Tensor._make(xp.where(condition._data, xp.asarray(input, dt), xp.asarray(other, dt)),
                            condition._device)
    t, s = (input, other) if ti else (other, input)
    if not is_scalar(s):
        from .pointwise import _to_tensor
        s = _to_tensor(s, t)
        return where(condition, s, t) if ti is False else where(condition, t, s)
    if t._data.dtype.kind != "f":  # a float tensor keeps its dtype against any Python scalar
        rt = _dtype.result_type_np((t._data, s))
        if rt != t._data.dtype:
            t = t.to(_dtype.from_numpy_dtype(rt))
    return WhereBackward0.apply(condition, t, scalar=s, scalar_first=not ti)


def _where_method(self, condition, y):
    """Tensor.where(condition, y) is where(condition, self, y)."""
    return where(condition, self, y)


def _iop(name):
    def method(self, other):
        from .inplace import apply_inplace
        return apply_inplace(self, globals()[name], other)
    method.__name__ = name + "_"
    return method


TENSOR_METHODS = {
    "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge, "greater": gt, "greater_equal": ge,
    "less": lt, "less_equal": le, "not_equal": ne, "equal": equal, "isclose": isclose, "allclose": allclose,
    "logical_and": logical_and, "logical_or": logical_or, "logical_xor": logical_xor,
    "logical_not": logical_not, "bitwise_and": bitwise_and, "bitwise_or": bitwise_or,
    "bitwise_xor": bitwise_xor, "bitwise_not": bitwise_not, "_invert": _invert,
    "logical_and_op": bitwise_and, "logical_or_op": bitwise_or, "logical_xor_op": bitwise_xor,
    "_iand": _iop("bitwise_and"), "_ior": _iop("bitwise_or"), "_ixor": _iop("bitwise_xor"),
    "isnan": isnan, "isinf": isinf, "isfinite": isfinite, "isposinf": isposinf, "isneginf": isneginf,
    "where": _where_method,
}
