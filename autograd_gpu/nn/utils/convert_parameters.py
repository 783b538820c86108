"""parameters_to_vector / vector_to_parameters."""
from __future__ import annotations

from ...autograd.grad_mode import no_grad
from ...tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor (differentiable)."""
    ps = list(parameters)
    from ...ops import shape
    cat = getattr(shape, "cat", None)
    if cat is None:
        from ... import ops  # noqa: F401
        import autograd_gpu as ag
        cat = ag.cat
    return cat([p.reshape(-1) for p in ps])


def vector_to_parameters(vec: Tensor, parameters) -> None:
    """Copy slices of ``vec`` into the parameters, in order."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    off = 0
    data = vec.detach()._data
    with no_grad():
        for p in parameters:
            n = p.numel()
            p._data[...] = data[off:off + n].reshape(p._data.shape)
            p._version[0] += 1
            off += n
