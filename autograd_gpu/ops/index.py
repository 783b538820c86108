"""Indexing: ``x[index]``, ``x[index] = value``, select, narrow, index_put.

PyTorch's semantics: ints, slices, None and ``...`` apply first and give a view (SelectBackward0,
SliceBackward0, ...); index tensors, lists and masks then apply to that view with NumPy's advanced-indexing
rules and give a copy (IndexBackward0). The op nodes are in index_ops.py.
"""
from __future__ import annotations

import operator
import warnings

import numpy as np

from ..autograd.grad_mode import state as _grad_state
from ..tensor import Tensor
from ._util import held_index, is_scalar, wrap_dim
from .index_ops import (_VIEW_CLS, CopySlices, IndexBackward0, IndexPutBackward0, SelectBackward0,
                        SliceBackward0, _check_bounds, _index_error, adv_shape)
from .shape import _view_of

_INDEX_DTYPE_MSG = "tensors used as indices must be long, int, byte or bool tensors"
_FULL = slice(None)


# ----------------------------------------------------------------- parsing an index
def _seq_as_tuple(index) -> bool:
    """PyTorch (like old NumPy) reads a list holding slices, None, ..., tensors or lists as a tuple."""
    if len(index) >= 32:
        return False
    return any(v is None or v is Ellipsis or isinstance(v, (slice, Tensor, list, tuple, np.ndarray))
               for v in index)


def _as_index_array(v, dev):
    """An index tensor / array / sequence as (array on dev, is_mask)."""
    if isinstance(v, Tensor):
        a = v._data
        if v._device is not dev:
            from .conversion import move_array
            a = move_array(a, v._device, dev)
        a = held_index(v, a)
    else:
        a = np.asarray(v)
        if a.size == 0 and a.dtype.kind == "f" and not isinstance(v, np.ndarray):
            a = a.astype(np.int64)  # x[[]] selects nothing
        if dev.type == "cuda":
            a = dev.xp.asarray(a)
    k = a.dtype.kind
    if k == "b":
        return a, True
    if a.dtype == np.uint8:
        return a.astype(bool), True
    if k not in "iu":
        raise IndexError(_INDEX_DTYPE_MSG)
    return a, False


def _slice(v):
    """slice with ints (tensor bounds accepted); steps must be positive, as in PyTorch."""
    start, stop, step = v.start, v.stop, v.step
    if step is not None:
        step = operator.index(step)
        if step <= 0:
            raise ValueError("slice step cannot be zero" if step == 0 else "step must be greater than zero")
    if start is not None and type(start) is not int:
        start = operator.index(start)
    if stop is not None and type(stop) is not int:
        stop = operator.index(stop)
    return slice(start, stop, step)


def _items(index, dev):
    """Classify index entries: [(kind, value)] and the number of dims they consume."""
    items = []
    consumed = 0
    for v in index:
        if isinstance(v, (Tensor, np.ndarray, list, tuple)):
            a, mask = _as_index_array(v, dev)
            if a.ndim == 0:
                if mask:
                    items.append(("bool", bool(a)))
                else:
                    items.append(("int", int(a)))
                    consumed += 1
            elif mask:
                items.append(("mask", a))
                consumed += a.ndim
            else:
                items.append(("arr", a))
                consumed += 1
        elif v is None:
            items.append(("none", None))
        elif v is Ellipsis:
            items.append(("ell", None))
        elif isinstance(v, slice):
            items.append(("slice", _slice(v)))
            consumed += 1
        elif isinstance(v, (bool, np.bool_)):
            items.append(("bool", bool(v)))
        else:
            try:
                i = operator.index(v)
            except TypeError:
                raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or byte "
                                 f"Variables are valid indices (got {type(v).__name__})") from None
            items.append(("int", i))
            consumed += 1
    return items, consumed


def _parse(x: Tensor, index):
    """index -> (basic, adv, name, vshape): ``basic`` a NumPy basic index of x (None: everything), ``adv`` the
    advanced part applied to x[basic] (None: no advanced part), ``name`` the view's last step (select,
    slice, unsqueeze or None), ``vshape`` the shape of x[basic]."""
    single_slice = type(index) is slice
    if type(index) is not tuple:
        if isinstance(index, list) and _seq_as_tuple(index):
            warnings.warn("Using a non-tuple sequence for multidimensional indexing is deprecated and will "
                          "be changed in pytorch 2.9; use x[tuple(seq)] instead of x[seq]. In pytorch 2.9 "
                          "this will be interpreted as tensor index, x[torch.tensor(seq)], which will result "
                          "either in an error or a different result", UserWarning, stacklevel=3)
            index = tuple(index)
        else:
            index = (index,)
    shape = x._data.shape
    ndim = len(shape)
    dev = x._device
    items, consumed = _items(index, dev)
    if consumed > ndim:
        if ndim == 0:
            raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                             "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    basic, vshape, adv, masks = [], [], {}, []
    dim = pos = 0  # dim: next dim of x; pos: PyTorch's position in the index (named in its errors)
    name = None
    seen_ellipsis = False
    for kind, v in items:
        if kind == "int":
            s = shape[dim]
            if not -s <= v < s:
                raise IndexError(f"index {v} is out of bounds for dimension {pos} with size {s}")
            basic.append(v)
            name = "select"
            dim += 1
        elif kind == "slice":
            s = shape[dim]
            n = len(range(*v.indices(s)))
            # PyTorch skips a slice only when start is literally 0 (or None), step 1 and stop reaches the end
            if single_slice or not (not v.start and (v.step or 1) == 1 and (v.stop is None or v.stop >= s)):
                name = "slice"
            basic.append(v)
            vshape.append(n)
            dim += 1
        elif kind == "none":
            basic.append(None)
            vshape.append(1)
            name = "unsqueeze"
        elif kind == "ell":
            if not seen_ellipsis:  # PyTorch expands the first ``...``; later ones select nothing more
                seen_ellipsis = True
                n = ndim - consumed
                basic.extend([_FULL] * n)
                vshape.extend(shape[dim:dim + n])
                dim += n
        elif kind == "bool":  # x[True]: a new dim of size 1 (0 for False), indexed like a tensor
            basic.append(None)
            adv[len(vshape)] = dev.xp.zeros(1 if v else 0, dtype=np.int64)
            vshape.append(1)
        elif kind == "arr":
            adv[len(vshape)] = v
            basic.append(_FULL)
            vshape.append(shape[dim])
            dim += 1
        else:  # mask
            masks.append((len(vshape), v))
            adv[len(vshape)] = v
            basic.extend([_FULL] * v.ndim)
            vshape.extend(shape[dim:dim + v.ndim])
            dim += v.ndim
        pos += 1
    vshape.extend(shape[dim:])
    for d, m in masks:
        for j, s in enumerate(m.shape):
            if s != vshape[d + j]:
                raise IndexError(f"The shape of the mask {list(m.shape)} at index {j} does not match the "
                                 f"shape of the indexed tensor {vshape} at index {d + j}")
    while basic and basic[-1] is _FULL:
        basic.pop()
    basic = tuple(basic) + (Ellipsis,) if basic and any(b is not _FULL for b in basic) else None
    if adv:
        entries, d, n = [], 0, len(vshape)
        while d < n and any(k >= d for k in adv):
            a = adv.get(d)
            entries.append(_FULL if a is None else a)
            d += a.ndim if a is not None and a.dtype.kind == "b" else 1
        adv = tuple(entries)
    else:
        adv = None
    return basic, adv, name, tuple(vshape)


# ----------------------------------------------------------------- public
def _getitem(self: Tensor, index) -> Tensor:
    """self[index]: a view for ints/slices/None/..., a copy with index tensors or masks (NumPy rules)."""
    t = type(index)
    d = self._data
    if t is int and d.ndim and -d.shape[0] <= index < d.shape[0]:
        return _view_of(SelectBackward0.apply(self, idx=(index, Ellipsis)), self)
    if t is slice and (index.step is None or type(index.step) is int and index.step > 0) and d.ndim:
        return _view_of(SliceBackward0.apply(self, idx=_slice(index)), self)
    basic, adv, name, _ = _parse(self, index)
    if adv is not None:
        return IndexBackward0.apply(self, basic=basic, adv=adv)
    return _view_of(_VIEW_CLS[name].apply(self, idx=basic if basic is not None else Ellipsis), self)


def _fit_value(value: Tensor, target: tuple, advanced: bool, tname: str) -> Tensor:
    """Check that ``value`` broadcasts to ``target`` (leading size-1 dims dropped, as PyTorch does)."""
    shape = value._data.shape
    lead = len(shape) - len(target)
    if lead > 0 and all(s == 1 for s in shape[:lead]):
        shape = shape[lead:]
        value = value.reshape(shape)
        lead = 0
    off = len(target) - len(shape)
    if lead <= 0 and all(s == 1 or s == target[off + i] for i, s in enumerate(shape)):
        return value
    if advanced:
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(shape)} cannot be broadcast to "
                           f"indexing result of shape {list(target)}")
    vs, ts = ", ".join(map(str, shape)), ", ".join(map(str, target))
    if lead > 0:
        raise RuntimeError(f"expand(torch.{tname}{{[{vs}]}}, size=[{ts}]): the number of sizes provided "
                           f"({len(target)}) must be greater or equal to the number of dimensions in the "
                           f"tensor ({len(shape)})")
    i = next(i for i, s in enumerate(shape) if s != 1 and s != target[off + i])
    raise RuntimeError(f"The expanded size of the tensor ({target[off + i]}) must match the existing size "
                       f"({shape[i]}) at non-singleton dimension {off + i}.  Target sizes: [{ts}].  Tensor "
                       f"sizes: [{vs}]")
    return value


def _tensor_type(t: Tensor) -> str:
    from ..autograd.node import _TENSOR_TYPE
    return _TENSOR_TYPE.get(t.dtype.name, "Tensor")


def _setitem(self: Tensor, index, value) -> None:
    """self[index] = value (scalar or tensor, broadcast); with autograd, an out-of-place index_put whose
    gradient is zero at the written positions for self and the gathered gradient for value."""
    basic, adv, _, vshape = _parse(self, index)
    if isinstance(value, Tensor):
        if value._device is not self._device:
            value = value.to(self._device)
        if value._data.dtype != self._data.dtype:
            value = value.to(self.dtype)
        target = vshape if adv is None else adv_shape(vshape, adv)
        if value._data.shape != target:
            value = _fit_value(value, target, adv is not None, _tensor_type(self))
    elif not is_scalar(value):
        kind = "numpy.ndarray" if isinstance(value, np.ndarray) else type(value).__name__
        raise TypeError(f"can't assign a {kind} to a torch.{_tensor_type(self)}")
    if _grad_state.enabled and (self._requires_grad or isinstance(value, Tensor) and value._requires_grad) or \
            self._fw_grad is not None or isinstance(value, Tensor) and value._fw_grad is not None:  # forward AD
        if _grad_state.enabled and self._requires_grad and self.grad_fn is None:
            # PyTorch writes through a view of self for basic indices, hence its wording
            items = index if type(index) is tuple else (index,)
            view = adv is None and any(v is not Ellipsis for v in items)
            raise RuntimeError(f"a {'view of a ' if view else ''}leaf Variable that requires grad is being "
                               "used in an in-place operation.")
        from .inplace import apply_inplace
        cls = CopySlices if adv is None else IndexPutBackward0
        if isinstance(value, Tensor):
            apply_inplace(self, lambda old, v: cls.apply(old, v, basic=basic, adv=adv, inplace=True), value)
        else:
            apply_inplace(self, lambda old: cls.apply(old, basic=basic, adv=adv, value=value, inplace=True))
        return
    self._check_inplace()
    d = self._data
    view = d if basic is None else d[basic]
    v = value._data if isinstance(value, Tensor) else value
    if adv is None:
        view[...] = v
    elif view.size:
        if self._device.type == "cuda":
            _check_bounds(view.shape, adv)
        try:
            view[adv] = v
        except IndexError as e:
            raise _index_error(view.shape, adv, e) from None
    self._version[0] += 1


def index_put(input: Tensor, indices, values: Tensor, accumulate: bool = False) -> Tensor:
    """out = input with out[indices] = values (or += with accumulate; repeated indices then add up)."""
    dev = input._device
    adv = tuple(_FULL if i is None else _as_index_array(i, dev)[0] for i in indices)
    if sum(1 if type(a) is slice else a.ndim if a.dtype.kind == "b" else 1 for a in adv) > input._data.ndim:
        raise IndexError(f"too many indices for tensor of dimension {input._data.ndim}")
    if not isinstance(values, Tensor):
        raise TypeError("index_put(): argument 'values' (position 3) must be Tensor, not "
                        f"{type(values).__name__}")
    if values._data.dtype != input._data.dtype:
        raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                           f"{_tensor_type(input)[:-6]} for the destination and {_tensor_type(values)[:-6]} "
                           "for the source.")
    if not adv:
        return IndexPutBackward0.apply(input, values, accumulate=accumulate)
    values = _fit_value(values, adv_shape(input._data.shape, adv), True, _tensor_type(input))
    return IndexPutBackward0.apply(input, values, adv=adv, accumulate=accumulate)


def select(input: Tensor, dim: int, index: int) -> Tensor:
    """The slice at ``index`` along ``dim`` (a view with that dim removed)."""
    shape = input._data.shape
    if not shape:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, len(shape))
    i = operator.index(index)
    if not -shape[d] <= i < shape[d]:
        raise IndexError(f"select(): index {i} out of range for tensor of size {list(shape)} at dimension "
                         f"{d}")
    return _view_of(SelectBackward0.apply(input, idx=(_FULL,) * d + (i, Ellipsis)), input)


def narrow(input: Tensor, dim: int, start, length: int) -> Tensor:
    """Elements start..start+length-1 along ``dim`` (a view)."""
    shape = input._data.shape
    if not shape:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, len(shape))
    s = shape[d]
    start = operator.index(start)
    if not -s <= start <= s:
        raise IndexError(f"start out of range (expected to be in range of [{-s}, {s}], but got {start})")
    if start < 0:
        start += s
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    if start + length > s:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({s}).")
    return _view_of(SliceBackward0.apply(input, idx=(_FULL,) * d + (slice(start, start + length),)), input)


def _index_put_(self, indices, values, accumulate=False):
    from .inplace import apply_inplace
    return apply_inplace(self, index_put, indices, values, accumulate)


TENSOR_METHODS = {"_getitem": _getitem, "_setitem": _setitem, "select": select, "narrow": narrow,
                  "index_put": index_put, "index_put_": _index_put_}
