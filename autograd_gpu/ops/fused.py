"""Fused CUDA kernels, array level: ``op_fwd(dev, arrays...)`` / ``op_bwd(dev, saved, gy, ...)``.

The one import point for ops that take the GPU branch (``dev.uses_kernels``): importing this module
declares every kernel (compiled lazily on first use, per dtype). Elementwise kernels live in
fused_elementwise (bodies in kernels/activations.cuh), raw kernels in fused_raw (kernels/*.cu).
"""
from .fused_elementwise import (  # noqa: F401
    bce_with_logits_bwd, bce_with_logits_fwd, clamp_bwd, dropout_bwd, dropout_fwd, elu_bwd, elu_fwd, gelu_bwd,
    gelu_fwd, leaky_relu_bwd, leaky_relu_fwd, mse_bwd, mse_fwd, relu_bwd, relu_fwd, sigmoid_bwd, sigmoid_fwd,
    silu_bwd, silu_fwd, smooth_l1_bwd, smooth_l1_fwd, softplus_bwd, softplus_fwd, tanh_bwd, tanh_fwd,
    where_bwd,
)
from .fused_elementwise import (  # noqa: F401  (activation_extra)
    hardsigmoid_bwd, hardsigmoid_fwd, hardswish_bwd, hardswish_fwd, logsigmoid_bwd, logsigmoid_fwd, mish_bwd,
    mish_fwd, rrelu_with_noise_fwd, softsign_bwd, softsign_fwd,
)
from .fused_raw import (  # noqa: F401
    adam_step, col2im, cross_entropy_bwd, cross_entropy_fwd, cross_entropy_mean, cross_entropy_targets,
    im2col, layer_norm_bwd, layer_norm_fwd, log_softmax_bwd, log_softmax_fwd, rmsprop_step, scatter_add_rows,
    sgd_step, softmax_bwd, softmax_fwd,
)
