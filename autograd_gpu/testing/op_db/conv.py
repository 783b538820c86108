"""Rows for convolution, pooling and batch norm; references are naive NumPy loops (independent of the ops)."""
import numpy as np

from ..registry import Arg, OpInfo, S
import autograd_gpu as ag

F = ag.nn.functional


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _conv2d_ref(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    squeeze = x.ndim == 3
    x = x[None] if squeeze else x
    (sh, sw), (dh, dw) = _pair(stride), _pair(dilation)
    kh, kw = w.shape[2:]
    if padding == "same":
        th, tw = dh * (kh - 1), dw * (kw - 1)
        pads = ((th // 2, th - th // 2), (tw // 2, tw - tw // 2))
    else:
        ph, pw = (0, 0) if padding == "valid" else _pair(padding)
        pads = ((ph, ph), (pw, pw))
    xp = np.pad(x, ((0, 0), (0, 0)) + pads)
    n, c, h, wd = xp.shape
    o = w.shape[0]
    ho, wo = (h - dh * (kh - 1) - 1) // sh + 1, (wd - dw * (kw - 1) - 1) // sw + 1
    cg, og = c // groups, o // groups
    y = np.zeros((n, o, ho, wo))
    for oc in range(o):
        g = oc // og
        for i in range(kh):
            for j in range(kw):
                rows = slice(i * dh, i * dh + sh * (ho - 1) + 1, sh)
                cols = slice(j * dw, j * dw + sw * (wo - 1) + 1, sw)
                patch = xp[:, g * cg:(g + 1) * cg, rows, cols]
                y[:, oc] += np.einsum("nchw,c->nhw", patch, w[oc, :, i, j])
        if b is not None:
            y[:, oc] += b[oc]
    return y[0] if squeeze else y


def _conv1d_ref(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    pad = padding if isinstance(padding, str) else (0, _pair(padding)[-1])
    y = _conv2d_ref(x[..., None, :], w[:, :, None, :], b, (1, _pair(stride)[-1]), pad,
                    (1, _pair(dilation)[-1]), groups)
    return y[..., 0, :]


def _out_len(n, k, s, p, d, ceil):
    num = n + 2 * p - d * (k - 1) - 1
    out = (-(-num // s) if ceil else num // s) + 1
    if ceil and (out - 1) * s >= n + p:
        out -= 1
    return out


def _pool_ref(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, mode="max",
              count_include_pad=True, divisor_override=None):
    squeeze = x.ndim == 3
    x = x[None] if squeeze else x
    k, p, d = _pair(kernel_size), _pair(padding), _pair(dilation)
    s = k if stride is None else _pair(stride)
    n, c, h, w = x.shape
    ho, wo = (_out_len(h, k[0], s[0], p[0], d[0], ceil_mode), _out_len(w, k[1], s[1], p[1], d[1], ceil_mode))
    y = np.zeros((n, c, ho, wo))
    idx = np.zeros((n, c, ho, wo), dtype=np.int64)
    for a in range(ho):
        for b in range(wo):
            rows = [a * s[0] - p[0] + i * d[0] for i in range(k[0])]
            cols = [b * s[1] - p[1] + j * d[1] for j in range(k[1])]
            rin = [r for r in rows if 0 <= r < h]
            cin = [q for q in cols if 0 <= q < w]
            patch = x[:, :, rin][:, :, :, cin]
            if mode == "max":
                flat = patch.reshape(n, c, -1)
                arg = flat.argmax(-1)
                y[:, :, a, b] = flat.max(-1)
                idx[:, :, a, b] = np.array(rin)[arg // len(cin)] * w + np.array(cin)[arg % len(cin)]
            else:
                hs, ws = rows[0], cols[0]
                he, we = min(hs + k[0], h + p[0]), min(ws + k[1], w + p[1])
                if divisor_override:
                    div = divisor_override
                elif count_include_pad:
                    div = (he - hs) * (we - ws)
                else:
                    div = len(rin) * len(cin)
                y[:, :, a, b] = patch.sum(axis=(2, 3)) / div
    if squeeze:
        y, idx = y[0], idx[0]
    return y, idx


def _max_pool_ref(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    y, idx = _pool_ref(x, kernel_size, stride, padding, dilation, ceil_mode)
    return (y, idx) if return_indices else y


def _avg_pool_ref(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                  divisor_override=None):
    return _pool_ref(x, kernel_size, stride, padding, 1, ceil_mode, "avg", count_include_pad,
                     divisor_override)[0]


def _adaptive_ref(x, output_size):
    h, w = x.shape[-2:]
    ho, wo = _pair(output_size)
    y = np.zeros(x.shape[:-2] + (ho, wo))
    for i in range(ho):
        for j in range(wo):
            r0, r1 = (i * h) // ho, -(-((i + 1) * h) // ho)
            c0, c1 = (j * w) // wo, -(-((j + 1) * w) // wo)
            y[..., i, j] = x[..., r0:r1, c0:c1].mean(axis=(-1, -2))
    return y


def _bn_ref(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    if training:
        mean, var = x.mean(axis=axes), x.var(axis=axes)
    else:
        mean, var = running_mean, running_var
    y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


_RM = Arg(np.array([0.1, -0.2, 0.3]), dtype=np.float64)
_RV = Arg(np.array([0.5, 1.5, 2.0]), dtype=np.float64)

OPS = [
    OpInfo("nn.functional.conv2d", F.conv2d, _conv2d_ref,
           [S((2, 3, 5, 5), (4, 3, 3, 3), (4,)),
            S((1, 2, 6, 5), (3, 2, 2, 3), stride=(2, 1), padding=1, name="stride_pad"),
            S((1, 4, 6, 6), (4, 2, 3, 3), (4,), padding=2, dilation=2, groups=2, name="dilation_groups"),
            S((1, 2, 5, 6), (2, 2, 2, 3), padding="same", name="same_even_kernel"),
            S((1, 2, 4, 4), (3, 2, 3, 3), padding="valid", stride=2, name="valid"),
            S((2, 4, 4), (3, 2, 1, 1), name="unbatched_1x1")]),
    OpInfo("nn.functional.conv1d", F.conv1d, _conv1d_ref,
           [S((2, 3, 7), (4, 3, 3), (4,)),
            S((1, 2, 8), (4, 1, 2), stride=2, padding=1, dilation=2, groups=2, name="groups"),
            S((1, 2, 6), (3, 2, 4), padding="same", name="same"),
            S((2, 5), (3, 2, 2), name="unbatched")]),
    OpInfo("nn.functional.max_pool2d", F.max_pool2d, _max_pool_ref,
           [S((2, 3, 4, 4), 2), S((1, 2, 5, 5), 3, stride=2, padding=1, name="overlap_pad"),
            S((1, 2, 5, 6), Arg((2, 3)), stride=(1, 2), dilation=(2, 1), name="dilation"),
            S((1, 1, 5, 5), 2, ceil_mode=True, name="ceil"),
            S((2, 4, 4), 2, return_indices=True, name="indices_unbatched")]),
    OpInfo("nn.functional.max_pool2d_with_indices",
           lambda *a, **k: F.max_pool2d_with_indices(*a, **k)[0], _max_pool_ref,
           [S((2, 3, 4, 4), 2), S((1, 2, 5, 5), 3, stride=2, padding=1, name="overlap_pad")]),
    OpInfo("nn.functional.avg_pool2d", F.avg_pool2d, _avg_pool_ref,
           [S((2, 3, 4, 4), 2), S((1, 2, 5, 5), 3, stride=2, padding=1, name="overlap_pad"),
            S((1, 2, 5, 5), 2, padding=1, ceil_mode=True, name="ceil_pad"),
            S((1, 2, 5, 5), 3, 2, 1, True, False, name="exclude_pad"),
            S((2, 4, 5), Arg((2, 3)), divisor_override=5, name="divisor_unbatched")]),
    OpInfo("nn.functional.adaptive_avg_pool2d", F.adaptive_avg_pool2d, _adaptive_ref,
           [S((2, 3, 5, 7), Arg((2, 3))), S((1, 2, 4, 4), 2, name="even"),
            S((2, 6, 5), 1, name="global_unbatched")]),
    OpInfo("nn.functional.batch_norm", F.batch_norm, _bn_ref,
           [S((4, 3), Arg(np.zeros(3)), Arg(np.ones(3)), (3,), (3,), training=True, name="train_2d"),
            S((2, 3, 4, 2), Arg(np.zeros(3)), Arg(np.ones(3)), (3,), (3,), training=True, name="train_4d"),
            S((3, 3, 5), None, None, training=True, name="train_no_affine_no_stats"),
            S((2, 3, 4), _RM, _RV, (3,), (3,), training=False, name="eval"),
            S((2, 3, 2, 2), _RM, _RV, None, (3,), training=False, eps=0.1, name="eval_bias_only")]),
]
