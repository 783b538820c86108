"""Batch normalization over (N, C, *) inputs: batch statistics in training (running stats updated in place),
running statistics in evaluation."""
from __future__ import annotations

from ..autograd.node import Op
from ..tensor import Tensor

__all__ = ["batch_norm"]


class NativeBatchNormBackward0(Op):
    """y = (x - mean) / sqrt(var + eps) * w + b over every dim but the channel dim 1 (biased batch
    variance)."""

    def forward(self, x, *wb, training=True, running_mean=None, running_var=None, momentum=0.1, eps=1e-5,
                has_weight=False, has_bias=False):
        xp = self.dev.xp
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, -1) + (1,) * (x.ndim - 2)
        self.axes, self.shape, self.eps, self.training = axes, shape, eps, training
        self.has_w, self.has_b = has_weight, has_bias
        self.save = tuple(range(1 + len(wb)))
        if training:
            mean = x.mean(axis=axes)
            xc = x - mean.reshape(shape)
            var = (xc * xc).mean(axis=axes)
            if running_mean is not None:
                n = x.size // x.shape[1]
                # in place, on the buffers' own memory (PyTorch updates them in the kernel, no version bump)
                running_mean *= 1 - momentum
                running_mean += momentum * mean.astype(running_mean.dtype, copy=False)
            if running_var is not None:
                running_var *= 1 - momentum
                running_var += (momentum * n / max(n - 1, 1)) * var.astype(running_var.dtype, copy=False)
        else:
            mean = running_mean.astype(x.dtype, copy=False)
            xc = x - mean.reshape(shape)
            var = running_var.astype(x.dtype, copy=False)
            self.run_stats = (mean.copy(), var.copy())  # backward must not see later updates
        invstd = 1.0 / xp.sqrt(var + eps)
        y = xc * invstd.reshape(shape)
        if has_weight:
            y *= wb[0].reshape(shape)
        if has_bias:
            y += wb[-1].reshape(shape)
        return y

    def backward(self, g):
        saved = self.saved_tensors
        x = saved[0]
        w = saved[1] if self.has_w else None
        need = self.needs_input_grad
        axes, shape = self.axes, self.shape
        # Tensor ops from x itself (statistics recomputed), so double backward sees every dependency.
        if self.training:
            mean = x.mean(axes, keepdim=True)
            xc = x - mean
            invstd = ((xc * xc).mean(axes, keepdim=True) + self.eps) ** -0.5
        else:
            m, v = self.run_stats
            dev = x._device
            xc = x - Tensor._make(m.reshape(shape), dev)
            invstd = Tensor._make((1.0 / dev.xp.sqrt(v + self.eps)).reshape(shape), dev)
        xhat = xc * invstd
        gx = gw = gb = None
        if need[0]:
            gxhat = g if w is None else g * w.reshape(shape)
            if self.training:
                proj = xhat * (gxhat * xhat).mean(axes, keepdim=True)
                gx = invstd * (gxhat - gxhat.mean(axes, keepdim=True) - proj)
            else:
                gx = gxhat * invstd
        if self.has_w and need[1]:
            gw = (g * xhat).sum(axes)
        if self.has_b and need[-1]:
            gb = g.sum(axes)
        grads = [gx]
        if self.has_w:
            grads.append(gw)
        if self.has_b:
            grads.append(gb)
        return tuple(grads)


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias per channel (dim 1); batch statistics when training
    (running <- (1 - momentum) running + momentum batch, unbiased variance), running statistics otherwise."""
    c = input.shape[1] if input.dim() > 1 else 0
    if training:
        n = input.numel() // max(c, 1)
        if n <= 1:
            raise ValueError("Expected more than 1 value per channel when training, got input size "
                             f"{input.shape}")
    elif running_mean is None or running_var is None:
        which = "mean" if running_mean is None else "var"
        raise RuntimeError(f"running_{which} must be defined in evaluation mode")
    named = (("weight", weight), ("bias", bias), ("running_mean", running_mean), ("running_var", running_var))
    for name, t in named:
        if t is not None and t.numel() != c:
            raise RuntimeError(f"{name} should contain {c} elements not {t.numel()}")
    extra = [t for t in (weight, bias) if t is not None]
    rm = running_mean._data if running_mean is not None else None
    rv = running_var._data if running_var is not None else None
    return NativeBatchNormBackward0.apply(input, *extra, training=training, running_mean=rm, running_var=rv,
                                          momentum=momentum, eps=eps, has_weight=weight is not None,
                                          has_bias=bias is not None)
