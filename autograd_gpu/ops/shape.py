"""Shape ops: views and copies that move elements around. Views share the base's version counter."""
from __future__ import annotations

from ..autograd.node import Op
from ..tensor import Tensor
from ._util import shape_arg


def _view_of(out: Tensor, base: Tensor) -> Tensor:
    """Mark ``out`` as a view of ``base`` when its array aliases base's (shares the version counter)."""
    d = out._data
    if d.base is not None or d is base._data:
        out._version = base._version
        out._base = base if base._base is None else base._base
    return out


class ViewBackward0(Op):
    def forward(self, x, shape=None):
        self.shape = x.shape
        try:
            return x.reshape(shape, copy=False) if self.dev.xp.__name__ == "numpy" else _cupy_view(x, shape)
        except ValueError:
            raise RuntimeError("view size is not compatible with input tensor's size and stride (at least one "
                               "dimension spans across two contiguous subspaces). Use .reshape(...) instead.") \
                from None

    def backward(self, g):
        return g.reshape(self.shape)


def _cupy_view(x, shape):
    y = x.view()
    y.shape = shape  # raises when a copy would be needed, like a NumPy view
    return y


class ReshapeAliasBackward0(Op):
    def forward(self, x, shape=None):
        self.shape = x.shape
        return x.reshape(shape)

    def backward(self, g):
        return g.reshape(self.shape)


class ExpandBackward0(Op):
    def forward(self, x, shape=None):
        self.shape = x.shape
        return self.dev.xp.broadcast_to(x, shape)

    def backward(self, g):
        return g.sum_to_size(self.shape)


def _infer_shape(shape, numel, op="view"):
    shape = list(shape)
    neg = [i for i, s in enumerate(shape) if s == -1]
    if len(neg) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"invalid shape dimension {s}")
            known *= s
    if neg:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '[{', '.join(map(str, shape))}]' is invalid for input of size {numel}")
        shape[neg[0]] = numel // known
    elif known != numel:
        raise RuntimeError(f"shape '[{', '.join(map(str, shape))}]' is invalid for input of size {numel}")
    return tuple(shape)


def reshape(input, *shape):
    """Same data in a new shape (a view when possible)."""
    shape = _infer_shape(shape_arg(shape), input._data.size, "reshape")
    if shape == input._data.shape:
        return _view_of(ViewBackward0.apply(input, shape=shape), input)
    out = ViewBackward0.apply(input, shape=shape) if input._data.flags.c_contiguous else \
        ReshapeAliasBackward0.apply(input, shape=shape)
    return _view_of(out, input)


def view(input, *shape):
    """A view with a new shape; refuses when the strides don't allow it."""
    from .. import _dtype
    if len(shape) == 1 and isinstance(shape[0], _dtype.dtype):
        raise NotImplementedError("view(dtype) is not supported")
    shape = _infer_shape(shape_arg(shape), input._data.size)
    return _view_of(ViewBackward0.apply(input, shape=shape), input)


def expand(input, *sizes):
    """Broadcast singleton dims to ``sizes`` (-1 keeps a dim) without copying."""
    sizes = shape_arg(sizes)
    ishape = input._data.shape
    if len(sizes) < len(ishape):
        raise RuntimeError(f"expand(torch.{_tname(input)}{{[{', '.join(map(str, ishape))}]}}, size=[" +
                           f"{', '.join(map(str, sizes))}]): the number of sizes provided ({len(sizes)}) must be "
                           f"greater or equal to the number of dimensions in the tensor ({len(ishape)})")
    lead = len(sizes) - len(ishape)
    shape = list(sizes)
    for i, s in enumerate(ishape):
        if shape[lead + i] == -1:
            shape[lead + i] = s
        elif s != 1 and s != shape[lead + i]:
            raise RuntimeError(f"The expanded size of the tensor ({shape[lead + i]}) must match the existing size "
                               f"({s}) at non-singleton dimension {lead + i}.  Target sizes: "
                               f"[{', '.join(map(str, sizes))}].  Tensor sizes: [{', '.join(map(str, ishape))}]")
    shape = tuple(shape)
    if shape == ishape:
        return input
    return _view_of(ExpandBackward0.apply(input, shape=shape), input)


def _tname(t):
    return {"float32": "FloatTensor", "float64": "DoubleTensor", "int64": "LongTensor"}.get(t.dtype.name, "Tensor")


class TransposeBackward0(Op):
    def forward(self, x, dim0=0, dim1=1):
        self.dims = (dim0, dim1)
        return self.dev.xp.swapaxes(x, dim0, dim1)

    def backward(self, g):
        return g.transpose(*self.dims)


class TBackward0(TransposeBackward0):
    """t(): transpose of a <= 2-D tensor."""


class PermuteBackward0(Op):
    def forward(self, x, dims=None):
        self.dims = dims
        return x.transpose(dims)

    def backward(self, g):
        inv = [0] * len(self.dims)
        for i, d in enumerate(self.dims):
            inv[d] = i
        return g.permute(inv)


class UnsqueezeBackward0(Op):
    def forward(self, x, dim=0):
        self.dim = dim
        return self.dev.xp.expand_dims(x, dim)

    def backward(self, g):
        return g.squeeze(self.dim)


class SqueezeBackward0(Op):
    """squeeze() of every size-1 dim."""

    def forward(self, x, dims=None):
        self.shape = x.shape
        return x.reshape([s for i, s in enumerate(x.shape) if i not in dims])

    def backward(self, g):
        return g.reshape(self.shape)


class SqueezeBackward1(SqueezeBackward0):
    """squeeze(dim)."""


class SqueezeBackward2(SqueezeBackward0):
    """squeeze(dims)."""


def transpose(input, dim0, dim1):
    """Swap two dims (a view)."""
    from ._util import wrap_dim
    n = input._data.ndim
    d0, d1 = wrap_dim(dim0, n), wrap_dim(dim1, n)
    if n < 2 and d0 == d1:
        return _view_of(TransposeBackward0.apply(input, dim0=0, dim1=0), input) if n else input
    return _view_of(TransposeBackward0.apply(input, dim0=d0, dim1=d1), input)


swapaxes = swapdims = transpose


def t(input):
    """Transpose of a tensor with at most 2 dims."""
    n = input._data.ndim
    if n > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {n}D")
    if n < 2:
        return _view_of(TBackward0.apply(input, dim0=0, dim1=0), input) if n else input
    return _view_of(TBackward0.apply(input, dim0=0, dim1=1), input)


def permute(input, *dims):
    """Reorder dims (a view)."""
    from ._util import wrap_dim
    dims = shape_arg(dims)
    n = input._data.ndim
    if len(dims) != n:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
                           f"length of the desired ordering of dimensions i.e. input.dim() = {n} is not equal to "
                           f"len(dims) = {len(dims)}")
    dims = tuple(wrap_dim(d, n) for d in dims)
    if len(set(dims)) != n:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return _view_of(PermuteBackward0.apply(input, dims=dims), input)


def unsqueeze(input, dim):
    """Insert a size-1 dim at ``dim``."""
    from ._util import wrap_dim
    d = wrap_dim(dim, input._data.ndim + 1)
    return _view_of(UnsqueezeBackward0.apply(input, dim=d), input)


def squeeze(input, dim=None):
    """Remove size-1 dims (all, or those in ``dim``)."""
    from ._util import wrap_dim
    shape = input._data.shape
    n = len(shape)
    if dim is None:
        dims = tuple(i for i, s in enumerate(shape) if s == 1)
        cls = SqueezeBackward0
    elif isinstance(dim, (tuple, list)):
        dims = tuple(d for d in (wrap_dim(x, n) for x in dim) if n and shape[d] == 1)
        cls = SqueezeBackward2
    else:
        d = wrap_dim(dim, n)
        dims = (d,) if n and shape[d] == 1 else ()
        cls = SqueezeBackward1
    return _view_of(cls.apply(input, dims=dims), input)


def _mT(self):
    if self._data.ndim < 2:
        raise RuntimeError("tensor.mT is only supported on matrices or batches of matrices. Got 1-D tensor.")
    return transpose(self, -2, -1)


def _T(self):
    n = self._data.ndim
    return permute(self, *reversed(range(n))) if n > 2 else t(self)


def flatten(input, start_dim=0, end_dim=-1):
    """Merge dims start_dim..end_dim into one."""
    from ._util import wrap_dim
    n = input._data.ndim
    if n == 0:
        return reshape(input, 1)
    s, e = wrap_dim(start_dim, n), wrap_dim(end_dim, n)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return input
    shape = input._data.shape
    new = shape[:s] + (-1,) + shape[e + 1:]
    return reshape(input, new) if 0 not in shape else reshape(input, shape[:s] + (0,) + shape[e + 1:])


def expand_as(input, other):
    return expand(input, other._data.shape)


def view_as(input, other):
    return view(input, other._data.shape)


def reshape_as(input, other):
    return reshape(input, other._data.shape)


TENSOR_METHODS = {
    "reshape": reshape, "view": view, "expand": expand, "expand_as": expand_as, "view_as": view_as,
    "reshape_as": reshape_as, "transpose": transpose, "swapaxes": transpose, "swapdims": transpose, "t": t,
    "permute": permute, "unsqueeze": unsqueeze, "squeeze": squeeze, "flatten": flatten,
}
TENSOR_PROPERTIES = {"mT": _mT, "T": _T}
