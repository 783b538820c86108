"""Packages: everything under autograd_gpu/, plus the top-level kernels/ folder shipped as
autograd_gpu/_kernels so installed copies find the CUDA sources, and the optional C fast path built from
csrc/ (metadata lives in pyproject.toml)."""
from setuptools import Extension, find_packages, setup

setup(
    packages=find_packages(include=["autograd_gpu", "autograd_gpu.*"]) + ["autograd_gpu._kernels"],
    package_dir={"autograd_gpu._kernels": "kernels"},
    package_data={"autograd_gpu._kernels": ["*.cu", "*.cuh"], "autograd_gpu.testing.cuda_emulator": ["*.h", "*.cpp"]},
    include_package_data=False,
    # the per-op and per-step Python hot path in C (csrc/, see fastpath_core.c); optional: without a C compiler
    # the install goes on and the same functions run in Python
    ext_modules=[Extension("autograd_gpu._fastpath",
                           ["csrc/fastpath_core.c", "csrc/fastpath_methods.c", "csrc/fastpath_drain.c"],
                           depends=["csrc/fastpath.h"], optional=True)],
)
