"""Ranking, margin, embedding and likelihood losses and their modules: PyTorch's errors and warnings,
reductions, gradients at the hinges and at clamped values, numerics where PyTorch's formula overflows. Forward
values and gradchecks of every option are registry rows (autograd_gpu/testing/op_db/nn_loss_extra.py);
expected strings and values here were printed once by torch 2.13 or are closed forms."""
import math
import re
import warnings

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu import nn

from conftest import DEVICES, make_tensor as _t, host as _np, raises_exactly as _raises, normal as _rand

F = ag.nn.functional


def _i(a, dev="cpu"):
    return ag.tensor(np.asarray(a, dtype=np.int64), device=dev)


KL_MEAN = ("reduction: 'mean' divides the total loss by both the batch size and the support size.'batchmean' "
           "divides only by the batch size, and aligns with the KL div math definition.'mean' will be changed to "
           "behave the same as 'batchmean' in the next major release.")


# ---------------------------------------------------------------- errors and warnings (PyTorch's wording)
@pytest.mark.parametrize("dev", DEVICES)
def test_loss_errors(dev):
    def r(*shape, seed=0):
        return _t(_rand(*shape, seed=seed), dev)
    with _raises(ValueError, "bogus is not a valid value for reduction"):
        F.kl_div(r(3), r(3), reduction="bogus")
    with _raises(RuntimeError, "kl_div: Integral inputs not supported."), pytest.warns(UserWarning, match=KL_MEAN):
        F.kl_div(_i([1, 2], dev), r(2))
    with _raises(RuntimeError, "margin_ranking_loss : All input tensors should have same dimension but got sizes: "
                               "input1: torch.Size([3]), input2: torch.Size([3]), target: torch.Size([3, 1]) "):
        F.margin_ranking_loss(r(3), r(3), r(3, 1))
    with _raises(RuntimeError, "The size of tensor a (4) must match the size of tensor b (3) at non-singleton "
                               "dimension 0"):
        F.hinge_embedding_loss(r(3), r(4))
    with _raises(RuntimeError, "output with shape [3] doesn't match the broadcast shape [3, 3]"):
        F.soft_margin_loss(r(3), r(3, 1))
    with _raises(RuntimeError, "The function 'soft_margin_loss' is not differentiable with respect to argument "
                               "'target'. This input cannot have requires_grad True."):
        F.soft_margin_loss(r(3), _t(_rand(3), dev, requires_grad=True))
    with _raises(RuntimeError, "0D or 1D target tensor expected, multi-target not supported"):
        F.cosine_embedding_loss(r(3, 4), r(3, 4), r(3, 1))
    with _raises(RuntimeError, "0D target tensor expects 1D input tensors, but found inputs with sizes [3, 4] and "
                               "[3, 4]."):
        F.cosine_embedding_loss(r(3, 4), r(3, 4), r())
    with _raises(RuntimeError, "1D target tensor expects 2D input tensors, but found inputs with sizes [4] and "
                               "[4]."):
        F.cosine_embedding_loss(r(4), r(4), r(1))
    with _raises(RuntimeError, "The anchor, positive, and negative tensors are expected to have the same number of "
                               "dimensions, but got: anchor 2D, positive 2D, and negative 1D inputs"):
        F.triplet_margin_loss(r(3, 4), r(3, 4), r(4))
    with _raises(ValueError, "margin must be greater than 0, got 0"):
        F.triplet_margin_loss(r(3, 4), r(3, 4), r(3, 4), margin=0)
    with _raises(ValueError, "x is not a valid value for reduction"):
        F.triplet_margin_with_distance_loss(r(3, 4), r(3, 4), r(3, 4), reduction="x")
    with _raises(ValueError, "x is not a valid value for reduction"):
        F.poisson_nll_loss(r(3), r(3), reduction="x")
    with _raises(ValueError, "var is of incorrect size"):
        F.gaussian_nll_loss(r(3, 2), r(3, 2), _t(np.ones((3, 3)), dev))
    with _raises(ValueError, "var is of incorrect size"):
        F.gaussian_nll_loss(r(3, 2), r(3, 2), _t(np.ones((1, 1)), dev))  # two mismatched dims
    with _raises(ValueError, "var has negative entry/entries"):
        F.gaussian_nll_loss(r(3, 2), r(3, 2), -1.0)
    with _raises(ValueError, "var has negative entry/entries"):
        F.gaussian_nll_loss(r(3, 2), r(3, 2), _t([1.0, -1.0, 1.0], dev))
    with _raises(ValueError, "x is not valid"):
        F.gaussian_nll_loss(r(3, 2), r(3, 2), _t(np.ones(3), dev), reduction="x")
    with _raises(ValueError, "x is not valid"):
        F.multilabel_soft_margin_loss(r(3, 2), r(3, 2), reduction="x")
    with _raises(IndexError, "Dimension specified as -1 but tensor has no dimensions"):
        F.multilabel_soft_margin_loss(r(), r())


@pytest.mark.parametrize("dev", DEVICES)
def test_margin_loss_errors(dev):
    x = _t(_rand(3, 4), dev)
    with _raises(ValueError, "only p == 1 and p == 2 supported"):
        F.multi_margin_loss(x, _i([0, 1, 2], dev), p=3)
    with _raises(ValueError, "weight must be one-dimensional"):
        F.multi_margin_loss(x, _i([0, 1, 2], dev), weight=_t(np.ones((4, 1)), dev))
    with _raises(RuntimeError, "inconsistent weight size, expected 4 but got [3]"):
        F.multi_margin_loss(x, _i([0, 1, 2], dev), weight=_t(np.ones(3), dev))
    with _raises(RuntimeError, "multi_margin_loss: target tensor should be 1-D with size equal to the number of "
                               "input samples (batch size). Expected target size [3], but got [2]. Input has shape "
                               "[3, 4]."):
        F.multi_margin_loss(x, _i([0, 1], dev))
    with _raises(RuntimeError, "target out of range"):
        F.multi_margin_loss(x, _i([0, 4, 1], dev))
    with _raises(RuntimeError, "expected scalar type Long but found Float"):
        F.multi_margin_loss(x, ag.zeros(3, device=dev))
    with _raises(RuntimeError, "expected scalar type Double but found Float"):
        F.multi_margin_loss(x, _i([0, 1, 2], dev), weight=ag.ones(4, device=dev))
    with _raises(RuntimeError, "The function 'multi_margin_loss' is not differentiable with respect to argument "
                               "'weight'. This input cannot have requires_grad True."):
        F.multi_margin_loss(x, _i([0, 1, 2], dev), weight=_t(np.ones(4), dev, requires_grad=True))
    with _raises(RuntimeError, "Expected non-empty vector or matrix with optional 0-dim batch size, but got: "
                               "[3, 0]"):
        F.multi_margin_loss(_t(np.ones((3, 0)), dev), _i([0, 1, 2], dev))
    with _raises(RuntimeError, "inconsistent target size: [3, 3] for input of size: [3, 4]"):
        F.multilabel_margin_loss(x, _i([[0, 1, -1]] * 3, dev))
    with _raises(RuntimeError, "argument #2 'target' is out of range"):
        F.multilabel_margin_loss(x, _i([[0, 1, -1, 5]] * 3, dev))


def test_reduction_warnings():
    a, b = _t(_rand(3, 4)), _t(np.full((3, 4), 0.25))
    with pytest.warns(UserWarning, match=re.escape(KL_MEAN)):
        F.kl_div(a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.kl_div(a, b, reduction="batchmean")
        F.kl_div(a, b, reduction="sum")
    with pytest.warns(UserWarning, match=re.escape("size_average and reduce args will be deprecated, please use "
                                                   "reduction='sum' instead.")):
        s = F.kl_div(a, b, size_average=False)
    np.testing.assert_allclose(_np(s), _np(F.kl_div(a, b, reduction="sum")))
    # legacy arguments with reduction='batchmean': PyTorch reduces by the legacy pair, then still divides by N
    with pytest.warns(UserWarning):
        q = F.kl_div(a, b, reduce=True, reduction="batchmean")
    np.testing.assert_allclose(_np(q), _np(F.kl_div(a, b, reduction="none")).mean() / 3)
    with pytest.warns(UserWarning, match="reduction='none'"):
        assert F.margin_ranking_loss(a, a, b, size_average=False, reduce=False).shape == (3, 4)
    with pytest.warns(UserWarning, match="reduction='none'"):
        assert F.poisson_nll_loss(a, b, reduce=False).shape == (3, 4)


# ---------------------------------------------------------------- values, reductions, numerics
@pytest.mark.parametrize("dev", DEVICES)
def test_kl_div_values(dev):
    x, t = _rand(3, 4), np.random.default_rng(1).uniform(0, 1, (3, 4))
    t[0, :2] = 0  # 0 log 0 = 0
    pointwise = np.where(t > 0, t * np.log(np.where(t > 0, t, 1)), 0) - t * x
    np.testing.assert_allclose(_np(F.kl_div(_t(x, dev), _t(t, dev), reduction="none")), pointwise, rtol=1e-12)
    np.testing.assert_allclose(_np(F.kl_div(_t(x, dev), _t(t, dev), reduction="batchmean")), pointwise.sum() / 3)
    lt = np.log(t[1:])
    np.testing.assert_allclose(_np(F.kl_div(_t(x[1:], dev), _t(lt, dev), reduction="sum", log_target=True)),
                               (t[1:] * (lt - x[1:])).sum(), rtol=1e-12)
    assert F.kl_div(_t(0.5, dev), _t(0.3, dev), reduction="batchmean").item() == \
        pytest.approx(0.3 * math.log(0.3) - 0.15)  # 0-d: batchmean is the sum
    xi = _t(x, dev, requires_grad=True)
    F.kl_div(xi, _t(t, dev), reduction="sum").backward()
    np.testing.assert_allclose(_np(xi.grad), -t)
    assert F.kl_div(xi, _t(t, dev), reduction="sum").grad_fn.name() == "SumBackward0"


@pytest.mark.parametrize("dev", DEVICES)
def test_hinge_gradients_at_the_hinge(dev):
    # clamp_min passes the gradient at the hinge (margin_ranking, hinge_embedding, cosine_embedding, triplet);
    # multi_margin / multilabel_margin count a term only where it is > 0 (PyTorch's kernels)
    a, b = _t([1.0], dev, True), _t([1.0], dev, True)
    F.margin_ranking_loss(a, b, _t([1.0], dev)).backward()
    assert a.grad.tolist() == [-1.0] and b.grad.tolist() == [1.0]
    a = _t([1.0], dev, True)
    F.hinge_embedding_loss(a, _t([-1.0], dev)).backward()
    assert a.grad.tolist() == [-1.0]
    a, b = _t([[1.0, 0.0]], dev, True), _t([[0.0, 1.0]], dev, True)
    F.cosine_embedding_loss(a, b, _t([-1.0], dev)).backward()
    np.testing.assert_allclose(_np(a.grad), [[0.0, 1.0]], atol=1e-12)
    np.testing.assert_allclose(_np(b.grad), [[1.0, 0.0]], atol=1e-12)
    x = _t([[0.0, 1.0]], dev, True)
    F.multi_margin_loss(x, _i([1], dev)).backward()
    assert x.grad.tolist() == [[0.0, 0.0]]


@pytest.mark.parametrize("dev", DEVICES)
def test_numerics_beyond_overflow(dev):
    # softplus(-y x): PyTorch's log1p(exp(-y x)) is inf here in float32
    x = _t([-1000.0, 1000.0, -100.0], dev, True, dtype=ag.float32)
    y = F.soft_margin_loss(x, _t([1.0, -1.0, 1.0], dev, dtype=ag.float32), reduction="none")
    np.testing.assert_allclose(_np(y), [1000.0, 1000.0, 100.0], rtol=1e-7)
    y.sum().backward()
    np.testing.assert_allclose(_np(x.grad), [-1.0, 1.0, -1.0])
    xl = _t([30.0, -30.0], dev, True, dtype=ag.float32)
    loss = F.multilabel_soft_margin_loss(xl, _t([0.0, 1.0], dev, dtype=ag.float32))
    assert loss.item() == pytest.approx(30.0, rel=1e-6)
    # kl_div with log_target: exp(t) (t - x) stays finite for very negative log-probabilities
    v = F.kl_div(_t([-1e3], dev), _t([-1e3 + 1], dev), reduction="sum", log_target=True)
    assert v.item() == pytest.approx(math.exp(-999.0), rel=1e-12)


@pytest.mark.parametrize("dev", DEVICES)
def test_poisson_nll_full_stirling(dev):
    x, t = [0.5, 1.0, 2.0, 0.0], [0.0, 1.0, 3.0, 2.0]
    xi, ti = _t(x, dev, True), _t(t, dev, True)
    loss = F.poisson_nll_loss(xi, ti, log_input=False, full=True, reduction="none")
    xv, tv = np.array(x), np.array(t)
    stirling = np.where(tv > 1, tv * np.log(np.maximum(tv, 1)) - tv + 0.5 * np.log(2 * np.pi * np.maximum(tv, 1)),
                        0)
    expected = xv - tv * np.log(xv + 1e-8) + stirling
    np.testing.assert_allclose(_np(loss), expected, rtol=1e-12)
    np.testing.assert_allclose(_np(loss), [0.5, 1.0, 1.6846, 37.4932], rtol=1e-4)  # torch 2.13, float32
    loss.sum().backward()
    np.testing.assert_allclose(_np(xi.grad), 1 - tv / (xv + 1e-8), rtol=1e-12)
    # target gradient: -log(x + eps) plus Stirling's log t + 1 / (2 t) where t > 1; finite at t = 0 (PyTorch's
    # 0 * log 0 in the masked Stirling term makes it NaN there)
    with np.errstate(divide="ignore", invalid="ignore"):  # (the reference's unused branch at t = 0)
        stirling = np.where(tv > 1, np.log(tv) + 0.5 / tv, 0)
    np.testing.assert_allclose(_np(ti.grad), -np.log(xv + 1e-8) + stirling, rtol=1e-12)


@pytest.mark.parametrize("dev", DEVICES)
def test_gaussian_nll_var_clamp_and_shapes(dev):
    v = _t([0.0, 1.0], dev, True)
    loss = F.gaussian_nll_loss(_t([1.0, 2.0], dev), _t([0.0, 0.0], dev), v, reduction="sum")
    eps = 1e-6
    assert loss.item() == pytest.approx(0.5 * (math.log(eps) + 1 / eps) + 0.5 * 4)
    loss.backward()
    # the clamp is invisible to autograd: var's gradient at the clamped value, 0.5 (1 / eps - d^2 / eps^2)
    np.testing.assert_allclose(_np(v.grad), [0.5 * (1 / eps - 1 / eps ** 2), 0.5 * (1 - 4)], rtol=1e-12)
    x, t = _rand(4, 3), _rand(4, 3, seed=1)
    var = np.random.default_rng(2).uniform(0.5, 2, 4)
    full = F.gaussian_nll_loss(_t(x, dev), _t(t, dev), _t(var, dev), full=True, reduction="none")
    expected = 0.5 * (np.log(var)[:, None] + (x - t) ** 2 / var[:, None]) + 0.5 * math.log(2 * math.pi)
    np.testing.assert_allclose(_np(full), expected, rtol=1e-12)
    scalar = F.gaussian_nll_loss(_t(x, dev), _t(t, dev), 2, reduction="mean")
    np.testing.assert_allclose(_np(scalar), (0.5 * (math.log(2) + (x - t) ** 2 / 2)).mean(), rtol=1e-12)


@pytest.mark.parametrize("dev", DEVICES)
def test_shapes_and_broadcasting(dev):
    def r(*shape, seed=0):
        return _t(_rand(*shape, seed=seed), dev)
    s = _t(np.sign(_rand(3, 3)), dev)
    assert F.margin_ranking_loss(r(3, 1), r(1, 3), s, reduction="none").shape == (3, 3)
    assert F.hinge_embedding_loss(r(3, 1), r(1, 3), reduction="none").shape == (3, 3)
    assert F.soft_margin_loss(r(3, 3), r(3), reduction="none").shape == (3, 3)
    assert F.cosine_embedding_loss(r(3, 4), r(1, 4), _t(np.ones(3), dev), reduction="none").shape == (3,)
    assert F.triplet_margin_loss(r(4), r(4), r(4), reduction="none").shape == ()
    assert F.multilabel_soft_margin_loss(r(3, 2), r(2), reduction="none").shape == (3,)
    # the input's last dim is the class dim even when a larger target broadcasts the loss (as in PyTorch)
    assert F.multilabel_soft_margin_loss(r(2), r(3, 2), reduction="none").shape == (2,)
    assert F.multi_margin_loss(r(4), _i(2, dev), reduction="none").shape == ()
    assert F.multi_margin_loss(r(), _i(0, dev), reduction="none").item() == 0.0
    assert F.multilabel_margin_loss(r(4), _i([0, 1, -1, 2], dev), reduction="none").shape == ()
    assert F.gaussian_nll_loss(r(3, 1), r(1, 3), _t(np.ones((3, 1)), dev), reduction="none").shape == (3, 3)


def test_grad_fn_names():
    x = _t(_rand(3, 4), requires_grad=True)
    y = _t(_rand(3, 4, seed=1))
    t = _t(np.sign(_rand(3, seed=2)))
    assert F.margin_ranking_loss(x[:, 0], y[:, 0], t, reduction="none").grad_fn.name() == "ClampMinBackward0"
    assert F.hinge_embedding_loss(x, y, reduction="none").grad_fn.name() == "AddBackward0"
    assert F.cosine_embedding_loss(x, y, t).grad_fn.name() == "MeanBackward0"
    assert F.triplet_margin_loss(x, y, y * 2, reduction="sum").grad_fn.name() == "SumBackward0"
    assert F.kl_div(x, y.abs(), reduction="none").grad_fn.name() == "SubBackward0"
    assert F.kl_div(x, y, reduction="batchmean", log_target=True).grad_fn.name() == "DivBackward0"
    assert F.gaussian_nll_loss(x, y, y.abs(), reduction="none").grad_fn.name() == "MulBackward0"


def test_triplet_with_distance_function():
    a, p, n = (_t(_rand(4, 5, seed=s), requires_grad=True) for s in range(3))

    def dist(u, v):
        return 1 - F.cosine_similarity(u, v)
    loss = F.triplet_margin_with_distance_loss(a, p, n, distance_function=dist, margin=0.5, swap=True,
                                               reduction="none")
    dn = np.minimum(_np(dist(a, n)), _np(dist(p, n)))
    np.testing.assert_allclose(_np(loss), np.maximum(0, 0.5 + _np(dist(a, p)) - dn), rtol=1e-12)
    loss.sum().backward()
    assert a.grad is not None and n.grad is not None
    default = F.triplet_margin_with_distance_loss(a, p, n)
    np.testing.assert_allclose(_np(default), _np(F.triplet_margin_loss(a, p, n, eps=1e-6)), rtol=1e-12)


# ---------------------------------------------------------------- modules
def test_loss_module_reprs_and_constructor_errors():
    cases = [nn.KLDivLoss(reduction="batchmean", log_target=True), nn.HuberLoss(delta=0.5), nn.MarginRankingLoss(0.5),
             nn.HingeEmbeddingLoss(), nn.SoftMarginLoss(), nn.CosineEmbeddingLoss(), nn.TripletMarginLoss(),
             nn.PoissonNLLLoss(), nn.GaussianNLLLoss(), nn.MultiLabelSoftMarginLoss(), nn.MultiMarginLoss(),
             nn.MultiLabelMarginLoss()]
    for m in cases:
        assert repr(m) == f"{type(m).__name__}()"
        assert not list(m.parameters())
    assert repr(nn.TripletMarginWithDistanceLoss()) == \
        "TripletMarginWithDistanceLoss(\n  (distance_function): PairwiseDistance()\n)"
    assert repr(nn.TripletMarginWithDistanceLoss(distance_function=nn.CosineSimilarity())) == \
        "TripletMarginWithDistanceLoss(\n  (distance_function): CosineSimilarity()\n)"
    assert repr(nn.TripletMarginWithDistanceLoss(distance_function=lambda a, b: a)) == "TripletMarginWithDistanceLoss()"
    m = nn.MultiMarginLoss(weight=ag.ones(3))
    assert [n for n, _ in m.named_buffers()] == ["weight"]
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        assert nn.KLDivLoss(size_average=False).reduction == "sum"
    with _raises(ValueError, "TripletMarginLoss: expected margin to be greater than 0, got 0 instead"):
        nn.TripletMarginLoss(margin=0)
    with _raises(ValueError, "TripletMarginWithDistanceLoss: expected margin to be greater than 0, got -1 instead"):
        nn.TripletMarginWithDistanceLoss(margin=-1)
    with _raises(ValueError, "only p == 1 and p == 2 supported"):
        nn.MultiMarginLoss(p=3)
    with _raises(ValueError, "MultiMarginLoss: expected weight to be None or 1D tensor, got 2D instead"):
        nn.MultiMarginLoss(weight=ag.ones(2, 2))
    with _raises(TypeError, "delta must be a float or int, got: <class 'str'>"):
        nn.HuberLoss(delta="a")
    with pytest.raises(TypeError):
        nn.GaussianNLLLoss(True)  # keyword-only, as in PyTorch


def test_loss_modules_match_functions():
    x, y, z = (_t(_rand(4, 5, seed=s)) for s in range(3))
    sign = _t(np.sign(_rand(4, seed=3)))
    labels = _t((_rand(4, 5, seed=4) > 0).astype(np.float64))
    cls = _i([0, 4, 2, 1])
    counts = _t(np.floor(np.abs(_rand(4, 5, seed=5)) * 3))
    var = _t(np.abs(_rand(4, 5, seed=6)) + 0.1)
    w = _t(np.linspace(0.5, 2, 5))
    cases = [
        (nn.KLDivLoss(reduction="batchmean", log_target=True), (x, y),
         F.kl_div(x, y, reduction="batchmean", log_target=True)),
        (nn.HuberLoss(reduction="sum", delta=0.5), (x, y), F.huber_loss(x, y, reduction="sum", delta=0.5)),
        (nn.MarginRankingLoss(0.5, reduction="none"), (x[:, 0], y[:, 0], sign),
         F.margin_ranking_loss(x[:, 0], y[:, 0], sign, margin=0.5, reduction="none")),
        (nn.HingeEmbeddingLoss(0.3), (x, labels * 2 - 1), F.hinge_embedding_loss(x, labels * 2 - 1, margin=0.3)),
        (nn.SoftMarginLoss(reduction="sum"), (x, labels * 2 - 1),
         F.soft_margin_loss(x, labels * 2 - 1, reduction="sum")),
        (nn.CosineEmbeddingLoss(0.2), (x, y, sign), F.cosine_embedding_loss(x, y, sign, margin=0.2)),
        (nn.TripletMarginLoss(2.0, 1.0, swap=True), (x, y, z),
         F.triplet_margin_loss(x, y, z, margin=2.0, p=1.0, swap=True)),
        (nn.TripletMarginWithDistanceLoss(margin=2.0), (x, y, z), F.triplet_margin_loss(x, y, z, margin=2.0)),
        (nn.PoissonNLLLoss(full=True, eps=1e-3), (x, counts), F.poisson_nll_loss(x, counts, full=True, eps=1e-3)),
        (nn.GaussianNLLLoss(full=True, reduction="none"), (x, y, var),
         F.gaussian_nll_loss(x, y, var, full=True, reduction="none")),
        (nn.MultiLabelSoftMarginLoss(w), (x, labels), F.multilabel_soft_margin_loss(x, labels, weight=w)),
        (nn.MultiMarginLoss(2, 0.5, w), (x, cls), F.multi_margin_loss(x, cls, p=2, margin=0.5, weight=w)),
        (nn.MultiLabelMarginLoss(reduction="sum"), (x, _i([[0, 1, -1, 2, 3]] * 4)),
         F.multilabel_margin_loss(x, _i([[0, 1, -1, 2, 3]] * 4), reduction="sum")),
    ]
    for m, args, expected in cases:
        got = m(*args)
        assert got.shape == expected.shape, type(m).__name__
        np.testing.assert_allclose(_np(got), _np(expected), rtol=1e-12, err_msg=type(m).__name__)
