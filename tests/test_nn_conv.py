"""nn.functional convolution, pooling and batch norm beyond the op registry: PyTorch's error messages,
grad_fn names of first and second derivatives, and that CUDA devices run the fused im2col / col2im kernels."""
import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu.nn import functional as F

from conftest import DEVICES


def test_functional_errors_match_pytorch():
    x, w = ag.randn(2, 3, 5, 5), ag.randn(4, 3, 3, 3)
    cases = [
        (lambda: F.conv2d(x, w, padding="foo"),
         "Invalid padding string: 'foo'"),
        (lambda: F.conv2d(x, w, padding="same", stride=2),
         "padding='same' is not supported for strided convolutions"),
        (lambda: F.conv2d(ag.randn(2, 5, 5, 5), w),
         "Given groups=1, weight of size [4, 3, 3, 3], expected input[2, 5, 5, 5] to have 3 channels, "
         "but got 5 channels instead"),
        (lambda: F.conv2d(ag.randn(2, 3, 2, 2), w),
         "Calculated padded input size per channel: (2 x 2). Kernel size: (3 x 3). Kernel size can't be "
         "greater than actual input size"),
        (lambda: F.conv2d(x, w, groups=2),
         "Given groups=2, weight of size [4, 3, 3, 3], expected input[2, 3, 5, 5] to have 6 channels, "
         "but got 3 channels instead"),
        (lambda: F.conv2d(x, w, bias=ag.randn(3)),
         "Given weight of size [4, 3, 3, 3], expected bias to be 1-dimensional with 4 elements, but got "
         "bias of size [3] instead"),
        (lambda: F.conv2d(x.double(), w), "expected scalar type Double but found Float"),
        (lambda: F.conv2d(x, w, stride=0), "non-positive stride is not supported"),
        (lambda: F.conv2d(x, w, padding=-1), "negative padding is not supported"),
        (lambda: F.conv1d(x, w),
         "Expected 2D (unbatched) or 3D (batched) input to conv1d, but got input of size: [2, 3, 5, 5]"),
        (lambda: F.max_pool2d(x, 3, padding=2),
         "pad should be at most half of effective kernel size, but got pad=2, kernel_size=3 and dilation=1"),
        (lambda: F.max_pool2d(ag.randn(2, 3, 1, 1), 3),
         "Given input size: (3x1x1). Calculated output size: (3x0x0). Output size is too small"),
        (lambda: F.max_pool2d(ag.randn(5, 5), 2),
         "non-empty 3D or 4D (batch mode) tensor expected for input"),
        (lambda: F.max_pool2d(x, 2, stride=0), "stride should not be zero"),
        (lambda: F.adaptive_avg_pool2d(ag.randn(5), 2),
         "adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got [5]"),
        (lambda: F.batch_norm(x, ag.zeros(4), ag.ones(3), training=True),
         "running_mean should contain 3 elements not 4"),
        (lambda: F.batch_norm(x, None, None, training=False),
         "running_mean must be defined in evaluation mode"),
    ]
    for fn, msg in cases:
        with pytest.raises(RuntimeError) as e:
            fn()
        assert str(e.value) == msg


def test_functional_grad_fn_names():
    x = ag.randn(2, 3, 6, 6, requires_grad=True)
    w = ag.randn(4, 3, 3, 3, requires_grad=True)
    assert F.conv2d(x, w).grad_fn.name() == "ConvolutionBackward0"
    assert F.conv1d(x[:, :, 0], w[:, :, 0]).grad_fn.name() == "ConvolutionBackward0"
    assert F.max_pool2d(x, 2).grad_fn.name() == "MaxPool2DWithIndicesBackward0"
    assert F.avg_pool2d(x, 2).grad_fn.name() == "AvgPool2DBackward0"
    assert F.adaptive_avg_pool2d(x, (2, 3)).grad_fn.name() == "AdaptiveAvgPool2DBackward0"
    assert F.adaptive_avg_pool2d(x, 1).grad_fn.name() == "MeanBackward1"
    assert F.batch_norm(x, None, None, training=True).grad_fn.name() == "NativeBatchNormBackward0"
    for f, name in [(lambda t: F.conv2d(t, w), "ConvolutionBackwardBackward0"),
                    (lambda t: F.max_pool2d(t, 2), "MaxPool2DWithIndicesBackwardBackward0"),
                    (lambda t: F.avg_pool2d(t, 2), "AvgPool2DBackwardBackward0"),
                    (lambda t: F.adaptive_avg_pool2d(t, (2, 3)), "AdaptiveAvgPool2DBackwardBackward0")]:
        (g,) = ag.autograd.grad(f(x).sum(), x, create_graph=True)
        assert g.grad_fn.name() == name and g.requires_grad


@pytest.mark.parametrize("dev", [d for d in DEVICES if d != "cpu"])
def test_cuda_devices_use_fused_im2col(dev, monkeypatch):
    """conv / pooling on CUDA devices go through the fused im2col / col2im / scatter kernels."""
    from autograd_gpu.ops import fused
    calls = []
    for name in ("im2col", "col2im", "scatter_add_rows"):
        orig = getattr(fused, name)
        monkeypatch.setattr(fused, name, lambda *a, _o=orig, _n=name, **k: calls.append(_n) or _o(*a, **k))
    x = ag.randn(2, 2, 5, 5, device=dev, requires_grad=True)
    w = ag.randn(3, 2, 3, 3, device=dev, requires_grad=True)
    y = F.max_pool2d(F.conv2d(x, w, padding=1), 2)
    y.sum().backward()
    assert calls.count("im2col") == 3 and calls.count("col2im") == 1 and calls.count("scatter_add_rows") == 1
    rows = x.detach()._host(), w.detach()._host()
    ref = F.max_pool2d(F.conv2d(ag.tensor(rows[0]), ag.tensor(rows[1]), padding=1), 2)
    np.testing.assert_allclose(y.detach()._host(), ref.numpy(), rtol=1e-5, atol=1e-5)
