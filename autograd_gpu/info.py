"""``python -m autograd_gpu.info``: what this machine offers autograd_gpu (GPU, CUDA, CuPy, NVRTC, g++)
and which devices the test suite will use."""
from __future__ import annotations

import platform
import shutil
import subprocess
import sys


def _nvrtc_version():
    try:
        from .backend import _cupy
        nvrtc = _cupy.import_nvrtc()
        major, minor = nvrtc.getVersion()
        return f"{major}.{minor}"
    except Exception as e:  # missing wheel, or CuPy absent
        return f"unavailable ({type(e).__name__}: {str(e).splitlines()[0][:80]})"


def _fastpath_state() -> str:
    from .autograd import node
    from .tensor import _fastpath
    if _fastpath is not None:
        return "in use"
    if node.fastpath_switched_off():
        return "off (AUTOGRAD_GPU_PURE_PYTHON is set)"
    return "not built (no C compiler at install: the same functions run in Python)"


def report() -> str:
    import numpy as np
    from . import __version__
    from .backend import _cupy
    from .testing.devices import test_devices
    lines = [f"autograd_gpu {__version__}  python {platform.python_version()}  numpy {np.__version__}"]
    cupy = _cupy.try_import_cupy()
    if cupy is None:
        lines.append("CuPy: not installed (CUDA device unavailable; pip install 'autograd_gpu[cuda12]' or [cuda13])")
    else:
        lines.append(f"CuPy: {cupy.__version__}")
        n = _cupy.gpu_count()
        if n:
            rt = cupy.cuda.runtime
            for i in range(n):
                p = rt.getDeviceProperties(i)
                lines.append(f"GPU {i}: {p['name'].decode()}  sm_{p['major']}{p['minor']}  "
                             f"{p['totalGlobalMem'] / 2**30:.1f} GiB")
            lines.append(f"CUDA runtime {rt.runtimeGetVersion()}  driver {rt.driverGetVersion()}")
        else:
            lines.append("GPU: none usable (cuda.is_available() is False)")
    lines.append(f"NVRTC: {_nvrtc_version()}")
    gxx = shutil.which("g++")
    if gxx:
        ver = subprocess.run([gxx, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
        lines.append(f"g++ (CUDA emulator): {ver}")
    else:
        lines.append("g++: not found (the emulated CUDA device is unavailable)")
    lines.append(f"C fast path (tensor construction, Op.apply/_record, backward loop, optimizer methods): {_fastpath_state()}")
    lines.append(f"test devices: {', '.join(test_devices())}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(report())
    sys.exit(0)
