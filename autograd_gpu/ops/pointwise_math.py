"""Unary math (exp, log, trig, rounding, erf, ...): forward on arrays with ``dev.xp``, backward in Tensor ops
(PyTorch's derivatives.yaml formulas, so create_graph gives higher derivatives).

Integer/bool inputs of float-valued ops compute in the default float dtype, like PyTorch. Rounding ops and
sign have zero gradient. This module also gathers the Tensor methods of the other pointwise_* modules
(logic, binary, clamp, special).
"""
from __future__ import annotations

import math

from ..autograd.node import Op
from ..tensor import Tensor
from ._pw_common import not_implemented, opmath, quiet, to_float, zeros_grad
from .pointwise_logic import where  # noqa: F401  (re-exported: pointwise.where_ imports it from here)

_LN2, _LN10 = math.log(2.0), math.log(10.0)


class AbsBackward0(Op):
    save = (0,)

    def forward(self, x):
        if x.dtype.kind == "b":
            raise not_implemented("abs_cpu", x.dtype, self.dev)
        return self.dev.xp.abs(x)

    def backward(self, g):
        return g * self.saved_tensors[0].sign()


class SqrtBackward0(Op):
    save_result = True

    def forward(self, x):
        with quiet():
            return self.dev.xp.sqrt(to_float(x))

    def backward(self, g):
        return g / (self.result * 2)


class RsqrtBackward0(Op):
    save_result = True

    def forward(self, x):
        x = to_float(x)
        with quiet():
            return 1 / self.dev.xp.sqrt(x)

    def backward(self, g):
        return g * self.result.pow(3) * -0.5


class ExpBackward0(Op):
    save_result = True

    def forward(self, x):
        with quiet():
            return self.dev.xp.exp(to_float(x))

    def backward_raw(self, gd):
        return gd * self.result_array()

    def backward(self, g):
        return g * self.result


class Exp2Backward0(Op):
    save_result = True

    def forward(self, x):
        with quiet():
            return self.dev.xp.exp2(to_float(x))

    def backward(self, g):
        return g * self.result * _LN2


class Expm1Backward0(Op):
    save_result = True

    def forward(self, x):
        with quiet():
            return self.dev.xp.expm1(to_float(x))

    def backward(self, g):
        return g * (self.result + 1)


class LogBackward0(Op):
    save = (0,)

    def forward(self, x):
        with quiet():
            return self.dev.xp.log(to_float(x))

    def backward(self, g):
        return g / self.saved_tensors[0]


class Log2Backward0(Op):
    save = (0,)

    def forward(self, x):
        with quiet():
            return self.dev.xp.log2(to_float(x))

    def backward(self, g):
        return g / (self.saved_tensors[0] * _LN2)


class Log10Backward0(Op):
    save = (0,)

    def forward(self, x):
        with quiet():
            return self.dev.xp.log10(to_float(x))

    def backward(self, g):
        return g / (self.saved_tensors[0] * _LN10)


class Log1PBackward0(Op):
    save = (0,)

    def forward(self, x):
        with quiet():
            return self.dev.xp.log1p(to_float(x))

    def backward(self, g):
        return g / (self.saved_tensors[0] + 1)


class SinBackward0(Op):
    save = (0,)

    def forward(self, x):
        return self.dev.xp.sin(to_float(x))

    def backward(self, g):
        return g * self.saved_tensors[0].cos()


class CosBackward0(Op):
    save = (0,)

    def forward(self, x):
        return self.dev.xp.cos(to_float(x))

    def backward(self, g):
        return g * -self.saved_tensors[0].sin()


class TanBackward0(Op):
    save_result = True

    def forward(self, x):
        return self.dev.xp.tan(to_float(x))

    def backward(self, g):
        r = self.result
        return g * (r * r + 1)


class AsinBackward0(Op):
    save = (0,)

    def forward(self, x):
        with quiet():
            return self.dev.xp.arcsin(to_float(x))

    def backward(self, g):
        x = self.saved_tensors[0]
        return g * (1 - x * x).rsqrt()


class AcosBackward0(Op):
    save = (0,)

    def forward(self, x):
        with quiet():
            return self.dev.xp.arccos(to_float(x))

    def backward(self, g):
        x = self.saved_tensors[0]
        return g * -(1 - x * x).rsqrt()


class AtanBackward0(Op):
    save = (0,)

    def forward(self, x):
        return self.dev.xp.arctan(to_float(x))

    def backward(self, g):
        x = self.saved_tensors[0]
        return g / (x * x + 1)


class SinhBackward0(Op):
    save = (0,)

    def forward(self, x):
        with quiet():
            return self.dev.xp.sinh(to_float(x))

    def backward(self, g):
        return g * self.saved_tensors[0].cosh()


class CoshBackward0(Op):
    save = (0,)

    def forward(self, x):
        with quiet():
            return self.dev.xp.cosh(to_float(x))

    def backward(self, g):
        return g * self.saved_tensors[0].sinh()


class ReciprocalBackward0(Op):
    save_result = True

    def forward(self, x):
        with quiet():
            return 1 / to_float(x)

    def backward(self, g):
        r = self.result
        return -g * (r * r)


class SignBackward0(Op):
    def forward(self, x):
        if x.dtype.kind == "b":
            return x.copy()
        xp = self.dev.xp
        r = xp.sign(x)
        if x.dtype.kind == "f":  # sign(nan) is 0 in PyTorch
            r = xp.nan_to_num(xp.asarray(r), copy=False)
        return r

    def backward(self, g):
        return zeros_grad(g)


class SgnBackward0(SignBackward0):
    pass


def _rounding(name, kernel, fn):
    """A zero-gradient rounding op; integers pass through unchanged, bool is refused like PyTorch."""
    def forward(self, x):
        if x.dtype.kind == "b":
            raise not_implemented(kernel, x.dtype, self.dev)
        return getattr(self.dev.xp, fn)(x) if x.dtype.kind == "f" else x.copy()
    return type(name, (Op,), {"forward": forward, "backward": lambda self, g: zeros_grad(g), "__slots__": ()})


FloorBackward0 = _rounding("FloorBackward0", "floor_vml_cpu", "floor")
CeilBackward0 = _rounding("CeilBackward0", "ceil_vml_cpu", "ceil")
TruncBackward0 = _rounding("TruncBackward0", "trunc_vml_cpu", "trunc")
RoundBackward0 = _rounding("RoundBackward0", "round_vml_cpu", "rint")  # half to even, like PyTorch


class RoundBackward1(Op):
    """round(decimals=d): nearbyint(x * 10^d) / 10^d (d < 0: nearbyint(x / 10^-d) * 10^-d), as PyTorch."""

    def forward(self, x, decimals=0):
        if x.dtype.kind != "f":
            raise not_implemented("round_cpu", x.dtype, self.dev)
        xp = self.dev.xp
        dt, x = x.dtype, opmath(x)  # float16: scale and round in float32, like PyTorch's opmath
        if decimals >= 0:
            p = x.dtype.type(10.0 ** decimals)
            return (xp.rint(x * p) / p).astype(dt, copy=False)
        p = x.dtype.type(10.0 ** -decimals)
        return (xp.rint(x / p) * p).astype(dt, copy=False)

    def backward(self, g):
        return zeros_grad(g)


class FracBackward0(Op):
    def forward(self, x):
        if x.dtype.kind != "f":
            raise not_implemented("frac_cpu", x.dtype, self.dev)
        return x - self.dev.xp.trunc(x)

    def backward(self, g):
        return g


# --- public functions --------------------------------------------------------------------------------

def abs(input: Tensor, *, out=None) -> Tensor:
    """|x|."""
    return AbsBackward0.apply(input)


def sqrt(input: Tensor, *, out=None) -> Tensor:
    """x ** 0.5."""
    return SqrtBackward0.apply(input)


def rsqrt(input: Tensor, *, out=None) -> Tensor:
    """1 / sqrt(x)."""
    return RsqrtBackward0.apply(input)


def exp(input: Tensor, *, out=None) -> Tensor:
    """e ** x."""
    return ExpBackward0.apply(input)


def exp2(input: Tensor, *, out=None) -> Tensor:
    """2 ** x."""
    return Exp2Backward0.apply(input)


def expm1(input: Tensor, *, out=None) -> Tensor:
    """e ** x - 1 (accurate near 0)."""
    return Expm1Backward0.apply(input)


def log(input: Tensor, *, out=None) -> Tensor:
    """Natural logarithm ln(x)."""
    return LogBackward0.apply(input)


def log2(input: Tensor, *, out=None) -> Tensor:
    """log2(x) = ln(x) / ln(2)."""
    return Log2Backward0.apply(input)


def log10(input: Tensor, *, out=None) -> Tensor:
    """log10(x) = ln(x) / ln(10)."""
    return Log10Backward0.apply(input)


def log1p(input: Tensor, *, out=None) -> Tensor:
    """ln(1 + x) (accurate near 0)."""
    return Log1PBackward0.apply(input)


def sin(input: Tensor, *, out=None) -> Tensor:
    """sin(x)."""
    return SinBackward0.apply(input)


def cos(input: Tensor, *, out=None) -> Tensor:
    """cos(x)."""
    return CosBackward0.apply(input)


def tan(input: Tensor, *, out=None) -> Tensor:
    """tan(x)."""
    return TanBackward0.apply(input)


def asin(input: Tensor, *, out=None) -> Tensor:
    """arcsin(x)."""
    return AsinBackward0.apply(input)


def acos(input: Tensor, *, out=None) -> Tensor:
    """arccos(x)."""
    return AcosBackward0.apply(input)


def atan(input: Tensor, *, out=None) -> Tensor:
    """arctan(x)."""
    return AtanBackward0.apply(input)


def sinh(input: Tensor, *, out=None) -> Tensor:
    """(e ** x - e ** -x) / 2."""
    return SinhBackward0.apply(input)


def cosh(input: Tensor, *, out=None) -> Tensor:
    """(e ** x + e ** -x) / 2."""
    return CoshBackward0.apply(input)


def reciprocal(input: Tensor, *, out=None) -> Tensor:
    """1 / x."""
    return ReciprocalBackward0.apply(input)


def sign(input: Tensor, *, out=None) -> Tensor:
    """-1, 0 or 1 by the sign of x (zero gradient)."""
    return SignBackward0.apply(input)


def sgn(input: Tensor, *, out=None) -> Tensor:
    """x / |x| (0 at 0); sign(x) for real tensors."""
    return SgnBackward0.apply(input)


def square(input: Tensor, *, out=None) -> Tensor:
    """x * x (PyTorch records it as pow(x, 2))."""
    from .pointwise import pow
    if input._data.dtype.kind == "b":
        input = Tensor._make(input._data.astype("int64"), input._device)
    return pow(input, 2)


def floor(input: Tensor, *, out=None) -> Tensor:
    """Largest integer <= x (zero gradient)."""
    return FloorBackward0.apply(input)


def ceil(input: Tensor, *, out=None) -> Tensor:
    """Smallest integer >= x (zero gradient)."""
    return CeilBackward0.apply(input)


def trunc(input: Tensor, *, out=None) -> Tensor:
    """x rounded toward zero (zero gradient)."""
    return TruncBackward0.apply(input)


def round(input: Tensor, *, decimals: int = 0, out=None) -> Tensor:
    """x rounded half to even, to ``decimals`` decimal places (zero gradient)."""
    if decimals == 0:
        return RoundBackward0.apply(input)
    return RoundBackward1.apply(input, decimals=int(decimals))


def frac(input: Tensor, *, out=None) -> Tensor:
    """x - trunc(x)."""
    return FracBackward0.apply(input)


absolute, arcsin, arccos, arctan, fix = abs, asin, acos, atan, trunc

_UNARY = ("abs", "sqrt", "rsqrt", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos",
          "tan", "asin", "acos", "atan", "sinh", "cosh", "reciprocal", "sign", "sgn", "square", "floor",
          "ceil", "trunc", "round", "frac")
TENSOR_METHODS = {name: globals()[name] for name in _UNARY}
TENSOR_METHODS.update(absolute=abs, arcsin=asin, arccos=acos, arctan=atan, fix=trunc)

from . import pointwise_binary as _binary, pointwise_clamp as _clamp, pointwise_logic as _logic  # noqa: E402
from . import pointwise_special as _special  # noqa: E402
from .pointwise_binary import _div_rounding  # noqa: E402,F401  (pointwise.div imports it from here)

for _m in (_logic, _binary, _clamp, _special):
    TENSOR_METHODS.update(_m.TENSOR_METHODS)
