// Packing of A and B panels for the GEMM micro-kernels, float32 and bfloat16; transposes are
// absorbed by the strides.
#include <cstring>

#include "bf16.h"
#include "config.h"
#include "gemm_kernels.h"

namespace fastnn {

void sgemm_pack_b(int64_t k, int64_t n, const float* B, int64_t rsb, int64_t csb, int64_t NR,
                  float* dst) {
    for (int64_t j0 = 0; j0 < n; j0 += NR) {
        const int64_t nr = n - j0 < NR ? n - j0 : NR;
        const float* src = B + j0 * csb;
        if (csb == 1 && nr == NR) {
            for (int64_t p = 0; p < k; ++p) std::memcpy(dst + p * NR, src + p * rsb, NR * sizeof(float));
        } else {
            for (int64_t p = 0; p < k; ++p) {
                float* d = dst + p * NR;
                const float* s = src + p * rsb;
                int64_t j = 0;
                for (; j < nr; ++j) d[j] = s[j * csb];
                for (; j < NR; ++j) d[j] = 0.0f;
            }
        }
        dst += k * NR;
    }
}

void sgemm_pack_a(int64_t m, int64_t k, const float* A, int64_t rsa, int64_t csa, float* dst) {
    constexpr int64_t MR = GEMM_MR;
    for (int64_t i0 = 0; i0 < m; i0 += MR) {
        const int64_t mr = m - i0 < MR ? m - i0 : MR;
        const float* src = A + i0 * rsa;
        if (rsa == 1 && mr == MR) {
            for (int64_t p = 0; p < k; ++p) std::memcpy(dst + p * MR, src + p * csa, MR * sizeof(float));
        } else if (csa == 1 && mr == MR) {
            // Row-major A: stream the six rows side by side and write the panel sequentially.
            const float *s0 = src, *s1 = src + rsa, *s2 = src + 2 * rsa, *s3 = src + 3 * rsa,
                        *s4 = src + 4 * rsa, *s5 = src + 5 * rsa;
            for (int64_t p = 0; p < k; ++p) {
                float* d = dst + p * MR;
                d[0] = s0[p]; d[1] = s1[p]; d[2] = s2[p]; d[3] = s3[p]; d[4] = s4[p]; d[5] = s5[p];
            }
        } else {
            // Row by row: each row of op(A) is read with unit stride when A is row-major.
            for (int64_t i = 0; i < MR; ++i) {
                float* d = dst + i;
                if (i < mr) {
                    const float* s = src + i * rsa;
                    for (int64_t p = 0; p < k; ++p) d[p * MR] = s[p * csa];
                } else {
                    for (int64_t p = 0; p < k; ++p) d[p * MR] = 0.0f;
                }
            }
        }
        dst += k * MR;
    }
}

void sbgemm_pack(int64_t k, int64_t n, const float* src, int64_t ldk, int64_t ldt, int64_t w,
                 uint16_t* dst) {
    const int64_t kq = (k + 1) / 2;
    for (int64_t t0 = 0; t0 < n; t0 += w) {
        const int64_t nt = n - t0 < w ? n - t0 : w;
        for (int64_t q = 0; q < kq; ++q) {
            uint16_t* d = dst + q * 2 * w;
            const float* s0 = src + 2 * q * ldk + t0 * ldt;
            const bool odd = 2 * q + 1 < k;
            int64_t t = 0;
            for (; t < nt; ++t) {
                d[2 * t] = bf16_from_float(s0[t * ldt]);
                d[2 * t + 1] = odd ? bf16_from_float(s0[ldk + t * ldt]) : 0;
            }
            for (; t < w; ++t) d[2 * t] = d[2 * t + 1] = 0;
        }
        dst += kq * 2 * w;
    }
}

}  // namespace fastnn
