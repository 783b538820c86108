"""torch.autograd.Function: user-defined ops with a static forward and backward.

Each Function subclass gets a node class ``<Name>Backward`` (PyTorch's BackwardCFunction): one instance per
call is both the ``ctx`` that forward/backward receive and the ``grad_fn`` of the outputs. Backward runs
with grad mode = create_graph, so a backward written with Tensor ops is differentiable again.

Example, wrapping your own CUDA kernel (the project's kernel factory runs the same source on a GPU and on
the emulated device; the cpu device falls back to NumPy)::

    import autograd_gpu as torch
    from autograd_gpu.backend import kernels

    cube_fwd = kernels.elementwise("T x", "T y", "y = x * x * x", "cube_fwd", register=False)

    class Cube(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            a = x.detach()._data                      # NumPy array, or CuPy array on 'cuda'
            y = cube_fwd(x.device, a) if x.device.uses_kernels else a * a * a
            return torch.Tensor._make(y, x.device)

        @staticmethod
        def backward(ctx, g):                         # Tensor ops: twice differentiable
            (x,) = ctx.saved_tensors
            return g * 3 * x * x
"""
from __future__ import annotations

import functools
import inspect
import warnings

from . import node as _node
from .grad_mode import state as _grad_state
from .node import RELEASED_MSG, Node, Op, _next_seq, _raise_modified, edge_of

__all__ = ["Function", "FunctionCtx", "BackwardCFunction", "once_differentiable", "InplaceFunction"]

_Tensor = None


def _tensor_cls():
    global _Tensor
    if _Tensor is None:
        from ..tensor import Tensor
        _Tensor = Tensor
    return _Tensor


class FunctionCtx:
    """What ``ctx`` offers inside forward / setup_context / backward."""

    def save_for_backward(self, *tensors) -> None:
        """Save tensors (or None) for backward; ``ctx.saved_tensors`` gives them back (version-checked)."""
        Tensor = _tensor_cls()
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save variables, but argument {i} is of type "
                                f"{type(t).__name__}")
        self.to_save = tensors

    def save_for_forward(self, *tensors) -> None:
        """Save tensors for ``jvp`` (forward-mode AD); ``ctx.saved_tensors`` returns them inside jvp."""
        self.saved_for_forward = tensors

    def mark_dirty(self, *args) -> None:
        """Declare inputs that forward modified in place (they must also be returned)."""
        self.dirty_tensors = args

    def mark_non_differentiable(self, *args) -> None:
        """Declare outputs that carry no gradient (e.g. indices); backward still gets a zero for them."""
        self.non_differentiable = args

    def set_materialize_grads(self, value: bool) -> None:
        """False: backward receives None (not zeros) for outputs that got no gradient."""
        self.materialize_grads = value


class BackwardCFunction(Node, FunctionCtx):
    """Graph node of one custom Function call; also its ctx. Subclassed per Function as ``<Name>Backward``."""

    _forward_cls = None

    def __repr__(self):
        return object.__repr__(self)

    def _init_ctx(self, dev):
        self.dev = dev
        self._seq = -1
        self._released = False
        self._saved = ()
        self._saved_versions = ()
        self._result = None
        self._pre_hooks = self._post_hooks = self._tensor_hooks = self._retained = None
        self._anomaly_trace = None
        self._n_out = 0
        self._out_meta = None  # the engine must not zero-fill: materialize_grads decides (see backward)
        self._input_meta = ()
        self.next_functions = ()
        self.to_save = None
        self.dirty_tensors = None
        self.non_differentiable = None
        self.materialize_grads = True

    @property
    def saved_tensors(self) -> tuple:
        if self.__dict__.get("_in_jvp"):
            return tuple(self.__dict__.get("saved_for_forward", ()))
        if self._released:
            raise RuntimeError(RELEASED_MSG)
        return tuple([_unpack_saved(self, e) for e in self._saved])

    saved_variables = saved_tensors

    def _release(self):
        if self._saved:
            self._released = True
            self._saved = ()

    def backward(self, *grads):
        """Engine entry: materialize missing gradients, run the user's backward, map its results to edges."""
        cls = self._forward_cls
        if self.materialize_grads:
            meta = self._out_tmeta
            if any(g is None and m is not None for g, m in zip(grads, meta)):
                Tensor = _tensor_cls()
                grads = tuple(Tensor._make(m[2].xp.zeros(m[0], m[1]), m[2]) if g is None and m is not None
                              else g for g, m in zip(grads, meta))
        result = _user_backward(cls)(self, *grads)
        if type(result) is not tuple:
            result = (result,)
        is_tensor = self._is_tensor_input
        n = len(is_tensor)
        if len(result) != n:
            if len(result) > n and all(r is None for r in result[n:]):
                result = result[:n]
            else:
                raise RuntimeError(f"function {self.name()} returned an incorrect number of gradients "
                                   f"(expected {n}, got {len(result)})")
        needs = self.needs_input_grad
        out = []
        for i, g in enumerate(result):
            if not is_tensor[i]:
                if g is not None:
                    raise RuntimeError(f"function {self.name()} returned a gradient different than None at "
                                       f"position {i + 1}, but the corresponding forward input was not a "
                                       "Variable")
                continue
            if g is not None and not isinstance(g, _tensor_cls()):
                raise TypeError(f"function {self.name()} returned a gradient of type {type(g).__name__} at "
                                f"position {i + 1}; expected a Tensor or None")
            out.append(g if needs[i] else None)
        return tuple(out)


def _user_backward(cls):
    backward_fn, vjp_fn = cls.backward, cls.vjp
    if backward_fn is not Function.backward and vjp_fn is not Function.vjp:
        raise RuntimeError("Implementing both 'backward' and 'vjp' for a custom Function is not allowed. You "
                           "should only implement one of them.")
    return vjp_fn if vjp_fn is not Function.vjp else backward_fn


def _unpack_saved(ctx, e):
    """One saved value: ("in", tensor, version) | ("out", data, version_list, version, nr) | packed forms."""
    if e is None:
        return None
    kind = e[0]
    if kind == "in":
        t = e[1]
        if t._version[0] != e[2]:
            _raise_modified(t, e[2], ctx)
        return t
    Tensor = _tensor_cls()
    if kind == "out":
        _, data, version, expected, nr = e
        t = Tensor._make(data, ctx.dev, True, ctx, nr)
        t._version = version
        if version[0] != expected:
            _raise_modified(t, expected, ctx)
        if _node._fw_enabled[0]:
            from .forward_ad import _restore_tangent
            _restore_tangent(ctx, t, nr)
        return t
    from .graph import unpack_tensor
    if kind == "packed":
        return unpack_tensor(e[1], e[2])
    _, packed, unpack, nr = e  # "packed_out": an output, re-attached to this node
    t = unpack(packed)
    if not isinstance(t, Tensor):
        raise TypeError("Output of saved tensor unpack_hook expected to be a Tensor but got result of type "
                        f"{type(t).__name__}")
    r = Tensor._make(t._data, t._device, True, ctx, nr)
    r._version = t._version
    return r


class FunctionMeta(type):
    """Creates the ``<Name>Backward`` node class of every Function subclass."""

    def __init__(cls, name, bases, attrs):
        cls._backward_cls = type(name + "Backward", (BackwardCFunction,), {"_forward_cls": cls})
        cls._signature = None
        super().__init__(name, bases, attrs)


class Function(FunctionCtx, metaclass=FunctionMeta):
    """Base class of custom differentiable ops: define static ``forward`` and ``backward``, call ``apply``.

    forward(ctx, *args, **kwargs) -> outputs  (or forward(*args) plus setup_context(ctx, inputs, output))
    backward(ctx, *grad_outputs) -> one gradient (or None) per forward argument
    """

    def __init__(self, *args, **kwargs):
        warnings.warn(f"{self.__class__} should not be instantiated. Methods on autograd functions are all "
                      "static, so you should invoke them on the class itself. Instantiating an autograd "
                      "function will raise an error in a future version of "
                      "PyTorch.", DeprecationWarning, stacklevel=2)

    def __call__(self, *args, **kwargs):
        raise RuntimeError("Legacy autograd function with non-static forward method is deprecated. Please "
                           "use new-style autograd function with static forward method. (Example: "
                           "https://pytorch.org/docs/stable/autograd.html#torch.autograd.Function)")

    generate_vmap_rule = False

    @staticmethod
    def forward(*args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your custom "
                                  "autograd.Function to use it with backward mode AD.")

    vjp = backward

    @staticmethod
    def jvp(ctx, *grad_inputs):
        raise NotImplementedError("You must implement the jvp function for custom autograd.Function to use "
                                  "it with forward mode AD.")

    @staticmethod
    def vmap(info, in_dims, *args):
        raise NotImplementedError("To use autograd.Function with vmap, you must either override the vmap "
                                  "staticmethod or set generate_vmap_rule=True.")

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run forward (its ops unrecorded) and connect the outputs to a new ``<Name>Backward`` node."""
        Tensor = _tensor_cls()
        setup = cls.setup_context is not Function.setup_context
        if setup:
            sig = cls._signature
            if sig is None:
                sig = cls._signature = inspect.signature(cls.forward)
            bound = sig.bind(*args, **kwargs)
            bound.apply_defaults()
            args, kwargs = bound.args, {}
        is_tensor = tuple([isinstance(a, Tensor) for a in args])
        dev = next((a._device for a, t in zip(args, is_tensor) if t), None)
        bcls = cls._backward_cls
        ctx = bcls.__new__(bcls)
        ctx._init_ctx(dev)
        needs = tuple([t and a._requires_grad for a, t in zip(args, is_tensor)])
        ctx.needs_input_grad = needs
        ctx._is_tensor_input = is_tensor
        executable = _grad_state.enabled and any(needs)
        fw = _node._fw_enabled[0] and any(
            t and a._fw_grad is not None for a, t in zip(args, is_tensor))
        prev = _grad_state.enabled
        _grad_state.enabled = False
        if fw:
            _node._fw_enabled[0] = False  # the user's forward computes primals only; jvp gives tangents
        try:
            if setup:
                out = cls.forward(*args)
                cls.setup_context(ctx, args, out)
            else:
                out = cls.forward(ctx, *args, **kwargs)
        finally:
            _grad_state.enabled = prev
            if fw:
                _node._fw_enabled[0] = True
        out = _wrap_outputs(ctx, args, is_tensor, out, executable)
        if fw:
            _forward_ad_tangents(cls, ctx, args, is_tensor, out)
        return out


def _wrap_outputs(ctx, args, is_tensor, out, executable):
    """Give differentiable tensor outputs ``ctx`` as grad_fn, then store what was saved for backward."""
    Tensor = _tensor_cls()
    is_tuple = type(out) is tuple
    outs = out if is_tuple else (out,)
    input_ids = {id(a) for a, t in zip(args, is_tensor) if t}
    dirty = ctx.dirty_tensors or ()
    dirty_ids = {id(t) for t in dirty}
    out_ids = {id(o) for o in outs}
    if any(i not in out_ids for i in dirty_ids):
        raise RuntimeError("Some elements marked as dirty during the forward method were not returned as "
                           "output. The inputs that are modified inplace must all be outputs of the "
                           "Function.")
    nondiff_ids = {id(t) for t in (ctx.non_differentiable or ())}
    if executable:
        ctx._seq = _next_seq()
        ctx.next_functions = tuple([edge_of(a) for a, t in zip(args, is_tensor) if t])
        ctx._input_meta = tuple([(a._data.shape, a._data.dtype) for a, t in zip(args, is_tensor) if t])
    new, meta, as_output = [], [], {}
    for k, o in enumerate(outs):
        if not isinstance(o, Tensor):
            new.append(o)
            meta.append(None)
            continue
        meta.append((o._data.shape, o._data.dtype, o._device))
        diff = executable and id(o) not in nondiff_ids and o._data.dtype.kind in "fc"
        if id(o) in dirty_ids:
            o._version[0] += 1
            if executable and o._requires_grad and o.grad_fn is None:
                raise RuntimeError("a leaf Variable that requires grad has been used in an in-place "
                                   "operation.")
            if diff:
                o.grad_fn, o._output_nr, o._requires_grad = ctx, k, True
                as_output[id(o)] = (o, k)
        elif id(o) in input_ids:  # an input returned as is: the output is a new alias of it
            a = Tensor._make(o._data, o._device, diff, ctx if diff else None, k if diff else 0)
            a._version = o._version
            a._base = (o if o._base is None else o._base) if diff else None
            o = a
        elif diff:
            o.grad_fn, o._output_nr, o._requires_grad = ctx, k, True
            as_output[id(o)] = (o, k)
        elif executable and o._requires_grad and o.grad_fn is None and id(o) in nondiff_ids:
            o._requires_grad = False
        new.append(o)
    ctx._n_out = len(outs)
    ctx._out_tmeta = tuple(meta)
    if executable:
        _save(ctx, as_output)
        if _node._anomaly_enabled[0]:
            from .anomaly import record_trace
            record_trace(ctx)
    return tuple(new) if is_tuple else new[0]


def _save(ctx, as_output):
    to_save = ctx.to_save
    if not to_save:
        return
    hooks = None
    if _node._record_hooks[0]:  # saved_tensors_hooks may be active (autograd.graph)
        from .graph import current_hooks
        hooks = current_hooks()
    saved = []
    for t in to_save:
        if t is None:
            saved.append(None)
            continue
        hit = as_output.get(id(t))
        if hooks is not None:
            pack, unpack = hooks
            if hit is not None:
                saved.append(("packed_out", pack(t), unpack, hit[1]))
            else:
                from .graph import pack_tensor
                saved.append(("packed", pack_tensor(t, pack), unpack))
        elif hit is not None:  # an output: keep its array, not the Tensor (no output -> ctx -> output cycle)
            saved.append(("out", t._data, t._version, t._version[0], hit[1]))
        else:
            saved.append(("in", t, t._version[0]))
    ctx._saved = tuple(saved)
    ctx.to_save = None


def _forward_ad_tangents(cls, ctx, args, is_tensor, out):
    """Forward-mode AD through a custom Function: its ``jvp`` maps input tangents to output tangents."""
    from . import forward_ad
    Tensor = _tensor_cls()
    tangents = []
    for a, t in zip(args, is_tensor):
        if not t:
            tangents.append(None)
        elif a._fw_grad is not None:
            tangents.append(a._fw_grad)
        else:
            tangents.append(Tensor._make(a._device.xp.zeros_like(a._data), a._device))
    ctx._in_jvp = True
    prev = _node._fw_enabled[0]
    _node._fw_enabled[0] = False
    try:
        res = cls.jvp(ctx, *tangents)
    finally:
        _node._fw_enabled[0] = prev
        ctx._in_jvp = False
    outs = out if type(out) is tuple else (out,)
    res = res if type(res) is tuple else (res,)
    if len(res) != len(outs):
        raise RuntimeError(f"{cls.__name__}.jvp returned an incorrect number of tangents (expected "
                           f"{len(outs)}, got {len(res)})")
    for k, (o, v) in enumerate(zip(outs, res)):
        if isinstance(o, Tensor) and v is not None and o._data.dtype.kind in "fc":
            forward_ad._set_tangent(o, v)
            forward_ad._remember_output_tangent(ctx, k, v)


class DelayedError(Op):
    """Identity whose backward raises: what once_differentiable puts after a non-differentiable backward."""

    def forward(self, *xs, msg=""):
        self.msg = msg
        return xs if len(xs) > 1 else xs[0]

    def backward(self, *grads):
        raise RuntimeError(self.msg)


def once_differentiable(fn):
    """Decorate a Function's backward that is not itself differentiable: it runs under no_grad, and
    differentiating its result (create_graph=True) raises instead of silently returning wrong values."""

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        prev = _grad_state.enabled
        _grad_state.enabled = False
        try:
            outputs = fn(ctx, *args)
        finally:
            _grad_state.enabled = prev
        if not prev:
            return outputs
        Tensor = _tensor_cls()
        if not any(isinstance(a, Tensor) and a._requires_grad for a in args):
            return outputs
        single = type(outputs) is not tuple
        outs = (outputs,) if single else outputs
        live = [i for i, o in enumerate(outs) if isinstance(o, Tensor) and o._data.dtype.kind in "fc"]
        if not live:
            return outputs
        fakes = [Tensor._make(outs[i]._data, outs[i]._device, True) for i in live]
        wrapped = DelayedError.apply(*fakes, msg="trying to differentiate twice a function that was marked "
                                                 "with @once_differentiable")
        wrapped = wrapped if type(wrapped) is tuple else (wrapped,)
        res = list(outs)
        for i, w in zip(live, wrapped):
            res[i] = w
        return res[0] if single else tuple(res)
    return wrapper


class InplaceFunction(Function):
    """Legacy base for Functions with an ``inplace`` flag."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace
