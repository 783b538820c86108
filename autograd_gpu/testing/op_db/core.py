"""Rows for the ops the core ships with (arithmetic, matmul, sum/mean, basic shape)."""
import numpy as np

from ...  import nn  # noqa: F401
from ..registry import Arg, OpInfo, S
import autograd_gpu as ag

F = ag.nn.functional


def _bce_logits_ref(x, y, weight=None, pos_weight=None, reduction="mean"):
    sig = 1 / (1 + np.exp(-x))
    pw = 1.0 if pos_weight is None else pos_weight
    loss = -(pw * y * np.log(sig) + (1 - y) * np.log(1 - sig))
    if weight is not None:
        loss = loss * weight
    return {"mean": loss.mean, "sum": loss.sum, "none": lambda: loss}[reduction]()


BINARY = [S((3, 4), (3, 4)), S((3, 4), (4,), name="broadcast"), S((), (2, 3), name="0d"), S((2, 1, 3), (4, 1))]

OPS = [
    OpInfo("add", ag.add, np.add, BINARY + [S((3,), 2.5, name="scalar")]),
    OpInfo("sub", ag.sub, np.subtract, BINARY + [S((3,), 2.5, name="scalar")], aliases=("subtract",)),
    OpInfo("rsub", ag.rsub, lambda a, b: b - a, [S((3, 2), (2,)), S((3,), 1.5)]),
    OpInfo("mul", ag.mul, np.multiply, BINARY + [S((3,), -1.5, name="scalar")], aliases=("multiply",)),
    OpInfo("div", ag.div, np.divide, [S((3, 4), Arg(np.linspace(0.5, 2, 12).reshape(3, 4), grad=True)),
                                      S((3,), 2.5, name="scalar")], aliases=("divide", "true_divide")),
    OpInfo("neg", ag.neg, np.negative, [S((3, 4)), S(())], aliases=("negative",)),
    OpInfo("pow", ag.pow, np.power, [S((3, 4), 2), S((3, 4), 3), S((4,), 0.5), S((3, 4), (4,)), S(2.0, (3,))],
           domain=(0.5, 2.0)),
    OpInfo("matmul", ag.matmul, np.matmul, [S((3, 4), (4, 5)), S((4,), (4,)), S((4,), (4, 3)), S((3, 4), (4,)),
                                            S((2, 3, 4), (2, 4, 5)), S((2, 1, 3, 4), (3, 4, 2)), S((3,), (2, 3, 4))]),
    OpInfo("addmm", ag.addmm, lambda c, a, b, beta=1, alpha=1: beta * c + alpha * (a @ b),
           [S((3, 5), (3, 4), (4, 5)), S((5,), (3, 4), (4, 5), name="bias_broadcast"),
            S((3, 5), (3, 4), (4, 5), beta=0.5, alpha=-2.0, name="beta_alpha"),
            S((1, 5), (3, 4), (4, 5), name="row_broadcast"), S((), (2, 3), (3, 2), name="0d")]),
    OpInfo("mm", ag.mm, np.matmul, [S((3, 4), (4, 5)), S((1, 1), (1, 3))]),
    OpInfo("bmm", ag.bmm, np.matmul, [S((2, 3, 4), (2, 4, 5))]),
    OpInfo("dot", ag.dot, np.dot, [S((5,), (5,))]),
    OpInfo("mv", ag.mv, np.matmul, [S((3, 5), (5,))]),
    OpInfo("outer", ag.outer, np.outer, [S((3,), (4,))], aliases=("ger",)),
    OpInfo("sum", ag.sum, lambda x, dim=None, keepdim=False: np.sum(x, axis=dim, keepdims=keepdim),
           [S((3, 4)), S(()), S((3, 4), dim=1), S((2, 3, 4), dim=(0, 2), keepdim=True), S((2, 3), dim=-1)]),
    OpInfo("mean", ag.mean, lambda x, dim=None, keepdim=False: np.mean(x, axis=dim, keepdims=keepdim),
           [S((3, 4)), S(()), S((3, 4), dim=0), S((2, 3, 4), dim=(1, 2), keepdim=True)]),
    OpInfo("reshape", ag.reshape, np.reshape, [S((3, 4), Arg((4, 3))), S((2, 3, 4), Arg((-1,))), S((), Arg((1, 1)))]),
    OpInfo("view", ag.view, np.reshape, [S((3, 4), Arg((2, 6))), S((2, 3), Arg((-1, 2)))]),
    OpInfo("Tensor.expand", lambda x, *s: x.expand(*s), lambda x, *s: np.broadcast_to(x, s),
           [S((3, 1), 3, 4), S((4,), 2, 4), S((), 3)]),
    OpInfo("transpose", ag.transpose, np.swapaxes, [S((3, 4), 0, 1), S((2, 3, 4), -1, 0)],
           aliases=("swapaxes", "swapdims")),
    OpInfo("t", ag.t, lambda x: x.T, [S((3, 4)), S((3,))]),
    OpInfo("permute", ag.permute, np.transpose, [S((2, 3, 4), Arg((2, 0, 1)))]),
    OpInfo("unsqueeze", ag.unsqueeze, np.expand_dims, [S((3, 4), 1), S((), 0), S((3,), -1)]),
    OpInfo("squeeze", ag.squeeze, lambda x, dim=None: np.squeeze(x, axis=dim),
           [S((3, 1, 4)), S((3, 1, 4), dim=1), S((1,))]),
    OpInfo("flatten", ag.flatten, lambda x, start_dim=0, end_dim=-1: x.reshape(
        x.shape[:start_dim] + (-1,) + (x.shape[end_dim % x.ndim + 1:] if x.ndim else ())) if x.ndim else x.reshape(1),
        [S((2, 3, 4)), S((2, 3, 4), start_dim=1), S(())]),
    OpInfo("clone", ag.clone, np.copy, [S((3, 4))]),
    OpInfo("sigmoid", ag.sigmoid, lambda x: 1 / (1 + np.exp(-x)), [S((3, 4)), S(())], domain=(-4, 4)),
    OpInfo("nn.functional.binary_cross_entropy_with_logits", F.binary_cross_entropy_with_logits, _bce_logits_ref,
           [S((3, 4), Arg(np.random.default_rng(1).uniform(0, 1, (3, 4)))),
            S((5,), Arg(np.random.default_rng(2).uniform(0, 1, 5)), reduction="sum"),
            S((2, 3), Arg(np.random.default_rng(3).uniform(0, 1, (2, 3))), reduction="none",
              weight=Arg(np.random.default_rng(4).uniform(0.5, 1.5, (3,))),
              pos_weight=Arg(np.random.default_rng(5).uniform(0.5, 2, (3,)))),
            S((4,), (4,), name="grad_target")],
           domain=(-3, 3)),
]
