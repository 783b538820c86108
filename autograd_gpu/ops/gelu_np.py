"""gelu (erf form) and its derivative for float32 arrays on cpu, without SciPy.

NumPy has no erf, and a formula of a dozen array passes over 16M elements is memory-bound pass after pass.
So the arithmetic runs in float64 over cache-sized chunks (every pass stays in L2) and each result is
rounded to float32 once: erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + |z|/2), P a degree-9 polynomial
(Numerical Recipes 2nd ed. 6.2, ``erfcc``: relative error below 1.2e-7 for every z, tails included, so
x Phi(x) keeps its relative accuracy where PyTorch's 1 + erf(x/sqrt 2) cancels to 0). With z = -x/sqrt 2,
erfc(z) = 2 Phi(x) is taken as 2 - erfc(|z|) for x > 0, where it lies in [1, 2] (no cancellation).

Why not SciPy's float32 erfc (~15% faster where installed): its argument x / sqrt 2 is rounded to float32
first, and erfc's relative sensitivity 2 z^2 turns that rounding into ~180 ulps at x = -13; here z^2 is
formed from the exact x in float64 (<= 3 ulps everywhere, tests/test_numerics.py), with a third of the memory.
"""
from __future__ import annotations

import numpy as np

from ..backend.fp import quiet

_ERFCC = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398,
          1.48851587, -0.82215223, 0.17087277)
_SQRT1_2, _INV_SQRT_2PI = 0.7071067811865476, 0.3989422804014327
_CHUNK = 1 << 15  # float64 elements per chunk (256 KiB per temporary: fastest of 2^13..2^18 on 16M elements)
_F64 = np.dtype(np.float64)


def _two_phi(x, gauss):
    """(2 Phi(x), exp(-x^2/2) or None) for a float64 chunk x."""
    z = np.abs(x)
    z *= _SQRT1_2  # |z|, z = -x / sqrt 2
    t = z * 0.5
    t += 1.0
    np.reciprocal(t, out=t)
    p = t * _ERFCC[9]
    for c in _ERFCC[8:0:-1]:  # Horner, in place
        p += c
        p *= t
    p += _ERFCC[0]
    z *= z
    np.negative(z, out=z)  # -z^2 = -x^2 / 2
    e = None
    if gauss:
        e = np.exp(z)
        np.exp(p, out=p)
        p *= e
    else:
        p += z
        np.exp(p, out=p)
    p *= t  # erfc(|z|)
    np.subtract(2.0, p, out=p, where=x > 0)  # erfc(z) for z < 0
    return p, e


def _gelu_chunk(x):
    p, _ = _two_phi(x, False)
    p *= x
    p *= 0.5
    return p


def _gelu_grad_chunk(g, x):
    p, e = _two_phi(x, True)  # Phi(x) + x phi(x) = (2 Phi(x) + 2 x phi(x)) / 2
    e *= x
    e *= 2 * _INV_SQRT_2PI
    p += e
    p *= g
    p *= 0.5
    return p


def _chunked(fn, *arrays):
    """fn over float64 chunks of same-shape float32 arrays; the result in float32, rounded once."""
    flats = [np.ascontiguousarray(a).reshape(-1) for a in arrays]
    out = np.empty(arrays[0].shape, np.float32)
    flat = out.reshape(-1)
    with quiet():  # (x = -inf: -inf * 0 is nan, as in PyTorch, without NumPy's warning)
        for s in range(0, flat.size, _CHUNK):
            flat[s:s + _CHUNK] = fn(*[f[s:s + _CHUNK].astype(_F64) for f in flats])
    return out


def gelu(x):
    """x Phi(x) for a float32 array."""
    return _chunked(_gelu_chunk, x)


def gelu_grad(g, x):
    """g (Phi(x) + x phi(x)) for float32 arrays of one shape."""
    return _chunked(_gelu_grad_chunk, g, x)
