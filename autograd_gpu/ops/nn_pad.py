"""torch.nn.functional.pad: constant (any number of dims, negative pads crop), reflect, replicate, circular.

The non-constant modes are gathers along the padded dims by an index map; their backward is the adjoint
scatter-add (a product with the 0/1 map matrix), and the backward of that is the gather again.
"""
from __future__ import annotations

from ..autograd.node import Op
from ..tensor import Tensor


class ConstantPadNdBackward0(Op):
    """out = value everywhere, x copied in at offset pad (pads listed from the last dim, (left, right))."""

    def forward(self, x, pad=(), value=0):
        self.pad = pad
        out_shape, src, dst = list(x.shape), [slice(None)] * x.ndim, [slice(None)] * x.ndim
        for i in range(len(pad) // 2):
            d = x.ndim - 1 - i
            lo, hi = pad[2 * i], pad[2 * i + 1]
            n = x.shape[d]
            size = n + lo + hi
            out_shape[d] = size
            src[d] = slice(max(-lo, 0), n - max(-hi, 0))
            dst[d] = slice(max(lo, 0), size - max(hi, 0))
        out = self.dev.xp.full(out_shape, value, dtype=x.dtype)
        out[tuple(dst)] = x[tuple(src)]
        return out

    def backward(self, g):
        # constant_pad_nd_backward: crop what was padded (and zero-pad what was cropped)
        return ConstantPadNdBackward0.apply(g, pad=tuple(-p for p in self.pad), value=0)


def _index_map(xp, mode: str, n: int, lo: int, hi: int):
    """Source index of each output position along one dim."""
    i = xp.arange(-lo, n + hi)
    if mode == "reflect":
        i = xp.abs(i)
        return xp.where(i > n - 1, 2 * (n - 1) - i, i)
    if mode == "replicate":
        return xp.clip(i, 0, n - 1)
    return i % n  # circular


class _IndexPad(Op):
    """Gather along the last k dims by per-dim index maps (reflect / replicate / circular)."""

    def forward(self, x, pad=(), mode="reflect"):
        self.pad, self.mode = pad, mode
        for d, idx in _maps(self.dev.xp, x.shape, pad, mode):
            x = self.dev.xp.take(x, idx, axis=d)
        return x

    def backward(self, g):
        return _PAD_BWD[type(self)].apply(g, pad=self.pad, mode=self.mode, in_shape=self._input_meta[0][0])


class _IndexPadBackward(Op):
    """Adjoint of _IndexPad: gx[j] = sum of g[i] over output positions i with map[i] == j, per padded dim."""

    def forward(self, g, pad=(), mode="reflect", in_shape=()):
        xp = self.dev.xp
        self.pad, self.mode = pad, mode
        for d, idx in _maps(xp, in_shape, pad, mode):
            m = (idx[:, None] == xp.arange(in_shape[d])[None, :]).astype(g.dtype)  # (out_len, n) 0/1 map
            g = xp.moveaxis(xp.tensordot(g, m, axes=([d], [0])), -1, d)
        return g

    def backward(self, gg):
        return _PAD_FWD[self._key].apply(gg, pad=self.pad, mode=self.mode)


def _maps(xp, shape, pad, mode):
    nd = len(shape)
    return [(nd - 1 - i, _index_map(xp, mode, shape[nd - 1 - i], pad[2 * i], pad[2 * i + 1]))
            for i in range(len(pad) // 2)]


_PAD_FWD, _PAD_BWD = {}, {}
for _mode, _stem in (("reflect", "ReflectionPad"), ("replicate", "ReplicationPad"),
                     ("circular", "CircularPad")):
    for _k in (1, 2, 3):
        _f = type(f"{_stem}{_k}DBackward0", (_IndexPad,), {})
        _b = type(f"{_stem}{_k}DBackwardBackward0", (_IndexPadBackward,), {"_key": (_mode, _k)})
        _PAD_FWD[(_mode, _k)], _PAD_BWD[_f] = _f, _b


def pad(input: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last len(pad) // 2 dims by (left, right) pairs listed from the last dim backwards."""
    pad = tuple(int(p) for p in pad)
    shape = input._data.shape
    nd = len(shape)
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if mode == "constant":
        if len(pad) // 2 > nd:
            raise RuntimeError("Padding length should be less than or equal to two times the input "
                               f"dimension but got padding length {len(pad)} and input of dimension {nd}")
        for i in range(len(pad) // 2):
            if shape[nd - 1 - i] + pad[2 * i] + pad[2 * i + 1] < 0:
                raise RuntimeError("narrow(): length must be non-negative.")
        return ConstantPadNdBackward0.apply(input, pad=pad, value=0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    k = len(pad) // 2
    if k not in (1, 2, 3) or nd not in (k + 1, k + 2):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {nd}D input tensor.\nSupported combinations for "
            "non-constant padding:\n  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
            "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
            "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")
    for i in range(k):
        d = nd - 1 - i
        lo, hi = pad[2 * i], pad[2 * i + 1]
        if mode == "reflect" and (lo >= shape[d] or hi >= shape[d]):
            raise RuntimeError("Argument #4: Padding size should be less than the corresponding input "
                               f"dimension, but got: padding ({lo}, {hi}) at dimension {d} of input "
                               f"{list(shape)}")
        if mode == "circular" and (lo > shape[d] or hi > shape[d]):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if mode == "replicate" and shape[d] == 0:
            raise RuntimeError(f"Expected input's dimension {d} to be non-zero")
    return _PAD_FWD[(mode, k)].apply(input, pad=pad, mode=mode)


__all__ = ["pad"]
