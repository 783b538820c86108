"""Rows for the activations of ops/activation_extra.py and ops/activation_channel.py. References are NumPy
float64 formulas written from the definitions (not the ops' stable forms). Samples near a kink or a jump use
fixed values a little away from it (gradcheck's finite differences step 1e-6; a jump inside the step would
read as a huge slope); random samples elsewhere."""
import numpy as np

from ..registry import Arg, OpInfo, S
import autograd_gpu as ag

F = ag.nn.functional
SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _x(*values):
    """Fixed input values that require grad (float tensor of the tested dtype)."""
    return Arg(np.array(values, dtype=np.float64), grad=True)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _softplus(x):
    return np.log1p(np.exp(x))


def _softmax(x, dim):
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


def _glu(x, dim=-1):
    a, b = np.split(x, 2, axis=dim)
    return a * _sigmoid(b)


def _prelu(x, w):
    w = w.reshape((-1,) + (1,) * (x.ndim - 2)) if w.size > 1 else w.reshape(())  # per channel (dim 1) / one
    return np.where(x > 0, x, w * x)


def _rrelu_seeded(x, lower=1 / 8, upper=1 / 3):
    ag.manual_seed(0)  # the same slopes on every call: finite differences see a fixed piecewise-linear map
    return F.rrelu(x, lower, upper, training=True)


def _rrelu_train_ref(x, lower=1 / 8, upper=1 / 3):
    from ...ops.nn_ops import philox_first_word  # (checked against Random123's known answers)
    u = philox_first_word(0, 0, x.size).reshape(x.shape) / 2.0 ** 32
    return np.where(x <= 0, x * (lower + (upper - lower) * u), x)


# near the kinks of hardshrink / softshrink (+-0.5, +-0.3), hardsigmoid / hardswish (+-3), threshold (0.5)
_SHRINK = _x(-2.0, -0.52, -0.48, -0.31, -0.1, 0.05, 0.29, 0.33, 0.47, 0.53, 1.5)
_HARD = _x(-4.0, -3.02, -2.98, -1.0, 0.0, 0.4, 2.97, 3.03, 5.0)
_THRESH = _x(-1.0, 0.3, 0.48, 0.52, 0.9, 2.0)

OPS = [
    OpInfo("nn.functional.celu", F.celu,
           lambda x, alpha=1.0: np.where(x > 0, x, alpha * (np.exp(x / alpha) - 1)),
           [S((3, 4)), S((3, 4), alpha=2.5, name="alpha"), S((3, 4), 0.5, name="small_alpha"), S(())],
           domain=(-3, 3), aliases=("celu",)),
    OpInfo("nn.functional.selu", F.selu,
           lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * (np.exp(x) - 1)), [S((3, 4)), S(())],
           domain=(-3, 3), aliases=("selu",)),
    OpInfo("nn.functional.hardshrink", F.hardshrink,
           lambda x, lambd=0.5: np.where(np.abs(x) > lambd, x, 0.0),
           [S(_SHRINK), S(_SHRINK, 0.3, name="lambd"), S(_SHRINK, lambd=0.0, name="zero"), S((3, 4), 1.0)],
           aliases=("hardshrink", "Tensor.hardshrink")),
    OpInfo("nn.functional.softshrink", F.softshrink,
           lambda x, lambd=0.5: np.where(x > lambd, x - lambd, np.where(x < -lambd, x + lambd, 0.0)),
           [S(_SHRINK), S(_SHRINK, 0.3, name="lambd"), S(_SHRINK, lambd=0.0, name="zero"), S((3, 4), 1.0)]),
    OpInfo("nn.functional.threshold", F.threshold, lambda x, t, v: np.where(x > t, x, v),
           [S(_THRESH, 0.5, 2.0), S((3, 4), 0.0, -1.0, name="random"),
            S(_THRESH, 0.5, 0.5, name="continuous")],
           aliases=("threshold",)),
    OpInfo("nn.functional.hardsigmoid", F.hardsigmoid, lambda x: np.clip(x / 6 + 0.5, 0, 1),
           [S(_HARD), S((3, 4)), S(())], domain=(-4, 4)),
    OpInfo("nn.functional.hardswish", F.hardswish, lambda x: x * np.clip(x + 3, 0, 6) / 6,
           [S(_HARD), S((3, 4)), S(())], domain=(-4, 4)),
    OpInfo("nn.functional.mish", F.mish, lambda x: x * np.tanh(_softplus(x)),
           [S((3, 4)), S(()), S(_x(-30.0, -12.0, -5.0, 8.0, 15.0), name="tails")], domain=(-4, 4)),
    OpInfo("nn.functional.softsign", F.softsign, lambda x: x / (1 + np.abs(x)),
           [S((3, 4)), S(()), S(_x(-50.0, -0.01, 0.02, 40.0), name="wide")], domain=(-4, 4)),
    OpInfo("nn.functional.tanhshrink", F.tanhshrink, lambda x: x - np.tanh(x),
           [S((3, 4)), S(()), S(_x(-0.09, -1e-3, 0.04, 0.0995, 0.1005, 0.5), name="series")], domain=(-3, 3)),
    OpInfo("nn.functional.logsigmoid", F.logsigmoid, lambda x: -np.log1p(np.exp(-x)),
           [S((3, 4)), S(()), S(_x(-40.0, -15.0, 12.0, 30.0), name="tails")], domain=(-5, 5)),
    OpInfo("nn.functional.glu", F.glu, _glu,
           [S((4, 6)), S((4, 6), 0, name="dim0"), S((2, 4, 3), dim=1, name="middle"), S((6,))],
           domain=(-3, 3)),
    OpInfo("nn.functional.prelu", F.prelu, _prelu,
           [S((2, 3, 4), (3,)), S((2, 3, 2, 2), (3,), name="2d"), S((2, 3), (1,), name="shared"),
            S((5,), (1,), name="1d"), S((), (1,), name="0d"), S((4, 3), ()), S((2, 3), _x(-0.5, 0.1, 0.3))],
           aliases=("prelu", "Tensor.prelu")),
    OpInfo("nn.functional.softmin", F.softmin, lambda x, dim, dtype=None: _softmax(-x, dim),
           [S((3, 4), 1), S((3, 4), 0, name="dim0"), S((2, 3, 4), -1),
            S((3, 4), 1, dtype=ag.float64, name="dtype")],
           domain=(-3, 3)),
    OpInfo("nn.functional.rrelu", F.rrelu,
           lambda x, lower=1 / 8, upper=1 / 3: np.where(x > 0, x, x * (lower + upper) / 2),
           [S((3, 4)), S((3, 4), 0.1, 0.3, name="bounds"), S(())], aliases=("rrelu",)),
    # training mode: seeded, so one call and the next (finite differences) draw the same slopes
    OpInfo("rrelu_training", _rrelu_seeded, _rrelu_train_ref,
           [S((3, 4)), S((5, 7), 0.2, 0.5, name="bounds"), S((), name="0d")]),
]
