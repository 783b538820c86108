// cuda_emu.h: the CUDA built-ins, so that kernel sources written for NVRTC compile with g++ and run on
// the CPU. Threads of a block are fibers on one OS thread, run one block at a time: deterministic, and a
// barrier or warp collective that not every thread reaches is reported instead of hanging.
// Errors never abort: they are recorded and returned to Python (see run_grid).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cmath>
#include <math.h>
#include <type_traits>
#include <utility>
#include <setjmp.h>
#include <ucontext.h>
#include <sys/mman.h>
#include <pthread.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/asan_interface.h>
#endif

#define CUDA_EMULATOR 1
#ifndef __CUDA_ARCH__
#define __CUDA_ARCH__ 800
#endif
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define __align__(n) alignas(n)
#define __constant__
#define __managed__
// One block runs at a time under a mutex, so a function-local static is exactly block-shared storage.
#define __shared__ static

struct uint3 { unsigned x, y, z; };
struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
#define CUDA_EMU_VEC2(T, N) struct alignas(2 * sizeof(T)) N { T x, y; }; \
    inline N make_##N(T x, T y) { return N{x, y}; }
#define CUDA_EMU_VEC4(T, N) struct alignas(4 * sizeof(T)) N { T x, y, z, w; }; \
    inline N make_##N(T x, T y, T z, T w) { return N{x, y, z, w}; }
CUDA_EMU_VEC2(float, float2) CUDA_EMU_VEC4(float, float4) CUDA_EMU_VEC2(double, double2)
CUDA_EMU_VEC2(int, int2) CUDA_EMU_VEC4(int, int4)
CUDA_EMU_VEC2(unsigned, uint2) CUDA_EMU_VEC4(unsigned, uint4)

#include "cuda_emu_math.h"
#include "cuda_emu_fibers.h"

#define threadIdx (static_cast<const uint3&>(::cuda_emu::g_tid))
#define blockIdx (static_cast<const uint3&>(::cuda_emu::g_bid))
#define blockDim (static_cast<const dim3&>(::cuda_emu::g_bdim))
#define gridDim (static_cast<const dim3&>(::cuda_emu::g_gdim))
constexpr int warpSize = 32;
#define __syncthreads() ((void)::cuda_emu::sync_block(0, __FILE__, __LINE__))
#define __syncthreads_count(p) (::cuda_emu::sync_block((p) != 0, __FILE__, __LINE__))
#define __syncthreads_or(p) (::cuda_emu::sync_block((p) != 0, __FILE__, __LINE__) != 0)
#define __syncthreads_and(p) \
    (::cuda_emu::sync_block((p) != 0, __FILE__, __LINE__) == (int)::cuda_emu::L.n)
#define __syncwarp(...) ::cuda_emu::syncwarp_at(__FILE__, __LINE__ __VA_OPT__(,) __VA_ARGS__)
#define __shfl_sync(...) ::cuda_emu::shfl_at(__FILE__, __LINE__, ::cuda_emu::W_IDX, __VA_ARGS__)
#define __shfl_up_sync(...) ::cuda_emu::shfl_at(__FILE__, __LINE__, ::cuda_emu::W_UP, __VA_ARGS__)
#define __shfl_down_sync(...) ::cuda_emu::shfl_at(__FILE__, __LINE__, ::cuda_emu::W_DOWN, __VA_ARGS__)
#define __shfl_xor_sync(...) ::cuda_emu::shfl_at(__FILE__, __LINE__, ::cuda_emu::W_XOR, __VA_ARGS__)
#define __ballot_sync(m, p) ::cuda_emu::ballot_at(__FILE__, __LINE__, m, p)
#define __any_sync(m, p) (::cuda_emu::ballot_at(__FILE__, __LINE__, m, p) != 0u)
#define __all_sync(m, p) \
    (::cuda_emu::ballot_at(__FILE__, __LINE__, m, p) == ((m) & ::cuda_emu::lanes_present()))
#define __activemask() (::cuda_emu::lanes_present())
#define __threadfence() ((void)0)
#define __threadfence_block() ((void)0)
#define __trap() ::cuda_emu::fail("__trap() called in device code")
#undef assert
#define assert(e) ((e) ? (void)0 : ::cuda_emu::fail_assert(#e, __FILE__, __LINE__))

// Fibers never preempt each other, so even a plain read-modify-write is atomic here; the add/exchange/bit
// operations are real atomics anyway (cuda_emu::atomic_rmw), correct should blocks ever run in parallel.
#define Arg ::std::type_identity_t
template <class T> inline T atomicAdd(T* p, Arg<T> v) { return ::cuda_emu::atomic_rmw(p, v, 0); }
template <class T> inline T atomicExch(T* p, Arg<T> v) { return ::cuda_emu::atomic_rmw(p, v, 1); }
template <class T> inline T atomicSub(T* p, Arg<T> v) { return ::cuda_emu::atomic_rmw(p, v, 2); }
template <class T> inline T atomicAnd(T* p, Arg<T> v) { return ::cuda_emu::atomic_rmw(p, v, 3); }
template <class T> inline T atomicOr(T* p, Arg<T> v) { return ::cuda_emu::atomic_rmw(p, v, 4); }
template <class T> inline T atomicXor(T* p, Arg<T> v) { return ::cuda_emu::atomic_rmw(p, v, 5); }
template <class T> inline T atomicMax(T* p, Arg<T> v) { T o = *p; if (o < v) *p = v; return o; }
template <class T> inline T atomicMin(T* p, Arg<T> v) { T o = *p; if (v < o) *p = v; return o; }
template <class T> inline T atomicCAS(T* p, Arg<T> cmp, Arg<T> v) {
    T o = *p;
    if (o == cmp) *p = v;
    return o;
}
#undef Arg

namespace cuda_emu {
// CuPy's CArray as elementwise/reduction kernels see a `raw` parameter: x[i] is the i-th element in C order
// whatever the strides; meta holds ndim, shape[ndim], strides[ndim] (bytes, as NumPy).
template <class T> struct CArray {
    T* data_;
    int ndim;
    const long long *shape_, *strides_;
    ptrdiff_t size_ = 1;
    bool contiguous_ = true;
    CArray(void* p, const long long* meta)
        : data_(static_cast<T*>(p)), ndim((int)meta[0]), shape_(meta + 1), strides_(meta + 1 + meta[0]) {
        long long expect = sizeof(T);
        for (int d = ndim - 1; d >= 0; --d) {
            size_ *= shape_[d];
            if (shape_[d] != 1 && strides_[d] != expect) contiguous_ = false;
            expect *= shape_[d];
        }
    }
    ptrdiff_t size() const { return size_; }
    const ptrdiff_t* shape() const { return reinterpret_cast<const ptrdiff_t*>(shape_); }
    const ptrdiff_t* strides() const { return reinterpret_cast<const ptrdiff_t*>(strides_); }
    T* data() const { return data_; }
    T& operator[](ptrdiff_t i) const {
        if (contiguous_) return data_[i];
        char* p = reinterpret_cast<char*>(data_);
        for (int d = ndim - 1; d >= 0; --d) p += (i % shape_[d]) * strides_[d], i /= shape_[d];
        return *reinterpret_cast<T*>(p);
    }
    T& operator[](const ptrdiff_t* idx) const {
        char* p = reinterpret_cast<char*>(data_);
        for (int d = 0; d < ndim; ++d) p += idx[d] * strides_[d];
        return *reinterpret_cast<T*>(p);
    }
};
struct CIndexer {
    ptrdiff_t n;
    ptrdiff_t size() const { return n; }
};
}  // namespace cuda_emu
