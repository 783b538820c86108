"""nn.Module machinery, layers, init and utils. Expected strings were printed once by torch 2.13."""
import math
import re
import warnings

import numpy as np
import pytest

import autograd_gpu as ag
from autograd_gpu import nn
from autograd_gpu.nn import functional as F

from conftest import DEVICES


def _needs(*names):
    missing = [n for n in names if not hasattr(F, n)]
    return pytest.mark.skipif(bool(missing), reason=f"nn.functional.{', '.join(missing)} not implemented yet")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 3)
        self.act = nn.ReLU()
        self.block = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))
        self.scale = nn.Parameter(ag.ones(1))
        self.register_buffer("steps", ag.zeros(1))
        self.register_buffer("scratch", ag.zeros(2), persistent=False)

    def forward(self, x):
        return self.block(self.act(self.fc1(x))) * self.scale


# ---------------------------------------------------------------- registration and traversal
def test_named_members_order_and_prefixes():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["scale", "fc1.weight", "fc1.bias", "block.0.weight",
                                                      "block.0.bias", "block.1.weight", "block.1.bias"]
    assert [n for n, _ in net.named_parameters(prefix="net", recurse=False)] == ["net.scale"]
    assert [n for n, _ in net.named_buffers()] == ["steps", "scratch", "block.1.running_mean",
                                                   "block.1.running_var", "block.1.num_batches_tracked"]
    assert [n for n, _ in net.named_children()] == ["fc1", "act", "block"]
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "act", "block", "block.0", "block.1"]
    assert len(list(net.parameters())) == 7 and len(list(net.buffers(recurse=False))) == 2
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in net.parameters())
    shared = nn.Linear(2, 2)
    seq = nn.Sequential(shared, shared)
    assert len(list(seq.parameters())) == 2 and len(list(seq.modules())) == 2


def test_setattr_rules_and_errors():
    net = Net()
    net.fc1 = nn.Linear(4, 3, bias=False)
    assert net.fc1.bias is None and "fc1.bias" not in dict(net.named_parameters())
    net.steps = ag.ones(1)
    assert net._buffers["steps"] is net.steps
    with pytest.raises(TypeError, match=r"cannot assign 'torch.FloatTensor' as parameter 'scale' "
                                        r"\(torch.nn.Parameter or None expected\)"):
        net.scale = ag.ones(1)
    with pytest.raises(KeyError, match="attribute 'fc1' already exists"):
        net.register_parameter("fc1", nn.Parameter(ag.ones(1)))
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'nope'"):
        net.nope
    with pytest.raises(NotImplementedError,
                       match=r'Module \[Module\] is missing the required "forward" function'):
        nn.Module()(1)
    del net.act
    assert "act" not in net._modules


def test_parameter():
    p = nn.Parameter(ag.ones(2))
    assert repr(p) == "Parameter containing:\ntensor([1., 1.], requires_grad=True)"
    assert repr(nn.Parameter(ag.ones(2, dtype=ag.float64))) == \
        "Parameter containing:\ntensor([1., 1.], dtype=torch.float64, requires_grad=True)"
    assert repr(nn.Parameter(ag.ones(2), requires_grad=False)) == "Parameter containing:\ntensor([1., 1.])"
    assert p.is_leaf and type(p * 2) is ag.Tensor


REPRS = [
    (lambda: nn.Sequential(nn.Linear(4, 3), nn.ReLU()),
     "Sequential(\n  (0): Linear(in_features=4, out_features=3, bias=True)\n  (1): ReLU()\n)"),
    (lambda: nn.Conv2d(1, 2, 3), "Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1))"),
    (lambda: nn.Conv2d(1, 2, 3, stride=2, padding=1, bias=False, dilation=2),
     "Conv2d(1, 2, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), dilation=(2, 2), bias=False)"),
    (lambda: nn.Conv2d(4, 4, 3, groups=2), "Conv2d(4, 4, kernel_size=(3, 3), stride=(1, 1), groups=2)"),
    (lambda: nn.Conv1d(2, 4, 3, padding="same"), "Conv1d(2, 4, kernel_size=(3,), stride=(1,), padding=same)"),
    (lambda: nn.MaxPool2d(2), "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"),
    (lambda: nn.MaxPool2d(3, 2, 1, ceil_mode=True),
     "MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=True)"),
    (lambda: nn.AvgPool2d(2), "AvgPool2d(kernel_size=2, stride=2, padding=0)"),
    (lambda: nn.AdaptiveAvgPool2d((2, 3)), "AdaptiveAvgPool2d(output_size=(2, 3))"),
    (lambda: nn.BatchNorm2d(3), "BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, "
                                "track_running_stats=True)"),
    (lambda: nn.BatchNorm1d(3, affine=False, track_running_stats=False),
     "BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=False, bias=False, track_running_stats=False)"),
    (lambda: nn.BatchNorm2d(3, momentum=None, eps=1e-3),
     "BatchNorm2d(3, eps=0.001, momentum=None, affine=True, bias=True, track_running_stats=True)"),
    (lambda: nn.LayerNorm(4), "LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=True)"),
    (lambda: nn.LayerNorm((2, 3), elementwise_affine=False),
     "LayerNorm((2, 3), eps=1e-05, elementwise_affine=False, bias=False)"),
    (lambda: nn.Dropout(), "Dropout(p=0.5, inplace=False)"),
    (lambda: nn.Embedding(10, 3), "Embedding(10, 3)"),
    (lambda: nn.Embedding(5, 2, padding_idx=0), "Embedding(5, 2, padding_idx=0)"),
    (lambda: nn.Flatten(), "Flatten(start_dim=1, end_dim=-1)"),
    (lambda: nn.Identity(), "Identity()"),
    (lambda: nn.LeakyReLU(0.2), "LeakyReLU(negative_slope=0.2)"),
    (lambda: nn.ELU(alpha=1.0, inplace=True), "ELU(alpha=1.0, inplace=True)"),
    (lambda: nn.GELU("tanh"), "GELU(approximate='tanh')"),
    (lambda: nn.SiLU(), "SiLU()"),
    (lambda: nn.ReLU(inplace=True), "ReLU(inplace=True)"),
    (lambda: nn.Softplus(2, 10), "Softplus(beta=2, threshold=10)"),
    (lambda: nn.Softmax(), "Softmax(dim=None)"),
    (lambda: nn.LogSoftmax(1), "LogSoftmax(dim=1)"),
    (lambda: nn.CrossEntropyLoss(label_smoothing=0.1), "CrossEntropyLoss()"),
    (lambda: nn.ModuleList([nn.Linear(2, 2) for _ in range(3)]),
     "ModuleList(\n  (0-2): 3 x Linear(in_features=2, out_features=2, bias=True)\n)"),
    (lambda: nn.ModuleDict({"a": nn.ReLU()}), "ModuleDict(\n  (a): ReLU()\n)"),
    (lambda: nn.Sequential(), "Sequential()"),
    (lambda: nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU())),
     "Sequential(\n  (0): Linear(in_features=2, out_features=2, bias=True)\n  (1): Sequential(\n"
     "    (0): ReLU()\n  )\n)"),
]


@pytest.mark.parametrize("make,expected", REPRS,
                         ids=[r.split("(")[0] + str(i) for i, (_, r) in enumerate(REPRS)])
def test_repr_matches_pytorch(make, expected):
    assert repr(make()) == expected


def test_containers():
    s = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Tanh())
    assert isinstance(s[1], nn.ReLU) and isinstance(s[-1], nn.Tanh)
    assert isinstance(s[1:], nn.Sequential) and len(s[1:]) == 2 and list(s[1:]._modules) == ["1", "2"]
    with pytest.raises(IndexError, match="index 5 is out of range"):
        s[5]
    del s[0]
    assert list(s._modules) == ["0", "1"] and isinstance(s[0], nn.ReLU)
    s.append(nn.Identity())
    assert len(s) == 3
    ml = nn.ModuleList([nn.ReLU()])
    ml += [nn.Tanh()]
    ml.insert(0, nn.Identity())
    assert [type(m).__name__ for m in ml] == ["Identity", "ReLU", "Tanh"]
    md = nn.ModuleDict({"b": nn.ReLU(), "a": nn.Tanh()})
    assert list(md.keys()) == ["b", "a"] and "a" in md and isinstance(md.pop("a"), nn.Tanh)
    pl = nn.ParameterList([ag.ones(2), nn.Parameter(ag.zeros(3))])
    assert [n for n, _ in pl.named_parameters()] == ["0", "1"] and pl[0].requires_grad


# ---------------------------------------------------------------- modes, grads, conversion
def test_train_eval_zero_grad_requires_grad():
    net = Net()
    net.eval()
    assert not net.training and not net.block[1].training
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        net.train("yes")
    out = net(ag.randn(5, 4)).sum()
    out.backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(not p.grad.numpy().any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


@pytest.mark.parametrize("dev", DEVICES)
def test_to_keeps_parameter_objects(dev):
    net = Net()
    params = list(net.parameters())
    assert net.double() is net
    assert all(p.dtype is ag.float64 for p in net.parameters()) and net.steps.dtype is ag.float64
    assert net.block[1].num_batches_tracked.dtype is ag.int64  # integer buffers keep their dtype
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    net.to(dev).float()
    assert all(p.device == ag.device(dev) and p.dtype is ag.float32 for p in net.parameters())
    assert all(b.device == ag.device(dev) for b in net.buffers())
    net.cpu()
    assert all(p.device == ag.device("cpu") for p in net.parameters())


def test_apply_and_hooks():
    net = Net()
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "ReLU", "Linear", "BatchNorm1d", "Sequential", "Net"]
    calls = []
    h1 = net.fc1.register_forward_pre_hook(lambda m, args: calls.append("pre"))
    h2 = net.fc1.register_forward_hook(lambda m, args, out: out * 0)
    h3 = net.register_forward_hook(lambda m, args, kwargs, out: calls.append(sorted(kwargs)),
                                   with_kwargs=True)
    y = net.fc1(ag.ones(2, 4))
    assert calls == ["pre"] and not y.detach().numpy().any()
    net.eval()
    net(ag.ones(2, 4))
    assert calls == ["pre", "pre", []]
    for h in (h1, h2, h3):
        h.remove()
    assert net.fc1(ag.ones(2, 4)).detach().numpy().any()


# ---------------------------------------------------------------- state dict
def test_state_dict_round_trip_and_errors():
    ag.manual_seed(0)
    a = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    sd = a.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                        "1.num_batches_tracked"]
    assert not any(v.requires_grad for v in sd.values())
    b = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    assert repr(b.load_state_dict(sd)) == "<All keys matched successfully>"
    np.testing.assert_array_equal(b[0].weight.detach().numpy(), a[0].weight.detach().numpy())
    assert b[0].weight is not sd["0.weight"] and b[0].weight.requires_grad
    bad = dict(sd)
    del bad["0.bias"]
    bad["extra"] = ag.ones(1)
    bad["1.running_mean"] = ag.ones(4)
    with pytest.raises(RuntimeError) as e:
        b.load_state_dict(bad)
    assert str(e.value) == (
        'Error(s) in loading state_dict for Sequential:\n\tMissing key(s) in state_dict: "0.bias". \n\t'
        'Unexpected key(s) in state_dict: "extra". \n\tsize mismatch for 1.running_mean: copying a param '
        "with shape torch.Size([4]) from checkpoint, the shape in current model is torch.Size([3]).")
    del bad["1.running_mean"]
    r = b.load_state_dict(bad, strict=False)
    assert r.missing_keys == ["0.bias", "1.running_mean"] and r.unexpected_keys == ["extra"]
    assert "scratch" not in Net().state_dict()  # non-persistent buffer


# ---------------------------------------------------------------- layers
def test_linear_init_and_forward():
    ag.manual_seed(3)
    lin = nn.Linear(20, 5)
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    bound = 1 / math.sqrt(20)  # kaiming_uniform(a=sqrt(5)) on fan_in 20 gives the same bound as the bias
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound and w.std() > bound / 3
    ag.manual_seed(3)
    np.testing.assert_array_equal(nn.Linear(20, 5).weight.detach().numpy(), w)  # reproducible
    x = ag.randn(7, 20)
    np.testing.assert_allclose(lin(x).detach().numpy(), x.numpy() @ w.T + b, rtol=1e-5, atol=1e-6)
    assert nn.Linear(3, 2, dtype=ag.float64).weight.dtype is ag.float64


@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("batch", [1, 3])
def test_linear_weight_gradient_is_the_batch_outer_product_sum(dev, batch):
    # a batch of one takes a broadcast multiply instead of a GEMM with inner dimension 1 (linalg._mm_t): the
    # same products, so float32 gradients equal the float64 closed form rounded once
    rng = np.random.default_rng(0)
    xs, gs = rng.standard_normal((batch, 50)), rng.standard_normal((batch, 7))
    x = ag.tensor(xs, dtype=ag.float32, device=dev)
    w = ag.zeros(7, 50, requires_grad=True, device=dev)
    b = ag.zeros(7, requires_grad=True, device=dev)
    m = ag.zeros(50, 7, requires_grad=True, device=dev)
    g = ag.tensor(gs, dtype=ag.float32, device=dev)
    F.linear(x, w, b).backward(g)
    (x @ m).backward(g)  # mm's second-operand gradient: x.T @ g
    x64, g64 = x._host().astype(np.float64), g._host().astype(np.float64)
    expected = g64.T @ x64
    if batch == 1:
        assert np.array_equal(w.grad._host(), expected.astype(np.float32))
        assert np.array_equal(m.grad._host(), expected.T.astype(np.float32))
    np.testing.assert_allclose(w.grad._host(), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(m.grad._host(), expected.T, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(b.grad._host(), g64.sum(0), rtol=1e-6)


@pytest.mark.parametrize("dev", DEVICES)
def test_conv_pool_modules(dev):
    ag.manual_seed(0)
    conv = nn.Conv2d(2, 4, 3, padding="same", groups=2).to(dev)
    x = ag.randn(3, 2, 6, 5, device=dev)
    y = conv(x)
    assert y.shape == (3, 4, 6, 5) and y.grad_fn.name() == "ConvolutionBackward0"
    ref = F.conv2d(x, conv.weight, conv.bias, padding=1, groups=2)
    np.testing.assert_allclose(y.detach()._host(), ref.detach()._host(), rtol=1e-5, atol=1e-6)
    bound = 1 / math.sqrt(1 * 3 * 3)
    assert np.abs(conv.weight.detach()._host()).max() <= bound
    c1 = nn.Conv1d(3, 2, 2, stride=2).to(dev)
    assert c1(ag.randn(2, 3, 7, device=dev)).shape == (2, 2, 3)
    pooled, idx = nn.MaxPool2d(2, return_indices=True)(y)
    assert pooled.shape == (3, 4, 3, 2) and idx.dtype is ag.int64
    assert nn.AvgPool2d(3, stride=2, padding=1)(y).shape == (3, 4, 3, 3)
    assert nn.AdaptiveAvgPool2d((1, 1))(y).shape == (3, 4, 1, 1)
    (pooled.sum() + y.mean()).backward()
    assert conv.weight.grad.shape == conv.weight.shape and conv.bias.grad.device == ag.device(dev)
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError,
                       match=r"Invalid padding string 'foo', should be one of \{'valid', 'same'\}"):
        nn.Conv2d(2, 4, 3, padding="foo")


@pytest.mark.parametrize("dev", DEVICES)
def test_batchnorm_running_stats(dev):
    bn = nn.BatchNorm2d(3, momentum=0.3).to(dev)
    rng = np.random.default_rng(0)
    xs = [rng.normal(2.0, 3.0, (4, 3, 2, 2)) for _ in range(2)]
    rm, rv = np.zeros(3), np.ones(3)
    for xn in xs:
        y = bn(ag.tensor(xn, dtype=ag.float32, device=dev))
        mean, var = xn.mean(axis=(0, 2, 3)), xn.var(axis=(0, 2, 3))
        expect = (xn - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-5)
        np.testing.assert_allclose(y.detach()._host(), expect, rtol=1e-4, atol=1e-4)
        rm = 0.7 * rm + 0.3 * mean
        rv = 0.7 * rv + 0.3 * var * 16 / 15
    np.testing.assert_allclose(bn.running_mean._host(), rm, rtol=1e-5)
    np.testing.assert_allclose(bn.running_var._host(), rv, rtol=1e-5)
    assert int(bn.num_batches_tracked) == 2
    bn.eval()
    xe = rng.normal(size=(2, 3, 2, 2))
    ye = bn(ag.tensor(xe, dtype=ag.float32, device=dev))
    expect = (xe - rm[:, None, None]) / np.sqrt(rv[:, None, None] + 1e-5)
    np.testing.assert_allclose(ye.detach()._host(), expect, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(bn.running_mean._host(), rm, rtol=1e-5)  # eval leaves the stats alone
    cum = nn.BatchNorm1d(2, momentum=None)
    a, b = ag.tensor([[0.0, 1.0], [2.0, 3.0]]), ag.tensor([[4.0, 5.0], [6.0, 9.0]])
    cum(a), cum(b)
    np.testing.assert_allclose(cum.running_mean.numpy(), [3.0, 4.5])  # plain average of the batch means
    free = nn.BatchNorm1d(2, track_running_stats=False).eval()
    # without running stats, batch statistics are used even in eval
    np.testing.assert_allclose(free(b).detach().numpy(), [[-1, -1], [1, 1]], atol=1e-4)
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input\)"):
        nn.BatchNorm2d(3)(ag.ones(2, 3, 4))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        nn.BatchNorm1d(3)(ag.ones(1, 3))


@_needs("layer_norm")
def test_layer_norm_module():
    ln = nn.LayerNorm(4)
    x = ag.randn(3, 4)
    xn = x.numpy()
    np.testing.assert_allclose(ln(x).detach().numpy(), (xn - xn.mean(-1, keepdims=True)) /
                               np.sqrt(xn.var(-1, keepdims=True) + 1e-5), rtol=1e-4, atol=1e-5)


@_needs("dropout")
def test_dropout_module():
    d = nn.Dropout(0.5)
    x = ag.ones(1000)
    y = d(x).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0} and 300 < (y == 0).sum() < 700
    d.eval()
    assert d(x) is x or np.array_equal(d(x).numpy(), x.numpy())
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)


@_needs("embedding")
def test_embedding_module():
    ag.manual_seed(0)
    emb = nn.Embedding(5, 3, padding_idx=0)
    assert not emb.weight.detach().numpy()[0].any()
    out = emb(ag.tensor([[1, 0], [4, 1]]))
    assert out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out.detach().numpy()[1, 0], emb.weight.detach().numpy()[4])
    pre = nn.Embedding.from_pretrained(ag.ones(2, 2))
    assert not pre.weight.requires_grad


def test_flatten_identity_unflatten():
    x = ag.randn(2, 3, 4)
    assert nn.Flatten()(x).shape == (2, 12) and nn.Flatten(0, 1)(x).shape == (6, 4)
    assert nn.Identity(3, foo=1)(x) is x
    assert nn.Unflatten(1, (3, 1))(x).shape == (2, 3, 1, 4)


ACTIVATIONS = [("ReLU", {}, lambda x: np.maximum(x, 0)), ("LeakyReLU", {"negative_slope": 0.2},
                                                          lambda x: np.where(x > 0, x, 0.2 * x)),
               ("ELU", {}, lambda x: np.where(x > 0, x, np.expm1(x))), ("Tanh", {}, np.tanh),
               ("Sigmoid", {}, lambda x: 1 / (1 + np.exp(-x))), ("SiLU", {}, lambda x: x / (1 + np.exp(-x))),
               ("Softplus", {}, lambda x: np.log1p(np.exp(x))),
               ("GELU", {}, lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))),
               ("Softmax", {"dim": 1}, lambda x: np.exp(x) / np.exp(x).sum(1, keepdims=True)),
               ("LogSoftmax", {"dim": 1}, lambda x: x - np.log(np.exp(x).sum(1, keepdims=True)))]


@pytest.mark.parametrize("name,kw,ref", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_modules(name, kw, ref):
    fn = {"ReLU": "relu", "LeakyReLU": "leaky_relu", "ELU": "elu", "Tanh": "tanh", "Sigmoid": "sigmoid",
          "SiLU": "silu", "Softplus": "softplus", "GELU": "gelu", "Softmax": "softmax",
          "LogSoftmax": "log_softmax"}[name]
    if not hasattr(F, fn):
        pytest.skip(f"nn.functional.{fn} not implemented yet")
    x = ag.randn(3, 4, dtype=ag.float64)
    np.testing.assert_allclose(getattr(nn, name)(**kw)(x).numpy(), ref(x.numpy()), rtol=1e-6, atol=1e-7)


def _smooth_l1(x, y, beta=0.5):
    d = np.abs(x - y)
    return np.where(d < beta, 0.5 * d ** 2 / beta, d - 0.5 * beta).mean()


LOSSES = [("MSELoss", {}, lambda x, y: ((x - y) ** 2).mean(), "mse_loss"),
          ("L1Loss", {"reduction": "sum"}, lambda x, y: np.abs(x - y).sum(), "l1_loss"),
          ("SmoothL1Loss", {"beta": 0.5}, _smooth_l1, "smooth_l1_loss"),
          ("BCEWithLogitsLoss", {}, lambda x, y: np.mean(np.log1p(np.exp(-x)) + (1 - y) * x),
           "binary_cross_entropy_with_logits")]


@pytest.mark.parametrize("name,kw,ref,fn", LOSSES, ids=[a[0] for a in LOSSES])
def test_regression_loss_modules(name, kw, ref, fn):
    if not hasattr(F, fn):
        pytest.skip(f"nn.functional.{fn} not implemented yet")
    x, y = ag.randn(4, 3, dtype=ag.float64), ag.rand(4, 3, dtype=ag.float64)
    np.testing.assert_allclose(getattr(nn, name)(**kw)(x, y).item(), ref(x.numpy(), y.numpy()), rtol=1e-6)


@_needs("cross_entropy", "nll_loss", "binary_cross_entropy")
def test_classification_loss_modules():
    x = ag.randn(5, 4, dtype=ag.float64)
    t = ag.tensor([0, 3, 1, 1, 2])
    xn, tn = x.numpy(), t.numpy()
    logp = xn - np.log(np.exp(xn).sum(1, keepdims=True))
    np.testing.assert_allclose(nn.CrossEntropyLoss()(x, t).item(), -logp[np.arange(5), tn].mean(), rtol=1e-6)
    w = ag.tensor([1.0, 2.0, 0.5, 1.0], dtype=ag.float64)
    ce = nn.CrossEntropyLoss(weight=w, reduction="sum")
    assert "weight" in dict(ce.named_buffers())
    np.testing.assert_allclose(ce(x, t).item(), -(w.numpy()[tn] * logp[np.arange(5), tn]).sum(), rtol=1e-6)
    np.testing.assert_allclose(nn.NLLLoss(ignore_index=1)(ag.tensor(logp), t).item(),
                               -logp[[0, 1, 4], tn[[0, 1, 4]]].mean(), rtol=1e-6)
    p, y = ag.rand(6, dtype=ag.float64) * 0.8 + 0.1, ag.rand(6, dtype=ag.float64)
    pn, yn = p.numpy(), y.numpy()
    bce = -np.mean(yn * np.log(pn) + (1 - yn) * np.log(1 - pn))
    np.testing.assert_allclose(nn.BCELoss()(p, y).item(), bce, rtol=1e-6)
    # the deprecated arguments give the reduction and PyTorch's warning
    for kwargs, red in (({"size_average": False}, "sum"), ({"reduce": False}, "none"),
                        ({"size_average": True, "reduce": True}, "mean")):
        with pytest.warns(UserWarning, match=re.escape(f"size_average and reduce args will be deprecated, please "
                                                       f"use reduction='{red}' instead.")):
            assert nn.MSELoss(**kwargs).reduction == red
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert nn.MSELoss(reduction="sum").reduction == "sum"


# ---------------------------------------------------------------- init and utils
def test_init():
    init = nn.init
    assert init.calculate_gain("relu") == math.sqrt(2) and init.calculate_gain("tanh") == 5 / 3
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(1.3867504905630728)
    with pytest.raises(ValueError, match="Unsupported nonlinearity foo"):
        init.calculate_gain("foo")
    with pytest.raises(ValueError, match="Fan in and fan out can not be computed for tensor with fewer than "
                                         "2 dimensions"):
        init.xavier_uniform_(ag.ones(3))
    with pytest.raises(ValueError,
                       match=r"Mode bad not supported, please use one of \['fan_in', 'fan_out'\]"):
        init.kaiming_uniform_(ag.ones(3, 3), mode="bad")
    ag.manual_seed(0)
    w = ag.empty(200, 300)
    assert init.xavier_uniform_(w) is w
    assert np.abs(w.numpy()).max() <= math.sqrt(6 / 500)
    assert w.numpy().std() == pytest.approx(math.sqrt(2 / 500), 0.05)
    init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert w.numpy().std() == pytest.approx(math.sqrt(2 / 200), rel=0.05)
    init.kaiming_uniform_(w, a=math.sqrt(5))
    assert np.abs(w.numpy()).max() <= 1 / math.sqrt(300)
    init.trunc_normal_(w, std=2.0, a=-1.0, b=1.5)
    assert w.numpy().min() >= -1.0 and w.numpy().max() <= 1.5
    init.normal_(w, 3.0, 0.5)
    assert w.numpy().mean() == pytest.approx(3.0, abs=0.01)
    init.uniform_(w, -2, -1)
    assert -2 <= w.numpy().min() and w.numpy().max() <= -1
    init.constant_(w, 0.25)
    assert (w.numpy() == 0.25).all()
    v = w._version_value
    init.zeros_(w)
    assert w._version_value == v + 1 and not w.numpy().any()
    p = nn.Parameter(ag.ones(3, 3))
    init.eye_(p)  # works on leaves that require grad (no autograd record)
    assert p.grad_fn is None and (p.detach().numpy() == np.eye(3)).all()


def test_clip_grad():
    p = nn.Parameter(ag.tensor([3.0, 4.0]))
    p.grad = ag.tensor([3.0, 4.0])
    total = nn.utils.clip_grad_norm_([p], 1.0)
    assert total.item() == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad.numpy(), [0.6, 0.8], rtol=1e-5)
    assert nn.utils.clip_grad_norm_(p, 1.0, norm_type="inf").item() == pytest.approx(0.8)
    q = nn.Parameter(ag.ones(2))
    q.grad = ag.tensor([-3.0, 0.5])
    nn.utils.clip_grad_value_([q], 1.0)
    np.testing.assert_array_equal(q.grad.numpy(), [-1.0, 0.5])
    v = nn.utils.parameters_to_vector([p, q]) if hasattr(ag, "cat") else None
    if v is not None:
        assert v.shape == (4,)


@_needs("cross_entropy", "relu")
@pytest.mark.parametrize("dev", DEVICES)
def test_small_cnn_learns(dev):
    """A few Adam steps on a tiny fixed batch drive the loss down on every device."""
    ag.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(16, 3)).to(dev)
    x = ag.randn(6, 1, 4, 4, device=dev)
    y = ag.tensor([0, 1, 2, 0, 1, 2], device=dev)
    opt = ag.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(15):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]

