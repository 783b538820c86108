"""Tangent (jvp) rules for forward-mode AD, keyed by op class name (= PyTorch's backward node name).

Three ways to get an output tangent, cheapest first:
1. RULES: an explicit formula (linear ops apply themselves to the tangent; products use the product rule).
   Written with Tensor ops on the real primals, so the tangent is itself differentiable.
2. ELEMENTWISE ops: the Jacobian is diagonal, so J v = J^T v is the op's own backward applied to v
   (PyTorch's ``auto_element_wise``): one backward call per input carrying a tangent.
3. Anything else: the double-vjp trick. With u a dummy cotangent, g(u) = J^T u is linear in u, so
   d/du <J^T u, v> = J v: one backward with create_graph and one more backward, on a copy of the op
   applied to detached inputs (a two-node graph, so the cost doesn't grow with the surrounding graph).
   Correct for every op whose backward is differentiable in its incoming gradient.
"""
from __future__ import annotations

from .grad_mode import state as _grad_state


def _tensor_cls():
    from ..tensor import Tensor
    return Tensor


def _lin(cls, inputs, params, v, outs):
    """A linear op of its single tensor input: the tangent goes through the op itself."""
    if len(inputs) != 1:
        return None
    t = cls.apply(v[0], **params)
    return t if type(t) is tuple else (t,)


def _lin_n(cls, inputs, params, v, outs):
    """A linear op of all its inputs (cat, stack): the op applied to the tangents, zeros where none."""
    Tensor = _tensor_cls()
    v = [Tensor._make(t._device.xp.zeros_like(t._data), t._device) if vi is None else vi
         for t, vi in zip(inputs, v)]
    return (cls.apply(*v, **params),)


def _reshape(cls, inputs, params, v, outs):
    return (v[0].reshape(outs[0]._data.shape),)  # reshape, not view: a tangent may be non-contiguous


def _expand(cls, inputs, params, v, outs):
    return (v[0].expand(outs[0]._data.shape),)


def _add_like(sign):
    def rule(cls, inputs, params, v, outs):
        if len(inputs) == 1:
            return (v[0],)
        a, b = v
        alpha = params.get("alpha", 1) * sign
        if b is None:
            return (a,)
        b = b if alpha == 1 else b * alpha
        return (b if a is None else a + b,)
    return rule


def _rsub(cls, inputs, params, v, outs):
    return (v[0] * -params.get("alpha", 1),)


def _mul(cls, inputs, params, v, outs):
    if len(inputs) == 1:
        return (v[0] * params["other"],)
    x, y = inputs
    a, b = v
    ta = None if a is None else a * y
    tb = None if b is None else x * b
    return (tb if ta is None else ta if tb is None else ta + tb,)


def _div(cls, inputs, params, v, outs):
    if len(inputs) == 1:
        return (v[0] / params["other"],)
    x, y = inputs
    a, b = v
    num = a if b is None else (-(b * outs[0]) if a is None else a - b * outs[0])
    return (num / y,)


def _zero(cls, inputs, params, v, outs):
    """A constant output (fill_ with a number): zero tangent."""
    o = outs[0]
    return (_tensor_cls()._make(o._device.xp.zeros_like(o._data), o._device),)


def _index_put(cls, inputs, params, v, outs):
    """x with values put at an index: linear in (x, values); a scalar put value is a constant."""
    p = dict(params, inplace=False)  # never write into a tangent: it may be shared with another tensor
    if len(inputs) == 1:
        if p.get("accumulate"):
            return (v[0],)
        p["value"] = 0
        return (cls.apply(v[0], **p),)
    return _lin_n(cls, inputs, p, v, outs)


def _bilinear(fn):
    """d(f(a, b)) = f(da, b) + f(a, db) for a product-like op f."""
    def rule(cls, inputs, params, v, outs):
        if len(inputs) != 2:
            return None
        a, b = inputs
        da, db = v
        ta = None if da is None else fn(da, b)
        tb = None if db is None else fn(a, db)
        return (tb if ta is None else ta if tb is None else ta + tb,)
    return rule


def _matmul(a, b):
    return a.matmul(b)


def _dot(a, b):
    return a.dot(b)


RULES = {
    "ViewBackward0": _reshape, "ReshapeAliasBackward0": _reshape,
    "ExpandBackward0": _expand,
    "AddBackward0": _add_like(1), "SubBackward0": _add_like(-1), "RsubBackward1": _rsub,
    "MulBackward0": _mul, "DivBackward0": _div,
    "MmBackward0": _bilinear(_matmul), "BmmBackward0": _bilinear(_matmul), "MvBackward0": _bilinear(_matmul),
    "UnsafeViewBackward0": _bilinear(_matmul), "DotBackward0": _bilinear(_dot),
    "CatBackward0": _lin_n, "StackBackward0": _lin_n, "CopyBackwards": _lin_n, "ZeroBackward0": _zero,
    "FillBackward2": _zero, "IndexPutBackward0": _index_put, "CopySlices": _index_put,
}
for _name in ("TransposeBackward0", "TBackward0", "PermuteBackward0", "UnsqueezeBackward0",
              "SqueezeBackward0",
              "SqueezeBackward1", "SqueezeBackward2", "SumBackward0", "SumBackward1", "SumToSizeBackward0",
              "MeanBackward0", "MeanBackward1", "CloneBackward0", "NegBackward0", "ToCopyBackward0",
              "AliasBackward0", "DiagonalBackward0", "SliceBackward0", "SelectBackward0", "FlipBackward0",
              "RollBackward0", "RepeatBackward0", "TileBackward0", "NarrowBackward0", "TrilBackward0",
              "TriuBackward0", "DiagEmbedBackward0", "ConjBackward0", "RealBackward0", "SplitBackward0",
              "SplitWithSizesBackward0", "UnbindBackward0"):
    RULES[_name] = _lin

# Pointwise ops (PyTorch's ``auto_element_wise``): their backward, applied to the tangent, is the jvp.
_ELEMENTWISE_BASES = (
    "Abs", "Acos", "Acosh", "Addcdiv", "Addcmul", "Asin", "Asinh", "Atan", "Atan2", "Atanh", "Ceil", "Celu",
    "Clamp", "ClampMax", "ClampMin", "Copysign", "Cos", "Cosh", "Deg2Rad", "Digamma", "Elu", "Erf", "Erfc",
    "Erfinv", "Exp", "Exp2", "Expm1", "Floor", "Fmax", "Fmin", "Fmod", "Frac", "Gelu", "Hardshrink",
    "Hardsigmoid", "Hardswish", "Hardtanh", "Hypot", "I0", "LeakyRelu", "Lerp", "Lgamma", "Log", "Log10",
    "Log1p", "Log1P", "Log2", "LogSigmoid", "Logaddexp", "Logaddexp2", "Logit", "Maximum", "Minimum", "Mish",
    "NanToNum", "NativeDropout", "Polygamma", "Pow", "Rad2Deg", "Reciprocal", "Relu", "Relu6", "Remainder",
    "Round", "Rsqrt", "Selu", "Sgn", "Sigmoid", "Sign", "Silu", "Sin", "Sinc", "Sinh", "Softplus",
    "Softshrink", "Sqrt", "Square", "Tan", "Tanh", "Threshold", "Trunc", "Where", "Xlogy",
    # (activation_extra / activation_channel; PreluKernel's weight gradient comes back unreduced, so
    # its backward applied to a tangent is the jvp too)
    "Softsign", "Tanhshrink", "RreluWithNoise", "PreluKernel",
)
ELEMENTWISE = frozenset(f"{b}Backward{i}" for b in _ELEMENTWISE_BASES for i in range(4))


def attach_tangents(cls, inputs, params, tangents, out) -> None:
    """Compute and attach the tangents of ``out`` (forward AD is off while this runs)."""
    from .forward_ad import _remember_output_tangent, _set_tangent
    outs = out if type(out) is tuple else (out,)
    name = cls.__name__
    tans = None
    rule = RULES.get(name)
    if rule is not None:
        tans = rule(cls, inputs, params, tangents, outs)
    if tans is None and name in ELEMENTWISE and len(outs) == 1:
        tans = _elementwise(cls, inputs, params, tangents, outs)
    if tans is None:
        tans = _double_vjp(cls, inputs, params, tangents, outs)
    for o, t in zip(outs, tans):
        if t is None or o._data.dtype.kind not in "fc" or any(o is i for i in inputs):
            continue
        if t._data.dtype != o._data.dtype:
            t = t.to(o.dtype)
        if t._data.shape != o._data.shape:
            t = t.expand(o._data.shape)
        _set_tangent(o, t)
        fn = o.grad_fn
        if fn is not None and getattr(fn, "_result", None) is not None:
            _remember_output_tangent(fn, o._output_nr, t)


def _node_for(cls, inputs, params, out):
    """A node of ``cls`` with its saved values at these inputs: the one just recorded, or a fresh one."""
    fn = out.grad_fn
    if type(fn) is cls:
        return fn
    node = cls.__new__(cls)
    node.dev = inputs[0]._device
    node._record(inputs, node.forward(*[t._data for t in inputs], **params))
    return node


def _elementwise(cls, inputs, params, v, outs):
    out = outs[0]
    shape = out._data.shape
    node = _node_for(cls, inputs, params, out)
    need = node.needs_input_grad
    total = None
    try:
        for i, vi in enumerate(v):
            if vi is None:
                continue
            node.needs_input_grad = tuple(j == i for j in range(len(inputs)))
            g = node.backward(vi if vi._data.shape == shape else vi.expand(shape))
            gi = g[i] if type(g) is tuple else g
            if gi is None:
                continue
            if gi._data.shape != shape:  # this op's backward already reduced: not usable as a jvp
                return None
            total = gi if total is None else total + gi
    finally:
        node.needs_input_grad = need
    return (total,)


def _double_vjp(cls, inputs, params, v, outs):
    from .engine import grad
    Tensor = _tensor_cls()
    det, diff = [], []
    copy = bool(params.get("inplace"))  # an op told to write into its input must not touch the primal
    for i, t in enumerate(inputs):
        rg = v[i] is not None and t._data.dtype.kind in "fc"
        det.append(Tensor._make(t._data.copy() if copy else t._data, t._device, rg))
        if rg:
            diff.append(i)
    prev = _grad_state.enabled
    _grad_state.enabled = True
    try:
        o2 = cls.apply(*det, **params)
        o2 = o2 if type(o2) is tuple else (o2,)
        live = [k for k, o in enumerate(o2) if o.grad_fn is not None]
        if not live:
            return (None,) * len(outs)
        us = [Tensor._make(o2[k]._device.xp.zeros_like(o2[k]._data), o2[k]._device, True) for k in live]
        gin = grad([o2[k] for k in live], [det[i] for i in diff], us, create_graph=True, allow_unused=True)
        s = None
        for i, g in zip(diff, gin):
            if g is not None:
                term = (g * v[i]).sum()
                s = term if s is None else s + term
        res = [None] * len(outs)
        if s is None or not s._requires_grad:
            jv = [None] * len(us)
        else:
            jv = grad([s], us, allow_unused=True, retain_graph=True)  # never free nodes of the caller's graph
    finally:
        _grad_state.enabled = prev
    for k, j, o in zip(live, jv, (outs[k] for k in live)):
        res[k] = j if j is not None else Tensor._make(o._device.xp.zeros_like(o._data), o._device)
    return tuple(res)
