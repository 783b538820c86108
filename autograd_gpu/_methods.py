"""Binds op functions onto Tensor as methods, properties and Python operators.

Each ops module lists its methods in ``TENSOR_METHODS`` (name -> function taking the tensor first), so adding
an op never means editing tensor.py.
"""
from __future__ import annotations

import importlib

from .tensor import Tensor

OP_MODULES = ("pointwise", "pointwise_math", "reduce", "shape", "shape_join", "index", "gather", "linalg",
              "conversion", "inplace", "activation", "activation_extra", "activation_channel", "loss",
              "nn_ops")


def _bind_all():
    for name in OP_MODULES:
        try:
            mod = importlib.import_module(f"autograd_gpu.ops.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"autograd_gpu.ops.{name}":
                continue  # module not written yet
            raise
        for meth, fn in getattr(mod, "TENSOR_METHODS", {}).items():
            setattr(Tensor, meth, fn)
        for prop, fn in getattr(mod, "TENSOR_PROPERTIES", {}).items():
            setattr(Tensor, prop, property(fn))
    _bind_operators()
    _bind_fast_methods()


python_methods = {}  # the Python methods _bind_fast_methods replaced, by name (the C ones' fallbacks)


def _bind_fast_methods():
    """The optimizer step's Tensor methods (``lr * p.grad``, ``p -= ...``, ``p.grad = None``, and += / *=) in C
    when the C fast path is bound (csrc/fastpath_methods.c); each calls the Python method it replaces for
    anything but its common case."""
    from .tensor import _fastpath
    if _fastpath is None:  # (not built, or AUTOGRAD_GPU_PURE_PYTHON)
        return
    grad = Tensor.__dict__["grad"]
    python_methods.update({"__rmul__": Tensor.__rmul__, "__iadd__": Tensor.__iadd__, "__isub__": Tensor.__isub__,
                           "__imul__": Tensor.__imul__, "grad_get": grad.fget, "grad_set": grad.fset})
    fast = _fastpath.methods(python_methods)
    for name in ("__rmul__", "__iadd__", "__isub__", "__imul__"):
        setattr(Tensor, name, fast[name])
    Tensor.grad = property(fast["grad_get"], fast["grad_set"], grad.fdel, grad.__doc__)


def _bind_operators():
    from .ops import pointwise as pw

    def _reflect(fn):
        return lambda self, other: fn(other, self)

    ops = {
        "__add__": pw.add, "__radd__": pw.add,  # (o + s computed as s + o: exact, and no extra frame)
        "__sub__": pw.sub, "__rsub__": pw.rsub,
        "__mul__": pw.mul, "__rmul__": pw.rmul,
        "__truediv__": pw.div, "__rtruediv__": _reflect(pw.div),
        "__pow__": pw.pow, "__rpow__": _reflect(pw.pow),
        "__neg__": pw.neg,
        "__matmul__": lambda s, o: Tensor.matmul(s, o), "__rmatmul__": lambda s, o: Tensor.matmul(o, s)
        if isinstance(o, Tensor) else NotImplemented,
    }
    for name, fn in ops.items():
        setattr(Tensor, name, fn)
    inplace = {"__iadd__": "add_", "__isub__": "sub_", "__imul__": "mul_", "__itruediv__": "div_",
               "__ipow__": "pow_", "__imatmul__": None}
    for name, meth in inplace.items():
        if meth is not None and hasattr(Tensor, meth):
            fn = getattr(Tensor, meth)
            setattr(Tensor, name, getattr(fn, "operator", fn))  # (add_ and friends: their keyword-free form)
    optional = {"__floordiv__": "floor_divide", "__mod__": "remainder", "__abs__": "abs", "__eq__": "eq",
                "__ne__": "ne", "__lt__": "lt", "__le__": "le", "__gt__": "gt", "__ge__": "ge",
                "__and__": "logical_and_op", "__or__": "logical_or_op", "__xor__": "logical_xor_op",
                "__invert__": "_invert", "__getitem__": "_getitem", "__setitem__": "_setitem",
                "__ifloordiv__": "floor_divide_", "__imod__": "remainder_", "__rfloordiv__": "_rfloordiv",
                "__rmod__": "_rremainder", "__rand__": "logical_and_op", "__ror__": "logical_or_op",
                "__rxor__": "logical_xor_op", "__iand__": "_iand", "__ior__": "_ior", "__ixor__": "_ixor"}
    for name, meth in optional.items():
        fn = getattr(Tensor, meth, None)
        if fn is not None:
            setattr(Tensor, name, fn)
    Tensor.__hash__ = lambda self: id(self)
