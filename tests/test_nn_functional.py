"""nn.functional semantics the op registry can't express: dropout masks, PyTorch's errors, grad_fn names,
in-place variants, gradient-altering options, and that CUDA devices run one fused kernel per direction."""
import re
import warnings

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu.ops import fused
from autograd_gpu.ops.nn_ops import dropout_threshold, philox_first_word

from conftest import DEVICES, assert_emulated_matches_cpu, make_tensor as _t, host as _np, raises_exactly as _raises

F = ag.nn.functional
KERNEL_DEVICES = [d for d in DEVICES if d != "cpu"]


# ---------------------------------------------------------------- dropout
def test_philox_known_answer():
    # Random123 known-answer vector: Philox-4x32-10, counter 0, key 0 -> first word 0x6627e8d5
    assert int(philox_first_word(0, 0, 1)[0]) == 0x6627E8D5


@pytest.mark.parametrize("dev", DEVICES)
def test_dropout_reproducible_and_scaled(dev):
    x = _t(np.random.default_rng(0).uniform(1, 2, (64, 50)), dev)
    ag.manual_seed(123)
    a = F.dropout(x, 0.3)
    b = F.dropout(x, 0.3)  # the counter advanced: a different mask
    ag.manual_seed(123)
    a2 = F.dropout(x, 0.3)
    np.testing.assert_array_equal(_np(a), _np(a2))
    assert not np.array_equal(_np(a) == 0, _np(b) == 0)
    kept = _np(a) != 0
    np.testing.assert_allclose(_np(a)[kept], _np(x)[kept] / 0.7, rtol=1e-15)
    assert abs(kept.mean() - 0.7) < 0.03  # 3200 draws: sd of the kept fraction is ~0.008


def test_dropout_same_mask_on_every_device():
    x = np.random.default_rng(1).uniform(1, 2, (7, 300))
    outs = []
    for dev in DEVICES:
        ag.manual_seed(42)
        F.dropout(_t(x, dev, dtype=ag.float32), 0.5)  # advance the counter the same way on each device
        outs.append(_np(F.dropout(_t(x, dev, dtype=ag.float32), 0.5)))
    keep = philox_first_word(42, x.size, x.size).reshape(x.shape) >= dropout_threshold(0.5)
    for o in outs:
        np.testing.assert_array_equal(o != 0, keep)
        np.testing.assert_array_equal(o, outs[0])  # bit-identical values too


@pytest.mark.parametrize("dev", DEVICES)
def test_dropout_gradient_and_node(dev):
    x = _t(np.ones((5, 40)), dev, requires_grad=True)
    ag.manual_seed(3)
    y = F.dropout(x, 0.25)
    y.backward(_t(np.full((5, 40), 2.0), dev))
    mask = _np(y) != 0
    np.testing.assert_allclose(_np(x.grad), np.where(mask, 2.0 / 0.75, 0.0))
    assert y.grad_fn.name() == ("MulBackward0" if dev == "cpu" else "NativeDropoutBackward0")


@pytest.mark.parametrize("dev", DEVICES)
def test_dropout_edge_cases(dev):
    x = _t(np.arange(6.0), dev, requires_grad=True)
    assert F.dropout(x, 0.0) is x
    assert F.dropout(x, 0.5, training=False) is x
    y = F.dropout(x, 1.0)
    np.testing.assert_array_equal(_np(y), 0)
    y.sum().backward()
    np.testing.assert_array_equal(_np(x.grad), 0)
    with _raises(ValueError, "dropout probability has to be between 0 and 1, but got 1.5"):
        F.dropout(x, 1.5)
    z = _t(np.ones(100), dev)
    ag.manual_seed(0)
    out = F.dropout(z, 0.5, inplace=True)
    assert out is z and z._version_value == 1 and (_np(z) == 0).any()


# ---------------------------------------------------------------- long rows (> one 1024-thread block)
@pytest.mark.parametrize("dev", DEVICES)
def test_long_rows_gradients(dev):
    rng = np.random.default_rng(5)
    x = rng.uniform(-3, 3, (2, 1500))
    v = rng.standard_normal((2, 1500))
    z = x - x.max(1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    xt = _t(x, dev, requires_grad=True)
    F.softmax(xt, 1).backward(_t(v, dev))
    np.testing.assert_allclose(_np(xt.grad), p * (v - (v * p).sum(1, keepdims=True)), rtol=1e-10, atol=1e-14)
    xt = _t(x, dev, requires_grad=True)
    F.log_softmax(xt, 1).backward(_t(v, dev))
    np.testing.assert_allclose(_np(xt.grad), v - p * v.sum(1, keepdims=True), rtol=1e-10, atol=1e-12)
    xt = _t(x, dev, requires_grad=True)
    F.cross_entropy(xt, ag.tensor([3, 1499], device=dev), label_smoothing=0.1).backward()
    onehot = np.zeros_like(x)
    onehot[0, 3] = onehot[1, 1499] = 1
    np.testing.assert_allclose(_np(xt.grad), (p - 0.9 * onehot - 0.1 / 1500) / 2, rtol=1e-10, atol=1e-14)


# ---------------------------------------------------------------- fused kernels on CUDA devices
def _count_calls(monkeypatch, names):
    calls = {n: 0 for n in names}
    for n in names:
        orig = getattr(fused, n)

        def spy(*a, _n=n, _orig=orig, **k):
            calls[_n] += 1
            return _orig(*a, **k)
        monkeypatch.setattr(fused, n, spy)
    return calls


FUSED = [
    (lambda x: F.relu(x), "relu"), (lambda x: F.leaky_relu(x, 0.1), "leaky_relu"),
    (lambda x: F.elu(x), "elu"), (lambda x: F.gelu(x), "gelu"), (lambda x: F.silu(x), "silu"),
    (lambda x: F.softplus(x), "softplus"), (lambda x: ag.sigmoid(x), "sigmoid"),
    (lambda x: ag.tanh(x), "tanh"), (F.celu, "elu"), (F.selu, "elu"), (F.hardsigmoid, "hardsigmoid"),
    (F.hardswish, "hardswish"), (F.mish, "mish"), (F.logsigmoid, "logsigmoid"), (F.softsign, "softsign"),
    (F.rrelu, "leaky_relu"),
    (lambda x: F.softmax(x, 0), "softmax"), (lambda x: F.log_softmax(x, 1), "log_softmax"),
    (lambda x: F.mse_loss(x, x.detach() * 0.5, reduction="none"), "mse"),
    (lambda x: F.smooth_l1_loss(x, x.detach() * 0.5, reduction="none"), "smooth_l1"),
    (lambda x: F.binary_cross_entropy_with_logits(x, x.detach().sigmoid(), reduction="none"),
     "bce_with_logits"),
    (lambda x: F.cross_entropy(x, ag.tensor([0, 2, 1], device=x.device), reduction="none"), "cross_entropy"),
    (lambda x: F.layer_norm(x, (4,)), "layer_norm"),
]


@pytest.mark.parametrize("dev", KERNEL_DEVICES)
@pytest.mark.parametrize("fn,kernel", FUSED, ids=[f"{k}-{i}" for i, (_, k) in enumerate(FUSED)])
def test_one_fused_launch_per_direction(monkeypatch, dev, fn, kernel):
    calls = _count_calls(monkeypatch, [f"{kernel}_fwd", f"{kernel}_bwd"])
    x = _t(np.random.default_rng(0).uniform(-2, 2, (3, 4)), dev, requires_grad=True)
    y = fn(x)
    assert calls == {f"{kernel}_fwd": 1, f"{kernel}_bwd": 0}
    y.backward(ag.ones_like(y))
    assert calls == {f"{kernel}_fwd": 1, f"{kernel}_bwd": 1}


@pytest.mark.parametrize("dev", KERNEL_DEVICES)
def test_rrelu_training_kernel(monkeypatch, dev):
    calls = _count_calls(monkeypatch, ["rrelu_with_noise_fwd"])
    F.rrelu(_t(np.linspace(-1, 1, 8), dev), training=True)
    assert calls == {"rrelu_with_noise_fwd": 1}


@pytest.mark.parametrize("dev", KERNEL_DEVICES)
def test_dropout_and_embedding_kernels(monkeypatch, dev):
    calls = _count_calls(monkeypatch, ["dropout_fwd", "dropout_bwd", "scatter_add_rows"])
    x = _t(np.ones((4, 5)), dev, requires_grad=True)
    F.dropout(x, 0.5).sum().backward()
    w = _t(np.ones((6, 3)), dev, requires_grad=True)
    F.embedding(ag.tensor([[1, 2], [1, 5]], device=dev), w).sum().backward()
    assert calls == {"dropout_fwd": 1, "dropout_bwd": 1, "scatter_add_rows": 1}
    np.testing.assert_array_equal(_np(w.grad)[:, 0], [0, 2, 1, 0, 0, 1])


# ---------------------------------------------------------------- grad_fn names (PyTorch's)
@pytest.mark.parametrize("dev", DEVICES)
def test_grad_fn_names(dev):
    x = _t(np.random.default_rng(0).uniform(-1, 1, (3, 4)), dev, requires_grad=True)
    t = ag.tensor([0, 2, 1], device=dev)
    ce = F.cross_entropy(x, t)
    assert ce.grad_fn.name() == "NllLossBackward0"
    # without class weights, log_softmax + nll_loss is one fused node on every device; with them, two nodes
    # as in PyTorch
    assert ce.grad_fn.next_functions[0][0].name() == "AccumulateGrad"
    assert F.cross_entropy(x, t, label_smoothing=0.1).grad_fn.name() == "NllLossBackward0"
    weighted = F.cross_entropy(x, t, weight=ag.ones(4, device=dev, dtype=x.dtype))
    assert weighted.grad_fn.name() == "NllLossBackward0"
    assert weighted.grad_fn.next_functions[0][0].name() == "LogSoftmaxBackward0"
    t2 = ag.tensor([[0, 1], [1, 1], [0, 0]], device=dev)
    assert F.cross_entropy(x.reshape(3, 2, 2), t2).grad_fn.name() == "NllLoss2DBackward0"
    assert F.nll_loss(x.reshape(3, 2, 2), t2).grad_fn.name() == "NllLoss2DBackward0"
    names = {"ThresholdBackwardBackward0": F.relu, "SigmoidBackwardBackward0": ag.sigmoid,
             "TanhBackwardBackward0": ag.tanh, "GeluBackwardBackward0": F.gelu, "EluBackwardBackward0": F.elu,
             "SoftplusBackwardBackward0": F.softplus, "LeakyReluBackwardBackward0": F.leaky_relu,
             "HardtanhBackwardBackward0": F.hardtanh,
             "SoftmaxBackwardDataBackward0": lambda v: F.softmax(v, 1),
             "LogSoftmaxBackwardDataBackward0": lambda v: F.log_softmax(v, 1)}
    for name, fn in names.items():
        y = fn(x)
        assert y.grad_fn.name() == name.replace("BackwardBackward0", "Backward0").replace(
            "BackwardDataBackward0", "Backward0").replace("Threshold", "Relu")
        (g,) = ag.autograd.grad(y.sum(), x, create_graph=True)
        assert g.grad_fn.name() == name
    assert F.layer_norm(x, 4).grad_fn.name() == "NativeLayerNormBackward0"
    assert F.pad(x, (1, 1)).grad_fn.name() == "ConstantPadNdBackward0"
    assert F.pad(x[None], (1, 1), mode="reflect").grad_fn.name() == "ReflectionPad1DBackward0"
    assert F.pad(x[None], (1, 1, 1, 1), mode="replicate").grad_fn.name() == "ReplicationPad2DBackward0"
    assert F.relu6(x).grad_fn.name() == "HardtanhBackward0"
    assert F.mse_loss(x, x.detach()).grad_fn.name() == "MseLossBackward0"
    assert F.huber_loss(x, x.detach()).grad_fn.name() == "HuberLossBackward0"
    assert F.embedding(t, x).grad_fn.name() == "EmbeddingBackward0"


# ---------------------------------------------------------------- errors (raised before computing)
@pytest.mark.parametrize("dev", DEVICES)
def test_class_target_errors(dev):
    x = _t(np.zeros((3, 4)), dev, requires_grad=True)
    for bad in ([0, 5, 1], [0, -3, 1]):
        for fn in (F.cross_entropy, lambda a, b: F.nll_loss(a, b)):
            with pytest.raises(IndexError, match=re.escape(f"Target {bad[1]} is out of bounds.")):
                fn(x, ag.tensor(bad, device=dev))
    with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte, but got Int"):
        F.cross_entropy(x, ag.tensor([0, 1, 1], dtype=ag.int32, device=dev))
    with _raises(ValueError, "Expected input batch_size (3) to match target batch_size (2)."):
        F.cross_entropy(x, ag.tensor([0, 1], device=dev))
    with pytest.raises(RuntimeError, match="0D or 1D target tensor expected, multi-target not supported"):
        F.nll_loss(x, ag.zeros(3, 2, dtype=ag.int64, device=dev))
    with _raises(RuntimeError, "weight tensor should be defined either for all 4 classes or no classes "
                               "but got weight tensor of shape: [3]"):
        F.cross_entropy(x, ag.tensor([0, 1, 1], device=dev), weight=_t(np.ones(3), dev))
    with _raises(RuntimeError, "Expected floating point type for target with class probabilities, got Long"):
        F.cross_entropy(_t(1.0, dev), ag.tensor(0, device=dev))
    with pytest.raises(ValueError, match="avg is not a valid value for reduction"):
        F.cross_entropy(x, ag.tensor([0, 1, 1], device=dev), reduction="avg")
    with _raises(RuntimeError, "The function 'nll_loss_forward' is not differentiable with respect to "
                               "argument 'weight'"):
        F.nll_loss(x, ag.tensor([0, 1, 1], device=dev), weight=_t(np.ones(4), dev, requires_grad=True))
    assert x.grad is None


@pytest.mark.parametrize("dev", [d for d in DEVICES if d != "cpu"])
def test_class_target_on_another_device(dev):
    """Class-index targets (and class weights) are read as arrays, not op inputs: a target on another device
    raises PyTorch's error before anything runs (it went through silently on the emulated device)."""
    msg = f"Expected all tensors to be on the same device, but found at least two devices, {dev}:0 and cpu!"
    for xdev, tdev in ((dev, "cpu"), ("cpu", dev)):
        x = _t(np.zeros((3, 4)), xdev, requires_grad=True)
        t = ag.tensor([0, 1, 2], device=tdev)
        for fn in (F.cross_entropy, F.nll_loss, F.multi_margin_loss,
                   lambda a, b: F.multilabel_margin_loss(a, ag.tensor([[0, -1, 0, 0]] * 3, device=b.device))):
            with _raises(RuntimeError, msg):
                fn(x, t)
        assert x.grad is None
    x, t = _t(np.zeros((3, 4)), dev), ag.tensor([0, 1, 2], device=dev)
    for fn in (F.cross_entropy, F.nll_loss):
        with _raises(RuntimeError, msg):
            fn(x, t, weight=ag.ones(4))

@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("dtype", [ag.float32, ag.float64])
def test_cross_entropy_common_call_matches_general_path(dev, dtype):
    """cross_entropy's shortcut for the common call (2-D input, int64 class indices, defaults) gives the loss
    and gradient of the checked path (an ignore_index that is no class takes it), and both the float64 closed
    form -mean(x[t] - logsumexp(x))."""
    rng = np.random.default_rng(3)
    xv = rng.normal(0, 3, (5, 7))
    tv = np.array([0, 6, 3, 3, 1])
    results = []
    for kwargs in ({}, {"ignore_index": -1}):
        x = _t(xv, dev, requires_grad=True, dtype=dtype)
        loss = F.cross_entropy(x, ag.tensor(tv, device=dev), **kwargs)
        assert loss.dtype == dtype and loss.grad_fn.name() == "NllLossBackward0"
        loss.backward()
        results.append((_np(loss), _np(x.grad)))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])
    m = xv.max(1, keepdims=True)
    lse = (m + np.log(np.exp(xv - m).sum(1, keepdims=True)))[:, 0]
    p = np.exp(xv - lse[:, None])
    onehot = np.eye(7)[tv]
    tol = 1e-6 if dtype == ag.float32 else 1e-13
    np.testing.assert_allclose(results[0][0], np.mean(lse - xv[np.arange(5), tv]), rtol=tol)
    np.testing.assert_allclose(results[0][1], (p - onehot) / 5, rtol=tol, atol=tol)



@pytest.mark.parametrize("dev", [d for d in DEVICES if d != "cpu"])
def test_cross_entropy_checks_targets_in_one_launch(dev):
    """On CUDA devices the target checks (range, ignored rows) are one reduction kernel read back once, then
    the fused forward and the mean's reduction (which divides by the rows not ignored: closed form); backward
    is one kernel (it divides by the count itself). A bad target raises PyTorch's error before the forward."""
    from autograd_gpu.testing.launches import count_launches
    rng = np.random.default_rng(4)
    xv, tv = rng.normal(0, 2, (6, 5)), np.array([0, -100, 4, 2, -100, 1])
    x = _t(xv, dev, requires_grad=True)
    with count_launches() as fwd:
        loss = F.cross_entropy(x, ag.tensor(tv, device=dev))
    with count_launches() as bwd:
        loss.backward()
    expected = {"cross_entropy_targets": 1, "cross_entropy_fwd<double>": 1, "cross_entropy_mean": 1}
    assert dict(fwd) == expected, dict(fwd)
    assert dict(bwd) == {"cross_entropy_bwd<double>": 1}, dict(bwd)
    keep = tv != -100
    lse = np.log(np.exp(xv).sum(1))
    np.testing.assert_allclose(_np(loss), np.mean((lse - xv[np.arange(6), np.where(keep, tv, 0)])[keep]),
                               rtol=1e-13)
    grad = (np.exp(xv - lse[:, None]) - np.eye(5)[np.where(keep, tv, 0)]) * keep[:, None] / keep.sum()
    np.testing.assert_allclose(_np(x.grad), grad, rtol=1e-12, atol=1e-15)
    with count_launches() as bad:
        with pytest.raises(IndexError, match=re.escape("Target 7 is out of bounds.")):
            F.cross_entropy(x, ag.tensor([0, 7, 1, 1, 1, 1], device=dev))
    assert "cross_entropy_fwd<double>" not in bad

@pytest.mark.parametrize("dev", DEVICES)
def test_all_ignored_targets(dev):
    x = _t(np.zeros((2, 3)), dev, requires_grad=True)
    t = ag.tensor([-100, -100], device=dev)
    assert np.isnan(F.cross_entropy(x, t).item())
    assert F.cross_entropy(x, t, reduction="sum").item() == 0.0
    np.testing.assert_array_equal(_np(F.nll_loss(x, t, reduction="none")), [0.0, 0.0])


@pytest.mark.parametrize("dev", DEVICES)
def test_binary_cross_entropy_semantics(dev):
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(_t([1.5], dev), _t([1.0], dev))
    with _raises(ValueError, "Using a target size (torch.Size([3, 1])) that is different to the input size "
                             "(torch.Size([3])) is deprecated."):
        F.binary_cross_entropy(_t([0.5] * 3, dev), _t(np.ones((3, 1)), dev))
    # PyTorch clamps the logs at -100: a confident wrong answer costs 100, not inf
    assert F.binary_cross_entropy(_t([0.0, 1.0], dev), _t([1.0, 0.0], dev)).item() == 100.0
    for fn, arg in ((F.binary_cross_entropy_with_logits, "weight"), (F.binary_cross_entropy, "weight")):
        with pytest.raises(RuntimeError, match=f"is not differentiable with respect to argument '{arg}'"):
            fn(_t([0.5], dev), _t([1.0], dev), weight=_t([1.0], dev, requires_grad=True))
    with pytest.raises(RuntimeError, match="argument 'pos_weight'"):
        F.binary_cross_entropy_with_logits(_t([0.5], dev), _t([1.0], dev), pos_weight=_t([1.0], dev, True))


@pytest.mark.parametrize("dev", DEVICES)
def test_regression_loss_arguments(dev):
    x, y = _t(np.ones((3, 4)), dev), _t(np.zeros(4), dev)
    msg = "Using a target size (torch.Size([4])) that is different to the input size (torch.Size([3, 4]))"
    with pytest.warns(UserWarning, match=re.escape(msg)):
        assert F.mse_loss(x, y).item() == 1.0
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated, please use "
                                         "reduction='sum' instead."):
        assert F.l1_loss(x, x * 0, size_average=False).item() == 12.0
    with pytest.raises(RuntimeError, match="smooth_l1_loss does not support negative values for beta."):
        F.smooth_l1_loss(x, x, beta=-1.0)
    w = _t(np.arange(12.0).reshape(3, 4), dev)
    assert F.mse_loss(x, x * 0, weight=w).item() == pytest.approx(1.0)  # sum(w d^2) / sum(w)
    assert F.huber_loss(x * 3, x * 0, weight=w, delta=2.0).item() == pytest.approx(4.0 * 66 / 12)
    assert F.smooth_l1_loss(x, x * 0.5, beta=0.0).grad_fn is None  # beta = 0 is l1_loss


@pytest.mark.parametrize("dev", DEVICES)
def test_activation_errors_and_dtypes(dev):
    i = ag.tensor([-1, 2], device=dev)
    np.testing.assert_array_equal(_np(F.relu(i)), [0, 2])
    assert F.relu(i).dtype == ag.int64
    assert ag.sigmoid(i).dtype == ag.float32 and ag.tanh(i).dtype == ag.float32
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        F.gelu(i)
    with pytest.raises(NotImplementedError, match="softmax_lastdim_kernel_impl\" not implemented for 'Long'"):
        F.softmax(i, 0)
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh."):
        F.gelu(_t([1.0], dev), approximate="foo")
    x = _t(np.ones((2, 3)), dev)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax has been deprecated"):
        np.testing.assert_allclose(_np(F.softmax(x)), 1 / 3)
    with _raises(IndexError, "Dimension out of range (expected to be in range of [-2, 1], but got 2)"):
        ag.softmax(x, 2)
    y = F.softmax(_t(np.ones(3), dev, requires_grad=True, dtype=ag.float32), 0, dtype=ag.float64)
    assert y.dtype == ag.float64 and y.grad_fn.next_functions[0][0].name() == "ToCopyBackward0"


@pytest.mark.parametrize("dev", DEVICES)
def test_inplace_activations(dev):
    base = _t([-1.0, 2.0, -3.0], dev, requires_grad=True)
    h = base * 1
    out = ag.relu_(h)
    assert out is h and h._version_value == 1 and h.grad_fn.name() == "ReluBackward0"
    h.sum().backward()
    np.testing.assert_array_equal(_np(base.grad), [0, 1, 0])
    for fn in (lambda v: v.relu_(), lambda v: F.relu(v, inplace=True), lambda v: F.leaky_relu(v, 0.5, True),
               lambda v: F.elu(v, inplace=True), lambda v: F.hardtanh(v, inplace=True),
               lambda v: v.sigmoid_(), lambda v: v.tanh_()):
        v = _t([-1.0, 2.0], dev)
        assert fn(v) is v and v._version_value == 1
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        base.relu_()


# ---------------------------------------------------------------- layer ops
@pytest.mark.parametrize("dev", DEVICES)
def test_embedding_semantics(dev):
    w = _t(np.arange(12.0).reshape(4, 3), dev, requires_grad=True)
    idx = ag.tensor([[0, 3, 3], [1, 3, 0]], device=dev)
    F.embedding(idx, w, padding_idx=3).sum().backward()
    np.testing.assert_array_equal(_np(w.grad)[:, 0], [2, 1, 0, 0])  # no gradient into the padding row
    w.grad = None
    F.embedding(idx, w, scale_grad_by_freq=True).sum().backward()
    np.testing.assert_array_equal(_np(w.grad)[:, 0], [1, 1, 0, 1])  # each row's gradient divided by its count
    with pytest.raises(IndexError, match="index out of range in self"):
        F.embedding(ag.tensor([4], device=dev), w)
    with _raises(RuntimeError, "'indices' to have one of the following scalar types: Long, Int; but got "
                               "torch.FloatTensor instead"):
        F.embedding(ag.tensor([1.0], device=dev), w)
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        F.embedding(ag.tensor([1], device=dev), w, padding_idx=4)
    v = _t(np.full((3, 2), 3.0), dev)
    F.embedding(ag.tensor([0, 2], device=dev), v, max_norm=1.0)
    norms = np.linalg.norm(_np(v), axis=1)
    np.testing.assert_allclose(norms, [1.0, np.sqrt(18), 1.0], rtol=1e-6)  # only looked-up rows renormalised


@pytest.mark.parametrize("dev", DEVICES)
def test_one_hot(dev):
    out = F.one_hot(ag.tensor([0, 2], device=dev))
    assert out.dtype == ag.int64
    np.testing.assert_array_equal(_np(out), [[1, 0, 0], [0, 0, 1]])
    assert tuple(F.one_hot(ag.tensor([], dtype=ag.int64, device=dev), 3).shape) == (0, 3)
    for args, msg in (((ag.tensor([1.0], device=dev),), "one_hot is only applicable to index tensor"),
                      ((ag.tensor([-1], device=dev),), "Class values must be non-negative."),
                      ((ag.tensor([3], device=dev), 2), "Class values must be smaller than num_classes."),
                      ((ag.zeros(0, dtype=ag.int64, device=dev),), "Can not infer total number of classes")):
        with _raises(RuntimeError, msg):
            F.one_hot(*args)


@pytest.mark.parametrize("dev", DEVICES)
def test_pad_errors(dev):
    x = _t(np.ones((3, 4)), dev)
    with pytest.raises(RuntimeError, match="Padding length must be divisible by 2"):
        F.pad(x, (1,))
    with _raises(RuntimeError, "Padding length should be less than or equal to two times the input dimension "
                               "but got padding length 6 and input of dimension 2"):
        F.pad(x, (1,) * 6)
    with pytest.raises(NotImplementedError, match="Unrecognised padding mode foo"):
        F.pad(x, (1, 1), mode="foo")
    with pytest.raises(NotImplementedError, match="Padding size 2 is not supported for 1D input tensor"):
        F.pad(x[0], (1, 1), mode="reflect")
    with _raises(RuntimeError, "Padding size should be less than the corresponding input dimension, but got: "
                               "padding (4, 0) at dimension 2 of input [1, 3, 4]"):
        F.pad(x[None], (4, 0), mode="reflect")
    with pytest.raises(RuntimeError, match="Padding mode \"reflect\" doesn't take in value argument"):
        F.pad(x[None], (1, 1), mode="reflect", value=1.0)
    assert tuple(F.pad(x, (-1, 2)).shape) == (3, 5)


@pytest.mark.parametrize("dev", DEVICES)
def test_layer_norm(dev):
    x = _t(np.ones((3, 4)), dev)
    with _raises(RuntimeError, "Given normalized_shape=[5], expected input with shape [*, 5], but got input "
                               "of size[3, 4]"):
        F.layer_norm(x, (5,))
    with _raises(RuntimeError, "Expected weight to be of same shape as normalized_shape, but got weight of "
                               "shape [3] and normalized_shape = [4]"):
        F.layer_norm(x, (4,), weight=_t(np.ones(3), dev))
    # the fused / NumPy backward (no create_graph) and the Tensor-op backward (create_graph) agree
    rng = np.random.default_rng(2)
    xs = _t(rng.standard_normal((5, 6)), dev, requires_grad=True)
    w = _t(rng.standard_normal(6), dev, requires_grad=True)
    b = _t(rng.standard_normal(6), dev, requires_grad=True)
    v = _t(rng.standard_normal((5, 6)), dev)
    plain = ag.autograd.grad(F.layer_norm(xs, 6, w, b), (xs, w, b), v)
    graph = ag.autograd.grad(F.layer_norm(xs, 6, w, b), (xs, w, b), v, create_graph=True)
    for a, c in zip(plain, graph):
        np.testing.assert_allclose(_np(a), _np(c), rtol=1e-10, atol=1e-12)


def test_cuda_emulated_matches_cpu():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((4, 7))
    t = np.array([1, 6, -100, 0])
    for fn in (lambda v: F.cross_entropy(v, ag.tensor(t, device=v.device), label_smoothing=0.05),
               lambda v: F.gelu(v, approximate="tanh"), lambda v: F.layer_norm(v, 7),
               lambda v: F.softplus(v, 2, 1)):
        assert_emulated_matches_cpu(fn, x, rtol=2e-6, atol=2e-6)


def test_no_warnings_on_plain_calls():
    x = ag.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.cross_entropy(x, ag.tensor([0, 1, 2])).backward()
        F.binary_cross_entropy(x.sigmoid(), ag.ones(3, 4, dtype=ag.float64)).backward()
        F.softplus(x * 100).sum().backward()
        F.elu(x * 100).sum().backward()
