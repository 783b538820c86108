"""In-place ops (add_, mul_, ..., copy_, fill_, zero_, __setitem__) with PyTorch's version counters.

Without gradient tracking the array is updated in place. With tracking, the op runs out of place on a
copy that stands in for the old value (so any node that saved it keeps correct data), the result is
written back into this tensor's memory, and the tensor takes the new node as its grad_fn.
"""
from __future__ import annotations

import operator as _operator

import numpy as np

from .. import _dtype
from ..autograd.grad_mode import state as _grad_state
from ..backend.fp import quiet_enter as _quiet_enter, quiet_exit as _quiet_exit
from ..backend.device import CPU as _CPU
from ..autograd import node as _node
from ..autograd.node import Op
from ..tensor import Tensor


def _cast_error(result_dtype, self_dtype):
    names = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long", "int32": "Int",
             "bool": "Bool", "int16": "Short", "int8": "Char", "uint8": "Byte"}
    r = names[_dtype.from_numpy_dtype(result_dtype).name]
    s = names[_dtype.from_numpy_dtype(self_dtype).name]
    return RuntimeError(f"result type {r} can't be cast to the desired output type {s}")


def _shape_str(shape):
    return "[" + ", ".join(map(str, shape)) + "]"


def apply_inplace(self: Tensor, fn, *args, **kwargs) -> Tensor:
    """Run ``fn(self, *args)`` (an out-of-place op) and store its result in ``self``'s memory."""
    self._check_inplace()
    tracking = _grad_state.enabled and (
        self._requires_grad or any(isinstance(a, Tensor) and a._requires_grad for a in args))
    if tracking:
        # ``old`` stands for the pre-update value; it aliases self's memory and is copied below only if a
        # node recorded by ``fn`` kept it (PyTorch saves ``self.clone()`` for such in-place ops too)
        old = Tensor._make(self._data, self._device, self._requires_grad, self.grad_fn, self._output_nr)
        seq0 = _peek_seq()
        if self._fw_grad is not None:  # forward AD: the tangent travels with the pre-update value
            old._fw_grad = self._fw_grad
        out = fn(old, *args, **kwargs)
    else:
        prev = _grad_state.enabled
        _grad_state.enabled = False
        try:
            src = self.detach()
            if self._fw_grad is not None:
                src._fw_grad = self._fw_grad
            out = fn(src, *args, **kwargs)
        finally:
            _grad_state.enabled = prev
    od, sd = out._data, self._data
    if od.shape != sd.shape:
        raise RuntimeError(f"output with shape {_shape_str(sd.shape)} doesn't match the broadcast shape "
                           f"{_shape_str(od.shape)}")
    if od.dtype != sd.dtype:
        if _dtype.from_numpy_dtype(od.dtype).category > _dtype.from_numpy_dtype(sd.dtype).category:
            raise _cast_error(od.dtype, sd.dtype)
    if tracking and out.grad_fn is not None:
        _detach_saved_old(out.grad_fn, old, seq0)
    if od is not sd:
        sd[...] = od
    self._version[0] += 1
    if tracking:
        self.grad_fn = out.grad_fn
        self._output_nr = out._output_nr
        self._requires_grad = out._requires_grad
    if out._fw_grad is not None or self._fw_grad is not None:
        from ..autograd.forward_ad import _carry_tangent
        _carry_tangent(self, out)
    return self


def _peek_seq() -> int:
    return _node._next_seq()  # consumes one number; sequence numbers only need to increase


def _detach_saved_old(root, old, seq0):
    """Give ``old`` its own copy of the data if any node made by this in-place op kept it (or its array):
    the write into self's memory must not change what backward reads."""
    data = old._data
    stack, seen = [root], set()
    while stack:
        n = stack.pop()
        if n is None or id(n) in seen or getattr(n, "_seq", -1) <= seq0:
            continue  # nodes older than this op (and leaves' AccumulateGrad) can't hold ``old``
        seen.add(id(n))
        res, saved = getattr(n, "_result", None), getattr(n, "_saved", ())
        # (saved values packed by saved_tensors_hooks are opaque: assume they keep ``old``)
        keeps = (type(saved) is not tuple or any(t is old for t in saved)
                 or (type(res) is tuple and res[0] is data)
                 or any(_holds(v, old, data) for v in vars(n).values()))
        if keeps:
            old._data = data.copy()
            return
        stack.extend(c for c, _ in n.next_functions)


def _holds(v, old, data):
    """Whether a node attribute is (or directly contains) ``old`` or an array aliasing its data."""
    if type(v) in (tuple, list):
        return any(_holds(x, old, data) for x in v if not isinstance(x, (tuple, list)))
    return v is old or v is data or getattr(v, "base", None) is data


def _method(fn_name, module):
    cache = []

    def method(self, *args, **kwargs):
        if not cache:
            import importlib
            cache.append(getattr(importlib.import_module(module), fn_name))
        return apply_inplace(self, cache[0], *args, **kwargs)
    method.__name__ = fn_name + "_"
    return method


def _arith_method(fn_name):
    """add_/sub_/mul_/div_: without gradient tracking, a same-dtype, same-shape Tensor or a Python number
    operand on cpu is applied by ndarray's in-place operator (one pass, no temporary: SGD's
    ``p -= lr * p.grad``); everything else takes apply_inplace. The result is bit-identical either way.
    The method's ``operator`` attribute is the form bound to ``-=`` and friends: no keyword arguments, so
    no keyword dict per call."""
    slow = _method(fn_name, "autograd_gpu.ops.pointwise")
    # (a -= b on the arrays: the ufunc loop of np.subtract(a, b, out=a) without parsing a keyword)
    iop = getattr(_operator, "i" + {"div": "truediv"}.get(fn_name, fn_name))
    if fn_name == "div":  # x / 0 is inf or nan without a NumPy warning, as out of place (pointwise._quiet_op)
        def iop(d, od, _idiv=iop):
            token = _quiet_enter()
            try:
                _idiv(d, od)
            finally:
                _quiet_exit(token)

    def operator(self, other):
        d = self._data
        kind = type(other)
        if kind is float or kind is int:
            od = other
            tracked = self._requires_grad
        elif isinstance(other, Tensor):
            od = other._data
            if (od.dtype is not d.dtype and od.dtype != d.dtype) or od.shape != d.shape \
                    or other._device is not _CPU or other._fw_grad is not None:
                return slow(self, other)
            tracked = self._requires_grad or other._requires_grad
        else:
            return slow(self, other)
        enabled = _grad_state.enabled  # (read once: a thread-local attribute)
        if self._device is not _CPU or self._fw_grad is not None or d.dtype.kind != "f" or (tracked and enabled):
            return slow(self, other)
        if enabled or self._is_inference:  # (under no_grad only an inference tensor is refused)
            self._check_inplace()
        iop(d, od)
        self._version[0] += 1
        return self

    def method(self, other, **kwargs):
        if kwargs and (len(kwargs) > 1 or kwargs.get("alpha", 0) != 1):
            return slow(self, other, **kwargs)
        return operator(self, other)
    method.__name__ = fn_name + "_"
    operator.__name__ = f"__i{'truediv' if fn_name == 'div' else fn_name}__"
    method.operator = operator
    return method


def _zeros(g: Tensor) -> Tensor:
    """The gradient of a constant: zeros, with no graph (PyTorch: zeros_like(grad))."""
    return Tensor._make(g._device.xp.zeros_like(g._data), g._device)


class ZeroBackward0(Op):
    def forward(self, x):
        return self.dev.xp.zeros_like(x)

    def backward(self, g):
        return _zeros(g)


class FillBackward2(Op):
    """fill_(Scalar)."""

    def forward(self, x, value=0):
        return self.dev.xp.full_like(x, value)

    def backward(self, g):
        return _zeros(g)


class FillBackward3(Op):
    """fill_(0-d Tensor): the value receives the sum of the gradient."""

    def forward(self, x, v):
        return self.dev.xp.full_like(x, v)

    def backward(self, g):
        need = self.needs_input_grad
        return (_zeros(g) if need[0] else None), (g.sum() if need[1] else None)


class CopyBackwards(Op):
    """copy_(src): src broadcast to self's shape and cast to self's dtype (the engine undoes both)."""

    def forward(self, x, src):
        return self.dev.xp.array(self.dev.xp.broadcast_to(src, x.shape), dtype=x.dtype)

    def backward(self, g):
        need = self.needs_input_grad
        return (_zeros(g) if need[0] else None), (g if need[1] else None)


def zero_(self: Tensor) -> Tensor:
    """Fill with zeros in place."""
    self._check_inplace()
    if _grad_state.enabled and self.grad_fn is not None or self._fw_grad is not None:  # (forward-AD tangent)
        return apply_inplace(self, ZeroBackward0.apply)
    self._data.fill(0)
    self._version[0] += 1
    return self


def fill_(self: Tensor, value) -> Tensor:
    """Fill with ``value`` in place (a 0-d tensor value is differentiable)."""
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                               f"{value._data.ndim} dimensions.")
        return apply_inplace(self, _fill_tensor, value)
    self._check_inplace()
    if _grad_state.enabled and self.grad_fn is not None or self._fw_grad is not None:
        return apply_inplace(self, FillBackward2.apply, value=value)
    self._data.fill(value)
    self._version[0] += 1
    return self


def _fill_tensor(s, v):
    if v._device is not s._device:
        v = v.to(s._device)  # a cpu 0-d value may fill a tensor on any device, as in PyTorch
    return FillBackward3.apply(s, v)


def copy_(self: Tensor, src, non_blocking=False) -> Tensor:
    """Copy ``src`` (broadcast, cast, moved across devices) into ``self``."""
    if not isinstance(src, Tensor):
        from ._util import is_scalar
        if not is_scalar(src):
            raise TypeError("copy_(): argument 'other' (position 1) "
                            f"must be Tensor, not {type(src).__name__}")
        src = Tensor._make(self._device.xp.asarray(src), self._device)
    self._check_inplace()
    ss, ds = src._data.shape, self._data.shape
    if ss != ds:
        err = _broadcast_error(ds, ss)
        if err is not None:
            raise err
    if not (_grad_state.enabled and (self._requires_grad or src._requires_grad)) and \
            self._fw_grad is None and src._fw_grad is None:
        from .conversion import move_array
        self._data[...] = move_array(src._data, src._device, self._device)
        self._version[0] += 1
        return self
    return apply_inplace(self, _copy, src)


def _copy(s, v):
    if v._device is not s._device:
        v = v.to(s._device)
    return CopyBackwards.apply(s, v)


def _broadcast_error(ds, ss):
    """PyTorch's error when ``ss`` can't broadcast to ``ds`` (None when it can)."""
    n = max(len(ds), len(ss))
    a = (1,) * (n - len(ds)) + tuple(ds)
    b = (1,) * (n - len(ss)) + tuple(ss)
    for i in range(n - 1, -1, -1):
        if a[i] != b[i] and a[i] != 1 and b[i] != 1:
            return RuntimeError(f"The size of tensor a ({a[i]}) must match the size of tensor b ({b[i]}) at "
                                f"non-singleton dimension {i}")
    if len(ss) > len(ds) or any(x != y and x == 1 for x, y in zip(a, b)):
        out = tuple(max(x, y) for x, y in zip(a, b))
        return RuntimeError(f"output with shape {_shape_str(ds)} doesn't match the broadcast shape "
                            f"{_shape_str(out)}")
    return None


TENSOR_METHODS = {
    "zero_": zero_, "fill_": fill_, "copy_": copy_,
    "add_": _arith_method("add"),
    "sub_": _arith_method("sub"),
    "subtract_": _arith_method("sub"),
    "mul_": _arith_method("mul"),
    "multiply_": _arith_method("mul"),
    "div_": _arith_method("div"),
    "divide_": _arith_method("div"),
    "pow_": _method("pow", "autograd_gpu.ops.pointwise"),
    "neg_": _method("neg", "autograd_gpu.ops.pointwise"),
}
# pointwise math and comparisons (ops/pointwise_*.py): name_ is name out of place, written back
TENSOR_METHODS.update({f"{n}_": _method(n, f"autograd_gpu.ops.{mod}") for mod, names in (
    ("pointwise_math", "abs absolute sqrt rsqrt exp exp2 expm1 log log2 log10 log1p sin cos tan asin acos "
                       "atan arcsin arccos arctan sinh cosh reciprocal sign sgn square floor ceil trunc fix "
                       "round frac"),
    ("pointwise_special", "erf erfc erfinv"),
    ("pointwise_clamp", "clamp clip clamp_min clamp_max"),
    ("pointwise_binary", "fmod remainder floor_divide lerp addcmul addcdiv atan2 arctan2 nan_to_num"),
    ("pointwise_logic", "eq ne lt le gt ge greater greater_equal less less_equal not_equal logical_and "
                        "logical_or logical_xor logical_not bitwise_and bitwise_or bitwise_xor bitwise_not"),
) for n in names.split()})
