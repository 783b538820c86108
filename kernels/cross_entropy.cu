// Fused log-softmax + NLL over (N, C) logits (contiguous rows), int64 targets, ignore_index and
// label smoothing eps (PyTorch semantics, no class weights); m_i = max_c x_ic, s_i = sum_c exp(x_ic - m_i):
//   loss_i = (1 - eps) (m_i - x_{i,t_i}) + (eps / C) sum_c (m_i - x_{i,c}) + log s_i
// never lse_i - x_{i,t_i}: lse ~ 1e4 rounds to a float32 spacing of 2**-10, PyTorch's result is exact.
// Forward saves stats_i = (m_i, log s_i) (accumulation type) so backward needs one pass and no reduction:
//   gx_{i,c} = g_i (exp((x_{i,c} - m_i) - log s_i) - eps / C - (1 - eps) [c == t_i])
// Ignored rows: loss 0, stats 0, gradient 0. A target outside [0, C) gives a NaN loss (a GPU cannot
// raise; the NaN surfaces in the reduced loss instead of a silent wrong value).
// Launch: one block per row (grid-strided), blockDim.x a multiple of 32, <= 1024.
#include "common.cuh"

template <typename T>
__global__ __launch_bounds__(1024) void cross_entropy_fwd(
        const T* __restrict__ logits, const i64* __restrict__ target, T* __restrict__ loss,
        acc_t<T>* __restrict__ stats, i64 n, i64 c, i64 ignore_index, acc_t<T> label_smoothing) {
    typedef acc_t<T> A;
    __shared__ A buf_m[32];
    __shared__ A buf_s[32];
    AG_BLOCK_ROW_LOOP(row, n) {
        const i64 t = target[row];
        if (t == ignore_index) {  // uniform across the block: skipping the reductions is safe
            if (threadIdx.x == 0) {
                loss[row] = from_acc<T>(A(0));
                stats[2 * row] = stats[2 * row + 1] = A(0);
            }
            continue;
        }
        const T* xr = logits + row * c;
        MaxSum<A> ms = {ag::lowest<A>(), A(0)};
        for (i64 j = threadIdx.x; j < c; j += blockDim.x) ms = maxsum_add(ms, to_acc(xr[j]));
        ms = block_maxsum(ms, buf_m, buf_s);
        // smoothing: sum of the (exact-ish, non-negative) gaps m - x, not m - sum(x) / C, which cancels
        A gaps = A(0);
        if (label_smoothing != A(0)) {  // uniform branch; the row is hot in cache for this second pass
            for (i64 j = threadIdx.x; j < c; j += blockDim.x) gaps += ms.m - to_acc(xr[j]);
            gaps = block_sum(gaps, buf_s);
        }
        if (threadIdx.x == 0) {
            const A log_s = ag::log_(ms.s);
            A out = ag::nan_<A>();
            if (t >= 0 && t < c) {
                out = (A(1) - label_smoothing) * (ms.m - to_acc(xr[t]));
                if (label_smoothing != A(0)) out += label_smoothing / static_cast<A>(c) * gaps;
                out += log_s;
            }
            loss[row] = from_acc<T>(out);
            stats[2 * row] = ms.m;
            stats[2 * row + 1] = log_s;
        }
    }
}

// grow: the upstream gradient per row, grow[row * grow_stride] / grow_divisor (stride 0: one value for
// every row, as a 'mean' or 'sum' reduction gives; the divisor is the mean's count), so neither the
// broadcast nor the division costs a launch of its own.
template <typename T>
__global__ __launch_bounds__(1024) void cross_entropy_bwd(
        const T* __restrict__ logits, const i64* __restrict__ target, const acc_t<T>* __restrict__ stats,
        const acc_t<T>* __restrict__ grow, i64 grow_stride, acc_t<T> grow_divisor, T* __restrict__ gx, i64 n,
        i64 c, i64 ignore_index, acc_t<T> label_smoothing) {
    typedef acc_t<T> A;
    const A smooth = label_smoothing / static_cast<A>(c), hit = A(1) - label_smoothing;
    AG_BLOCK_ROW_LOOP(row, n) {
        const i64 t = target[row];
        const T* xr = logits + row * c;
        T* gr = gx + row * c;
        if (t == ignore_index) {
            for (i64 j = threadIdx.x; j < c; j += blockDim.x) gr[j] = from_acc<T>(A(0));
            continue;
        }
        const A m = stats[2 * row], log_s = stats[2 * row + 1], g = grow[row * grow_stride] / grow_divisor;
        for (i64 j = threadIdx.x; j < c; j += blockDim.x) {
            const A p = ag::exp_((to_acc(xr[j]) - m) - log_s);
            gr[j] = from_acc<T>(g * (p - smooth - (j == t ? hit : A(0))));
        }
    }
}
