// out[index[i], :] += src[i, :] for i < n_index: the backward of embedding, index_select and
// (with row_len 1) gather / take. atomicAdd because indices repeat (embedding of a batch);
// float atomics make the summation order, hence the last bits, run-dependent on a GPU.
// `out` is in the accumulation type: for half sources the host passes a float buffer (fp16 atomics
// would round after every add and lose small gradients). Out-of-range indices are skipped.
#include "common.cuh"

template <typename T>
__global__ __launch_bounds__(512) void scatter_add_rows(
        acc_t<T>* __restrict__ out, const i64* __restrict__ index, const T* __restrict__ src, i64 n_index,
        i64 row_len, i64 n_out_rows) {
    AG_GRID_STRIDE_LOOP(e, n_index * row_len) {
        const i64 i = e / row_len, col = e - i * row_len;
        const i64 dst = index[i];
        if (dst < 0 || dst >= n_out_rows) continue;
        atomicAdd(out + dst * row_len + col, to_acc(src[e]));
    }
}
