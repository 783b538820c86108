"""Kernel factory: the only way ops create CUDA kernels.

``elementwise`` / ``reduction`` / ``raw_module`` declare a kernel (cheap: nothing is read or compiled until
the first call) and record it in ``registry()``. Calling it with a Device picks the backend:

- ``cuda``: a memoized ``cupy.ElementwiseKernel`` / ``cupy.ReductionKernel`` / ``cupy.RawModule``.
- ``cuda_emulated``: NumPy arrays; the same CUDA source runs on the CPU through
  ``autograd_gpu.testing.cuda_emulator`` with CuPy's calling semantics (type placeholders bound by array
  dtypes, scalars cast to their parameter type, broadcasting, output allocation, ``size=``, axis/keepdims).

Every kernel also gives ``cuda_source()`` (the CUDA translation unit a GPU would compile) and
``check_compiles(arch)`` (NVRTC, warnings as errors), so CI without a GPU still proves the CUDA compiles.
"""
from __future__ import annotations

import functools
import pathlib
import re
from typing import NamedTuple

import numpy as np

from . import _cupy


def _find_kernel_dir() -> pathlib.Path:
    package = pathlib.Path(__file__).resolve().parent.parent
    installed = package / "_kernels"  # where the wheel puts the repo's kernels/ folder
    return installed if installed.is_dir() else package.parent / "kernels"


KERNEL_DIR: pathlib.Path = _find_kernel_dir()
RAW_OPTIONS = ("-std=c++17",)
_REGISTRY: list = []


def registry() -> list:
    """Every kernel object declared so far (elementwise, reduction, raw modules), in declaration order."""
    return list(_REGISTRY)


# ---- sources: kernels/ files with their local includes inlined, so every backend compiles one text.
_LOCAL_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([^"]+)"[^\n]*$', re.M)
_PRAGMA_ONCE = re.compile(r"^[ \t]*#[ \t]*pragma[ \t]+once\b[^\n]*$", re.M)


def load_source(path: str | pathlib.Path, _seen: set | None = None) -> str:
    """A kernels/ file (or any path) with ``#include "x.cuh"`` inlined once each; ``#line`` directives
    keep compiler messages pointing at the original files."""
    path = KERNEL_DIR / path
    seen = set() if _seen is None else _seen
    seen.add(path.resolve())
    return expand_includes(path.read_text(), path.name, path.parent, seen)


def expand_includes(text: str, shown: str, base: pathlib.Path, seen: set | None = None) -> str:
    """Inline ``#include "x"`` found next to the source or in KERNEL_DIR (others are left alone)."""
    seen = set() if seen is None else seen
    text = _PRAGMA_ONCE.sub("", text)

    def inline(m):
        for cand in (base / m.group(1), KERNEL_DIR / m.group(1)):
            if cand.is_file():
                if cand.resolve() in seen:
                    return ""
                line = text.count("\n", 0, m.start()) + 2
                return f'#line 1 "{cand.name}"\n{load_source(cand, seen)}\n#line {line} "{shown}"'
        return m.group(0)  # not ours (or missing): left for the compiler to find or report

    return _LOCAL_INCLUDE.sub(inline, text)


def _prelude(headers: tuple[str, ...], preamble: str) -> str:
    seen: set = set()
    parts = [f'#line 1 "{pathlib.Path(h).name}"\n' + load_source(h, seen) for h in headers]
    return "\n".join(parts + ([preamble] if preamble else []))


# ---- CuPy's parameter syntax: "T x, raw T y, float32 alpha"; one-letter types are placeholders.
_CTYPES = {"float64": "double", "float32": "float", "float16": "float16", "int8": "signed char",
           "int16": "short", "int32": "int", "int64": "long long", "uint8": "unsigned char",
           "uint16": "unsigned short", "uint32": "unsigned int", "uint64": "unsigned long long",
           "bool": "bool", "complex64": "complex<float>", "complex128": "complex<double>"}


class Param(NamedTuple):
    name: str
    ctype: str  # placeholder letter or C type name
    dtype: np.dtype | None  # None for placeholders
    raw: bool
    is_const: bool


def ctype_of(dtype) -> str:
    """The C type CuPy uses for a NumPy dtype (float16 is CuPy's ``float16`` class)."""
    return _CTYPES[np.dtype(dtype).name]


def parse_params(spec: str, is_const: bool) -> tuple[Param, ...]:
    params = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        *quals, t, name = item.split()
        if any(q != "raw" for q in quals):
            raise ValueError(f"unknown qualifier in kernel parameter {item!r}")
        dtype = None if len(t) == 1 else np.dtype(t)
        params.append(Param(name, t if dtype is None else ctype_of(dtype), dtype, "raw" in quals, is_const))
    return tuple(params)


def resolve_types(in_params, out_params, in_dtypes, out_dtypes):
    """CuPy's rule: placeholders are bound by array arguments (outputs first), never by scalars.
    Returns (in_types, out_types, typemap) with typemap a sorted tuple of (placeholder, dtype)."""
    bound: dict[str, np.dtype] = {}
    for p, dt in list(zip(out_params, out_dtypes)) + list(zip(in_params, in_dtypes)):
        if dt is None:
            continue
        want = p.dtype if p.dtype is not None else bound.setdefault(p.ctype, dt)
        if want != dt:
            raise TypeError(f"Type is mismatched. {p.name} {dt} {want}")
    try:
        types = [[p.dtype if p.dtype is not None else bound[p.ctype] for p in ps]
                 for ps in (in_params, out_params)]
    except KeyError as e:
        raise TypeError(f"Cannot determine type of {e.args[0]}: no array argument has that type") from None
    return tuple(types[0]), tuple(types[1]), tuple(sorted(bound.items()))


def typedefs(typemap) -> str:
    return "".join(f"typedef {ctype_of(dt)} {name};\n" for name, dt in typemap)


def _cuda_device(dev):
    """CuPy launches on the current device: make it the tensor's."""
    return _cupy.import_cupy().cuda.Device(dev.index or 0)


def _device_kind(dev) -> str:
    kind = getattr(dev, "type", None)
    if kind not in ("cuda", "cuda_emulated"):
        raise ValueError(f"kernels run on a CUDA device ('cuda' or 'cuda_emulated'), not {dev!r}")
    return kind


@functools.cache
def _emulator():
    from ..testing import cuda_emulator  # test-only machinery: imported on the first emulated launch
    return cuda_emulator


def _check_kwargs(name, kwargs, ignored):
    # CuPy launch tuning has no meaning on the CPU; anything else is a mistake on every backend.
    unknown = set(kwargs) - set(ignored)
    if unknown:
        raise TypeError(f"{name}: unexpected keyword arguments {sorted(unknown)}")


def _scalar(value, dtype):
    if isinstance(value, (np.generic, int, float, bool)):
        return dtype.type(value)
    raise TypeError(f"kernel argument {value!r} ({type(value).__name__}) is neither a NumPy array nor a "
                    "scalar")


class _Kernel:
    """Shared by the three kinds: a name, lazy prelude, NVRTC checks."""

    def __init__(self, name: str, headers=(), preamble: str = "", register: bool = True):
        self.name, self.headers, self.preamble = name, tuple(headers), preamble
        self._prelude: str | None = None
        self._cupy_obj = None
        self._emu_functions: dict = {}
        if register:
            _REGISTRY.append(self)

    def prelude(self) -> str:
        """Header texts plus preamble, as prepended to the operation on every backend."""
        if self._prelude is None:
            self._prelude = _prelude(self.headers, self.preamble)
        return self._prelude

    def __repr__(self):
        return f"<{type(self).__name__} {self.name}>"

    def check_compiles(self, arch: str = "sm_80", dtypes=("float32", "float64"), scalars=None) -> None:
        """Compile cuda_source() with NVRTC for ``arch`` (all placeholders bound to each dtype in turn);
        raise NvrtcError with the log on any error or warning."""
        from . import nvrtc
        for src in dict.fromkeys(self.cuda_source(dt, scalars) for dt in dtypes):  # no placeholder: once
            nvrtc.compile_cubin(src, arch, options=nvrtc.cupy_include_options(), filename=f"{self.name}.cu")

    def _bind_all(self, dtype):
        if isinstance(dtype, dict):
            return tuple(sorted((k, np.dtype(v)) for k, v in dtype.items()))
        names = sorted({p.ctype for p in self.params if p.dtype is None})
        return tuple((n, np.dtype(dtype)) for n in names)


class ElementwiseKernel(_Kernel):
    """cupy.ElementwiseKernel semantics; call as ``k(dev, *args, size=None)``."""

    def __init__(self, in_params, out_params, operation, name, headers=(), preamble="", register=True):
        super().__init__(name, headers, preamble, register)
        self.in_params_spec, self.out_params_spec, self.operation = in_params, out_params, operation
        self.in_params, self.out_params = parse_params(in_params, True), parse_params(out_params, False)
        self.params, self.nin = self.in_params + self.out_params, len(self.in_params)
        if "i" in (p.name for p in self.params):
            raise ValueError("Can not use 'i' as a parameter name")
        self._types: dict = {}

    def __call__(self, dev, *args, size: int | None = None, **kwargs):
        if _device_kind(dev) == "cuda":
            if self._cupy_obj is None:
                self._cupy_obj = _cupy.import_cupy().ElementwiseKernel(
                    self.in_params_spec, self.out_params_spec, self.operation, self.name,
                    preamble=self.prelude())
            with _cuda_device(dev):
                return self._cupy_obj(*args, **({} if size is None else {"size": size}), **kwargs)
        _check_kwargs(self.name, kwargs, ("stream", "block_size"))
        return self._call_emulated(args, size)

    def _call_emulated(self, args, size):
        nin, nout = self.nin, len(self.out_params)
        if len(args) not in (nin, nin + nout):
            raise TypeError(f"Wrong number of arguments for {self.name!r}. It must be either {nin} or "
                            f"{nin + nout} (with outputs), but given {len(args)}.")
        shapes = [a.shape for p, a in zip(self.params, args) if isinstance(a, np.ndarray) and not p.raw]
        if size is not None:
            if shapes:
                raise ValueError("Specified 'size' can be used only if all of the ndarray are 'raw'.")
            shape = (int(size),)
        elif not shapes:
            raise ValueError("Loop size is undecided.")
        else:
            shape = shapes[0] if shapes.count(shapes[0]) == len(shapes) else np.broadcast_shapes(*shapes)
        outs = list(args[nin:])
        key = (tuple(a.dtype if isinstance(a, np.ndarray) else None for a in args[:nin]),
               tuple(getattr(a, "dtype", None) for a in outs))
        types = self._types.get(key)
        if types is None:
            in_types, out_types, typemap = resolve_types(self.in_params, self.out_params, *key)
            types = self._types[key] = in_types, out_types, typedefs(typemap)
        in_types, out_types, tdefs = types
        if outs:
            for p, a in zip(self.out_params, outs):
                if not isinstance(a, np.ndarray):
                    raise TypeError("Output arguments type must be numpy.ndarray on the emulated device")
                if not p.raw and a.shape != shape:
                    raise ValueError("Out shape is mismatched")
        else:
            if any(p.raw for p in self.out_params) and size is None:
                raise ValueError("Output array size is Undecided")
            outs = [np.empty(shape, t) for t in out_types]
        ins = [a if isinstance(a, np.ndarray) else _scalar(a, t) for a, t in zip(args[:nin], in_types)]
        if 0 not in shape:
            _emulator().run_elementwise(self, tdefs, ins + outs, shape)
        return outs[0] if nout == 1 else tuple(outs)

    def cuda_source(self, dtype="float32", scalars=None) -> str:
        """The CUDA translation unit CuPy would compile, every placeholder bound to ``dtype`` (or a dict
        placeholder -> dtype); parameters named in ``scalars`` are passed as scalars, the rest as arrays."""
        from . import nvrtc
        return nvrtc.elementwise_source(self, self._bind_all(dtype), scalars or ())


class ReductionKernel(_Kernel):
    """cupy.ReductionKernel semantics; call as ``k(dev, *args, axis=None, keepdims=False, out=None)``."""

    def __init__(self, in_params, out_params, map_expr, reduce_expr, post_map_expr, identity, name,
                 reduce_type=None, headers=(), preamble="", register=True):
        super().__init__(name, headers, preamble, register)
        self.in_params_spec, self.out_params_spec = in_params, out_params
        self.map_expr, self.reduce_expr, self.post_map_expr = map_expr, reduce_expr, post_map_expr
        self.identity, self.reduce_type = identity, reduce_type
        self.in_params, self.out_params = parse_params(in_params, True), parse_params(out_params, False)
        self.params, self.nin = self.in_params + self.out_params, len(self.in_params)

    def __call__(self, dev, *args, axis=None, keepdims: bool = False, out=None, **kwargs):
        if _device_kind(dev) == "cuda":
            if self._cupy_obj is None:
                self._cupy_obj = _cupy.import_cupy().ReductionKernel(
                    self.in_params_spec, self.out_params_spec, self.map_expr, self.reduce_expr,
                    self.post_map_expr, self.identity, self.name, reduce_type=self.reduce_type,
                    preamble=self.prelude())
            with _cuda_device(dev):
                return self._cupy_obj(*args, axis=axis, keepdims=keepdims, out=out, **kwargs)
        _check_kwargs(self.name, kwargs, ("stream", "reduce_dims"))
        return self._call_emulated(args, axis, keepdims, out)

    def _call_emulated(self, args, axis, keepdims, out):
        nin = self.nin
        outs = list(args[nin:]) + ([out] if out is not None else [])
        if len(args) < nin or len(outs) not in (0, len(self.out_params)):
            raise TypeError(f"Wrong number of arguments for {self.name!r}")
        ins = list(args[:nin])
        shapes = [a.shape for p, a in zip(self.in_params, ins) if isinstance(a, np.ndarray) and not p.raw]
        if not shapes:
            raise ValueError(f"{self.name}: a reduction needs at least one non-raw array input")
        shape = np.broadcast_shapes(*shapes)
        ndim = len(shape)
        axes = range(ndim) if axis is None else (axis,) if np.ndim(axis) == 0 else tuple(axis)
        if any(not -ndim <= a < ndim for a in axes):
            raise np.exceptions.AxisError(f"axis {axis} is out of bounds for array of dimension {ndim}")
        reduce_axis = tuple(sorted({a % ndim for a in axes}))
        out_axis = tuple(d for d in range(ndim) if d not in reduce_axis)
        out_shape = tuple(1 if d in reduce_axis else shape[d] for d in range(ndim)) if keepdims else \
            tuple(shape[d] for d in out_axis)
        in_dtypes = tuple(a.dtype if isinstance(a, np.ndarray) else None for a in ins)
        in_types, out_types, typemap = resolve_types(self.in_params, self.out_params, in_dtypes,
                                                     tuple(getattr(a, "dtype", None) for a in outs))
        for a in outs:
            if not isinstance(a, np.ndarray):
                raise TypeError("Output arguments type must be numpy.ndarray on the emulated device")
            if a.shape != out_shape:
                raise ValueError(f"Out shape is mismatched: {a.shape} != {out_shape}")
        outs = outs or [np.empty(out_shape, t) for t in out_types]
        if self.identity is None and 0 in shape and 0 not in out_shape:
            raise ValueError(f"zero-size array to reduction operation {self.name} which has no identity")
        ins = [a if isinstance(a, np.ndarray) else _scalar(a, t) for a, t in zip(ins, in_types)]
        reduce_ctype = self.reduce_type or ctype_of(out_types[0])
        if 0 not in out_shape:
            _emulator().run_reduction(self, typedefs(typemap), reduce_ctype, ins + outs, shape, reduce_axis,
                                      out_axis)
        return outs[0] if len(outs) == 1 else tuple(outs)

    def cuda_source(self, dtype="float32", scalars=None) -> str:
        """A CUDA reduction kernel in CuPy's shape (shared-memory tree), placeholders bound to ``dtype``;
        ``scalars`` as for elementwise (default: the inputs post_map_expr uses)."""
        from . import nvrtc
        return nvrtc.reduction_source(self, self._bind_all(dtype), scalars)


class RawModule(_Kernel):
    """A kernels/*.cu file (or ``code=``) with templates instantiated by name expression."""

    def __init__(self, source_file: str, name_expressions, code: str | None = None, register=True):
        super().__init__(pathlib.Path(source_file).stem, register=register)
        self.source_file, self.name_expressions, self._code = source_file, tuple(name_expressions), code
        self._emu_module = None
        self._functions: dict = {}

    def prelude(self) -> str:  # the whole source: includes inlined
        if self._prelude is None:
            self._prelude = load_source(self.source_file) if self._code is None else \
                expand_includes(self._code, pathlib.Path(self.source_file).name, KERNEL_DIR)
        return self._prelude

    def cuda_source(self, dtype=None, scalars=None) -> str:
        """The complete translation unit (local includes inlined); templates instantiate by name."""
        return self.prelude()

    def check_compiles(self, arch: str = "sm_80", dtypes=None, scalars=None) -> None:
        """Compile the module with all its name expressions for ``arch``; raise NvrtcError with the log."""
        from . import nvrtc
        nvrtc.compile_cubin(self.cuda_source(), arch, self.name_expressions,
                            filename=pathlib.Path(self.source_file).name)

    def get_function(self, name: str) -> "RawFunction":
        if name not in self.name_expressions:
            raise ValueError(f"{name!r} is not among the name expressions of {self.source_file}: "
                             f"{self.name_expressions}")
        fn = self._functions.get(name)
        if fn is None:
            fn = self._functions[name] = RawFunction(self, name)
        return fn

    def _emulated(self):
        if self._emu_module is None:
            self._emu_module = _emulator().RawModule(self.prelude(), self.name_expressions,
                                                     filename=pathlib.Path(self.source_file).name)
        return self._emu_module

    def _cupy_module(self):
        if self._cupy_obj is None:
            self._cupy_obj = _cupy.import_cupy().RawModule(
                code=self.prelude(), options=RAW_OPTIONS + (f"-I{KERNEL_DIR}",),
                name_expressions=self.name_expressions)
        return self._cupy_obj


class RawFunction:
    """One kernel of a RawModule: ``fn(dev, grid, block, args, shared_mem=0)`` (CuPy RawKernel order)."""

    def __init__(self, module: RawModule, name: str):
        self.module, self.name = module, name
        self._cuda = self._emu = None
        # Opt in to more than 48 KB of dynamic shared memory (CuPy RawKernel's attribute of the same name).
        self.max_dynamic_shared_size_bytes: int | None = None

    def __call__(self, dev, grid, block, args, shared_mem: int = 0) -> None:
        if _device_kind(dev) == "cuda":
            with _cuda_device(dev):
                if self._cuda is None:
                    self._cuda = self.module._cupy_module().get_function(self.name)
                return self._launch(self._cuda, grid, block, args, shared_mem)
        if self._emu is None:
            self._emu = self.module._emulated().get_function(self.name)
        return self._launch(self._emu, grid, block, args, shared_mem)

    def _launch(self, fn, grid, block, args, shared_mem):
        if self.max_dynamic_shared_size_bytes is not None:
            fn.max_dynamic_shared_size_bytes = self.max_dynamic_shared_size_bytes
        return fn(grid, block, args, shared_mem=shared_mem)

    def __repr__(self):
        return f"<RawFunction {self.name} of {self.module.source_file}>"


def elementwise(in_params: str, out_params: str, operation: str, name: str, *, headers: tuple[str, ...] = (),
                preamble: str = "", register: bool = True) -> ElementwiseKernel:
    """Declare an elementwise kernel (cupy.ElementwiseKernel syntax); ``headers`` are kernels/ files."""
    return ElementwiseKernel(in_params, out_params, operation, name, headers, preamble, register)


def reduction(in_params: str, out_params: str, map_expr: str, reduce_expr: str, post_map_expr: str,
              identity: str | None, name: str, *, reduce_type: str | None = None,
              headers: tuple[str, ...] = (), preamble: str = "", register: bool = True) -> ReductionKernel:
    """Declare a reduction kernel (cupy.ReductionKernel syntax): y = post_map(reduce(map(x)...))."""
    return ReductionKernel(in_params, out_params, map_expr, reduce_expr, post_map_expr, identity, name,
                           reduce_type, headers, preamble, register)


def raw_module(source_file: str, name_expressions: tuple[str, ...], *, code: str | None = None,
               register: bool = True) -> RawModule:
    """Declare a raw CUDA module: ``source_file`` in kernels/ (or absolute), or ``code`` given inline
    (then source_file only names it)."""
    return RawModule(source_file, name_expressions, code, register)
