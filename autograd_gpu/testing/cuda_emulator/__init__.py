"""CUDA on the CPU: runs the project's CUDA kernel sources with g++ so the GPU code path is tested
on machines without a GPU (the ``cuda_emulated`` device). Ops never import this directly: the kernel
factory (autograd_gpu.backend.kernels) calls it for ``cuda_emulated`` devices.

- Raw kernels (``RawModule``): cuda_emu.h maps the CUDA built-ins; the threads of a block are fibers on one
  OS thread, one block at a time, so runs are deterministic. Stricter than a GPU on purpose: a
  ``__syncthreads()`` that some threads skip or reach at a different line, a warp collective a lane of its
  mask never reaches, or a device ``assert`` raises ``EmulatorError`` (a GPU may hang or go on silently).
  Dynamic shared memory starts each block filled with 0xFF bytes (NaN), so reads before writes show.
- Elementwise / reduction kernels: the CuPy-style operation strings become a C++ loop over the broadcast
  shape using NumPy strides (``run_elementwise`` / ``run_reduction``).
- Builds are cached by content hash under ``$AUTOGRAD_GPU_CACHE_DIR/emu`` (default ``~/.cache/autograd_gpu``),
  with a precompiled cuda_emu.h per flag set.
- ``AUTOGRAD_GPU_EMU_SANITIZE=address`` builds with AddressSanitizer (separate cache entries); the
  interpreter must then run with ``LD_PRELOAD=$(g++ -print-file-name=libasan.so)`` and
  ``ASAN_OPTIONS=detect_leaks=0``. Fiber switches are annotated for ASan
  (``__sanitizer_start/finish_switch_fiber``), so fiber stacks are checked like any other stack.

Packaging: the three ``cuda_emu*.h`` headers must ship as package data.
"""
from ._build import EmulatorBuildError, EmulatorError, cache_dir  # noqa: F401
from ._raw import Function, RawModule  # noqa: F401
from ._xwise import run_elementwise, run_reduction  # noqa: F401
