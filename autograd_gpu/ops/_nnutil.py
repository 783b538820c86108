"""Helpers shared by the nn.functional op modules (activation, softmax, loss, nn_ops)."""
from __future__ import annotations

import warnings

from ..tensor import Tensor

TORCH_NAMES = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
               "bool": "Bool", "float16": "Half", "float32": "Float", "float64": "Double"}


def fused():
    """The fused-kernel module (imported on first use: it declares every kernel)."""
    from . import fused as f
    return f


def kernels(dev, x) -> bool:
    """Take the fused-kernel branch: a CUDA device and a floating array (the kernels are float-only)."""
    return dev.uses_kernels and x.dtype.kind == "f"


def require_float(x, kernel: str):
    """PyTorch's error for a float-only kernel given an integer tensor."""
    if x.dtype.kind != "f":
        raise NotImplementedError(f'"{kernel}" not implemented for \'{TORCH_NAMES[x.dtype.name]}\'')


def const(arr, dev) -> Tensor:
    """A constant (non-differentiable) tensor around an array of ``dev``."""
    return Tensor._make(arr, dev)


def wrap_dim(dim: int, ndim: int) -> int:
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got "
                         f"{dim})")
    return dim % n


REDUCTIONS = frozenset(("none", "mean", "sum"))  # (callers test this first and call reduction_arg otherwise)


def reduction_arg(reduction: str, size_average=None, reduce=None) -> str:
    """The reduction string, honouring the deprecated size_average / reduce arguments like PyTorch."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "mean" if size_average and reduce else "sum" if reduce else "none"
        warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{reduction}' "
                      "instead.", stacklevel=3)
    elif reduction not in REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def size_str(shape) -> str:
    return f"torch.Size([{', '.join(str(s) for s in shape)}])"


def warn_target_size(input: Tensor, target: Tensor):
    if target._data.shape != input._data.shape:
        warnings.warn(f"Using a target size ({size_str(target._data.shape)}) that is different to the input "
                      f"size ({size_str(input._data.shape)}). This will likely lead to incorrect results due "
                      "to broadcasting. Please ensure they have the same size.", stacklevel=3)


def not_differentiable(fn: str, arg: str, t):
    if t is not None and t._requires_grad:
        from ..autograd.grad_mode import state
        if state.enabled:
            raise RuntimeError(f"The function '{fn}' is not differentiable with respect to argument '{arg}'. "
                               "This input cannot have requires_grad True.")
