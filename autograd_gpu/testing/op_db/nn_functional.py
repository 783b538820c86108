"""Rows for torch.nn.functional activations, losses and layer ops (NumPy float64 references written
independently of the ops: direct formulas, np.pad, math.erf)."""
import math

import numpy as np

from ..registry import Arg, OpInfo, S
import autograd_gpu as ag

F = ag.nn.functional
_erf = np.vectorize(math.erf, otypes=[np.float64])  # otypes: empty inputs
_r = np.random.default_rng(7)


def _i64(*v):
    return Arg(np.array(v, dtype=np.int64))


def _u(shape, lo=0.0, hi=1.0):
    return Arg(_r.uniform(lo, hi, shape))


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _reduce(loss, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction](loss)


def _softmax(x, dim, log=False):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0:
        return np.float64(0.0) if log else np.float64(1.0)
    z = x - x.max(axis=dim, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=dim, keepdims=True))
    return z - lse if log else np.exp(z - lse)


def _gelu(x, approximate="none"):
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + _erf(x / math.sqrt(2)))


def _softplus(x, beta=1.0, threshold=20.0):
    return np.where(x * beta > threshold, x, np.log1p(np.exp(x * beta)) / beta)


def _nll(logp, t, weight=None, ignore_index=-100, reduction="mean"):
    """Reference nll_loss by explicit loops over the flattened batch."""
    logp = np.asarray(logp, dtype=np.float64)
    if logp.ndim == 1:
        logp, t = logp[None], np.reshape(t, (1,))
    lp = np.moveaxis(logp, 1, -1).reshape(-1, logp.shape[1])
    tf = np.reshape(t, -1)
    loss, wsum = np.zeros(tf.size), 0.0
    for i, c in enumerate(tf):
        if c == ignore_index:
            continue
        w = 1.0 if weight is None else weight[c]
        loss[i] = -w * lp[i, c]
        wsum += w
    if reduction == "none":
        return loss.reshape(np.shape(t))
    return loss.sum() if reduction == "sum" else loss.sum() / wsum


def _cross_entropy(x, t, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    axis = 1 if np.ndim(x) > 1 else 0
    logp = _softmax(x, axis, log=True)
    c = np.shape(x)[axis]
    if np.shape(t) == np.shape(x):  # class probabilities
        t = t * (1 - label_smoothing) + label_smoothing / c
        wb = 1.0 if weight is None else weight.reshape([-1 if i == axis else 1 for i in range(np.ndim(x))])
        loss = -(logp * t * wb).sum(axis)
        return _reduce(loss, reduction) if reduction != "mean" else loss.sum() / (np.size(x) / c)
    nll = _nll(logp, t, weight, ignore_index, reduction)
    if not label_smoothing:
        return nll
    wb = np.ones(c) if weight is None else weight
    smooth = -(logp * wb.reshape([-1 if i == axis else 1 for i in range(np.ndim(x))])).sum(axis)
    valid = np.asarray(t) != ignore_index
    smooth = np.where(valid, smooth, 0.0)
    if reduction == "mean":
        smooth = smooth.sum() / (wb[np.asarray(t)[valid]].sum())
    elif reduction == "sum":
        smooth = smooth.sum()
    return (1 - label_smoothing) * nll + label_smoothing / c * smooth


def _bce(x, y, weight=None, reduction="mean"):
    loss = -(y * np.maximum(np.log(x), -100) + (1 - y) * np.maximum(np.log(1 - x), -100))
    return _reduce(loss if weight is None else loss * weight, reduction)


def _smooth_l1(x, y, reduction="mean", beta=1.0):
    d = np.abs(x - y)
    return _reduce(np.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta), reduction)


def _huber(x, y, reduction="mean", delta=1.0):
    d = np.abs(x - y)
    return _reduce(np.where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta)), reduction)


def _layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    k = 1 if isinstance(normalized_shape, int) else len(normalized_shape)
    axes = tuple(range(x.ndim - k, x.ndim))
    mu = x.mean(axis=axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mu) / np.sqrt(var + eps)
    return y * (1 if weight is None else weight) + (0 if bias is None else bias)


def _pad(x, pad, mode="constant", value=None):
    k = len(pad) // 2
    if not k:
        return x.copy()
    widths = [(0, 0)] * (x.ndim - k) + [(pad[2 * i], pad[2 * i + 1]) for i in reversed(range(k))]
    crop = tuple(slice(max(-lo, 0), x.shape[d] - max(-hi, 0)) for d, (lo, hi) in enumerate(widths))
    x = x[crop]
    widths = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
    if mode == "constant":
        return np.pad(x, widths, constant_values=0 if value is None else value)
    return np.pad(x, widths, mode={"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode])


def _dropout_ref(x, p):
    from ...ops.nn_ops import dropout_threshold, philox_first_word
    keep = philox_first_word(0, 0, x.size).reshape(x.shape) >= dropout_threshold(p)
    return np.where(keep, x / (1 - p), 0.0)


def _dropout_seeded(x, p):
    ag.manual_seed(0)  # the same mask on every call: finite differences see a fixed linear map
    return F.dropout(x, p)


_T = _i64(0, 4, 2, 1)
# rows longer than one 1024-thread block; forward here, gradients in tests/test_nn_functional.py (cheap vjp)
_LONG = _r.uniform(-3, 3, (1, 1100))

_IGN = _i64(0, -100, 2, 1)
_LONG_ROW = S(Arg(_LONG, grad=True), 1, name="long_row", grad=False)
_PAIR = [S((3, 4), (3, 4)), S((3, 4), (3, 4), reduction="sum"), S((3, 4), (3, 4), reduction="none"),
         S((), ())]


def _mse(x, y, reduction="mean"):
    return _reduce((x - y) ** 2, reduction)


def _l1(x, y, reduction="mean"):
    return _reduce(np.abs(x - y), reduction)


def _embedding(i, w, padding_idx=None, scale_grad_by_freq=False):
    return w[i]


def _one_hot(t, n=-1):
    return np.eye(t.max() + 1 if n == -1 else n, dtype=np.int64)[t]


OPS = [
    # activations
    OpInfo("nn.functional.relu", F.relu, lambda x: np.maximum(x, 0), [S((3, 4)), S(()), S((2, 3, 2))],
           aliases=("relu", "Tensor.relu")),
    OpInfo("nn.functional.leaky_relu", F.leaky_relu, lambda x, s=0.01: np.where(x > 0, x, s * x),
           [S((3, 4)), S((3, 4), 0.2, name="slope"), S(())]),
    OpInfo("nn.functional.elu", F.elu, lambda x, alpha=1.0: np.where(x > 0, x, alpha * np.expm1(x)),
           [S((3, 4)), S((3, 4), alpha=0.5, name="alpha"), S(())]),
    OpInfo("nn.functional.gelu", F.gelu, _gelu,
           [S((3, 4)), S((3, 4), approximate="tanh", name="tanh"), S(()), S((), approximate="tanh")],
           domain=(-3, 3)),
    OpInfo("nn.functional.silu", F.silu, lambda x: x * _sigmoid(x), [S((3, 4)), S(())], domain=(-4, 4)),
    OpInfo("nn.functional.softplus", F.softplus, _softplus,
           [S((3, 4)), S((3, 4), beta=2.0, threshold=1.0, name="threshold"), S(())], domain=(-3, 3)),
    OpInfo("nn.functional.sigmoid", F.sigmoid, _sigmoid, [S((3, 4)), S((2, 3))], domain=(-4, 4)),
    OpInfo("nn.functional.tanh", F.tanh, np.tanh, [S((3, 4)), S(())], aliases=("tanh", "Tensor.tanh")),
    OpInfo("nn.functional.hardtanh", F.hardtanh, lambda x, lo=-1.0, hi=1.0: np.clip(x, lo, hi),
           [S((3, 4)), S((3, 4), -0.5, 1.5, name="bounds")]),
    OpInfo("nn.functional.relu6", F.relu6, lambda x: np.clip(x, 0, 6), [S((3, 4)), S(())], domain=(-3, 9)),
    OpInfo("nn.functional.softmax", F.softmax, lambda x, dim, dtype=None: _softmax(x, dim),
           [S((3, 4), 1), S((3, 4), 0, name="dim0"), S((2, 3, 4), 1, name="middle"), S((2, 3, 4), -1),
            S((), 0), S((3, 4), 1, dtype=ag.float64, name="dtype"), _LONG_ROW],
           domain=(-3, 3), aliases=("softmax", "Tensor.softmax")),
    OpInfo("nn.functional.log_softmax", F.log_softmax, lambda x, dim, dtype=None: _softmax(x, dim, log=True),
           [S((3, 4), 1), S((3, 4), 0, name="dim0"), S((2, 3, 4), 1, name="middle"), S((), 0), _LONG_ROW],
           domain=(-3, 3), aliases=("log_softmax", "Tensor.log_softmax")),
    # losses
    OpInfo("nn.functional.cross_entropy", F.cross_entropy, _cross_entropy,
           [S((4, 5), _T), S((4, 5), _IGN, label_smoothing=0.2, name="ignore_smooth"),
            S((4, 5), _i64(0, 3, 2, 1), ignore_index=3, reduction="sum", name="ignore_index_sum"),
            S((4, 5), _T, weight=_u(5, 0.5, 1.5), reduction="none", name="weight_none"),
            S((4, 5), _IGN, weight=_u(5, 0.5, 1.5), label_smoothing=0.1, name="weight_smooth"),
            S((4, 5), _T, reduction="none", label_smoothing=0.3, name="none_smooth"),
            S((5,), Arg(np.array(3)), name="unbatched"),
            S((2, 3, 4), Arg(np.array([[0, 2, 1, 2], [1, 1, 0, -100]])), name="nd"),
            S((3, 4), _u((3, 4)), name="probs"),
            S((3, 4), _u((3, 4)), label_smoothing=0.2, reduction="sum", name="probs_smooth"),
            S(Arg(_LONG, grad=True), _i64(1077), name="long_row", grad=False)],
           domain=(-3, 3)),
    OpInfo("nn.functional.nll_loss", F.nll_loss, _nll,
           [S((4, 5), _T), S((4, 5), _IGN, weight=_u(5, 0.5, 1.5), name="weight_ignore"),
            S((4, 5), _i64(0, 3, 2, 1), ignore_index=3, reduction="none", name="none"),
            S((4, 5), _T, reduction="sum", name="sum"), S((5,), Arg(np.array(1)), name="unbatched"),
            S((2, 3, 2), Arg(np.array([[0, 2], [1, 1]])), name="nd")]),
    OpInfo("nn.functional.mse_loss", F.mse_loss, _mse, _PAIR + [S((2, 3), _u((2, 3)), name="const_target")]),
    OpInfo("nn.functional.l1_loss", F.l1_loss, _l1, _PAIR),
    OpInfo("nn.functional.smooth_l1_loss", F.smooth_l1_loss, _smooth_l1,
           _PAIR + [S((3, 4), (3, 4), beta=0.5, reduction="sum", name="beta")]),
    OpInfo("nn.functional.huber_loss", F.huber_loss, _huber,
           _PAIR + [S((3, 4), (3, 4), delta=0.5, reduction="sum", name="delta")]),
    OpInfo("nn.functional.binary_cross_entropy", F.binary_cross_entropy, _bce,
           [S((3, 4), _u((3, 4))), S((3, 4), _u((3, 4)), weight=_u((4,), 0.5, 1.5), reduction="sum"),
            S((3, 4), _u((3, 4)), reduction="none"), S((), Arg(np.array(0.3))),
            S((3, 2), (3, 2), name="grad_target")],
           domain=(0.05, 0.95)),
    # layers
    OpInfo("nn.functional.layer_norm", F.layer_norm, _layer_norm,
           [S((3, 4), 4), S((3, 4), Arg((4,)), (4,), (4,), name="affine"),
            S((2, 3, 4), Arg((3, 4)), (3, 4), (3, 4), eps=1e-3, name="two_dims"),
            S((5,), 5, None, (5,), name="1d")]),
    OpInfo("nn.functional.linear", F.linear, lambda x, w, b=None: x @ w.T + (0 if b is None else b),
           [S((3, 4), (2, 4), (2,)), S((4,), (2, 4), name="vector"),
            S((2, 3, 4), (5, 4), (5,), name="batched"), S((3, 4), (2, 4), name="no_bias")]),
    # padding_idx / scale_grad_by_freq alter the gradient on purpose (tests/test_nn_functional.py checks them)
    OpInfo("nn.functional.embedding", F.embedding, _embedding,
           [S(Arg(np.array([[1, 2], [4, 1]])), (5, 3)),
            S(Arg(np.array([0, 3, 3, 1])), (4, 2), padding_idx=3, name="padding", grad=False),
            S(Arg(np.array([1, 1, 2])), (3, 2), scale_grad_by_freq=True, name="freq", grad=False),
            S(Arg(np.array(2)), (4, 3), name="0d")]),
    OpInfo("nn.functional.one_hot", F.one_hot, _one_hot,
           [S(Arg(np.array([0, 2, 1]))), S(Arg(np.array([[0, 3], [1, 1]])), 5), S(Arg(np.array(1)), 3)],
           grad=False),
    OpInfo("nn.functional.pad", F.pad, _pad,
           [S((3, 4), Arg((1, 2))), S((2, 3, 4), Arg((1, -1, 2, 0)), value=0.5, name="negative_value"),
            S((), Arg(())), S((2, 4), Arg((2, 1)), mode="reflect", name="reflect"),
            S((1, 3, 4), Arg((1, 2, 2, 1)), mode="reflect", name="reflect2d"),
            S((2, 3), Arg((2, 3)), mode="replicate", name="replicate"),
            S((1, 2, 3, 3), Arg((1, 1, 0, 2)), mode="circular", name="circular")]),
    OpInfo("nn.functional.dropout", _dropout_seeded, _dropout_ref, [S((3, 4), 0.5), S((5, 7), 0.2)]),
]
