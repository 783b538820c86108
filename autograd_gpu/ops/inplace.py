"""In-place ops (add_, mul_, ..., copy_, fill_, zero_, __setitem__) with PyTorch's version counters.

Without gradient tracking the array is updated in place. With tracking, the op runs out of place on a
copy that stands in for the old value (so any node that saved it keeps correct data), the result is
written back into this tensor's memory, and the tensor takes the new node as its grad_fn.
"""
from __future__ import annotations

from .. import _dtype
from ..autograd.grad_mode import state as _grad_state
from ..autograd.node import Op
from ..tensor import Tensor


def _cast_error(result_dtype, self_dtype):
    names = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long", "int32": "Int",
             "bool": "Bool", "int16": "Short", "int8": "Char", "uint8": "Byte"}
    r = names[_dtype.from_numpy_dtype(result_dtype).name]
    s = names[_dtype.from_numpy_dtype(self_dtype).name]
    return RuntimeError(f"result type {r} can't be cast to the desired output type {s}")


def apply_inplace(self: Tensor, fn, *args, **kwargs) -> Tensor:
    """Run ``fn(self, *args)`` (an out-of-place op) and store its result in ``self``'s memory."""
    self._check_inplace()
    tracking = _grad_state.enabled and (
        self._requires_grad or any(isinstance(a, Tensor) and a._requires_grad for a in args))
    if tracking:
        old = Tensor._make(self._data.copy(), self._device, self._requires_grad, self.grad_fn, self._output_nr)
        out = fn(old, *args, **kwargs)
    else:
        prev = _grad_state.enabled
        _grad_state.enabled = False
        try:
            out = fn(self.detach(), *args, **kwargs)
        finally:
            _grad_state.enabled = prev
    od, sd = out._data, self._data
    if od.shape != sd.shape:
        raise RuntimeError(f"output with shape [{', '.join(map(str, sd.shape))}] doesn't match the broadcast shape "
                           f"[{', '.join(map(str, od.shape))}]")
    if od.dtype != sd.dtype:
        if _dtype.from_numpy_dtype(od.dtype).category > _dtype.from_numpy_dtype(sd.dtype).category:
            raise _cast_error(od.dtype, sd.dtype)
    sd[...] = od
    self._version[0] += 1
    if tracking:
        self.grad_fn = out.grad_fn
        self._output_nr = out._output_nr
        self._requires_grad = out._requires_grad
    return self


def _method(fn_name, module):
    cache = []

    def method(self, *args, **kwargs):
        if not cache:
            import importlib
            cache.append(getattr(importlib.import_module(module), fn_name))
        return apply_inplace(self, cache[0], *args, **kwargs)
    method.__name__ = fn_name + "_"
    return method


def zero_(self: Tensor) -> Tensor:
    """Fill with zeros in place."""
    self._check_inplace()
    if _grad_state.enabled and self.grad_fn is not None:
        return apply_inplace(self, ZeroBackward0.apply)
    self._data.fill(0)
    self._version[0] += 1
    return self


class ZeroBackward0(Op):
    def forward(self, x):
        return self.dev.xp.zeros_like(x)

    def backward(self, g):
        return g * 0


def fill_(self: Tensor, value) -> Tensor:
    """Fill with ``value`` in place (a 0-d tensor value is differentiable)."""
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                               f"{value._data.ndim} dimensions.")
        from .shape import expand
        return apply_inplace(self, lambda s, v: expand(v.to(s.dtype), s._data.shape) + s * 0, value)
    self._check_inplace()
    if _grad_state.enabled and self.grad_fn is not None:
        return apply_inplace(self, lambda s: s * 0 + value)
    self._data.fill(value)
    self._version[0] += 1
    return self


def copy_(self: Tensor, src, non_blocking=False) -> Tensor:
    """Copy ``src`` (broadcast, cast, moved across devices) into ``self``."""
    if not isinstance(src, Tensor):
        raise TypeError(f"copy_(): argument 'other' (position 1) must be Tensor, not {type(src).__name__}")
    from .shape import expand

    def _copy(s, v):
        v = v.to(s._device) if v._device is not s._device else v
        v = v.to(s.dtype) if v._data.dtype != s._data.dtype else v
        return expand(v, s._data.shape) + s * 0 if s._requires_grad else expand(v, s._data.shape).clone()
    self._check_inplace()
    try:
        import numpy as np
        np.broadcast_shapes(src._data.shape, self._data.shape)
    except ValueError:
        raise RuntimeError(f"The size of tensor a ({self._data.shape[-1] if self._data.ndim else 1}) must match the "
                           f"size of tensor b ({src._data.shape[-1]}) at non-singleton dimension "
                           f"{self._data.ndim - 1}") from None
    if not (_grad_state.enabled and (self._requires_grad or src._requires_grad)):
        from .conversion import move_array
        d = move_array(src._data, src._device, self._device)
        self._data[...] = d
        self._version[0] += 1
        return self
    return apply_inplace(self, _copy, src)


TENSOR_METHODS = {
    "zero_": zero_, "fill_": fill_, "copy_": copy_,
    "add_": _method("add", "autograd_gpu.ops.pointwise"),
    "sub_": _method("sub", "autograd_gpu.ops.pointwise"),
    "subtract_": _method("sub", "autograd_gpu.ops.pointwise"),
    "mul_": _method("mul", "autograd_gpu.ops.pointwise"),
    "multiply_": _method("mul", "autograd_gpu.ops.pointwise"),
    "div_": _method("div", "autograd_gpu.ops.pointwise"),
    "divide_": _method("div", "autograd_gpu.ops.pointwise"),
    "pow_": _method("pow", "autograd_gpu.ops.pointwise"),
    "neg_": _method("neg", "autograd_gpu.ops.pointwise"),
}
