/* ops_recurrent.c: fused recurrent layers.
 *
 * lstm(x, kernel, recurrent_kernel[, bias]): x (N, T, F), kernel (F, 4u),
 *   recurrent_kernel (u, 4u), bias (4u) -> (N, T, u), the hidden state h of every step.
 *   Keras's gate order i, f, c, o; with activation act (default tanh) and
 *   recurrent_activation ract (default sigmoid):
 *     z = x_t kernel + h_{s-1} recurrent_kernel + bias,
 *     i = ract(z_i), f = ract(z_f), g = act(z_c), o = ract(z_o),
 *     c_s = f c_{s-1} + i g,  h_s = o act(c_s),  h_{-1} = c_{-1} = 0.
 *   ints = [go_backwards, act, ract], each optional: go_backwards (default 0) makes step s
 *   read input time t = T-1-s instead of s; act / ract are activation codes (RNN_TANH = 0,
 *   RNN_SIGMOID = 1, RNN_RELU = 2, RNN_LINEAR = 3, RNN_HARD_SIGMOID = 4: relu6(v + 3) / 6),
 *   all differentiable from their output, so backward needs no pre-activations.
 *   out[:, s] is always the state after step s (processing order, as Keras).
 *   One sgemm projects the inputs of all steps at once; one sgemm per step adds the
 *   recurrent term. aux holds the activated gates (N, T, 4u, input-time order) and the
 *   cell states (N, T, u, step order); backward runs BPTT from them and the output.
 *
 * gru(x, kernel, recurrent_kernel[, bias]): Keras 3's GRU with reset_after = True (its
 *   default): kernel (F, 3u), recurrent_kernel (u, 3u), bias (2, 3u) (row 0 for the input
 *   projection, row 1 for the recurrent one), gate order z, r, h:
 *     xp = x_t kernel + bias[0],  q = h_{s-1} recurrent_kernel + bias[1],
 *     z = ract(xp_z + q_z), r = ract(xp_r + q_r), hh = act(xp_h + r q_h),
 *     h_s = z h_{s-1} + (1 - z) hh.
 *   Same ints and layout conventions as lstm.
 *
 * simple_rnn(x, kernel, recurrent_kernel[, bias]): kernel (F, u), recurrent_kernel (u, u),
 *   bias (u): h_s = act(x_t kernel + h_{s-1} recurrent_kernel + bias). ints =
 *   [go_backwards, act]. No aux: backward differentiates act from the output h itself.
 */
#include <math.h>
#include <string.h>

#include "blas.h"
#include "ops.h"

/* The gate loops select with float compares (clamps, tanh's small-argument branch); under
 * GCC's default -ftrapping-math a compare may raise FE_INVALID, so GCC will not turn those
 * selects into vector blends and the loops stay scalar. Nothing here reads FP flags. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

enum { RNN_TANH, RNN_SIGMOID, RNN_RELU, RNN_LINEAR, RNN_HARD_SIGMOID, RNN_N_ACT };

static int lstm_go_backwards(const cnn_attrs *a) { return a->n_int > 0 && a->i[0] != 0; }
static int rnn_act(const cnn_attrs *a, int k, int dflt) { return a->n_int > k ? (int)a->i[k] : dflt; }

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* e^x for the gate loops without a libm call, so the loops vectorise: Cephes's expf
 * polynomial on x = n ln2 + r (|r| <= ln2 / 2, ln2 split in two for an exact n ln2),
 * scaled by 2^n through the exponent bits. Within 2 ulp of expf on [-87, 88], clamped
 * outside (e^-87 is below every gate's float32 resolution; e^88 near FLT_MAX). */
ALWAYS_INLINE float rnn_exp(float x) {
    x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;  // ternaries vectorise; fminf does not
    float fn = floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - fn * 0.693359375f;
    r = r - fn * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    union { int32_t i; float f; } scale = {.i = ((int32_t)fn + 127) << 23};
    return p * scale.f;
}

/* tanh from e^-2|v| (no overflow); below |v| = 0.1, where 1 - e^-2|v| would cancel, its
 * Taylor series to v^7 (error < 1e-10). Relative error < 4e-7 everywhere. */
ALWAYS_INLINE float rnn_tanh(float v) {
    float a = fabsf(v), e = rnn_exp(-2.0f * a);
    float big = (1.0f - e) / (1.0f + e);
    float a2 = a * a;
    float small = a * (1.0f + a2 * (-1.0f / 3.0f + a2 * (2.0f / 15.0f + a2 * (-17.0f / 315.0f))));
    return copysignf(a < 0.1f ? small : big, v);
}

ALWAYS_INLINE float act_fwd(int kind, float v) {
    switch (kind) {
    case RNN_TANH: return rnn_tanh(v);
    case RNN_SIGMOID: return 1.0f / (1.0f + rnn_exp(-v));
    case RNN_RELU: return v > 0.0f ? v : 0.0f;
    case RNN_HARD_SIGMOID: {
        float t = v + 3.0f;
        return (t < 0.0f ? 0.0f : t > 6.0f ? 6.0f : t) * (1.0f / 6.0f);
    }
    default: return v;
    }
}

/* The derivative at the input whose activation is y. */
ALWAYS_INLINE float act_grad(int kind, float y) {
    switch (kind) {
    case RNN_TANH: return 1.0f - y * y;
    case RNN_SIGMOID: return y * (1.0f - y);
    case RNN_RELU: return y > 0.0f ? 1.0f : 0.0f;
    case RNN_HARD_SIGMOID: return y > 0.0f && y < 1.0f ? 1.0f / 6.0f : 0.0f;
    default: return 1.0f;
    }
}

static cnn_status lstm_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    const cnn_shape *x = in[0], *w = in[1], *r = in[2], *b = n > 3 ? in[3] : NULL;
    if (a->n_int > 3 || (a->n_int >= 1 && a->i[0] != 0 && a->i[0] != 1))
        return cnn_fail(CNN_ERR_VALUE, "lstm: ints are [go_backwards, activation, "
                        "recurrent_activation] with go_backwards 0 or 1");
    for (int k = 1; k < a->n_int; k++)
        if (a->i[k] < 0 || a->i[k] >= RNN_N_ACT)
            return cnn_fail(CNN_ERR_VALUE, "lstm: unknown activation code %lld (0 tanh, 1 sigmoid, "
                            "2 relu, 3 linear, 4 hard_sigmoid)", (long long)a->i[k]);
    if (x->ndim != 3 || w->ndim != 2 || r->ndim != 2 || (b && b->ndim != 1))
        return cnn_fail(CNN_ERR_SHAPE, "lstm: needs x (N, T, F), kernel (F, 4u), recurrent_kernel "
                        "(u, 4u), bias (4u); got x %s, kernel %s, recurrent_kernel %s%s%s",
                        cnn_shape_fmt(x), cnn_shape_fmt(w), cnn_shape_fmt(r), b ? ", bias " : "",
                        b ? cnn_shape_fmt(b) : "");
    int64_t u = r->dim[0];
    if (u < 0 || w->dim[0] < 0 || w->dim[1] != 4 * u || r->dim[1] != 4 * u ||
        (x->dim[2] != -1 && x->dim[2] != w->dim[0]) || (b && b->dim[0] != 4 * u))
        return cnn_fail(CNN_ERR_SHAPE, "lstm: shapes do not fit x (N, T, F), kernel (F, 4u), "
                        "recurrent_kernel (u, 4u), bias (4u): x %s, kernel %s, recurrent_kernel %s%s%s",
                        cnn_shape_fmt(x), cnn_shape_fmt(w), cnn_shape_fmt(r), b ? ", bias " : "",
                        b ? cnn_shape_fmt(b) : "");
    *out = *x;
    out->dim[2] = u;
    return CNN_OK;
}

typedef struct { int64_t n, t, f, u; int back, act, ract; } rnn_dims;

static rnn_dims lstm_dims(const cnn_op_ctx *c) {
    rnn_dims d = {c->in_shape[0]->dim[0], c->in_shape[0]->dim[1], c->in_shape[0]->dim[2],
                  c->in_shape[2]->dim[0], lstm_go_backwards(c->attrs),
                  rnn_act(c->attrs, 1, RNN_TANH), rnn_act(c->attrs, 2, RNN_SIGMOID)};
    return d;
}

/* Calls BODY(act, ract) with both codes compile-time constants for Keras's default pair,
 * so that loop's activations inline into straight-line, vectorisable code. */
#define RNN_DISPATCH(d, BODY)                                                       \
    do {                                                                            \
        if ((d)->act == RNN_TANH && (d)->ract == RNN_SIGMOID) {                     \
            BODY(RNN_TANH, RNN_SIGMOID)                                             \
        } else {                                                                    \
            BODY((d)->act, (d)->ract)                                               \
        }                                                                           \
    } while (0)

static int64_t lstm_aux_size(const cnn_op_ctx *c) {
    rnn_dims d = lstm_dims(c);
    return d.n * d.t * 5 * d.u;
}

static int64_t lstm_work_size(const cnn_op_ctx *c) {
    rnn_dims d = lstm_dims(c);
    return d.n * d.t * 4 * d.u + 2 * d.n * d.u;
}

/* Step s of the forward pass for every sample: the gates z (rows of stride T*4u, the
 * projections on entry, the activated gates on exit), the cell state and h. */
ALWAYS_INLINE void lstm_gates_fwd(int act, int ract, int64_t u, float *restrict zi,
                                  float *restrict zf, float *restrict zg, float *restrict zo,
                                  const float *restrict cp, float *restrict cr,
                                  float *restrict hr) {
    for (int64_t j = 0; j < u; j++) {
        float ig = act_fwd(ract, zi[j]), fg = act_fwd(ract, zf[j]);
        float gg = act_fwd(act, zg[j]), og = act_fwd(ract, zo[j]);
        float cv = ig * gg + fg * (cp ? cp[j] : 0.0f);
        zi[j] = ig; zf[j] = fg; zg[j] = gg; zo[j] = og;
        cr[j] = cv;
        hr[j] = og * act_fwd(act, cv);
    }
}

ALWAYS_INLINE void lstm_row_fwd(int act, int ract, int64_t u, float *zr, const float *b,
                                const float *cp, float *cr, float *hr) {
    if (b)
        for (int64_t j = 0; j < 4 * u; j++) zr[j] += b[j];
    lstm_gates_fwd(act, ract, u, zr, zr + u, zr + 2 * u, zr + 3 * u, cp, cr, hr);
}

CNN_HOT static void lstm_cells_fwd(const rnn_dims *d, int64_t s, float *z, const float *b,
                                   float *cell, float *h) {
    int64_t n = d->n, T = d->t, u = d->u;
#define LSTM_FWD(A, R)                                                              \
    for (int64_t i = 0; i < n; i++) {                                               \
        float *cr = cell + (i * T + s) * u;                                         \
        lstm_row_fwd(A, R, u, z + i * T * 4 * u, b, s > 0 ? cr - u : NULL, cr,      \
                     h + (i * T + s) * u);                                          \
    }
    RNN_DISPATCH(d, LSTM_FWD);
#undef LSTM_FWD
}

static cnn_status lstm_forward(cnn_op_ctx *c) {
    rnn_dims d = lstm_dims(c);
    int64_t n = d.n, T = d.t, F = d.f, u = d.u, g4 = 4 * u;
    if (n == 0 || T == 0 || u == 0) return CNN_OK;
    float *gates = c->aux, *cell = c->aux + n * T * g4, *h = c->out;
    const float *x = c->in[0], *w = c->in[1], *rk = c->in[2], *b = c->n_in > 3 ? c->in[3] : NULL;
    if (F == 0) memset(gates, 0, sizeof(float) * (size_t)(n * T * g4));
    else  // gates (N*T, 4u) = x (N*T, F) . kernel (F, 4u)
        cnn_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(n * T), (int)g4, (int)F,
                  1.0f, x, (int)F, w, (int)g4, 0.0f, gates, (int)g4);
    for (int64_t s = 0; s < T; s++) {
        int64_t t = d.back ? T - 1 - s : s;
        float *z = gates + t * g4;  // rows n at z + n*T*4u
        if (s > 0)  // z (N, 4u) += h_{s-1} (N, u) . recurrent_kernel (u, 4u)
            cnn_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)g4, (int)u,
                      1.0f, h + (s - 1) * u, (int)(T * u), rk, (int)g4, 1.0f, z, (int)(T * g4));
        lstm_cells_fwd(&d, s, z, b, cell, h);
    }
    return CNN_OK;
}

ALWAYS_INLINE void lstm_gates_bwd(int act, int ract, int64_t u, const float *restrict gi,
                                  const float *restrict gf, const float *restrict gg_,
                                  const float *restrict go, const float *restrict cr,
                                  const float *restrict cp, float *restrict dzi,
                                  float *restrict dzf, float *restrict dzg, float *restrict dzo,
                                  const float *restrict dhr, float *restrict dcr) {
    for (int64_t j = 0; j < u; j++) {
        float ig = gi[j], fg = gf[j], gg = gg_[j], og = go[j];
        float tc = act_fwd(act, cr[j]);
        float dcv = dcr[j] + dhr[j] * og * act_grad(act, tc);
        float dov = dhr[j] * tc;
        dzi[j] = dcv * gg * act_grad(ract, ig);
        dzf[j] = dcv * (cp ? cp[j] : 0.0f) * act_grad(ract, fg);
        dzg[j] = dcv * ig * act_grad(act, gg);
        dzo[j] = dov * act_grad(ract, og);
        dcr[j] = dcv * fg;
    }
}

ALWAYS_INLINE void lstm_row_bwd(int act, int ract, int64_t u, const float *gr, const float *cr,
                                const float *cp, float *dzr, const float *dhr, float *dcr) {
    lstm_gates_bwd(act, ract, u, gr, gr + u, gr + 2 * u, gr + 3 * u, cr, cp, dzr, dzr + u,
                   dzr + 2 * u, dzr + 3 * u, dhr, dcr);
}

/* Step s (input time t) of BPTT for every sample: dz from dh and the carried dc. */
CNN_HOT static void lstm_cells_bwd(const rnn_dims *d, int64_t s, int64_t t, const float *gates,
                                   const float *cell, float *dz, const float *dh, float *dc) {
    int64_t n = d->n, T = d->t, u = d->u;
#define LSTM_BWD(A, R)                                                              \
    for (int64_t i = 0; i < n; i++) {                                               \
        const float *cr = cell + (i * T + s) * u;                                   \
        lstm_row_bwd(A, R, u, gates + (i * T + t) * 4 * u, cr, s > 0 ? cr - u : NULL, \
                     dz + (i * T + t) * 4 * u, dh + i * u, dc + i * u);             \
    }
    RNN_DISPATCH(d, LSTM_BWD);
#undef LSTM_BWD
}

static cnn_status lstm_backward(cnn_op_ctx *c) {
    rnn_dims d = lstm_dims(c);
    int64_t n = d.n, T = d.t, F = d.f, u = d.u, g4 = 4 * u;
    if (n == 0 || T == 0 || u == 0) return CNN_OK;
    const float *gates = c->aux, *cell = c->aux + n * T * g4, *h = c->out, *dy = c->out_grad;
    const float *x = c->in[0], *w = c->in[1], *rk = c->in[2];
    float *dz = c->work, *dh = dz + n * T * g4, *dc = dh + n * u;
    float *drk = c->in_grad[2];
    memset(dc, 0, sizeof(float) * (size_t)(n * u));
    for (int64_t s = T - 1; s >= 0; s--) {
        int64_t t = d.back ? T - 1 - s : s;
        for (int64_t i = 0; i < n; i++)
            memcpy(dh + i * u, dy + (i * T + s) * u, sizeof(float) * (size_t)u);
        if (s < T - 1) {  // dh (N, u) += dz_{s+1} (N, 4u) . recurrent_kernel^T (4u, u)
            int64_t tn = d.back ? T - 2 - s : s + 1;
            cnn_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)u, (int)g4,
                      1.0f, dz + tn * g4, (int)(T * g4), rk, (int)g4, 1.0f, dh, (int)u);
        }
        lstm_cells_bwd(&d, s, t, gates, cell, dz, dh, dc);
        if (drk && s > 0)  // recurrent_kernel (u, 4u) += h_{s-1}^T (u, N) . dz_s (N, 4u)
            cnn_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)u, (int)g4, (int)n,
                      1.0f, h + (s - 1) * u, (int)(T * u), dz + t * g4, (int)(T * g4), 1.0f,
                      drk, (int)g4);
    }
    if (c->in_grad[0] && F > 0)  // dx (N*T, F) += dz (N*T, 4u) . kernel^T (4u, F)
        cnn_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(n * T), (int)F, (int)g4,
                  1.0f, dz, (int)g4, w, (int)g4, 1.0f, c->in_grad[0], (int)F);
    if (c->in_grad[1] && F > 0)  // dkernel (F, 4u) += x^T (F, N*T) . dz (N*T, 4u)
        cnn_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)F, (int)g4, (int)(n * T),
                  1.0f, x, (int)F, dz, (int)g4, 1.0f, c->in_grad[1], (int)g4);
    if (c->n_in > 3 && c->in_grad[3]) {
        float *db = c->in_grad[3];
        for (int64_t r = 0; r < n * T; r++) {
            const float *dzr = dz + r * g4;
            for (int64_t j = 0; j < g4; j++) db[j] += dzr[j];
        }
    }
    return CNN_OK;
}

/* ---- gru --------------------------------------------------------------------------- */

static cnn_status gru_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    const cnn_shape *x = in[0], *w = in[1], *r = in[2], *b = n > 3 ? in[3] : NULL;
    if (a->n_int > 3 || (a->n_int >= 1 && a->i[0] != 0 && a->i[0] != 1))
        return cnn_fail(CNN_ERR_VALUE, "gru: ints are [go_backwards, activation, "
                        "recurrent_activation] with go_backwards 0 or 1");
    for (int k = 1; k < a->n_int; k++)
        if (a->i[k] < 0 || a->i[k] >= RNN_N_ACT)
            return cnn_fail(CNN_ERR_VALUE, "gru: unknown activation code %lld (0 tanh, 1 sigmoid, "
                            "2 relu, 3 linear, 4 hard_sigmoid)", (long long)a->i[k]);
    if (x->ndim != 3 || w->ndim != 2 || r->ndim != 2 || (b && b->ndim != 2))
        return cnn_fail(CNN_ERR_SHAPE, "gru: needs x (N, T, F), kernel (F, 3u), recurrent_kernel "
                        "(u, 3u), bias (2, 3u); got x %s, kernel %s, recurrent_kernel %s%s%s",
                        cnn_shape_fmt(x), cnn_shape_fmt(w), cnn_shape_fmt(r), b ? ", bias " : "",
                        b ? cnn_shape_fmt(b) : "");
    int64_t u = r->dim[0];
    if (u < 0 || w->dim[0] < 0 || w->dim[1] != 3 * u || r->dim[1] != 3 * u ||
        (x->dim[2] != -1 && x->dim[2] != w->dim[0]) || (b && (b->dim[0] != 2 || b->dim[1] != 3 * u)))
        return cnn_fail(CNN_ERR_SHAPE, "gru: shapes do not fit x (N, T, F), kernel (F, 3u), "
                        "recurrent_kernel (u, 3u), bias (2, 3u): x %s, kernel %s, recurrent_kernel %s%s%s",
                        cnn_shape_fmt(x), cnn_shape_fmt(w), cnn_shape_fmt(r), b ? ", bias " : "",
                        b ? cnn_shape_fmt(b) : "");
    *out = *x;
    out->dim[2] = u;
    return CNN_OK;
}

/* aux: gates z, r, hh (N, T, 3u, input-time order) then the recurrent candidate term
 * h_{s-1} recurrent_kernel_h + bias_h (N, T, u, step order). */
static int64_t gru_aux_size(const cnn_op_ctx *c) {
    rnn_dims d = lstm_dims(c);
    return d.n * d.t * 4 * d.u;
}

static int64_t gru_work_size(const cnn_op_ctx *c) {
    rnn_dims d = lstm_dims(c);
    return d.n * d.t * 3 * d.u + 4 * d.n * d.u;
}

ALWAYS_INLINE void gru_gates_fwd(int act, int ract, int64_t u, float *restrict gz,
                                 float *restrict gr, float *restrict gh, const float *restrict qz,
                                 const float *restrict qr, const float *restrict qhh,
                                 float *restrict qhr, const float *restrict hp, float *restrict hr) {
    for (int64_t j = 0; j < u; j++) {
        float zg = act_fwd(ract, gz[j] + qz[j]), rg = act_fwd(ract, gr[j] + qr[j]);
        float hh = act_fwd(act, gh[j] + rg * qhh[j]);
        gz[j] = zg; gr[j] = rg; gh[j] = hh;
        qhr[j] = qhh[j];
        hr[j] = zg * (hp ? hp[j] : 0.0f) + (1.0f - zg) * hh;
    }
}

/* Step s (input time t) of the forward pass for every sample: the biases join the input
 * projections (gates) and the recurrent ones (q), then the gates, q_h and h. */
CNN_HOT static void gru_cells_fwd(const rnn_dims *d, int64_t s, int64_t t, float *gates, float *q,
                                  const float *bi, float *qh, float *h) {
    int64_t n = d->n, T = d->t, u = d->u, g3 = 3 * u;
    for (int64_t i = 0; i < n; i++) {
        float *zr = gates + (i * T + t) * g3, *qr = q + i * g3;
        if (bi)
            for (int64_t j = 0; j < g3; j++) { zr[j] += bi[j]; qr[j] += bi[g3 + j]; }
    }
#define GRU_FWD(A, R)                                                               \
    for (int64_t i = 0; i < n; i++) {                                               \
        float *zr = gates + (i * T + t) * g3, *qr = q + i * g3;                     \
        float *hr = h + (i * T + s) * u;                                            \
        gru_gates_fwd(A, R, u, zr, zr + u, zr + 2 * u, qr, qr + u, qr + 2 * u,      \
                      qh + (i * T + s) * u, s > 0 ? hr - u : NULL, hr);             \
    }
    RNN_DISPATCH(d, GRU_FWD);
#undef GRU_FWD
}

static cnn_status gru_forward(cnn_op_ctx *c) {
    rnn_dims d = lstm_dims(c);
    int64_t n = d.n, T = d.t, F = d.f, u = d.u, g3 = 3 * u;
    if (n == 0 || T == 0 || u == 0) return CNN_OK;
    float *gates = c->aux, *qh = c->aux + n * T * g3, *h = c->out, *q = c->work;
    const float *x = c->in[0], *w = c->in[1], *rk = c->in[2];
    const float *bi = c->n_in > 3 ? c->in[3] : NULL;
    if (F == 0) memset(gates, 0, sizeof(float) * (size_t)(n * T * g3));
    else  // gates (N*T, 3u) = x (N*T, F) . kernel (F, 3u)
        cnn_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(n * T), (int)g3, (int)F,
                  1.0f, x, (int)F, w, (int)g3, 0.0f, gates, (int)g3);
    for (int64_t s = 0; s < T; s++) {
        int64_t t = d.back ? T - 1 - s : s;
        if (s > 0)  // q (N, 3u) = h_{s-1} (N, u) . recurrent_kernel (u, 3u)
            cnn_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)g3, (int)u,
                      1.0f, h + (s - 1) * u, (int)(T * u), rk, (int)g3, 0.0f, q, (int)g3);
        else
            memset(q, 0, sizeof(float) * (size_t)(n * g3));
        gru_cells_fwd(&d, s, t, gates, q, bi, qh, h);
    }
    return CNN_OK;
}

static cnn_status gru_backward(cnn_op_ctx *c) {
    rnn_dims d = lstm_dims(c);
    int64_t n = d.n, T = d.t, F = d.f, u = d.u, g3 = 3 * u;
    if (n == 0 || T == 0 || u == 0) return CNN_OK;
    const float *gates = c->aux, *qh = c->aux + n * T * g3, *h = c->out, *dy = c->out_grad;
    const float *x = c->in[0], *w = c->in[1], *rk = c->in[2];
    float *dp = c->work, *dq = dp + n * T * g3, *dhc = dq + n * g3;
    float *drk = c->in_grad[2], *db = c->n_in > 3 ? c->in_grad[3] : NULL;
    memset(dhc, 0, sizeof(float) * (size_t)(n * u));
    for (int64_t s = T - 1; s >= 0; s--) {
        int64_t t = d.back ? T - 1 - s : s;
        for (int64_t i = 0; i < n; i++) {
            const float *gr = gates + (i * T + t) * g3, *qhr = qh + (i * T + s) * u;
            const float *dyr = dy + (i * T + s) * u;
            const float *hp = s > 0 ? h + (i * T + s - 1) * u : NULL;
            float *dpr = dp + (i * T + t) * g3, *dqr = dq + i * g3, *dhr = dhc + i * u;
            for (int64_t j = 0; j < u; j++) {
                float zg = gr[j], rg = gr[u + j], hh = gr[2 * u + j];
                float dh = dyr[j] + dhr[j];
                float dz = dh * ((hp ? hp[j] : 0.0f) - hh) * act_grad(d.ract, zg);
                float da = dh * (1.0f - zg) * act_grad(d.act, hh);
                float dr = da * qhr[j] * act_grad(d.ract, rg);
                dpr[j] = dqr[j] = dz;
                dpr[u + j] = dqr[u + j] = dr;
                dpr[2 * u + j] = da;
                dqr[2 * u + j] = da * rg;
                dhr[j] = dh * zg;  // h_{s-1}'s direct share; the recurrent one is added below
            }
        }
        if (db)  // the recurrent bias (row 1) gets every step's dq
            for (int64_t i = 0; i < n; i++)
                for (int64_t j = 0; j < g3; j++) db[g3 + j] += dq[i * g3 + j];
        if (s == 0) break;
        // dh_{s-1} (N, u) += dq (N, 3u) . recurrent_kernel^T (3u, u)
        cnn_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)u, (int)g3,
                  1.0f, dq, (int)g3, rk, (int)g3, 1.0f, dhc, (int)u);
        if (drk)  // recurrent_kernel (u, 3u) += h_{s-1}^T (u, N) . dq (N, 3u)
            cnn_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)u, (int)g3, (int)n,
                      1.0f, h + (s - 1) * u, (int)(T * u), dq, (int)g3, 1.0f, drk, (int)g3);
    }
    if (c->in_grad[0] && F > 0)  // dx (N*T, F) += dp (N*T, 3u) . kernel^T (3u, F)
        cnn_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(n * T), (int)F, (int)g3,
                  1.0f, dp, (int)g3, w, (int)g3, 1.0f, c->in_grad[0], (int)F);
    if (c->in_grad[1] && F > 0)  // dkernel (F, 3u) += x^T (F, N*T) . dp (N*T, 3u)
        cnn_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)F, (int)g3, (int)(n * T),
                  1.0f, x, (int)F, dp, (int)g3, 1.0f, c->in_grad[1], (int)g3);
    if (db)  // the input bias (row 0) gets every row of dp
        for (int64_t r = 0; r < n * T; r++)
            for (int64_t j = 0; j < g3; j++) db[j] += dp[r * g3 + j];
    return CNN_OK;
}

/* ---- simple_rnn -------------------------------------------------------------------- */

static cnn_status simple_rnn_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    const cnn_shape *x = in[0], *w = in[1], *r = in[2], *b = n > 3 ? in[3] : NULL;
    if (a->n_int > 2 || (a->n_int >= 1 && a->i[0] != 0 && a->i[0] != 1))
        return cnn_fail(CNN_ERR_VALUE, "simple_rnn: ints are [go_backwards, activation] with "
                        "go_backwards 0 or 1");
    if (a->n_int > 1 && (a->i[1] < 0 || a->i[1] >= RNN_N_ACT))
        return cnn_fail(CNN_ERR_VALUE, "simple_rnn: unknown activation code %lld (0 tanh, 1 sigmoid, "
                        "2 relu, 3 linear, 4 hard_sigmoid)", (long long)a->i[1]);
    int64_t u = r->ndim == 2 ? r->dim[0] : -1;
    if (x->ndim != 3 || w->ndim != 2 || r->ndim != 2 || (b && b->ndim != 1) || u < 0 ||
        w->dim[0] < 0 || w->dim[1] != u || r->dim[1] != u ||
        (x->dim[2] != -1 && x->dim[2] != w->dim[0]) || (b && b->dim[0] != u))
        return cnn_fail(CNN_ERR_SHAPE, "simple_rnn: needs x (N, T, F), kernel (F, u), "
                        "recurrent_kernel (u, u), bias (u); got x %s, kernel %s, recurrent_kernel %s%s%s",
                        cnn_shape_fmt(x), cnn_shape_fmt(w), cnn_shape_fmt(r), b ? ", bias " : "",
                        b ? cnn_shape_fmt(b) : "");
    *out = *x;
    out->dim[2] = u;
    return CNN_OK;
}

static rnn_dims simple_rnn_dims(const cnn_op_ctx *c) {
    rnn_dims d = {c->in_shape[0]->dim[0], c->in_shape[0]->dim[1], c->in_shape[0]->dim[2],
                  c->in_shape[2]->dim[0], lstm_go_backwards(c->attrs),
                  rnn_act(c->attrs, 1, RNN_TANH), RNN_LINEAR};
    return d;
}

/* work: the input projections (forward) or dz (backward) of every step, then dh (N, u). */
static int64_t simple_rnn_work_size(const cnn_op_ctx *c) {
    rnn_dims d = simple_rnn_dims(c);
    return d.n * d.t * d.u + d.n * d.u;
}

CNN_HOT static void simple_rnn_cells_fwd(int act, int64_t n, int64_t T, int64_t u, int64_t s,
                                         int64_t t, const float *p, const float *b, float *h) {
    for (int64_t i = 0; i < n; i++) {
        const float *restrict pr = p + (i * T + t) * u;
        float *restrict hr = h + (i * T + s) * u;
        if (b)
            for (int64_t j = 0; j < u; j++) hr[j] = act_fwd(act, hr[j] + pr[j] + b[j]);
        else
            for (int64_t j = 0; j < u; j++) hr[j] = act_fwd(act, hr[j] + pr[j]);
    }
}

static cnn_status simple_rnn_forward(cnn_op_ctx *c) {
    rnn_dims d = simple_rnn_dims(c);
    int64_t n = d.n, T = d.t, F = d.f, u = d.u;
    if (n == 0 || T == 0 || u == 0) return CNN_OK;
    float *p = c->work, *h = c->out;
    const float *x = c->in[0], *w = c->in[1], *rk = c->in[2], *b = c->n_in > 3 ? c->in[3] : NULL;
    if (F == 0) memset(p, 0, sizeof(float) * (size_t)(n * T * u));
    else  // p (N*T, u) = x (N*T, F) . kernel (F, u)
        cnn_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(n * T), (int)u, (int)F,
                  1.0f, x, (int)F, w, (int)u, 0.0f, p, (int)u);
    for (int64_t s = 0; s < T; s++) {
        int64_t t = d.back ? T - 1 - s : s;
        if (s > 0)  // h_s (N, u) = h_{s-1} (N, u) . recurrent_kernel (u, u), then the rest
            cnn_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)u, (int)u,
                      1.0f, h + (s - 1) * u, (int)(T * u), rk, (int)u, 0.0f, h + s * u, (int)(T * u));
        else
            for (int64_t i = 0; i < n; i++) memset(h + i * T * u, 0, sizeof(float) * (size_t)u);
        simple_rnn_cells_fwd(d.act, n, T, u, s, t, p, b, h);
    }
    return CNN_OK;
}

static cnn_status simple_rnn_backward(cnn_op_ctx *c) {
    rnn_dims d = simple_rnn_dims(c);
    int64_t n = d.n, T = d.t, F = d.f, u = d.u;
    if (n == 0 || T == 0 || u == 0) return CNN_OK;
    const float *h = c->out, *dy = c->out_grad, *x = c->in[0], *w = c->in[1], *rk = c->in[2];
    float *dz = c->work, *dh = dz + n * T * u, *drk = c->in_grad[2];
    float *db = c->n_in > 3 ? c->in_grad[3] : NULL;
    memset(dh, 0, sizeof(float) * (size_t)(n * u));
    for (int64_t s = T - 1; s >= 0; s--) {
        int64_t t = d.back ? T - 1 - s : s;
        for (int64_t i = 0; i < n; i++) {
            const float *hr = h + (i * T + s) * u, *dyr = dy + (i * T + s) * u;
            float *dzr = dz + (i * T + t) * u, *dhr = dh + i * u;
            for (int64_t j = 0; j < u; j++) dzr[j] = (dyr[j] + dhr[j]) * act_grad(d.act, hr[j]);
        }
        if (s == 0) break;
        // dh_{s-1} (N, u) = dz_s (N, u) . recurrent_kernel^T (u, u)
        cnn_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)u, (int)u,
                  1.0f, dz + t * u, (int)(T * u), rk, (int)u, 0.0f, dh, (int)u);
        if (drk)  // recurrent_kernel (u, u) += h_{s-1}^T (u, N) . dz_s (N, u)
            cnn_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)u, (int)u, (int)n,
                      1.0f, h + (s - 1) * u, (int)(T * u), dz + t * u, (int)(T * u), 1.0f,
                      drk, (int)u);
    }
    if (c->in_grad[0] && F > 0)  // dx (N*T, F) += dz (N*T, u) . kernel^T (u, F)
        cnn_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(n * T), (int)F, (int)u,
                  1.0f, dz, (int)u, w, (int)u, 1.0f, c->in_grad[0], (int)F);
    if (c->in_grad[1] && F > 0)  // dkernel (F, u) += x^T (F, N*T) . dz (N*T, u)
        cnn_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)F, (int)u, (int)(n * T),
                  1.0f, x, (int)F, dz, (int)u, 1.0f, c->in_grad[1], (int)u);
    if (db)
        for (int64_t r = 0; r < n * T; r++)
            for (int64_t j = 0; j < u; j++) db[j] += dz[r * u + j];
    return CNN_OK;
}

const cnn_op_def cnn_ops_recurrent[] = {
    {.name = "lstm", .min_inputs = 3, .max_inputs = 4, .infer = lstm_infer,
     .forward = lstm_forward, .backward = lstm_backward, .aux_size = lstm_aux_size,
     .work_size = lstm_work_size},
    {.name = "gru", .min_inputs = 3, .max_inputs = 4, .infer = gru_infer,
     .forward = gru_forward, .backward = gru_backward, .aux_size = gru_aux_size,
     .work_size = gru_work_size},
    {.name = "simple_rnn", .min_inputs = 3, .max_inputs = 4, .infer = simple_rnn_infer,
     .forward = simple_rnn_forward, .backward = simple_rnn_backward,
     .work_size = simple_rnn_work_size},
    {0},
};
