"""Every public op function, gathered for ``autograd_gpu.<name>`` (torch.<name>)."""
from .pointwise import add, sub, subtract, rsub, mul, multiply, div, divide, true_divide, neg, negative, pow  # noqa
from .reduce import sum, mean  # noqa: F401
from .shape import (reshape, view, expand, transpose, swapaxes, swapdims, t, permute, unsqueeze, squeeze,  # noqa
                    flatten)
from .linalg import matmul, mm, bmm, dot, outer, ger, mv  # noqa: F401
from .conversion import clone  # noqa: F401
from .activation import sigmoid  # noqa: F401
