"""Special functions erf, erfc, erfinv, in plain array ops so the same code runs on NumPy and CuPy
(NumPy has no erf, and SciPy is no dependency)."""
from __future__ import annotations

import math

import numpy as np

from ..autograd.node import Op
from ..tensor import Tensor
from ._pw_common import opmath, quiet, to_float

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)

# erfc: a Chebyshev fit (Numerical Recipes 3rd ed. 6.2.2, relative error < 1.2e-16).
_ERFC_COF = (-1.3026537197817094, 6.4196979235649026e-1, 1.9476473204185836e-2, -9.561514786808631e-3,
             -9.46595344482036e-4, 3.66839497852761e-4, 4.2523324806907e-5, -2.0278578112534e-5,
             -1.624290004647e-6, 1.303655835580e-6, 1.5626441722e-8, -8.5238095915e-8, 6.529054439e-9,
             5.059343495e-9, -9.91364156e-10, -2.27365122e-10, 9.6467911e-11, 2.394038e-12, -6.886027e-12,
             8.94487e-13, 3.13092e-13, -1.12708e-13, 3.81e-16, 7.106e-15, -1.523e-15, -9.4e-17, 1.21e-16,
             -2.8e-17)


def _erfc_pos(xp, z):
    """erfc(z) for z >= 0 (Clenshaw recurrence)."""
    t = 2.0 / (2.0 + z)
    ty = 4.0 * t - 2.0
    d = dd = 0.0
    for c in _ERFC_COF[:0:-1]:
        d, dd = ty * d - dd + c, d
    return t * xp.exp(-z * z + 0.5 * (_ERFC_COF[0] + ty * d) - dd)


def _erf(xp, x):
    # Near 0, 1 - erfc(x) cancels: use the Maclaurin series (|x| < 0.5: 12 terms reach 1e-17).
    x2 = x * x
    term, series = x, x
    for n in range(1, 13):
        term = term * -x2 / n
        series = series + term / (2 * n + 1)
    a = xp.abs(x)
    return xp.where(a < 0.5, series * _TWO_OVER_SQRT_PI, xp.sign(x) * (1.0 - _erfc_pos(xp, a)))


def _erfc(xp, x):
    e = _erfc_pos(xp, xp.abs(x))
    return xp.where(x < 0, 2.0 - e, e)


def _erfinv(xp, y):
    # A rational first guess (NR 3rd ed. 6.2.2, inverfc) refined by two Halley steps: on erfc(x) = 1 - |y|
    # in the tails (precise near |y| = 1), on erf(x) = |y| in the middle (precise near 0); odd by symmetry.
    a = xp.abs(y)
    pp = xp.clip(1.0 - a, np.finfo(a.dtype).tiny, 1.0)  # |y| >= 1: a finite guess, replaced below
    t = xp.sqrt(-2.0 * xp.log(pp / 2.0))
    x0 = xp.abs(-0.70711 * ((2.30753 + t * 0.27061) / (1.0 + t * (0.99229 + t * 0.04481)) - t))
    tail, core = x0, x0
    for _ in range(2):
        err = _erfc_pos(xp, tail) - pp
        tail = tail + err / (_TWO_OVER_SQRT_PI * xp.exp(-tail * tail) - tail * err)
        err = _erf(xp, core) - a
        core = core - err / (_TWO_OVER_SQRT_PI * xp.exp(-core * core) + core * err)
    x = xp.where(a < 0.5, core, tail)
    x = xp.where(a == 0.0, a.dtype.type(0), xp.where(a == 1.0, a.dtype.type(math.inf), x))
    return xp.where(a > 1.0, a.dtype.type(math.nan), xp.copysign(x, y))


class ErfBackward0(Op):
    save = (0,)

    def forward(self, x):
        x = to_float(x)
        with quiet():
            return _erf(self.dev.xp, opmath(x)).astype(x.dtype, copy=False)

    def backward(self, g):
        x = self.saved_tensors[0]
        return g * (-(x * x)).exp() * _TWO_OVER_SQRT_PI


class ErfcBackward0(Op):
    save = (0,)

    def forward(self, x):
        x = to_float(x)
        with quiet():
            return _erfc(self.dev.xp, opmath(x)).astype(x.dtype, copy=False)

    def backward(self, g):
        x = self.saved_tensors[0]
        return g * (-(x * x)).exp() * -_TWO_OVER_SQRT_PI


class ErfinvBackward0(Op):
    save_result = True

    def forward(self, x):
        x = to_float(x)
        with quiet():
            return _erfinv(self.dev.xp, opmath(x)).astype(x.dtype, copy=False)

    def backward(self, g):
        r = self.result
        return g * (r * r).exp() * (math.sqrt(math.pi) / 2)


def erf(input: Tensor, *, out=None) -> Tensor:
    """erf(x) = 2 / sqrt(pi) * integral_0^x exp(-t^2) dt."""
    return ErfBackward0.apply(input)


def erfc(input: Tensor, *, out=None) -> Tensor:
    """1 - erf(x) (accurate for large x)."""
    return ErfcBackward0.apply(input)


def erfinv(input: Tensor, *, out=None) -> Tensor:
    """Inverse of erf on (-1, 1)."""
    return ErfinvBackward0.apply(input)


special_erf, special_erfc, special_erfinv = erf, erfc, erfinv

TENSOR_METHODS = {"erf": erf, "erfc": erfc, "erfinv": erfinv}
