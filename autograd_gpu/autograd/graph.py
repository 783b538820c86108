"""torch.autograd.graph: Node, saved-tensor hooks (saved_tensors_hooks, save_on_cpu), gradient edges.

Saved-tensor hooks: while ``saved_tensors_hooks(pack, unpack)`` is active (per thread, innermost wins), every
tensor an op saves for backward (inputs it needs, or its output) is replaced by ``pack(tensor)``; backward
gets ``unpack(packed)`` back, re-attached to the saved tensor's place in the graph so double backward works.
Op._record reaches this module only when the ``node._record_hooks`` flag is set, so ops pay nothing otherwise.
"""
from __future__ import annotations

import threading
from collections import namedtuple
from typing import Any, Callable

from . import node as _node
from .node import Node, edge_of  # noqa: F401  (Node: torch.autograd.graph.Node)

__all__ = ["Node", "GradientEdge", "get_gradient_edge", "increment_version", "saved_tensors_hooks",
           "save_on_cpu", "disable_saved_tensors_hooks"]

GradientEdge = namedtuple("GradientEdge", ("node", "output_nr"))
GradientEdge.__doc__ = "The gradient edge of a tensor: (grad_fn or AccumulateGrad, output index)."


def get_gradient_edge(tensor) -> GradientEdge:
    """The (node, output_nr) through which gradient reaches ``tensor`` (usable as an ``inputs`` target)."""
    if not tensor.requires_grad:
        raise RuntimeError("It is not possible to get the gradient edge for a Tensor that does not require "
                           "gradients")
    return GradientEdge(*edge_of(tensor))


def increment_version(tensor) -> None:
    """Bump ``tensor``'s version counter, as an in-place op would (for in-place writes autograd can't see)."""
    for t in (tensor if isinstance(tensor, (list, tuple)) else (tensor,)):
        t._version[0] += 1


# --- saved-tensor hooks ------------------------------------------------------------------------------------

class _HookState(threading.local):
    stack = ()               # ((pack, unpack), ...), innermost last
    disabled_msg = None      # set by disable_saved_tensors_hooks


_state = _HookState()
_active = [0]                # saved_tensors_hooks contexts open in any thread
_lock = threading.Lock()


def _update_record_flag() -> None:
    """Op._record calls into _on_record only while anomaly mode or some saved-tensor hooks are on."""
    _node._record_hooks[0] = bool(_node._anomaly_enabled[0] or _active[0])


class saved_tensors_hooks:
    """Context manager: ops save ``pack_hook(tensor)`` for backward and get ``unpack_hook(packed)`` back.

    ``pack_hook(Tensor) -> Any``; ``unpack_hook(Any) -> Tensor`` with the same content as the packed tensor.
    """

    def __init__(self, pack_hook: Callable[[Any], Any], unpack_hook: Callable[[Any], Any]):
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self):
        if _state.disabled_msg is not None:
            raise RuntimeError(_state.disabled_msg)
        _state.stack = _state.stack + ((self.pack_hook, self.unpack_hook),)
        with _lock:
            _active[0] += 1
            _update_record_flag()
        return self

    def __exit__(self, *exc):
        _state.stack = _state.stack[:-1]
        with _lock:
            _active[0] -= 1
            _update_record_flag()


class save_on_cpu(saved_tensors_hooks):
    """Context manager: tensors saved for backward on a CUDA device are kept in host memory until backward."""

    def __init__(self, pin_memory: bool = False, device_type: str = "cuda"):
        def pack_to_cpu(tensor):
            if tensor._device.type == "cpu":
                return (None, tensor.detach())
            return (tensor._device, tensor.detach().to("cpu"))

        def unpack_from_cpu(packed):
            device, tensor = packed
            return tensor if device is None else tensor.to(device, non_blocking=pin_memory)

        super().__init__(pack_to_cpu, unpack_from_cpu)


class disable_saved_tensors_hooks:
    """Context manager: entering ``saved_tensors_hooks`` inside raises RuntimeError(error_message)."""

    def __init__(self, error_message: str):
        self.error_message = error_message

    def __enter__(self):
        self.prev = _state.disabled_msg
        _state.disabled_msg = self.error_message

    def __exit__(self, *exc):
        _state.disabled_msg = self.prev


def current_hooks():
    """The innermost (pack, unpack) pair of this thread, or None."""
    stack = _state.stack
    return stack[-1] if stack else None


def _on_record(node, out) -> None:
    """Called by Op._record (flag set): anomaly trace, then packing of what the node saved."""
    if _node._anomaly_enabled[0]:
        from .anomaly import record_trace
        record_trace(node)
    hooks = current_hooks()
    if hooks is None:
        return
    pack, unpack = hooks
    saved = node._saved
    if saved:
        node._saved = PackedSaved([pack_tensor(t, pack) for t in saved], unpack)
    if node._result is not None:
        node._result = PackedResult(pack(out), unpack)


def pack_tensor(t, pack):
    """(packed, where t sits in the graph) for one saved tensor (None stays None)."""
    if t is None:
        return None
    if not t._requires_grad:
        return (pack(t), None, 0, None)
    if t.grad_fn is not None:
        return (pack(t), t.grad_fn, t._output_nr, None)
    return (pack(t), None, 0, edge_of(t)[0])  # a leaf: keep its AccumulateGrad so gradient still reaches it


def unpack_tensor(entry, unpack):
    """The tensor ``unpack`` gives back, placed where the saved tensor was in the graph."""
    if entry is None:
        return None
    packed, grad_fn, output_nr, acc = entry
    t = unpack(packed)
    from ..tensor import Tensor
    if not isinstance(t, Tensor):
        raise TypeError("Output of saved tensor unpack_hook expected to be a Tensor but got result of type "
                        f"{type(t).__name__}")
    if grad_fn is None and acc is None:
        return t
    if t.grad_fn is grad_fn and t._output_nr == output_nr and t._requires_grad:
        return t
    r = Tensor._make(t._data, t._device, True, grad_fn, output_nr)
    r._version = t._version
    if acc is not None:
        r._accum = acc
    return r


class PackedSaved:
    """Node._saved under saved-tensor hooks: what pack returned, unpacked on each saved_tensors access."""

    __slots__ = ("entries", "unpack")

    def __init__(self, entries, unpack):
        self.entries = entries
        self.unpack = unpack

    def unpack_all(self) -> tuple:
        return tuple([unpack_tensor(e, self.unpack) for e in self.entries])

    def __iter__(self):  # the packed values, for code that scans what a node keeps (ops.inplace)
        return iter([e[0] for e in self.entries if e is not None])


class PackedResult:
    """Node._result under saved-tensor hooks (the node's own output)."""

    __slots__ = ("packed", "unpack")

    def __init__(self, packed, unpack):
        self.packed = packed
        self.unpack = unpack

    def __getitem__(self, i):  # like Node._result[0] (the saved array), for code scanning saved values
        if i != 0:
            raise IndexError(i)
        return getattr(self.packed, "_data", None)

    def unpack_for(self, node, output_nr: int = 0):
        t = self.unpack(self.packed)
        from ..tensor import Tensor
        if not isinstance(t, Tensor):
            raise TypeError("Output of saved tensor unpack_hook expected to be a Tensor but got result of "
                            f"type {type(t).__name__}")
        if t.grad_fn is node:
            return t
        r = Tensor._make(t._data, t._device, True, node, output_nr)
        r._version = t._version
        if _node._fw_enabled[0]:
            from .forward_ad import _restore_tangent
            _restore_tangent(node, r, output_nr)
        return r
