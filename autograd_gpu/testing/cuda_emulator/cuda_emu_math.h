// cuda_emu_math.h: __half and the CUDA device math functions that libm lacks (included by cuda_emu.h).
#pragma once

// ---- half precision: g++ 12 has IEEE binary16 arithmetic as _Float16 (rounds like the GPU's __half).
typedef _Float16 __half;
typedef __half half;
typedef __half float16;  // CuPy's name for the float16 placeholder type in elementwise kernels
inline __half __float2half(float f) { return (__half)f; }
inline __half __float2half_rn(float f) { return (__half)f; }
inline float __half2float(__half h) { return (float)h; }
inline __half __double2half(double d) { return (__half)d; }
inline __half __hadd(__half a, __half b) { return a + b; }
inline __half __hsub(__half a, __half b) { return a - b; }
inline __half __hmul(__half a, __half b) { return a * b; }
inline __half __hdiv(__half a, __half b) { return a / b; }
inline __half __hneg(__half a) { return -a; }
inline __half __habs(__half a) { return a < (__half)0 ? -a : a; }
inline __half __hfma(__half a, __half b, __half c) { return (__half)fmaf((float)a, (float)b, (float)c); }
inline bool __hlt(__half a, __half b) { return a < b; }
inline bool __hgt(__half a, __half b) { return a > b; }
inline bool __hle(__half a, __half b) { return a <= b; }
inline bool __hge(__half a, __half b) { return a >= b; }
inline bool __heq(__half a, __half b) { return a == b; }
inline bool __hisnan(__half a) { return a != a; }
inline __half __hmax(__half a, __half b) { return a > b ? a : b; }
inline __half __hmin(__half a, __half b) { return a < b ? a : b; }
// _Float16 converts equally well to float/double/long double, so libm calls would be ambiguous: compute
// in float and round, as CuPy's float16 class does.
#define CUDA_EMU_H1(fn) inline __half fn(__half x) { return (__half)::fn##f((float)x); }
CUDA_EMU_H1(exp) CUDA_EMU_H1(log) CUDA_EMU_H1(sqrt) CUDA_EMU_H1(tanh) CUDA_EMU_H1(sin) CUDA_EMU_H1(cos)
CUDA_EMU_H1(log1p) CUDA_EMU_H1(expm1) CUDA_EMU_H1(erf) CUDA_EMU_H1(erfc) CUDA_EMU_H1(floor) CUDA_EMU_H1(ceil)
CUDA_EMU_H1(fabs) CUDA_EMU_H1(exp2) CUDA_EMU_H1(log2) CUDA_EMU_H1(log10) CUDA_EMU_H1(round) CUDA_EMU_H1(trunc)
CUDA_EMU_H1(sinh) CUDA_EMU_H1(cosh) CUDA_EMU_H1(tan) CUDA_EMU_H1(atan) CUDA_EMU_H1(asin) CUDA_EMU_H1(acos)
inline __half abs(__half x) { return __habs(x); }
inline __half min(__half a, __half b) { return __hmin(a, b); }
inline __half max(__half a, __half b) { return __hmax(a, b); }
inline __half pow(__half a, __half b) { return (__half)powf((float)a, (float)b); }
inline bool isnan(__half x) { return x != x; }
inline bool isinf(__half x) { return std::isinf((float)x); }
inline bool isfinite(__half x) { return std::isfinite((float)x); }
inline __half hexp(__half x) { return exp(x); }
inline __half hlog(__half x) { return log(x); }
inline __half hsqrt(__half x) { return sqrt(x); }
inline __half hrsqrt(__half x) { return (__half)(1.0f / sqrtf((float)x)); }

// ---- math functions CUDA has and libm lacks; fast-math intrinsics are computed exactly.
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float rcbrtf(float x) { return 1.0f / cbrtf(x); }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __log2f(float x) { return log2f(x); }
inline float __log10f(float x) { return log10f(x); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline float __powf(float a, float b) { return powf(a, b); }
inline float __exp10f(float x) { return powf(10.0f, x); }
inline float fdividef(float a, float b) { return a / b; }
inline float __fdividef(float a, float b) { return a / b; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __fma_rn(double a, double b, double c) { return fma(a, b, c); }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
inline float normcdff(float x) { return 0.5f * erfcf(-x * 0.70710678118654752f); }
inline double normcdf(double x) { return 0.5 * erfc(-x * 0.70710678118654752); }
inline double erfinv(double y) {
    // Giles' single-precision approximation refined by two Newton steps on erf: double accuracy.
    if (y <= -1.0) return y == -1.0 ? -HUGE_VAL : NAN;
    if (y >= 1.0) return y == 1.0 ? HUGE_VAL : NAN;
    double w = -log((1.0 - y) * (1.0 + y)), x;
    if (w < 5.0) {
        w -= 2.5;
        x = (((2.81022636e-08 * w + 3.43273939e-07) * w - 3.5233877e-06) * w - 4.39150654e-06) * w;
        x = ((((x + 0.00021858087) * w - 0.00125372503) * w - 0.00417768164) * w + 0.246640727) * w;
        x = (x + 1.50140941) * y;
    } else {
        w = sqrt(w) - 3.0;
        x = (((-0.000200214257 * w + 0.000100950558) * w + 0.00134934322) * w - 0.00367342844) * w;
        x = (((x + 0.00573950773) * w - 0.0076224613) * w + 0.00943887047) * w;
        x = (x + 1.00167406) * y;
    }
    for (int k = 0; k < 2; ++k) x -= (erf(x) - y) / (1.1283791670955126 * exp(-x * x));
    return x;
}
inline float erfinvf(float y) { return (float)erfinv((double)y); }
inline float erfcinvf(float y) { return (float)erfinv(1.0 - (double)y); }
inline double erfcinv(double y) { return erfinv(1.0 - y); }
inline float normcdfinvf(float p) { return (float)(-1.4142135623730951 * erfinv(1.0 - 2.0 * (double)p)); }
inline int __float_as_int(float f) { int i; memcpy(&i, &f, 4); return i; }
inline unsigned __float_as_uint(float f) { unsigned i; memcpy(&i, &f, 4); return i; }
inline float __int_as_float(int i) { float f; memcpy(&f, &i, 4); return f; }
inline float __uint_as_float(unsigned i) { float f; memcpy(&f, &i, 4); return f; }
inline long long __double_as_longlong(double d) { long long i; memcpy(&i, &d, 8); return i; }
inline double __longlong_as_double(long long i) { double d; memcpy(&d, &i, 8); return d; }
inline int __float2int_rn(float x) { return (int)nearbyintf(x); }
inline int __float2int_rz(float x) { return (int)x; }
inline int __float2int_rd(float x) { return (int)floorf(x); }
inline int __float2int_ru(float x) { return (int)ceilf(x); }
inline float __int2float_rn(int x) { return (float)x; }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz((unsigned)x); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll((unsigned long long)x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) {
    unsigned r = 0;
    for (int k = 0; k < 32; ++k) r |= ((x >> k) & 1u) << (31 - k);
    return r;
}
template <class T> inline T __ldg(const T* p) { return *p; }
// CUDA's min/max accept mixed argument types (std::min does not).
template <class A, class B, class = std::enable_if_t<std::is_arithmetic_v<A> && std::is_arithmetic_v<B>>>
inline std::common_type_t<A, B> min(A a, B b) { return b < a ? b : a; }
template <class A, class B, class = std::enable_if_t<std::is_arithmetic_v<A> && std::is_arithmetic_v<B>>>
inline std::common_type_t<A, B> max(A a, B b) { return a < b ? b : a; }
#ifndef CUDART_INF_F
#define CUDART_INF_F __builtin_huge_valf()
#define CUDART_INF __builtin_huge_val()
#define CUDART_NAN_F __builtin_nanf("")
#define CUDART_NAN __builtin_nan("")
#define CUDART_PI_F 3.141592654f
#define CUDART_PI 3.1415926535897931e+0
#define CUDART_SQRT_2PI 2.5066282746310002e+0
#define CUDART_SQRT_HALF_F 0.707106781f
#endif
