"""The CUDA-on-CPU emulator: CuPy-style elementwise/reduction kernels and raw CUDA modules run on NumPy
arrays through g++, checked against NumPy in float64. The kernels are defined here (not in kernels/) and
kept out of the kernel registry; test_nvrtc.py compiles the same ones with NVRTC."""
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

if shutil.which(os.environ.get("CXX", "g++")) is None:
    pytest.skip("the CUDA emulator needs g++ (C++20)", allow_module_level=True)

from autograd_gpu.backend import _cupy  # noqa: E402
from autograd_gpu.backend import kernels as K  # noqa: E402
from autograd_gpu.backend.device import Device  # noqa: E402
from autograd_gpu.testing import cuda_emulator as emulator  # noqa: E402
from autograd_gpu.testing.cuda_emulator import EmulatorError  # noqa: E402

EMU = Device("cuda_emulated")
TOL = {np.float16: 2e-2, np.float32: 1e-5, np.float64: 1e-12}
# The same checks run on a real GPU when there is one (CuPy kernels from the same sources).
DEVICES = ["cuda_emulated"] + (["cuda"] if _cupy.gpu_count() > 0 else [])


@pytest.fixture(params=DEVICES)
def dev(request):
    return Device(request.param)


def put(dev, a):
    return dev.xp.asarray(a)


def get(a) -> np.ndarray:
    return a.get() if hasattr(a, "get") else np.asarray(a)

HEADER = textwrap.dedent("""\
    #pragma once
    __device__ __forceinline__ float softplus_f(float x) { return x > 20.0f ? x : log1pf(expf(x)); }
    """)

AXPY = K.elementwise("T x, T y, T alpha", "T z", "z = alpha * x + y", "test_axpy", register=False)
SHIFT = K.elementwise("raw T x, int32 shift", "T y", "y = x[(i + shift) % _ind.size()]", "test_roll",
                      register=False)
SUM_AXIS = K.reduction("T x", "T y", "x", "a + b", "y = a", "0", "test_sum_axis", register=False)
SUMSQ_SCALED = K.reduction("T x, T scale", "T y", "x * x", "a + b", "y = a * scale", "0", "test_sumsq",
                           reduce_type="double", register=False)

ROW_SUM_SRC = r"""
#include <cuda_fp16.h>
// One block per row: grid-stride accumulate in float/double, warp shuffles, then one value per warp
// through dynamic shared memory.
template <typename T> struct Acc { typedef float type; };
template <> struct Acc<double> { typedef double type; };

template <typename T>
__global__ void row_sum(const T* __restrict__ x, T* __restrict__ out, int n) {
    typedef typename Acc<T>::type A;
    extern __shared__ __align__(16) unsigned char smem[];
    A* warp_sums = reinterpret_cast<A*>(smem);
    const T* row = x + (long long)blockIdx.x * n;
    A v = 0;
    for (int j = threadIdx.x; j < n; j += blockDim.x) v += static_cast<A>(row[j]);
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    if ((threadIdx.x & 31) == 0) warp_sums[threadIdx.x / 32] = v;
    __syncthreads();
    if (threadIdx.x < 32) {
        v = threadIdx.x < blockDim.x / 32 ? warp_sums[threadIdx.x] : A(0);
        for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
        if (threadIdx.x == 0) out[blockIdx.x] = static_cast<T>(v);
    }
}

// 2-d blocks and a static shared tile (+1 column against bank conflicts).
__global__ void transpose32(const float* __restrict__ x, float* __restrict__ y, int rows, int cols) {
    __shared__ float tile[32][33];
    int c = blockIdx.x * 32 + threadIdx.x, r = blockIdx.y * 32 + threadIdx.y;
    if (r < rows && c < cols) tile[threadIdx.y][threadIdx.x] = x[r * cols + c];
    __syncthreads();
    c = blockIdx.y * 32 + threadIdx.x, r = blockIdx.x * 32 + threadIdx.y;
    if (r < cols && c < rows) y[r * rows + c] = tile[threadIdx.x][threadIdx.y];
}

template <typename T>
__global__ void scatter_add(const T* __restrict__ src, const long long* __restrict__ index, T* out,
                            int n, int d) {
    long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (k < (long long)n * d) atomicAdd(&out[index[k / d] * d + k % d], src[k]);
}
"""
ROW_SUM = K.raw_module("test_row_sum.cu", ("row_sum<float>", "row_sum<double>", "row_sum<__half>",
                                           "transpose32", "scatter_add<float>", "scatter_add<double>"),
                       code=ROW_SUM_SRC, register=False)

BAD_SRC = r"""
__global__ void divergent_barrier(float* y) {
    if (threadIdx.x < 16) __syncthreads();   // half the block waits for threads that have exited
    y[threadIdx.x] = 1.0f;
}
__global__ void split_barrier(float* y) {
    if (threadIdx.x % 2) { y[threadIdx.x] = 1.0f; __syncthreads(); }
    else { __syncthreads(); y[threadIdx.x] = 2.0f; }
}
__global__ void lane_exits_before_shuffle(float* y) {
    if (threadIdx.x == 3) return;
    y[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.0f, 1);
}
__global__ void device_assert(const int* x) { assert(x[threadIdx.x] >= 0); }
__global__ void fill(float* y, int n, float v) { int i = threadIdx.x; if (i < n) y[i] = v; }
"""

BUILTINS_SRC = r"""
#include <cuda_fp16.h>
// One block of 64 threads: block/warp votes, shuffles with widths, atomics, math the emulator supplies.
__global__ void builtins(const float* x, int* ints, float* floats, unsigned long long* count) {
    int t = threadIdx.x, lane = t & 31;
    int cnt = __syncthreads_count(t % 3 == 0), any = __syncthreads_or(t == 5);
    int all = __syncthreads_and(t < 64);
    unsigned ballot = __ballot_sync(0xffffffffu, lane & 1);
    bool wany = __any_sync(0xffffffffu, lane == 7), wall = __all_sync(0xffffffffu, lane < 32);
    floats[t] = __shfl_up_sync(0xffffffffu, x[t], 1);
    floats[64 + t] = __shfl_sync(0xffffffffu, x[t], 3, 8);
    floats[128 + t] = __shfl_down_sync(0xffffffffu, x[t], 4, 16);
    __syncwarp();
    if (t == 0) {
        ints[0] = cnt; ints[1] = any; ints[2] = all; ints[3] = (int)ballot; ints[4] = wany; ints[5] = wall;
    }
    atomicMax(&ints[6], t);
    atomicMin(&ints[7], -t);
    atomicAdd(count, 1ull);
    atomicCAS(&ints[8], 0, 42);
    atomicOr(&ints[9], 1 << (t % 31));
    if (t == 1) {
        floats[192] = rsqrtf(4.0f); floats[193] = normcdff(0.0f); floats[194] = erfinvf(0.5f);
        floats[195] = __int_as_float(__float_as_int(1.5f)); floats[196] = (float)__popc(0xF0F0u);
        floats[197] = fminf(2.0f, 3.5f); floats[198] = __saturatef(1.7f);
        floats[199] = __half2float(__float2half(0.1f));
    }
}
__global__ void read_uninit_shared(float* y) {
    extern __shared__ float s[];
    y[threadIdx.x] = s[threadIdx.x];  // bug on purpose: never written
}
"""
BUILTINS = K.raw_module("test_builtins.cu", ("builtins", "read_uninit_shared"), code=BUILTINS_SRC,
                        register=False)
BAD = K.raw_module("test_bad.cu", ("divergent_barrier", "split_barrier", "lane_exits_before_shuffle",
                                   "device_assert", "fill"), code=BAD_SRC, register=False)

# Registered with the test header (absolute path: headers are normally names in kernels/).
ALL_KERNELS = [AXPY, SHIFT, SUM_AXIS, SUMSQ_SCALED, ROW_SUM, BUILTINS]


@pytest.fixture(scope="module")
def softplus_kernel(tmp_path_factory):
    header = tmp_path_factory.mktemp("kernels") / "test_softplus.cuh"
    header.write_text(HEADER)
    return K.elementwise("T x", "T y", "y = T(softplus_f(float(x)))", "test_softplus", headers=(str(header),),
                         register=False)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_elementwise_broadcast_noncontiguous_scalar(dev, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 5)).astype(dtype)
    y = rng.standard_normal((5, 8)).astype(dtype).T[::2]  # (4, 5), neither C nor F contiguous
    z = AXPY(dev, put(dev, x), put(dev, y), 0.5)  # Python scalar: cast to T like CuPy
    assert z.shape == (3, 4, 5) and z.dtype == dtype
    ref = 0.5 * x.astype(np.float64) + y.astype(np.float64)
    np.testing.assert_allclose(get(z).astype(np.float64), ref, rtol=TOL[dtype], atol=TOL[dtype])
    out = put(dev, np.empty((3, 4, 5), dtype))
    assert AXPY(dev, put(dev, x), put(dev, y[None]), dtype(2), out) is out  # explicit output
    np.testing.assert_allclose(get(out).astype(np.float64), 2 * x.astype(np.float64) + y, rtol=TOL[dtype],
                               atol=TOL[dtype])


def test_elementwise_raw_param_and_size(dev):
    x = np.arange(20, dtype=np.float32)[::2]  # raw, non-contiguous
    y = SHIFT(dev, put(dev, x), np.int32(3), size=x.size)
    np.testing.assert_array_equal(get(y), np.roll(x, -3))


def test_elementwise_header(dev, softplus_kernel):
    x = np.linspace(-30, 30, 101, dtype=np.float32)
    np.testing.assert_allclose(get(softplus_kernel(dev, put(dev, x))), np.logaddexp(0, x.astype(np.float64)),
                               rtol=1e-6)


def test_elementwise_cupy_errors():
    x = np.ones(3, np.float32)
    with pytest.raises(TypeError, match="mismatched"):
        AXPY(EMU, x, x.astype(np.float64), 1.0)
    with pytest.raises(ValueError, match="undecided"):
        SHIFT(EMU, x, np.int32(1))
    with pytest.raises(ValueError, match="device"):
        AXPY(Device("cpu"), x, x, 1.0)


@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduction_axis_keepdims(dev, axis, keepdims):
    x = np.random.default_rng(1).standard_normal((4, 6, 10)).astype(np.float32)[:, ::-1, ::2]
    got = SUM_AXIS(dev, put(dev, x), axis=axis, keepdims=keepdims)
    ref = x.astype(np.float64).sum(axis=axis, keepdims=keepdims)
    assert got.shape == ref.shape and got.dtype == np.float32
    np.testing.assert_allclose(get(got), ref, rtol=1e-5, atol=1e-5)


def test_reduction_scalar_reduce_type_and_empty(dev):
    x = np.random.default_rng(2).standard_normal((7, 3))
    got = SUMSQ_SCALED(dev, put(dev, x), 0.5, axis=0)
    np.testing.assert_allclose(get(got), 0.5 * (x**2).sum(0), rtol=1e-13)
    np.testing.assert_array_equal(get(SUM_AXIS(dev, put(dev, np.zeros((0, 3))), axis=0)), np.zeros(3))


@pytest.mark.parametrize("ctype,dtype", [("float", np.float32), ("double", np.float64),
                                         ("__half", np.float16)])
def test_raw_block_reduction_template(dev, ctype, dtype):
    rows, n = 5, 1000
    x = (np.random.default_rng(3).random((rows, n)) - 0.5).astype(dtype)
    out = put(dev, np.zeros(rows, dtype))
    block = 256
    ROW_SUM.get_function(f"row_sum<{ctype}>")(dev, (rows,), (block,), (put(dev, x), out, np.int32(n)),
                                               shared_mem=block // 32 * np.dtype(dtype).itemsize * 2)
    ref = x.astype(np.float64).sum(1)
    np.testing.assert_allclose(get(out).astype(np.float64), ref, rtol=TOL[dtype], atol=TOL[dtype] * 10)


def test_raw_2d_blocks_static_shared(dev):
    x = np.random.default_rng(4).random((70, 45)).astype(np.float32)
    y = put(dev, np.empty((45, 70), np.float32))
    ROW_SUM.get_function("transpose32")(dev, (2, 3), (32, 32), (put(dev, x), y, np.int32(70), np.int32(45)))
    np.testing.assert_array_equal(get(y), x.T)


@pytest.mark.parametrize("ctype,dtype", [("float", np.float32), ("double", np.float64)])
def test_atomic_scatter_add(dev, ctype, dtype):
    rng = np.random.default_rng(5)
    n, d, m = 300, 3, 7
    src, index = rng.standard_normal((n, d)).astype(dtype), rng.integers(0, m, n)
    out = put(dev, np.zeros((m, d), dtype))
    args = (put(dev, src), put(dev, index), out, np.int32(n), np.int32(d))
    ROW_SUM.get_function(f"scatter_add<{ctype}>")(dev, ((n * d + 127) // 128,), (128,), args)
    ref = np.zeros((m, d))
    np.add.at(ref, index, src.astype(np.float64))
    np.testing.assert_allclose(get(out), ref, rtol=TOL[dtype] * 10, atol=TOL[dtype] * 10)


def test_builtins(dev):
    x = np.arange(64, dtype=np.float32) * 10
    ints, floats = put(dev, np.zeros(16, np.int32)), put(dev, np.zeros(200, np.float32))
    count = put(dev, np.zeros(1, np.uint64))
    BUILTINS.get_function("builtins")(dev, 1, 64, (put(dev, x), ints, floats, count))
    ints, floats, lane = get(ints), get(floats), np.arange(64) % 32
    assert list(ints[:6]) == [22, 1, 1, np.int32(np.uint32(0xAAAAAAAA).view(np.int32)), 1, 1]
    assert list(ints[6:10]) == [63, -63, 42, 0x7FFFFFFF] and get(count)[0] == 64
    np.testing.assert_array_equal(floats[:64], np.where(lane == 0, x, np.roll(x, 1)))
    np.testing.assert_array_equal(floats[64:128], x[np.arange(64) // 8 * 8 + 3])
    np.testing.assert_array_equal(floats[128:192], np.where(lane % 16 + 4 < 16, np.roll(x, -4), x))
    np.testing.assert_allclose(floats[192:200], [0.5, 0.5, 0.4769363, 1.5, 8, 2, 1, 0.099975586], rtol=1e-6)


def test_uninitialised_shared_memory_reads_nan():
    y = np.zeros(32, np.float32)
    BUILTINS.get_function("read_uninit_shared")(EMU, 1, 32, (y,), shared_mem=32 * 4)
    assert np.isnan(y).all()


@pytest.mark.parametrize("name,match", [("divergent_barrier", "divergent __syncthreads.*exited"),
                                        ("split_barrier", "divergent __syncthreads.*test_bad.cu:7"),
                                        ("lane_exits_before_shuffle", "warp collective.*exited")])
def test_divergence_raises_and_module_recovers(name, match):
    y = np.zeros(64, np.float32)
    with pytest.raises(EmulatorError, match=match):
        BAD.get_function(name)(EMU, 1, 64, (y,))
    BAD.get_function("fill")(EMU, 1, 64, (y, np.int32(64), np.float32(7)))  # later launches still work
    assert (y == 7).all()


def test_device_assert_and_launch_checks():
    fill, y = BAD.get_function("fill"), np.zeros(8, np.float32)
    with pytest.raises(EmulatorError, match=r"assert failed.*x\[threadIdx.x\] >= 0"):
        BAD.get_function("device_assert")(EMU, 1, 4, (np.array([1, 2, -3, 4], np.int32),))
    for grid, block, smem in [(1, 2048, 0), (0, 32, 0), (1, (8, 8, 128), 0), (1, 32, 64 * 1024)]:
        with pytest.raises(EmulatorError, match="CUDA_ERROR_INVALID_VALUE"):
            fill(EMU, grid, block, (y, np.int32(8), np.float32(1)), shared_mem=smem)
    with pytest.raises(TypeError, match="4-byte float but got float64"):
        fill(EMU, 1, 8, (y, np.int32(8), 1.0))  # CuPy would pass a Python float as a double
    with pytest.raises(TypeError, match="takes 3 arguments"):
        fill(EMU, 1, 8, (y, np.int32(8)))
    fill(EMU, 1, 8, (y, 8, np.float32(3)))  # a Python int that fits an int parameter is fine (as on a GPU)
    assert (y == 3).all()


ASAN_SCRIPT = r"""
import importlib.util
import sys
import numpy as np
# The emulator package on its own: autograd_gpu/__init__ imports far more, and slowly under ASan.
path = sys.argv[1]
spec = importlib.util.spec_from_file_location("cuda_emulator", path + "/__init__.py",
                                              submodule_search_locations=[path])
emu = sys.modules["cuda_emulator"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(emu)
src = '''
__global__ void copy_off_by_one(const float* x, float* y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i <= n) y[i] = x[i];   // reads and writes one past the end
}
__global__ void block_scale(const float* x, float* y, int n) {
    extern __shared__ float s[];
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    s[threadIdx.x] = i < n ? x[i] : 0.0f;
    __syncthreads();
    if (i < n) y[i] = 2.0f * s[blockDim.x - 1 - threadIdx.x];
}
'''
mod = emu.RawModule(src, ("copy_off_by_one", "block_scale"), filename="asan_test.cu")
n = 1000
x, y = np.arange(n, dtype=np.float32), np.zeros(n, np.float32)
mod.get_function(sys.argv[2])((n + 255) // 256, 256, (x, y, np.int32(n)), shared_mem=256 * 4)
print("KERNEL_OK", float(y.sum()))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="AddressSanitizer preload is Linux-only")
def test_address_sanitizer_catches_out_of_bounds(tmp_path):
    cxx = os.environ.get("CXX", "g++")
    libasan = subprocess.run([cxx, "-print-file-name=libasan.so"], capture_output=True,
                             text=True).stdout.strip()
    if not os.path.isabs(libasan) or not os.path.exists(libasan):
        pytest.skip("libasan is not installed")
    script = tmp_path / "asan_run.py"
    script.write_text(ASAN_SCRIPT)
    env = dict(os.environ, AUTOGRAD_GPU_EMU_SANITIZE="address", LD_PRELOAD=libasan,
               ASAN_OPTIONS="detect_leaks=0")
    package = os.path.dirname(emulator.__file__)

    def run(kernel):
        return subprocess.run([sys.executable, str(script), package, kernel], capture_output=True,
                              text=True, env=env, timeout=300)

    good = run("block_scale")  # fibers + barrier + dynamic shared memory: no false positives
    assert good.returncode == 0 and "KERNEL_OK" in good.stdout, good.stderr[-3000:]
    bad = run("copy_off_by_one")
    assert bad.returncode != 0 and "KERNEL_OK" not in bad.stdout
    assert "AddressSanitizer" in bad.stderr and "copy_off_by_one" in bad.stderr, bad.stderr[-3000:]
