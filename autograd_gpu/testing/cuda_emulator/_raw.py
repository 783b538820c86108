"""Raw CUDA modules on the CPU: the same source and name expressions as cupy.RawModule, launched like
cuLaunchKernel (a void** array holding one pointer per kernel parameter).

Each name expression (``softmax_fwd<float>``) gets an ``extern "C"`` shim that instantiates the template by
taking its address; cuda_emu::launch unpacks the parameter types with an index_sequence, so no parameter
list is ever parsed. A second shim reports each parameter's size and kind for argument checks.
"""
from __future__ import annotations

import ctypes
import struct
import threading
import types

import numpy as np

from . import _build
from ._build import EmulatorError

MAX_PARAMS = 256
MAX_DYNAMIC_SHARED = 48 * 1024  # what a launch gets without raising the kernel's attribute
MAX_OPT_IN_SHARED = 227 * 1024  # sm_90 opt-in limit per block
_KIND = {1: "pointer", 2: "floating", 3: "integer", 4: "struct"}
_FLOAT_FMT = {2: "e", 4: "f", 8: "d"}
_INT_FMT = {1: "b", 2: "h", 4: "i", 8: "q"}
_UINT_FMT = {1: "B", 2: "H", 4: "I", 8: "Q"}
_LAUNCH_ARGTYPES = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int,
                    ctypes.c_void_p, ctypes.c_size_t]


class RawModule:
    """cupy.RawModule(code=..., name_expressions=...) look-alike whose kernels run on the CPU."""

    def __init__(self, code: str, name_expressions: tuple[str, ...], *, filename: str = "module.cu"):
        self.code, self.name_expressions, self.filename = code, tuple(name_expressions), filename
        self._lib = None
        self._fibers = False
        self._functions: dict[str, Function] = {}

    def translation_unit(self) -> str:
        src = _build.rewrite(self.code)
        self._fibers = _build.uses_collectives(src)
        parts = ['#include "cuda_emu.h"', _build.line_directive(1, self.filename), src,
                 _build.line_directive(1, "<emulator launch shims>")]
        for i, expr in enumerate(self.name_expressions):
            parts.append(
                f'extern "C" int __emu_launch_{i}(const unsigned* g, const unsigned* b, void** a, size_t sm, '
                f'int fib, char* e, size_t el) {{\n'
                f'    return ::cuda_emu::launch(&{expr}, g, b, a, sm, fib, e, el);\n}}\n'
                f'extern "C" int __emu_sig_{i}(long long* out) {{\n'
                f'    return ::cuda_emu::signature(&{expr}, out);\n}}')
        return "\n".join(parts) + "\n"

    def _library(self):
        if self._lib is None:
            tu = self.translation_unit()
            self._lib = _build.load(tu, self.filename.rsplit("/", 1)[-1])
        return self._lib

    def get_function(self, name: str) -> "Function":
        fn = self._functions.get(name)
        if fn is None:
            if name not in self.name_expressions:
                raise EmulatorError(f"{name!r} is not among the name expressions of {self.filename}: "
                                    f"{self.name_expressions}")
            fn = self._functions[name] = Function(self, name, self.name_expressions.index(name))
        return fn


class Function:
    """One kernel: ``fn(grid, block, args, shared_mem=0)`` like cupy.RawKernel."""

    def __init__(self, module: RawModule, name: str, index: int):
        self.module, self.name, self._index = module, name, index
        self._launch = None
        self._sig: tuple[tuple[int, int], ...] = ()
        self._packs: dict = {}  # argument types -> (struct format, per-argument converters)
        self.max_dynamic_shared_size_bytes = MAX_DYNAMIC_SHARED

    def _bind(self):
        lib = self.module._library()
        launch = getattr(lib, f"__emu_launch_{self._index}")
        launch.argtypes, launch.restype = _LAUNCH_ARGTYPES, ctypes.c_int
        codes = (ctypes.c_longlong * MAX_PARAMS)()
        n = getattr(lib, f"__emu_sig_{self._index}")(codes)
        if n > MAX_PARAMS:
            raise EmulatorError(f"{self.name} has {n} parameters; the emulator supports {MAX_PARAMS}")
        self._sig = tuple((codes[k] & 0xFFFFFFFF, codes[k] >> 32) for k in range(n))
        self._fibers = int(self.module._fibers)
        self._launch = launch

    def __call__(self, grid, block, args, shared_mem: int = 0) -> None:
        if self._launch is None:
            self._bind()
        g, b, shared_mem = _dim3(grid, "grid"), _dim3(block, "block"), int(shared_mem)
        self._check_launch(g, b, shared_mem)
        if len(args) != len(self._sig):
            raise TypeError(f"{self.name} takes {len(self._sig)} arguments, got {len(args)}")
        key = tuple(a.dtype if isinstance(a, np.generic) else type(a) for a in args)
        pack = self._packs.get(key)
        if pack is None:
            pack = self._packs[key] = _pack_plan(self.name, args, self._sig)
        fmt, convert = pack
        s = _scratch()
        struct.pack_into(fmt, s.slots, 0, *[c(a) for c, a in zip(convert, args)])
        s.dims[:] = g + b
        rc = self._launch(s.dims_p, s.dims_p + 12, s.ptrs_p, shared_mem, self._fibers, s.err_p, len(s.err))
        if rc != 0:
            raise EmulatorError(f"{self.name}: {s.err.value.decode(errors='replace')}")

    def _check_launch(self, g, b, shared_mem):
        # The limits a GPU enforces at launch (cuLaunchKernel: CUDA_ERROR_INVALID_VALUE).
        problems = []
        if min(g) < 1 or min(b) < 1:
            problems.append(f"grid {g} and block {b} must be positive in every dimension")
        if b[0] > 1024 or b[1] > 1024 or b[2] > 64 or b[0] * b[1] * b[2] > 1024:
            problems.append(f"block {b} exceeds 1024 threads (or 1024 x 1024 x 64)")
        if g[0] > 2**31 - 1 or g[1] > 65535 or g[2] > 65535:
            problems.append(f"grid {g} exceeds (2**31-1, 65535, 65535)")
        limit = min(max(self.max_dynamic_shared_size_bytes, MAX_DYNAMIC_SHARED), MAX_OPT_IN_SHARED)
        if not 0 <= shared_mem <= limit:
            problems.append(f"shared_mem={shared_mem} bytes exceeds the {limit}-byte dynamic shared memory "
                            "limit (raise max_dynamic_shared_size_bytes to opt in)")
        if problems:
            raise EmulatorError(f"{self.name}: CUDA_ERROR_INVALID_VALUE: " + "; ".join(problems))


_tls = threading.local()


def _scratch():
    """Per-thread launch buffers: one 8-byte slot per parameter and the void** array pointing at them
    (fixed, so built once); a launch is synchronous, so reuse within a thread is safe."""
    s = getattr(_tls, "scratch", None)
    if s is None:
        s = _tls.scratch = types.SimpleNamespace(slots=ctypes.create_string_buffer(8 * MAX_PARAMS),
                                                 err=ctypes.create_string_buffer(1024),
                                                 dims=(ctypes.c_uint * 6)())
        base = ctypes.addressof(s.slots)
        s.ptrs = (ctypes.c_void_p * MAX_PARAMS)(*[base + 8 * k for k in range(MAX_PARAMS)])
        s.ptrs_p, s.err_p = ctypes.addressof(s.ptrs), ctypes.addressof(s.err)
        s.dims_p = ctypes.addressof(s.dims)
    return s


def _pointer(a):
    return 0 if a is None else a.ctypes.data


def _pack_plan(name, args, sig):
    """Check arguments against the kernel's parameters once per argument-type signature and return
    (struct format, converters): each parameter is written at the exact width the kernel reads."""
    fmt, convert = ["<"], []
    for k, (a, (size, kind)) in enumerate(zip(args, sig)):
        if kind == 1:
            if not (a is None or isinstance(a, np.ndarray)):
                raise TypeError(f"{name} argument {k}: the kernel takes a pointer; pass a NumPy array on the "
                                f"emulated device, not {type(a).__name__}")
            fmt.append("Q")
            convert.append(_pointer)
            continue
        code, conv = _scalar_plan(name, k, a, size, kind)
        fmt.append(code + "x" * (8 - struct.calcsize("<" + code)))
        convert.append(conv)
    return "".join(fmt), convert


def _scalar_plan(name, k, a, size, kind):
    where = f"{name} argument {k}"
    if isinstance(a, np.ndarray):
        raise TypeError(f"{where}: the kernel takes a {size}-byte {_KIND[kind]} by value, got an array")
    # CuPy turns Python scalars into int64 (uint64 from 2**63) / float64 / bool before the launch.
    if type(a) is bool:
        dt = np.dtype(np.bool_)
    elif type(a) is int:
        dt = np.dtype(np.uint64 if a >= 2**63 else np.int64)
    elif type(a) is float:
        dt = np.dtype(np.float64)
    else:
        dt = a.dtype if isinstance(a, np.generic) else None
    if dt is None or dt.kind not in "biuf" or kind == 4:
        raise TypeError(f"{where}: unsupported scalar {a!r} for a {size}-byte {_KIND[kind]} parameter")
    if (2 if dt.kind == "f" else 3) != kind:
        raise TypeError(f"{where}: the kernel takes a {size}-byte {_KIND[kind]} but got {dt} "
                        f"(the GPU would reinterpret its bits)")
    if kind == 2:
        if dt.itemsize != size:
            raise TypeError(f"{where}: the kernel takes a {size}-byte float but got {dt}; pass "
                            f"np.float{size * 8}(...)")
        return _FLOAT_FMT[size], float
    if dt.itemsize < size:  # the GPU would read garbage above the argument's bytes
        raise TypeError(f"{where}: the kernel takes a {size}-byte integer but got {dt}; pass "
                        f"np.int{size * 8}(...)")
    # A wider integer works on a GPU (the driver copies the low bytes, little-endian) when the value fits.
    signed = dt.kind != "u"
    lo, hi = (-(2 ** (8 * size - 1)), 2 ** (8 * size - 1) - 1) if signed else (0, 2 ** (8 * size) - 1)

    def conv(v):
        v = int(v)
        if not lo <= v <= hi:
            raise TypeError(f"{where}: {v} does not fit the kernel's {size}-byte integer parameter")
        return v

    return (_INT_FMT if signed else _UINT_FMT)[size], conv


def _dim3(d, what):
    t = (int(d),) if isinstance(d, (int, np.integer)) else tuple(int(v) for v in d)
    if not 1 <= len(t) <= 3:
        raise EmulatorError(f"{what} must have 1 to 3 dimensions, got {d!r}")
    return t + (1,) * (3 - len(t))
