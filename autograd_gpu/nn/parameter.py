"""torch.nn.Parameter: a leaf Tensor that a Module registers as learnable."""
from __future__ import annotations

from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor that requires grad by default and is registered by Module.__setattr__."""

    __slots__ = ()

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True):
        if data is None:
            from ..creation import empty
            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError("Parameter(): argument 'data' (position 1) must be Tensor, not "
                            f"{type(data).__name__}")
        p = Tensor._make(data._data, data._device)
        p.__class__ = cls
        p._version = data._version  # shares storage with data, so it shares the version counter too
        if requires_grad:
            p.requires_grad_(True)
        return p

    def __init__(self, data=None, requires_grad=True):
        pass

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __reduce_ex__(self, proto):
        from ..serialization import _rebuild_parameter
        return (_rebuild_parameter, (self._host(), self.dtype.name, str(self._device), self._requires_grad))

