// Scalar __device__ math for the elementwise kernels (operation strings in autograd_gpu/ops/fused.py).
// Every function takes and returns the accumulation type A (float for half/float, double for double):
// the op strings cast `(acc_t<T>)x` in and `(T)` out, so half inputs are computed in float.
// Backward formulas follow PyTorch's derivatives.yaml choice of saved value (input `x` or result `y`).
#pragma once
#include "common.cuh"

namespace ag {

// sigmoid: 1 / (1 + e^-x). e^-x overflows to inf for x < -88 (float) and 1/inf = 0 exactly: no NaN.
template <typename A> __device__ __forceinline__ A sigmoid_fwd(A x) { return A(1) / (A(1) + exp_(-x)); }
// From the result, as PyTorch (sigmoid_backward(grad, result)): no exp recomputed.
template <typename A> __device__ __forceinline__ A sigmoid_bwd(A y, A gy) { return gy * y * (A(1) - y); }

template <typename A> __device__ __forceinline__ A tanh_fwd(A x) { return tanh_(x); }
template <typename A> __device__ __forceinline__ A tanh_bwd(A y, A gy) { return gy * (A(1) - y * y); }

// relu(NaN) = NaN like torch (x < 0 is false for NaN). Backward uses the result (threshold_backward).
template <typename A> __device__ __forceinline__ A relu_fwd(A x) { return x < A(0) ? A(0) : x; }
template <typename A> __device__ __forceinline__ A relu_bwd(A y, A gy) { return y <= A(0) ? A(0) : gy; }

template <typename A> __device__ __forceinline__ A leaky_relu_fwd(A x, A slope) {
    return x > A(0) ? x : x * slope;
}
template <typename A> __device__ __forceinline__ A leaky_relu_bwd(A x, A gy, A slope) {
    return x > A(0) ? gy : gy * slope;
}

// elu with PyTorch's scale and input_scale, which selu (scale, alpha constants) and celu (input_scale =
// 1 / alpha) share: scale x for x > 0, else scale alpha expm1(input_scale x). expm1 keeps digits for small
// negative x (exp(x) - 1 cancels). Backward from the input: exp(x) is exact where the result form
// (y + alpha) cancels as y -> -alpha. With scale = input_scale = 1 every extra product is exact (plain elu).
template <typename A> __device__ __forceinline__ A elu_fwd(A x, A alpha, A scale, A input_scale) {
    return x > A(0) ? x * scale : (alpha * scale) * expm1_(x * input_scale);
}
template <typename A> __device__ __forceinline__ A elu_bwd(A x, A gy, A alpha, A scale, A input_scale) {
    return x > A(0) ? gy * scale : gy * exp_(x * input_scale) * (alpha * scale * input_scale);
}

// -1/sqrt(2) as a sum of two values of the type (hi = the rounded constant, lo = what it misses).
template <typename A> struct NegRsqrt2;
template <> struct NegRsqrt2<float> {
    static constexpr float hi = -0.70710676908493042f, lo = -1.2101617485882343e-08f;
};
template <> struct NegRsqrt2<double> {
    static constexpr double hi = -0.7071067811865476, lo = 4.833646656726457e-17;
};
// 2 Phi(x) = erfc(-x / sqrt 2) (1 + erf(x / sqrt 2) would cancel for x << 0), with erfc's argument exact
// to first order: erfc's relative sensitivity is 2 z^2 (~340 at x = -13), so the rounding of z = x (-1/sqrt 2)
// alone would cost ~170 ulps down the tail. Its error d (fma, plus the constant's low part) goes back in as
// erfc(z + d) = erfc(z) - (2/sqrt pi) e^(-z^2) d. (Phi itself, half of it, turns subnormal in float a little
// sooner: callers halve what they multiply it by instead.)
template <typename A> __device__ __forceinline__ A erfc_neg_rsqrt2(A x) {
    const A hi = NegRsqrt2<A>::hi, lo = NegRsqrt2<A>::lo;
    const A z = x * hi;
    const A d = fma_(x, hi, -z) + x * lo;
    return erfc_(z) - A(1.1283791670955126) * exp_(-z * z) * d;
}
// The normal density e^(-x^2 / 2) / sqrt(2 pi), with x^2 = s + s_lo split by fma: the rounding of x^2 would
// cost x^2 / 2 of relative accuracy (~80 ulps at x = -13); e^(-s_lo / 2) = 1 - s_lo / 2 to first order.
template <typename A> __device__ __forceinline__ A normal_pdf(A x) {
    const A s = x * x;
    const A s_lo = fma_(x, x, -s);
    return exp_(A(-0.5) * s) * (A(1) - A(0.5) * s_lo) * A(0.3989422804014327);
}

// gelu. approximate == 0: x * Phi(x) with the exact erf; approximate != 0: the tanh formula.
// 1 + tanh(u) = 2 / (1 + exp(-2 u)): no cancellation for x << 0.
template <typename A> __device__ __forceinline__ A gelu_fwd(A x, int approximate) {
    if (approximate) {
        const A k_beta2 = A(1.5957691216057308), k_kappa = A(0.044715);  // 2 sqrt(2/pi)
        return x / (A(1) + exp_(-k_beta2 * (x + k_kappa * x * x * x)));
    }
    return (A(0.5) * x) * erfc_neg_rsqrt2(x);
}
template <typename A> __device__ __forceinline__ A gelu_bwd(A x, A gy, int approximate) {
    if (approximate) {  // same factorization as PyTorch's GeluBackward (tanh)
        const A k_beta = A(0.7978845608028654), k_kappa = A(0.044715);
        const A x_sq = x * x;
        const A t = tanh_(k_beta * (x + k_kappa * x_sq * x));
        const A left_d = A(0.5) * (A(1) + t);
        const A right_d = A(0.5) * x * (A(1) - t * t) * k_beta * (A(1) + A(3) * k_kappa * x_sq);
        return gy * (left_d + right_d);
    }
    return gy * (A(0.5) * erfc_neg_rsqrt2(x) + x * normal_pdf(x));
}

template <typename A> __device__ __forceinline__ A silu_fwd(A x) { return x * sigmoid_fwd(x); }
template <typename A> __device__ __forceinline__ A silu_bwd(A x, A gy) {
    const A s = sigmoid_fwd(x);
    return gy * s * (A(1) + x * (A(1) - s));
}

// log(1 + e^z) without overflow for any z: max(z, 0) + log1p(e^-|z|).
template <typename A> __device__ __forceinline__ A log1pexp(A z) {
    return (z > A(0) ? z : A(0)) + log1p_(exp_(-abs_(z)));
}
// softplus(x) = log1p(exp(beta x)) / beta, linear above the threshold (PyTorch semantics).
template <typename A> __device__ __forceinline__ A softplus_fwd(A x, A beta, A threshold) {
    const A z = x * beta;
    return z > threshold ? x : log1pexp(z) / beta;
}
// d/dx = sigmoid(beta x): PyTorch's z / (z + 1) with z = e^(beta x) is inf/inf = NaN for thresholds
// above ~88 in float; the sigmoid form is finite everywhere.
template <typename A> __device__ __forceinline__ A softplus_bwd(A x, A gy, A beta, A threshold) {
    const A z = x * beta;
    return z > threshold ? gy : gy * sigmoid_fwd(z);
}

// hardsigmoid = relu6(x + 3) / 6 (max_ / min_ keep NaN). Its slope 1/6 holds on the open interval (-3, 3),
// as in PyTorch (0 at the kinks).
template <typename A> __device__ __forceinline__ A hardsigmoid_fwd(A x) {
    return min_(max_(x + A(3), A(0)), A(6)) / A(6);
}
template <typename A> __device__ __forceinline__ A hardsigmoid_bwd(A x, A gy) {
    return (x > A(-3) && x < A(3)) ? gy / A(6) : A(0);
}
// hardswish = x relu6(x + 3) / 6; slope x / 3 + 1/2 on (-3, 3), 0 at and below -3, 1 from 3 on (PyTorch).
template <typename A> __device__ __forceinline__ A hardswish_fwd(A x) { return x * hardsigmoid_fwd(x); }
template <typename A> __device__ __forceinline__ A hardswish_bwd(A x, A gy) {
    if (x <= A(-3)) return A(0);
    return x < A(3) ? gy * (x / A(3) + A(0.5)) : gy;
}

// mish = x tanh(softplus(x)), softplus without overflow (log1pexp): tanh(sp) -> 1 for large x, and
// ~ e^x with every digit for x << 0 (log1p(e^x) is exact there).
template <typename A> __device__ __forceinline__ A mish_fwd(A x) { return x * tanh_(log1pexp(x)); }
// d/dx = t + x sigmoid(x) (1 - t^2),  t = tanh(softplus(x))
template <typename A> __device__ __forceinline__ A mish_bwd(A x, A gy) {
    const A t = tanh_(log1pexp(x));
    return gy * (t + x * sigmoid_fwd(x) * (A(1) - t * t));
}

// log sigmoid(x) = -softplus(-x) = min(x, 0) - log1p(e^-|x|): no overflow, exact -x tail for x << 0.
template <typename A> __device__ __forceinline__ A logsigmoid_fwd(A x) {
    return (x < A(0) ? x : A(0)) - log1p_(exp_(-abs_(x)));
}
// d/dx = sigmoid(-x) from z = e^-|x| (never overflows): z / (1 + z) for x > 0 keeps the subnormal tail
// (e^-100 in float) where 1 / (1 + e^x) would give 0.
template <typename A> __device__ __forceinline__ A logsigmoid_bwd(A x, A gy) {
    const A z = exp_(-abs_(x));
    return gy * (x > A(0) ? z : A(1)) / (A(1) + z);
}

// softsign = x / (1 + |x|); d/dx = 1 / (1 + |x|)^2 (overflows to inf -> exact 0 for huge |x|).
template <typename A> __device__ __forceinline__ A softsign_fwd(A x) { return x / (A(1) + abs_(x)); }
template <typename A> __device__ __forceinline__ A softsign_bwd(A x, A gy) {
    const A d = A(1) + abs_(x);
    return gy / (d * d);
}

// Binary cross-entropy on logits, elementwise (reduction is the caller's):
//   l = w * [(1 - t) x + c log(1 + e^-x)],  c = 1 + (pw - 1) t   (pw = pos_weight, 1 when absent)
// with log(1 + e^-x) = max(-x, 0) + log1p(e^-|x|) (never overflows), summed as
// [(1 - t) x + c max(-x, 0)] + c log1p(e^-|x|): the bracket is exactly 0 for a confident, correct
// prediction (t = 0, x < 0 or t = 1, x > 0), so its small loss keeps every digit.
template <typename A> __device__ __forceinline__ A bce_with_logits_fwd(A x, A t, A w, A pw) {
    const A c = A(1) + (pw - A(1)) * t;
    return w * (((A(1) - t) * x + c * (x < A(0) ? -x : A(0))) + c * log1p_(exp_(-abs_(x))));
}
// dl/dx = w * [(pw t + 1 - t) sigmoid(x) - pw t]   (== w (sigmoid(x) - t) when pw = 1)
template <typename A> __device__ __forceinline__ A bce_with_logits_bwd(A x, A t, A gy, A w, A pw) {
    const A pt = pw * t;
    return gy * w * ((pt + A(1) - t) * sigmoid_fwd(x) - pt);
}

template <typename A> __device__ __forceinline__ A mse_fwd(A x, A t) { return (x - t) * (x - t); }
template <typename A> __device__ __forceinline__ A mse_bwd(A x, A t, A gy) { return A(2) * (x - t) * gy; }

// smooth_l1 (Huber / beta): 0.5 d^2 / beta if |d| < beta else |d| - 0.5 beta; beta == 0 is L1.
template <typename A> __device__ __forceinline__ A smooth_l1_fwd(A x, A t, A beta) {
    const A d = abs_(x - t);
    return d < beta ? A(0.5) * d * d / beta : d - A(0.5) * beta;
}
template <typename A> __device__ __forceinline__ A smooth_l1_bwd(A x, A t, A gy, A beta) {
    const A d = x - t;
    if (d <= -beta) return d < A(0) ? -gy : A(0);  // beta == 0 and d == 0 -> sign(0) = 0, no 0/0
    if (d >= beta) return d > A(0) ? gy : A(0);
    return d / beta * gy;
}

// clamp passes the gradient where lo <= x <= hi (NaN inputs get 0, like torch.clamp backward).
template <typename A> __device__ __forceinline__ A clamp_bwd(A x, A gy, A lo, A hi) {
    return (x >= lo && x <= hi) ? gy : A(0);
}

// ---- dropout RNG: Philox-4x32-10 (Salmon et al., SC'11; the generator of cuRAND / PyTorch CUDA).
// Counter-based: element i's bits depend only on (seed, offset + i), so any launch geometry, the GPU
// and the emulator all produce the same mask. 64-bit products instead of __umulhi: portable, and
// compiled to the same mul.hi instruction.
__device__ __forceinline__ u32 philox_mulhilo(u32 a, u32 b, u32* lo) {
    const u64 p = static_cast<u64>(a) * b;
    *lo = static_cast<u32>(p);
    return static_cast<u32>(p >> 32);
}
// Returns the first 32-bit word of Philox-4x32-10(counter = (ctr_lo, ctr_hi, 0, 0), key = seed).
__device__ __forceinline__ u32 philox_4x32_10(u64 seed, u64 ctr) {
    u32 c0 = static_cast<u32>(ctr), c1 = static_cast<u32>(ctr >> 32), c2 = 0u, c3 = 0u;
    u32 k0 = static_cast<u32>(seed), k1 = static_cast<u32>(seed >> 32);
    for (int r = 0; r < 10; ++r) {
        u32 lo0, lo1;
        const u32 hi0 = philox_mulhilo(0xD2511F53u, c0, &lo0);
        const u32 hi1 = philox_mulhilo(0xCD9E8D57u, c2, &lo1);
        const u32 n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return c0;
}
// keep with probability 1 - p: the host passes threshold = floor(p * 2^32) (p < 1).
__device__ __forceinline__ bool dropout_keep(u64 seed, u64 offset, i64 i, u32 threshold) {
    return philox_4x32_10(seed, offset + static_cast<u64>(i)) >= threshold;
}
// rrelu's random slope for element i: lower + (upper - lower) u, u = word / 2^32 in [0, 1), in double
// (the NumPy twin in autograd_gpu/ops/activation_extra.py computes the same double, bit for bit: the
// _rn intrinsics keep NVRTC from contracting the product and sum into one fma, which NumPy can't match).
__device__ __forceinline__ double rrelu_slope(u64 seed, u64 offset, i64 i, double lower, double upper) {
    const double u = philox_4x32_10(seed, offset + static_cast<u64>(i)) * 2.3283064365386963e-10;
    return __dadd_rn(lower, __dmul_rn(upper - lower, u));
}

}  // namespace ag
