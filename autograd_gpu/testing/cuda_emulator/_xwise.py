"""Elementwise and reduction kernels on the CPU: the CuPy operation strings inside a generated C++ loop.

The loop walks the broadcast shape with NumPy byte strides (stride 0 for broadcast dimensions), so inputs
may be any views: transposed, sliced, broadcast. As in CuPy, each non-raw array parameter is a reference to
the current element (``const T &x`` for inputs, ``T &y`` for outputs), scalars are by-value variables,
``raw`` parameters are CArray objects indexed in C order, ``i`` is the flat index and ``_ind.size()`` the
loop size; reductions get CuPy's ``REDUCE(a, b)`` / ``POST_MAP(a)`` macros, ``_type_reduce``, ``_J``, ``_i``.

The caller (autograd_gpu.backend.kernels) has already applied CuPy's calling semantics: types resolved,
scalars cast to their parameter dtype, outputs allocated, the loop shape decided.
"""
from __future__ import annotations

import ctypes
import math

import numpy as np

from . import _build

_MAX_NDIM = 64  # numpy.ndarray.ndim <= 64


def _bstrides(a: np.ndarray, shape: tuple) -> list[int]:
    """Byte strides of ``a`` broadcast to ``shape`` (0 where it is broadcast)."""
    off = len(shape) - a.ndim
    return [0] * off + [0 if a.shape[i] == 1 else a.strides[i] for i in range(a.ndim)]


def _collapse(shape, strides: list[list[int]]) -> list[tuple[int, list[int]]]:
    """Drop size-1 dimensions and merge neighbours every array walks contiguously (CuPy's _reduce_dims):
    a contiguous operand of any rank becomes one flat loop."""
    dims: list[tuple[int, list[int]]] = []
    for d, n in enumerate(shape):
        if n == 1:
            continue
        st = [s[d] for s in strides]
        if dims and all(ps == s * n for ps, s in zip(dims[-1][1], st)):
            dims[-1] = (dims[-1][0] * n, st)
        else:
            dims.append((n, st))
    return dims


def _decls(params, is_arr, extent: dict[int, str]):
    """Declarations before the loop; extent[k] is the C expression for how many strides array k has."""
    decls = []
    for k, p in enumerate(params):
        if not is_arr[k]:
            decls.append(f"{p.ctype} {p.name} = *reinterpret_cast<const {p.ctype}*>(_emu_args[{k}]);")
        elif p.raw:
            decls.append(f"const ::cuda_emu::CArray<{p.ctype}> {p.name}(_emu_args[{k}], _emu_mp); "
                         "_emu_mp += 1 + 2 * _emu_mp[0];")
        else:
            decls.append(f"char* _emu_p{k} = static_cast<char*>(_emu_args[{k}]); "
                         f"const long long* _emu_s{k} = _emu_mp; _emu_mp += {extent[k]};")
    return "\n    ".join(decls)


def _ref(p, k, ptr):
    c = "const " if p.is_const else ""
    return f"{c}{p.ctype} &{p.name} = *reinterpret_cast<{c}{p.ctype}*>({ptr});"


def _odometer(idx, nd, shape, walks):
    """Advance a multi-index over `shape`, moving each (pointer, stride expr) in `walks` along."""
    adv = " ".join(f"{ptr} += {st}[{off}_emu_d];" for ptr, st, off in walks)
    back = " ".join(f"{ptr} -= {st}[{off}_emu_d] * ({shape}[_emu_d] - 1);" for ptr, st, off in walks)
    return (f"for (int _emu_d = {nd} - 1; _emu_d >= 0; --_emu_d) {{\n"
            f"            if (++{idx}[_emu_d] < {shape}[_emu_d]) {{ {adv} break; }}\n"
            f"            {idx}[_emu_d] = 0; {back}\n        }}")


def _head(kernel, typedefs):
    return "\n".join(['#include "cuda_emu.h"', typedefs, kernel.prelude(),
                      _build.line_directive(1, f"<{kernel.name}>")])


def elementwise_source(kernel, typedefs: str, is_arr: tuple) -> str:
    params = kernel.params
    nonraw = [k for k, p in enumerate(params) if is_arr[k] and not p.raw]
    refs = "\n            ".join(_ref(params[k], k, f"_emu_p{k}") for k in nonraw)
    walk = _odometer("_emu_idx", "_emu_nd", "_emu_shape", [(f"_emu_p{k}", f"_emu_s{k}", "") for k in nonraw])
    return f"""{_head(kernel, typedefs)}
extern "C" void __emu_ew(void** _emu_args, const long long* _emu_meta) {{
    const int _emu_nd = (int)_emu_meta[0];
    const ptrdiff_t _emu_n = _emu_meta[1];
    const long long* _emu_shape = _emu_meta + 2;
    const long long* _emu_mp = _emu_shape + _emu_nd;
    {_decls(params, is_arr, {k: "_emu_nd" for k in nonraw})}
    const ::cuda_emu::CIndexer _ind{{_emu_n}};
    long long _emu_idx[{_MAX_NDIM}] = {{0}};
    for (ptrdiff_t i = 0; i < _emu_n; ++i) {{
        {{
            {refs}
            do {{
{_build.line_directive(1, f"<{kernel.name} operation>")}
{kernel.operation}
;
            }} while (0);  // `continue` in the operation skips to the next element, as in CuPy's loop
        }}
        {walk}
    }}
}}
"""


def reduction_source(kernel, typedefs: str, reduce_ctype: str, is_arr: tuple) -> str:
    params, nin = kernel.params, kernel.nin
    ins = [k for k in range(nin) if is_arr[k] and not params[k].raw]
    outs = [k for k in range(nin, len(params)) if is_arr[k] and not params[k].raw]
    extent = {**{k: "_emu_no + _emu_nr" for k in ins}, **{k: "_emu_no" for k in outs}}
    starts = " ".join(f"char* _emu_r{k} = _emu_p{k};" for k in ins)
    in_refs = "\n                ".join(
        f"const {params[k].ctype} {params[k].name} = *reinterpret_cast<const {params[k].ctype}*>(_emu_r{k});"
        for k in ins)
    out_refs = " ".join(_ref(params[k], k, f"_emu_p{k}") for k in outs)
    red_walk = _odometer("_emu_ri", "_emu_nr", "_emu_rshape", [(f"_emu_r{k}", f"_emu_s{k}", "_emu_no + ")
                                                                for k in ins])
    out_walk = _odometer("_emu_oi", "_emu_no", "_emu_oshape", [(f"_emu_p{k}", f"_emu_s{k}", "")
                                                                for k in ins + outs])
    identity = "" if kernel.identity is None else kernel.identity
    return f"""{_head(kernel, typedefs)}
#define REDUCE(a, b) ({kernel.reduce_expr})
#define POST_MAP(a) ({kernel.post_map_expr})
typedef {reduce_ctype} _type_reduce;
extern "C" void __emu_red(void** _emu_args, const long long* _emu_meta) {{
    const int _emu_no = (int)_emu_meta[0], _emu_nr = (int)_emu_meta[1];
    const ptrdiff_t _emu_on = _emu_meta[2], _emu_rn = _emu_meta[3];
    const long long* _emu_oshape = _emu_meta + 4;
    const long long* _emu_rshape = _emu_oshape + _emu_no;
    const long long* _emu_mp = _emu_rshape + _emu_nr;
    {_decls(params, is_arr, extent)}
    const ::cuda_emu::CIndexer _in_ind{{_emu_on * _emu_rn}}, _out_ind{{_emu_on}};
    long long _emu_oi[{_MAX_NDIM}] = {{0}}, _emu_ri[{_MAX_NDIM}] = {{0}};
    for (ptrdiff_t _i = 0; _i < _emu_on; ++_i) {{
        _type_reduce _s = _type_reduce({identity});
        {starts}
        for (ptrdiff_t _J = 0; _J < _emu_rn; ++_J) {{
            {{
                {in_refs}
                _type_reduce _a = static_cast<_type_reduce>({kernel.map_expr});
                _s = REDUCE(_s, _a);
            }}
            {red_walk}
        }}
        {{ {out_refs} POST_MAP(_s); }}
        {out_walk}
    }}
}}
"""


def _function(kernel, key, make_source, symbol):
    cache = kernel.__dict__.setdefault("_emu_functions", {})
    fn = cache.get(key)
    if fn is None:
        lib = _build.load(make_source(), kernel.name)
        fn = getattr(lib, symbol)
        fn.argtypes, fn.restype = [ctypes.c_void_p, ctypes.c_void_p], None
        cache[key] = fn
    return fn


def _plan(kernel, kind, key, build):
    """Per kernel: (function, metadata) by argument layout, so a repeated call only gathers pointers."""
    plans = kernel.__dict__.setdefault("_emu_plans", {})
    plan = plans.get(key)
    if plan is None:
        if len(plans) > 512:  # unbounded shape variety (e.g. a sweep over sizes): start over
            plans.clear()
        plan = plans[key] = build()
    return plan


def _launch(plan, args):
    fn, meta, is_arr = plan
    keep = []  # scalars need an address that outlives the call
    ptrs = (ctypes.c_void_p * max(len(args), 1))()
    for k, a in enumerate(args):
        if is_arr[k]:
            ptrs[k] = a.ctypes.data
        else:
            keep.append(s := np.array(a))
            ptrs[k] = s.ctypes.data
    fn(ctypes.addressof(ptrs), ctypes.addressof(meta))


def _meta(params, args, is_arr, head, array_meta):
    meta = list(head)
    for k, a in enumerate(args):
        if is_arr[k]:
            meta += [a.ndim, *a.shape, *a.strides] if params[k].raw else array_meta(k, a)
    return (ctypes.c_longlong * len(meta))(*meta)


def _layout(args):
    return tuple((a.shape, a.strides) if isinstance(a, np.ndarray) else None for a in args)


def run_elementwise(kernel, typedefs: str, args: list, shape: tuple) -> None:
    """Run an elementwise kernel over ``shape``; ``args`` align with kernel.params (arrays, cast scalars)."""
    key = (typedefs, shape, _layout(args))
    _launch(_plan(kernel, "ew", key, lambda: _elementwise_plan(kernel, typedefs, args, shape)), args)


def _elementwise_plan(kernel, typedefs, args, shape):
    params = kernel.params
    is_arr = tuple(isinstance(a, np.ndarray) for a in args)
    fn = _function(kernel, ("ew", typedefs, is_arr), lambda: elementwise_source(kernel, typedefs, is_arr),
                   "__emu_ew")
    nonraw = [k for k, p in enumerate(params) if is_arr[k] and not p.raw]
    dims = _collapse(shape, [_bstrides(args[k], shape) for k in nonraw])
    column = {k: j for j, k in enumerate(nonraw)}
    head = [len(dims), math.prod(shape), *[n for n, _ in dims]]
    return fn, _meta(params, args, is_arr, head, lambda k, a: [st[column[k]] for _, st in dims]), is_arr


def run_reduction(kernel, typedefs: str, reduce_ctype: str, args: list, shape: tuple, reduce_axis: tuple,
                  out_axis: tuple) -> None:
    """Reduce the broadcast inputs over ``reduce_axis``; outputs have the kept axes (or keepdims shape)."""
    key = (typedefs, reduce_ctype, shape, reduce_axis, _layout(args))
    plan = _plan(kernel, "red", key,
                 lambda: _reduction_plan(kernel, typedefs, reduce_ctype, args, shape, reduce_axis, out_axis))
    _launch(plan, args)


def _reduction_plan(kernel, typedefs, reduce_ctype, args, shape, reduce_axis, out_axis):
    params, nin = kernel.params, kernel.nin
    is_arr = tuple(isinstance(a, np.ndarray) for a in args)
    fn = _function(kernel, ("red", typedefs, reduce_ctype, is_arr),
                   lambda: reduction_source(kernel, typedefs, reduce_ctype, is_arr), "__emu_red")
    ins = [k for k in range(nin) if is_arr[k] and not params[k].raw]
    outs = [k for k in range(nin, len(params)) if is_arr[k] and not params[k].raw]
    in_st = {k: _bstrides(args[k], shape) for k in ins}
    out_st = {k: ([args[k].strides[ax] for ax in out_axis] if args[k].ndim == len(shape) else
                  list(args[k].strides)) for k in outs}
    oshape, rshape = [shape[ax] for ax in out_axis], [shape[ax] for ax in reduce_axis]
    odims = _collapse(oshape, [[in_st[k][ax] for ax in out_axis] for k in ins] + [out_st[k] for k in outs])
    rdims = _collapse(rshape, [[in_st[k][ax] for ax in reduce_axis] for k in ins])
    column = {k: j for j, k in enumerate(ins + outs)}

    def array_meta(k, a):
        o = [st[column[k]] for _, st in odims]
        return o + [st[column[k]] for _, st in rdims] if k < nin else o

    head = [len(odims), len(rdims), math.prod(oshape), math.prod(rshape), *[n for n, _ in odims],
            *[n for n, _ in rdims]]
    return fn, _meta(params, args, is_arr, head, array_meta), is_arr
