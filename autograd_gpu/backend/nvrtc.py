"""NVRTC compile gate: proves CUDA sources compile for real GPU architectures on a machine without a GPU.

Uses ``cupy.cuda.nvrtc`` directly: CuPy's own compile helpers ask the (absent) device for its architecture.
Warnings are errors (``-Werror=all-warnings``), so what g++ silently accepts on the emulator (``INFINITY``,
host-only functions, narrowing) fails here with NVRTC's log in the exception.

Elementwise and reduction kernels get a translation unit shaped like the one CuPy generates (CuPy's own
``carray.cuh``, typedefs for the placeholders, a grid-stride loop with 64-bit indices), so a compile error in
an operation string or a header is caught exactly as a GPU run would hit it.
"""
from __future__ import annotations

import functools
import hashlib
import os
import pathlib
import re
import tempfile

from . import _cupy
from .kernels import KERNEL_DIR, ctype_of, typedefs

BASE_OPTIONS = ("-std=c++17", "-Werror=all-warnings")
ARCHS = ("sm_80", "sm_90")


class NvrtcError(RuntimeError):
    """NVRTC rejected a source; the message holds the compiler log."""


@functools.cache
def cuda_include_dir() -> str:
    """Include dir of cuda_fp16.h & co. from the nvidia-cuda-runtime wheel (or a CUDA toolkit)."""
    try:
        from cuda import pathfinder
    except ImportError:
        raise NvrtcError("the NVRTC gate needs cuda-pathfinder (pip install cuda-pathfinder)") from None
    found = pathfinder.find_nvidia_header_directory("cudart")
    if found is None:
        raise NvrtcError("cuda_fp16.h not found: pip install 'nvidia-cuda-runtime==13.*'")
    return str(found)


@functools.cache
def cupy_include_options() -> tuple[str, ...]:
    """-I options for CuPy's device headers (carray.cuh, float16.cuh, and the CCCL copy complex.cuh needs)."""
    inc = os.path.join(os.path.dirname(_cupy.import_cupy().__file__), "_core", "include")
    cccl = os.path.join(inc, "cupy", "_cccl")
    return (f"-I{inc}", *(f"-I{os.path.join(cccl, d)}" for d in ("libcudacxx", "thrust", "cub")))


def compile_cubin(source: str, arch: str = "sm_80", name_expressions: tuple[str, ...] = (),
                  options: tuple[str, ...] = (), filename: str = "kernel.cu") -> bytes:
    """Compile ``source`` to a CUBIN for ``arch`` (e.g. "sm_80", "sm_90"); raise NvrtcError with the log."""
    nvrtc = _cupy.import_nvrtc()
    opts = (*BASE_OPTIONS, f"--gpu-architecture={arch}", f"-I{cuda_include_dir()}", f"-I{KERNEL_DIR}",
            *options)
    # Successful builds are cached by content (a CI rerun only compiles what changed); failures never are.
    key = hashlib.sha256("\0".join([source, filename, *opts, *name_expressions, str(nvrtc.getVersion()),
                                     _cupy.import_cupy().__version__]).encode()).hexdigest()[:24]
    cached = _cache_dir() / f"{key}.cubin"
    if cached.exists():
        return cached.read_bytes()
    cubin = _compile(nvrtc, source, arch, name_expressions, opts, filename)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cached.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(cubin)
        os.replace(tmp, cached)
    except OSError:
        pass  # a read-only cache only costs time
    return cubin


def _cache_dir() -> pathlib.Path:
    root = os.environ.get("AUTOGRAD_GPU_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache",
                                                                    "autograd_gpu")
    return pathlib.Path(root) / "nvrtc"


def _compile(nvrtc, source, arch, name_expressions, opts, filename) -> bytes:
    prog = nvrtc.createProgram(source, filename, [], [])
    try:
        for expr in name_expressions:
            nvrtc.addNameExpression(prog, expr)
        try:
            nvrtc.compileProgram(prog, list(opts))
        except nvrtc.NVRTCError as e:
            log = nvrtc.getProgramLog(prog).strip()
            raise NvrtcError(f"NVRTC failed to compile {filename} for {arch} ({e}):\n{log}") from None
        for expr in name_expressions:
            try:
                nvrtc.getLoweredName(prog, expr)
            except nvrtc.NVRTCError:
                raise NvrtcError(f"{filename}: name expression {expr!r} was not instantiated") from None
        return nvrtc.getCUBIN(prog)
    finally:
        nvrtc.destroyProgram(prog)


def _headers(ctypes_used) -> str:
    # What CuPy's compile_with_cache prepends (complex.cuh only when needed: it pulls in Thrust, 3x slower).
    hs = ["cupy/carray.cuh", "cupy/atomics.cuh", "cupy/math_constants.h"]
    if "float16" in ctypes_used:
        hs.append("cupy/float16.cuh")
    if any(c.startswith("complex") for c in ctypes_used):
        hs.insert(0, "cupy/complex.cuh")
    return "".join(f"#include <{h}>\n" for h in hs)


def _signature(kernel, typemap, indexers: str, scalars):
    bound = dict(typemap)
    ctypes_used = {ctype_of(dt) for dt in bound.values()} | {p.ctype for p in kernel.params}
    params = []
    for p in kernel.params:
        if p.name in scalars:  # CuPy passes scalars by value under their own name
            params.append(f"{p.ctype} {p.name}")
        else:
            const, prefix = "const " if p.is_const else "", "" if p.raw else "_raw_"
            params.append(f"{const}CArray<{p.ctype}, 1> {prefix}{p.name}")
    head = f"{_headers(ctypes_used)}{typedefs(typemap)}{kernel.prelude()}\n"
    return head, ", ".join(params + [indexers])


def _array(p, scalars):
    return not p.raw and p.name not in scalars


def elementwise_source(kernel, typemap, scalars=()) -> str:
    """CuPy's elementwise kernel for one dtype signature (1-d CArrays, 64-bit grid-stride loop); the
    parameters named in ``scalars`` are passed by value, the others as arrays."""
    head, params = _signature(kernel, typemap, "CIndexer<1> _ind", scalars)
    refs = "".join(f"    {'const ' if p.is_const else ''}{p.ctype} &{p.name} = _raw_{p.name}[_ind.get()];\n"
                   for p in kernel.params if _array(p, scalars))
    return f"""{head}
extern "C" __global__ void {kernel.name}({params}) {{
  #pragma unroll 1
  CUPY_FOR(i, _ind.size()) {{
    _ind.set(i);
{refs}    {kernel.operation};
  }}
}}
"""


def reduction_source(kernel, typemap, scalars=None, block_size: int = 512) -> str:
    """CuPy's shared-memory tree reduction for one dtype signature. Inputs that post_map_expr or identity
    name can only be scalars there (arrays exist only inside the map loop), so they default to scalars."""
    if scalars is None:
        used = set(re.findall(r"\w+", f"{kernel.post_map_expr} {kernel.identity or ''}"))
        scalars = {p.name for p in kernel.in_params if not p.raw and p.name in used}
    head, params = _signature(kernel, typemap,
                              "CIndexer<1> _in_ind, CIndexer<1> _out_ind, const int _block_stride", scalars)
    reduce_type = kernel.reduce_type or ctype_of(dict(typemap).get(kernel.out_params[0].ctype,
                                                                   kernel.out_params[0].dtype))
    nin = kernel.nin
    inputs = "".join(f"      const {p.ctype} {p.name} = _raw_{p.name}[_in_ind.get()];\n"
                     for p in kernel.params[:nin] if _array(p, scalars))
    outputs = "".join(f"      {p.ctype} &{p.name} = _raw_{p.name}[_out_ind.get()];\n"
                      for p in kernel.params[nin:] if _array(p, scalars))
    identity = kernel.identity or ""
    return f"""{head}
#define REDUCE(a, b) ({kernel.reduce_expr})
#define POST_MAP(a) ({kernel.post_map_expr})
#define _REDUCE(_offset) if (_tid < _offset) {{ \\
  _type_reduce _a = _sdata[_tid], _b = _sdata[(_tid + _offset)]; \\
  _sdata[_tid] = REDUCE(_a, _b); \\
}}
typedef {reduce_type} _type_reduce;
extern "C" __global__ void {kernel.name}({params}) {{
  __shared__ char _sdata_raw[{block_size} * sizeof(_type_reduce)];
  _type_reduce *_sdata = reinterpret_cast<_type_reduce*>(_sdata_raw);
  unsigned int _tid = threadIdx.x;
  int _J_offset = _tid >> __popc(_block_stride - 1);
  ptrdiff_t _j_offset = (ptrdiff_t)_J_offset * _out_ind.size();
  int _J_stride = {block_size} >> __popc(_block_stride - 1);
  ptrdiff_t _j_stride = (ptrdiff_t)_J_stride * _out_ind.size();
  for (ptrdiff_t _i_base = (ptrdiff_t)blockIdx.x * _block_stride; _i_base < _out_ind.size();
       _i_base += (ptrdiff_t)gridDim.x * _block_stride) {{
    _type_reduce _s = _type_reduce({identity});
    ptrdiff_t _i = _i_base + (_tid & (_block_stride - 1));
    int _J = _J_offset;
    for (ptrdiff_t _j = _i + _j_offset; _j < _in_ind.size(); _j += _j_stride, _J += _J_stride) {{
      _in_ind.set(_j);
{inputs}      _type_reduce _a = static_cast<_type_reduce>({kernel.map_expr});
      _s = REDUCE(_s, _a);
    }}
    _sdata[_tid] = _s;
    __syncthreads();
    for (unsigned int _block = {block_size} / 2; _block >= _block_stride; _block >>= 1) {{
      if (_tid < _block) {{ _REDUCE(_block); }}
      __syncthreads();
    }}
    if (_tid < _block_stride) {{ _s = _sdata[_tid]; }}
    if (_tid < _block_stride && _i < _out_ind.size()) {{
      _out_ind.set(static_cast<ptrdiff_t>(_i));
{outputs}      POST_MAP(_s);
    }}
  }}
}}
"""


def check_all(kernels=None, archs: tuple[str, ...] = ARCHS) -> None:
    """Compile every registered kernel (or ``kernels``) for every arch; raise on the first failure."""
    from .kernels import registry
    for k in registry() if kernels is None else kernels:
        for arch in archs:
            k.check_compiles(arch)
