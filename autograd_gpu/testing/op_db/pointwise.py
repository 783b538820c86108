"""Rows for pointwise math: unary functions, clamp/maximum family, division variants, comparisons, logic.

Discontinuous ops (floor, sign, remainder, ...) are gradchecked where they are flat: random inputs are
almost surely 1e-6 away from a jump, and their zero (or unit) gradients are checked there.
"""
import math

import numpy as np

import autograd_gpu as ag
from ..registry import Arg, OpInfo, S

UNARY = [S((3, 4)), S((), name="0d"), S((2, 1, 3))]
BINARY = [S((3, 4), (3, 4)), S((3, 4), (4,), name="broadcast"), S((), (2, 3), name="0d"),
          S((2, 1, 3), (4, 1))]
MASK = Arg(np.array([[True, False, True, True], [False, False, True, False], [True, True, False, True]]))
SPECIAL = Arg(np.array([0.0, -1.5, np.nan, np.inf, -np.inf, 2.0]))
BOOLS = Arg(np.array([[True, False, True], [False, False, True]]))
BOOLS2 = Arg(np.array([True, False, False]))
INTS = Arg(np.array([[5, -3, 0], [12, 7, -8]], dtype=np.int64))
INTS2 = Arg(np.array([3, 6, -2], dtype=np.int64))

_erf = np.vectorize(math.erf, otypes=[np.float64])
_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def _erfinv_ref(y):
    x = np.zeros_like(y)
    for _ in range(60):  # Newton on erf(x) = y
        x = x - (_erf(x) - y) / (2 / math.sqrt(math.pi) * np.exp(-x * x))
    return x


def _clamp_ref(x, min=None, max=None):
    if min is not None:
        x = np.maximum(x, min)
    return x if max is None else np.minimum(x, max)


def _divisor(shape, lo=0.6, hi=1.4):
    """A positive divisor (grad=True) away from zero, so x / y is far from integer jumps' neighbourhood."""
    return Arg(np.random.default_rng(11).uniform(lo, hi, shape), grad=True)


def _rows_unary():
    u = OpInfo
    return [
        u("abs", ag.abs, np.abs, UNARY, aliases=("absolute",)),
        u("sqrt", ag.sqrt, np.sqrt, UNARY, domain=(0.5, 2.0)),
        u("rsqrt", ag.rsqrt, lambda x: 1 / np.sqrt(x), UNARY, domain=(0.5, 2.0)),
        u("exp", ag.exp, np.exp, UNARY),
        u("exp2", ag.exp2, np.exp2, UNARY),
        u("expm1", ag.expm1, np.expm1, UNARY),
        u("log", ag.log, np.log, UNARY, domain=(0.5, 2.0)),
        u("log2", ag.log2, np.log2, UNARY, domain=(0.5, 2.0)),
        u("log10", ag.log10, np.log10, UNARY, domain=(0.5, 2.0)),
        u("log1p", ag.log1p, np.log1p, UNARY, domain=(-0.5, 2.0)),
        u("sin", ag.sin, np.sin, UNARY),
        u("cos", ag.cos, np.cos, UNARY),
        u("tan", ag.tan, np.tan, UNARY, domain=(-1.2, 1.2)),
        u("asin", ag.asin, np.arcsin, UNARY, domain=(-0.9, 0.9), aliases=("arcsin",)),
        u("acos", ag.acos, np.arccos, UNARY, domain=(-0.9, 0.9), aliases=("arccos",)),
        u("atan", ag.atan, np.arctan, UNARY, aliases=("arctan",)),
        u("sinh", ag.sinh, np.sinh, UNARY),
        u("cosh", ag.cosh, np.cosh, UNARY),
        u("reciprocal", ag.reciprocal, np.reciprocal,
          UNARY + [S(Arg(np.array([-2.0, -0.5, 0.7, 1.5]), grad=True))],
          domain=(0.5, 2.0)),
        u("square", ag.square, np.square, UNARY),
        u("sign", ag.sign, np.sign, UNARY + [S(Arg(np.array([-1.5, 0.0, 2.0])), name="zero")]),
        u("sgn", ag.sgn, np.sign, UNARY),
        u("floor", ag.floor, np.floor, UNARY, domain=(-3, 3)),
        u("ceil", ag.ceil, np.ceil, UNARY, domain=(-3, 3)),
        u("trunc", ag.trunc, np.trunc, UNARY, domain=(-3, 3), aliases=("fix",)),
        u("round", ag.round, lambda x, decimals=0: np.round(x, decimals),
          UNARY + [S((3, 4), decimals=2), S((3, 4), decimals=-1),
                   S(Arg(np.array([0.5, 1.5, 2.5, -0.5, -2.5, 3.7])), name="half_to_even")],
          domain=(-30, 30)),
        u("frac", ag.frac, lambda x: x - np.trunc(x), UNARY, domain=(-3, 3)),
        u("erf", ag.erf, _erf, UNARY + [S(Arg(np.array([-3.0, -0.3, 1e-3, 0.45, 0.55, 5.0]), grad=True))]),
        u("erfc", ag.erfc, _erfc, UNARY + [S(Arg(np.array([-3.0, -0.3, 1e-3, 0.45, 0.55, 5.0]), grad=True))]),
        u("erfinv", ag.erfinv, _erfinv_ref, UNARY, domain=(-0.9, 0.9)),
        u("nan_to_num", ag.nan_to_num, np.nan_to_num,
          UNARY + [S(SPECIAL, nan=1.5, posinf=9.0, neginf=-9.0, name="special")]),
    ]


def _rows_binary():
    u = OpInfo
    return [
        u("clamp", ag.clamp, _clamp_ref,
          [S((3, 4), -0.5, 0.5), S((3, 4), min=-0.5), S((3, 4), max=0.5), S((), -0.5, 0.5, name="0d"),
           S((3, 4), 0.5, -0.5, name="min_gt_max"), S((3, 4), (3, 4), (4,), name="tensors"),
           S((3, 4), min=Arg(np.linspace(-1, 0.5, 4), grad=True), name="tensor_min"),
           S((3, 4), max=Arg(np.full((3, 1), 0.3), grad=True), name="tensor_max")],
          aliases=("clip",)),
        u("clamp_min", ag.clamp_min, np.maximum,
          [S((3, 4), 0.2), S((3, 4), (4,), name="tensor"), S((), 0.1)]),
        u("clamp_max", ag.clamp_max, np.minimum,
          [S((3, 4), 0.2), S((3, 4), (3, 1), name="tensor"), S((), 0.1)]),
        u("maximum", ag.maximum, np.maximum, BINARY),
        u("minimum", ag.minimum, np.minimum, BINARY),
        u("where", ag.where, np.where,
          [S(MASK, (3, 4), (3, 4)),
           S(Arg(np.array([[True], [False], [True]])), (3, 4), (4,), name="broadcast"),
           S(MASK, (3, 4), 0.5, name="scalar_other"), S(MASK, -1.5, (4,), name="scalar_input"),
           S(Arg(np.array(True)), (), (), name="0d")]),
        u("lerp", ag.lerp, lambda a, b, w: a + w * (b - a),
          [S((3, 4), (3, 4), 0.3), S((3, 4), (4,), 0.8, name="broadcast"),
           S((3, 4), (3, 4), (3, 4), name="tensor_w"),
           S((), (3,), (3, 1), name="0d")]),
        u("addcmul", ag.addcmul, lambda a, b, c, value=1: a + value * b * c,
          [S((3, 4), (3, 4), (3, 4)), S((3, 4), (4,), (3, 1), value=-0.5, name="broadcast"), S((), (), ())]),
        u("addcdiv", ag.addcdiv, lambda a, b, c, value=1: a + value * b / c,
          [S((3, 4), (3, 4), _divisor((3, 4))),
           S((4,), (3, 1), _divisor((4,)), value=2.0, name="broadcast")]),
        u("atan2", ag.atan2, np.arctan2, [S((3, 4), (3, 4)), S((3, 4), (4,)), S((), ())],
          aliases=("arctan2",)),
        u("fmod", ag.fmod, np.fmod,
          [S((3, 4), 1.5), S((3, 4), -0.7, name="neg"), S((3, 4), _divisor((3, 4))),
           S((3, 4), _divisor((4,), -1.4, -0.6), name="neg_broadcast")], domain=(-3, 3)),
        u("remainder", ag.remainder, np.remainder,
          [S((3, 4), 1.5), S((3, 4), -0.7, name="neg"), S((3, 4), _divisor((3, 4))),
           S((3, 4), _divisor((4,), -1.4, -0.6), name="neg_broadcast")], domain=(-3, 3)),
        u("floor_divide", ag.floor_divide, np.floor_divide,
          [S((3, 4), 0.7), S((3, 4), -1.3), S((3, 4), _divisor((4,))), S(INTS, INTS2, name="int"),
           S(INTS, -4, name="int_scalar")], domain=(-3, 3), grad=False),
        u("div.rounding_mode", lambda a, b, mode: ag.div(a, b, rounding_mode=mode),
          lambda a, b, mode: np.floor(a / b) if mode == "floor" else np.trunc(a / b),
          [S((3, 4), _divisor((3, 4)), "trunc"), S((3, 4), _divisor((4,), -1.4, -0.6), "floor"),
           S((3, 4), 0.7, "floor"), S((3, 4), -0.7, "trunc"), S(INTS, INTS2, "trunc", name="int_trunc"),
           S(INTS, INTS2, "floor", name="int_floor")], domain=(-3, 3)),
    ]


def _cmp_rows():
    samples = [S((3, 4), (3, 4)), S((3, 4), 0.25, name="scalar"), S((3, 4), (4,), name="broadcast"),
               S((), (3,), name="0d"), S(INTS, Arg(np.array([5, 7, 0])), name="int")]
    rows = []
    for name, ref, aliases in (("eq", np.equal, ()), ("ne", np.not_equal, ("not_equal",)),
                               ("lt", np.less, ("less",)), ("le", np.less_equal, ("less_equal",)),
                               ("gt", np.greater, ("greater",)),
                               ("ge", np.greater_equal, ("greater_equal",))):
        rows.append(OpInfo(name, getattr(ag, name), ref, samples, grad=False, aliases=aliases))
    return rows


def _logic_rows():
    u = OpInfo
    logical = [S(BOOLS, BOOLS2), S((2, 3), (3,), name="float"), S(INTS, BOOLS2, name="mixed")]
    bitwise = [S(BOOLS, BOOLS2), S(INTS, INTS2, name="int"), S(INTS, 6, name="scalar")]
    return [
        u("logical_and", ag.logical_and, np.logical_and, logical, grad=False),
        u("logical_or", ag.logical_or, np.logical_or, logical, grad=False),
        u("logical_xor", ag.logical_xor, np.logical_xor, logical, grad=False),
        u("logical_not", ag.logical_not, np.logical_not, [S(BOOLS), S((2, 3)), S(INTS)], grad=False),
        u("bitwise_and", ag.bitwise_and, np.bitwise_and, bitwise, grad=False),
        u("bitwise_or", ag.bitwise_or, np.bitwise_or, bitwise, grad=False),
        u("bitwise_xor", ag.bitwise_xor, np.bitwise_xor, bitwise, grad=False),
        u("bitwise_not", ag.bitwise_not, np.invert, [S(BOOLS), S(INTS)], grad=False),
        u("isnan", ag.isnan, np.isnan, [S(SPECIAL), S((3,))], grad=False),
        u("isinf", ag.isinf, np.isinf, [S(SPECIAL), S((3,))], grad=False),
        u("isfinite", ag.isfinite, np.isfinite, [S(SPECIAL), S((3,))], grad=False),
        u("isposinf", ag.isposinf, np.isposinf, [S(SPECIAL)], grad=False),
        u("isneginf", ag.isneginf, np.isneginf, [S(SPECIAL)], grad=False),
        u("isclose", ag.isclose, np.isclose, [S((3, 4), (3, 4)), S(SPECIAL, SPECIAL, equal_nan=True)],
          grad=False),
        u("Tensor.__invert__", lambda x: ~x, np.invert, [S(BOOLS), S(INTS)], grad=False),
        u("Tensor.__and__", lambda a, b: a & b, np.bitwise_and, bitwise, grad=False),
        u("Tensor.__or__", lambda a, b: a | b, np.bitwise_or, bitwise, grad=False),
        u("Tensor.__xor__", lambda a, b: a ^ b, np.bitwise_xor, bitwise, grad=False),
        u("Tensor.__floordiv__", lambda a, b: a // b, np.floor_divide, [S((3, 4), 0.7), S(INTS, INTS2)],
          grad=False),
        u("Tensor.__rfloordiv__", lambda a, b: b // a, lambda a, b: np.floor_divide(b, a), [S(INTS2, 7)],
          grad=False),
        u("Tensor.__mod__", lambda a, b: a % b, np.remainder, [S((3, 4), 0.7), S(INTS, INTS2)]),
        u("Tensor.__rmod__", lambda a, b: b % a, lambda a, b: np.remainder(b, a), [S(INTS2, 7)], grad=False),
        u("Tensor.__abs__", lambda x: abs(x), np.abs, UNARY),
        u("Tensor.__lt__.reflected", lambda x: 0.5 < x, lambda x: 0.5 < x, [S((3, 4))], grad=False),
    ]


OPS = _rows_unary() + _rows_binary() + _cmp_rows() + _logic_rows()
