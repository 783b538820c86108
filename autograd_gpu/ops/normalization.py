"""Normalizations beyond batch/layer norm: group_norm, instance_norm, rms_norm, local_response_norm.

group_norm and instance_norm are layer_norm over reshaped rows ((N, G, C/G * spatial) and (N, C, spatial)):
the fused layer-norm op (its CUDA kernels, its blocked NumPy path, its two-pass statistics and its
higher-order backward) does the normalization, and a per-channel affine follows. rms_norm and
local_response_norm are compositions of Tensor ops written as PyTorch's own decompositions are.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _dtype
from ..tensor import Tensor
from ._nnutil import require_float, size_str
from .nn_ops import layer_norm
from .norm import batch_norm
from .nn_pad import pad
from .pool import avg_pool2d

__all__ = ["group_norm", "instance_norm", "rms_norm", "local_response_norm"]


def _affine(y: Tensor, weight, bias, c: int) -> Tensor:
    """y * weight[c] + bias[c] on a (N, C, S) tensor."""
    if weight is not None:
        y = y * weight.reshape(c, 1)
    if bias is not None:
        y = y + bias.reshape(c, 1)
    return y


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """(x - E[x]) / sqrt(Var[x] + eps) * weight + bias, statistics over each group of C / num_groups channels
    (and all spatial positions) of each sample; biased variance; weight and bias per channel."""
    shape = input._data.shape
    if len(shape) < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {len(shape)}")
    n, c = shape[0], shape[1]
    spatial = math.prod(shape[2:])
    if (n * c // num_groups) * spatial == 1:  # (PyTorch's _verify_batch_size; num_groups = 0 divides by 0)
        raise ValueError("Expected more than 1 value per channel when training, got input size "
                         f"{[n * c // num_groups, num_groups] + list(shape[2:])}")
    if c % num_groups:
        raise RuntimeError("Expected number of channels in input to be divisible by num_groups, but got "
                           f"input of shape {list(shape)} and num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t._data.ndim != 1 or t._data.size != c):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of channels in "
                               f"input, but got {name} of shape {list(t._data.shape)} and input of shape "
                               f"{list(shape)}")
    require_float(input._data, "GroupNormKernelImpl")
    k = c // num_groups * spatial
    y = layer_norm(input.reshape(n, num_groups, k), (k,), eps=eps)
    if weight is not None or bias is not None:
        y = _affine(y.reshape(n, c, spatial), weight, bias, c)
    return y.reshape(shape)


def _instance_stats_update(x, running_mean: Tensor | None, running_var: Tensor | None, momentum: float):
    """running <- (1 - momentum) running + momentum * (per-instance statistic averaged over the batch), the
    variance unbiased per instance: PyTorch's batch_norm over the (1, N*C, ...) view, averaged back over N."""
    n, c = x.shape[0], x.shape[1]
    xr = x.reshape(n, c, -1) if x.size else x.reshape(n, c, math.prod(x.shape[2:]))
    xr = xr.astype(np.float32) if xr.dtype == np.float16 else xr  # (float32 statistics, as the kernels)
    s = xr.shape[2]
    mean = xr.mean(axis=2)
    xc = xr - mean[:, :, None]
    var = (xc * xc).sum(axis=2) / max(s - 1, 1)
    # in place on the buffers' own memory, as batch_norm does (PyTorch writes them inside the kernel)
    for buf, stat in ((running_mean, mean), (running_var, var)):
        if buf is not None:
            buf._data *= 1 - momentum
            buf._data += (momentum * stat.mean(axis=0)).astype(buf._data.dtype, copy=False)


def instance_norm(input: Tensor, running_mean: Tensor | None = None, running_var: Tensor | None = None,
                  weight: Tensor | None = None, bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """(x - E[x]) / sqrt(Var[x] + eps) * weight + bias per sample and channel (statistics over the spatial
    dims, biased variance); with use_input_stats=False the running statistics normalize instead. Given
    running buffers and use_input_stats, they are updated in place (unbiased variance, averaged over N)."""
    shape = input._data.shape
    if use_input_stats and math.prod(shape[2:]) == 1:
        raise ValueError("Expected more than 1 spatial element when training, got input size "
                         f"{size_str(shape)}")
    if not use_input_stats and (running_mean is None or running_var is None):
        raise RuntimeError("Expected running_mean and running_var to be defined when use_input_stats is "
                           "false")
    n, c = shape[0], shape[1]
    # PyTorch runs batch_norm on a (1, N*C, ...) view with every per-channel tensor repeated N times: its
    # size checks (and their wording) count N*C channels
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if t is not None and t._data.size * n != n * c:
            raise RuntimeError(f"{name} should contain {n * c} elements not {t._data.size * n}")
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    require_float(input._data, "batch_norm")
    spatial = math.prod(shape[2:])
    y = layer_norm(input.reshape(n, c, spatial), (spatial,), eps=eps)
    if running_mean is not None or running_var is not None:
        _instance_stats_update(input._data, running_mean, running_var, momentum)
    return _affine(y, weight, bias, c).reshape(shape)


def _normalized_dims(input: Tensor, normalized_shape) -> tuple:
    ns = (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) else \
        tuple(int(s) for s in normalized_shape)
    if not ns:
        raise RuntimeError("Expected normalized_shape to be at least 1-dimensional, i.e., containing at "
                           "least one element, but got normalized_shape = []")
    shape = input._data.shape
    if len(shape) < len(ns):
        raise ValueError(f"Input tensor must have at least {len(ns)} dimensions, but got {len(shape)}")
    if shape[len(shape) - len(ns):] != ns:
        # (PyTorch's rms_norm writes "[*4]" where layer_norm writes "[*, 4]")
        raise RuntimeError(f"Given normalized_shape={list(ns)}, expected input with shape [*"
                           f"{', '.join(map(str, ns))}], but got input of size{list(shape)}")
    return ns


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """x / sqrt(mean(x^2) + eps) * weight over the trailing ``normalized_shape`` dims; eps=None is the machine
    epsilon of the computation dtype (float32 for float16 inputs, which are computed in float32)."""
    ns = _normalized_dims(input, normalized_shape)
    if weight is not None and weight._data.shape != ns:
        raise RuntimeError("Expected weight to be of same shape as normalized_shape, but got weight of shape "
                           f"{list(weight._data.shape)} and normalized_shape = {list(ns)}")
    require_float(input._data, "rms_norm")
    dt = input._data.dtype
    x = input.float() if dt == np.float16 else input
    if eps is None:
        eps = float(np.finfo(x._data.dtype).eps)
    nd = x._data.ndim
    dims = tuple(range(nd - len(ns), nd))
    y = x * (x.pow(2).mean(dims, keepdim=True) + eps).rsqrt()
    if weight is not None:
        y = y * weight
    return y.to(_dtype.from_numpy_dtype(dt)) if y._data.dtype != dt else y


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Tensor:
    """x / (k + alpha / size * sum of x^2 over the ``size`` neighbouring channels)^beta; the window runs from
    c - size // 2 to c + (size - 1) // 2, zero-padded at the ends (PyTorch's avg_pool over channels)."""
    dim = input.dim()
    if dim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality                          input (got {dim} "
                         "dimensions)")
    if input.numel() == 0:
        return input
    shape = input._data.shape
    # PyTorch pools (N, 1, C, rest...) with a (size, 1[, 1]) window; with the rest flattened into one dim the
    # window is the same, so a 2-d average pool covers every input rank
    div = (input * input).reshape(shape[0], 1, shape[1], -1)
    div = pad(div, (0, 0, size // 2, (size - 1) // 2))
    div = avg_pool2d(div, (size, 1), stride=1).reshape(shape)
    return input / (div * alpha + k).pow(beta)
