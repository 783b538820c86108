"""Pointwise arithmetic and math: forward on arrays, backward in Tensor ops (so it is differentiable again).

Binary ops take a Tensor and a Tensor or Python scalar; scalars stay Python numbers (no device transfer) and
are passed as the ``other`` parameter. Broadcasting is undone centrally by the engine.
"""
from __future__ import annotations

import operator

import numpy as np

from .. import _dtype
from ..autograd import node as _node
from ..autograd.node import Op
from ..tensor import Tensor
from ._util import is_scalar, promote, py_scalar, scalar_out_dtype


def _quiet_op(dev, fn, *args):
    """fn(*args) without NumPy's divide/overflow/invalid warnings: x / 0 and 0 ** -1 give inf/nan silently in
    PyTorch, and backward formulas hit them at kinks (sqrt, pow at 0). CuPy never warns: no errstate cost."""
    if dev.xp is np:
        with np.errstate(all="ignore"):
            return fn(*args)
    return fn(*args)


def _scalar_op(x, s, fn):
    """fn(x, s) with PyTorch's dtype for tensor-scalar ops (int tensor * 2.5 -> float32)."""
    dt = scalar_out_dtype(x.dtype, s)
    if dt is not None:
        x = x.astype(dt)
    return fn(x, s)


def _binary(cls, a, b, **params):
    """Dispatch ``a op b`` to ``cls`` with tensor/scalar handling and dtype promotion."""
    if isinstance(b, Tensor):
        if not isinstance(a, Tensor):
            a = _to_tensor(a, b)
        a, b = promote(a, b)
        return cls.apply(a, b, **params)
    if is_scalar(b):
        return cls.apply(a, other=py_scalar(b), **params)
    return _binary(cls, a, _to_tensor(b, a), **params)


def _to_tensor(x, like):
    from ..creation import tensor
    if is_scalar(x):
        return tensor(x, device=like._device)
    if isinstance(x, (list, tuple, np.ndarray)):
        return tensor(x, device=like._device)
    raise TypeError(f"unsupported operand type: '{type(x).__name__}'")


class AddBackward0(Op):
    alpha = 1  # (a class default: the common call stores nothing on the node)

    def forward(self, x, y=None, other=None, alpha=1):
        if alpha != 1:
            self.alpha = alpha
        if y is None:
            return _scalar_op(x, other * alpha if alpha != 1 else other, operator.add)
        return x + y if alpha == 1 else x + y * alpha

    def backward_raw(self, gd):
        if len(self.next_functions) == 1:
            return gd
        if self.alpha != 1:
            return self._backward_unwrapped(gd)
        return gd, gd  # (one array for both: the engine copies before accumulating into a shared one)

    def backward(self, g):
        if len(self.next_functions) == 1:
            return g
        return g, (g if self.alpha == 1 else g * self.alpha)


class SubBackward0(Op):
    def forward(self, x, y=None, other=None, alpha=1):
        self.alpha = alpha
        if y is None:
            return _scalar_op(x, other * alpha if alpha != 1 else other, operator.sub)
        return x - y if alpha == 1 else x - y * alpha

    def backward_raw(self, gd):
        if len(self.next_functions) == 1:
            return gd
        if self.alpha != 1:
            return self._backward_unwrapped(gd)
        return gd, -gd

    def backward(self, g):
        if len(self.next_functions) == 1:
            return g
        return g, (-g if self.alpha == 1 else g * -self.alpha)


class RsubBackward1(Op):
    """scalar - tensor."""

    def forward(self, x, other=None, alpha=1):
        self.alpha = alpha
        return _scalar_op(x * alpha if alpha != 1 else x, other, lambda a, s: s - a)

    def backward(self, g):
        return -g if self.alpha == 1 else g * -self.alpha


class MulBackward0(Op):
    def forward(self, x, y=None, other=None):
        if y is None:
            self.other = other
            if type(other) is float and x.dtype.kind == "f":  # (_scalar_op's rule keeps a float dtype)
                return x * other
            return _scalar_op(x, other, operator.mul)
        self.save = (0, 1)
        return x * y

    def backward_raw(self, gd):
        if len(self.next_functions) == 1:
            if gd.dtype.kind == "f":  # (float g: no dtype change to decide)
                return gd * self.other
            return self._backward_unwrapped(gd)
        x, y = self.saved_tensors
        need = self.needs_input_grad
        return (gd * y._data if need[0] else None), (gd * x._data if need[1] else None)

    def backward(self, g):
        if len(self.next_functions) == 1:
            return g * self.other
        x, y = self.saved_tensors
        need = self.needs_input_grad
        return (g * y if need[0] else None), (g * x if need[1] else None)


class DivBackward0(Op):
    def forward(self, x, y=None, other=None, rounding_mode=None):
        if rounding_mode is not None:
            raise RuntimeError("div with rounding_mode is not differentiable here; use floor_divide")
        if y is None:
            self.other = other
            dt = scalar_out_dtype(x.dtype, 1.0)
            return _quiet_op(self.dev, operator.truediv, x if dt is None else x.astype(dt), other)
        self.save = (0, 1)
        if x.dtype.kind != "f":  # int / int -> default float, like PyTorch's true division
            x = x.astype(_dtype.get_default_dtype().np)
            y = y.astype(x.dtype)  # (NumPy would give float64 for float32 / int64)
        return _quiet_op(self.dev, operator.truediv, x, y)

    def backward(self, g):
        if len(self.next_functions) == 1:
            return g / self.other
        x, y = self.saved_tensors
        need = self.needs_input_grad
        return (g / y if need[0] else None), (-g * x / (y * y) if need[1] else None)


class NegBackward0(Op):
    def forward(self, x):
        if x.dtype.kind == "b":
            raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
                               "to invert a mask, use the `~` or `logical_not()` operator instead.")
        return -x

    def backward(self, g):
        return -g


class PowBackward0(Op):
    """tensor ** scalar."""
    save = (0,)

    def forward(self, x, other=None):
        self.exponent = other
        if x.dtype.kind in "iu" and isinstance(other, (int, np.integer)) and other < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        if other == 2:
            return x * x
        return _quiet_op(self.dev, _scalar_op, x, other, operator.pow)

    def backward(self, g):
        (x,) = self.saved_tensors
        e = self.exponent
        if e == 0:
            return g * 0
        if e == 2:
            return g * (x * 2)
        return g * (x ** (e - 1)) * e


class PowBackward1(Op):
    """tensor ** tensor."""
    save = (0, 1)
    save_result = True

    def forward(self, x, y):
        return _quiet_op(self.dev, self.dev.xp.power, x, y)

    def backward(self, g):
        x, y = self.saved_tensors
        need = self.needs_input_grad
        gx = g * y * x ** (y - 1) if need[0] else None
        gy = None
        if need[1]:
            r = self.result
            # d/dy x**y = x**y log x, taken as 0 where x == 0 and y >= 0 (PyTorch's convention)
            gy = g * where_(x.eq(0) & (y >= 0), 0.0, r * x.log())
        return gx, gy


class PowBackward2(Op):
    """scalar ** tensor."""
    save_result = True

    def forward(self, x, other=None):
        self.base = other
        dt = x.dtype if x.dtype.kind == "f" else _dtype.get_default_dtype().np
        return _quiet_op(self.dev, self.dev.xp.power, self.dev.xp.asarray(other, dtype=dt), x)

    def backward(self, g):
        if self.base == 0:
            return g * 0
        return g * self.result * float(np.log(self.base))


def where_(cond, a, b):
    from .pointwise_math import where
    return where(cond, a, b)


# --- public functions --------------------------------------------------------------------------------

def add(input, other, *, alpha=1, out=None):
    """input + alpha * other."""
    if type(alpha) is not int:
        alpha = py_scalar(alpha)
    if isinstance(other, Tensor) and isinstance(input, Tensor) and alpha == 1 \
            and input._data.dtype == other._data.dtype:  # the hot case: nothing to promote or convert
        return AddBackward0.apply(input, other)
    if not isinstance(input, Tensor):
        if isinstance(other, Tensor) and is_scalar(input) and alpha == 1:
            return _binary(AddBackward0, other, input)
        input = _to_tensor(input, other)
    return _binary(AddBackward0, input, other, alpha=alpha)


def sub(input, other, *, alpha=1, out=None):
    """input - alpha * other."""
    if type(alpha) is not int:
        alpha = py_scalar(alpha)
    if not isinstance(input, Tensor):
        if isinstance(other, Tensor) and is_scalar(input):
            return RsubBackward1.apply(other, other=py_scalar(input), alpha=alpha)
        input = _to_tensor(input, other)
    if input._data.dtype.kind == "b" and isinstance(other, Tensor) and other._data.dtype.kind == "b":
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or "
                           "`logical_xor()` operator instead.")
    return _binary(SubBackward0, input, other, alpha=alpha)


subtract = sub


def rsub(input, other, alpha=1):
    """other - alpha * input."""
    alpha = py_scalar(alpha)
    if is_scalar(other):
        return RsubBackward1.apply(input, other=py_scalar(other), alpha=alpha)
    return sub(other, input, alpha=alpha)


def mul(input, other, *, out=None):
    """input * other."""
    if isinstance(other, Tensor) and isinstance(input, Tensor) and input._data.dtype == other._data.dtype:
        return MulBackward0.apply(input, other)  # the hot case: nothing to promote or convert
    if not isinstance(input, Tensor):
        input, other = other, input
    if type(other) is float and isinstance(input, Tensor):  # tensor * Python float (SGD's lr * grad)
        return rmul(input, other)
    return _binary(MulBackward0, input, other)


multiply = mul


def rmul(input, other):
    """other * input for a non-Tensor ``other`` (Tensor.__rmul__). A Python float times a float tensor with
    nothing to record (SGD's ``lr * p.grad``) is MulBackward0's forward alone: one NumPy multiply, no node,
    ahead of mul's checks for the tensor case."""
    if type(other) is float:
        d = input._data
        if not input._requires_grad and d.dtype.kind == "f" and not _fw_enabled[0]:
            return _make(d * other, input._device)
        return MulBackward0.apply(input, other=other)
    return mul(input, other)


_fw_enabled = _node._fw_enabled
_make = Tensor._make


def div(input, other, *, rounding_mode=None, out=None):
    """input / other (true division; rounding_mode 'trunc'/'floor' rounds and is not differentiable)."""
    if rounding_mode is not None:
        from .pointwise_math import _div_rounding
        return _div_rounding(input, other, rounding_mode)
    if not isinstance(input, Tensor):
        if is_scalar(input):  # scalar / tensor = tensor.reciprocal() * scalar (PyTorch's __rtruediv__)
            from .pointwise_math import reciprocal
            return mul(reciprocal(other), input)
        input = _to_tensor(input, other)
    return _binary(DivBackward0, input, other)


divide = true_divide = div


def neg(input):
    """-input."""
    return NegBackward0.apply(input)


negative = neg


def pow(input, exponent):
    """input ** exponent (either may be a Python scalar)."""
    if not isinstance(input, Tensor):
        if is_scalar(input):
            return PowBackward2.apply(exponent, other=py_scalar(input))
        input = _to_tensor(input, exponent)
    if is_scalar(exponent):
        return PowBackward0.apply(input, other=py_scalar(exponent))
    if not isinstance(exponent, Tensor):
        exponent = _to_tensor(exponent, input)
    input, exponent = promote(input, exponent)
    return PowBackward1.apply(input, exponent)


TENSOR_METHODS = {"add": add, "sub": sub, "subtract": sub, "mul": mul, "multiply": mul, "div": div,
                  "divide": div, "true_divide": div, "neg": neg, "negative": neg, "pow": pow}
