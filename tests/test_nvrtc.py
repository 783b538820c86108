"""The NVRTC compile gate: every test kernel of test_emulator.py compiles for sm_80 and sm_90 with warnings
as errors, and what NVRTC rejects (but g++ on the emulator accepts) fails with the compiler log."""
import importlib.util
import os
import sys

import numpy as np
import pytest

from conftest import require_nvrtc

require_nvrtc(module_level=True)

from autograd_gpu.backend import kernels as K  # noqa: E402
from autograd_gpu.backend import nvrtc  # noqa: E402


def _load_emulator_tests():
    # The kernels under test are defined once, in test_emulator.py (whatever the tests dir's import mode).
    name = "test_emulator" if "test_emulator" in sys.modules else "_nvrtc_test_emulator"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, os.path.join(os.path.dirname(__file__),
                                                                     "test_emulator.py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


E = _load_emulator_tests()
ARCHS = ("sm_80", "sm_90")


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("kernel", E.ALL_KERNELS + [E.BAD], ids=lambda k: k.name)
def test_test_kernels_compile(kernel, arch):
    kernel.check_compiles(arch)


@pytest.mark.parametrize("arch", ARCHS)
def test_half_and_header_kernels_compile(arch, softplus_kernel):
    E.AXPY.check_compiles(arch, dtypes=("float16",))
    softplus_kernel.check_compiles(arch)


softplus_kernel = E.softplus_kernel  # the module-scoped fixture, shared


def test_cubin_and_sources():
    src = E.AXPY.cuda_source("float64")
    assert "typedef double T;" in src and "z = alpha * x + y" in src and "CUPY_FOR(i, _ind.size())" in src
    cubin = nvrtc.compile_cubin(E.ROW_SUM.cuda_source(), "sm_90", E.ROW_SUM.name_expressions)
    assert cubin[:4] == b"\x7fELF"
    assert "_sdata" in E.SUM_AXIS.cuda_source() and "typedef float T;" in E.SUM_AXIS.cuda_source()
    nvrtc.check_all([E.SHIFT, E.SUMSQ_SCALED], archs=("sm_80",))


INFINITY_SRC = r"""
__global__ void clamp_inf(float* y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = y[i] > 1e30f ? INFINITY : y[i];   // math.h macro: g++ has it, NVRTC does not
}
"""


def test_gate_rejects_what_the_emulator_accepts():
    mod = K.raw_module("clamp_inf.cu", ("clamp_inf",), code=INFINITY_SRC, register=False)
    y = np.array([1.0, 1e31], np.float32)
    from autograd_gpu.backend.device import Device
    mod.get_function("clamp_inf")(Device("cuda_emulated"), 1, 32, (y, np.int32(2)))
    assert np.isinf(y[1])  # fine on the CPU ...
    for arch in ARCHS:
        with pytest.raises(nvrtc.NvrtcError, match=r'(?s)clamp_inf.cu.*identifier "INFINITY" is undefined'):
            mod.check_compiles(arch)  # ... but a GPU build would fail


def test_gate_fails_on_warnings_and_bad_operations():
    unused = K.raw_module("unused.cu", ("k",), code="__global__ void k(float* y) { int unused = 1; }",
                          register=False)
    with pytest.raises(nvrtc.NvrtcError, match="declared but never referenced"):
        unused.check_compiles("sm_80")
    typo = K.elementwise("T x", "T y", "y = sigmoidd(x)", "test_typo", register=False)
    with pytest.raises(nvrtc.NvrtcError, match='identifier "sigmoidd" is undefined'):
        typo.check_compiles("sm_90")
    missing = K.raw_module("tmpl.cu", ("scale<int>",), code="template <typename T> __global__ void "
                           "scale(T* y) { y[threadIdx.x] *= 2; }", register=False)
    missing.check_compiles("sm_80")
    wrong_name = K.raw_module("tmpl.cu", ("scale2<int>",), code=missing.cuda_source(), register=False)
    with pytest.raises(nvrtc.NvrtcError):
        wrong_name.check_compiles("sm_80")
