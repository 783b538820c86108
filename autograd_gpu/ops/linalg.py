"""Matrix products: matmul (1-D, 2-D, batched with broadcasting), mm, bmm, dot, outer. cuBLAS via CuPy on GPU."""
from __future__ import annotations

import numpy as np

from ..autograd.grad_mode import no_grad
from ..autograd.node import Op, raw_backward
from ..tensor import Tensor
from ._pw_common import _F16
from ._util import promote

_make = Tensor._make


def _dt(t):
    return t.dtype


def _check_same_dtype(op, a, b):
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {_dt(a)} != {_dt(b)}"
                           if op in ("mm", "matmul", "bmm") else
                           f"{op}: expected both vectors to have same dtype, but found {_dt(a)} and {_dt(b)}")


def _mat2_grad(g, a, b):
    """a.T @ g laid out like b (PyTorch's mm_mat2_backward): when b is a transposed view (weight.t() in
    linear), (g.T @ a).T, so the gradient reaching the weight through TBackward0 is contiguous."""
    if b.flags.f_contiguous and not b.flags.c_contiguous:
        return _mm_t(g, a).T
    return _mm_t(a, g)


def _mm_t(p, q):
    """p.T @ q, the weight gradient of a batch: for a batch of one, an outer product, computed as a broadcast
    multiply (the same products; OpenBLAS's sgemm takes 3-4x longer with an inner dimension of 1:
    153 us vs 36-50 us for 128 x 784 here)."""
    if p.shape[0] == 1:
        return p.T * q
    return p.T @ q


class MmBackward0(Op):
    save = (0, 1)

    def forward(self, a, b):
        return a @ b

    def backward_raw(self, gd):
        a, b = self.saved_tensors
        need = self.needs_input_grad
        return (gd @ b._data.T if need[0] else None), (_mat2_grad(gd, a._data, b._data) if need[1] else None)

    def backward(self, g):
        a, b = self.saved_tensors
        need = self.needs_input_grad
        return (g.mm(b.mT) if need[0] else None), (a.mT.mm(g) if need[1] else None)


class AddmmBackward0(Op):
    """beta input + alpha (mat1 @ mat2): nn.functional.linear's node for 2-D inputs (one BLAS call and an
    in-place bias add)."""
    save = (1, 2)

    def forward(self, c, a, b, beta=1, alpha=1):
        self.beta, self.alpha = beta, alpha
        if a.dtype == _F16:  # PyTorch: float32 accumulation and epilogue, one rounding (not two)
            f = "float32"
            return self.forward(c.astype(f), a.astype(f), b.astype(f), beta, alpha).astype(a.dtype)
        out = a @ b
        if alpha != 1:
            out *= out.dtype.type(alpha)
        if beta == 1:
            out += c
        elif beta != 0:  # beta = 0 ignores input, nan and inf included (PyTorch)
            out += c * c.dtype.type(beta)
        return out

    def backward_raw(self, gd):
        a, b = self.saved_tensors
        need = self.needs_input_grad
        beta, alpha = self.beta, self.alpha
        ga = gd if alpha == 1 else gd * gd.dtype.type(alpha)
        gc = None
        if need[0]:  # the engine sums it to input's shape (the bias row)
            gc = gd if beta == 1 else gd * gd.dtype.type(beta)
        return gc, (ga @ b._data.T if need[1] else None), (_mat2_grad(ga, a._data, b._data) if need[2] else None)

    def backward(self, g):
        a, b = self.saved_tensors
        need = self.needs_input_grad
        beta, alpha = self.beta, self.alpha
        ga = g if alpha == 1 else g * alpha
        gc = (g if beta == 1 else g * beta) if need[0] else None
        return gc, (ga.mm(b.mT) if need[1] else None), (a.mT.mm(ga) if need[2] else None)


class LinearAddmmBackward0(Op):
    """linear(input, weight, bias) on a 2-D input: PyTorch's addmm(bias, input, weight.t()) with the weight's
    transpose folded into the products instead of recorded as a TBackward0 node (one node per layer, and the
    weight gradient g.T @ input comes out in the weight's own layout). The node keeps PyTorch's name."""
    save = (1, 2)

    def forward(self, c, a, w):
        if a.dtype == _F16:  # PyTorch: float32 accumulation and epilogue, one rounding (not two)
            f = "float32"
            return self.forward(c.astype(f), a.astype(f), w.astype(f)).astype(a.dtype)
        out = a @ w.T
        out += c
        return out

    def backward_raw(self, gd):
        a, w = self.saved_tensors
        need = self.needs_input_grad
        gc = None
        if need[0]:  # the bias row: what the engine's sum-to-size would compute
            gc = _add_reduce(gd, axis=0) if type(gd) is np.ndarray else gd.sum(axis=0)
        return gc, (gd @ w._data if need[1] else None), (_mm_t(gd, a._data) if need[2] else None)

    def backward(self, g):
        a, w = self.saved_tensors
        need = self.needs_input_grad
        return (g if need[0] else None), (g.mm(w) if need[1] else None), (g.mT.mm(a) if need[2] else None)


LinearAddmmBackward0.__name__ = LinearAddmmBackward0.__qualname__ = "AddmmBackward0"
_add_reduce = np.add.reduce


class VecMatBackward(Op):
    """(k) @ (k, n): PyTorch computes it as mm((1, k), (k, n)).squeeze(0), two nodes; here one, named as
    PyTorch's outer one (SqueezeBackward4). d/da = b @ g, d/db = outer(a, g)."""
    save = (0, 1)

    def forward(self, a, b):
        return a @ b

    def backward_raw(self, gd):
        a, b = self.saved_tensors
        need = self.needs_input_grad
        return (b._data @ gd if need[0] else None), (a._data.reshape(-1, 1) * gd if need[1] else None)

    def backward(self, g):
        a, b = self.saved_tensors
        need = self.needs_input_grad
        return (b.mv(g) if need[0] else None), (a.outer(g) if need[1] else None)


VecMatBackward.__name__ = VecMatBackward.__qualname__ = "SqueezeBackward4"


class DotBackward0(Op):
    save = (0, 1)

    def forward(self, a, b):
        return self.dev.xp.dot(a, b)

    def backward(self, g):
        a, b = self.saved_tensors
        need = self.needs_input_grad
        return (b * g if need[0] else None), (a * g if need[1] else None)


class MvBackward0(Op):
    save = (0, 1)

    def forward(self, a, v):
        return a @ v

    def backward(self, g):
        a, v = self.saved_tensors
        need = self.needs_input_grad
        return (g.unsqueeze(-1) * v if need[0] else None), (a.mT.matmul(g) if need[1] else None)


class BmmBackward0(Op):
    save = (0, 1)

    def forward(self, a, b):
        return self.dev.xp.matmul(a, b)

    def backward(self, g):
        a, b = self.saved_tensors
        need = self.needs_input_grad
        return (g.matmul(b.mT) if need[0] else None), (a.mT.matmul(g) if need[1] else None)


class UnsafeViewBackward0(BmmBackward0):
    """PyTorch names batched/broadcast matmul's node after the reshape that ends it."""


def _mat_shape_error(a, b):
    sa, sb = a._data.shape, b._data.shape
    if a._data.ndim == 1 and b._data.ndim == 1:
        return RuntimeError(f"inconsistent tensor size, expected tensor [{sa[0]}] and src [{sb[0]}] to have the same "
                            "number of elements, but got " f"{sa[0]} and {sb[0]} elements respectively")
    if a._data.ndim == 2 and b._data.ndim == 1:
        return RuntimeError(f"size mismatch, got input ({sa[0]}), mat ({sa[0]}x{sa[1]}), vec ({sb[0]})")
    ra = "x".join(map(str, (sa if a._data.ndim > 1 else (1,) + sa)[-2:]))
    rb = "x".join(map(str, (sb if b._data.ndim > 1 else sb + (1,))[-2:]))
    if a._data.ndim <= 2 and b._data.ndim <= 2:
        return RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({ra} and {rb})")
    return RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                        f"[{sb[0] if b._data.ndim > 2 else 1}, {sa[-1]}] but got: "
                        f"[{sb[0] if b._data.ndim > 2 else 1}, {sb[-2] if b._data.ndim > 1 else sb[0]}].")


def matmul(input, other):
    """Matrix product with NumPy's matmul semantics (1-D promotion, batch broadcasting)."""
    a, b = input, other
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(f"matmul(): argument 'other' (position 2) must be Tensor, not {type(b).__name__}")
    ad, bd = a._data, b._data
    na, nb = ad.ndim, bd.ndim
    if na == 0 or nb == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {na}D and {nb}D")
    if ad.dtype is not bd.dtype:  # (the same dtype is the same descriptor object: no call then)
        _check_same_dtype("matmul", a, b)
    ka = ad.shape[-1]
    kb = bd.shape[-2] if nb > 1 else bd.shape[0]
    if ka != kb:
        raise _mat_shape_error(a, b)
    if na == 1 and nb == 1:
        return DotBackward0.apply(a, b)
    if na == 2 and nb == 2:
        return MmBackward0.apply(a, b)
    if na == 2 and nb == 1:
        return MvBackward0.apply(a, b)
    if na == 1 and nb == 2:  # (k) @ (k, n): PyTorch's squeezed mm, as one node
        return VecMatBackward.apply(a, b)
    if nb == 1:
        return UnsafeViewBackward0.apply(a, b.unsqueeze(-1)).squeeze(-1)
    if na == 1:
        return UnsafeViewBackward0.apply(a.unsqueeze(0), b).squeeze(-2)
    return (BmmBackward0 if na == 3 and nb == 3 and ad.shape[0] == bd.shape[0]
            else UnsafeViewBackward0).apply(a, b)


def mm(input, mat2):
    """2-D matrix product."""
    if input._data.ndim != 2:
        raise RuntimeError(f"self must be a matrix")
    if mat2._data.ndim != 2:
        raise RuntimeError(f"mat2 must be a matrix")
    _check_same_dtype("mm", input, mat2)
    if input._data.shape[1] != mat2._data.shape[0]:
        raise _mat_shape_error(input, mat2)
    return MmBackward0.apply(input, mat2)


def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    """beta * input + alpha * (mat1 @ mat2), input broadcast to the product's shape."""
    if mat1._data.ndim != 2:
        raise RuntimeError("mat1 must be a matrix, got %d-D tensor" % mat1._data.ndim)
    if mat2._data.ndim != 2:
        raise RuntimeError("mat2 must be a matrix, got %d-D tensor" % mat2._data.ndim)
    _check_addmm_dtypes(input._data.dtype, mat1._data.dtype, mat2._data.dtype)
    (n, k), (k2, m) = mat1._data.shape, mat2._data.shape
    if k != k2:
        raise _mat_shape_error(mat1, mat2)
    cs = input._data.shape
    if cs != (m,) and cs != (n, m):
        with no_grad():
            input.expand(n, m)  # PyTorch's error for an input that doesn't broadcast to (n, m)
    return AddmmBackward0.apply(input, mat1, mat2, beta=beta, alpha=alpha)


def _check_addmm_dtypes(dc, d1, d2):
    """PyTorch's addmm dtype errors (input, mat1, mat2)."""
    if dc != d2:
        raise RuntimeError(f"self and mat2 must have the same dtype, but got {_tn(dc)} and {_tn(d2)}")
    if d1 != d2:
        raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got {_tn(d1)} and {_tn(d2)}")


def _tn(np_dtype):
    from .. import _dtype
    return {"float32": "Float", "float64": "Double", "float16": "Half"}.get(
        np_dtype.name, _dtype.from_numpy_dtype(np_dtype).name)


def bmm(input, mat2):
    """Batched matrix product of (b, n, k) and (b, k, m)."""
    if input._data.ndim != 3:
        raise RuntimeError(f"batch1 must be a 3D tensor")
    if mat2._data.ndim != 3:
        raise RuntimeError(f"batch2 must be a 3D tensor")
    _check_same_dtype("bmm", input, mat2)
    sa, sb = input._data.shape, mat2._data.shape
    if sa[0] != sb[0] or sa[2] != sb[1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{sa[0]}, {sa[2]}] but "
                           f"got: [{sb[0]}, {sb[1]}].")
    return BmmBackward0.apply(input, mat2)


def dot(input, other):
    """Inner product of two 1-D tensors."""
    if input._data.ndim != 1 or other._data.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input._data.ndim}D and {other._data.ndim}D tensors")
    _check_same_dtype("dot", input, other)
    if input._data.shape != other._data.shape:
        raise _mat_shape_error(input, other)
    return DotBackward0.apply(input, other)


def outer(input, vec2):
    """Outer product of two 1-D tensors."""
    input, vec2 = promote(input, vec2)
    return input.unsqueeze(1) * vec2.unsqueeze(0)


ger = outer


def mv(input, vec):
    if input._data.ndim != 2 or vec._data.ndim != 1:
        raise RuntimeError("vector + matrix @ vector expected, got "
                           f"{input._data.ndim}, {input._data.ndim}, {vec._data.ndim}")
    _check_same_dtype("mv", input, vec)
    if input._data.shape[1] != vec._data.shape[0]:
        raise _mat_shape_error(input, vec)
    return MvBackward0.apply(input, vec)


TENSOR_METHODS = {"matmul": matmul, "mm": mm, "addmm": addmm, "bmm": bmm, "dot": dot, "outer": outer,
                  "ger": outer, "mv": mv}


# ---------------------------------------------------------------- nuclear norm
class LinalgSvdBackward0(Op):
    """The singular values of the last two dims (PyTorch's linalg_svd node, whose S output the nuclear norm
    sums): dA = U diag(gS) Vh from the reduced SVD. Reverse mode, first order only: the second derivative (and
    forward mode, which goes through it) needs the full SVD derivative, and refusing beats a wrong answer."""

    def forward(self, a):
        self.u, s, self.vh = self.dev.xp.linalg.svd(a, full_matrices=False)
        return s

    def backward(self, g):
        if not raw_backward():
            raise RuntimeError("autograd_gpu: the second derivative and forward-mode AD of linalg.svd (the "
                               "nuclear norm) are not implemented")
        return _make((self.u * g._data[..., None, :]) @ self.vh, g._device)


def nuclear_norm(input, dim=None, keepdim=False):
    """Sum of the singular values over the two dims ``dim`` (the last two when None), as
    linalg.matrix_norm(input, 'nuc', dim, keepdim)."""
    from .shape import movedim, reshape
    x = input._data
    if x.dtype.kind != "f":
        raise RuntimeError(f"linalg.matrix_norm: Expected a floating point or complex tensor as input. Got "
                           f"{_TORCH_NAME.get(x.dtype.name, x.dtype.name)}")
    if x.dtype == _F16:
        raise RuntimeError("linalg.matrix_norm: Low precision dtypes not supported. Got Half")
    if x.ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 dimensions.")
    dims = (-2, -1) if dim is None else tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    if len(dims) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {' '.join(map(str, dims))}")
    d0, d1 = (d + x.ndim if d < 0 else d for d in dims)
    if not (0 <= d0 < x.ndim and 0 <= d1 < x.ndim):
        raise IndexError(f"Dimension out of range (expected to be in range of [{-x.ndim}, {x.ndim - 1}], but "
                         f"got {dims[0] if not 0 <= d0 < x.ndim else dims[1]})")
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dims[0]}, {dims[1]})")
    out = LinalgSvdBackward0.apply(movedim(input, (d0, d1), (-2, -1))).sum(-1)
    if keepdim:
        shape = list(x.shape)
        shape[d0] = shape[d1] = 1
        out = reshape(out, shape)
    return out


_TORCH_NAME = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}
