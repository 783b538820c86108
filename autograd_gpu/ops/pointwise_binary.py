"""Binary and ternary pointwise math: fmod/remainder/floor division, div with rounding, lerp,
addcmul/addcdiv, atan2, nan_to_num."""
from __future__ import annotations

import numpy as np

from .. import _dtype
from ..autograd.node import Op
from ..tensor import Tensor
from ._pw_common import const, keep, not_implemented, opmath, promote_all, quiet, zeros_grad
from ._util import is_scalar, promote, scalar_out_dtype


# --- division with rounding, fmod, remainder ---------------------------------------------------------

def _check_int_divisor(a, b):
    """Integer division by zero raises in PyTorch (before anything is computed)."""
    if a.dtype.kind in "iub" and (b.dtype.kind in "iub" if hasattr(b, "dtype") else isinstance(b, int)):
        if not (b.all() if hasattr(b, "dtype") else b):
            raise RuntimeError("ZeroDivisionError")


def _div_arrays(dev, a, b, mode):
    if a.dtype.kind == "b" and getattr(b, "dtype", np.dtype(np.bool_)).kind == "b":
        raise not_implemented(f"div_{mode}_cpu", a.dtype, dev)
    xp = dev.xp
    _check_int_divisor(a, b)
    with quiet():
        if mode == "floor":
            return xp.floor_divide(a, b)
        if a.dtype.kind == "f":
            return xp.trunc(a / b)
        q = xp.floor_divide(a, b)
        # floor -> trunc: one up where the quotient is negative and inexact
        return q + ((a - q * b != 0) & ((a < 0) != (b < 0)))


class DivBackward2(Op):
    """div(rounding_mode='trunc'|'floor'): piecewise constant, zero gradient (PyTorch's)."""

    def forward(self, x, y=None, other=None, rounding_mode="trunc"):
        if y is None:
            dt = scalar_out_dtype(x.dtype, other)
            return _div_arrays(self.dev, x if dt is None else x.astype(dt), other, rounding_mode)
        return _div_arrays(self.dev, x, y, rounding_mode)

    def backward(self, g):
        z = zeros_grad(g)
        return z if len(self.needs_input_grad) == 1 else (z, z)


class NotImplemented_(Op):
    """PyTorch records floor_divide (and scalar % tensor) with a node whose backward raises."""

    def name(self):
        return "torch::autograd::NotImplemented"

    def forward(self, x, y=None, other=None, fn=None, op=""):
        self.op = op
        return fn(self.dev, x, y if y is not None else other)

    def backward(self, g):
        raise RuntimeError(f"derivative for aten::{self.op} is not implemented")


NotImplemented_.__name__ = NotImplemented_.__qualname__ = "NotImplemented"


def _scalar_cast(x, other):
    dt = scalar_out_dtype(x.dtype, other) if not hasattr(other, "dtype") else None
    return x if dt is None else x.astype(dt)


def _floor_div_fn(dev, x, y):
    return _div_arrays(dev, _scalar_cast(x, y), y, "floor")


def _check_not_bool(kernel, x, y, dev):
    if x.dtype.kind == "b" and getattr(y, "dtype", np.dtype(np.bool_)).kind == "b":
        raise not_implemented(kernel, x.dtype, dev)


def _remainder_fn(dev, x, y):
    _check_not_bool("remainder_cpu", x, y, dev)
    x = _scalar_cast(x, y)
    _check_int_divisor(x, y)
    with quiet():
        return dev.xp.remainder(x, y)


def _fmod_fn(dev, x, y):
    _check_not_bool("fmod_cpu", x, y, dev)
    x = _scalar_cast(x, y)
    _check_int_divisor(x, y)
    with quiet():
        return dev.xp.fmod(x, y)


class FmodBackward0(Op):
    """fmod(x, scalar): sign of x (C fmod)."""

    def forward(self, x, other=None):
        return _fmod_fn(self.dev, x, other)

    def backward(self, g):
        return g


class FmodBackward1(Op):
    save = (0, 1)

    def forward(self, x, y):
        return _fmod_fn(self.dev, x, y)

    def backward(self, g):
        return _mod_grads(self, g, "trunc")


class RemainderBackward0(Op):
    """remainder(x, scalar): sign of the divisor (Python %)."""

    def forward(self, x, other=None):
        return _remainder_fn(self.dev, x, other)

    def backward(self, g):
        return g


class RemainderBackward1(Op):
    save = (0, 1)

    def forward(self, x, y):
        return _remainder_fn(self.dev, x, y)

    def backward(self, g):
        return _mod_grads(self, g, "floor")


def _mod_grads(node, g, mode):
    # d/dy (x - y q) = -q with q = x / y rounded: recorded as div(rounding_mode), whose gradient is 0
    need = node.needs_input_grad
    gy = None
    if need[1]:
        x, y = node.saved_tensors
        gy = -g * DivBackward2.apply(x, y, rounding_mode=mode)
    return (g if need[0] else None), gy


def _binary(cls_tensor, cls_scalar, input, other):
    from .pointwise import _to_tensor
    if not isinstance(input, Tensor):
        input = _to_tensor(input, other)
    if isinstance(other, Tensor):
        input, other = promote(input, other)
        return cls_tensor.apply(input, other)
    if is_scalar(other):
        return cls_scalar.apply(input, other=other)
    return _binary(cls_tensor, cls_scalar, input, _to_tensor(other, input))


def _not_implemented_op(fn, op, input, other):
    from .pointwise import _to_tensor
    if not isinstance(input, Tensor):
        input = _to_tensor(input, other)
    if isinstance(other, Tensor):
        input, other = promote(input, other)
        return NotImplemented_.apply(input, other, fn=fn, op=op)
    if not is_scalar(other):
        other = _to_tensor(other, input)
        return _not_implemented_op(fn, op, input, other)
    return NotImplemented_.apply(input, other=other, fn=fn, op=op)


def fmod(input: Tensor, other, *, out=None) -> Tensor:
    """C-style remainder x - trunc(x / y) * y (sign of x)."""
    return _binary(FmodBackward1, FmodBackward0, input, other)


def remainder(input, other, *, out=None) -> Tensor:
    """Python-style remainder x - floor(x / y) * y (sign of y)."""
    if not isinstance(input, Tensor):  # scalar % tensor: PyTorch records no derivative
        return _not_implemented_op(_remainder_fn, "remainder", input, other)
    return _binary(RemainderBackward1, RemainderBackward0, input, other)


def floor_divide(input, other, *, out=None) -> Tensor:
    """floor(x / y) (Python //); PyTorch defines no derivative for it."""
    return _not_implemented_op(_floor_div_fn, "floor_divide", input, other)


def _div_rounding(input, other, rounding_mode) -> Tensor:
    """div(input, other, rounding_mode='trunc'|'floor'), used by pointwise.div."""
    if rounding_mode not in ("trunc", "floor"):
        raise RuntimeError("div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                           f"'{rounding_mode}'")
    from .pointwise import _binary as _bin
    if not isinstance(input, Tensor):
        from .pointwise import _to_tensor
        input = _to_tensor(input, other)
    return _bin(DivBackward2, input, other, rounding_mode=rounding_mode)


def _rfloordiv(self, other):
    return floor_divide(other, self)


def _rremainder(self, other):
    return remainder(other, self)


# --- lerp, addcmul, addcdiv, atan2, nan_to_num -------------------------------------------------------

def _lerp_dtype_check(input, t, what):
    if t._data.dtype != input._data.dtype and (what == "end" or t._data.ndim):
        names = {"float32": "float", "float64": "double", "float16": "c10::Half", "int64": "long int"}
        n = lambda a: names.get(a.dtype.name, a.dtype.name)  # noqa: E731
        raise RuntimeError(f"expected dtype {n(input._data)} for `{what}` but got dtype {n(t._data)}")


class LerpBackward0(Op):
    """lerp with a scalar weight: x + w (end - x), evaluated from the nearer end like PyTorch."""

    def forward(self, x, end, weight=0.5):
        if x.dtype.kind != "f":
            raise not_implemented("lerp_kernel_scalar", x.dtype, self.dev)
        self.w = weight
        dt, x, end = x.dtype, opmath(x), opmath(end)
        r = x + weight * (end - x) if abs(weight) < 0.5 else end - (end - x) * (1 - weight)
        return r.astype(dt, copy=False)

    def backward(self, g):
        need = self.needs_input_grad
        return (g * (1 - self.w) if need[0] else None), (g * self.w if need[1] else None)


class LerpBackward1(Op):
    save = (0, 1, 2)

    def forward(self, x, end, w):
        if x.dtype.kind != "f":
            raise not_implemented("lerp_kernel_tensor", x.dtype, self.dev)
        dt, x, end, w = x.dtype, opmath(x), opmath(end), opmath(w)
        xp = self.dev.xp
        return xp.where(xp.abs(w) < 0.5, x + w * (end - x), end - (end - x) * (1 - w)).astype(dt, copy=False)

    def backward(self, g):
        x, end, w = self.saved_tensors
        need = self.needs_input_grad
        return (g * (1 - w) if need[0] else None, g * w if need[1] else None,
                g * (end - x) if need[2] else None)


def lerp(input: Tensor, end: Tensor, weight, *, out=None) -> Tensor:
    """input + weight * (end - input)."""
    _lerp_dtype_check(input, end, "end")
    if isinstance(weight, Tensor):
        _lerp_dtype_check(input, weight, "weight")
        if weight._data.dtype != input._data.dtype:
            weight = weight.to(input.dtype)
        return LerpBackward1.apply(input, end, weight)
    return LerpBackward0.apply(input, end, weight=weight)


class AddcmulBackward0(Op):
    save = (1, 2)

    def forward(self, x, t1, t2, value=1):
        self.value = value
        dt, x, t1, t2 = x.dtype, opmath(x), opmath(t1), opmath(t2)
        return (x + value * t1 * t2 if value != 1 else x + t1 * t2).astype(dt, copy=False)

    def backward(self, g):
        t1, t2 = self.saved_tensors
        v, need = self.value, self.needs_input_grad
        return (g if need[0] else None, g * t2 * v if need[1] else None, g * t1 * v if need[2] else None)


class AddcdivBackward0(Op):
    save = (1, 2)

    def forward(self, x, t1, t2, value=1):
        self.value = value
        dt, x, t1, t2 = x.dtype, opmath(x), opmath(t1), opmath(t2)
        with quiet():
            return (x + value * (t1 / t2)).astype(dt, copy=False)

    def backward(self, g):
        t1, t2 = self.saved_tensors
        v, need = self.value, self.needs_input_grad
        return (g if need[0] else None, g * v / t2 if need[1] else None,
                -g * v * t1 / (t2 * t2) if need[2] else None)


def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1, out=None) -> Tensor:
    """input + value * tensor1 * tensor2."""
    return AddcmulBackward0.apply(*promote_all(input, tensor1, tensor2), value=value)


def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1, out=None) -> Tensor:
    """input + value * tensor1 / tensor2."""
    if tensor1._data.dtype.kind in "iub" and tensor2._data.dtype.kind in "iub":
        raise RuntimeError(
            "Integer division with addcdiv is no longer supported, and in a future  release addcdiv will "
            "perform a true division of tensor1 and tensor2. The historic addcdiv behavior can be "
            "implemented as (input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) for integer "
            "inputs and as (input + value * tensor1 / tensor2) for float inputs. The future addcdiv behavior "
            "is just the latter implementation: (input + value * tensor1 / tensor2), for all dtypes.")
    return AddcdivBackward0.apply(*promote_all(input, tensor1, tensor2), value=value)


class Atan2Backward0(Op):
    save = (0, 1)

    def forward(self, y, x):
        if y.dtype.kind != "f":
            dt = _dtype.get_default_dtype().np
            y, x = y.astype(dt), x.astype(dt)
        return self.dev.xp.arctan2(y, x)

    def backward(self, g):
        y, x = self.saved_tensors
        need = self.needs_input_grad
        d = x * x + y * y
        zero = d._data == 0
        if zero.any():  # atan2(0, 0): gradient 0 like PyTorch; a safe denominator keeps 2nd order finite
            from .pointwise_logic import where
            d = where(const(zero, d), 1.0, d)
            g = keep(~zero, g)
        r = g / d
        return (r * x if need[0] else None), (-r * y if need[1] else None)


def atan2(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Angle of the point (other, input): arctan(input / other) in the right quadrant."""
    input, other = promote(input, other)
    return Atan2Backward0.apply(input, other)


arctan2 = atan2


class NanToNumBackward0(Op):
    save = (0,)

    def forward(self, x, nan=0.0, posinf=None, neginf=None):
        if x.dtype.kind != "f":
            return x.copy()
        return self.dev.xp.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)

    def backward(self, g):  # g * isfinite(x), like PyTorch (a product: -0 where g < 0)
        return g * const(self.dev.xp.isfinite(self.saved_tensors[0]._data).astype(g._data.dtype), g)


def nan_to_num(input: Tensor, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None, *,
               out=None) -> Tensor:
    """NaN -> nan, +inf -> posinf (default: the dtype's max), -inf -> neginf (default: its min)."""
    return NanToNumBackward0.apply(input, nan=nan, posinf=posinf, neginf=neginf)


TENSOR_METHODS = {
    "fmod": fmod, "remainder": remainder, "floor_divide": floor_divide,
    "_rfloordiv": _rfloordiv, "_rremainder": _rremainder, "lerp": lerp, "addcmul": addcmul,
    "addcdiv": addcdiv,
    "atan2": atan2, "arctan2": atan2, "nan_to_num": nan_to_num,
}
