"""Packages: everything under autograd_gpu/, plus the top-level kernels/ folder shipped as
autograd_gpu/_kernels so installed copies find the CUDA sources (metadata lives in pyproject.toml)."""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["autograd_gpu", "autograd_gpu.*"]) + ["autograd_gpu._kernels"],
    package_dir={"autograd_gpu._kernels": "kernels"},
    package_data={"autograd_gpu._kernels": ["*.cu", "*.cuh"], "autograd_gpu.testing.cuda_emulator": ["*.h", "*.cpp"]},
    include_package_data=False,
)
