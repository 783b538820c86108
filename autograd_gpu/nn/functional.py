"""torch.nn.functional: losses, activations and layers as functions."""
from __future__ import annotations

from ..ops.loss import *  # noqa: F401,F403
from ..ops.activation import *  # noqa: F401,F403
from ..ops.linalg import matmul as _matmul
from ..tensor import Tensor


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """input @ weight.T + bias."""
    out = _matmul(input, weight.t()) if input.dim() != 2 else input.mm(weight.t())
    return out if bias is None else out + bias
