"""Normalization and distance functions and modules (group/instance/RMS/local response norm, normalize,
cosine_similarity, pairwise_distance, pdist): PyTorch's errors, eps placement, gradients at zero norms, running
statistics, module parameters/buffers/repr. Forward values and gradchecks of every option are registry rows
(autograd_gpu/testing/op_db/nn_norm_distance.py); expected strings and values here were printed once by torch
2.13 or are closed forms."""
import re
import warnings

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu import nn

from conftest import DEVICES, make_tensor as _t, host as _np, raises_exactly as _raises, normal as _rand

F = ag.nn.functional


# ---------------------------------------------------------------- errors (PyTorch's wording)
@pytest.mark.parametrize("dev", DEVICES)
def test_norm_errors(dev):
    x = _t(_rand(2, 6, 3), dev)
    with _raises(RuntimeError, "Expected number of channels in input to be divisible by num_groups, but got input "
                               "of shape [2, 6, 3] and num_groups=4"):
        F.group_norm(x, 4)
    with _raises(RuntimeError, "Expected weight to be a vector of size equal to the number of channels in input, "
                               "but got weight of shape [5] and input of shape [2, 6, 3]"):
        F.group_norm(x, 3, _t(np.ones(5), dev))
    with _raises(RuntimeError, "Expected bias to be a vector of size equal to the number of channels in input, but "
                               "got bias of shape [6, 1] and input of shape [2, 6, 3]"):
        F.group_norm(x, 3, None, _t(np.ones((6, 1)), dev))
    with _raises(RuntimeError, "Expected at least 2 dimensions for input tensor but received 1"):
        F.group_norm(_t(np.ones(6), dev), 3)
    with _raises(ValueError, "Expected more than 1 value per channel when training, got input size [1, 6, 1]"):
        F.group_norm(_t(np.ones((1, 6, 1)), dev), 6)
    with _raises(NotImplementedError, "\"GroupNormKernelImpl\" not implemented for 'Int'"):
        F.group_norm(ag.ones(2, 4, 3, dtype=ag.int32, device=dev), 2)
    with _raises(ValueError, "Expected more than 1 spatial element when training, got input size "
                             "torch.Size([2, 3, 1])"):
        F.instance_norm(_t(np.ones((2, 3, 1)), dev))
    with _raises(RuntimeError, "running_mean should contain 6 elements not 8"):
        F.instance_norm(_t(_rand(2, 3, 4), dev), _t(np.zeros(4), dev), _t(np.ones(4), dev))
    with _raises(RuntimeError, "weight should contain 6 elements not 8"):
        F.instance_norm(_t(_rand(2, 3, 4), dev), weight=_t(np.ones(4), dev))
    with _raises(RuntimeError, "Expected running_mean and running_var to be defined when use_input_stats is false"):
        F.instance_norm(_t(_rand(2, 3, 4), dev), use_input_stats=False)
    with _raises(RuntimeError, "Given normalized_shape=[4], expected input with shape [*4], but got input of "
                               "size[3, 5]"):
        F.rms_norm(_t(_rand(3, 5), dev), [4])
    with _raises(ValueError, "Input tensor must have at least 2 dimensions, but got 1"):
        F.rms_norm(_t(_rand(5), dev), [3, 5])
    with _raises(RuntimeError, "Expected weight to be of same shape as normalized_shape, but got weight of shape "
                               "[4] and normalized_shape = [5]"):
        F.rms_norm(_t(_rand(3, 5), dev), [5], _t(np.ones(4), dev))
    with _raises(RuntimeError, "Expected normalized_shape to be at least 1-dimensional, i.e., containing at least "
                               "one element, but got normalized_shape = []"):
        F.rms_norm(_t(_rand(3, 5), dev), [])
    with _raises(NotImplementedError, "\"rms_norm\" not implemented for 'Int'"):
        F.rms_norm(ag.ones(3, 5, dtype=ag.int32, device=dev), [5])
    with _raises(ValueError, "Expected 3D or higher dimensionality                          input (got 2 "
                             "dimensions)"):
        F.local_response_norm(_t(_rand(3, 5), dev), 2)


@pytest.mark.parametrize("dev", DEVICES)
def test_distance_errors(dev):
    with _raises(RuntimeError, "The size of tensor a (3) must match the size of tensor b (4) at non-singleton "
                               "dimension 0"):
        F.cosine_similarity(_t(_rand(3, 5), dev), _t(_rand(4, 5), dev))
    with _raises(IndexError, "Dimension out of range (expected to be in range of [-2, 1], but got 2)"):
        F.cosine_similarity(_t(_rand(3, 5), dev), _t(_rand(3, 5), dev), dim=2)
    with _raises(RuntimeError, "expected common dtype to be floating point, yet common dtype is Long"):
        F.cosine_similarity(ag.arange(5, device=dev), ag.arange(5, device=dev), dim=0)
    with _raises(RuntimeError, "The size of tensor a (3) must match the size of tensor b (4) at non-singleton "
                               "dimension 0"):
        F.pairwise_distance(_t(_rand(3, 5), dev), _t(_rand(4, 5), dev))
    with _raises(RuntimeError, "linalg.vector_norm: Expected a floating point or complex tensor as input. Got Int"):
        F.normalize(ag.ones(3, 4, dtype=ag.int32, device=dev))
    with _raises(RuntimeError, "pdist only supports 2D tensors, got: 1D"):
        F.pdist(_t(_rand(3), dev))
    with _raises(RuntimeError, "pdist only supports non-negative p values"):
        F.pdist(_t(_rand(3, 5), dev), p=-1)
    with _raises(RuntimeError, "pdist only supports floating-point dtypes"):
        F.pdist(ag.ones(3, 2, dtype=ag.int32, device=dev))


# ---------------------------------------------------------------- eps placement and gradients at zero norms
@pytest.mark.parametrize("dev", DEVICES)
def test_cosine_similarity_clamps_each_norm_outside_autograd(dev):
    # PyTorch divides each input by max(||x||, eps) and clamps in place under no_grad: the gradient sees the
    # clamped norm but not the clamp, so a zero row still gets x2 / (||x2|| eps)
    eps = 1e-8
    a = np.array([[0.0, 0.0, 0.0], [1e-10, 2e-10, 0.0], [1.0, -2.0, 0.5]])
    b = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    x1, x2 = _t(a, dev, True), _t(b, dev, True)
    y = F.cosine_similarity(x1, x2, eps=eps)
    assert y.grad_fn.name() == "SumBackward1"
    y.sum().backward()
    n1 = np.linalg.norm(a, axis=1, keepdims=True)
    n2 = np.linalg.norm(b, axis=1, keepdims=True)
    c1, c2 = np.maximum(n1, eps), np.maximum(n2, eps)
    u1, u2 = a / c1, b / c2
    s = (u1 * u2).sum(1, keepdims=True)
    safe1, safe2 = np.where(n1 == 0, 1, n1), np.where(n2 == 0, 1, n2)
    # d/dx1 of sum(x1 / c1 * u2) with c1 = ||x1|| to autograd: u2 / c1 - s x1 / (c1 ||x1||), 0-norm rows: u2 / c1
    g1 = u2 / c1 - np.where(n1 == 0, 0, s * a / (c1 * safe1))
    g2 = u1 / c2 - np.where(n2 == 0, 0, s * b / (c2 * safe2))
    np.testing.assert_allclose(_np(y), s[:, 0], rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(_np(x1.grad), g1, rtol=1e-12)
    np.testing.assert_allclose(_np(x2.grad), g2, rtol=1e-12)
    # torch 2.13, float32: the zero row of x1 and the tiny one
    torch_values = [[26726124.0, 53452248.0, 80178368.0], [26128510.0, 52257020.0, 80178368.0]]
    np.testing.assert_allclose(_np(x1.grad)[:2], torch_values, rtol=1e-6)


@pytest.mark.parametrize("dev", DEVICES)
def test_normalize_and_pairwise_distance_eps(dev):
    x = _t(np.zeros((2, 3)), dev, True)
    y = F.normalize(x)
    assert y.grad_fn.name() == "DivBackward0"
    y.sum().backward()
    np.testing.assert_array_equal(_np(y), 0.0)
    np.testing.assert_allclose(_np(x.grad), 1e12)  # below eps the clamp is the denominator: x / eps
    x = _t(np.zeros((2, 3)), dev, True)
    d = F.pairwise_distance(x, x.detach())  # eps is added to the difference, not used as a clamp
    assert d.grad_fn.name() == "NormBackward1"
    np.testing.assert_allclose(_np(d), np.sqrt(3) * 1e-6, rtol=1e-12)
    d.sum().backward()
    np.testing.assert_allclose(_np(x.grad), 1 / np.sqrt(3), rtol=1e-12)
    assert F.pairwise_distance(_t(_rand(3, 4), dev), _t(_rand(3, 4), dev), keepdim=True).shape == (3, 1)
    assert F.pairwise_distance(_t(1.0, dev), _t(2.5, dev)).item() == pytest.approx(1.5 - 1e-6, abs=1e-15)
    out = ag.empty(2, 3, dtype=ag.float64, device=dev)
    r = F.normalize(_t(_rand(2, 3), dev), out=out)
    assert r is out
    np.testing.assert_allclose(_np(out), _rand(2, 3) / np.linalg.norm(_rand(2, 3), axis=1, keepdims=True))


@pytest.mark.parametrize("dev", DEVICES)
def test_pdist_gradients_as_pytorch(dev):
    x = _t([[0.0, 0.0], [1.0, 1.0], [0.0, 0.0]], dev, True)
    y = F.pdist(x, float("inf"))
    assert y.grad_fn.name() == "PdistBackward0"
    y.sum().backward()
    np.testing.assert_array_equal(_np(y), [1.0, 0.0, 1.0])
    # every coordinate tied for the max takes the whole gradient (the vector norm would split it)
    np.testing.assert_array_equal(_np(x.grad), [[-1.0, -1.0], [2.0, 2.0], [-1.0, -1.0]])
    x = _t([[0.0, 0.0], [1.0, 1.0], [0.0, 3.0]], dev, True)
    F.pdist(x, 0.5).sum().backward()  # zero coordinate differences contribute 0 at p < 1
    r2 = np.sqrt(2)  # torch 2.13: [[-2, -3], [4.4142, 0.2929], [-2.4142, 2.7071]]
    np.testing.assert_allclose(_np(x.grad), [[-2.0, -3.0], [3 + r2, 1 - 1 / r2], [-1 - r2, 2 + 1 / r2]],
                               rtol=1e-12)
    x = _t(_rand(4, 3), dev, True)
    F.pdist(x, 0).sum().backward()  # a zero gradient, not an undefined one
    np.testing.assert_array_equal(_np(x.grad), 0.0)
    x = _t(np.ones((3, 2)), dev, True)
    F.pdist(x).sum().backward()  # distance 0: gradient 0
    np.testing.assert_array_equal(_np(x.grad), 0.0)
    assert F.pdist(_t(_rand(1, 3), dev)).shape == (0,) and F.pdist(_t(_rand(0, 3), dev)).shape == (0,)


def test_pdist_blocks_match_explicit_pairs():
    # more rows than one 1 MB block holds: the blocked forward and backward agree with pairwise_distance
    xv = _rand(300, 500, seed=3)
    x = _t(xv, requires_grad=True)
    y = F.pdist(x, 1.5)
    i, j = np.triu_indices(300, 1)
    ref = (np.abs(xv[i] - xv[j]) ** 1.5).sum(1) ** (1 / 1.5)
    np.testing.assert_allclose(_np(y), ref, rtol=1e-12)
    w = np.random.default_rng(1).uniform(size=ref.shape)
    (y * _t(w)).sum().backward()
    c = w[:, None] * np.sign(xv[i] - xv[j]) * np.abs(xv[i] - xv[j]) ** 0.5 / ref[:, None] ** 0.5
    g = np.zeros_like(xv)
    np.add.at(g, i, c)
    np.add.at(g, j, -c)
    np.testing.assert_allclose(_np(x.grad), g, rtol=1e-10, atol=1e-12)


def test_top_level_aliases():
    assert ag.cosine_similarity is F.cosine_similarity
    assert ag.pairwise_distance is F.pairwise_distance
    assert ag.pdist is F.pdist


# ---------------------------------------------------------------- rms_norm / instance_norm semantics
@pytest.mark.parametrize("dev", DEVICES)
def test_rms_norm_default_eps(dev):
    # eps=None is the machine epsilon of the computation dtype: float32 for float16 inputs
    x = ag.full((1, 3), 1e-3, dtype=ag.float16, device=dev)
    y = F.rms_norm(x, (3,))
    assert y.dtype == ag.float16
    xv = np.float32(np.float16(1e-3))
    np.testing.assert_allclose(_np(y).astype(np.float64), xv / np.sqrt(xv * xv + np.finfo(np.float32).eps),
                               rtol=1e-3)  # 0.9453 (float16's own eps would give 0.032)
    x = _t(np.full((1, 3), 1e-8), dev)
    np.testing.assert_allclose(_np(F.rms_norm(x, [3])), 1e-8 / np.sqrt(1e-16 + np.finfo(np.float64).eps))
    xr = ag.zeros(2, 3, device=dev, requires_grad=True)  # float32
    y = F.rms_norm(xr, (3,))
    assert y.grad_fn.name() == "MulBackward0"
    y.sum().backward()
    np.testing.assert_allclose(_np(xr.grad), 1 / np.sqrt(np.finfo(np.float32).eps), rtol=1e-6)


@pytest.mark.parametrize("dev", DEVICES)
def test_instance_norm_running_stats(dev):
    xv = _rand(2, 3, 5)
    rm, rv = _t(np.zeros(3), dev), _t(np.ones(3), dev)
    F.instance_norm(_t(xv, dev), rm, rv, momentum=0.3)
    np.testing.assert_allclose(_np(rm), 0.3 * xv.mean(2).mean(0), rtol=1e-12)
    np.testing.assert_allclose(_np(rv), 0.7 + 0.3 * xv.var(2, ddof=1).mean(0), rtol=1e-12)
    y = F.instance_norm(_t(xv, dev), rm, rv, use_input_stats=False, eps=1e-3)
    np.testing.assert_allclose(_np(y), (xv - _np(rm)[:, None]) / np.sqrt(_np(rv)[:, None] + 1e-3), rtol=1e-12)
    x = _t(np.zeros((0, 4, 3)), dev)
    assert F.instance_norm(x).shape == (0, 4, 3) and F.group_norm(x, 2).shape == (0, 4, 3)
    e = _t(np.zeros((2, 0, 3)), dev)
    assert F.local_response_norm(e, 2) is e


# ---------------------------------------------------------------- modules
def test_norm_module_reprs_parameters_buffers():
    cases = [
        (nn.GroupNorm(2, 6), "GroupNorm(2, 6, eps=1e-05, affine=True, bias=True)", ["weight", "bias"], []),
        (nn.GroupNorm(3, 6, eps=1e-3, affine=False), "GroupNorm(3, 6, eps=0.001, affine=False, bias=False)", [],
         []),
        (nn.GroupNorm(2, 6, bias=False), "GroupNorm(2, 6, eps=1e-05, affine=True, bias=False)", ["weight"], []),
        (nn.RMSNorm(5), "RMSNorm((5,), eps=None, elementwise_affine=True)", ["weight"], []),
        (nn.RMSNorm([2, 3], eps=1e-5, elementwise_affine=False),
         "RMSNorm((2, 3), eps=1e-05, elementwise_affine=False)", [], []),
        (nn.LocalResponseNorm(3), "LocalResponseNorm(3, alpha=0.0001, beta=0.75, k=1.0)", [], []),
        (nn.LocalResponseNorm(2, 1e-3, 0.5, 2), "LocalResponseNorm(2, alpha=0.001, beta=0.5, k=2)", [], []),
        (nn.InstanceNorm1d(4), "InstanceNorm1d(4, eps=1e-05, momentum=0.1, affine=False, bias=False, "
                               "track_running_stats=False)", [], []),
        (nn.InstanceNorm2d(4, affine=True, track_running_stats=True, momentum=None),
         "InstanceNorm2d(4, eps=1e-05, momentum=None, affine=True, bias=True, track_running_stats=True)",
         ["weight", "bias"], ["running_mean", "running_var", "num_batches_tracked"]),
        (nn.InstanceNorm3d(4, bias=False, affine=True),
         "InstanceNorm3d(4, eps=1e-05, momentum=0.1, affine=True, bias=False, track_running_stats=False)",
         ["weight"], []),
        (nn.CosineSimilarity(0, 1e-3), "CosineSimilarity()", [], []),
        (nn.PairwiseDistance(1, keepdim=True), "PairwiseDistance()", [], []),
    ]
    for m, text, params, buffers in cases:
        assert repr(m) == text
        assert [n for n, _ in m.named_parameters()] == params
        assert [n for n, _ in m.named_buffers()] == buffers
    g = nn.GroupNorm(2, 6)
    assert g.weight.shape == (6,) and g.weight.tolist() == [1.0] * 6 and g.bias.tolist() == [0.0] * 6
    r = nn.RMSNorm((2, 3), dtype=ag.float64)
    assert r.weight.shape == (2, 3) and r.weight.dtype == ag.float64 and r.eps is None
    i = nn.InstanceNorm1d(3, track_running_stats=True)
    assert list(i.state_dict()) == ["running_mean", "running_var", "num_batches_tracked"]
    with _raises(ValueError, "num_channels (6) must be divisible by num_groups (4)"):
        nn.GroupNorm(4, 6)


def test_norm_modules_forward():
    xv = _rand(2, 6, 4)
    x = _t(xv)
    g = nn.GroupNorm(3, 6, dtype=ag.float64)
    with ag.no_grad():
        g.weight.copy_(_t(np.arange(1.0, 7.0)))
    blocks = xv.reshape(2, 3, 8)
    ref = ((blocks - blocks.mean(2, keepdims=True)) / np.sqrt(blocks.var(2, keepdims=True) + 1e-5)).reshape(xv.shape)
    np.testing.assert_allclose(_np(g(x)), ref * np.arange(1.0, 7.0)[:, None], rtol=1e-10)
    r = nn.RMSNorm(4, eps=1e-6, dtype=ag.float64)
    np.testing.assert_allclose(_np(r(x)), xv / np.sqrt((xv ** 2).mean(-1, keepdims=True) + 1e-6), rtol=1e-12)
    lrn = nn.LocalResponseNorm(3, alpha=0.3)
    sq = np.pad(xv ** 2, ((0, 0), (1, 1), (0, 0)))
    window = (sq[:, :-2] + sq[:, 1:-1] + sq[:, 2:]) / 3
    np.testing.assert_allclose(_np(lrn(x)), xv / (1 + 0.3 * window) ** 0.75, rtol=1e-12)
    x1, x2 = _rand(3, 4), _rand(3, 4, seed=1)
    cos = (x1 * x2).sum(0) / np.linalg.norm(x1, axis=0) / np.linalg.norm(x2, axis=0)
    np.testing.assert_allclose(_np(nn.CosineSimilarity(0)(_t(x1), _t(x2))), cos, rtol=1e-12)
    np.testing.assert_allclose(_np(nn.PairwiseDistance(1, keepdim=True)(_t(x1), _t(x2))),
                               np.abs(x1 - x2 + 1e-6).sum(1, keepdims=True), rtol=1e-12)


def test_instance_norm_module_train_eval():
    x = ag.arange(24.0).reshape(2, 3, 4) ** 1.5
    m = nn.InstanceNorm1d(3, track_running_stats=True, momentum=0.5)
    y = m(x)
    xv = _np(x).astype(np.float64)
    np.testing.assert_allclose(_np(y), (xv - xv.mean(2, keepdims=True)) / np.sqrt(xv.var(2, keepdims=True) + 1e-5),
                               rtol=1e-5)
    # torch 2.13: running statistics after one batch, then one unbatched (C, L) input; batches not counted
    np.testing.assert_allclose(_np(m.running_mean), [12.9965, 21.6048, 32.3064], rtol=1e-5)
    np.testing.assert_allclose(_np(m.running_var), [14.4511, 22.0351, 29.5452], rtol=1e-5)
    m(x[0])
    np.testing.assert_allclose(_np(m.running_mean), [7.6263, 17.3521, 30.8699], rtol=1e-5)
    np.testing.assert_allclose(_np(m.running_var), [9.8321, 21.2883, 32.5612], rtol=1e-5)
    assert m.num_batches_tracked.item() == 0
    m.eval()
    rm, rv = _np(m.running_mean), _np(m.running_var)
    y = m(x[0])
    assert y.shape == (3, 4)
    np.testing.assert_allclose(_np(y), (xv[0] - rm[:, None]) / np.sqrt(rv[:, None] + 1e-5), rtol=1e-5)
    m2 = nn.InstanceNorm1d(3, track_running_stats=True, momentum=None)  # momentum None: never updated
    m2(x)
    assert m2.running_mean.tolist() == [0.0] * 3 and m2.running_var.tolist() == [1.0] * 3
    m3 = nn.InstanceNorm1d(3)  # no running statistics: input statistics in eval too
    m3.eval()
    np.testing.assert_allclose(_np(m3(x)), _np(nn.InstanceNorm1d(3)(x)))
    a = nn.InstanceNorm2d(2, affine=True)
    out = a(ag.randn(3, 2, 4, 4, requires_grad=True))
    out.sum().backward()
    assert a.weight.grad.shape == (2,) and a.bias.grad.shape == (2,)


def test_instance_norm_module_errors():
    with _raises(ValueError, "expected 2D or 3D input (got 4D input)"):
        nn.InstanceNorm1d(3)(ag.randn(2, 3, 4, 5))
    with _raises(ValueError, "expected 3D or 4D input (got 2D input)"):
        nn.InstanceNorm2d(3)(ag.randn(3, 5))
    with _raises(ValueError, "expected input's size at dim=1 to match num_features (3), but got: 4."):
        nn.InstanceNorm1d(3, affine=True)(ag.randn(2, 4, 5))
    with pytest.warns(UserWarning, match=re.escape("input's size at dim=1 does not match num_features. You can "
                                                   "silence this warning by not passing in num_features, which "
                                                   "is not used because affine=False")):
        assert nn.InstanceNorm1d(3)(ag.randn(2, 4, 5)).shape == (2, 4, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert nn.InstanceNorm1d(3)(ag.randn(3, 5)).shape == (3, 5)  # unbatched (C, L)
