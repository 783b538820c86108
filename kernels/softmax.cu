// softmax / log_softmax forward and backward over any dim, without a transpose.
// The tensor is viewed as (outer, dim, inner); row r = (o, k) holds elements at
// base + j * inner with base = o * dim * inner + k. One block per row, rows grid-strided.
// inner == 1 (last dim) is the common case and reads coalesced; inner > 1 reads with stride `inner`,
// still correct, and such rows are usually short.
// Launch: blockDim.x a multiple of 32, <= 1024; no dynamic shared memory.
#include "common.cuh"

__device__ __forceinline__ i64 softmax_row_base(i64 row, i64 dim, i64 inner) {
    const i64 o = row / inner, k = row - o * inner;
    return o * dim * inner + k;
}

// One read pass with the online max/sum, one write pass: y = exp(x - m) / s (log: x - m - log s).
template <typename T, bool LOG>
__device__ __forceinline__ void softmax_fwd_rows(const T* __restrict__ x, T* __restrict__ y, i64 outer,
                                                 i64 dim, i64 inner) {
    typedef acc_t<T> A;
    __shared__ A buf_m[32];
    __shared__ A buf_s[32];
    AG_BLOCK_ROW_LOOP(row, outer * inner) {
        const i64 base = softmax_row_base(row, dim, inner);
        MaxSum<A> ms = {ag::lowest<A>(), A(0)};
        for (i64 j = threadIdx.x; j < dim; j += blockDim.x) ms = maxsum_add(ms, to_acc(x[base + j * inner]));
        ms = block_maxsum(ms, buf_m, buf_s);
        if constexpr (LOG) {
            const A log_s = ag::log_(ms.s);  // (x - m) - log s: m + log s would round away log s at |m| ~ 1e4
            for (i64 j = threadIdx.x; j < dim; j += blockDim.x)
                y[base + j * inner] = from_acc<T>((to_acc(x[base + j * inner]) - ms.m) - log_s);
        } else {
            const A inv = A(1) / ms.s;
            for (i64 j = threadIdx.x; j < dim; j += blockDim.x)
                y[base + j * inner] = from_acc<T>(ag::exp_(to_acc(x[base + j * inner]) - ms.m) * inv);
        }
    }
}

template <typename T>
__global__ __launch_bounds__(1024) void softmax_fwd(
        const T* __restrict__ x, T* __restrict__ y, i64 outer, i64 dim, i64 inner) {
    softmax_fwd_rows<T, false>(x, y, outer, dim, inner);
}

template <typename T>
__global__ __launch_bounds__(1024) void log_softmax_fwd(
        const T* __restrict__ x, T* __restrict__ y, i64 outer, i64 dim, i64 inner) {
    softmax_fwd_rows<T, true>(x, y, outer, dim, inner);
}

// softmax:     gx = y * (gy - sum_j gy_j y_j)
template <typename T>
__global__ __launch_bounds__(1024) void softmax_bwd(
        const T* __restrict__ y, const T* __restrict__ gy, T* __restrict__ gx, i64 outer, i64 dim,
        i64 inner) {
    typedef acc_t<T> A;
    __shared__ A buf[32];
    AG_BLOCK_ROW_LOOP(row, outer * inner) {
        const i64 base = softmax_row_base(row, dim, inner);
        A dot = A(0);
        for (i64 j = threadIdx.x; j < dim; j += blockDim.x) {
            const i64 e = base + j * inner;
            dot += to_acc(gy[e]) * to_acc(y[e]);
        }
        dot = block_sum(dot, buf);
        for (i64 j = threadIdx.x; j < dim; j += blockDim.x) {
            const i64 e = base + j * inner;
            gx[e] = from_acc<T>(to_acc(y[e]) * (to_acc(gy[e]) - dot));
        }
    }
}

// log_softmax: gx = gy - exp(y) * sum_j gy_j
template <typename T>
__global__ __launch_bounds__(1024) void log_softmax_bwd(
        const T* __restrict__ y, const T* __restrict__ gy, T* __restrict__ gx, i64 outer, i64 dim,
        i64 inner) {
    typedef acc_t<T> A;
    __shared__ A buf[32];
    AG_BLOCK_ROW_LOOP(row, outer * inner) {
        const i64 base = softmax_row_base(row, dim, inner);
        A sum = A(0);
        for (i64 j = threadIdx.x; j < dim; j += blockDim.x) sum += to_acc(gy[base + j * inner]);
        sum = block_sum(sum, buf);
        for (i64 j = threadIdx.x; j < dim; j += blockDim.x) {
            const i64 e = base + j * inner;
            gx[e] = from_acc<T>(to_acc(gy[e]) - ag::exp_(to_acc(y[e])) * sum);
        }
    }
}
