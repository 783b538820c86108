// Multi-tensor optimizer steps: ONE launch updates every parameter of a dtype group.
// The host passes device arrays of pointers (one entry per tensor) plus an int64 table `meta`:
//   meta[0 .. n)        element count of each tensor
//   meta[n .. 2n + 1)   chunk prefix: tensor t owns chunks [meta[n + t], meta[n + t + 1])
// Block b handles chunk b (grid-strided) of chunk_size elements: large tensors get many blocks,
// tiny ones (biases) cost one block instead of one launch each.
// Math in the accumulation type; state buffers keep the parameter dtype (as PyTorch does).
// Complements such as 1 - beta2 come from the host, computed in double: 1 - 0.999f in float is
// 0.00099998713, off by 1.3e-5 relative, which moved float32 Adam's updates by ~6e-6 against PyTorch.
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

// Chunk `chunk` of the launch: tensor t, elements [start, end) of it.
struct TensorChunk { int t; i64 start, end; };

__device__ __forceinline__ TensorChunk tensor_chunk(const i64* __restrict__ meta, int n, i64 chunk,
                                                    i64 chunk_size) {
    const int t = owner_tensor(meta + n, n, chunk);
    const i64 start = (chunk - meta[n + t]) * chunk_size;
    return {t, start, start + chunk_size < meta[t] ? start + chunk_size : meta[t]};
}

// SGD (torch.optim.SGD, foreach=False semantics):
//   g = (maximize ? -grad : grad) + wd * p
//   momentum: buf = first_step ? g : momentum * buf + one_minus_dampening * g
//             g = nesterov ? g + momentum * buf : buf
//   p -= lr * g
template <typename T>
__global__ __launch_bounds__(512) void sgd_step(
        T* const* __restrict__ params, const T* const* __restrict__ grads, T* const* __restrict__ bufs,
        const i64* __restrict__ meta, int n, i64 chunk_size, acc_t<T> lr, acc_t<T> momentum,
        acc_t<T> one_minus_dampening, acc_t<T> weight_decay, int nesterov, int maximize, int first_step) {
    typedef acc_t<T> A;
    AG_BLOCK_ROW_LOOP(chunk, meta[2 * n]) {  // (meta[2n]: the number of chunks)
        const TensorChunk c = tensor_chunk(meta, n, chunk, chunk_size);
        const int t = c.t;
        T* p = params[t];
        const T* gr = grads[t];
        for (i64 i = c.start + threadIdx.x; i < c.end; i += blockDim.x) {
            const A pv = to_acc(p[i]);
            A g = to_acc(gr[i]);
            if (maximize) g = -g;
            if (weight_decay != A(0)) g += weight_decay * pv;
            if (momentum != A(0)) {
                T* b = bufs[t];
                const A bv = first_step ? g : momentum * to_acc(b[i]) + one_minus_dampening * g;
                b[i] = from_acc<T>(bv);
                g = nesterov ? g + momentum * bv : bv;
            }
            p[i] = from_acc<T>(pv - lr * g);
        }
    }
}

// Adam / AdamW (torch.optim.Adam / AdamW): step_size = lr / (1 - beta1^step) and
// bc2_sqrt = sqrt(1 - beta2^step) are computed on the host in double.
//   g = maximize ? -grad : grad;  decoupled ? p *= decay (= 1 - lr * wd) : g += wd * p
//   m += (1 - beta1) (g - m)                  (lerp, as PyTorch)
//   v = beta2 v + (1 - beta2) g^2;  amsgrad: vmax = max(vmax, v), v_hat = vmax
//   p -= step_size * m / (sqrt(v_hat) / bc2_sqrt + eps)
template <typename T>
__global__ __launch_bounds__(512) void adam_step(
        T* const* __restrict__ params, const T* const* __restrict__ grads, T* const* __restrict__ exp_avgs,
        T* const* __restrict__ exp_avg_sqs, T* const* __restrict__ max_sqs, const i64* __restrict__ meta,
        int n, i64 chunk_size, acc_t<T> one_minus_beta1, acc_t<T> beta2, acc_t<T> one_minus_beta2,
        acc_t<T> eps, acc_t<T> weight_decay, acc_t<T> decay, acc_t<T> step_size, acc_t<T> bc2_sqrt,
        int decoupled, int amsgrad, int maximize) {
    typedef acc_t<T> A;
    AG_BLOCK_ROW_LOOP(chunk, meta[2 * n]) {  // (meta[2n]: the number of chunks)
        const TensorChunk c = tensor_chunk(meta, n, chunk, chunk_size);
        const int t = c.t;
        T* p = params[t];
        const T* gr = grads[t];
        T* m = exp_avgs[t];
        T* v = exp_avg_sqs[t];
        for (i64 i = c.start + threadIdx.x; i < c.end; i += blockDim.x) {
            A pv = to_acc(p[i]);
            A g = to_acc(gr[i]);
            if (maximize) g = -g;
            if (weight_decay != A(0)) {
                if (decoupled) pv *= decay;
                else g += weight_decay * pv;
            }
            A mv = to_acc(m[i]);
            mv += one_minus_beta1 * (g - mv);
            A vv = beta2 * to_acc(v[i]) + one_minus_beta2 * g * g;
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

// RMSprop (torch.optim.RMSprop):
//   g = (maximize ? -grad : grad) + wd * p
//   v = alpha v + (1 - alpha) g^2
//   centered: ga += (1 - alpha) (g - ga) (lerp), avg = sqrt(v - ga^2) + eps;  else avg = sqrt(v) + eps
//   momentum > 0: buf = momentum buf + g / avg, p -= lr buf;  else p -= lr g / avg
// grad_avgs / bufs are read only when centered / momentum > 0 (the host passes the params' table otherwise).
template <typename T>
__global__ __launch_bounds__(512) void rmsprop_step(
        T* const* __restrict__ params, const T* const* __restrict__ grads, T* const* __restrict__ square_avgs,
        T* const* __restrict__ grad_avgs, T* const* __restrict__ bufs, const i64* __restrict__ meta, int n,
        i64 chunk_size, acc_t<T> lr, acc_t<T> alpha, acc_t<T> one_minus_alpha, acc_t<T> eps,
        acc_t<T> weight_decay, acc_t<T> momentum, int centered, int maximize) {
    typedef acc_t<T> A;
    AG_BLOCK_ROW_LOOP(chunk, meta[2 * n]) {  // (meta[2n]: the number of chunks)
        const TensorChunk c = tensor_chunk(meta, n, chunk, chunk_size);
        const int t = c.t;
        T* p = params[t];
        const T* gr = grads[t];
        T* v = square_avgs[t];
        for (i64 i = c.start + threadIdx.x; i < c.end; i += blockDim.x) {
            const A pv = to_acc(p[i]);
            A g = to_acc(gr[i]);
            if (maximize) g = -g;
            if (weight_decay != A(0)) g += weight_decay * pv;
            const A vv = alpha * to_acc(v[i]) + one_minus_alpha * g * g;
            v[i] = from_acc<T>(vv);
            A avg;
            if (centered) {
                T* ga = grad_avgs[t];
                A gav = to_acc(ga[i]);
                gav += one_minus_alpha * (g - gav);
                ga[i] = from_acc<T>(gav);
                avg = ag::sqrt_(vv - gav * gav) + eps;
            } else {
                avg = ag::sqrt_(vv) + eps;
            }
            if (momentum > A(0)) {
                T* b = bufs[t];
                const A bv = momentum * to_acc(b[i]) + g / avg;
                b[i] = from_acc<T>(bv);
                p[i] = from_acc<T>(pv - lr * bv);
            } else {
                p[i] = from_acc<T>(pv - lr * g / avg);
            }
        }
    }
}
