"""softmax / log_softmax over any dim: NumPy on cpu, one fused row kernel per direction on CUDA devices.

The backward ops (PyTorch's ``_softmax_backward_data`` nodes) run the fused *_bwd kernels and have their own
backward in Tensor ops, so higher-order gradients work.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..autograd.node import Op
from ..tensor import Tensor
from ._nnutil import TORCH_NAMES, fused as _fused, wrap_dim as _wrap
from ._pw_common import _F16


def _softmax_np(xp, x, dim, log):
    if x.dtype == _F16:  # PyTorch computes in float32 and rounds once
        return _softmax_np(xp, x.astype(xp.float32), dim, log).astype(x.dtype)
    if x.ndim == 0:
        return _softmax_np(xp, x.reshape(1), 0, log).reshape(())
    if x.size == 0:
        return x.copy()
    # (the ufunc reductions are what ndarray.max / .sum call, minus their Python wrappers)
    amax, asum = (np.maximum.reduce, np.add.reduce) if xp is np else (_max, _sum)
    z = x - amax(x, axis=dim, keepdims=True)
    if log:
        z -= xp.log(asum(xp.exp(z), axis=dim, keepdims=True))  # (z is a fresh temporary: reuse it)
        return z
    e = xp.exp(z, out=z)
    e /= asum(e, axis=dim, keepdims=True)
    return e


def _max(x, axis, keepdims):
    return x.max(axis=axis, keepdims=keepdims)


def _sum(x, axis, keepdims):
    return x.sum(axis=axis, keepdims=keepdims)


def _check_softmax_dtype(x, log):
    if x.dtype.kind != "f":
        kern = "log_softmax_lastdim_kernel_impl" if log else "softmax_lastdim_kernel_impl"
        raise NotImplementedError(f'"{kern}" not implemented for \'{TORCH_NAMES[x.dtype.name]}\'')


class SoftmaxBackward0(Op):
    save_result = True

    def forward(self, x, dim=-1):
        _check_softmax_dtype(x, False)
        self.dim = dim
        if self.dev.uses_kernels:
            return _fused().softmax_fwd(self.dev, x, dim)
        return _softmax_np(self.dev.xp, x, dim, False)

    def backward_raw(self, gd):
        return SoftmaxBackwardDataBackward0.forward_arrays(self.dev, gd, self.result_array(), dim=self.dim)

    def backward(self, g):
        return SoftmaxBackwardDataBackward0.apply(g, self.result, dim=self.dim)


class SoftmaxBackwardDataBackward0(Op):
    """_softmax_backward_data(grad, y, dim) = y * (grad - sum(grad * y, dim))."""
    save = (0, 1)

    def forward(self, g, y, dim=-1):
        self.dim = dim
        if self.dev.uses_kernels:
            return _fused().softmax_bwd(self.dev, y, g, dim)
        if y.ndim == 0:
            return g * 0
        return y * (g - (g * y).sum(axis=dim, keepdims=True))

    def backward(self, gg):
        g, y = self.saved_tensors
        need = self.needs_input_grad
        d = self.dim if y._data.ndim else None
        gg_g = SoftmaxBackwardDataBackward0.apply(gg, y, dim=self.dim) if need[0] else None
        gg_y = None
        if need[1]:  # d/dy [y (g - <g, y>)] applied to gg: gg (g - <g, y>) - g <gg, y>
            gg_y = gg * (g - _sum_keep(g * y, d)) - g * _sum_keep(gg * y, d)
        return gg_g, gg_y


class LogSoftmaxBackward0(Op):
    save_result = True

    def forward(self, x, dim=-1):
        _check_softmax_dtype(x, True)
        self.dim = dim
        if self.dev.uses_kernels:
            return _fused().log_softmax_fwd(self.dev, x, dim)
        return _softmax_np(self.dev.xp, x, dim, True)

    def backward_raw(self, gd):
        y = self.result_array()
        if self.dev.uses_kernels or not y.ndim:
            return self._backward_unwrapped(gd)
        # _log_softmax_backward_data's arithmetic, in place on the one temporary
        xp = self.dev.xp
        e = xp.exp(y)
        e *= np.add.reduce(gd, axis=self.dim, keepdims=True) if type(gd) is np.ndarray else \
            gd.sum(axis=self.dim, keepdims=True)
        return xp.subtract(gd, e, out=e)

    def backward(self, g):
        return LogSoftmaxBackwardDataBackward0.apply(g, self.result, dim=self.dim)


class LogSoftmaxBackwardDataBackward0(Op):
    """_log_softmax_backward_data(grad, y, dim) = grad - exp(y) * sum(grad, dim)."""
    save = (0, 1)

    def forward(self, g, y, dim=-1):
        self.dim = dim
        if self.dev.uses_kernels:
            return _fused().log_softmax_bwd(self.dev, y, g, dim)
        xp = self.dev.xp
        if y.ndim == 0:
            return g - xp.exp(y) * g
        return g - xp.exp(y) * g.sum(axis=dim, keepdims=True)

    def backward(self, gg):
        g, y = self.saved_tensors
        need = self.needs_input_grad
        d = self.dim if y._data.ndim else None
        p = y.exp()
        gg_g = gg - _sum_keep(gg * p, d) if need[0] else None
        gg_y = -(gg * p) * _sum_keep(g, d) if need[1] else None
        return gg_g, gg_y


def _sum_keep(t: Tensor, dim):
    return t if dim is None else t.sum(dim, keepdim=True)


def _softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include "
                  "dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def _softmax_impl(cls, input, dim, dtype):
    if dtype is not None:
        input = input.to(dtype)
    return cls.apply(input, dim=_wrap(dim, input._data.ndim))


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """exp(x - max) / sum(exp(x - max)) along dim (input first cast to dtype when given)."""
    if dim is None:
        dim = _softmax_dim("softmax", input.dim(), _stacklevel)
    return _softmax_impl(SoftmaxBackward0, input, dim, dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """x - max - log(sum(exp(x - max))) along dim."""
    if dim is None:
        dim = _softmax_dim("log_softmax", input.dim(), _stacklevel)
    return _softmax_impl(LogSoftmaxBackward0, input, dim, dtype)


def torch_softmax(input: Tensor, dim: int, dtype=None) -> Tensor:
    """torch.softmax / Tensor.softmax: softmax along dim."""
    return _softmax_impl(SoftmaxBackward0, input, dim, dtype)


def torch_log_softmax(input: Tensor, dim: int, dtype=None) -> Tensor:
    """torch.log_softmax / Tensor.log_softmax: log_softmax along dim."""
    return _softmax_impl(LogSoftmaxBackward0, input, dim, dtype)
