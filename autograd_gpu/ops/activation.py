"""Activations: NumPy on cpu, one fused kernel per direction on CUDA devices (``dev.uses_kernels``).

Each activation's backward is itself an op, as in PyTorch (``sigmoid_backward`` -> node
``SigmoidBackwardBackward0``): on CUDA devices it is one launch of the fused *_bwd kernel, and its own
backward is written in Tensor ops, so gradients of any order work on every device.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _dtype
from ..autograd.node import Op
from ..tensor import Tensor
from ._nnutil import const as _const, fused as _fused, kernels as _kernels, require_float as _require_float
from . import gelu_np as _gelu_np
from ._pw_common import _F16, opmath
from ._util import py_scalar
from .inplace import _method
from .softmax import log_softmax, softmax, torch_log_softmax, torch_softmax  # noqa: F401  (re-exported)

_M = "autograd_gpu.ops.activation"


def _to_float(x):
    """Integer inputs of sigmoid/tanh compute in the default float dtype, as in PyTorch."""
    return x if x.dtype.kind == "f" else x.astype(_dtype.get_default_dtype().np)


def _sigmoid_np(xp, z):
    # 1 / (1 + exp(-z)) like PyTorch: relatively accurate for z << 0, where 0.5 + 0.5 tanh(z / 2) cancels
    if z.dtype == _F16:  # float32 arithmetic, one rounding
        return _sigmoid_np(xp, z.astype(xp.float32)).astype(z.dtype)
    e = xp.negative(z)
    if not e.ndim:  # 0-d: NumPy scalars, no out=
        with np.errstate(over="ignore"):
            return 1 / (xp.exp(e) + 1)
    with np.errstate(over="ignore"):  # exp(-z) = inf gives the exact limit 0
        xp.exp(e, out=e)
    e += 1
    return xp.reciprocal(e, out=e)


_ERF = []


def _erf_np(x, complement=False):
    """erf (erfc with complement=True) on a NumPy array, in x's dtype: SciPy's vectorized functions when
    installed (an optional dependency, imported on first use), else math.erf / math.erfc per element."""
    if not _ERF:
        try:
            from scipy.special import erf, erfc
        except ImportError:  # pragma: no cover - exercised where SciPy is absent
            erf, erfc = np.frompyfunc(math.erf, 1, 1), np.frompyfunc(math.erfc, 1, 1)
        _ERF.extend((erf, erfc))
    # (np.asarray: math.erf through frompyfunc gives a Python float, not an array, for a 0-d input)
    return np.asarray(_ERF[complement](x)).astype(x.dtype, copy=False)


def _f32(*arrays):
    return [a.astype(np.float32) for a in arrays]


_SQRT1_2, _INV_SQRT_2PI = 0.7071067811865476, 0.3989422804014327
_F32 = np.dtype(np.float32)
_K_BETA, _K_KAPPA = 0.7978845608028654, 0.044715  # gelu 'tanh': sqrt(2 / pi), cubic coefficient


# ---------------------------------------------------------------- sigmoid, tanh
class SigmoidBackward0(Op):
    save_result = True

    def forward(self, x):
        x = _to_float(x)
        if self.dev.uses_kernels:
            return _fused().sigmoid_fwd(self.dev, x)
        return _sigmoid_np(self.dev.xp, x)

    def backward_raw(self, gd):
        return SigmoidBackwardBackward0.forward_arrays(self.dev, gd, self.result_array())

    def backward(self, g):
        return SigmoidBackwardBackward0.apply(g, self.result)


class SigmoidBackwardBackward0(Op):
    """sigmoid_backward(grad, y) = grad * y * (1 - y)."""
    save = (0, 1)

    def forward(self, g, y):
        if self.dev.uses_kernels:
            return _fused().sigmoid_bwd(self.dev, y, g)
        if g.dtype == _F16:  # float32 arithmetic, one rounding (PyTorch's opmath for half)
            return self.forward(*_f32(g, y)).astype(g.dtype)
        return g * y * (1 - y)

    def backward(self, gg):
        g, y = self.saved_tensors
        need = self.needs_input_grad
        return (SigmoidBackwardBackward0.apply(gg, y) if need[0] else None,
                gg * g * (1 - y * 2) if need[1] else None)


class TanhBackward0(Op):
    save_result = True

    def forward(self, x):
        x = _to_float(x)
        if self.dev.uses_kernels:
            return _fused().tanh_fwd(self.dev, x)
        return self.dev.xp.tanh(x)

    def backward_raw(self, gd):
        return TanhBackwardBackward0.forward_arrays(self.dev, gd, self.result_array())

    def backward(self, g):
        return TanhBackwardBackward0.apply(g, self.result)


class TanhBackwardBackward0(Op):
    """tanh_backward(grad, y) = grad * (1 - y^2)."""
    save = (0, 1)

    def forward(self, g, y):
        if self.dev.uses_kernels:
            return _fused().tanh_bwd(self.dev, y, g)
        if g.dtype == _F16:  # (as in sigmoid_backward)
            return self.forward(*_f32(g, y)).astype(g.dtype)
        return g * (1 - y * y)

    def backward(self, gg):
        g, y = self.saved_tensors
        need = self.needs_input_grad
        return (TanhBackwardBackward0.apply(gg, y) if need[0] else None,
                gg * g * y * -2 if need[1] else None)


# ---------------------------------------------------------------- relu family
class ReluBackward0(Op):
    save_result = True

    def forward(self, x):
        if self.dev.uses_kernels and _kernels(self.dev, x):
            return _fused().relu_fwd(self.dev, x)
        # maximum propagates NaN like torch.relu; a Python 0.0 keeps a float dtype (weak scalar) and costs
        # less than making a NumPy scalar
        return self.dev.xp.maximum(x, 0.0 if x.dtype.kind == "f" else x.dtype.type(0))

    def backward_raw(self, gd):
        if self.dev.uses_kernels:
            return self._backward_unwrapped(gd)  # (ThresholdBackwardBackward0's kernel)
        return _relu_grad_np(gd, self.result_array())

    def backward(self, g):
        return ThresholdBackwardBackward0.apply(g, self.result, threshold=0)


_UINT = {np.dtype(np.float32): np.uint32, np.dtype(np.float64): np.uint64}


def _relu_grad_np(g, r):
    """threshold_backward(g, r, 0) = where(r <= 0, +0, g), bit for bit, without a branch per element: g's bits
    ANDed with an all-ones / all-zeros mask (np.where's select runs ~7x slower on a random mask)."""
    ut = _UINT.get(g.dtype)
    # (0-d: ufuncs give scalars, no out=; below ~1000 elements np.where's two calls beat the mask's five)
    if ut is None or g.shape != r.shape or g.size < 1024:
        return np.where(r <= 0, g.dtype.type(0), g)
    mask = np.less_equal(r, 0).astype(ut)  # 1 where the gradient is cut (a NaN r passes g, as in where)
    mask -= 1  # 1 -> 0, 0 -> all ones (unsigned wrap-around)
    np.bitwise_and(g.view(ut), mask, out=mask)
    return mask.view(g.dtype)


class ThresholdBackwardBackward0(Op):
    """threshold_backward(grad, v, threshold) = 0 where v <= threshold else grad (NaN v passes grad)."""
    save = (1,)

    def forward(self, g, v, threshold=0):
        self.threshold = threshold
        if threshold == 0 and _kernels(self.dev, g):
            return _fused().relu_bwd(self.dev, v, g)
        return self.dev.xp.where(v <= threshold, g.dtype.type(0), g)

    def backward(self, gg):
        (v,) = self.saved_tensors
        return ThresholdBackwardBackward0.apply(gg, v, threshold=self.threshold), None


class LeakyReluBackward0(Op):
    save = (0,)

    def forward(self, x, negative_slope=0.01):
        _require_float(x, "leaky_relu_cpu" if self.dev.type == "cpu" else "leaky_relu_cuda")
        self.negative_slope = negative_slope
        if self.dev.uses_kernels:
            return _fused().leaky_relu_fwd(self.dev, x, negative_slope)
        return self.dev.xp.where(x > 0, x, x * negative_slope)

    def backward_raw(self, gd):
        (x,) = self.saved_tensors
        return LeakyReluBackwardBackward0.forward_arrays(self.dev, gd, x._data, negative_slope=self.negative_slope)

    def backward(self, g):
        (x,) = self.saved_tensors
        return LeakyReluBackwardBackward0.apply(g, x, negative_slope=self.negative_slope)


class LeakyReluBackwardBackward0(Op):
    """leaky_relu_backward(grad, x, slope) = grad where x > 0 else slope * grad."""
    save = (1,)

    def forward(self, g, x, negative_slope=0.01):
        self.negative_slope = negative_slope
        if self.dev.uses_kernels:
            return _fused().leaky_relu_bwd(self.dev, x, g, negative_slope)
        return self.dev.xp.where(x > 0, g, g * negative_slope)

    def backward(self, gg):
        (x,) = self.saved_tensors
        return LeakyReluBackwardBackward0.apply(gg, x, negative_slope=self.negative_slope), None


class HardtanhBackward0(Op):
    save = (0,)

    def forward(self, x, min_val=-1.0, max_val=1.0):
        self.min_val, self.max_val = min_val, max_val
        return self.dev.xp.clip(x, x.dtype.type(min_val), x.dtype.type(max_val))

    def backward_raw(self, gd):
        (x,) = self.saved_tensors
        return HardtanhBackwardBackward0.forward_arrays(self.dev, gd, x._data, min_val=self.min_val,
                                                        max_val=self.max_val)

    def backward(self, g):
        (x,) = self.saved_tensors
        return HardtanhBackwardBackward0.apply(g, x, min_val=self.min_val, max_val=self.max_val)


class HardtanhBackwardBackward0(Op):
    """hardtanh_backward(grad, x, lo, hi) = grad where lo < x < hi else 0 (open interval, like PyTorch)."""
    save = (1,)

    def forward(self, g, x, min_val=-1.0, max_val=1.0):
        self.min_val, self.max_val = min_val, max_val
        return self.dev.xp.where((x <= min_val) | (x >= max_val), g.dtype.type(0), g)

    def backward(self, gg):
        (x,) = self.saved_tensors
        return HardtanhBackwardBackward0.apply(gg, x, min_val=self.min_val, max_val=self.max_val), None


# ---------------------------------------------------------------- smooth activations
class EluBackward0(Op):
    """elu(x, alpha, scale, input_scale) as PyTorch's: selu (scale) and celu (input_scale = 1 / alpha) too."""
    save = (0,)

    def forward(self, x, alpha=1.0, scale=1.0, input_scale=1.0):
        _require_float(x, "elu_cpu" if self.dev.type == "cpu" else "elu_cuda")
        self.alpha, self.scale, self.input_scale = alpha, scale, input_scale
        if self.dev.uses_kernels:
            return _fused().elu_fwd(self.dev, x, alpha, scale, input_scale)
        xp = self.dev.xp
        dt, x = x.dtype, opmath(x)  # float16: float32 arithmetic, one rounding (PyTorch)
        # expm1 keeps digits for small negative x; clamping first avoids overflow in the unused branch
        neg = xp.minimum(x, 0)
        if input_scale != 1:  # (plain elu skips the exact products by 1: one pass less)
            neg = neg * input_scale
        pos = x if scale == 1 else x * scale
        return xp.where(x > 0, pos, xp.expm1(neg) * (alpha * scale)).astype(dt, copy=False)

    def backward_raw(self, gd):
        (x,) = self.saved_tensors
        return EluBackwardBackward0.forward_arrays(self.dev, gd, x._data, alpha=self.alpha, scale=self.scale,
                                                   input_scale=self.input_scale)

    def backward(self, g):
        (x,) = self.saved_tensors
        return EluBackwardBackward0.apply(g, x, alpha=self.alpha, scale=self.scale,
                                          input_scale=self.input_scale)


class EluBackwardBackward0(Op):
    """elu_backward(grad, x) = grad scale where x > 0 else grad scale alpha input_scale exp(input_scale x)."""
    save = (0, 1)

    def forward(self, g, x, alpha=1.0, scale=1.0, input_scale=1.0):
        self.alpha, self.scale, self.input_scale = alpha, scale, input_scale
        if self.dev.uses_kernels:
            return _fused().elu_bwd(self.dev, x, g, alpha, scale, input_scale)
        if g.dtype == _F16:  # (as in sigmoid_backward)
            return self.forward(*_f32(g, x), alpha, scale, input_scale).astype(g.dtype)
        xp = self.dev.xp
        neg = xp.minimum(x, 0)
        if input_scale != 1:
            neg = neg * input_scale
        pos = g if scale == 1 else g * scale
        return xp.where(x > 0, pos, g * xp.exp(neg) * (alpha * scale * input_scale))

    def backward(self, gg):
        g, x = self.saved_tensors
        need = self.needs_input_grad
        p = dict(alpha=self.alpha, scale=self.scale, input_scale=self.input_scale)
        gg_g = EluBackwardBackward0.apply(gg, x, **p) if need[0] else None
        gg_x = None
        if need[1]:  # d/dx (g c e^(s x)) = s g c e^(s x) on x < 0 (PyTorch's mask: 0 at the kink): this
            # op applied to s gg g there
            neg = _const((x._data < 0).astype(x._data.dtype), x._device)
            h = gg * g * neg
            gg_x = EluBackwardBackward0.apply(h if self.input_scale == 1 else h * self.input_scale, x, **p)
        return gg_g, gg_x


class GeluBackward0(Op):
    save = (0,)

    def forward(self, x, approximate="none"):
        _require_float(x, "GeluKernelImpl")
        self.approximate = approximate
        if self.dev.uses_kernels:
            return _fused().gelu_fwd(self.dev, x, approximate)
        xp = self.dev.xp
        if approximate == "none" and x.dtype == _F32 and xp is np:
            return _gelu_np.gelu(x)
        dt, x = x.dtype, opmath(x)  # float16: float32 arithmetic, one rounding (PyTorch)
        # 1 + tanh(u) = 2 sigmoid(2 u) and 1 + erf(z) = erfc(-z): no cancellation for x << 0
        if approximate == "tanh":
            inner = (x + x * x * x * _K_KAPPA) * (2 * _K_BETA)
            return (x * _sigmoid_np(xp, inner)).astype(dt, copy=False)
        return (x * 0.5 * _erf_np(x * -_SQRT1_2, True)).astype(dt, copy=False)

    def backward_raw(self, gd):
        (x,) = self.saved_tensors
        return GeluBackwardBackward0.forward_arrays(self.dev, gd, x._data, approximate=self.approximate)

    def backward(self, g):
        (x,) = self.saved_tensors
        return GeluBackwardBackward0.apply(g, x, approximate=self.approximate)


class GeluBackwardBackward0(Op):
    """gelu_backward(grad, x) = grad * (Phi(x) + x phi(x))  ('tanh': derivative of the tanh formula)."""
    save = (0, 1)

    def forward(self, g, x, approximate="none"):
        self.approximate = approximate
        if self.dev.uses_kernels:
            return _fused().gelu_bwd(self.dev, x, g, approximate)
        if g.dtype == _F16:  # (as in sigmoid_backward)
            return self.forward(*_f32(g, x), approximate=approximate).astype(g.dtype)
        xp = self.dev.xp
        if approximate == "tanh":
            x_sq = x * x
            t = xp.tanh((x + x_sq * x * _K_KAPPA) * _K_BETA)
            left = 0.5 * (1 + t)
            right = 0.5 * x * (1 - t * t) * _K_BETA * (1 + 3 * _K_KAPPA * x_sq)
            return g * (left + right)
        if xp is np and x.dtype == _F32 and g.dtype == _F32 and g.shape == x.shape:
            return _gelu_np.gelu_grad(g, x)
        cdf = 0.5 * _erf_np(x * -_SQRT1_2, True)  # erfc(-x / sqrt 2) / 2: 1 + erf cancels for x << 0
        pdf = xp.exp(x * x * -0.5) * _INV_SQRT_2PI
        return g * (cdf + x * pdf)

    def backward(self, gg):
        g, x = self.saved_tensors
        need = self.needs_input_grad
        gg_g = GeluBackwardBackward0.apply(gg, x, approximate=self.approximate) if need[0] else None
        gg_x = None
        if need[1]:
            if self.approximate == "tanh":
                x_sq = x * x
                t = tanh(x * _K_BETA + x_sq * x * (_K_BETA * _K_KAPPA))
                du = 1 + x_sq * (3 * _K_KAPPA)
                du = du * _K_BETA
                # gelu'' = (1 - t^2) (u' - x t u'^2 + 3 k kappa x^2),  u = k (x + kappa x^3)
                d2 = (1 - t * t) * (du - x * t * du * du + x_sq * (3 * _K_BETA * _K_KAPPA))
            else:
                d2 = (x * x * -0.5).exp() * (2 - x * x) * _INV_SQRT_2PI  # phi(x) (2 - x^2)
            gg_x = gg * g * d2
        return gg_g, gg_x


class SiluBackward0(Op):
    save = (0,)

    def forward(self, x):
        _require_float(x, "silu_cpu" if self.dev.type == "cpu" else "silu_cuda")
        if self.dev.uses_kernels:
            return _fused().silu_fwd(self.dev, x)
        if x.dtype == _F16:  # float32 arithmetic, one rounding (PyTorch)
            return self.forward(x.astype(np.float32)).astype(x.dtype)
        return x * _sigmoid_np(self.dev.xp, x)

    def backward_raw(self, gd):
        (x,) = self.saved_tensors
        return SiluBackwardBackward0.forward_arrays(self.dev, gd, x._data)

    def backward(self, g):
        (x,) = self.saved_tensors
        return SiluBackwardBackward0.apply(g, x)


class SiluBackwardBackward0(Op):
    """silu_backward(grad, x) = grad * s (1 + x (1 - s)),  s = sigmoid(x)."""
    save = (0, 1)

    def forward(self, g, x):
        if self.dev.uses_kernels:
            return _fused().silu_bwd(self.dev, x, g)
        if g.dtype == _F16:  # (as in sigmoid_backward)
            return self.forward(*_f32(g, x)).astype(g.dtype)
        s = _sigmoid_np(self.dev.xp, x)
        return g * s * (1 + x * (1 - s))

    def backward(self, gg):
        g, x = self.saved_tensors
        need = self.needs_input_grad
        gg_g = SiluBackwardBackward0.apply(gg, x) if need[0] else None
        gg_x = None
        if need[1]:
            s = sigmoid(x)
            gg_x = gg * g * s * (1 - s) * (2 + x * (1 - s * 2))  # silu'' = s (1 - s) (2 + x (1 - 2 s))
        return gg_g, gg_x


class SoftplusBackward0(Op):
    save = (0,)

    def forward(self, x, beta=1.0, threshold=20.0):
        _require_float(x, "softplus_cpu" if self.dev.type == "cpu" else "softplus_cuda")
        self.beta, self.threshold = beta, threshold
        if self.dev.uses_kernels:
            return _fused().softplus_fwd(self.dev, x, beta, threshold)
        xp = self.dev.xp
        z = x * beta
        # logaddexp(0, z) = log(1 + e^z) without overflow
        return xp.where(z > threshold, x, xp.logaddexp(x.dtype.type(0), z) / beta)

    def backward_raw(self, gd):
        (x,) = self.saved_tensors
        return SoftplusBackwardBackward0.forward_arrays(self.dev, gd, x._data, beta=self.beta,
                                                        threshold=self.threshold)

    def backward(self, g):
        (x,) = self.saved_tensors
        return SoftplusBackwardBackward0.apply(g, x, beta=self.beta, threshold=self.threshold)


class SoftplusBackwardBackward0(Op):
    """softplus_backward(grad, x) = grad * sigmoid(beta x), or grad where beta x > threshold."""
    save = (0, 1)

    def forward(self, g, x, beta=1.0, threshold=20.0):
        self.beta, self.threshold = beta, threshold
        if self.dev.uses_kernels:
            return _fused().softplus_bwd(self.dev, x, g, beta, threshold)
        z = x * beta
        return self.dev.xp.where(z > threshold, g, g * _sigmoid_np(self.dev.xp, z))

    def backward(self, gg):
        g, x = self.saved_tensors
        need = self.needs_input_grad
        gg_g = SoftplusBackwardBackward0.apply(gg, x, beta=self.beta, threshold=self.threshold) \
            if need[0] else None
        gg_x = None
        if need[1]:
            inside = _const((x._data * self.beta <= self.threshold).astype(x._data.dtype), x._device)
            s = sigmoid(x * self.beta)
            gg_x = gg * g * s * (1 - s) * inside * self.beta
        return gg_g, gg_x


# ---------------------------------------------------------------- public functions
def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + exp(-x))."""
    return SigmoidBackward0.apply(input)


def tanh(input: Tensor) -> Tensor:
    """(e^x - e^-x) / (e^x + e^-x)."""
    return TanhBackward0.apply(input)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0)."""
    if inplace:
        return relu_(input)
    return ReluBackward0.apply(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x if x > 0 else negative_slope * x."""
    if inplace:
        return leaky_relu_(input, negative_slope)
    return LeakyReluBackward0.apply(input, negative_slope=py_scalar(negative_slope))


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x if x > 0 else alpha * (exp(x) - 1)."""
    if inplace:
        return elu_(input, alpha)
    return EluBackward0.apply(input, alpha=py_scalar(alpha))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x)  ('tanh': 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))))."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return GeluBackward0.apply(input, approximate=approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x)."""
    if inplace:
        return silu_(input)
    return SiluBackward0.apply(input)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, or x where beta x > threshold."""
    return SoftplusBackward0.apply(input, beta=py_scalar(beta), threshold=py_scalar(threshold))


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """clamp(x, min_val, max_val)."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    if inplace:
        return hardtanh_(input, min_val, max_val)
    return HardtanhBackward0.apply(input, min_val=py_scalar(min_val), max_val=py_scalar(max_val))


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


relu_ = _method("relu", _M)
sigmoid_ = _method("sigmoid", _M)
tanh_ = _method("tanh", _M)
silu_ = _method("silu", _M)
_leaky_relu_inplace = _method("leaky_relu", _M)
_elu_inplace = _method("elu", _M)
_hardtanh_inplace = _method("hardtanh", _M)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """In-place leaky_relu."""
    return _leaky_relu_inplace(input, negative_slope)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place elu."""
    return _elu_inplace(input, alpha)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """In-place hardtanh."""
    return _hardtanh_inplace(input, min_val, max_val)


__all__ = ["sigmoid", "tanh", "relu", "relu_", "leaky_relu", "leaky_relu_", "elu", "elu_", "gelu", "silu",
           "softplus", "hardtanh", "hardtanh_", "relu6", "softmax", "log_softmax"]
TENSOR_METHODS = {"sigmoid": sigmoid, "sigmoid_": sigmoid_, "tanh": tanh, "tanh_": tanh_, "relu": relu,
                  "relu_": relu_, "softmax": torch_softmax, "log_softmax": torch_log_softmax}
