"""Pointwise math and reductions: what the op registry can't express. Integer/bool dtypes and promotion,
comparison results, tie conventions of non-smooth gradients (against closed forms), zeros in prod/cumprod,
PyTorch's error wording, return types, in-place variants and operators, special-function accuracy.

Expected dtypes, values and messages were taken from PyTorch 2.13 (literals here: tests never import it).
"""
import math
import re
import warnings

import numpy as np
import pytest

import autograd_gpu as ag
from conftest import DEVICES

F64 = ag.float64


def t(data, dev="cpu", dtype=None, grad=False):
    return ag.tensor(data, dtype=dtype, device=dev, requires_grad=grad)


def host(x):
    return x.detach()._host()


def grad_of(fn, data, dev, weights=None):
    """d/dx sum(fn(x) * w) with w = cos(0, 1, 2, ...) (distinct, signed weights)."""
    x = t(data, dev, F64, grad=True)
    out = fn(x)
    out = out[0] if isinstance(out, tuple) else out
    w = np.cos(np.arange(out.numel())).reshape(tuple(out.shape)) if weights is None else np.asarray(weights)
    (out * t(w, dev, F64)).sum().backward()
    return host(x.grad), w


# --- dtypes -------------------------------------------------------------------------------------------

_INPUTS = {"int64": ([1, -2, 3], ag.int64), "int32": ([1, -2, 3], ag.int32),
           "bool": ([True, False, True], ag.bool),
           "uint8": ([1, 2, 3], ag.uint8), "float16": ([1.0, 2.0, 3.0], ag.float16)}
_FLOAT_OF_INT = dict(int64="float32", int32="float32", bool="float32", uint8="float32", float16="float16")
_SAME = dict(int64="int64", int32="int32", bool="bool", uint8="uint8", float16="float16")
_UNARY_DTYPES = {
    **{op: _FLOAT_OF_INT for op in ("sqrt", "rsqrt", "exp", "exp2", "log", "log2", "log10", "log1p", "expm1",
                                    "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "reciprocal",
                                    "erf", "erfc", "erfinv")},
    "abs": dict(_SAME, bool='NotImplementedError: "abs_cpu" not implemented for \'Bool\''),
    "sign": _SAME, "sgn": _SAME, "nan_to_num": _SAME,
    "square": dict(_SAME, bool="int64"),
    "floor": dict(_SAME, bool='NotImplementedError: "floor_vml_cpu" not implemented for \'Bool\''),
    "ceil": dict(_SAME, bool='NotImplementedError: "ceil_vml_cpu" not implemented for \'Bool\''),
    "trunc": dict(_SAME, bool='NotImplementedError: "trunc_vml_cpu" not implemented for \'Bool\''),
    "round": dict(_SAME, bool='NotImplementedError: "round_vml_cpu" not implemented for \'Bool\''),
    "frac": dict(int64='NotImplementedError: "frac_cpu" not implemented for \'Long\'',
                 int32='NotImplementedError: "frac_cpu" not implemented for \'Int\'',
                 bool='NotImplementedError: "frac_cpu" not implemented for \'Bool\'',
                 uint8='NotImplementedError: "frac_cpu" not implemented for \'Byte\'', float16="float16"),
    **{op: dict.fromkeys(_INPUTS, "bool") for op in ("isnan", "isinf", "isfinite", "logical_not")},
    "bitwise_not": dict(_SAME, float16='NotImplementedError: "bitwise_not_cpu" not implemented for \'Half\''),
}


@pytest.mark.parametrize("op", sorted(_UNARY_DTYPES))
def test_unary_dtypes(op):
    for name, (data, dtype) in _INPUTS.items():
        expected = _UNARY_DTYPES[op][name]
        x = t(data, dtype=dtype)
        if ":" in expected:
            exc, msg = expected.split(": ", 1)
            with pytest.raises(getattr(__builtins__, exc, None) or eval(exc), match=re.escape(msg)):
                getattr(ag, op)(x)
        else:
            assert getattr(ag, op)(x).dtype.name == expected, (op, name)


_B = {"i64": ([5, -7, 3], ag.int64), "i32": ([2, 3, -2], ag.int32), "b": ([True, False, True], ag.bool),
      "f32": ([1.5, -2.5, 3.0], ag.float32), "f64": ([1.5, -2.0, 3.0], ag.float64),
      "u8": ([1, 2, 3], ag.uint8)}
# PyTorch's result dtypes (rows: input, columns: other, in _B's order); "E" = error
_PROMOTION = {
    "maximum": ["i64 i64 i64 f32 f64 i64", "i64 i32 i32 f32 f64 i32", "i64 i32 b f32 f64 u8",
                "f32 f32 f32 f32 f64 f32", "f64 f64 f64 f64 f64 f64", "i64 i32 u8 f32 f64 u8"],
    "fmod": ["i64 i64 i64 f32 f64 i64", "i64 i32 i32 f32 f64 i32", "i64 i32 E f32 f64 u8",
             "f32 f32 f32 f32 f64 f32", "f64 f64 f64 f64 f64 f64", "i64 i32 u8 f32 f64 u8"],
    "bitwise_and": ["i64 i64 i64 E E i64", "i64 i32 i32 E E i32", "i64 i32 b E E u8", "E E E E E E",
                    "E E E E E E", "i64 i32 u8 E E u8"],
    "atan2": ["f32 f32 f32 f32 f64 f32"] * 3 + ["f32 f32 f32 f32 f64 f32", "f64 f64 f64 f64 f64 f64",
                                                "f32 f32 f32 f32 f64 f32"],
}
_PROMOTION["minimum"] = _PROMOTION["maximum"]
_PROMOTION["remainder"] = _PROMOTION["floor_divide"] = _PROMOTION["fmod"]
_SHORT = {"i64": "int64", "i32": "int32", "b": "bool", "f32": "float32", "f64": "float64", "u8": "uint8"}


@pytest.mark.parametrize("op", sorted(_PROMOTION))
def test_binary_promotion(op):
    names = list(_B)
    for a_name, row in zip(names, _PROMOTION[op]):
        for b_name, expected in zip(names, row.split()):
            a, b = t(_B[a_name][0], dtype=_B[a_name][1]), t(_B[b_name][0], dtype=_B[b_name][1])
            if op in ("fmod", "remainder", "floor_divide") and b_name in ("i64", "i32", "u8", "b"):
                if b_name == "b" and a_name not in ("f32", "f64", "b"):
                    with pytest.raises(RuntimeError, match="ZeroDivisionError"):  # integer / False
                        getattr(ag, op)(a, b)
                b = t([v if v else 1 for v in _B[b_name][0]], dtype=_B[b_name][1])  # no integer / 0
            if expected == "E":
                with pytest.raises((RuntimeError, NotImplementedError, TypeError)):
                    getattr(ag, op)(a, b)
            else:
                assert getattr(ag, op)(a, b).dtype.name == _SHORT[expected], (op, a_name, b_name)


def test_comparisons_return_bool_both_ways():
    x = t([1, 2, 3])
    for r in (x == 2, 2 < x, x < 2.5, 2.5 >= x, x != t([1.0, 0, 3]), ag.eq(x, x), ag.greater(x, 1),
              ag.less_equal(x, 2), ag.not_equal(x, 2), ag.greater_equal(x, 2), ag.lt(2, x)):
        assert r.dtype is ag.bool and not r.requires_grad
    assert (2 < x).tolist() == [False, False, True]
    assert (x < 2.5).tolist() == [True, True, False]
    assert ag.lt(2, x).tolist() == [False, False, True]
    assert (t([0.1], dtype=ag.float32) == 0.1).item()  # the scalar is compared in float32, like PyTorch
    assert (x == None) is False and (x != None) is True  # noqa: E711
    assert (x == [1, 2, 3]) is False  # non-tensor operands fall back to identity, as in PyTorch
    y = t([1.0, 2.0], grad=True)
    assert not (y > 0).requires_grad


def test_bitwise_and_logical():
    b = t([True, False])
    assert (b & t([True, True])).tolist() == [True, False]
    assert (b | 1).dtype is ag.int64 and (b | 1).tolist() == [1, 1]
    assert (t([5, 3]) & 6).tolist() == [4, 2]
    assert (True ^ b).tolist() == [False, True]
    assert (~b).tolist() == [False, True] and (~t([5, 0])).tolist() == [-6, -1]
    with pytest.raises(TypeError, match=re.escape("~ (operator.invert) is only implemented on integer and "
                                                  "Boolean-type tensors")):
        ~t([1.5])
    with pytest.raises(NotImplementedError,
                       match=re.escape("\"bitwise_and_cpu\" not implemented for 'Float'")):
        t([1.5]) & t([1.5])
    assert ag.logical_xor(t([1.0, 0]), t([True, True])).tolist() == [False, True]
    z = t([5, 6])
    z &= 4
    assert z.tolist() == [4, 4] and z._version_value == 1


def test_where_forms():
    c = t([True, False])
    assert ag.where(c, t([1, 2]), t([3.0, 4])).dtype is ag.float32
    assert ag.where(c, 1, 0).dtype is ag.int64
    assert ag.where(c, 1.0, 0).dtype is ag.float32
    assert ag.where(c, t([1, 2]), 0.5).tolist() == [1.0, 0.5]
    assert ag.where(c, 2, t([1.5, 2.5], dtype=F64)).dtype is F64
    rows, cols = ag.where(t([[True, False], [False, True]]))
    assert rows.tolist() == [0, 1] and cols.tolist() == [0, 1] and rows.dtype is ag.int64
    (only,) = ag.where(t(True))
    assert only.tolist() == [0]
    with pytest.raises(RuntimeError,
                       match="where expected condition to be a boolean tensor, but got a tensor "
                                           "with dtype Long"):
        ag.where(t([1, 0]), 1.0, 0.0)
    x = t([1.0, -2.0], grad=True)
    assert ag.where(x > 0, x, 0.0).grad_fn.name() == "WhereBackward0"


# --- tie conventions and non-smooth points (closed forms), on every device -------------------------------

@pytest.mark.filterwarnings("ignore:divide by zero")  # sqrt'(0) = inf (core's division warns, PyTorch not)
@pytest.mark.parametrize("dev", DEVICES)
def test_tie_conventions(dev):
    w = np.cos(np.arange(4))
    g, _ = grad_of(lambda x: ag.maximum(x, t([1.0, 0, 3, 5], dev, F64)), [1.0, 2, 3, 4], dev)
    np.testing.assert_allclose(g, w * [0.5, 1, 0.5, 0])  # ties split half/half
    g, _ = grad_of(lambda x: ag.minimum(x, t([1.0, 0, 3, 5], dev, F64)), [1.0, 2, 3, 4], dev)
    np.testing.assert_allclose(g, w * [0.5, 0, 0.5, 1])
    g, _ = grad_of(lambda x: x.max(), [1.0, 3, 3, 2], dev, weights=1.0)
    np.testing.assert_allclose(g, [0, 0.5, 0.5, 0])  # whole-tensor max: evenly among ties
    g, _ = grad_of(lambda x: x.min(), [1.0, 1, 3, 1], dev, weights=1.0)
    np.testing.assert_allclose(g, [1 / 3, 1 / 3, 0, 1 / 3])
    g, w2 = grad_of(lambda x: x.amax(1), [[1.0, 3, 3], [2, 2, 0]], dev)
    np.testing.assert_allclose(g, [[0, w2[0] / 2, w2[0] / 2], [w2[1] / 2, w2[1] / 2, 0]])
    g, w2 = grad_of(lambda x: x.max(1), [[1.0, 3, 3], [2, 2, 0]], dev)
    np.testing.assert_allclose(g, [[0, w2[0], 0], [w2[1], 0, 0]])  # per-dim: to the returned (first) index
    g, _ = grad_of(lambda x: x.median(), [1.0, 2, 2, 3], dev, weights=1.0)
    np.testing.assert_allclose(g, [0, 0.5, 0.5, 0])
    g, w = grad_of(lambda x: x.clamp(-1, 1), [-1.0, 1, 0.5, 2, -2], dev)
    np.testing.assert_allclose(g, w * [1, 1, 1, 0, 0])  # the closed interval passes the gradient
    g, w = grad_of(lambda x: x.abs(), [0.0, -1, 2], dev)
    np.testing.assert_allclose(g, w * [0, -1, 1])
    g, _ = grad_of(lambda x: x.norm(), [0.0, 0, 0], dev, weights=1.0)
    np.testing.assert_allclose(g, [0, 0, 0])  # gradient of the 2-norm at 0 is 0
    g, _ = grad_of(lambda x: x.norm(float("inf")), [2.0, -2, 1], dev, weights=1.0)
    np.testing.assert_allclose(g, [0.5, -0.5, 0])
    g, _ = grad_of(lambda x: x.sqrt(), [0.0, 4.0], dev, weights=1.0)
    assert g[0] == np.inf and g[1] == 0.25
    g, w = grad_of(lambda x: x.floor() + x.round() + x.sign() + x.ceil() + x.trunc(), [0.3, -1.7], dev)
    assert g.tolist() == [0.0, 0.0]


@pytest.mark.parametrize("dev", DEVICES)
def test_max_dim_gradient_is_plus_zero_off_index(dev):
    # PyTorch scatters the gradient into zeros: +0 (not -0, which would print as "-0.") elsewhere
    g, _ = grad_of(lambda x: x.min(0).values, [[1.0, 3, 3], [1, 2, 0]], dev)
    assert not np.signbit(g[g == 0]).any()


def _others(x):
    return np.array([np.prod(np.delete(x, i)) for i in range(len(x))])


@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("data", [[2.0, 0, 3, 4], [2.0, 0, 3, 0], [0.0, 0, 0, 0], [1.5, -2, 0.5, 3]])
def test_prod_gradient_with_zeros(dev, data):
    g, _ = grad_of(lambda x: x.prod(), data, dev, weights=1.0)
    np.testing.assert_allclose(g, _others(np.array(data)), atol=1e-12)
    g, _ = grad_of(lambda x: x.reshape(2, 2).prod(1), data, dev, weights=[1.0, 1.0])
    np.testing.assert_allclose(g.reshape(2, 2), [_others(np.array(data[:2])), _others(np.array(data[2:]))])


@pytest.mark.parametrize("dev", DEVICES)
def test_cumprod_gradient_with_zeros(dev):
    data = np.array([2.0, 0, 3, 0, 5])
    g, w = grad_of(lambda x: x.cumprod(0), data, dev)
    expected = [sum(w[k] * np.prod(np.delete(data[:k + 1], i)) for k in range(i, 5)) for i in range(5)]
    np.testing.assert_allclose(g, expected, atol=1e-12)


@pytest.mark.parametrize("dev", DEVICES)
def test_logsumexp_stable(dev):
    assert abs(t([1e4, 1e4, -1e4], dev).logsumexp(0).item() - (1e4 + math.log(2))) < 1e-3  # float32
    x = t([1e4, 1e4, -1e4], dev, F64, grad=True)
    y = x.logsumexp(0)
    assert abs(y.item() - (1e4 + math.log(2))) < 1e-11
    y.backward()
    np.testing.assert_allclose(host(x.grad), [0.5, 0.5, 0.0], atol=1e-12)
    assert t([-math.inf, -math.inf], dev).logsumexp(0).item() == -math.inf
    assert t([math.inf, 1.0], dev).logsumexp(0).item() == math.inf
    assert t([1, 2], dev).logsumexp(0).dtype is ag.float32
    np.testing.assert_allclose(t([[-1e4, 1e4 - 1]], dev, F64).logsumexp(1).item(), 1e4 - 1)


@pytest.mark.parametrize("dev", DEVICES)
def test_fused_clamp_where_backward_double(dev):
    """Clamp's and where's backward ops (fused kernels on CUDA devices) are differentiable in g."""
    x = t([-2.0, -0.5, 0.5, 2.0], dev, F64, grad=True)
    y = (x.clamp(-1, 1) ** 2).sum() + ag.where(x > 0, x ** 3, x ** 2).sum()
    (g,) = ag.autograd.grad(y, x, create_graph=True)
    xs = np.array([-2.0, -0.5, 0.5, 2.0])
    inside = np.abs(xs) <= 1
    np.testing.assert_allclose(host(g), 2 * xs * inside + np.where(xs > 0, 3 * xs ** 2, 2 * xs))
    (h,) = ag.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(host(h), 2.0 * inside + np.where(xs > 0, 6 * xs, 2.0))
    assert not x.clamp(-1, 1).grad_fn is None


# --- errors (PyTorch's type and wording; nothing modified) -------------------------------------------

_ERRORS = [
    (lambda: ag.zeros(0, 3).max(), RuntimeError,
     "max(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with "
     "the 'dim' argument."),
    (lambda: ag.zeros(0, 3).amin(), RuntimeError, "amin(): Expected reduction dim to be specified for "
                                                   "input.numel() == 0."),
    (lambda: ag.zeros(0, 3).max(0), IndexError, "max(): Expected reduction dim 0 to have non-zero size."),
    (lambda: ag.zeros(0, 3).amax(0), IndexError, "amax(): Expected reduction dim 0 to have non-zero size."),
    (lambda: ag.zeros(0, 3).argmax(), IndexError,
     "argmax(): Expected reduction dim to be specified for input.numel() == 0."),
    (lambda: ag.zeros(2, 3).max(2), IndexError,
     "Dimension out of range (expected to be in range of [-2, 1], but got 2)"),
    (lambda: ag.zeros(2, 3).amax((0, 0)), RuntimeError, "dim 0 appears multiple times in the list of dims"),
    (lambda: ag.clamp(ag.zeros(2)), RuntimeError,
     "torch.clamp: At least one of 'min' or 'max' must not be None"),
    (lambda: ag.maximum(ag.zeros(2), 2.0), TypeError,
     "maximum(): argument 'other' (position 2) must be Tensor, not float"),
    (lambda: t([5]) // 0, RuntimeError, "ZeroDivisionError"),
    (lambda: t([5]) % t([0]), RuntimeError, "ZeroDivisionError"),
    (lambda: ag.div(t([5]), 2, rounding_mode="round"), RuntimeError,
     "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found 'round'"),
    (lambda: t([1, 2]).var(), RuntimeError, "std and var only support floating point and complex dtypes"),
    (lambda: t([1, 2]).norm(), RuntimeError,
     "linalg.vector_norm: Expected a floating point or complex tensor as input. Got Long"),
    (lambda: ag.lerp(t([1.0]), t([2.0], dtype=F64), 0.5), RuntimeError,
     "expected dtype float for `end` but got dtype double"),
    (lambda: ag.lerp(t([1]), t([2]), 0.5), NotImplementedError,
     "\"lerp_kernel_scalar\" not implemented for 'Long'"),
    (lambda: t([1.0]).logsumexp(), TypeError, "dim"),
    (lambda: ag.norm(t([1.0]), "abc"), RuntimeError, "linalg.matrix_norm: Order abc not supported."),
]


@pytest.mark.parametrize("i", range(len(_ERRORS)))
def test_errors(i):
    fn, exc, msg = _ERRORS[i]
    with pytest.raises(exc, match=re.escape(msg)):
        fn()


def test_floor_divide_has_no_derivative():
    x = t([1.5, -2.5], grad=True)
    y = x // 2
    assert y.requires_grad and y.grad_fn.name() == "torch::autograd::NotImplemented"
    assert "NotImplemented" in repr(y)
    with pytest.raises(RuntimeError, match="derivative for aten::floor_divide is not implemented"):
        y.sum().backward()
    assert (5.5 % x).grad_fn.name() == "torch::autograd::NotImplemented"
    assert x.grad is None


def test_inplace_errors_leave_data_unchanged():
    x = t([4.0, 9.0], grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        x.sqrt_()
    assert x.tolist() == [4.0, 9.0] and x._version_value == 0
    i = t([4, 9])
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        i.sqrt_()
    assert i.tolist() == [4, 9] and i._version_value == 0


# --- values, return types, in-place -------------------------------------------------------------------

def test_return_types():
    x = t([[1.0, 5, 2], [7, 0, 3]])
    r = x.max(1)
    assert repr(r) == "torch.return_types.max(\nvalues=tensor([5., 7.]),\nindices=tensor([1, 0]))"
    assert str(r) == repr(r) and type(r).__name__ == "max" and isinstance(r, tuple)
    values, indices = r
    assert values is r.values and indices is r.indices and indices.dtype is ag.int64
    assert repr(ag.min(x, dim=0, keepdim=True)) == ("torch.return_types.min(\nvalues=tensor([[1., 0., 2.]]),"
                                                  "\nindices=tensor([[0, 1, 0]]))")
    med = t([1.0, 3, 3, 2]).median(0)
    assert repr(med) == "torch.return_types.median(\nvalues=tensor(2.),\nindices=tensor(3))"
    assert type(r) is ag.return_types.max
    y = t([[1.0, 5]], grad=True).max(1)
    assert y.values.grad_fn.name() == "MaxBackward0" and not y.indices.requires_grad


def test_grad_fn_names():
    x = t([[0.5, -0.25], [0.75, 0.1]], grad=True)
    y = t([[0.3, 0.2], [0.1, 0.9]], grad=True)
    names = {
        "AbsBackward0": x.abs(), "SqrtBackward0": x.sqrt(), "RsqrtBackward0": x.rsqrt(),
        "ExpBackward0": x.exp(), "Exp2Backward0": x.exp2(), "Log1PBackward0": x.log1p(),
        "Expm1Backward0": x.expm1(), "PowBackward0": x.square(), "RoundBackward1": x.round(decimals=1),
        "FracBackward0": x.frac(), "ClampBackward1": x.clamp(min=0), "ClampBackward0": x.clamp(max=y),
        "ClampMinBackward0": x.clamp_min(0), "ClampMinBackward1": x.clamp_min(y),
        "ClampMaxBackward1": x.clamp_max(y), "MaximumBackward0": x.max(y), "LerpBackward0": x.lerp(y, 0.3),
        "LerpBackward1": x.lerp(y, y), "FmodBackward1": x.fmod(y), "RemainderBackward0": x % 2,
        "DivBackward2": x.div(y, rounding_mode="floor"), "NanToNumBackward0": x.nan_to_num(),
        "ErfinvBackward0": x.erfinv(), "ProdBackward0": x.prod(), "ProdBackward1": x.prod(1),
        "MaxBackward1": x.max(), "MinBackward0": x.min(1)[0], "AmaxBackward0": x.amax(),
        "AminBackward0": x.amin(0), "VarBackward0": x.var(), "StdBackward0": x.std(1),
        "VarMeanBackward0": ag.var_mean(x)[1], "StdMeanBackward0": ag.std_mean(x, 0)[0],
        "LinalgVectorNormBackward0": x.norm(1), "LogsumexpBackward0": x.logsumexp(1),
        "CumsumBackward0": x.cumsum(0), "CumprodBackward0": x.cumprod(1), "MedianBackward0": x.median(),
        "MedianBackward1": x.median(0).values, "AddcdivBackward0": ag.addcdiv(x, x, y),
        "Atan2Backward0": ag.atan2(x, y), "WhereBackward0": ag.where(x > 0, x, y),
    }
    for name, out in names.items():
        assert out.grad_fn.name() == name, (name, out.grad_fn.name())


def test_values_like_pytorch():
    assert t([float("nan"), -0.0, 2]).sign().tolist() == [0.0, 0.0, 1.0]
    assert t([0.5, 1.5, 2.5, -0.5, -2.5]).round().tolist() == [0.0, 2.0, 2.0, -0.0, -2.0]
    assert t([15.0, 25, -35]).round(decimals=-1).tolist() == [20.0, 20.0, -40.0]
    assert t([1.25, -1.35], dtype=F64).round(decimals=1).tolist() == [1.2, -1.4]
    f32 = ag.nan_to_num(t([math.nan, math.inf, -math.inf]))
    assert f32.tolist() == [0.0, float(np.finfo(np.float32).max), float(np.finfo(np.float32).min)]
    assert ag.nan_to_num(t([math.inf], dtype=F64)).item() == np.finfo(np.float64).max
    assert ag.remainder(t([-3, 3]), -2).tolist() == [-1, -1] and ag.fmod(t([-3, 3]), -2).tolist() == [-1, 1]
    assert (-7 % t([2, -3])).tolist() == [1, -1] and (7 // t([2, -3])).tolist() == [3, -3]
    assert ag.div(t([-7, 7]), 2, rounding_mode="trunc").tolist() == [-3, 3]
    assert ag.div(t([-7, 7]), 2.5, rounding_mode="floor").tolist() == [-3.0, 2.0]
    assert t([[1.0, 5, 2, 4], [7, 0, 3, 3]]).median(1).values.tolist() == [2.0, 3.0]
    assert math.isnan(t([[1.0, math.nan], [2, 3]]).median().item())
    assert t([True, True]).prod().dtype is ag.int64 and t([1, 2], dtype=ag.int32).cumsum(0).dtype is ag.int64
    assert t([[1, 0], [2, 3]], dtype=ag.uint8).all(1).dtype is ag.uint8
    assert ag.count_nonzero(t([[1.0, 0], [2, 3]]), 0).tolist() == [2, 1]
    x = t([[1.0, 5, 2], [7, 0, 3]])
    assert x.amax(()).item() == 7.0 and x.sum(()).item() == 18.0  # () reduces over all dims
    assert x.argmax(keepdim=True).shape == (1, 1) and x.argmax().item() == 3
    assert x.norm(0).item() == 5.0 and x.norm(p=2, dim=1, dtype=F64).dtype is F64
    assert ag.zeros(0, 3).norm().item() == 0.0 and ag.zeros(0, 3).prod().item() == 1.0
    assert ag.equal(t([1, 2]), t([1, 2])) is True and ag.equal(t([1, 2]), t([1])) is False
    assert ag.allclose(t([1.0, 2]), t([1.0, 2.000001])) is True and not ag.allclose(t([1.0]), t([1.1]))


def test_var_std_overloads_and_dof_warning():
    x = t([[1.0, 5, 2], [7, 0, 3]], dtype=F64)
    a = np.array([[1.0, 5, 2], [7, 0, 3]])
    np.testing.assert_allclose(host(x.var(1, False)), a.var(1))
    np.testing.assert_allclose(host(x.var(False)), a.var())
    np.testing.assert_allclose(host(x.std((0, 1), True, True)), a.std(ddof=1, keepdims=True))
    np.testing.assert_allclose(host(ag.var(x, 1, correction=2)), a.var(1, ddof=2))
    v, m = ag.var_mean(x, 1)
    np.testing.assert_allclose(host(v), a.var(1, ddof=1)) and np.testing.assert_allclose(host(m), a.mean(1))
    with pytest.warns(UserWarning, match=re.escape("var(): degrees of freedom is <= 0. Correction should be "
                                                   "strictly less than the reduction factor")):
        assert math.isnan(t([1.0]).var().item())


def test_inplace_variants_and_operators():
    x = t([[1.0, -5, 2], [7, 0, 3]])
    assert x.abs_() is x and x.tolist() == [[1.0, 5, 2], [7, 0, 3]] and x._version_value == 1
    x.clamp_(0, 3)
    assert x.tolist() == [[1.0, 3, 2], [3, 0, 3]]
    x.sqrt_().exp_()
    np.testing.assert_allclose(host(x), np.exp(np.sqrt([[1.0, 3, 2], [3, 0, 3]])), rtol=1e-6)
    i = t([[1, 5, 2], [7, 0, 3]])
    i //= 2
    assert i.tolist() == [[0, 2, 1], [3, 0, 1]]
    i %= 2
    assert i.tolist() == [[0, 0, 1], [1, 0, 1]] and i._version_value == 2
    w = t([0.5, -1.0, 2.0], grad=True)
    y = w * 1
    y.clamp_(0, 1).mul_(3)
    y.sum().backward()
    assert w.grad.tolist() == [3.0, 0.0, 0.0]


@pytest.mark.parametrize("dev", DEVICES)
def test_erf_family_accuracy(dev):
    xs = np.linspace(-6, 6, 2001)
    x = t(xs, dev, F64)
    np.testing.assert_allclose(host(ag.erf(x)), [math.erf(v) for v in xs], rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(host(ag.erfc(x)), [math.erfc(v) for v in xs], rtol=1e-12, atol=1e-300)
    ys = np.linspace(-0.999, 0.999, 501)
    back = host(ag.erf(ag.erfinv(t(ys, dev, F64))))
    np.testing.assert_allclose(back, ys, rtol=1e-13, atol=1e-15)
    edge = host(ag.erfinv(t([-1.0, 1.0, 1.5, 0.0], dev, F64)))
    assert edge[0] == -np.inf and edge[1] == np.inf and np.isnan(edge[2]) and edge[3] == 0.0
    assert abs(ag.erf(t([1e-10], dev, F64)).item() - 2e-10 / math.sqrt(math.pi)) < 1e-25  # no cancellation
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # domain edges are silent, like PyTorch
        ag.log(t([0.0, -1.0], dev)), ag.sqrt(t([-1.0], dev)), ag.reciprocal(t([0.0], dev))


@pytest.mark.parametrize("expr", [
    lambda x, s: x * s, lambda x, s: s * x, lambda x, s: x + s, lambda x, s: s - x, lambda x, s: x - s,
    lambda x, s: x / s, lambda x, s: s / x, lambda x, s: x ** s, lambda x, s: s ** x])
@pytest.mark.parametrize("scalar", [np.float64(1.5), np.float32(1.5), np.int64(2), np.int32(2)])
def test_numpy_scalars_are_wrapped_numbers(expr, scalar):
    """A NumPy scalar operand behaves as the Python number it holds (PyTorch's wrapped numbers): a float32
    tensor stays float32 (x / np.sqrt(d) in attention code), the value is the float64 formula rounded."""
    x0 = np.array([0.5, 1.25, 2.0])
    x = ag.tensor(x0, dtype=ag.float32, requires_grad=True)
    y = expr(x, scalar)
    assert y.dtype == ag.float32
    np.testing.assert_allclose(y.detach().numpy(), expr(x0, float(scalar)), rtol=1e-6)
    y.sum().backward()
    assert x.grad.dtype == ag.float32


def test_numpy_scalar_bounds_and_alpha_keep_the_tensor_dtype():
    """clamp bounds, add/sub's alpha and activation parameters given as NumPy scalars are wrapped numbers too."""
    x0 = np.array([0.5, 1.25, 2.0])
    x = ag.tensor(x0, dtype=ag.float32)
    lo, hi, a = np.float64(0.75), np.float64(1.5), np.float64(2.0)
    results = {
        "clamp": (ag.clamp(x, min=lo, max=hi), np.clip(x0, 0.75, 1.5)),
        "clamp_min": (x.clamp_min(lo), np.maximum(x0, 0.75)),
        "clamp_max": (x.clamp_max(hi), np.minimum(x0, 1.5)),
        "add alpha": (x.add(x, alpha=a), x0 + 2.0 * x0),
        "sub alpha": (x.sub(x, alpha=a), x0 - 2.0 * x0),
        "leaky_relu": (ag.nn.functional.leaky_relu(x - 1, lo), np.where(x0 > 1, x0 - 1, 0.75 * (x0 - 1))),
        "elu": (ag.nn.functional.elu(x - 1, alpha=a), np.where(x0 > 1, x0 - 1, 2.0 * np.expm1(x0 - 1))),
        "softplus": (ag.nn.functional.softplus(x, beta=a), np.log1p(np.exp(2.0 * x0)) / 2.0),
        "hardtanh": (ag.nn.functional.hardtanh(x, lo, hi), np.clip(x0, 0.75, 1.5)),
    }
    for name, (got, expected) in results.items():
        assert got.dtype == ag.float32, name
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6, err_msg=name)
