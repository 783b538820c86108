"""The one place that imports CuPy. Everything else asks this module for it, lazily.

Importing autograd_gpu must not import CuPy (import time and memory), and a machine without a GPU,
or without CuPy at all, must still work on the CPU: so nothing here runs at import time.
"""
from __future__ import annotations

import functools
import os

INSTALL_HINT = ("install CuPy for your CUDA version: pip install 'autograd_gpu[cuda12]' or "
                "'autograd_gpu[cuda13]'")


@functools.cache
def try_import_cupy():
    """CuPy module, or None if it is not installed (never raises)."""
    # CuPy writes compiled kernels under ~/.cupy by default; keep tests and CI out of $HOME.
    os.environ.setdefault("CUPY_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "autograd_gpu",
                                                         "cupy"))
    try:
        import cupy
    except Exception:  # ImportError, or a broken CUDA install raising at import
        return None
    return cupy


def import_cupy():
    """CuPy module, or a clear error saying what to install."""
    cupy = try_import_cupy()
    if cupy is None:
        raise RuntimeError(f"CUDA support needs CuPy, which is not installed: {INSTALL_HINT}")
    return cupy


@functools.cache
def gpu_count() -> int:
    """Number of usable CUDA GPUs; 0 when CuPy is missing or no driver/GPU is present (silently)."""
    cupy = try_import_cupy()
    if cupy is None:
        return 0
    try:
        if not cupy.cuda.is_available():
            return 0
        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:
        return 0


def import_nvrtc():
    """cupy.cuda.nvrtc: compiles CUDA C++ to CUBIN without a GPU (needs the nvidia-cuda-nvrtc wheel)."""
    import_cupy()
    from cupy.cuda import nvrtc
    return nvrtc
