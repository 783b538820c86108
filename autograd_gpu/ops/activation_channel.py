"""Activations with a dimension, a weight tensor or random slopes: glu, prelu, rrelu, softmin.

glu and prelu are written with xp calls (NumPy on cpu, CuPy on cuda: a few launches each, no fused kernel);
rrelu's training-mode slopes come from the counter-based Philox stream that dropout uses (one fused kernel
on CUDA devices, the same algorithm in NumPy on cpu), so one seed gives the same slopes on every device.
Node names are PyTorch's; each backward is an op whose own backward is written in Tensor ops.
"""
from __future__ import annotations

import numpy as np

from ..autograd.node import Op
from ..random import default_generator as _gen
from ..tensor import Tensor
from ._nnutil import TORCH_NAMES, fused as _fused
from ._nnutil import require_float as _require_float, wrap_dim
from ._pw_common import opmath
from ._util import py_scalar
from .activation import LeakyReluBackwardBackward0, _sigmoid_np, sigmoid
from .activation_extra import _kernel_name, _mask, _zeros_if
from .inplace import _method
from .nn_ops import philox_first_word
from .shape_join import cat
from .softmax import _softmax_dim, softmax

_M = "autograd_gpu.ops.activation_channel"


# ---------------------------------------------------------------- glu
def _halves(x, dim):
    n = x.shape[dim] // 2
    lo, hi = [slice(None)] * x.ndim, [slice(None)] * x.ndim
    lo[dim], hi[dim] = slice(0, n), slice(n, None)
    return x[tuple(lo)], x[tuple(hi)]


class GluBackward0(Op):
    """glu(x, dim) = a sigmoid(b), (a, b) the halves of x along dim."""
    save = (0,)

    def forward(self, x, dim=-1):
        _require_float(x, _kernel_name(self.dev, "glu"))
        self.dim = dim
        a, b = _halves(x, dim)
        return (opmath(a) * _sigmoid_np(self.dev.xp, opmath(b))).astype(x.dtype, copy=False)

    def backward(self, g):
        (x,) = self.saved_tensors
        return GluBackwardBackward0.apply(g, x, dim=self.dim)


class GluBackwardBackward0(Op):
    """glu_backward(grad, x, dim) = cat(grad s, grad a s (1 - s)),  s = sigmoid(b)."""
    save = (0, 1)

    def forward(self, g, x, dim=-1):
        self.dim = dim
        xp, dt = self.dev.xp, g.dtype
        a, b = (opmath(h) for h in _halves(x, dim))
        g = opmath(g)
        s = _sigmoid_np(xp, b)
        ds = s * _sigmoid_np(xp, -b)  # s (1 - s) with 1 - s = sigmoid(-b): no cancellation as s -> 1
        return xp.concatenate([g * s, g * a * ds], axis=dim).astype(dt, copy=False)

    def backward(self, gg):
        g, x = self.saved_tensors
        need = self.needs_input_grad
        a, b = x.chunk(2, self.dim)
        ca, cb = gg.chunk(2, self.dim)
        s, sn = sigmoid(b), sigmoid(-b)
        ds = s * sn
        gg_g = ca * s + cb * a * ds if need[0] else None
        # d(g s)/db = g ds,  d(g a ds)/da = g ds,  d(g a ds)/db = g a ds (1 - 2 s)
        gg_x = cat([cb * g * ds, g * ds * (ca + cb * a * (sn - s))], self.dim) if need[1] else None
        return gg_g, gg_x


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """a * sigmoid(b), where input = cat(a, b) along dim (halves)."""
    x = input._data
    if x.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = wrap_dim(dim, x.ndim)
    if x.shape[d] % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {x.shape[d]}")
    return GluBackward0.apply(input, dim=d)


# ---------------------------------------------------------------- prelu
class PreluKernelBackward0(Op):
    """_prelu_kernel(x, w) = x if x > 0 else w x  (w already broadcastable: prelu reshaped it)."""
    save = (0, 1)

    def forward(self, x, w):
        _require_float(x, _kernel_name(self.dev, "prelu"))
        return self.dev.xp.where(x > 0, x, w * x)

    def backward(self, g):
        x, w = self.saved_tensors
        return PreluKernelBackwardBackward0.apply(g, x, w)


class PreluKernelBackwardBackward0(Op):
    """(grad_x, grad_w) = (g where x > 0 else w g,  0 where x > 0 else x g); grad_w in the broadcast shape:
    the engine sums it over the positions that share a weight (one place for that, as for every op)."""
    save = (0, 1, 2)

    def forward(self, g, x, w):
        xp = self.dev.xp
        pos = x > 0
        return xp.where(pos, g, w * g), xp.where(pos, g.dtype.type(0), x * g)

    def backward(self, ggx, ggw):
        g, x, w = self.saved_tensors
        need = self.needs_input_grad
        neg = _mask(x, lambda a: a <= 0)
        gg_g = gg_x = gg_w = None
        if need[0]:
            gg_g = (ggx * (1 - neg + neg * w) if ggx is not None else 0) + \
                (ggw * x * neg if ggw is not None else 0)
        if need[1]:
            gg_x = ggw * g * neg if ggw is not None else _zeros_if(self, 1, x)
        if need[2] and ggx is not None:
            gg_w = ggx * g * neg
        return gg_g, gg_x, gg_w


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """x if x > 0 else weight x, weight per channel (dim 1) or one for all."""
    x, w = input._data, weight._data
    if x.dtype != w.dtype:
        raise RuntimeError(f"prelu: Type promoting not supported. Got {TORCH_NAMES[x.dtype.name]} and "
                           f"{TORCH_NAMES[w.dtype.name]}")
    if w.size != 1:
        if x.ndim == 0:
            raise RuntimeError("Not allow zero-dim input tensor.")
        channels = x.shape[1] if x.ndim > 1 else 1
        if channels != w.size:
            raise RuntimeError("Mismatch of parameter numbers and input channel size. Found parameter "
                               f"numbers = {w.size} and channel size = {channels}.")
    if w.ndim > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = {w.ndim}")
    if x.ndim != w.ndim:  # (C,) -> (1, C, 1, ...), as PyTorch views it (its node: ViewBackward0)
        shape = [1] * x.ndim
        if x.ndim > 1:
            shape[1] = w.size
        weight = weight.reshape(shape)
    return PreluKernelBackward0.apply(input, weight)


# ---------------------------------------------------------------- rrelu
def rrelu_noise_np(x, lower: float, upper: float, seed: int, offset: int):
    """The slopes of rrelu in training: lower + (upper - lower) u where x <= 0 (1 elsewhere), u the Philox
    word of element i (C order) / 2^32: the NumPy twin of the kernel, bit for bit (same double arithmetic,
    then the same roundings: double -> accumulation type -> dtype)."""
    u = philox_first_word(seed, offset, x.size).astype(np.float64) * 2.0 ** -32
    r = lower + (upper - lower) * u
    r = r.astype(np.float64 if x.dtype == np.float64 else np.float32).astype(x.dtype)
    return np.where(x.reshape(-1) <= 0, r, x.dtype.type(1)).reshape(x.shape)


class RreluWithNoiseBackward0(Op):
    """rrelu: training, y = x noise (noise ~ U(lower, upper) where x <= 0, else 1); eval, leaky_relu with
    slope (lower + upper) / 2. seed / offset pick the slopes, so the op recomputed from its parameters
    (forward AD) draws the same ones."""
    save = (0,)

    def forward(self, x, lower=0.125, upper=1 / 3, training=False, seed=0, offset=0):
        self.slope, self.noise = (lower + upper) / 2, None
        if not training:
            _require_float(x, _kernel_name(self.dev, "leaky_relu"))
            if self.dev.uses_kernels:
                return _fused().leaky_relu_fwd(self.dev, x, self.slope)
            return self.dev.xp.where(x > 0, x, x * self.slope)
        _require_float(x, _kernel_name(self.dev, "rrelu_with_noise_out"))
        if self.dev.uses_kernels:
            y, self.noise = _fused().rrelu_with_noise_fwd(self.dev, x, lower, upper, seed, offset)
            return y
        self.noise = rrelu_noise_np(x, lower, upper, seed, offset)
        return x * self.noise

    def backward(self, g):
        (x,) = self.saved_tensors
        return RreluWithNoiseBackwardBackward0.apply(g, x, negative_slope=self.slope, noise=self.noise)


class RreluWithNoiseBackwardBackward0(LeakyReluBackwardBackward0):
    """rrelu_with_noise_backward(grad, x) = grad noise (training) or leaky_relu_backward (eval): linear in
    grad, so its backward is itself."""

    def forward(self, g, x, negative_slope=0.01, noise=None):
        self.noise = noise
        if noise is None:
            return super().forward(g, x, negative_slope)
        self.negative_slope = negative_slope
        return g * noise

    def backward(self, gg):
        (x,) = self.saved_tensors
        return RreluWithNoiseBackwardBackward0.apply(gg, x, negative_slope=self.negative_slope,
                                                     noise=self.noise), _zeros_if(self, 1, x)


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False) -> Tensor:
    """x if x >= 0 else a x: a ~ U(lower, upper) per element in training, (lower + upper) / 2 otherwise."""
    if inplace:
        return rrelu_(input, lower, upper, training)
    lower, upper = float(py_scalar(lower)), float(py_scalar(upper))
    if lower > upper:
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")
    if not training:
        return RreluWithNoiseBackward0.apply(input, lower=lower, upper=upper)
    seed, offset = _gen.initial_seed(), _gen.next_offset(input._data.size)
    return RreluWithNoiseBackward0.apply(input, lower=lower, upper=upper, training=True, seed=seed,
                                         offset=offset)


_rrelu_inplace = _method("rrelu", _M)


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False) -> Tensor:
    """In-place rrelu."""
    return _rrelu_inplace(input, lower, upper, training)


# ---------------------------------------------------------------- softmin
def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """softmax(-x) along dim (PyTorch composes it the same way: NegBackward0 then SoftmaxBackward0)."""
    if dim is None:
        dim = _softmax_dim("softmin", input.dim(), _stacklevel)
    return softmax(-input, dim, dtype=dtype)


__all__ = ["glu", "prelu", "rrelu", "rrelu_", "softmin"]
TENSOR_METHODS = {"prelu": prelu}
