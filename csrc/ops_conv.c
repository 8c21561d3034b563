/* ops_conv.c: 2-D convolution, channels_last, on OpenBLAS sgemm.
 *
 * conv2d(x, kernel) -> y
 *   x (N,H,W,C), kernel (KH,KW,C/groups,F) (Keras's layout), y (N,OH,OW,F).
 *   ints = [stride_h, stride_w, dilation_h, dilation_w, groups, padding], padding:
 *     0 "valid": no padding, OH = (H - ((KH-1)*dh + 1)) / sh + 1;
 *     1 "same":  OH = ceil(H / sh), total pad = max((OH-1)*sh + (KH-1)*dh + 1 - H, 0),
 *                the odd pixel at the bottom/right (Keras's rule);
 *     2 "causal": (KH-1)*dh rows on top and (KW-1)*dw columns on the left (Conv1D).
 *   Group g reads channels [g*C/G, (g+1)*C/G) and writes filters [g*F/G, (g+1)*F/G).
 *   An optional 7th int 1 reads a depthwise kernel (KH,KW,C,depth_multiplier) with groups=C
 *   (the same memory as (KH,KW,1,C*dm)). Rank-3 x (N,L,C) and kernel (K,C/groups,F) run the
 *   1-D convolution (the height entries of the attributes are then 1): y (N,OL,F).
 *
 * Forward: im2col into the shared work buffer, a bounded chunk of output rows at a time,
 * then one GEMM per group: y (R,F/G) = col (R,KH*KW*C/G) . kernel (KH*KW*C/G, F/G).
 * A col row holds, per group, the patch in (kh,kw,c) order, so it meets the kernel's rows.
 * A 1x1 stride-1 convolution is a matmul on x itself: no im2col. With one input channel
 * per group (depthwise, or a single-channel input) a direct loop over the window replaces
 * im2col + GEMM.
 * Backward, per chunk: dkernel += col^T . dy (sgemm, beta accumulates over chunks);
 * dcol = dy . kernel^T, scattered back by col2im (+=) into dx.
 * The products split themselves across the engine's threads (gemm.c); the passes around
 * them (im2col, col2im, the direct loops) are split here, see "the passes around the
 * products" below.
 *
 * conv2d_transpose(x, kernel) -> y
 *   x (N,H,W,C), kernel (KH,KW,F,C) (Keras's Conv2DTranspose layout), y (N,OH,OW,F).
 *   ints = [stride_h, stride_w, dilation_h, dilation_w, padding (0 valid, 1 same),
 *   output_padding_h, output_padding_w (-1: None)]; rank-3 x (N,L,C) with kernel (K,F,C) is
 *   the 1-D form. The output size follows Keras 3
 *   (valid: (H-1)*s + max(E, s) for E = (KH-1)*dh + 1; same: H*s; see transpose_axis).
 *   It is the adjoint of a conv2d, so it runs the same kernels the other way round:
 *   forward = conv2d's input gradient, backward = conv2d's forward and kernel gradient.
 */
#include <string.h>

#include "blas.h"
#include "gemm.h"
#include "ops.h"
#include "parallel.h"

/* The im2col buffer holds at most this many floats (4 MiB) unless one row needs more:
 * large inputs are processed in row chunks instead of one huge patch matrix. */
#define CONV_WORK_CAP (1 << 20)

enum { PAD_VALID = 0, PAD_SAME = 1, PAD_CAUSAL = 2 };

typedef struct {
    int64_t n, h, w, c, kh, kw, f;   // x (N,H,W,C), kernel (KH,KW,C/G,F)
    int64_t sh, sw, dh, dw, g, pad;  // attributes
    int64_t cg, fg;                  // channels and filters per group
    int64_t oh, ow, pt, pl;          // output size, top/left padding
    int64_t m, k;                    // rows N*OH*OW; patch length per group KH*KW*C/G
    int64_t rows;                    // rows per im2col chunk
    int direct;                      // 1x1, stride 1: x is already the patch matrix
    int depthwise;                   // one input channel per group: a direct loop
} geom;

/* Output length and leading pad along one axis; -1 length when the input is too short. */
static void axis_out(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pad, int64_t *out, int64_t *lead) {
    int64_t eff = (k - 1) * d + 1;
    if (pad == PAD_SAME) {
        *out = (in + s - 1) / s;
        int64_t total = (*out - 1) * s + eff - in;
        if (total < 0) total = 0;
        *lead = total / 2;
    } else if (pad == PAD_CAUSAL) {
        *lead = eff - 1;
        *out = in > 0 ? (in - 1) / s + 1 : 0;
    } else {
        *lead = 0;
        *out = in >= eff ? (in - eff) / s + 1 : -1;
    }
}

static void geom_finish(geom *q);

static cnn_status conv_geom(int n_in, const cnn_shape *const *in, const cnn_attrs *a, geom *q) {
    (void)n_in;
    const char *op = "conv2d";
    const cnn_shape *x = in[0], *k = in[1];
    memset(q, 0, sizeof *q);
    if (a->n_int != 6 && a->n_int != 7)
        return cnn_fail(CNN_ERR_VALUE, "%s: expected 6 or 7 int attributes (strides, dilation, groups, "
                        "padding[, depthwise layout]), got %d", op, a->n_int);
    q->sh = a->i[0]; q->sw = a->i[1]; q->dh = a->i[2]; q->dw = a->i[3]; q->g = a->i[4]; q->pad = a->i[5];
    int dwl = a->n_int == 7 && a->i[6];
    if (q->sh < 1 || q->sw < 1 || q->dh < 1 || q->dw < 1 || q->g < 1 || q->pad < 0 || q->pad > 2)
        return cnn_fail(CNN_ERR_VALUE, "%s: strides (%lld, %lld), dilation (%lld, %lld) and groups %lld "
                        "must be >= 1 and padding 0 (valid), 1 (same) or 2 (causal), got %lld", op,
                        (long long)q->sh, (long long)q->sw, (long long)q->dh, (long long)q->dw,
                        (long long)q->g, (long long)q->pad);
    if (!((x->ndim == 4 && k->ndim == 4) || (x->ndim == 3 && k->ndim == 3)))
        return cnn_fail(CNN_ERR_SHAPE, "%s: expected x (N, H, W, C) and kernel (KH, KW, C/groups, F), or "
                        "x (N, L, C) and kernel (K, C/groups, F), got %s and %s", op, cnn_shape_fmt(x),
                        cnn_shape_fmt(k));
    // Graph building may leave the batch and the spatial dims unknown (-1: Keras's
    // Input((None, None, C))); the channels and the kernel must be known.
    for (int d = 0; d < x->ndim; d++)
        if ((d == x->ndim - 1 && x->dim[d] < 0) || k->dim[d] < 0)
            return cnn_fail(CNN_ERR_SHAPE, "%s: the channels and the kernel must be known, got x %s and "
                            "kernel %s", op, cnn_shape_fmt(x), cnn_shape_fmt(k));
    int r1 = x->ndim == 3;  // 1-D: a height-1 image and a height-1 window
    q->n = x->dim[0]; q->h = r1 ? 1 : x->dim[1]; q->w = x->dim[2 - r1]; q->c = x->dim[3 - r1];
    q->kh = r1 ? 1 : k->dim[0]; q->kw = k->dim[1 - r1]; q->cg = k->dim[2 - r1]; q->f = k->dim[3 - r1];
    if (q->kh < 1 || q->kw < 1)
        return cnn_fail(CNN_ERR_SHAPE, "%s: kernel %s has an empty window", op, cnn_shape_fmt(k));
    if (dwl) {  // kernel (KH, KW, C, depth_multiplier): the same memory as (KH, KW, 1, C*dm)
        if (q->cg != q->c || q->g != q->c)
            return cnn_fail(CNN_ERR_SHAPE, "%s: input %s has %lld channels but depthwise kernel %s "
                            "(groups=%lld) expects %lld", op, cnn_shape_fmt(x), (long long)q->c,
                            cnn_shape_fmt(k), (long long)q->g, (long long)q->cg);
        q->f *= q->cg;
        q->cg = 1;
    }
    if (q->cg * q->g != q->c)
        return cnn_fail(CNN_ERR_SHAPE, "%s: input %s has %lld channels but kernel %s with groups=%lld "
                        "expects %lld", op, cnn_shape_fmt(x), (long long)q->c, cnn_shape_fmt(k),
                        (long long)q->g, (long long)(q->cg * q->g));
    if (q->f % q->g)
        return cnn_fail(CNN_ERR_SHAPE, "%s: kernel %s has %lld filters, not divisible by groups=%lld",
                        op, cnn_shape_fmt(k), (long long)q->f, (long long)q->g);
    q->fg = q->f / q->g;
    int64_t pt, pl;
    axis_out(q->h, q->kh, q->sh, q->dh, q->pad, &q->oh, &pt);
    axis_out(q->w, q->kw, q->sw, q->dw, q->pad, &q->ow, &pl);
    if (q->h < 0) q->oh = pt = -1;  // unknown in, unknown out (only graph building sees these)
    if (q->w < 0) q->ow = pl = -1;
    if ((q->h >= 0 && q->oh < 0) || (q->w >= 0 && q->ow < 0))
        return cnn_fail(CNN_ERR_SHAPE, "%s: input %s is smaller than the dilated kernel %s "
                        "(dilation (%lld, %lld)) with padding='valid'", op, cnn_shape_fmt(x),
                        cnn_shape_fmt(k), (long long)q->dh, (long long)q->dw);
    q->pt = pt; q->pl = pl;
    geom_finish(q);
    return CNN_OK;
}

/* Derived sizes and the path a geometry takes. */
static void geom_finish(geom *q) {
    q->k = q->kh * q->kw * q->cg;
    q->m = q->n < 0 || q->oh < 0 || q->ow < 0 ? -1 : q->n * q->oh * q->ow;
    // A 1x1 window at stride 1 with no shift (conv2d's padding of a 1x1 window is always 0):
    // x is the patch matrix itself.
    q->direct = q->kh == 1 && q->kw == 1 && q->sh == 1 && q->sw == 1 && q->pt == 0 && q->pl == 0 &&
                q->oh == q->h && q->ow == q->w;
    // With one channel per group a col row would feed GEMMs of one column: tiny calls that
    // cost more than the arithmetic. A direct loop over the window runs along the filters.
    q->depthwise = !q->direct && q->cg == 1;
    int64_t row = q->g * q->k;
    q->rows = row > 0 ? CONV_WORK_CAP / row : 0;
    if (q->rows < 1) q->rows = 1;
    if (q->m >= 0 && q->rows > q->m) q->rows = q->m;
}

static cnn_status conv2d_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    geom q;
    cnn_status st = conv_geom(n, in, a, &q);
    if (st) return st;
    if (in[0]->ndim == 3) {
        out->ndim = 3;
        out->dim[0] = q.n; out->dim[1] = q.ow; out->dim[2] = q.f;
        return CNN_OK;
    }
    out->ndim = 4;
    out->dim[0] = q.n; out->dim[1] = q.oh; out->dim[2] = q.ow; out->dim[3] = q.f;
    return CNN_OK;
}

static int64_t conv2d_work(const cnn_op_ctx *c) {
    geom q;
    if (conv_geom(c->n_in, c->in_shape, c->attrs, &q) || q.direct || q.depthwise) return 0;
    return q.rows * q.g * q.k;
}

/* Output rows [r0, r0+R) in order, with their (n, oy, ox) kept by counters: an int64
 * division per row would cost more than a small window's arithmetic. */
#define FOR_ROWS(q, r0, R, r, n, oy, ox)                                                       \
    for (int64_t r = 0, n = (r0) / ((q)->oh * (q)->ow), oy = (r0) % ((q)->oh * (q)->ow) / (q)->ow, \
                 ox = (r0) % (q)->ow;                                                          \
         r < (R); r++, next_pixel((q), &n, &oy, &ox))

static inline void next_pixel(const geom *q, int64_t *n, int64_t *oy, int64_t *ox) {
    if (++*ox < q->ow) return;
    *ox = 0;
    if (++*oy < q->oh) return;
    *oy = 0;
    ++*n;
}

/* col (R, G*K) for output rows [r0, r0+R): each row the (g, kh, kw, c) patch, zeros
 * where the window hangs over the padding. */
CNN_HOT static void im2col(const geom *q, const float *x, int64_t r0, int64_t R, float *col) {
    int64_t ld = q->g * q->k;
    FOR_ROWS(q, r0, R, r, n, oy, ox) {
        float *dst = col + r * ld;
        for (int64_t i = 0; i < q->kh; i++) {
            int64_t iy = oy * q->sh - q->pt + i * q->dh;
            for (int64_t j = 0; j < q->kw; j++) {
                int64_t ix = ox * q->sw - q->pl + j * q->dw;
                float *d = dst + (i * q->kw + j) * q->cg;
                if (iy < 0 || iy >= q->h || ix < 0 || ix >= q->w) {
                    for (int64_t g = 0; g < q->g; g++) memset(d + g * q->k, 0, sizeof(float) * (size_t)q->cg);
                    continue;
                }
                const float *s = x + ((n * q->h + iy) * q->w + ix) * q->c;  // x[n, iy, ix, :]
                if (q->g == 1) memcpy(d, s, sizeof(float) * (size_t)q->c);
                else if (q->cg == 1) for (int64_t g = 0; g < q->g; g++) d[g * q->k] = s[g];
                else for (int64_t g = 0; g < q->g; g++)
                    memcpy(d + g * q->k, s + g * q->cg, sizeof(float) * (size_t)q->cg);
            }
        }
    }
}

/* dx += scatter of dcol (R, G*K): the adjoint of im2col, for the channels [c0, c1) of
 * every group (the split that lets threads scatter without meeting: windows overlap in
 * pixels, never in channels). */
CNN_HOT static void col2im(const geom *q, const float *col, int64_t r0, int64_t R, float *dx,
                           int64_t c0, int64_t c1) {
    int64_t ld = q->g * q->k;
    FOR_ROWS(q, r0, R, r, n, oy, ox) {
        const float *src = col + r * ld;
        for (int64_t i = 0; i < q->kh; i++) {
            int64_t iy = oy * q->sh - q->pt + i * q->dh;
            if (iy < 0 || iy >= q->h) continue;
            for (int64_t j = 0; j < q->kw; j++) {
                int64_t ix = ox * q->sw - q->pl + j * q->dw;
                if (ix < 0 || ix >= q->w) continue;
                const float *s = src + (i * q->kw + j) * q->cg;
                float *d = dx + ((n * q->h + iy) * q->w + ix) * q->c;  // dx[n, iy, ix, :]
                for (int64_t g = 0; g < q->g; g++)
                    for (int64_t ch = c0; ch < c1; ch++) d[g * q->cg + ch] += s[g * q->k + ch];
            }
        }
    }
}

/* Window taps of output pixel (n, oy, ox) that fall inside x: (i, j, x pixel offset). */
#define FOR_TAPS(q, n, oy, ox, i, j, xoff, ...)                                                \
    do {                                                                                       \
        for (int64_t i = 0; i < (q)->kh; i++) {                                                \
            int64_t iy_ = (oy) * (q)->sh - (q)->pt + i * (q)->dh;                              \
            if (iy_ < 0 || iy_ >= (q)->h) continue;                                            \
            for (int64_t j = 0; j < (q)->kw; j++) {                                            \
                int64_t ix_ = (ox) * (q)->sw - (q)->pl + j * (q)->dw;                          \
                if (ix_ < 0 || ix_ >= (q)->w) continue;                                        \
                int64_t xoff = (((n) * (q)->h + iy_) * (q)->w + ix_) * (q)->c;                 \
                __VA_ARGS__                                                                    \
            }                                                                                  \
        }                                                                                      \
    } while (0)

/* Depthwise (C/G = 1): y[r, c*fg + m] = sum over taps x[pixel, c] * w[tap, c*fg + m].
 * Outputs go in blocks of DW_BLOCK held in registers across the taps (re-reading and storing
 * the output row at every tap costs more than the arithmetic); the taps add in order. */
#define DW_BLOCK 16
/* One block of outputs [cb, cb+nb) of pixel (n, oy, ox) for the blocked depthwise path; the
 * full-width version has a fixed trip count so the accumulators stay in registers. */
static inline void dw_block_full(const geom *q, const float *x, const float *w, int64_t n, int64_t oy,
                                 int64_t ox, int64_t cb, float *restrict yb, int accumulate) {
    float acc[DW_BLOCK];
    for (int l = 0; l < DW_BLOCK; l++) acc[l] = accumulate ? yb[l] : 0.0f;
    FOR_TAPS(q, n, oy, ox, i, j, xo, {
        const float *restrict kr = w + (i * q->kw + j) * q->f + cb;
        if (q->fg == 1) {
            const float *restrict xr = x + xo + cb;
            for (int l = 0; l < DW_BLOCK; l++) acc[l] += xr[l] * kr[l];
        } else {
            float xv = x[xo];
            for (int l = 0; l < DW_BLOCK; l++) acc[l] += xv * kr[l];
        }
    });
    for (int l = 0; l < DW_BLOCK; l++) yb[l] = acc[l];
}

static inline void dw_block_part(const geom *q, const float *x, const float *w, int64_t n, int64_t oy,
                                 int64_t ox, int64_t cb, int64_t nb, float *restrict yb, int accumulate) {
    if (!accumulate) memset(yb, 0, sizeof(float) * (size_t)nb);
    FOR_TAPS(q, n, oy, ox, i, j, xo, {
        const float *restrict kr = w + (i * q->kw + j) * q->f + cb;
        for (int64_t l = 0; l < nb; l++) yb[l] += (q->fg == 1 ? x[xo + cb + l] : x[xo]) * kr[l];
    });
}

/* Output rows [r0, r0 + R); y points at row r0. */
CNN_HOT static void depthwise_forward(const geom *q, const float *x, const float *w, float *y,
                                      int accumulate, int64_t r0, int64_t R) {
    int64_t fg = q->fg, f = q->f;
    int blocked = fg == 1 || q->g == 1;  // an output's input channel is c (fg 1) or 0 (one group)
    FOR_ROWS(q, r0, R, r, n, oy, ox) {
        float *restrict yr = y + r * f;  // (F)
        if (blocked) {
            for (int64_t cb = 0; cb < f; cb += DW_BLOCK) {
                int64_t nb = f - cb < DW_BLOCK ? f - cb : DW_BLOCK;
                if (nb == DW_BLOCK) dw_block_full(q, x, w, n, oy, ox, cb, yr + cb, accumulate);
                else dw_block_part(q, x, w, n, oy, ox, cb, nb, yr + cb, accumulate);
            }
            continue;
        }
        if (!accumulate) memset(yr, 0, sizeof(float) * (size_t)f);
        FOR_TAPS(q, n, oy, ox, i, j, xo, {
            const float *restrict xr = x + xo, *restrict kr = w + (i * q->kw + j) * f;
            for (int64_t g = 0; g < q->g; g++) {
                float xv = xr[g];
                for (int64_t m = 0; m < fg; m++) yr[g * fg + m] += xv * kr[g * fg + m];
            }
        });
    }
}

/* dx[pixel, c] += sum_m dy[r, c*fg+m] * w[tap, c*fg+m] for the units [u0, u1) of
 * depthwise_dx_units: channels (fg 1), groups, or one unit for the single group. */
CNN_HOT static void depthwise_input_grad(const geom *q, const float *w, const float *dy, float *dx,
                                         int64_t u0, int64_t u1) {
    int64_t fg = q->fg, f = q->f;
    FOR_ROWS(q, 0, q->m, r, n, oy, ox) {
        const float *dyr = dy + r * f;  // (F)
        FOR_TAPS(q, n, oy, ox, i, j, xo, {
            const float *kr = w + (i * q->kw + j) * f;
            float *dxr = dx + xo;
            if (fg == 1) for (int64_t ch = u0; ch < u1; ch++) dxr[ch] += dyr[ch] * kr[ch];
            else for (int64_t g = u0; g < u1; g++) {
                float s = 0.0f;
                for (int64_t m = 0; m < fg; m++) s += dyr[g * fg + m] * kr[g * fg + m];
                dxr[g] += s;
            }
        });
    }
}

/* d[0..DW_BLOCK) += a * b[..] or a[..] * b[..] as one vector (GCC's vector extension: as
 * plain loops GCC ran these blocks scalar, for fear that d aliases a or b). Each lane is a
 * separate multiply and add, as in the scalar loop. */
typedef float dw_vec __attribute__((vector_size(DW_BLOCK * sizeof(float))));

static inline __attribute__((always_inline)) void block_axpy(float *d, float a, const float *b) {
    dw_vec vd, vb;
    memcpy(&vd, d, sizeof vd);
    memcpy(&vb, b, sizeof vb);
    vd += a * vb;
    memcpy(d, &vd, sizeof vd);
}

static inline __attribute__((always_inline)) void block_fma(float *d, const float *a, const float *b) {
    dw_vec vd, va, vb;
    memcpy(&vd, d, sizeof vd);
    memcpy(&va, a, sizeof va);
    memcpy(&vb, b, sizeof vb);
    vd += va * vb;
    memcpy(d, &vd, sizeof vd);
}

/* dw[tap, o] += x[pixel, o / fg] * dy[r, o] for the output channels [o0, o1), rows in order.
 * Blocks of DW_BLOCK channels run as one vector each: with a loop of run-time length per tap
 * and row, the first conv of an MNIST-size CNN (one input channel, 32 filters) took 11% of
 * the whole training step on one thread, 7% now. */
CNN_HOT static void depthwise_kernel_grad(const geom *q, const float *x, const float *dy, float *dw,
                                          int64_t o0, int64_t o1) {
    int64_t fg = q->fg, f = q->f;
    int one_channel = q->g == 1;  // every filter reads channel 0
    FOR_ROWS(q, 0, q->m, r, n, oy, ox) {
        const float *dyr = dy + r * f;  // (F)
        FOR_TAPS(q, n, oy, ox, i, j, xo, {
            const float *xr = x + xo;
            float *dkr = dw + (i * q->kw + j) * f;
            int64_t o = o0;
            if (fg == 1)
                for (; o + DW_BLOCK <= o1; o += DW_BLOCK) block_fma(dkr + o, xr + o, dyr + o);
            else if (one_channel) {
                float xv = xr[0];
                for (; o + DW_BLOCK <= o1; o += DW_BLOCK) block_axpy(dkr + o, xv, dyr + o);
            }
            for (; o < o1; o++) dkr[o] += xr[o / fg] * dyr[o];
        });
    }
}

/* ---- the passes around the products, on the engine's threads ------------------------
 * Each split gives every thread outputs of its own and keeps each output's sum in the same
 * order, so results do not depend on the thread count. Ranges get cnn_grain's share of
 * work (floats copied or multiply-adds). */

/* What depthwise_input_grad splits: channels when fg is 1, else groups (one group: no
 * split, its dx sums over every filter). */
static int64_t depthwise_dx_units(const geom *q) { return q->fg == 1 ? q->f : q->g; }

typedef struct {
    const geom *q;
    const float *x, *w, *dy;
    float *out, *dx;  /* out: y (forward), col (im2col) or dw (depthwise backward) */
    const float *col;
    int64_t r0, rows;  /* the chunk of output rows [r0, r0 + rows) (im2col, col2im) */
    int accumulate;
} pass_job;

static void im2col_range(void *arg, int64_t b, int64_t e, int part) {
    (void)part;
    const pass_job *j = arg;
    im2col(j->q, j->x, j->r0 + b, e - b, j->out + b * j->q->g * j->q->k);
}

/* col rows [0, R) for output rows [r0, r0 + R); each thread copies whole rows. */
static void im2col_threaded(const geom *q, const float *x, int64_t r0, int64_t R, float *col) {
    pass_job j = {.q = q, .x = x, .out = col, .r0 = r0};
    cnn_parallel_for(R, cnn_grain(q->g * q->k), im2col_range, &j);
}

static void col2im_range(void *arg, int64_t b, int64_t e, int part) {
    (void)part;
    const pass_job *j = arg;
    col2im(j->q, j->col, j->r0, j->rows, j->dx, b, e);
}

/* Each thread scatters its own channels of every window. */
static void col2im_threaded(const geom *q, const float *col, int64_t r0, int64_t R, float *dx) {
    pass_job j = {.q = q, .col = col, .dx = dx, .r0 = r0, .rows = R};
    cnn_parallel_for(q->cg, cnn_grain(R * q->kh * q->kw * q->g), col2im_range, &j);
}

static void depthwise_forward_range(void *arg, int64_t b, int64_t e, int part) {
    (void)part;
    const pass_job *j = arg;
    depthwise_forward(j->q, j->x, j->w, j->out + b * j->q->f, j->accumulate, b, e - b);
}

static void depthwise_dx_range(void *arg, int64_t b, int64_t e, int part) {
    (void)part;
    const pass_job *j = arg;
    depthwise_input_grad(j->q, j->w, j->dy, j->dx, b, e);
}

/* Blocks [b, e) of DW_BLOCK output channels. */
static void depthwise_dw_range(void *arg, int64_t b, int64_t e, int part) {
    (void)part;
    const pass_job *j = arg;
    int64_t o1 = e * DW_BLOCK < j->q->f ? e * DW_BLOCK : j->q->f;
    depthwise_kernel_grad(j->q, j->x, j->dy, j->out, b * DW_BLOCK, o1);
}

/* y = conv(x) (beta 0) or y += conv(x) (beta 1). */
static void conv_apply(const geom *q, const float *x, const float *w, float *y, float beta, float *work) {
    if (q->m == 0 || q->f == 0) return;
    if (q->k == 0) {
        if (beta == 0.0f) memset(y, 0, sizeof(float) * (size_t)(q->m * q->f));
        return;
    }
    if (q->direct) {  // y (M,F/G) = x[:, group] (M,C/G) . w (C/G,F/G), per group
        for (int64_t g = 0; g < q->g; g++)
            cnn_gemm(0, 0, q->m, q->fg, q->cg,
                      1.0f, x + g * q->cg, q->c, w + g * q->fg, q->f, beta, y + g * q->fg, q->f);
        return;
    }
    if (q->depthwise) {
        pass_job j = {.q = q, .x = x, .w = w, .out = y, .accumulate = beta != 0.0f};
        cnn_parallel_for(q->m, cnn_grain(q->kh * q->kw * q->f), depthwise_forward_range, &j);
        return;
    }
    int64_t ld = q->g * q->k;
    for (int64_t r0 = 0; r0 < q->m; r0 += q->rows) {
        int64_t R = q->m - r0 < q->rows ? q->m - r0 : q->rows;
        im2col_threaded(q, x, r0, R, work);
        for (int64_t g = 0; g < q->g; g++)  // y (R,F/G) = col (R,K) . w (K,F/G)
            cnn_gemm(0, 0, R, q->fg, q->k,
                      1.0f, work + g * q->k, ld, w + g * q->fg, q->f,
                      beta, y + r0 * q->f + g * q->fg, q->f);
    }
}

/* The adjoints of conv_apply: dx += dconv/dx . dy (dx may be NULL); dw = or += (dw_beta
 * 0 or 1) dconv/dw . dy (dw may be NULL; x is only read for dw). */
static void conv_adjoint(const geom *q, const float *x, const float *w, const float *dy, float *dx,
                         float *dw, float dw_beta, float *work) {
    int64_t nw = q->kh * q->kw * q->cg * q->f;
    if (dw && dw_beta == 0.0f && (q->m == 0 || q->f == 0 || q->k == 0 || q->depthwise)) {
        memset(dw, 0, sizeof(float) * (size_t)nw);  // the paths below only accumulate
        dw_beta = 1.0f;
    }
    if (q->m == 0 || q->f == 0 || q->k == 0) return;
    if (q->direct) {
        for (int64_t g = 0; g < q->g; g++) {
            if (dw)  // dw (C/G,F/G) += x[:, group]^T (C/G,M) . dy (M,F/G)
                cnn_gemm(1, 0, q->cg, q->fg, q->m,
                          1.0f, x + g * q->cg, q->c, dy + g * q->fg, q->f,
                          dw_beta, dw + g * q->fg, q->f);
            if (dx)  // dx[:, group] (M,C/G) += dy (M,F/G) . w^T (F/G,C/G)
                cnn_gemm(0, 1, q->m, q->cg, q->fg,
                          1.0f, dy + g * q->fg, q->f, w + g * q->fg, q->f,
                          1.0f, dx + g * q->cg, q->c);
        }
        return;
    }
    if (q->depthwise) {
        pass_job j = {.q = q, .x = x, .w = w, .dy = dy, .dx = dx, .out = dw};
        int64_t taps = q->kh * q->kw, units = depthwise_dx_units(q);
        if (dx) cnn_parallel_for(units, cnn_grain(q->m * taps * q->f / units), depthwise_dx_range, &j);
        int64_t blocks = (q->f + DW_BLOCK - 1) / DW_BLOCK;
        if (dw) cnn_parallel_for(blocks, cnn_grain(q->m * taps * DW_BLOCK), depthwise_dw_range, &j);
        return;
    }
    int64_t ld = q->g * q->k;
    for (int64_t r0 = 0; r0 < q->m; r0 += q->rows) {
        int64_t R = q->m - r0 < q->rows ? q->m - r0 : q->rows;
        const float *dyr = dy + r0 * q->f;
        if (dw) {
            im2col_threaded(q, x, r0, R, work);
            for (int64_t g = 0; g < q->g; g++)  // dw (K,F/G) += col^T (K,R) . dy (R,F/G)
                cnn_gemm(1, 0, q->k, q->fg, R,
                          1.0f, work + g * q->k, ld, dyr + g * q->fg, q->f,
                          dw_beta, dw + g * q->fg, q->f);
            dw_beta = 1.0f;
        }
        if (dx) {
            for (int64_t g = 0; g < q->g; g++)  // dcol (R,K) = dy (R,F/G) . w^T (F/G,K)
                cnn_gemm(0, 1, R, q->k, q->fg,
                          1.0f, dyr + g * q->fg, q->f, w + g * q->fg, q->f,
                          0.0f, work + g * q->k, ld);
            col2im_threaded(q, work, r0, R, dx);
        }
    }
}

static cnn_status conv2d_forward(cnn_op_ctx *c) {
    geom q;
    cnn_status st = conv_geom(c->n_in, c->in_shape, c->attrs, &q);
    if (st) return st;
    conv_apply(&q, c->in[0], c->in[1], c->out, 0.0f, c->work);
    return CNN_OK;
}

static cnn_status conv2d_backward(cnn_op_ctx *c) {
    geom q;
    cnn_status st = conv_geom(c->n_in, c->in_shape, c->attrs, &q);
    if (st) return st;
    float *dx = c->in_grad[0];
    // A fresh dx is zeroed (col2im scatters with +=, and some pixels may lie under no
    // window); a fresh dw is written by the first sgemm with beta = 0.
    if (dx && (c->grad_fresh & 1u)) memset(dx, 0, sizeof(float) * (size_t)cnn_shape_numel(c->in_shape[0]));
    conv_adjoint(&q, c->in[0], c->in[1], c->out_grad, dx, c->in_grad[1],
                 (c->grad_fresh & 2u) ? 0.0f : 1.0f, c->work);
    return CNN_OK;
}

/* ---- conv2d_transpose ---------------------------------------------------------------- */

/* Keras 3's output length along one axis. The full transposed output is (I-1)*s + E long
 * (E the dilated window); Keras pads it by (lo, hi) as JAX does, which amounts to dropping
 * E-1-lo leading and E-1-hi trailing positions (negative: zeros added). op < 0: None. */
static void transpose_axis(int64_t in, int64_t k, int64_t s, int64_t d, int64_t same, int64_t op,
                           int64_t *out, int64_t *crop) {
    int64_t e = (k - 1) * d + 1, lo, hi;
    if (!same) {
        if (op < 0) op = (e > s ? e : s) - e;
        lo = e - 1;
        hi = e - 1 + op;
    } else {
        int64_t len = op < 0 ? s + e - 2 : e + e % 2 - 2 + op;
        lo = len / 2 + len % 2;
        if (lo > e - 1) lo = e - 1;
        hi = len - lo;
    }
    *crop = e - 1 - lo;
    *out = in > 0 ? (in - 1) * s + e - *crop - (e - 1 - hi) : 0;
}

/* The transposed convolution of x is the adjoint of a conv2d whose output has x's shape:
 * its geometry is that conv2d's, with the transposed output as the conv input. */
static cnn_status transpose_geom(int n_in, const cnn_shape *const *in, const cnn_attrs *a, geom *q) {
    (void)n_in;
    const char *op = "conv2d_transpose";
    const cnn_shape *x = in[0], *k = in[1];
    memset(q, 0, sizeof *q);
    if (a->n_int != 7)
        return cnn_fail(CNN_ERR_VALUE, "%s: expected 7 int attributes (strides, dilation, padding, "
                        "output_padding), got %d", op, a->n_int);
    q->sh = a->i[0]; q->sw = a->i[1]; q->dh = a->i[2]; q->dw = a->i[3]; q->pad = a->i[4];
    int64_t oph = a->i[5], opw = a->i[6];
    if (q->sh < 1 || q->sw < 1 || q->dh < 1 || q->dw < 1 || q->pad < 0 || q->pad > 1 || oph < -1 || opw < -1)
        return cnn_fail(CNN_ERR_VALUE, "%s: strides (%lld, %lld) and dilation (%lld, %lld) must be >= 1, "
                        "padding 0 (valid) or 1 (same), output_padding (%lld, %lld) >= 0 or -1 (None)",
                        op, (long long)q->sh, (long long)q->sw, (long long)q->dh, (long long)q->dw,
                        (long long)oph, (long long)opw);
    if (!((x->ndim == 4 && k->ndim == 4) || (x->ndim == 3 && k->ndim == 3)))
        return cnn_fail(CNN_ERR_SHAPE, "%s: expected x (N, H, W, C) and kernel (KH, KW, F, C), or "
                        "x (N, L, C) and kernel (K, F, C), got %s and %s", op, cnn_shape_fmt(x),
                        cnn_shape_fmt(k));
    int nd = x->ndim, r1 = nd == 3;
    for (int d = 0; d < nd; d++)  // as conv2d: unknown batch and spatial dims are allowed
        if ((d == nd - 1 && x->dim[d] < 0) || k->dim[d] < 0)
            return cnn_fail(CNN_ERR_SHAPE, "%s: the channels and the kernel must be known, got x %s and "
                            "kernel %s", op, cnn_shape_fmt(x), cnn_shape_fmt(k));
    if (k->dim[0] < 1 || k->dim[nd - 3] < 1)
        return cnn_fail(CNN_ERR_SHAPE, "%s: kernel %s has an empty window", op, cnn_shape_fmt(k));
    if (k->dim[nd - 1] != x->dim[nd - 1])
        return cnn_fail(CNN_ERR_SHAPE, "%s: input %s has %lld channels but kernel %s expects %lld "
                        "(its last axis)", op, cnn_shape_fmt(x), (long long)x->dim[nd - 1], cnn_shape_fmt(k),
                        (long long)k->dim[nd - 1]);
    // x (N,H,W,Cin) is the conv output (N,OH,OW,F) here; the result (N,H',W',F') its input.
    q->n = x->dim[0]; q->oh = r1 ? 1 : x->dim[1]; q->ow = x->dim[nd - 2]; q->f = q->fg = x->dim[nd - 1];
    q->kh = r1 ? 1 : k->dim[0]; q->kw = k->dim[nd - 3]; q->c = q->cg = k->dim[nd - 2]; q->g = 1;
    transpose_axis(q->oh, q->kh, q->sh, q->dh, q->pad, oph, &q->h, &q->pt);
    transpose_axis(q->ow, q->kw, q->sw, q->dw, q->pad, opw, &q->w, &q->pl);
    if (q->oh < 0) q->h = q->pt = -1;  // unknown in, unknown out (graph building only)
    if (q->ow < 0) q->w = q->pl = -1;
    if ((q->oh >= 0 && q->h < 0) || (q->ow >= 0 && q->w < 0) || (q->oh > 0 && q->h == 0) || (q->ow > 0 && q->w == 0))
        return cnn_fail(CNN_ERR_SHAPE, "%s: input %s with kernel %s and output_padding (%lld, %lld) "
                        "gives an empty output", op, cnn_shape_fmt(x), cnn_shape_fmt(k),
                        (long long)oph, (long long)opw);
    geom_finish(q);
    return CNN_OK;
}

static cnn_status conv2d_transpose_infer(int n, const cnn_shape *const *in, const cnn_attrs *a,
                                         cnn_shape *out) {
    geom q;
    cnn_status st = transpose_geom(n, in, a, &q);
    if (st) return st;
    if (in[0]->ndim == 3) {
        out->ndim = 3;
        out->dim[0] = q.n; out->dim[1] = q.w; out->dim[2] = q.c;
        return CNN_OK;
    }
    out->ndim = 4;
    out->dim[0] = q.n; out->dim[1] = q.h; out->dim[2] = q.w; out->dim[3] = q.c;
    return CNN_OK;
}

static int64_t conv2d_transpose_work(const cnn_op_ctx *c) {
    geom q;
    if (transpose_geom(c->n_in, c->in_shape, c->attrs, &q) || q.direct || q.depthwise) return 0;
    return q.rows * q.g * q.k;
}

static cnn_status conv2d_transpose_forward(cnn_op_ctx *c) {
    geom q;
    cnn_status st = transpose_geom(c->n_in, c->in_shape, c->attrs, &q);
    if (st) return st;
    // y = the conv's input gradient for "dy" = x: scattered with +=, so zeroed first.
    memset(c->out, 0, sizeof(float) * (size_t)cnn_shape_numel(&c->out_shape));
    conv_adjoint(&q, NULL, c->in[1], c->in[0], c->out, NULL, 1.0f, c->work);
    return CNN_OK;
}

static cnn_status conv2d_transpose_backward(cnn_op_ctx *c) {
    geom q;
    cnn_status st = transpose_geom(c->n_in, c->in_shape, c->attrs, &q);
    if (st) return st;
    if (c->in_grad[0])  // dx = conv2d(dy)
        conv_apply(&q, c->out_grad, c->in[1], c->in_grad[0], (c->grad_fresh & 1u) ? 0.0f : 1.0f, c->work);
    if (c->in_grad[1])  // dkernel: the conv's kernel gradient with input dy and output grad x
        conv_adjoint(&q, c->out_grad, c->in[1], c->in[0], NULL, c->in_grad[1],
                     (c->grad_fresh & 2u) ? 0.0f : 1.0f, c->work);
    return CNN_OK;
}

const cnn_op_def cnn_ops_conv[] = {
    {.name = "conv2d", .min_inputs = 2, .max_inputs = 2, .infer = conv2d_infer,
     .forward = conv2d_forward, .backward = conv2d_backward, .work_size = conv2d_work,
     .overwrites_fresh_grads = 1},
    {.name = "conv2d_transpose", .min_inputs = 2, .max_inputs = 2, .infer = conv2d_transpose_infer,
     .forward = conv2d_transpose_forward, .backward = conv2d_transpose_backward,
     .work_size = conv2d_transpose_work, .overwrites_fresh_grads = 1},
    {0},
};
