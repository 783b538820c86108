"""Clamp family and maximum/minimum.

Gradient masks (inside the clamp interval, which side of a tie) are computed from the saved inputs' raw
arrays in backward: they are piecewise constant, so the gradient stays exact and differentiable in ``g``
(double backward) without recording the comparisons. The input gradient of clamp is one op,
ClampBackwardBackward0, which is one fused kernel launch (kernels/activations.cuh clamp_bwd) on CUDA devices.
"""
from __future__ import annotations

import operator

from ..autograd.node import Op
from ..tensor import Tensor
from ._pw_common import as_result_dtype, const, keep, promote_all
from ._util import is_scalar, promote, py_scalar


# --- clamp ---------------------------------------------------------------------------------------------

class ClampBackwardBackward0(Op):
    """gx = g where lo <= x <= hi else 0 (None: unbounded; NaN x: 0). Linear in g with a mask that is
    constant in x, so its own backward is itself; x (raw, already version-checked) is no input, so like
    PyTorch's the result requires grad only through g."""

    def forward(self, g, x=None, lo=None, hi=None):
        self.x, self.lo, self.hi = x, lo, hi
        if self.dev.uses_kernels and g.dtype == x.dtype and g.dtype.kind == "f":
            from . import fused
            return fused.clamp_bwd(self.dev, x, g, lo, hi)
        m = None if lo is None else x >= lo
        if hi is not None:
            m = x <= hi if m is None else m & (x <= hi)
        return self.dev.xp.where(m, g, g.dtype.type(0))

    def backward(self, gg):
        return ClampBackwardBackward0.apply(gg, x=self.x, lo=self.lo, hi=self.hi)


def _clamp_grad(g, x: Tensor, lo=None, hi=None):
    return ClampBackwardBackward0.apply(g, x=x._data, lo=lo, hi=hi)


class ClampBackward1(Op):
    """clamp with scalar bounds: gradient passes where min <= x <= max (NaN x: 0), like PyTorch."""
    save = (0,)

    def forward(self, x, min=None, max=None):
        self.lo, self.hi = min, max
        xp = self.dev.xp
        out = x if min is None else xp.maximum(x, min)
        return out if max is None else xp.minimum(out, max)

    def backward(self, g):
        return _clamp_grad(g, self.saved_tensors[0], self.lo, self.hi)


class ClampBackward0(Op):
    """clamp with tensor bounds; inputs (x, min), (x, max) or (x, min, max) as ``has_min``/``has_max`` say."""

    def forward(self, x, *bounds, has_min=True, has_max=True):
        self.has_min, self.has_max = has_min, has_max
        self.save = tuple(range(1 + len(bounds)))
        xp = self.dev.xp
        out = xp.maximum(x, bounds[0]) if has_min else x
        return xp.minimum(out, bounds[-1]) if has_max else out

    def backward(self, g):
        saved = self.saved_tensors
        x = saved[0]._data
        lo = saved[1]._data if self.has_min else None
        hi = saved[-1]._data if self.has_max else None
        need = self.needs_input_grad
        grads = [None] * len(need)
        if need[0]:
            grads[0] = _clamp_grad(g, saved[0], lo, hi)
        if lo is not None and hi is not None:
            if need[1]:  # min > max: max wins, min gets nothing
                grads[1] = keep((x < lo) & (lo < hi), g)
            if need[2]:
                grads[2] = keep((x > hi) | (hi < lo), g)
        elif need[1]:
            grads[1] = keep(x < lo, g) if lo is not None else keep(x > hi, g)
        return tuple(grads)


class ClampMinBackward0(Op):
    save = (0,)

    def forward(self, x, min=None):
        self.lo = min
        return self.dev.xp.maximum(x, min)

    def backward(self, g):
        return _clamp_grad(g, self.saved_tensors[0], lo=self.lo)


class ClampMinBackward1(Op):
    save = (0, 1)

    def forward(self, x, lo):
        return self.dev.xp.maximum(x, lo)

    def backward(self, g):
        x, lo = self.saved_tensors
        need = self.needs_input_grad
        return (_clamp_grad(g, x, lo=lo._data) if need[0] else None,
                keep(x._data < lo._data, g) if need[1] else None)


class ClampMaxBackward0(Op):
    save = (0,)

    def forward(self, x, max=None):
        self.hi = max
        return self.dev.xp.minimum(x, max)

    def backward(self, g):
        return _clamp_grad(g, self.saved_tensors[0], hi=self.hi)


class ClampMaxBackward1(Op):
    save = (0, 1)

    def forward(self, x, hi):
        return self.dev.xp.minimum(x, hi)

    def backward(self, g):
        x, hi = self.saved_tensors
        need = self.needs_input_grad
        return (_clamp_grad(g, x, hi=hi._data) if need[0] else None,
                keep(x._data > hi._data, g) if need[1] else None)


def _bad_bound(fn, sig, *named):
    """PyTorch's argument-parser TypeError for a bound that is neither a Tensor nor a Number."""
    got = ", ".join(["Tensor"] + [f"{k}={type(v).__name__}" if k else type(v).__name__ for k, v in named
                                  if v is not None])
    return TypeError(f"{fn}() received an invalid combination of arguments - got ({got}), but expected one "
                     f"of:\n * (Tensor input, {sig.format('Tensor')}, *, Tensor out = None)\n"
                     f" * (Tensor input, {sig.format('Number')}, *, Tensor out = None)\n")


def _check_bounds(fn, sig, *named):
    for _, b in named:
        if b is not None and not isinstance(b, Tensor) and not is_scalar(b):
            raise _bad_bound(fn, sig, *named)


def clamp(input: Tensor, min=None, max=None, *, out=None) -> Tensor:
    """min(max(x, min), max); the gradient passes where min <= x <= max."""
    _check_bounds("clamp", "{0} min = None, {0} max = None", ("min", min), ("max", max))
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        from .pointwise import _to_tensor
        lo = _to_tensor(min, input) if min is not None and not isinstance(min, Tensor) else min
        hi = _to_tensor(max, input) if max is not None and not isinstance(max, Tensor) else max
        input, lo, hi = promote_all(input, lo, hi)
        bounds = [b for b in (lo, hi) if b is not None]
        return ClampBackward0.apply(input, *bounds, has_min=lo is not None, has_max=hi is not None)
    min, max = py_scalar(min), py_scalar(max)
    input = as_result_dtype(input, min, max)
    return ClampBackward1.apply(input, min=min, max=max)


clip = clamp


def clamp_min(input: Tensor, min) -> Tensor:
    """max(x, min)."""
    if isinstance(min, Tensor):
        input, min = promote(input, min)
        return ClampMinBackward1.apply(input, min)
    _check_bounds("clamp_min", "{0} min", (None, min))
    min = py_scalar(min)
    return ClampMinBackward0.apply(as_result_dtype(input, min), min=min)


def clamp_max(input: Tensor, max) -> Tensor:
    """min(x, max)."""
    if isinstance(max, Tensor):
        input, max = promote(input, max)
        return ClampMaxBackward1.apply(input, max)
    _check_bounds("clamp_max", "{0} max", (None, max))
    max = py_scalar(max)
    return ClampMaxBackward0.apply(as_result_dtype(input, max), max=max)


# --- maximum / minimum -----------------------------------------------------------------------------------

class MaximumBackward0(Op):
    """Ties split the gradient half/half; a NaN operand passes it to both (PyTorch's masks)."""
    save = (0, 1)

    def forward(self, x, y):
        return self.dev.xp.maximum(x, y)

    def backward(self, g):
        return _split(self, g, operator.lt, operator.gt)


class MinimumBackward0(Op):
    save = (0, 1)

    def forward(self, x, y):
        return self.dev.xp.minimum(x, y)

    def backward(self, g):
        return _split(self, g, operator.gt, operator.lt)


def _split(node, g, x_loses, y_loses):
    x, y = (t._data for t in node.saved_tensors)
    tie = x == y
    any_tie = bool(tie.any())
    need = node.needs_input_grad
    return (_share(g, x_loses(x, y), tie, any_tie) if need[0] else None,
            _share(g, y_loses(x, y), tie, any_tie) if need[1] else None)


def _share(g, loses, tie, any_tie):
    # where(), not g * weight: masked entries are +0 like PyTorch's masked_fill (g * 0 would give -0)
    if not any_tie:
        return keep(~loses, g)
    half = g * const(tie.astype(g._data.dtype) * -0.5 + 1, g)
    return keep(~loses, half)


def _tensor_other(fn, other):
    if not isinstance(other, Tensor):
        raise TypeError(f"{fn}(): argument 'other' (position 2) must be Tensor, not {type(other).__name__}")


def maximum(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Elementwise max(input, other) (NaN propagates)."""
    _tensor_other("maximum", other)
    input, other = promote(input, other)
    return MaximumBackward0.apply(input, other)


def minimum(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Elementwise min(input, other) (NaN propagates)."""
    _tensor_other("minimum", other)
    input, other = promote(input, other)
    return MinimumBackward0.apply(input, other)


TENSOR_METHODS = {"clamp": clamp, "clip": clamp, "clamp_min": clamp_min, "clamp_max": clamp_max,
                  "maximum": maximum, "minimum": minimum}
