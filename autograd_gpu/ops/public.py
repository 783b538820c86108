"""Every public op function, gathered for ``autograd_gpu.<name>`` (torch.<name>)."""
from .pointwise import add, sub, subtract, rsub, mul, multiply, div, divide, true_divide, neg, negative, pow  # noqa
from .reduce import (sum, mean, var, std, var_mean, std_mean, norm, logsumexp, all, any,  # noqa: F401
                     count_nonzero)
from .reduce_scan import prod, cumsum, cumprod  # noqa: F401
from .reduce_select import max, min, amax, amin, argmax, argmin, median, return_types  # noqa: F401
from .pointwise_math import (abs, absolute, sqrt, rsqrt, exp, exp2, expm1, log, log2, log10, log1p,  # noqa
                             sin, cos, tan, asin, acos, atan, arcsin, arccos, arctan, sinh, cosh, reciprocal,
                             sign, sgn, square, floor, ceil, trunc, fix, round, frac)
from .pointwise_special import erf, erfc, erfinv  # noqa: F401
from .pointwise_clamp import clamp, clip, clamp_min, clamp_max, maximum, minimum  # noqa: F401
from .pointwise_binary import (fmod, remainder, floor_divide, lerp, addcmul, addcdiv, atan2, arctan2,  # noqa
                               nan_to_num)
from .pointwise_logic import (eq, ne, lt, le, gt, ge, greater, greater_equal, less, less_equal,  # noqa
                              not_equal, equal, isclose, allclose, logical_and, logical_or, logical_xor,
                              logical_not, bitwise_and, bitwise_or, bitwise_xor, bitwise_not, isnan, isinf,
                              isfinite, isposinf, isneginf, where)
from .shape import (reshape, view, expand, transpose, swapaxes, swapdims, t, permute, unsqueeze, squeeze,  # noqa
                    flatten, movedim, moveaxis, flip, roll, tile, tril, triu)
from .shape_join import (cat, concat, concatenate, stack, hstack, vstack, row_stack, dstack, split, chunk,  # noqa
                         unbind)
from .index import select, narrow, index_put  # noqa: F401
from .gather import (gather, scatter, scatter_add, take_along_dim, index_select, index_add, masked_fill,  # noqa
                     masked_select, nonzero, argwhere)
from .linalg import matmul, mm, addmm, bmm, dot, outer, ger, mv  # noqa: F401
from .conversion import clone  # noqa: F401
from .activation import sigmoid, sigmoid_, tanh, tanh_, relu, relu_  # noqa: F401
from .activation_extra import celu, celu_, selu, selu_, hardshrink, threshold, threshold_  # noqa: F401
from .activation_channel import prelu, rrelu, rrelu_  # noqa: F401
from .softmax import torch_softmax as softmax, torch_log_softmax as log_softmax  # noqa: F401
from .distance import cosine_similarity, pairwise_distance, pdist  # noqa: F401
