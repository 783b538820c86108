"""Shape ops: views and copies that move elements around. Views share the base's version counter."""
from __future__ import annotations

from ..autograd.node import Op
from ..tensor import Tensor
from ._util import shape_arg, wrap_dim, wrap_dims


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
            raise RuntimeError("view size is not compatible with input tensor's size and stride (at least "
                               "one dimension spans across two contiguous subspaces). Use .reshape(...) "
                               "instead.") from None

    def backward_raw(self, gd):
        return gd.reshape(self.shape)

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

    backward_raw = ViewBackward0.backward_raw

    def backward(self, g):
        return g.reshape(self.shape)


class ExpandBackward0(Op):
    def forward(self, x, shape=None):
        self.shape = x.shape
        return self.dev.xp.broadcast_to(x, shape)

    def backward_raw(self, gd):
        return gd  # (the engine sums a gradient back to its input's shape: _checked_arrays)

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
        raise RuntimeError(f"expand(torch.{_tname(input)}{{[{', '.join(map(str, ishape))}]}}, size=["
                           f"{', '.join(map(str, sizes))}]): the number of sizes provided ({len(sizes)}) "
                           "must be greater or equal to the number of dimensions in the tensor "
                           f"({len(ishape)})")
    lead = len(sizes) - len(ishape)
    shape = list(sizes)
    for i, s in enumerate(ishape):
        if shape[lead + i] == -1:
            shape[lead + i] = s
        elif s != 1 and s != shape[lead + i]:
            raise RuntimeError(f"The expanded size of the tensor ({shape[lead + i]}) must match the existing "
                               f"size ({s}) at non-singleton dimension {lead + i}.  Target sizes: "
                               f"[{', '.join(map(str, sizes))}].  Tensor sizes: "
                               f"[{', '.join(map(str, ishape))}]")
    shape = tuple(shape)
    if shape == ishape:
        return input
    return _view_of(ExpandBackward0.apply(input, shape=shape), input)


def _tname(t):
    names = {"float32": "FloatTensor", "float64": "DoubleTensor", "int64": "LongTensor"}
    return names.get(t.dtype.name, "Tensor")


class TransposeBackward0(Op):
    def forward(self, x, dim0=0, dim1=1):
        self.dims = (dim0, dim1)
        return x.swapaxes(dim0, dim1)

    def backward_raw(self, gd):
        return gd.swapaxes(*self.dims)

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
        shape = x.shape
        return x.reshape(shape[:dim] + (1,) + shape[dim:])

    def backward_raw(self, gd):
        shape = gd.shape
        return gd.reshape(shape[:self.dim] + shape[self.dim + 1:])

    def backward(self, g):
        return g.squeeze(self.dim)


class SqueezeBackward0(Op):
    """squeeze() of every size-1 dim."""

    def forward(self, x, dims=None):
        self.shape = x.shape
        return x.reshape([s for i, s in enumerate(x.shape) if i not in dims])

    def backward_raw(self, gd):
        return gd.reshape(self.shape)

    def backward(self, g):
        return g.reshape(self.shape)


class SqueezeBackward1(SqueezeBackward0):
    """squeeze(dim)."""


class SqueezeBackward2(SqueezeBackward0):
    """squeeze(dims)."""


def transpose(input, dim0, dim1):
    """Swap two dims (a view)."""
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
    dims = shape_arg(dims)
    n = input._data.ndim
    if len(dims) != n:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does not match "
                           f"the length of the desired ordering of dimensions i.e. input.dim() = {n} is not "
                           f"equal to len(dims) = {len(dims)}")
    dims = tuple(wrap_dim(d, n) for d in dims)
    if len(set(dims)) != n:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return _view_of(PermuteBackward0.apply(input, dims=dims), input)


def unsqueeze(input, dim):
    """Insert a size-1 dim at ``dim``."""
    d = wrap_dim(dim, input._data.ndim + 1)
    return _view_of(UnsqueezeBackward0.apply(input, dim=d), input)


def squeeze(input, dim=None):
    """Remove size-1 dims (all, or those in ``dim``)."""
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
    """Tensor.T: all dims reversed, as PyTorch's numpy_T (a PermuteBackward0 view at every rank), which warns
    once per process that other ranks than 2 are deprecated."""
    n = self._data.ndim
    if n != 2 and not _T_WARNED[n == 0]:
        _T_WARNED[n == 0] = True
        import warnings
        warnings.warn(_T_ZERO_DIM_MSG if n == 0 else _T_RANK_MSG, UserWarning, stacklevel=2)
    return permute(self, *reversed(range(n)))


_T_WARNED = [False, False]  # (rank other than 2, 0-D): TORCH_WARN_ONCE each
_T_RANK_MSG = ("The use of `x.T` on tensors of dimension other than 2 to reverse their shape is deprecated and it "
               "will throw an error in a future release. Consider `x.mT` to transpose batches of matrices or "
               "`x.permute(*torch.arange(x.ndim - 1, -1, -1))` to reverse the dimensions of a tensor.")
_T_ZERO_DIM_MSG = "Tensor.T is deprecated on 0-D tensors. This function is the identity in these cases."


def flatten(input, start_dim=0, end_dim=-1):
    """Merge dims start_dim..end_dim into one."""
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


def movedim(input, source, destination):
    """Move dims ``source`` to positions ``destination``; the others keep their order (a view)."""
    n = input._data.ndim
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({src} dims) should contain "
                           f"the same number of dims as destination ({dst} dims)")
    src = [wrap_dim(d, n) for d in src]
    dst = [wrap_dim(d, n) for d in dst]
    for name, ds in (("source", src), ("destination", dst)):
        if len(set(ds)) != len(ds):
            raise RuntimeError(f"movedim: repeated dim in `{name}` ({ds})")
    order = [d for d in range(n) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(input, order)


moveaxis = movedim


class FlipBackward0(Op):
    def forward(self, x, dims=()):
        self.dims = dims
        return self.dev.xp.flip(x, axis=dims).copy()  # PyTorch's flip copies: no aliasing with the input

    def backward(self, g):
        return FlipBackward0.apply(g, dims=self.dims)


def flip(input, dims):
    """Reverse the order of elements along ``dims``: out[i] = x[n - 1 - i]."""
    if isinstance(dims, int):
        raise TypeError("flip(): argument 'dims' (position 2) must be tuple of ints, not int")
    n = input._data.ndim
    return FlipBackward0.apply(input, dims=wrap_dims(tuple(dims), n) if n else ())


def _flip_method(self, *dims):
    if not dims:
        raise TypeError('flip() missing 1 required positional arguments: "dims"')
    return flip(self, shape_arg(dims))


class RollBackward0(Op):
    def forward(self, x, shifts=(), dims=None):
        self.shifts, self.dims = shifts, dims
        return self.dev.xp.roll(x, shifts if dims is not None else shifts[0], axis=dims)

    def backward(self, g):
        return RollBackward0.apply(g, shifts=tuple(-s for s in self.shifts), dims=self.dims)


def roll(input, shifts, dims=None):
    """Shift elements circularly along ``dims`` (the flattened tensor when dims is None)."""
    shifts = (int(shifts),) if isinstance(shifts, int) else tuple(int(s) for s in shifts)
    if dims is not None:
        dims = (dims,) if isinstance(dims, int) else tuple(dims)
    nd = 0 if dims is None else len(dims)
    if (dims is None and len(shifts) != 1) or (dims is not None and len(shifts) != nd):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{nd}")
    if dims is not None:
        dims = tuple(wrap_dim(d, input._data.ndim) for d in dims)
    return RollBackward0.apply(input, shifts=shifts, dims=dims)


class RepeatBackward0(Op):
    def forward(self, x, repeats=()):
        self.shape, self.repeats = x.shape, repeats
        return self.dev.xp.tile(x, repeats)

    def backward(self, g):
        # out dim i holds r_i copies of the (left-padded) input dim: sum the copies away
        reps = self.repeats
        padded = (1,) * (len(reps) - len(self.shape)) + tuple(self.shape)
        split = []
        for r, s in zip(reps, padded):
            split += [r, s]
        return g.reshape(split).sum(tuple(range(0, 2 * len(reps), 2))).reshape(self.shape)


def repeat(self, *sizes):
    """Tile the tensor sizes[i] times along each dim (leading new dims for extra sizes)."""
    if not sizes:
        raise TypeError('repeat() missing 1 required positional arguments: "repeats"')
    reps = shape_arg(sizes)
    shape = self._data.shape
    if len(reps) < len(shape):
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions "
                           "of tensor")
    padded = (1,) * (len(reps) - len(shape)) + shape
    out = [r * s for r, s in zip(reps, padded)]
    if any(r < 0 for r in reps):
        neg = next(o for o in out if o < 0)
        raise RuntimeError(f"Trying to create tensor with negative dimension {neg}: {out}")
    return RepeatBackward0.apply(self, repeats=reps)


def tile(input, dims):
    """repeat() with ``dims`` left-padded by ones to the tensor's rank."""
    dims = shape_arg((dims,)) if isinstance(dims, (list, tuple)) else (int(dims),)
    n = input._data.ndim
    return repeat(input, (1,) * (n - len(dims)) + dims)


class TrilBackward0(Op):
    def forward(self, x, diagonal=0):
        self.diagonal = diagonal
        return self.dev.xp.tril(x, diagonal)

    def backward(self, g):
        return TrilBackward0.apply(g, diagonal=self.diagonal)


class TriuBackward0(Op):
    def forward(self, x, diagonal=0):
        self.diagonal = diagonal
        return self.dev.xp.triu(x, diagonal)

    def backward(self, g):
        return TriuBackward0.apply(g, diagonal=self.diagonal)


def tril(input, diagonal=0, *, out=None):
    """Lower triangle of the last two dims: out[i, j] = x[i, j] if j - i <= diagonal else 0."""
    if input._data.ndim < 2:
        raise RuntimeError("tril: input tensor must have at least 2 dimensions")
    return TrilBackward0.apply(input, diagonal=int(diagonal))


def triu(input, diagonal=0, *, out=None):
    """Upper triangle of the last two dims: out[i, j] = x[i, j] if j - i >= diagonal else 0."""
    if input._data.ndim < 2:
        raise RuntimeError("triu: input tensor must have at least 2 dimensions")
    return TriuBackward0.apply(input, diagonal=int(diagonal))


def _tile_method(self, *dims):
    return tile(self, dims[0] if len(dims) == 1 else dims)


def _inplace(name):
    from .inplace import _method
    return _method(name, "autograd_gpu.ops.shape")


TENSOR_METHODS = {
    "reshape": reshape, "view": view, "expand": expand, "expand_as": expand_as, "view_as": view_as,
    "reshape_as": reshape_as, "transpose": transpose, "swapaxes": transpose, "swapdims": transpose, "t": t,
    "permute": permute, "unsqueeze": unsqueeze, "squeeze": squeeze, "flatten": flatten,
    "movedim": movedim, "moveaxis": movedim, "flip": _flip_method, "roll": roll, "repeat": repeat,
    "tile": _tile_method,
    "tril": tril, "triu": triu, "tril_": _inplace("tril"), "triu_": _inplace("triu"),
}
TENSOR_PROPERTIES = {"mT": _mT, "T": _T}
