"""torch.autograd.forward_ad: forward-mode AD with dual tensors (primal + tangent), one level at a time.

A tangent rides on its tensor (``tensor._fw_grad``). While a dual level is active, Op.apply hands every op to
``_dual_apply``: the op runs as usual, then, if an input carries a tangent, the output tangent is computed by
autograd.forward_ad_rules (an explicit rule, the op's own backward for elementwise ops, or the double-vjp
trick). With no level active the cost is one flag test in Op.apply. Levels are global, as in PyTorch.

    with forward_ad.dual_level():
        x = forward_ad.make_dual(primal, tangent)
        y = f(x)
        jvp = forward_ad.unpack_dual(y).tangent    # J_f(primal) @ tangent
"""
from __future__ import annotations

import weakref
from collections import namedtuple

from . import node as _node
from .grad_mode import _DecoratorContextManager

__all__ = ["UnpackedDualTensor", "enter_dual_level", "exit_dual_level", "make_dual", "unpack_dual",
           "dual_level"]

_current_level = [-1]
_token = [object()]          # identifies the active level (a new one per enter_dual_level)
_tracked: list = []          # weakrefs to tensors holding a tangent: cleared when the level exits
_compact_at = [4096]


def enter_dual_level() -> int:
    """Enter a new forward-AD level (only one may be active); returns its index."""
    if _current_level[0] >= 0:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    _current_level[0] = 0
    _token[0] = object()
    _node._fw_enabled[0] = True
    return 0


def exit_dual_level(*, level: int | None = None) -> None:
    """Exit the level: every tangent created in it is dropped."""
    if level is None:
        level = _current_level[0]
    if level < 0:
        raise RuntimeError("Dual level must be a positive number.")
    if level != _current_level[0]:
        raise RuntimeError("Trying to exit a forward AD level that was not the last one that was created. "
                           "This is not supported.")
    _node._fw_enabled[0] = False
    _current_level[0] = -1
    for ref in _tracked:
        t = ref()
        if t is not None:
            t.__dict__.pop("_fw_grad", None)
    _tracked.clear()
    _compact_at[0] = 4096


def _set_tangent(t, tangent) -> None:
    """Attach ``tangent`` to ``t`` at the current level (remembered so exit_dual_level can drop it)."""
    t._fw_grad = tangent
    _tracked.append(weakref.ref(t))
    if len(_tracked) > _compact_at[0]:
        _tracked[:] = [r for r in _tracked if r() is not None]
        _compact_at[0] = max(4096, 2 * len(_tracked))


def _remember_output_tangent(node, output_nr, tangent) -> None:
    """Keep an op output's tangent on its node, for saved outputs rebuilt in backward (Node.result)."""
    d = node.__dict__.get("_fw_outputs")
    if d is None or d[0] is not _token[0]:
        d = node.__dict__["_fw_outputs"] = (_token[0], {})
    d[1][output_nr] = tangent


def _restore_tangent(node, t, output_nr) -> None:
    """Give ``t`` (a saved output of ``node``, rebuilt from its array) the tangent of the original output."""
    d = node.__dict__.get("_fw_outputs")
    if d is not None and d[0] is _token[0]:
        v = d[1].get(output_nr)
        if v is not None:
            t._fw_grad = v


def _no_level_error():
    return RuntimeError("Trying to create a dual Tensor for forward AD but no level exists, make sure to "
                        "enter_dual_level() first.")


def _alias(tensor):
    """A view of ``tensor`` without its tangent (forward AD suspended while it is made)."""
    flag = _node._fw_enabled
    prev, flag[0] = flag[0], False
    try:
        return tensor.view_as(tensor)
    finally:
        flag[0] = prev


def make_dual(tensor, tangent, *, level: int | None = None):
    """A view of ``tensor`` carrying ``tangent`` (same size) as its forward gradient at ``level``."""
    if level is None:
        level = _current_level[0]
    if level < 0:
        raise _no_level_error()
    if not tensor.is_floating_point():
        raise ValueError(f"Expected primal to be floating point or complex, but got: {tensor.dtype}")
    if not tangent.is_floating_point():
        raise ValueError(f"Expected tangent to be floating point or complex, but got: {tangent.dtype}")
    if tangent._data.shape != tensor._data.shape:
        raise RuntimeError("Trying to set a forward gradient that has a different size than that of the "
                           "original Tensor, this is not supported. Tensor is of size "
                           f"{list(tensor._data.shape)} while the given forward gradient is of size "
                           f"{list(tangent._data.shape)}.")
    if tangent._device is not tensor._device:
        raise RuntimeError(f"Expected tangent to be on the same device as the primal ({tensor._device}), but "
                           f"got {tangent._device}.")
    out = _alias(tensor)
    _set_tangent(out, tangent)
    return out


UnpackedDualTensor = namedtuple("UnpackedDualTensor", ["primal", "tangent"])
UnpackedDualTensor.__doc__ = "unpack_dual's result: the primal (a view, no tangent) and the tangent or None."


def unpack_dual(tensor, *, level: int | None = None) -> UnpackedDualTensor:
    """(primal, tangent) of a dual tensor; tangent is None when ``tensor`` has none at ``level``."""
    if level is None:
        level = _current_level[0]
    if level < 0:
        return UnpackedDualTensor(tensor, None)
    return UnpackedDualTensor(_alias(tensor), tensor._fw_grad)


class dual_level(_DecoratorContextManager):
    """Context manager for a forward-AD level: ``with dual_level(): ...`` (tangents are dropped on exit)."""

    def __enter__(self) -> int:
        return enter_dual_level()

    def __exit__(self, *exc) -> None:
        exit_dual_level()


def _dual_apply(cls, inputs, params):
    """Op.apply while a level is active: run the op with forward AD off, then attach output tangents."""
    flag = _node._fw_enabled
    flag[0] = False
    try:
        out = cls.apply(*inputs, **params)
        tangents = [t._fw_grad for t in inputs]
        if any(v is not None for v in tangents):
            from .forward_ad_rules import attach_tangents
            attach_tangents(cls, inputs, params, tangents, out)
    finally:
        flag[0] = True
    return out


def _carry_tangent(dst, src) -> None:
    """In-place ops: ``dst`` (the tensor written to) takes the tangent of the out-of-place result ``src``."""
    v = src._fw_grad
    if v is None:
        dst.__dict__.pop("_fw_grad", None)
    else:
        _set_tangent(dst, v)
