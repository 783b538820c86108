"""Graph nodes. An op is a Node subclass named as PyTorch names its backward node (``MulBackward0``):
``forward`` runs on raw arrays (NumPy, CuPy, or the emulated device's NumPy) and ``backward`` is written
with Tensor ops, so running it under create_graph=True records a graph for higher-order gradients.

Memory: a node holds its inputs' *edges* (the producing node and output index), never the input tensors,
except those listed in ``save`` (input indices its backward needs) and, with ``save_result``, its output
array (stored without a Tensor so output -> grad_fn -> output forms no reference cycle).
"""
from __future__ import annotations

import itertools
import os as _os
import weakref

import numpy as _np

from .grad_mode import state as _grad_state

# autograd_gpu.tensor.Tensor, bound by tensor.py once defined (it imports this package first). A module global
# rather than a function-level import: ``from ..tensor import Tensor`` costs microseconds per op.
Tensor = None

_next_seq = itertools.count().__next__

RELEASED_MSG = ("Trying to backward through the graph a second time (or directly access saved tensors after "
                "they have already been freed). Saved intermediate values of the graph are freed when you "
                "call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward "
                "through the graph a second time or if you need to access saved tensors after calling "
                "backward.")

INFERENCE_SAVE_MSG = ("Inference tensors cannot be saved for backward. Please do not use Tensors created in "
                      "inference mode in computation tracked by autograd. To work around this, you can make "
                      "a clone to get a normal tensor and use it in autograd, or use `torch.no_grad()` "
                      "instead of `torch.inference_mode()`.")


class Node:
    """A function in the backward graph (PyTorch's ``torch.autograd.graph.Node``)."""

    __slots__ = ("next_functions", "dev", "_seq", "_saved", "_saved_versions", "_result", "_input_meta",
                 "_n_out", "_out_meta", "_released", "_pre_hooks", "_post_hooks", "_tensor_hooks",
                 "_retained", "needs_input_grad", "_anomaly_trace", "__weakref__", "__dict__")

    save = ()             # input indices whose tensors backward needs (PyTorch's saved `self`, `other`)
    _plain = False        # one output, no hooks, no retain_grad: the engine's fast path (see Op)
    save_result = False   # whether backward needs the output (PyTorch's saved `result`)
    non_differentiable = ()  # output indices that never carry gradient (e.g. argmax indices)
    # backward_raw(grad_array) -> one array (or None) per input: a one-output op's first-order backward on raw
    # arrays, which the engine runs instead of ``backward`` when no graph of the backward is recorded
    # (create_graph=False, no forward-AD level). Hot ops define it; ``backward`` stays the Tensor formula
    # (double backward, forward AD), which tests/test_ops.py pins to the same values.
    backward_raw = None

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self):
        return f"<{type(self).__name__} object at {hex(id(self))}>"

    # --- saved values -------------------------------------------------------------------------------
    @property
    def saved_tensors(self) -> tuple:
        saved = self._saved
        if self._released:
            raise RuntimeError(RELEASED_MSG)
        if type(saved) is not tuple:  # packed by autograd.graph.saved_tensors_hooks (no version check there)
            return saved.unpack_all()
        n = len(saved)
        # the version check unrolled for the common one and two saved inputs (a loop over zip costs more than
        # the checks); _saved_versions is only set when something was saved
        if n == 2:
            a, b = saved
            va, vb = self._saved_versions
            if a._version[0] == va and b._version[0] == vb:
                return saved
        elif n == 1:
            if saved[0]._version[0] == self._saved_versions[0]:
                return saved
        elif not n:
            return saved
        for t, v in zip(saved, self._saved_versions):
            if t._version[0] != v:
                _raise_modified(t, v, self)
        return saved

    @property
    def result(self):
        """The forward output as a Tensor whose grad_fn is this node (for double backward)."""
        if self._released:
            raise RuntimeError(RELEASED_MSG)
        if type(self._result) is not tuple:  # packed by saved_tensors_hooks
            return self._result.unpack_for(self)
        data, version, expected = self._result
        from ..tensor import Tensor
        t = Tensor._make(data, self.dev, True, self, 0)
        if version[0] != expected:
            # a saved output is reported as output 0 of this node (PyTorch: the node unpacking it)
            _raise_modified(t, expected, self, version[0])
        t._version = version
        if _fw_enabled[0]:  # forward AD over this backward: the output's tangent comes back with it
            from .forward_ad import _restore_tangent
            _restore_tangent(self, t, 0)
        return t

    def result_array(self):
        """The saved output's array, checked as ``result`` checks it, for a backward that computes on raw
        arrays (no Tensor made for it)."""
        res = self._result
        if self._released or type(res) is not tuple or res[1][0] != res[2] or _fw_enabled[0]:
            return self.result._data  # (raises PyTorch's errors; unpacks saved-tensor hooks)
        return res[0]

    def _release(self):
        """Free what was saved for backward (called by the engine unless retain_graph)."""
        d = self.__dict__
        arrays = None
        if d:
            for k, v in d.items():
                kind = type(v)  # (an ndarray first: its shape attribute builds a tuple per look)
                if kind is _ndarray or kind not in _PLAIN and hasattr(v, "shape") and hasattr(v, "dtype"):
                    if arrays is None:
                        arrays = [k]
                    else:
                        arrays.append(k)
        if self._saved or self._result is not None or arrays is not None:
            self._released = True
            self._saved = ()
            self._result = None
            if arrays is not None:
                for k in arrays:
                    del d[k]

    # --- hooks (see autograd.graph for the public API) -----------------------------------------------
    def register_hook(self, fn):
        """fn(grad_inputs, grad_outputs) -> None or new grad_inputs; runs after this node's backward."""
        from .hooks import RemovableHandle
        if self._post_hooks is None:
            self._post_hooks = {}
            self._plain = False
        return RemovableHandle(self._post_hooks, fn)

    def register_prehook(self, fn):
        """fn(grad_outputs) -> None or new grad_outputs; runs before this node's backward."""
        from .hooks import RemovableHandle
        if self._pre_hooks is None:
            self._pre_hooks = {}
            self._plain = False
        return RemovableHandle(self._pre_hooks, fn)

    @property
    def metadata(self) -> dict:
        return self.__dict__.setdefault("_metadata", {})


_TENSOR_TYPE = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
                "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor", "int8": "CharTensor",
                "uint8": "ByteTensor", "bool": "BoolTensor"}


def _raise_modified(t, expected, node, actual=None):
    actual = t._version[0] if actual is None else actual
    from .. import _dtype
    tname = _TENSOR_TYPE.get(_dtype.from_numpy_dtype(t._data.dtype).name, "Tensor")
    if t._device.type != "cpu":
        tname = "cuda." + tname
    shape = ", ".join(str(s) for s in t._data.shape)
    producer = t.grad_fn
    # current PyTorch names the producer by its op ("output 0 of Add"), not by the node ("AddBackward0")
    where = (f", which is output {t._output_nr} of {_op_name(producer.name())},"
             if producer is not None else "")
    if _anomaly_enabled[0]:
        hint = ("Hint: the backtrace further above shows the operation that failed to compute its gradient. "
                "The variable in question was changed in there or anywhere later. Good luck!")
    else:
        hint = ("Hint: enable anomaly detection to find the operation that failed to compute its gradient, "
                "with torch.autograd.set_detect_anomaly(True, check_nan=False).")
    raise RuntimeError(
        "one of the variables needed for gradient computation has been modified by an inplace operation: "
        f"[torch.{tname} [{shape}]]{where} is at version {actual}; expected version {expected} instead. "
        f"{hint}")


def _op_name(node_name: str) -> str:
    """'AddBackward0' -> 'Add', 'CopyBackwards' -> 'Copy' (PyTorch's wording in version errors)."""
    import re
    return re.sub(r"(?<=.)Backwards?\d*$", "", node_name)


def _mismatch_error(inputs, dev):
    # PyTorch's common device is the first non-CPU one; the message names it first
    dev = next((t._device for t in inputs if t._device.type != "cpu"), dev)
    for t in inputs:
        if t._device is not dev:
            raise RuntimeError("Expected all tensors to be on the same device, but found at least two "
                               f"devices, {dev} and {t._device}!")


def _broadcast_error(inputs):
    """PyTorch's RuntimeError for operands whose shapes don't broadcast (NumPy/CuPy raise ValueError)."""
    if len(inputs) >= 2:
        a, b = inputs[0]._data.shape, inputs[1]._data.shape
        n = max(len(a), len(b))
        for i in range(n - 1, -1, -1):  # PyTorch's infer_size reports the last mismatching dim
            sa = a[i - n + len(a)] if i - n + len(a) >= 0 else 1
            sb = b[i - n + len(b)] if i - n + len(b) >= 0 else 1
            if sa != sb and sa != 1 and sb != 1:
                return RuntimeError(f"The size of tensor a ({sa}) must match the size of tensor b ({sb}) at "
                                    f"non-singleton dimension {i}")
    return None


def _forward_value_error(exc, inputs):
    """A ValueError from an op's forward: PyTorch's message when the inputs' shapes don't broadcast (NumPy and
    CuPy raise ValueError), else the error itself."""
    err = _broadcast_error(inputs)
    if err is None:
        raise exc
    raise err from None


def edge_of(t):
    """(node, output_nr) through which gradient reaches tensor t; creates a leaf's AccumulateGrad once."""
    fn = t.grad_fn
    if fn is not None:
        return (fn, t._output_nr)
    if not t._requires_grad:
        return (None, 0)
    acc = t._accum
    if acc is None:
        # made once per leaf and kept by it (graphs are rebuilt every step; their leaves' accumulators need
        # not be); the accumulator refers back to the leaf weakly: no leaf <-> accumulator cycle
        acc = t._accum = AccumulateGrad(t)
    return (acc, 0)


class Op(Node):
    """Base of built-in differentiable ops. Subclasses define ``forward(self, *arrays, **params)`` returning
    an array or a tuple of arrays, and ``backward(self, *grads)`` returning one Tensor (or None) per input."""

    __slots__ = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _check_op_class(cls)

    # State that is the same for almost every recorded op, as class attributes (shadowing Node's slots, as in
    # AccumulateGrad): _record then sets only what varies, and the rare assignment (a hook, retain_grad,
    # release, a multi-output op) lands in the instance dict.
    _pre_hooks = _post_hooks = _tensor_hooks = _retained = None
    _anomaly_trace = None
    _n_out = 1
    _plain = True  # until a hook, retain_grad or a second output says otherwise (one flag for the engine)
    _out_meta = None
    # (_released and _result stay slots, set by _record: _release writes them, and a write to a name that
    # a class default shadows would make the node an instance dict)

    @classmethod
    def forward_arrays(cls, dev, *arrays, **params):
        """This op's forward on raw arrays on ``dev``, with nothing recorded or wrapped: how a backward_raw
        computes its gradient with the backward op whose .apply its Tensor formula calls."""
        node = _new(cls)
        node.dev = dev
        return node.forward(*arrays, **params)

    def _backward_unwrapped(self, gd):
        """``backward`` (the Tensor formula) on an array, its result as arrays: what the engine runs for an op
        without a backward_raw, and a backward_raw's fallback for its rare cases."""
        out = self.backward(Tensor._make(gd, self.dev))
        if type(out) is not tuple:
            return None if out is None else out._data
        if len(out) == 2:  # (unrolled: the engine runs this for every op without a backward_raw)
            a, b = out
            return (None if a is None else a._data), (None if b is None else b._data)
        return tuple([None if t is None else t._data for t in out])

    @classmethod
    def apply(cls, *inputs, **params):
        if _fw_enabled[0]:  # a forward-AD dual level is active: tangents ride along
            from .forward_ad import _dual_apply
            return _dual_apply(cls, inputs, params)
        node = _new(cls)
        x = inputs[0]
        dev = node.dev = x._device
        try:
            if len(inputs) == 2:
                y = inputs[1]
                if y._device is not dev:
                    _mismatch_error(inputs, dev)
                # (no ** when there are no params: an empty mapping still costs a dict per call)
                out = node.forward(x._data, y._data, **params) if params else node.forward(x._data, y._data)
            elif len(inputs) == 1:
                out = node.forward(x._data, **params) if params else node.forward(x._data)
            elif len(inputs) == 3:  # (linear)
                y, z = inputs[1], inputs[2]
                if y._device is not dev or z._device is not dev:
                    _mismatch_error(inputs, dev)
                a, b, c = x._data, y._data, z._data
                out = node.forward(a, b, c, **params) if params else node.forward(a, b, c)
            else:
                arrays = []
                for t in inputs:
                    if t._device is not dev:
                        _mismatch_error(inputs, dev)
                    arrays.append(t._data)
                out = node.forward(*arrays, **params) if params else node.forward(*arrays)
        except ValueError as exc:
            _forward_value_error(exc, inputs)
        if _grad_state.enabled:
            for t in inputs:
                if t._requires_grad:
                    return _record(node, inputs, out)
        # (node.dev, not dev: forward may move the result, as Tensor.to does)
        if type(out) is tuple:
            make, dev = Tensor._make, node.dev
            return tuple([make(o, dev) for o in out])
        return Tensor._make(out, node.dev)

    def _record(self, inputs, out):
        self._seq = _next_seq()
        self._released = False
        self._result = None
        # edges, which inputs need a gradient, and the shapes/dtypes gradients return to (unrolled for the
        # common one- and two-input ops: this runs for every recorded op)
        if len(inputs) == 1:
            x = inputs[0]
            fn = x.grad_fn
            self.next_functions = ((fn, x._output_nr) if fn is not None else (x._accum or edge_of(x)[0], 0),)
            self.needs_input_grad = _NEED1
            d = x._data
            self._input_meta = ((d.shape, d.dtype),)
        elif len(inputs) == 2:
            x, y = inputs
            fn = x.grad_fn
            # (a leaf's edge from its kept accumulator, without a call to edge_of once it has one)
            ex = (fn, x._output_nr) if fn is not None else (x._accum or edge_of(x)[0], 0) if x._requires_grad \
                else _NO_EDGE
            fn = y.grad_fn
            ey = (fn, y._output_nr) if fn is not None else (y._accum or edge_of(y)[0], 0) if y._requires_grad \
                else _NO_EDGE
            self.next_functions = (ex, ey)
            self.needs_input_grad = (x._requires_grad, y._requires_grad)
            d, e = x._data, y._data
            self._input_meta = ((d.shape, d.dtype), (e.shape, e.dtype))
        else:
            edges = []
            needs = []
            meta = []
            for t in inputs:
                fn = t.grad_fn
                edges.append((fn, t._output_nr) if fn is not None else
                             (t._accum or edge_of(t)[0], 0) if t._requires_grad else _NO_EDGE)
                needs.append(t._requires_grad)
                d = t._data
                meta.append((d.shape, d.dtype))
            self.next_functions = tuple(edges)
            self.needs_input_grad = tuple(needs)
            self._input_meta = tuple(meta)
        save = self.save
        if save:
            if len(save) == 2:  # (the common case, unrolled: no comprehension frames per recorded op)
                a, b = inputs[save[0]], inputs[save[1]]
                self._saved = (a, b)
                self._saved_versions = (a._version[0], b._version[0])
                if a._is_inference or b._is_inference:
                    raise RuntimeError(INFERENCE_SAVE_MSG)
            else:
                saved = self._saved = tuple([inputs[i] for i in save])
                self._saved_versions = tuple([t._version[0] for t in saved])
                for t in saved:
                    if t._is_inference:
                        raise RuntimeError(INFERENCE_SAVE_MSG)
        else:
            self._saved = ()
        if type(out) is tuple:
            make, dev = Tensor._make, self.dev
            nd = self.non_differentiable
            self._n_out = len(out)
            self._plain = False
            self._out_meta = tuple([(o.shape, o.dtype) for o in out])
            outs = tuple([make(o, dev) if i in nd else make(o, dev, True, self, i)
                          for i, o in enumerate(out)])
            if _record_hooks[0]:
                from .graph import _on_record
                _on_record(self, outs)
            return outs
        res = Tensor._make(out, self.dev, True, self, 0)
        if self.save_result:
            self._result = (out, res._version, 0)
        if _record_hooks[0]:  # anomaly mode or saved-tensor hooks (autograd.graph._on_record)
            from .graph import _on_record
            _on_record(self, res)
        return res


# What the Python Op.apply calls to record a node: Op._record, or its C twin (csrc/fastpath_core.c) once
# bound; the C Op.apply, once bound, calls the C record itself. _python_apply keeps the Python Op.apply.
_record = Op._record
_python_apply = Op.__dict__["apply"]
# The node slots _record writes: an op class may not shadow them with class attributes (Python would then
# store into the instance dict, the C twin into the slot).
_RECORDED_SLOTS = frozenset(("_seq", "_released", "_result", "next_functions", "needs_input_grad", "_input_meta",
                             "_saved", "_saved_versions", "dev"))


def _check_op_class(cls):
    shadowed = _RECORDED_SLOTS.intersection(cls.__dict__)
    if shadowed:
        raise TypeError(f"{cls.__qualname__} defines {', '.join(sorted(shadowed))}: node slots that recording "
                        "writes (set them per node, not on the class)")


def fastpath_switched_off() -> bool:
    return _os.environ.get("AUTOGRAD_GPU_PURE_PYTHON", "") not in ("", "0")


def bind_fastpath(tensor_cls, cpu_device, python_record=None):
    """Use the C build of Tensor._make, Op.apply, Op._record and the engine's loop (csrc/) when it was compiled
    at install and AUTOGRAD_GPU_PURE_PYTHON is unset; returns the module, or None (the Python functions stay).
    ``python_record`` (default Op._record) is what the C record hands its uncommon cases to."""
    global _record
    if fastpath_switched_off():
        return None
    try:
        from .. import _fastpath
    except ImportError:
        return None
    from .grad_mode import inference_active
    _fastpath.init(tensor_cls, Node, _np.ndarray, _np.generic, _np.array, inference_active, _grad_state,
                   cpu_device, _next_seq, edge_of, python_record or Op._record, _record_hooks, _NO_EDGE,
                   INFERENCE_SAVE_MSG)
    _fastpath.init_apply(_python_apply.__func__, _fw_enabled, _forward_value_error)
    from . import engine
    engine.bind_fastpath(_fastpath)
    tensor_cls._make = staticmethod(_fastpath.make)
    Op.apply = classmethod(_fastpath.apply)
    _record = _fastpath.record
    return _fastpath


_new = object.__new__
_NO_EDGE = (None, 0)
_NEED1 = (True,)  # a one-input op is recorded only when its input requires grad
_PLAIN = frozenset((int, float, bool, str, tuple, type(None)))  # node params that can't hold an array
_ndarray = _np.ndarray


def raw_backward() -> bool:
    """Whether a backward may compute on raw arrays and wrap the result: no graph of the backward is being
    recorded (create_graph=False) and no forward-AD tangent must flow through it (the condition under which the
    engine runs ``backward_raw``). For a ``backward`` with an array shortcut of its own, or one that has no
    differentiable form."""
    return not _grad_state.enabled and not _fw_enabled[0]


_anomaly_enabled = [False]
_record_hooks = [False]  # anomaly mode on, or saved_tensors_hooks active in some thread
_fw_enabled = [False]    # a forward-AD dual level is active (autograd.forward_ad)


class AccumulateGrad(Node):
    """Sink node of a leaf tensor: adds the incoming gradient into ``variable.grad``."""

    __slots__ = ("_variable_ref",)

    # Constant state as class attributes (shadowing Node's slots; an assignment goes to the instance dict):
    # a leaf's accumulator is made once per leaf, and its constructor sets only what varies.
    next_functions = ()
    _seq = -1
    _released = False
    _saved = ()
    _result = None
    _pre_hooks = _post_hooks = _retained = _tensor_hooks = None
    _n_out = 1
    _out_meta = None
    _input_meta = ()
    needs_input_grad = ()
    _anomaly_trace = None

    def __init__(self, variable):
        self._variable_ref = weakref.ref(variable)
        self.dev = variable._device
        if variable._hooks is not None:
            self._tensor_hooks = {0: variable._hooks}  # Tensor.register_hook

    @property
    def variable(self):
        """The leaf this node accumulates into; None once nothing else keeps that leaf alive (its gradient
        could never be read, so backward skips it; the leaf's tensor hooks still run)."""
        return self._variable_ref()

    def _release(self):
        pass
