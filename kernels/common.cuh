// Shared helpers for every kernel: types, math dispatch, block reductions, grid-stride loops.
// Compiled by NVRTC (real GPU, compile gate) and by g++ through the CUDA emulation header, so only
// CUDA-portable constructs are used here: no INFINITY / HUGE_VAL macros, no <cstdint>, no rsqrtf.
#pragma once
#ifndef CUDA_EMULATOR  // the emulation header (autograd_gpu/testing/cuda_emulator) defines __half itself
#include <cuda_fp16.h>
#endif

typedef long long i64;          // every element index: tensors may pass 2^31 elements
typedef unsigned int u32;
typedef unsigned long long u64;

// Accumulation type: half math runs in float (fp16 sums of 4096 terms overflow / lose digits);
// float stays float; double stays double. The primary template also covers CuPy's `float16` class,
// which only exists inside CuPy-generated elementwise kernels.
template <typename T> struct acc_type { typedef float type; };
template <> struct acc_type<double> { typedef double type; };
template <typename T> using acc_t = typename acc_type<T>::type;

// Loads convert to the accumulation type, stores round back (round-to-nearest for half).
__device__ __forceinline__ float to_acc(float v) { return v; }
__device__ __forceinline__ double to_acc(double v) { return v; }
__device__ __forceinline__ float to_acc(__half v) { return __half2float(v); }

template <typename T> struct store_cvt {
    __device__ __forceinline__ static T from(float v) { return static_cast<T>(v); }
    __device__ __forceinline__ static T from(double v) { return static_cast<T>(v); }
};
template <> struct store_cvt<__half> {
    __device__ __forceinline__ static __half from(float v) { return __float2half(v); }
    __device__ __forceinline__ static __half from(double v) { return __float2half(static_cast<float>(v)); }
};
template <typename T, typename A> __device__ __forceinline__ T from_acc(A v) { return store_cvt<T>::from(v); }

// Math dispatch by precision: float calls the `f` variant so float kernels never silently promote to
// double (10-30x slower on consumer GPUs), double keeps full precision.
namespace ag {
__device__ __forceinline__ float exp_(float v) { return expf(v); }
__device__ __forceinline__ double exp_(double v) { return exp(v); }
__device__ __forceinline__ float expm1_(float v) { return expm1f(v); }
__device__ __forceinline__ double expm1_(double v) { return expm1(v); }
__device__ __forceinline__ float log_(float v) { return logf(v); }
__device__ __forceinline__ double log_(double v) { return log(v); }
__device__ __forceinline__ float log1p_(float v) { return log1pf(v); }
__device__ __forceinline__ double log1p_(double v) { return log1p(v); }
__device__ __forceinline__ float tanh_(float v) { return tanhf(v); }
__device__ __forceinline__ double tanh_(double v) { return tanh(v); }
__device__ __forceinline__ float erf_(float v) { return erff(v); }
__device__ __forceinline__ double erf_(double v) { return erf(v); }
__device__ __forceinline__ float erfc_(float v) { return erfcf(v); }
__device__ __forceinline__ double erfc_(double v) { return erfc(v); }
__device__ __forceinline__ float sqrt_(float v) { return sqrtf(v); }
__device__ __forceinline__ double sqrt_(double v) { return sqrt(v); }
__device__ __forceinline__ float abs_(float v) { return fabsf(v); }
__device__ __forceinline__ double abs_(double v) { return fabs(v); }
__device__ __forceinline__ float fma_(float a, float b, float c) { return fmaf(a, b, c); }
__device__ __forceinline__ double fma_(double a, double b, double c) { return fma(a, b, c); }

// max that propagates NaN like torch.max / softmax (fmaxf would drop it).
template <typename A> __device__ __forceinline__ A max_(A a, A b) { return (a > b || a != a) ? a : b; }
template <typename A> __device__ __forceinline__ A min_(A a, A b) { return (a < b || a != a) ? a : b; }
// Most negative finite value: identity of max without needing an infinity constant under NVRTC.
template <typename A> __device__ __forceinline__ A lowest();
template <> __device__ __forceinline__ float lowest<float>() { return -3.402823466e+38f; }
template <> __device__ __forceinline__ double lowest<double>() { return -1.7976931348623157e+308; }
// Quiet NaN computed at run time (no NAN macro under NVRTC; 0/0 literals draw warnings).
template <typename A> __device__ __forceinline__ A nan_() { return sqrt_(A(-1)); }
}  // namespace ag

// ---- grid-stride loops (64-bit: blockIdx.x * blockDim.x overflows int past 2^31 elements) ----
__device__ __forceinline__ i64 global_thread_id() {
    return static_cast<i64>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ i64 grid_stride() { return static_cast<i64>(blockDim.x) * gridDim.x; }
#define AG_GRID_STRIDE_LOOP(i, n) for (i64 i = global_thread_id(); i < (n); i += grid_stride())
// One block per row, rows strided by the grid (the loop bound is uniform across the block, so
// block reductions / __syncthreads inside the body are safe).
#define AG_BLOCK_ROW_LOOP(row, nrows) for (i64 row = blockIdx.x; row < (nrows); row += gridDim.x)

// ---- reductions. Block sizes are always multiples of 32 (full-mask shuffles need whole warps). ----
struct SumOp {
    template <typename A> __device__ __forceinline__ A operator()(A a, A b) const { return a + b; }
};
struct MaxOp {
    template <typename A> __device__ __forceinline__ A operator()(A a, A b) const { return ag::max_(a, b); }
};

template <typename A, typename Op> __device__ __forceinline__ A warp_reduce(A v, Op op) {
    for (int off = 16; off > 0; off >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, off));
    return v;
}

// Block-wide reduction, result returned to every thread. `buf` holds >= 32 values in shared memory.
// The leading barrier lets a kernel call this back-to-back with the same buffer: no thread may
// overwrite buf[] while another still reads the previous result.
template <typename A, typename Op> __device__ A block_reduce(A v, Op op, A identity, A* buf) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = (blockDim.x + 31) >> 5;
    v = warp_reduce(v, op);
    __syncthreads();
    if (lane == 0) buf[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = warp_reduce(lane < nwarps ? buf[lane] : identity, op);
        if (lane == 0) buf[0] = v;
    }
    __syncthreads();
    return buf[0];
}
template <typename A> __device__ __forceinline__ A block_sum(A v, A* buf) {
    return block_reduce(v, SumOp(), A(0), buf);
}
template <typename A> __device__ __forceinline__ A block_max(A v, A* buf) {
    return block_reduce(v, MaxOp(), ag::lowest<A>(), buf);
}

// ---- online log-sum-exp (one pass: running max m and sum s of exp(x - m)) ----
template <typename A> struct MaxSum {
    A m, s;
};
template <typename A> __device__ __forceinline__ MaxSum<A> maxsum_merge(MaxSum<A> a, MaxSum<A> b) {
    const A m = ag::max_(a.m, b.m);
    // exp(lowest - m) underflows to 0, so empty partials (s == 0) merge exactly.
    MaxSum<A> r = {m, a.s * ag::exp_(a.m - m) + b.s * ag::exp_(b.m - m)};
    return r;
}
template <typename A> __device__ __forceinline__ MaxSum<A> maxsum_add(MaxSum<A> a, A x) {
    if (x > a.m) {  // rescale the running sum only when the max moves (rare after the first values)
        a.s = a.s * ag::exp_(a.m - x) + A(1);
        a.m = x;
    } else {
        a.s += ag::exp_(x - a.m);
    }
    return a;
}
template <typename A> __device__ MaxSum<A> block_maxsum(MaxSum<A> v, A* buf_m, A* buf_s) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = (blockDim.x + 31) >> 5;
    for (int off = 16; off > 0; off >>= 1) {
        MaxSum<A> o = {__shfl_xor_sync(0xffffffffu, v.m, off), __shfl_xor_sync(0xffffffffu, v.s, off)};
        v = maxsum_merge(v, o);
    }
    __syncthreads();
    if (lane == 0) { buf_m[warp] = v.m; buf_s[warp] = v.s; }
    __syncthreads();
    if (warp == 0) {
        MaxSum<A> w = {ag::lowest<A>(), A(0)};
        if (lane < nwarps) { w.m = buf_m[lane]; w.s = buf_s[lane]; }
        for (int off = 16; off > 0; off >>= 1) {
            MaxSum<A> o = {__shfl_xor_sync(0xffffffffu, w.m, off), __shfl_xor_sync(0xffffffffu, w.s, off)};
            w = maxsum_merge(w, o);
        }
        if (lane == 0) { buf_m[0] = w.m; buf_s[0] = w.s; }
    }
    __syncthreads();
    MaxSum<A> r = {buf_m[0], buf_s[0]};
    return r;
}
