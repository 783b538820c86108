"""Hook handles and tensor hooks (PyTorch's ``torch.utils.hooks.RemovableHandle``, ``Tensor.register_hook``).

Where hooks live (the engine reads these slots; see PyTorch's "Backward Hooks execution" for the order):
- a non-leaf tensor's hooks: ``grad_fn._tensor_hooks[output_nr]``, run on the gradient flowing into it;
- a leaf's hooks: ``tensor._hooks``, shared with its AccumulateGrad node as that node's tensor hooks, so they
  run before ``.grad`` is accumulated and also on what ``autograd.grad`` returns for the leaf;
- ``tensor._post_acc_hooks``: run with the tensor after its ``.grad`` was accumulated.
"""
from __future__ import annotations

import itertools

_next_id = itertools.count().__next__


class RemovableHandle:
    """A handle that removes the hook it was returned for: ``handle.remove()`` or ``with handle: ...``."""

    __slots__ = ("hooks_dict_ref", "id", "extra_dict_ref")

    def __init__(self, hooks_dict: dict, fn=None, *, extra_dict=None):
        self.hooks_dict_ref = hooks_dict
        self.id = _next_id()
        if fn is not None:
            hooks_dict[self.id] = fn
        self.extra_dict_ref = () if extra_dict is None else (
            tuple(extra_dict) if isinstance(extra_dict, (list, tuple)) else (extra_dict,))

    def remove(self) -> None:
        self.hooks_dict_ref.pop(self.id, None)
        for d in self.extra_dict_ref:
            d.pop(self.id, None)

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def _hook_name(fn) -> str:
    return getattr(fn, "__name__", "")


def _tensor_type(t) -> str:
    return t.type()


def _checked(fn):
    """Wrap a tensor hook so a replacement gradient must keep the original's size, dtype and device."""
    from ..tensor import Tensor

    def hook(grad):
        r = fn(grad)
        if r is None:
            return None
        if not isinstance(r, Tensor):
            raise TypeError(f"expected Tensor or None (got {type(r).__name__})")
        if r._data.dtype != grad._data.dtype or r._device is not grad._device:
            raise RuntimeError(f"hook '{_hook_name(fn)}' has changed the type of value (was "
                               f"{_tensor_type(grad)} got {_tensor_type(r)})")
        if r._data.shape != grad._data.shape:
            raise RuntimeError(f"hook '{_hook_name(fn)}' has changed the size of value")
        return r
    hook.__wrapped__ = fn
    return hook


def register_tensor_hook(t, fn) -> RemovableHandle:
    """Tensor.register_hook: ``fn(grad) -> Tensor or None`` runs on the gradient w.r.t. ``t``."""
    if not t._requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    node = t.grad_fn
    if node is None:
        if t._hooks is None:
            t._hooks = {}
        acc = t._accum
        if acc is not None:
            acc._tensor_hooks = {0: t._hooks}
        return RemovableHandle(t._hooks, _checked(fn))
    if node._tensor_hooks is None:
        node._tensor_hooks = {}
        node._plain = False
    hooks = node._tensor_hooks.get(t._output_nr)
    if hooks is None:
        hooks = node._tensor_hooks[t._output_nr] = {}
    return RemovableHandle(hooks, _checked(fn))


def register_post_accumulate_grad_hook(t, fn) -> RemovableHandle:
    """Tensor.register_post_accumulate_grad_hook: ``fn(tensor)`` runs once ``tensor.grad`` is updated."""
    if not t._requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if t.grad_fn is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
    if t._post_acc_hooks is None:
        t._post_acc_hooks = {}
    return RemovableHandle(t._post_acc_hooks, fn)
