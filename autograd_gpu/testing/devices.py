"""Which devices the test suite runs on: cpu, the emulated CUDA device, and a real GPU when present."""
from __future__ import annotations

import os


def test_devices() -> list[str]:
    """cpu and cuda_emulated always (cuda_emulated needs g++), cuda when a GPU is usable.

    AUTOGRAD_GPU_TEST_DEVICES=cpu,cuda overrides (e.g. to skip the emulator for a quick run)."""
    forced = os.environ.get("AUTOGRAD_GPU_TEST_DEVICES")
    if forced:
        return [d.strip() for d in forced.split(",") if d.strip()]
    import shutil
    from ..backend import _cupy
    devs = ["cpu"]
    if shutil.which(os.environ.get("CXX", "g++")):  # the emulator compiles kernels with g++
        devs.append("cuda_emulated")
    if _cupy.gpu_count() > 0:
        devs.append("cuda")
    return devs
