// Fused log-softmax + NLL over (N, C) logits (contiguous rows), int64 targets, ignore_index and
// label smoothing eps (PyTorch semantics, no class weights):
//   loss_i = lse_i - (1 - eps) x_{i,t_i} - (eps / C) sum_c x_{i,c},   lse_i = log sum_c exp(x_{i,c})
// Forward saves lse (accumulation type) so backward needs one pass and no reduction:
//   gx_{i,c} = g_i (exp(x_{i,c} - lse_i) - eps / C - (1 - eps) [c == t_i])
// Ignored rows: loss 0, lse 0, gradient 0. A target outside [0, C) gives a NaN loss (a GPU cannot
// raise; the NaN surfaces in the reduced loss instead of a silent wrong value).
// Launch: one block per row (grid-strided), blockDim.x a multiple of 32, <= 1024.
#include "common.cuh"

template <typename T>
__global__ __launch_bounds__(1024) void cross_entropy_fwd(
        const T* __restrict__ logits, const i64* __restrict__ target, T* __restrict__ loss,
        acc_t<T>* __restrict__ lse, i64 n, i64 c, i64 ignore_index, acc_t<T> label_smoothing) {
    typedef acc_t<T> A;
    __shared__ A buf_m[32];
    __shared__ A buf_s[32];
    AG_BLOCK_ROW_LOOP(row, n) {
        const i64 t = target[row];
        if (t == ignore_index) {  // uniform across the block: skipping the reductions is safe
            if (threadIdx.x == 0) { loss[row] = from_acc<T>(A(0)); lse[row] = A(0); }
            continue;
        }
        const T* xr = logits + row * c;
        MaxSum<A> ms = {ag::lowest<A>(), A(0)};
        A sum_x = A(0);
        for (i64 j = threadIdx.x; j < c; j += blockDim.x) {
            const A v = to_acc(xr[j]);
            ms = maxsum_add(ms, v);
            sum_x += v;
        }
        ms = block_maxsum(ms, buf_m, buf_s);
        if (label_smoothing != A(0)) sum_x = block_sum(sum_x, buf_s);  // uniform branch
        if (threadIdx.x == 0) {
            const A l = ms.m + ag::log_(ms.s);
            A out = ag::nan_<A>();
            if (t >= 0 && t < c) {
                out = l - (A(1) - label_smoothing) * to_acc(xr[t]);
                if (label_smoothing != A(0)) out -= label_smoothing / static_cast<A>(c) * sum_x;
            }
            loss[row] = from_acc<T>(out);
            lse[row] = l;
        }
    }
}

template <typename T>
__global__ __launch_bounds__(1024) void cross_entropy_bwd(
        const T* __restrict__ logits, const i64* __restrict__ target, const acc_t<T>* __restrict__ lse,
        const acc_t<T>* __restrict__ grow, T* __restrict__ gx, i64 n, i64 c, i64 ignore_index,
        acc_t<T> label_smoothing) { typedef acc_t<T> A; const A smooth = label_smoothing / static_cast<A>(c),
        hit = A(1) - label_smoothing; AG_BLOCK_ROW_LOOP(row, n) {
        const i64 t = target[row];
        const T* xr = logits + row * c;
        T* gr = gx + row * c;
        if (t == ignore_index) {
            for (i64 j = threadIdx.x; j < c; j += blockDim.x) gr[j] = from_acc<T>(A(0));
            continue;
        }
        const A l = lse[row], g = grow[row];
        for (i64 j = threadIdx.x; j < c; j += blockDim.x) {
            const A p = ag::exp_(to_acc(xr[j]) - l);
            gr[j] = from_acc<T>(g * (p - smooth - (j == t ? hit : A(0))));
        }
    }
}
