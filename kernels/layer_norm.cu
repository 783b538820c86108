// LayerNorm over the last D elements of each of M contiguous rows:
//   y = (x - mean) * rstd * w + b,   rstd = 1 / sqrt(var + eps),   var biased (divide by D)
// mean and rstd are saved in the accumulation type (float for half), like PyTorch.
// The variance is two-pass (sum of (x - mean)^2 after the mean): E[x^2] - mean^2 cancels
// catastrophically when |mean| >> std. The second read of the row hits L1/L2.
// weight / bias are optional: has_weight / has_bias flags (the pointers are then never read).
#include "common.cuh"

// Launch: one block per row, blockDim.x a multiple of 32, <= 1024.
template <typename T>
__global__ __launch_bounds__(1024) void layer_norm_fwd(
        const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b, T* __restrict__ y,
        acc_t<T>* __restrict__ mean, acc_t<T>* __restrict__ rstd, i64 m, i64 d, acc_t<T> eps, int has_weight,
        int has_bias) { typedef acc_t<T> A; __shared__ A buf[32]; AG_BLOCK_ROW_LOOP(row, m) {
        const T* xr = x + row * d;
        T* yr = y + row * d;
        A s = A(0);
        for (i64 j = threadIdx.x; j < d; j += blockDim.x) s += to_acc(xr[j]);
        const A mu = block_sum(s, buf) / static_cast<A>(d);
        A sq = A(0);
        for (i64 j = threadIdx.x; j < d; j += blockDim.x) {
            const A v = to_acc(xr[j]) - mu;
            sq += v * v;
        }
        const A rs = A(1) / ag::sqrt_(block_sum(sq, buf) / static_cast<A>(d) + eps);
        if (threadIdx.x == 0) { mean[row] = mu; rstd[row] = rs; }
        for (i64 j = threadIdx.x; j < d; j += blockDim.x) {
            A v = (to_acc(xr[j]) - mu) * rs;
            if (has_weight) v *= to_acc(w[j]);
            if (has_bias) v += to_acc(b[j]);
            yr[j] = from_acc<T>(v);
        }
    }
}

// dx = rstd * (g - mean_j(g) - xhat * mean_j(g * xhat)),  g = gy * w,  xhat = (x - mean) * rstd
// Launch: one block per row, blockDim.x a multiple of 32, <= 1024.
template <typename T>
__global__ __launch_bounds__(1024) void layer_norm_bwd_input(
        const T* __restrict__ x, const T* __restrict__ gy, const T* __restrict__ w,
        const acc_t<T>* __restrict__ mean, const acc_t<T>* __restrict__ rstd, T* __restrict__ gx, i64 m,
        i64 d, int has_weight) {
    typedef acc_t<T> A;
    __shared__ A buf[32];
    AG_BLOCK_ROW_LOOP(row, m) {
        const T* xr = x + row * d;
        const T* gr = gy + row * d;
        const A mu = mean[row], rs = rstd[row];
        A s1 = A(0), s2 = A(0);
        for (i64 j = threadIdx.x; j < d; j += blockDim.x) {
            const A g = has_weight ? to_acc(gr[j]) * to_acc(w[j]) : to_acc(gr[j]);
            s1 += g;
            s2 += g * (to_acc(xr[j]) - mu) * rs;
        }
        const A inv_d = A(1) / static_cast<A>(d);
        const A mean_g = block_sum(s1, buf) * inv_d;
        const A mean_gx = block_sum(s2, buf) * inv_d;
        for (i64 j = threadIdx.x; j < d; j += blockDim.x) {
            const A g = has_weight ? to_acc(gr[j]) * to_acc(w[j]) : to_acc(gr[j]);
            const A xh = (to_acc(xr[j]) - mu) * rs;
            gx[row * d + j] = from_acc<T>(rs * (g - mean_g - xh * mean_gx));
        }
    }
}

// dw_j = sum_i gy_ij xhat_ij, db_j = sum_i gy_ij: a column reduction, done deterministically (no
// atomics) in two stages. Stage 1 (this kernel): tile (32 columns x rows_per_chunk rows) per block; a
// warp reads 32 consecutive columns of a row (coalesced), 8 warps take every 8th row, then the 8
// partials are added in a fixed order in shared memory and written to part_w/part_b[chunk, col].
// Stage 2 (host wrapper) sums the (n_chunks, D) partials; with one chunk it is a no-op.
// Launch: blockDim.x == 256 exactly.
template <typename T>
__global__ __launch_bounds__(256) void layer_norm_bwd_params(
        const T* __restrict__ x, const T* __restrict__ gy, const acc_t<T>* __restrict__ mean,
        const acc_t<T>* __restrict__ rstd, acc_t<T>* __restrict__ part_w, acc_t<T>* __restrict__ part_b,
        i64 m, i64 d, i64 rows_per_chunk, i64 n_chunks) {
    typedef acc_t<T> A;
    constexpr int kGroups = 8;
    __shared__ A sw[kGroups][32];
    __shared__ A sb[kGroups][32];
    const int lane = threadIdx.x & 31, grp = threadIdx.x >> 5;
    const i64 col_tiles = (d + 31) / 32;
    AG_BLOCK_ROW_LOOP(tile, col_tiles * n_chunks) {
        const i64 chunk = tile / col_tiles, col = (tile - chunk * col_tiles) * 32 + lane;
        const i64 r0 = chunk * rows_per_chunk;
        const i64 r1 = r0 + rows_per_chunk < m ? r0 + rows_per_chunk : m;
        A aw = A(0), ab = A(0);
        if (col < d) {
            for (i64 r = r0 + grp; r < r1; r += kGroups) {
                const A g = to_acc(gy[r * d + col]);
                aw += g * (to_acc(x[r * d + col]) - mean[r]) * rstd[r];
                ab += g;
            }
        }
        sw[grp][lane] = aw;
        sb[grp][lane] = ab;
        __syncthreads();
        if (grp == 0 && col < d) {
            for (int k = 1; k < kGroups; ++k) { aw += sw[k][lane]; ab += sb[k][lane]; }
            part_w[chunk * d + col] = aw;
            part_b[chunk * d + col] = ab;
        }
        __syncthreads();  // sw/sb are rewritten by the next tile
    }
}
