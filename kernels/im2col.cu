// im2col / col2im for conv1d (H == 1) and conv2d, NCHW input, Caffe / PyTorch column layout
//   col[n, (c * kh + ki) * kw + kj, oh * wo + ow] = x[n, c, oh * sh - ph + ki * dh, ow * sw - pw + kj * dw]
// (0 outside the image), so the convolution is a batched matmul W(O, C kh kw) @ col(n).
// col2im is the adjoint (sum of every column entry that read a pixel), written as a gather over the
// kh * kw window of each pixel: no atomics, so the result is deterministic.
#include "common.cuh"

template <typename T>
__global__ __launch_bounds__(512) void im2col(
        const T* __restrict__ x, T* __restrict__ col, i64 n, i64 c, i64 h, i64 w, i64 kh, i64 kw, i64 sh,
        i64 sw, i64 ph, i64 pw, i64 dh, i64 dw, i64 ho, i64 wo) {
    AG_GRID_STRIDE_LOOP(e, n * c * kh * kw * ho * wo) {
        i64 r = e;
        const i64 ow = r % wo; r /= wo;
        const i64 oh = r % ho; r /= ho;
        const i64 kj = r % kw; r /= kw;
        const i64 ki = r % kh; r /= kh;  // r = n * c + c_index
        const i64 ih = oh * sh - ph + ki * dh, iw = ow * sw - pw + kj * dw;
        const bool inside = ih >= 0 && ih < h && iw >= 0 && iw < w;
        col[e] = inside ? x[(r * h + ih) * w + iw] : from_acc<T>(acc_t<T>(0));
    }
}

template <typename T>
__global__ __launch_bounds__(512) void col2im(
        const T* __restrict__ col, T* __restrict__ x, i64 n, i64 c, i64 h, i64 w, i64 kh, i64 kw, i64 sh,
        i64 sw, i64 ph, i64 pw, i64 dh, i64 dw, i64 ho, i64 wo) {
    typedef acc_t<T> A;
    AG_GRID_STRIDE_LOOP(e, n * c * h * w) {
        const i64 iw = e % w, ih = (e / w) % h, nc = e / (w * h);
        A acc = A(0);
        for (i64 ki = 0; ki < kh; ++ki) {
            const i64 oh_s = ih + ph - ki * dh;  // = oh * sh for the window position that read (ih, .)
            if (oh_s < 0 || oh_s % sh != 0 || oh_s / sh >= ho) continue;
            for (i64 kj = 0; kj < kw; ++kj) {
                const i64 ow_s = iw + pw - kj * dw;
                if (ow_s < 0 || ow_s % sw != 0 || ow_s / sw >= wo) continue;
                acc += to_acc(col[((nc * kh + ki) * kw + kj) * ho * wo + (oh_s / sh) * wo + ow_s / sw]);
            }
        }
        x[e] = from_acc<T>(acc);
    }
}
