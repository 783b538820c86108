"""Raw-kernel wrappers (kernels/*.cu): softmax family, cross-entropy, layer norm, scatter-add, optimizers,
im2col / col2im. Array level: ``dev`` first, arrays of that device in, new arrays out (``dev.xp``).

Launch policy: row kernels use one block per row, ~4 elements per thread rounded to whole warps
(32..1024 threads); grids are capped (the kernels grid-stride) and every size is passed as int64.
Raw kernels read raw pointers, so inputs are made contiguous and cast to the kernel's dtype here (no-ops
when they already are), and sizes are checked on the host: a mismatch would read out of bounds.
Template instantiation follows the dtype: float16 -> ``__half``, float32 -> ``float``, float64 -> ``double``.
"""
from __future__ import annotations

import math

import numpy as np

from ..backend import kernels as K
from ._pw_common import acc_dtype

_CTYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double", np.dtype(np.float16): "__half"}
_MAX_GRID = 1 << 16  # enough blocks to fill any GPU; the kernels grid-stride over the rest
_i64, _i32 = np.int64, np.int32


def _declare(source: str, names: tuple):
    return K.raw_module(source, [f"{n}<{t}>" for n in names for t in _CTYPES.values()])


_SOFTMAX = _declare("softmax.cu", ("softmax_fwd", "softmax_bwd", "log_softmax_fwd", "log_softmax_bwd"))
_XENT = _declare("cross_entropy.cu", ("cross_entropy_fwd", "cross_entropy_bwd"))
_LNORM = _declare("layer_norm.cu", ("layer_norm_fwd", "layer_norm_bwd_input", "layer_norm_bwd_params"))
_SCATTER = _declare("scatter.cu", ("scatter_add_rows",))
_OPTIM = _declare("optim.cu", ("sgd_step", "adam_step", "rmsprop_step"))
_IM2COL = _declare("im2col.cu", ("im2col", "col2im"))


def _fn(mod, name: str, dtype):
    ctype = _CTYPES.get(np.dtype(dtype))
    if ctype is None:
        raise TypeError(f"{name}: fused kernels take float16/float32/float64 arrays, got {dtype}")
    return mod.get_function(f"{name}<{ctype}>")


def _acc(dtype, v):
    """Host scalar typed as the kernel's ``acc_t<T>`` parameter (a Python float would be passed as double)."""
    return acc_dtype(dtype).type(v)


def _row_block(n: int) -> int:
    """Threads for one row of n: ~4 elements per thread (loads in flight per thread, fewer idle lanes in the
    block reductions), a whole number of warps, 32..1024."""
    return min(1024, max(32, -(-n // 128) * 32))


def _flat_launch(total: int, block: int = 256):
    return (min(-(-total // block), _MAX_GRID),), (block,)


def _contig(dev, a, dtype=None):
    if dtype is not None:
        a = a.astype(dtype, copy=False)
    # not xp.ascontiguousarray unconditionally: it turns 0-d arrays into 1-d ones
    return a if a.flags.c_contiguous else dev.xp.ascontiguousarray(a)


def _expect(ok: bool, name: str, what: str) -> None:
    if not ok:
        raise ValueError(f"{name}: {what}")


def _ptr(dev, a) -> int:
    return int(a.data.ptr) if dev.type == "cuda" else int(a.ctypes.data)


# ---------------------------------------------------------------- softmax family
def _softmax_dims(shape: tuple, dim: int):
    nd = max(len(shape), 1)
    if not -nd <= dim < nd:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], "
                         f"but got {dim})")
    shape = shape or (1,)
    dim %= nd
    return math.prod(shape[:dim]), shape[dim], math.prod(shape[dim + 1:])


def _softmax_launch(name: str, dev, arrays: tuple, dim: int):
    dtype = arrays[0].dtype
    _expect(all(a.shape == arrays[0].shape for a in arrays), name, "y and gy shapes differ")
    arrays = tuple(_contig(dev, a, dtype) for a in arrays)
    out = dev.xp.empty(arrays[0].shape, dtype=dtype)
    outer, size, inner = _softmax_dims(arrays[0].shape, dim)
    if out.size:
        rows = outer * inner
        _fn(_SOFTMAX, name, dtype)(dev, (min(rows, _MAX_GRID),), (_row_block(size),),
                                   (*arrays, out, _i64(outer), _i64(size), _i64(inner)))
    return out


def softmax_fwd(dev, x, dim: int):
    """y = exp(x - max) / sum exp(x - max) along ``dim``"""
    return _softmax_launch("softmax_fwd", dev, (x,), dim)


def softmax_bwd(dev, y, gy, dim: int):
    """gx = y (gy - sum(gy y))   (from the result)"""
    return _softmax_launch("softmax_bwd", dev, (y, gy), dim)


def log_softmax_fwd(dev, x, dim: int):
    """y = x - max - log sum exp(x - max) along ``dim``"""
    return _softmax_launch("log_softmax_fwd", dev, (x,), dim)


def log_softmax_bwd(dev, y, gy, dim: int):
    """gx = gy - exp(y) sum(gy)   (from the result)"""
    return _softmax_launch("log_softmax_bwd", dev, (y, gy), dim)


# ---------------------------------------------------------------- cross-entropy
def cross_entropy_fwd(dev, logits, target, ignore_index: int = -100, label_smoothing: float = 0.0):
    """(loss_per_row, stats) for (N, C) logits and (N,) int targets; stats[i] = (m_i, log s_i), m = max(x),
    s = sum(exp(x - m)): loss = (1 - eps)(m - x[t]) + eps/C sum(m - x) + log s (never lse - x[t], which
    rounds at large logits); 0 on ignored rows (NaN for a target outside [0, C))."""
    xp = dev.xp
    _expect(logits.ndim == 2, "cross_entropy_fwd", f"logits must be (N, C), got {logits.shape}")
    n, c = logits.shape
    _expect(target.size == n, "cross_entropy_fwd", f"{target.size} targets for {n} rows")
    logits = _contig(dev, logits)
    target = _contig(dev, target, np.int64)
    loss = xp.empty((n,), dtype=logits.dtype)
    stats = xp.empty((n, 2), dtype=acc_dtype(logits.dtype))
    if n:
        _fn(_XENT, "cross_entropy_fwd", logits.dtype)(
            dev, (min(n, _MAX_GRID),), (_row_block(c),),
            (logits, target, loss, stats, _i64(n), _i64(c), _i64(ignore_index),
             _acc(logits.dtype, label_smoothing)))
    return loss, stats


# one launch and one host read for every check cross_entropy needs of its targets: the low 32 bits count the
# ignored rows, the high bits the out-of-range ones (fewer than 2**31 rows: the caller checks)
_XENT_TARGETS = K.reduction("int64 t, int64 c, int64 ignore", "int64 r",
                            "t == ignore ? 1LL : ((t < 0 || t >= c) ? (1LL << 32) : 0LL)", "a + b", "r = a",
                            "0", "cross_entropy_targets")

# a 'mean' reduction of the per-row losses in one launch (sum, then divide by the rows not ignored; 0 / 0 is
# NaN, as PyTorch's all-ignored mean); summed in double: rows are few, and the float16 loss needs it
_XENT_MEAN = K.reduction("T loss, float64 n", "T r", "loss", "a + b", "r = a / n", "0", "cross_entropy_mean",
                         reduce_type="double")


def cross_entropy_targets(dev, target, n_classes: int, ignore_index: int = -100):
    """(out-of-range targets, ignored targets) of an int64 target array, counted in one reduction kernel and
    read back in one device-to-host copy (where a GPU must sync: the error is raised before any forward)."""
    _expect(target.dtype == np.int64, "cross_entropy_targets", f"int64 targets expected, got {target.dtype}")
    _expect(target.size < 1 << 31, "cross_entropy_targets", "fewer than 2**31 targets expected")
    r = int(_XENT_TARGETS(dev, target, _i64(n_classes), _i64(ignore_index)))
    return r >> 32, r & 0xFFFFFFFF


def cross_entropy_mean(dev, loss, count: int):
    """sum(loss) / count as a 0-d array of loss's dtype, one launch."""
    return _XENT_MEAN(dev, loss, np.float64(count))


def cross_entropy_bwd(dev, logits, target, stats, grow, ignore_index: int = -100,
                      label_smoothing: float = 0.0, divisor: float = 1.0):
    """gx[i, c] = grow_i / divisor (exp((x[i, c] - m_i) - log s_i) - eps/C - (1 - eps)[c == t_i]); 0 on
    ignored rows. ``stats``: cross_entropy_fwd's (N, 2) (m, log s); ``grow``: (N,) per row, or one value (a
    scalar or a one-element array) for every row; ``divisor``: a 'mean' reduction's count."""
    xp = dev.xp
    n, c = logits.shape
    _expect(target.size == n and stats.shape == (n, 2), "cross_entropy_bwd",
            "target / stats need one entry per row")
    acc = acc_dtype(logits.dtype)
    logits = _contig(dev, logits)
    target = _contig(dev, target, np.int64)
    stats = _contig(dev, stats, acc)
    grow = _contig(dev, xp.asarray(grow, dtype=acc))  # (no copy when it is one already)
    _expect(grow.size in (1, n), "cross_entropy_bwd", f"grow needs 1 or {n} values, got {grow.size}")
    gx = xp.empty((n, c), dtype=logits.dtype)
    if gx.size:
        _fn(_XENT, "cross_entropy_bwd", logits.dtype)(
            dev, (min(n, _MAX_GRID),), (_row_block(c),),
            (logits, target, stats, grow, _i64(grow.size == n and n != 1), _acc(logits.dtype, divisor), gx,
             _i64(n), _i64(c), _i64(ignore_index), _acc(logits.dtype, label_smoothing)))
    return gx


# ---------------------------------------------------------------- layer norm
def layer_norm_fwd(dev, x, weight, bias, eps: float, D: int):
    """(y, mean, rstd) over the trailing D elements: y = (x - mean) rstd w + b, rstd = 1/sqrt(var + eps).
    mean / rstd are flat (M,) arrays in the accumulation dtype (float32 for half)."""
    xp = dev.xp
    dtype, acc = x.dtype, acc_dtype(x.dtype)
    m = x.size // D if D else math.prod(x.shape[:-1])  # D == 0: assume one normalized dim
    _expect(m * D == x.size, "layer_norm_fwd", f"{x.shape} is not a whole number of rows of {D}")
    _expect(all(a is None or a.size == D for a in (weight, bias)), "layer_norm_fwd",
            f"weight / bias need {D} elements")
    x = _contig(dev, x)
    y = xp.empty(x.shape, dtype=dtype)
    if D == 0:  # statistics of an empty row are undefined (PyTorch: nan)
        return y, xp.full((m,), np.nan, acc), xp.full((m,), np.nan, acc)
    mean, rstd = xp.empty((m,), dtype=acc), xp.empty((m,), dtype=acc)
    if m:
        w = x if weight is None else _contig(dev, weight, dtype)
        b = x if bias is None else _contig(dev, bias, dtype)
        _fn(_LNORM, "layer_norm_fwd", dtype)(
            dev, (min(m, _MAX_GRID),), (_row_block(D),),
            (x, w, b, y, mean, rstd, _i64(m), _i64(D), _acc(dtype, eps), _i32(weight is not None),
             _i32(bias is not None)))
    return y, mean, rstd


def layer_norm_bwd(dev, x, gy, mean, rstd, weight, need_param_grads: bool = True):
    """(gx, gw, gb): gx = rstd (g - mean(g) - xhat mean(g xhat)), g = gy w; gw = sum_rows gy xhat,
    gb = sum_rows gy (deterministic, no atomics). gw / gb are None unless need_param_grads."""
    xp = dev.xp
    dtype, acc = x.dtype, acc_dtype(x.dtype)
    m = mean.size
    D = x.size // m if m else (weight.size if weight is not None else x.shape[-1])
    same_rows = gy.shape == x.shape and rstd.size == m and m * D == x.size
    _expect(same_rows and (weight is None or weight.size == D), "layer_norm_bwd",
            "x, gy, mean, rstd and weight do not describe the same rows")
    x, gy = _contig(dev, x), _contig(dev, gy, dtype)
    mean, rstd = _contig(dev, mean, acc), _contig(dev, rstd, acc)
    gx = xp.empty(x.shape, dtype=dtype)
    if gx.size:
        w = x if weight is None else _contig(dev, weight, dtype)
        _fn(_LNORM, "layer_norm_bwd_input", dtype)(
            dev, (min(m, _MAX_GRID),), (_row_block(D),),
            (x, gy, w, mean, rstd, gx, _i64(m), _i64(D), _i32(weight is not None)))
    if not need_param_grads:
        return gx, None, None
    if not gx.size:
        return gx, xp.zeros((D,), dtype), xp.zeros((D,), dtype)
    # Stage 1 writes (n_chunks, D) partials; enough chunks for ~512 blocks, each >= 64 rows.
    col_tiles = -(-D // 32)
    n_chunks = max(1, min(-(-512 // col_tiles), -(-m // 64)))
    rows_per_chunk = -(-m // n_chunks)
    n_chunks = -(-m // rows_per_chunk)
    pw, pb = xp.empty((n_chunks, D), dtype=acc), xp.empty((n_chunks, D), dtype=acc)
    _fn(_LNORM, "layer_norm_bwd_params", dtype)(
        dev, (min(col_tiles * n_chunks, _MAX_GRID),), (256,),
        (x, gy, mean, rstd, pw, pb, _i64(m), _i64(D), _i64(rows_per_chunk), _i64(n_chunks)))
    # Stage 2: a fixed-order sum over the few chunk partials (deterministic on both backends).
    return gx, pw.sum(axis=0).astype(dtype), pb.sum(axis=0).astype(dtype)


# ---------------------------------------------------------------- scatter-add
def scatter_add_rows(dev, out, index, src):
    """In place: out[index[i], ...] += src[i, ...] (rows of out.size / out.shape[0] elements); returns out.
    Accumulates with atomics in float32 for half ``out``; out-of-range indices are skipped."""
    xp = dev.xp
    if out.ndim == 0:
        raise ValueError("scatter_add_rows: out must have at least one dimension")
    n_rows = out.shape[0]
    row_len = math.prod(out.shape[1:])
    index = _contig(dev, index.reshape(-1), np.int64)
    n_index = index.size
    if src.size != n_index * row_len:
        raise ValueError(f"scatter_add_rows: src has {src.size} elements, expected {n_index} x {row_len}")
    if src.size == 0:
        return out
    acc = acc_dtype(out.dtype)
    direct = out.dtype == acc and out.flags.c_contiguous
    buf = out if direct else xp.ascontiguousarray(out, dtype=acc)
    src = _contig(dev, src, out.dtype)
    _fn(_SCATTER, "scatter_add_rows", out.dtype)(
        dev, *_flat_launch(src.size, 512), (buf, index, src, _i64(n_index), _i64(row_len), _i64(n_rows)))
    if not direct:
        out[...] = buf.astype(out.dtype)
    return out


# ---------------------------------------------------------------- multi-tensor optimizers
_OPT_BLOCK, _OPT_CHUNK = 512, 16384


def _multi_tensor(dev, name: str, lists: tuple, tail):
    """One launch per dtype group. Pointer tables (one per tensor list) and the int64 meta table travel in
    ONE host-to-device copy, passed to the kernel as slices of that buffer. ``tail`` gives the scalar
    arguments; complements such as 1 - beta2 are computed there in double (see kernels/optim.cu)."""
    xp = dev.xp
    params = lists[0]
    groups: dict = {}
    for i, p in enumerate(params):
        if p.size:
            groups.setdefault(p.dtype, []).append(i)
    for dtype, idx in groups.items():
        ptrs, keep = [], []  # keep: contiguous copies of read-only grads must outlive the launch
        for k, lst in enumerate(lists):
            for i in idx:
                a = lst[i] if lst is not None else params[i]  # absent state: never read by the kernel
                if a.size != params[i].size:
                    raise ValueError(f"{name}: tensor {i} of list {k} has {a.size} elements, its parameter "
                                     f"{params[i].size}")
                if a.dtype != dtype or not a.flags.c_contiguous:
                    if k != 1:  # params and state are updated in place: they must be the real memory
                        raise ValueError(f"{name}: parameters and optimizer state must be contiguous "
                                         f"and share the parameter dtype ({dtype})")
                    a = _contig(dev, a, dtype)
                    keep.append(a)
                ptrs.append(_ptr(dev, a))
        n = len(idx)
        sizes = np.array([params[i].size for i in idx], dtype=np.int64)
        prefix = np.concatenate([[0], np.cumsum(-(-sizes // _OPT_CHUNK))]).astype(np.int64)
        table = xp.asarray(np.concatenate([np.array(ptrs, dtype=np.uint64), sizes.view(np.uint64),
                                           prefix.view(np.uint64)]))
        args = [table[k * n:(k + 1) * n] for k in range(len(lists))]
        args.append(table[len(lists) * n:].view(np.int64))
        _fn(_OPTIM, name, dtype)(dev, (min(int(prefix[-1]), _MAX_GRID),), (_OPT_BLOCK,),
                                 (*args, _i32(n), _i64(_OPT_CHUNK), *tail(dtype)))
        del keep


def sgd_step(dev, params, grads, bufs, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0,
             maximize=False, first_step=False):
    """torch.optim.SGD step on lists of arrays, in place, one launch per dtype:
    g = ±grad + wd p; buf = g (first step) or momentum buf + (1 - dampening) g; g = g + momentum buf
    (nesterov) or buf; p -= lr g. ``bufs`` may be None when momentum == 0."""
    if momentum != 0 and bufs is None:
        raise ValueError("sgd_step: momentum buffers are required when momentum != 0")
    _multi_tensor(dev, "sgd_step", (params, grads, bufs),
                  lambda dt: (*(_acc(dt, v) for v in (lr, momentum, 1.0 - dampening, weight_decay)),
                              _i32(nesterov), _i32(maximize), _i32(first_step)))


def adam_step(dev, params, grads, exp_avgs, exp_avg_sqs, max_sqs, step: int, lr, beta1=0.9, beta2=0.999,
              eps=1e-8, weight_decay=0.0, decoupled=False, amsgrad=False, maximize=False):
    """torch.optim.Adam (decoupled=False) / AdamW (decoupled=True) step, in place, one launch per dtype.
    ``step`` counts from 1; bias corrections are computed here in double. ``max_sqs`` may be None
    unless amsgrad."""
    if amsgrad and max_sqs is None:
        raise ValueError("adam_step: max_sqs buffers are required with amsgrad")
    step_size = lr / (1.0 - beta1 ** step)
    bc2_sqrt = math.sqrt(1.0 - beta2 ** step)
    _multi_tensor(dev, "adam_step", (params, grads, exp_avgs, exp_avg_sqs, max_sqs),
                  lambda dt: (*(_acc(dt, v) for v in (1.0 - beta1, beta2, 1.0 - beta2, eps, weight_decay,
                                                      1.0 - lr * weight_decay, step_size, bc2_sqrt)),
                              _i32(decoupled), _i32(amsgrad), _i32(maximize)))


def rmsprop_step(dev, params, grads, square_avgs, grad_avgs, bufs, lr, alpha=0.99, eps=1e-8, weight_decay=0.0,
                 momentum=0.0, centered=False, maximize=False):
    """torch.optim.RMSprop step, in place, one launch per dtype: g = ±grad + wd p;
    v = alpha v + (1 - alpha) g^2; avg = sqrt(v - ga^2) + eps with ga lerped to g by 1 - alpha (centered),
    else sqrt(v) + eps; buf = momentum buf + g / avg, p -= lr buf (momentum > 0), else p -= lr g / avg.
    ``grad_avgs`` may be None unless centered, ``bufs`` unless momentum > 0."""
    if centered and grad_avgs is None:
        raise ValueError("rmsprop_step: grad_avgs buffers are required when centered")
    if momentum > 0 and bufs is None:
        raise ValueError("rmsprop_step: momentum buffers are required when momentum > 0")
    _multi_tensor(dev, "rmsprop_step", (params, grads, square_avgs, grad_avgs, bufs),
                  lambda dt: (*(_acc(dt, v) for v in (lr, alpha, 1.0 - alpha, eps, weight_decay, momentum)),
                              _i32(centered), _i32(maximize)))


# ---------------------------------------------------------------- im2col / col2im
def _pair(v):
    return (int(v), int(v)) if np.isscalar(v) else tuple(int(a) for a in v)


def _conv_geometry(shape, kh, kw, stride, padding, dilation):
    """(N, C, H, W, sh, sw, ph, pw, dh, dw, Ho, Wo); a 3-D (N, C, L) shape is conv1d: H = 1, kh must be 1."""
    if len(shape) == 3:
        if kh != 1:
            raise ValueError("im2col: a 3-D (N, C, L) input is conv1d and needs kh == 1")
        (n, c, w), h = shape, 1
        sw, pw, dw = (_pair(v)[-1] for v in (stride, padding, dilation))
        sh, ph, dh = 1, 0, 1
    else:
        n, c, h, w = shape
        (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    if ho <= 0 or wo <= 0:
        raise RuntimeError(f"im2col: kernel ({kh}, {kw}) larger than the padded input ({h}, {w})")
    return n, c, h, w, sh, sw, ph, pw, dh, dw, ho, wo


def im2col(dev, x, kh: int, kw: int, stride=1, padding=0, dilation=1):
    """col[n, (c kh + i) kw + j, oh Wo + ow] = x_pad[n, c, oh sh + i dh, ow sw + j dw]; (N, C kh kw, Ho Wo).
    A 3-D (N, C, L) input is conv1d (pass kh = 1; stride / padding / dilation apply to L)."""
    geo = _conv_geometry(x.shape, kh, kw, stride, padding, dilation)
    n, c, ho, wo = geo[0], geo[1], geo[-2], geo[-1]
    x = _contig(dev, x)
    col = dev.xp.empty((n, c * kh * kw, ho * wo), dtype=x.dtype)
    if col.size:
        _fn(_IM2COL, "im2col", x.dtype)(dev, *_flat_launch(col.size, 512),
                                         (x, col, *(_i64(v) for v in geo[:4]), _i64(kh), _i64(kw),
                                          *(_i64(v) for v in geo[4:])))
    return col


def col2im(dev, col, x_shape, kh: int, kw: int, stride=1, padding=0, dilation=1):
    """Adjoint of im2col: gx[n, c, h, w] = sum of the col entries that read x[n, c, h, w] (deterministic)."""
    geo = _conv_geometry(tuple(x_shape), kh, kw, stride, padding, dilation)
    col = _contig(dev, col)
    gx = dev.xp.empty(tuple(x_shape), dtype=col.dtype)
    if gx.size:
        _fn(_IM2COL, "col2im", col.dtype)(dev, *_flat_launch(gx.size, 512),
                                           (col, gx, *(_i64(v) for v in geo[:4]), _i64(kh), _i64(kw),
                                            *(_i64(v) for v in geo[4:])))
    return gx
