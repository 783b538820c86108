"""Tensor ``repr`` formatting, ported from PyTorch's ``torch/_tensor_str.py``.

Pure NumPy: the caller copies the tensor to host and passes an ``ndarray``.
The output is meant to be byte-for-byte identical to ``repr(torch_tensor)``
for strided, dense, real (float/int/bool) tensors.

Portions derived from PyTorch (BSD-3-Clause, Copyright (c) Facebook, Inc.).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from typing import Any

import numpy as np

__all__ = ["format_tensor", "set_printoptions", "get_printoptions", "printoptions"]


@dataclasses.dataclass
class _PrinterOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


PRINT_OPTS = _PrinterOptions()


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None):
    """Same semantics as ``torch.set_printoptions``.

    Note (as in PyTorch) ``sci_mode`` is always assigned, so a call that omits
    it resets it to ``None`` (automatic).
    """
    if profile is not None:
        if profile == "default":
            PRINT_OPTS.precision, PRINT_OPTS.threshold = 4, 1000
            PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = 3, 80
        elif profile == "short":
            PRINT_OPTS.precision, PRINT_OPTS.threshold = 2, 1000
            PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = 2, 80
        elif profile == "full":
            PRINT_OPTS.precision, PRINT_OPTS.threshold = 4, math.inf
            PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = 3, 80
    if precision is not None:
        PRINT_OPTS.precision = precision
    if threshold is not None:
        PRINT_OPTS.threshold = threshold
    if edgeitems is not None:
        PRINT_OPTS.edgeitems = edgeitems
    if linewidth is not None:
        PRINT_OPTS.linewidth = linewidth
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions() -> dict[str, Any]:
    """Current options as a dict that can be passed back to ``set_printoptions``."""
    return dataclasses.asdict(PRINT_OPTS)


@contextlib.contextmanager
def printoptions(**kwargs):
    """Context manager that temporarily changes the print options."""
    old = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**old)


def _width_candidates(vals: np.ndarray) -> list:
    """Values whose formatted string is the longest of ``vals``.

    PyTorch formats every element to find the column width.  For the formats it
    uses the string length only depends on the sign and on |x| monotonically
    (``.Nf``/``.0f``: digits of the rounded integer part; ``.Ne``: 2 or 3
    exponent digits, largest at the extremes of |x|), so the min and max |x| of
    each sign give the same maximum in O(n) vectorised work instead of n
    Python-level formats.
    """
    out = []
    for part in (vals[vals > 0], vals[vals < 0]):
        if part.size:
            out += [part.min().item(), part.max().item()]
    return out


class _Formatter:
    def __init__(self, data: np.ndarray):
        self.floating_dtype = data.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        if not self.floating_dtype:
            if data.size:
                if data.dtype.kind == "b":  # "True" / "False"
                    cands = [bool(data.all()), bool(data.any())]
                else:
                    cands = [data.min().item(), data.max().item()]
                self.max_width = max(1, *(len(f"{v}") for v in cands))
            return

        flat = data.reshape(-1)
        nz = flat[np.isfinite(flat) & (flat != 0)]
        if nz.size == 0:
            return  # only zeros / nan / inf: int_mode, width 1
        # Ratio and thresholds are computed in float64 (half would overflow 1e8).
        # abs() is exact in the source dtype, so casting afterwards is equivalent.
        nz_abs = np.abs(nz).astype(np.float64)
        nz_min, nz_max = nz_abs.min(), nz_abs.max()
        self.int_mode = bool(np.all(np.ceil(nz) == nz))
        if PRINT_OPTS.sci_mode is None:
            with np.errstate(over="ignore"):  # e.g. 1e308 / 5e-324 -> inf, as in torch
                ratio = nz_max / nz_min
            self.sci_mode = bool(ratio > 1000.0 or nz_max > 1.0e8 or nz_min < 1.0e-4)
        else:
            self.sci_mode = PRINT_OPTS.sci_mode
        p = PRINT_OPTS.precision
        # .item() yields the exact double value of the element, as torch does.
        for v in _width_candidates(nz):
            if self.sci_mode:
                w = len(f"{v:.{p}e}")
            elif self.int_mode:
                w = len(f"{v:.0f}") + 1  # + 1 for the trailing "."
            else:
                w = len(f"{v:.{p}f}")
            self.max_width = max(self.max_width, w)

    def width(self) -> int:
        return self.max_width

    def format(self, value) -> str:
        if self.floating_dtype:
            if self.sci_mode:
                ret = f"{value:{self.max_width}.{PRINT_OPTS.precision}e}"
            elif self.int_mode:
                ret = f"{value:.0f}"
                if not (math.isinf(value) or math.isnan(value)):
                    ret += "."
            else:
                ret = f"{value:.{PRINT_OPTS.precision}f}"
        else:
            ret = f"{value}"
        return (self.max_width - len(ret)) * " " + ret


def _vector_str(data: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    # element length includes ", " between elements
    element_length = fmt.width() + 2
    elements_per_line = max(1, math.floor((PRINT_OPTS.linewidth - indent) / element_length))
    e = PRINT_OPTS.edgeitems
    if summarize and not e:
        items = ["..."]
    elif summarize and data.shape[0] > 2 * e:
        items = ([fmt.format(v) for v in data[:e].tolist()] + [" ..."]
                 + [fmt.format(v) for v in data[-e:].tolist()])
    else:
        items = [fmt.format(v) for v in data.tolist()]
    lines = [", ".join(items[i:i + elements_per_line])
             for i in range(0, len(items), elements_per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _tensor_str_with_formatter(data: np.ndarray, indent: int, summarize: bool,
                               fmt: _Formatter) -> str:
    dim = data.ndim
    if dim == 0:
        return fmt.format(data.item())
    if dim == 1:
        return _vector_str(data, indent, summarize, fmt)
    e, n = PRINT_OPTS.edgeitems, data.shape[0]
    if summarize and n > 2 * e:
        slices = ([_tensor_str_with_formatter(data[i], indent + 1, summarize, fmt)
                   for i in range(e)] + ["..."]
                  + [_tensor_str_with_formatter(data[i], indent + 1, summarize, fmt)
                     for i in range(n - e, n)])
    else:
        slices = [_tensor_str_with_formatter(data[i], indent + 1, summarize, fmt)
                  for i in range(n)]
    return "[" + ("," + "\n" * (dim - 1) + " " * (indent + 1)).join(slices) + "]"


def _get_summarized_data(data: np.ndarray) -> np.ndarray:
    """Only the elements that will be printed (so the formatter stays O(printed))."""
    if data.ndim == 0:
        return data
    e = PRINT_OPTS.edgeitems
    if data.ndim == 1:
        # NB: with e == 0, data[-0:] is the whole vector -- same as torch.
        return np.concatenate((data[:e], data[-e:])) if data.shape[0] > 2 * e else data
    if not e:
        return np.empty((0,) * data.ndim, dtype=data.dtype)
    # torch recurses slice by slice; keeping the first/last e along every axis
    # of size > 2e selects exactly the same elements.
    for ax, n in enumerate(data.shape):
        if n > 2 * e:
            data = np.take(data, np.r_[0:e, n - e:n], axis=ax)
    return data


def _tensor_str(data: np.ndarray, indent: int) -> str:
    if data.size == 0:
        return "[]"
    summarize = data.size > PRINT_OPTS.threshold
    fmt = _Formatter(_get_summarized_data(data) if summarize else data)
    return _tensor_str_with_formatter(data, indent, summarize, fmt)


def _add_suffixes(tensor_str: str, suffixes: list[str], indent: int, force_newline: bool) -> str:
    out = [tensor_str]
    # (sic) torch's "+ 1" (and +2 without a newline) is kept to wrap identically
    last_line_len = len(tensor_str) - tensor_str.rfind("\n") + 1
    for suffix in suffixes:
        if force_newline or last_line_len + len(suffix) + 2 > PRINT_OPTS.linewidth:
            out.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
            force_newline = False
        else:
            out.append(", " + suffix)
            last_line_len += len(suffix) + 2
    out.append(")")
    return "".join(out)


def format_tensor(data: np.ndarray, dtype_name: str, *, is_default_dtype: bool,
                  device_str: str | None, requires_grad: bool, grad_fn_name: str | None,
                  prefix: str = "tensor(") -> str:
    """``repr`` of a dense tensor, identical to PyTorch's.

    data:             host ndarray (float16/32/64, (u)int8..64, bool).
    dtype_name:       e.g. ``"torch.float64"``.
    is_default_dtype: dtype == the current default floating dtype
                      (``torch.get_default_dtype()``, normally float32).
                      int64 and bool are treated as default automatically.
    device_str:       e.g. ``"cuda:0"``; ``None`` for cpu (nothing printed).
    grad_fn_name:     e.g. ``"AddBackward0"``; takes precedence over requires_grad.
    """
    data = np.asarray(data)
    if data.dtype.kind not in "fiub":
        raise TypeError(f"format_tensor: unsupported dtype {data.dtype}")
    indent = len(prefix)
    suffixes = []
    if device_str is not None:
        suffixes.append(f"device='{device_str}'")
    has_default_dtype = is_default_dtype or dtype_name in ("torch.int64", "torch.bool")
    if data.size == 0:
        # Like NumPy, print the shape unless it is (0,); the dtype can't be
        # inferred from no elements, so print it unless default float.
        if data.ndim != 1:
            suffixes.append("size=" + str(tuple(data.shape)))
        if not is_default_dtype:
            suffixes.append("dtype=" + dtype_name)
        tensor_str = "[]"
    else:
        if not PRINT_OPTS.edgeitems:
            suffixes.append("size=" + str(tuple(data.shape)))
        if not has_default_dtype:
            suffixes.append("dtype=" + dtype_name)
        tensor_str = _tensor_str(data, indent)
    if grad_fn_name is not None:
        suffixes.append(f"grad_fn=<{grad_fn_name}>")
    elif requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + tensor_str, suffixes, indent, force_newline=False)
