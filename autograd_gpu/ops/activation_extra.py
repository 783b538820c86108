"""Pointwise activations beyond activation.py: celu, selu, hardshrink, softshrink, threshold, hardsigmoid,
hardswish, mish, softsign, tanhshrink, logsigmoid (glu, prelu, rrelu, softmin: activation_channel.py).

Same pattern as activation.py: NumPy on cpu, on CUDA devices (``dev.uses_kernels``) one fused kernel per
direction for the smooth ones (kernels/activations.cuh); each backward is an op whose own backward is
written in Tensor ops, so gradients of any order work on every device. Node names are PyTorch's (selu runs
as ``EluBackward0`` and celu as ``CeluBackward0`` over the shared elu op, as in PyTorch). float16 computes in
float32 and rounds once (PyTorch's opmath).
"""
from __future__ import annotations

import numpy as np

from ..autograd.node import Op
from ..tensor import Tensor
from ._nnutil import TORCH_NAMES, const as _const, fused as _fused, require_float as _require_float
from ._pw_common import _F16, opmath
from ._util import py_scalar
from .activation import (EluBackward0, ThresholdBackwardBackward0, _sigmoid_np, _to_float, sigmoid, softplus,
                         tanh)
from .inplace import _method, _zeros

_M = "autograd_gpu.ops.activation_extra"
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
_FMAX = {"float16": 65504.0, "float32": 3.4028234663852886e38, "float64": 1.7976931348623157e308}


def _kernel_name(dev, name: str) -> str:
    """PyTorch's dispatch name in its 'not implemented for' error: <name>_cpu / <name>_cuda."""
    return f"{name}_cpu" if dev.type == "cpu" else f"{name}_cuda"


def _opmath_call(fn, xp, *arrays):
    """fn(xp, *arrays) with float16 arrays computed in float32 and rounded once to the first one's dtype."""
    dt = arrays[0].dtype
    if dt != _F16:
        return fn(xp, *arrays)
    return fn(xp, *(opmath(a) for a in arrays)).astype(dt)


def _zeros_if(node, i: int, x: Tensor):
    """The zero gradient of a piecewise-constant derivative, when input i needs one (PyTorch returns zeros,
    not an unused input: a second derivative through these ops is 0, not an error)."""
    return _zeros(x) if node.needs_input_grad[i] else None


def _mask(x: Tensor, cond) -> Tensor:
    """A constant 0/1 tensor of x's dtype (a piecewise formula's region) for Tensor-op backward formulas."""
    return _const(cond(x._data).astype(x._data.dtype), x._device)


# ---------------------------------------------------------------- celu (selu is EluBackward0 itself)
class CeluBackward0(EluBackward0):
    """celu(x, alpha) = elu(x, alpha, scale=1, input_scale=1/alpha) = x if x > 0 else alpha expm1(x / alpha).
    (Its backward is elu's: EluBackwardBackward0, as in PyTorch.)"""

    def forward(self, x, alpha=1.0):
        return super().forward(x, alpha, 1.0, 1.0 / alpha)


# ---------------------------------------------------------------- shrink / threshold (piecewise: xp.where)
def _shrink_zone(x, lambd):
    # (a Python float against a float16 / float32 array compares in the array's dtype, as PyTorch casts lambd)
    return (x >= -lambd) & (x <= lambd)


class HardshrinkBackward0(Op):
    save = (0,)

    def forward(self, x, lambd=0.5):
        _require_float(x, _kernel_name(self.dev, "hardshrink"))
        self.lambd = lambd
        return self.dev.xp.where(_shrink_zone(x, lambd), x.dtype.type(0), x)  # NaN passes through

    def backward(self, g):
        (x,) = self.saved_tensors
        return HardshrinkBackwardBackward0.apply(g, x, lambd=self.lambd)


class HardshrinkBackwardBackward0(Op):
    """hardshrink_backward(grad, x, lambd) = 0 where -lambd <= x <= lambd else grad (softshrink's too)."""
    save = (1,)

    def forward(self, g, x, lambd=0.5):
        self.lambd = lambd
        return self.dev.xp.where(_shrink_zone(x, lambd), g.dtype.type(0), g)

    def backward(self, gg):  # linear in grad; piecewise constant in x: zeros (PyTorch's zeros_like)
        (x,) = self.saved_tensors
        return type(self).apply(gg, x, lambd=self.lambd), _zeros_if(self, 1, x)


class SoftshrinkBackward0(Op):
    save = (0,)

    def forward(self, x, lambd=0.5):
        self.lambd = lambd
        xp, dt = self.dev.xp, x.dtype
        z = opmath(x)  # float16 compares and subtracts in float32 like PyTorch's forward (its backward: half)
        # z * 0 (not a literal 0) in the dead zone keeps NaN, like PyTorch's kernel
        return xp.where(z > lambd, z - lambd, xp.where(z < -lambd, z + lambd, z * 0)).astype(dt, copy=False)

    def backward(self, g):
        (x,) = self.saved_tensors
        return SoftshrinkBackwardBackward0.apply(g, x, lambd=self.lambd)


class SoftshrinkBackwardBackward0(HardshrinkBackwardBackward0):
    """softshrink_backward(grad, x, lambd) = 0 where -lambd <= x <= lambd else grad."""


class ThresholdBackward0(Op):
    """threshold(x, threshold, value) = value where x <= threshold else x (NaN passes)."""
    save = (0,)

    def forward(self, x, threshold=0.0, value=0.0):
        self.threshold = threshold
        t = x.dtype.type(threshold)  # PyTorch casts both scalars to the input's dtype (integers truncate)
        return self.dev.xp.where(x <= t, x.dtype.type(value), x)

    def backward(self, g):
        (x,) = self.saved_tensors
        return ThresholdBackwardBackward0.apply(g, x, threshold=self.threshold)


# ---------------------------------------------------------------- hardsigmoid, hardswish
def _hardsigmoid_np(xp, x):
    return xp.minimum(xp.maximum(x + 3, 0), 6) / 6  # (maximum / minimum propagate NaN)


def _hardsigmoid_grad_np(xp, g, x):
    return xp.where((x > -3) & (x < 3), g / 6, 0).astype(g.dtype, copy=False)


def _hardswish_grad_np(xp, g, x):
    return xp.where(x <= -3, 0, xp.where(x < 3, g * (x / 3 + 0.5), g)).astype(g.dtype, copy=False)


class HardsigmoidBackward0(Op):
    save = (0,)

    def forward(self, x):
        _require_float(x, _kernel_name(self.dev, "hardsigmoid"))
        if self.dev.uses_kernels:
            return _fused().hardsigmoid_fwd(self.dev, x)
        return _opmath_call(_hardsigmoid_np, self.dev.xp, x)

    def backward(self, g):
        (x,) = self.saved_tensors
        return HardsigmoidBackwardBackward0.apply(g, x)


class HardsigmoidBackwardBackward0(Op):
    """hardsigmoid_backward(grad, x) = grad / 6 on the open interval (-3, 3), else 0.
    (PyTorch has no double backward for it; here: linear in grad, 0 in x.)"""
    save = (1,)

    def forward(self, g, x):
        if self.dev.uses_kernels:
            return _fused().hardsigmoid_bwd(self.dev, x, g)
        return _opmath_call(_hardsigmoid_grad_np, self.dev.xp, g, x)

    def backward(self, gg):
        (x,) = self.saved_tensors
        return HardsigmoidBackwardBackward0.apply(gg, x), _zeros_if(self, 1, x)


class HardswishBackward0(Op):
    save = (0,)

    def forward(self, x):
        _require_float(x, _kernel_name(self.dev, "hardswish"))
        if self.dev.uses_kernels:
            return _fused().hardswish_fwd(self.dev, x)
        return _opmath_call(lambda xp, x: x * _hardsigmoid_np(xp, x), self.dev.xp, x)

    def backward(self, g):
        (x,) = self.saved_tensors
        return HardswishBackwardBackward0.apply(g, x)


class HardswishBackwardBackward0(Op):
    """hardswish_backward(grad, x) = 0 for x <= -3, grad (x / 3 + 1/2) for x < 3, grad from 3 on."""
    save = (0, 1)

    def forward(self, g, x):
        if self.dev.uses_kernels:
            return _fused().hardswish_bwd(self.dev, x, g)
        return _opmath_call(_hardswish_grad_np, self.dev.xp, g, x)

    def backward(self, gg):
        g, x = self.saved_tensors
        need = self.needs_input_grad
        gg_g = HardswishBackwardBackward0.apply(gg, x) if need[0] else None
        gg_x = gg * g * _mask(x, lambda a: (a > -3) & (a < 3)) / 3 if need[1] else None  # slope' = 1/3
        return gg_g, gg_x


# ---------------------------------------------------------------- mish, logsigmoid, softsign
def _mish_np(xp, x):
    return x * xp.tanh(xp.logaddexp(x.dtype.type(0), x))  # softplus without overflow; exact tail for x << 0


def _mish_grad_np(xp, g, x):
    t = xp.tanh(xp.logaddexp(x.dtype.type(0), x))
    return g * (t + x * _sigmoid_np(xp, x) * (1 - t * t))


def _logsigmoid_np(xp, x):
    # -softplus(-x) = min(x, 0) - log1p(exp(-|x|)): exp never overflows, and the x << 0 tail is exactly x
    return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))


def _logsigmoid_grad_np(xp, g, x):
    # sigmoid(-x) from z = e^-|x| (no overflow): z / (1 + z) for x > 0 keeps the tail down to subnormals
    z = xp.exp(-xp.abs(x))
    return g * xp.where(x > 0, z, 1) / (1 + z)


def _softsign_grad_np(xp, g, x):
    d = 1 + xp.abs(x)
    return g / d / d  # (two divisions: d * d would overflow to inf first for |x| > 1e154)


class MishBackward0(Op):
    save = (0,)

    def forward(self, x):
        _require_float(x, _kernel_name(self.dev, "mish"))
        if self.dev.uses_kernels:
            return _fused().mish_fwd(self.dev, x)
        return _opmath_call(_mish_np, self.dev.xp, x)

    def backward(self, g):
        (x,) = self.saved_tensors
        return MishBackwardBackward0.apply(g, x)


class MishBackwardBackward0(Op):
    """mish_backward(grad, x) = grad (t + x s (1 - t^2)),  t = tanh(softplus(x)), s = sigmoid(x)."""
    save = (0, 1)

    def forward(self, g, x):
        if self.dev.uses_kernels:
            return _fused().mish_bwd(self.dev, x, g)
        return _opmath_call(_mish_grad_np, self.dev.xp, g, x)

    def backward(self, gg):
        g, x = self.saved_tensors
        need = self.needs_input_grad
        gg_g = MishBackwardBackward0.apply(gg, x) if need[0] else None
        gg_x = None
        if need[1]:  # mish'' = (1 - t^2) s (2 + x (1 - s) - 2 x t s)
            t, s = tanh(softplus(x)), sigmoid(x)
            gg_x = gg * g * (1 - t * t) * s * (2 + x * (1 - s) - x * t * s * 2)
        return gg_g, gg_x


class LogSigmoidBackward0(Op):
    save = (0,)

    def forward(self, x):
        _require_float(x, "log_sigmoid_cpu" if self.dev.type == "cpu" else "log_sigmoid_forward_cuda")
        if self.dev.uses_kernels:
            return _fused().logsigmoid_fwd(self.dev, x)
        return _opmath_call(_logsigmoid_np, self.dev.xp, x)

    def backward(self, g):
        (x,) = self.saved_tensors
        return LogSigmoidBackwardBackward0.apply(g, x)


class LogSigmoidBackwardBackward0(Op):
    """log_sigmoid_backward(grad, x) = grad sigmoid(-x)."""
    save = (0, 1)

    def forward(self, g, x):
        if self.dev.uses_kernels:
            return _fused().logsigmoid_bwd(self.dev, x, g)
        return _opmath_call(_logsigmoid_grad_np, self.dev.xp, g, x)

    def backward(self, gg):
        g, x = self.saved_tensors
        need = self.needs_input_grad
        gg_g = LogSigmoidBackwardBackward0.apply(gg, x) if need[0] else None
        gg_x = None
        if need[1]:  # d/dx sigmoid(-x) = -s (1 - s)
            s = sigmoid(x)
            gg_x = gg * g * s * (s - 1)
        return gg_g, gg_x


class SoftsignBackward0(Op):
    """x / (1 + |x|) as one fused op (PyTorch composes it: DivBackward0)."""
    save = (0,)

    def forward(self, x):
        x = _to_float(x)
        if self.dev.uses_kernels:
            return _fused().softsign_fwd(self.dev, x)
        return _opmath_call(lambda xp, x: x / (1 + xp.abs(x)), self.dev.xp, x)

    def backward(self, g):
        (x,) = self.saved_tensors
        return SoftsignBackwardBackward0.apply(g, x)


class SoftsignBackwardBackward0(Op):
    """softsign_backward(grad, x) = grad / (1 + |x|)^2."""
    save = (0, 1)

    def forward(self, g, x):
        if self.dev.uses_kernels:
            return _fused().softsign_bwd(self.dev, x, g)
        return _opmath_call(_softsign_grad_np, self.dev.xp, g, x)

    def backward(self, gg):
        g, x = self.saved_tensors
        need = self.needs_input_grad
        gg_g = SoftsignBackwardBackward0.apply(gg, x) if need[0] else None
        gg_x = None
        if need[1]:  # d/dx (1 + |x|)^-2 = -2 sign(x) (1 + |x|)^-3
            d = x.abs() + 1
            gg_x = gg * g * x.sign() * -2 / (d * d * d)
        return gg_g, gg_x


# ---------------------------------------------------------------- tanhshrink
# x - tanh(x) = x^3/3 - 2x^5/15 + 17x^7/315 - ...: below |x| = 0.1 seven terms are exact to 2e-17 relative,
# where the difference x - tanh(x) would cancel 3/x^2 of the digits (PyTorch's float32 result is off by 5% at
# x = 1e-3). Computed in float64 and rounded once: above 0.1 the difference loses at most ~300 ulps of double.
_TANHSHRINK_SERIES = (929569 / 638512875, -21844 / 6081075, 1382 / 155925, -62 / 2835, 17 / 315, -2 / 15,
                      1 / 3)


def _tanhshrink_np(xp, x):
    z = x.astype(np.float64)
    z2 = z * z
    poly = xp.full_like(z2, _TANHSHRINK_SERIES[0])
    for c in _TANHSHRINK_SERIES[1:]:
        poly = poly * z2 + c
    return xp.where(xp.abs(z) < 0.1, poly * z2 * z, z - xp.tanh(z)).astype(x.dtype, copy=False)


class TanhshrinkBackward0(Op):
    """x - tanh(x) as one op, accurate near 0 (PyTorch composes it: SubBackward0); d/dx = tanh(x)^2."""
    save = (0,)

    def forward(self, x):
        return _tanhshrink_np(self.dev.xp, _to_float(x))

    def backward(self, g):
        (x,) = self.saved_tensors
        t = tanh(x)  # 1 - (1 - tanh^2) would cancel near 0: tanh^2 directly, in Tensor ops (any order)
        return g * (t * t)


# ---------------------------------------------------------------- public functions
def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x if x > 0 else alpha (exp(x / alpha) - 1)."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    if inplace:
        return celu_(input, alpha)
    return CeluBackward0.apply(input, alpha=py_scalar(alpha))


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale (x if x > 0 else alpha (exp(x) - 1)),  alpha = 1.6732632..., scale = 1.0507009..."""
    if inplace:
        return selu_(input)
    return EluBackward0.apply(input, alpha=SELU_ALPHA, scale=SELU_SCALE, input_scale=1.0)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x if |x| > lambd else 0."""
    return HardshrinkBackward0.apply(input, lambd=py_scalar(lambd))


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x - lambd if x > lambd, x + lambd if x < -lambd, else 0."""
    dt = input._data.dtype
    _require_float(input._data, "softshrink_check")
    lambd = py_scalar(lambd)
    if not 0 <= lambd <= _FMAX[dt.name]:
        raise RuntimeError(f"lambda must be in range [0, {_FMAX[dt.name]:g}] for input dtype "
                           f"{TORCH_NAMES[dt.name]}, but found {lambd:g}")
    return SoftshrinkBackward0.apply(input, lambd=lambd)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """value if x <= threshold else x."""
    if inplace:
        return threshold_(input, threshold, value)
    return ThresholdBackward0.apply(input, threshold=py_scalar(threshold), value=py_scalar(value))


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6."""
    if inplace:
        return _hardsigmoid_inplace(input)
    return HardsigmoidBackward0.apply(input)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x relu6(x + 3) / 6."""
    if inplace:
        return _hardswish_inplace(input)
    return HardswishBackward0.apply(input)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x tanh(softplus(x))."""
    if inplace:
        return _mish_inplace(input)
    return MishBackward0.apply(input)


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    return SoftsignBackward0.apply(input)


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x)."""
    return TanhshrinkBackward0.apply(input)


def logsigmoid(input: Tensor) -> Tensor:
    """log(1 / (1 + exp(-x))) = -softplus(-x)."""
    return LogSigmoidBackward0.apply(input)


_celu_inplace = _method("celu", _M)
selu_ = _method("selu", _M)
_threshold_inplace = _method("threshold", _M)
_hardsigmoid_inplace = _method("hardsigmoid", _M)
_hardswish_inplace = _method("hardswish", _M)
_mish_inplace = _method("mish", _M)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place celu."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    return _celu_inplace(input, alpha)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    """In-place threshold."""
    return _threshold_inplace(input, threshold, value)


__all__ = ["celu", "celu_", "selu", "selu_", "hardshrink", "softshrink", "threshold", "threshold_",
           "hardsigmoid", "hardswish", "mish", "softsign", "tanhshrink", "logsigmoid"]
TENSOR_METHODS = {"hardshrink": hardshrink}
