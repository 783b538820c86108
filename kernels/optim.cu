// Multi-tensor optimizer steps: ONE launch updates every parameter of a dtype group.
// The host passes device arrays of pointers (one entry per tensor) plus an int64 table `meta`:
//   meta[0 .. n)        element count of each tensor
//   meta[n .. 2n + 1)   chunk prefix: tensor t owns chunks [meta[n + t], meta[n + t + 1])
// Block b handles chunk b (grid-strided) of chunk_size elements: large tensors get many blocks,
// tiny ones (biases) cost one block instead of one launch each.
// Math in the accumulation type; state buffers keep the parameter dtype (as PyTorch does).
#include "common.cuh"

// Tensor owning `chunk`: the last t with prefix[t] <= chunk (binary search, n is small).
__device__ __forceinline__ int owner_tensor(const i64* __restrict__ prefix, int n, i64 chunk) {
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        const int mid = (lo + hi + 1) >> 1;
        if (prefix[mid] <= chunk) lo = mid; else hi = mid - 1;
    }
    return lo;
}

// SGD (torch.optim.SGD, foreach=False semantics):
//   g = (maximize ? -grad : grad) + wd * p
//   momentum: buf = first_step ? g : momentum * buf + (1 - dampening) * g
//             g = nesterov ? g + momentum * buf : buf
//   p -= lr * g
template <typename T>
__global__ __launch_bounds__(512) void sgd_step(
        T* const* __restrict__ params, const T* const* __restrict__ grads, T* const* __restrict__ bufs,
        const i64* __restrict__ meta, int n, i64 chunk_size, acc_t<T> lr, acc_t<T> momentum,
        acc_t<T> dampening, acc_t<T> weight_decay, int nesterov, int maximize, int first_step) {
    typedef acc_t<T> A;
    const i64* prefix = meta + n;
    AG_BLOCK_ROW_LOOP(chunk, prefix[n]) {
        const int t = owner_tensor(prefix, n, chunk);
        const i64 start = (chunk - prefix[t]) * chunk_size;
        const i64 end = start + chunk_size < meta[t] ? start + chunk_size : meta[t];
        T* p = params[t];
        const T* gr = grads[t];
        for (i64 i = start + threadIdx.x; i < end; i += blockDim.x) {
            const A pv = to_acc(p[i]);
            A g = to_acc(gr[i]);
            if (maximize) g = -g;
            if (weight_decay != A(0)) g += weight_decay * pv;
            if (momentum != A(0)) {
                T* b = bufs[t];
                const A bv = first_step ? g : momentum * to_acc(b[i]) + (A(1) - dampening) * g;
                b[i] = from_acc<T>(bv);
                g = nesterov ? g + momentum * bv : bv;
            }
            p[i] = from_acc<T>(pv - lr * g);
        }
    }
}

// Adam / AdamW (torch.optim.Adam / AdamW): step_size = lr / (1 - beta1^step) and
// bc2_sqrt = sqrt(1 - beta2^step) are computed on the host in double.
//   g = maximize ? -grad : grad;  decoupled ? p *= 1 - lr * wd : g += wd * p
//   m += (1 - beta1) (g - m)                  (lerp, as PyTorch)
//   v = beta2 v + (1 - beta2) g^2;  amsgrad: vmax = max(vmax, v), v_hat = vmax
//   p -= step_size * m / (sqrt(v_hat) / bc2_sqrt + eps)
template <typename T>
__global__ __launch_bounds__(512) void adam_step(
        T* const* __restrict__ params, const T* const* __restrict__ grads, T* const* __restrict__ exp_avgs,
        T* const* __restrict__ exp_avg_sqs, T* const* __restrict__ max_sqs, const i64* __restrict__ meta,
        int n, i64 chunk_size, acc_t<T> lr, acc_t<T> beta1, acc_t<T> beta2, acc_t<T> eps,
        acc_t<T> weight_decay, acc_t<T> step_size, acc_t<T> bc2_sqrt, int decoupled, int amsgrad,
        int maximize) {
    typedef acc_t<T> A;
    const i64* prefix = meta + n;
    AG_BLOCK_ROW_LOOP(chunk, prefix[n]) {
        const int t = owner_tensor(prefix, n, chunk);
        const i64 start = (chunk - prefix[t]) * chunk_size;
        const i64 end = start + chunk_size < meta[t] ? start + chunk_size : meta[t];
        T* p = params[t];
        const T* gr = grads[t];
        T* m = exp_avgs[t];
        T* v = exp_avg_sqs[t];
        for (i64 i = start + threadIdx.x; i < end; i += blockDim.x) {
            A pv = to_acc(p[i]);
            A g = to_acc(gr[i]);
            if (maximize) g = -g;
            if (weight_decay != A(0)) {
                if (decoupled) pv *= A(1) - lr * weight_decay;
                else g += weight_decay * pv;
            }
            A mv = to_acc(m[i]);
            mv += (A(1) - beta1) * (g - mv);
            A vv = beta2 * to_acc(v[i]) + (A(1) - beta2) * g * g;
            m[i] = from_acc<T>(mv);
            v[i] = from_acc<T>(vv);
            if (amsgrad) {
                T* vmax = max_sqs[t];
                vv = ag::max_(to_acc(vmax[i]), vv);
                vmax[i] = from_acc<T>(vv);
            }
            p[i] = from_acc<T>(pv - step_size * mv / (ag::sqrt_(vv) / bc2_sqrt + eps));
        }
    }
}
