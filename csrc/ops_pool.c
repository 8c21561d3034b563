/* ops_pool.c: 2-D pooling, nearest upsampling and zero padding on (N, H, W, C) inputs
 * (channels last, as Keras). 1-D layers reuse these ops with H = 1.
 *
 * max_pool2d(x), avg_pool2d(x): ints = pool_h, pool_w, stride_h, stride_w, same (0: "valid",
 *   1: "same"). "valid" needs pool <= input; "same" gives ceil(size / stride) outputs with
 *   the odd padding pixel at the bottom/right (Keras/TF). Padding never takes part: max
 *   ignores it and avg divides by the number of real elements in the window
 *   (count_include_pad=False). Max routes its gradient to the first maximum of each window
 *   in row-major order (as torch); forward saves that index in aux.
 * upsample2d(x): ints = size_h, size_w; nearest neighbour (each pixel repeated).
 * zero_pad2d(x): ints = top, bottom, left, right; zeros around H and W.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ops.h"
#include "parallel.h"

/* ---- shared geometry --------------------------------------------------------------- */

typedef struct {
    int64_t n, h, w, c;     /* input */
    int64_t oh, ow;         /* output */
    int64_t ph, pw, sh, sw; /* pool and strides */
    int64_t top, left;      /* padding before the first row / column */
} pool_geom;

/* Output length and leading pad of one axis; -1 stays -1 (unknown). */
static void pool_axis(int64_t in, int64_t k, int64_t s, int same, int64_t *out, int64_t *pad0) {
    *pad0 = 0;
    if (in < 0) { *out = -1; return; }
    if (!same) { *out = (in - k) / s + 1; return; }
    *out = (in + s - 1) / s;
    int64_t total = (*out - 1) * s + k - in;
    *pad0 = total > 0 ? total / 2 : 0;  // the odd pixel goes after (bottom/right)
}

static cnn_status pool_check(const char *op, const cnn_shape *x, const cnn_attrs *a) {
    char buf[160];
    if (x->ndim != 4)
        return cnn_fail(CNN_ERR_SHAPE, "%s: expected an input of rank 4 (batch, height, width, "
                        "channels), got %s", op, cnn_shape_fmt(x));
    if (a->n_int != 5 || a->i[0] < 1 || a->i[1] < 1 || a->i[2] < 1 || a->i[3] < 1 ||
        (a->i[4] != 0 && a->i[4] != 1))
        return cnn_fail(CNN_ERR_VALUE, "%s: attributes %s must be pool_h, pool_w, stride_h, "
                        "stride_w (all >= 1) and same (0 or 1)", op,
                        cnn_ints_str(a->i, a->n_int, buf, sizeof buf));
    if (!a->i[4] && ((x->dim[1] >= 0 && a->i[0] > x->dim[1]) || (x->dim[2] >= 0 && a->i[1] > x->dim[2])))
        return cnn_fail(CNN_ERR_SHAPE, "%s: pool size (%lld, %lld) is larger than the input's "
                        "spatial dims in input %s with padding \"valid\"", op, (long long)a->i[0],
                        (long long)a->i[1], cnn_shape_fmt(x));
    return CNN_OK;
}

static void pool_geometry(const cnn_shape *x, const cnn_attrs *a, pool_geom *g) {
    g->n = x->dim[0]; g->h = x->dim[1]; g->w = x->dim[2]; g->c = x->dim[3];
    g->ph = a->i[0]; g->pw = a->i[1]; g->sh = a->i[2]; g->sw = a->i[3];
    pool_axis(g->h, g->ph, g->sh, (int)a->i[4], &g->oh, &g->top);
    pool_axis(g->w, g->pw, g->sw, (int)a->i[4], &g->ow, &g->left);
}

static cnn_status pool_infer_named(const char *op, const cnn_shape *const *in, const cnn_attrs *a,
                                   cnn_shape *out) {
    cnn_status st = pool_check(op, in[0], a);
    if (st) return st;
    pool_geom g;
    pool_geometry(in[0], a, &g);
    out->ndim = 4;
    out->dim[0] = g.n; out->dim[1] = g.oh; out->dim[2] = g.ow; out->dim[3] = g.c;
    return CNN_OK;
}

/* The window of output (i, j), clipped to the input: rows [*h0, *h1), cols [*w0, *w1). */
static void pool_window(const pool_geom *g, int64_t i, int64_t j,
                        int64_t *h0, int64_t *h1, int64_t *w0, int64_t *w1) {
    int64_t hs = i * g->sh - g->top, ws = j * g->sw - g->left;
    *h0 = hs < 0 ? 0 : hs;
    *h1 = hs + g->ph < g->h ? hs + g->ph : g->h;
    *w0 = ws < 0 ? 0 : ws;
    *w1 = ws + g->pw < g->w ? ws + g->pw : g->w;
}

/* ---- max_pool2d -------------------------------------------------------------------- */

static cnn_status max_pool_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n;
    return pool_infer_named("max_pool2d", in, a, out);
}

/* One int32 per output element: the argmax as h * W + w within its sample. */
static int64_t max_pool_aux(const cnn_op_ctx *c) { return cnn_shape_numel(&c->out_shape); }

/* Folds one pixel's channels into the running maxima. Strict > keeps the first maximum; a
 * NaN wins and propagates (torch). Branch-free selects so the channel loop vectorizes. */
CNN_HOT static void max_step(const float *restrict xp, int32_t pos, float *restrict y,
                             int32_t *restrict ai, int64_t C) {
    for (int64_t k = 0; k < C; k++) {
        float v = xp[k];
        int take = (v > y[k]) | (v != v);
        y[k] = take ? v : y[k];
        ai[k] = take ? pos : ai[k];
    }
}

/* Samples [b0, b1) of max pooling, forward or backward: samples never share outputs, so
 * the engine's threads take whole samples. */
typedef struct {
    const cnn_op_ctx *c;
    pool_geom g;
} max_pool_job;

static void max_pool_forward_range(void *arg, int64_t b0, int64_t b1, int part) {
    (void)part;
    const max_pool_job *job = arg;
    const cnn_op_ctx *c = job->c;
    const pool_geom g = job->g;
    int32_t *arg_max = (int32_t *)c->aux;
    const int64_t C = g.c;
    for (int64_t b = b0; b < b1; b++) {
        const float *x = c->in[0] + b * g.h * g.w * C;
        for (int64_t i = 0; i < g.oh; i++) {
            for (int64_t j = 0; j < g.ow; j++) {
                int64_t h0, h1, w0, w1, o = ((b * g.oh + i) * g.ow + j) * C;
                pool_window(&g, i, j, &h0, &h1, &w0, &w1);
                float *y = c->out + o;
                int32_t *ai = arg_max + o;
                for (int64_t k = 0; k < C; k++) { y[k] = -INFINITY; ai[k] = (int32_t)(h0 * g.w + w0); }
                for (int64_t h = h0; h < h1; h++)
                    for (int64_t w = w0; w < w1; w++)
                        max_step(x + (h * g.w + w) * C, (int32_t)(h * g.w + w), y, ai, C);
            }
        }
    }
}

static void max_pool_backward_range(void *arg, int64_t b0, int64_t b1, int part) {
    (void)part;
    const max_pool_job *job = arg;
    const cnn_op_ctx *c = job->c;
    const pool_geom g = job->g;
    const int32_t *arg_max = (const int32_t *)c->aux;
    const int64_t C = g.c, per = g.oh * g.ow * C;
    for (int64_t b = b0; b < b1; b++) {
        float *d = c->in_grad[0] + b * g.h * g.w * C;
        const float *dy = c->out_grad + b * per;
        const int32_t *ai = arg_max + b * per;
        for (int64_t o = 0; o < per; o += C)
            for (int64_t k = 0; k < C; k++) d[(int64_t)ai[o + k] * C + k] += dy[o + k];
    }
}

static cnn_status max_pool_forward(cnn_op_ctx *c) {
    max_pool_job job = {c, {0}};
    pool_geometry(c->in_shape[0], c->attrs, &job.g);
    cnn_parallel_for(job.g.n, cnn_grain(job.g.h * job.g.w * job.g.c), max_pool_forward_range, &job);
    return CNN_OK;
}

static cnn_status max_pool_backward(cnn_op_ctx *c) {
    if (!c->in_grad[0]) return CNN_OK;
    max_pool_job job = {c, {0}};
    pool_geometry(c->in_shape[0], c->attrs, &job.g);
    cnn_parallel_for(job.g.n, cnn_grain(job.g.h * job.g.w * job.g.c), max_pool_backward_range, &job);
    return CNN_OK;
}

/* ---- avg_pool2d -------------------------------------------------------------------- */

static cnn_status avg_pool_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n;
    return pool_infer_named("avg_pool2d", in, a, out);
}

static cnn_status avg_pool_forward(cnn_op_ctx *c) {
    pool_geom g;
    pool_geometry(c->in_shape[0], c->attrs, &g);
    const int64_t C = g.c;
    for (int64_t b = 0; b < g.n; b++) {
        const float *x = c->in[0] + b * g.h * g.w * C;
        for (int64_t i = 0; i < g.oh; i++) {
            for (int64_t j = 0; j < g.ow; j++) {
                int64_t h0, h1, w0, w1;
                pool_window(&g, i, j, &h0, &h1, &w0, &w1);
                float *y = c->out + ((b * g.oh + i) * g.ow + j) * C;
                for (int64_t k = 0; k < C; k++) y[k] = 0.0f;
                for (int64_t h = h0; h < h1; h++)
                    for (int64_t w = w0; w < w1; w++) {
                        const float *xp = x + (h * g.w + w) * C;
                        for (int64_t k = 0; k < C; k++) y[k] += xp[k];
                    }
                float inv = 1.0f / (float)((h1 - h0) * (w1 - w0));
                for (int64_t k = 0; k < C; k++) y[k] *= inv;
            }
        }
    }
    return CNN_OK;
}

static cnn_status avg_pool_backward(cnn_op_ctx *c) {
    float *dx = c->in_grad[0];
    if (!dx) return CNN_OK;
    pool_geom g;
    pool_geometry(c->in_shape[0], c->attrs, &g);
    const int64_t C = g.c;
    for (int64_t b = 0; b < g.n; b++) {
        float *d = dx + b * g.h * g.w * C;
        for (int64_t i = 0; i < g.oh; i++) {
            for (int64_t j = 0; j < g.ow; j++) {
                int64_t h0, h1, w0, w1;
                pool_window(&g, i, j, &h0, &h1, &w0, &w1);
                const float *dy = c->out_grad + ((b * g.oh + i) * g.ow + j) * C;
                float inv = 1.0f / (float)((h1 - h0) * (w1 - w0));
                for (int64_t h = h0; h < h1; h++)
                    for (int64_t w = w0; w < w1; w++) {
                        float *dp = d + (h * g.w + w) * C;
                        for (int64_t k = 0; k < C; k++) dp[k] += dy[k] * inv;
                    }
            }
        }
    }
    return CNN_OK;
}

/* ---- upsample2d -------------------------------------------------------------------- */

static cnn_status check_rank4(const char *op, const cnn_shape *x) {
    if (x->ndim == 4) return CNN_OK;
    return cnn_fail(CNN_ERR_SHAPE, "%s: expected an input of rank 4 (batch, height, width, "
                    "channels), got %s", op, cnn_shape_fmt(x));
}

static int64_t scaled(int64_t d, int64_t s) { return d < 0 ? -1 : d * s; }

static cnn_status upsample_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n;
    char buf[160];
    cnn_status st = check_rank4("upsample2d", in[0]);
    if (st) return st;
    if (a->n_int != 2 || a->i[0] < 1 || a->i[1] < 1)
        return cnn_fail(CNN_ERR_VALUE, "upsample2d: size %s must be two integers >= 1",
                        cnn_ints_str(a->i, a->n_int, buf, sizeof buf));
    *out = *in[0];
    out->dim[1] = scaled(in[0]->dim[1], a->i[0]);
    out->dim[2] = scaled(in[0]->dim[2], a->i[1]);
    return CNN_OK;
}

/* Output row r, column q reads input row r / sh, column q / sw. */
static void upsample_move(cnn_op_ctx *c, int backward) {
    const cnn_shape *x = c->in_shape[0];
    int64_t H = x->dim[1], W = x->dim[2], C = x->dim[3], sh = c->attrs->i[0], sw = c->attrs->i[1];
    int64_t OH = H * sh, OW = W * sw;
    for (int64_t b = 0; b < x->dim[0]; b++)
        for (int64_t r = 0; r < OH; r++)
            for (int64_t q = 0; q < OW; q++) {
                int64_t xi = ((b * H + r / sh) * W + q / sw) * C, yi = ((b * OH + r) * OW + q) * C;
                if (!backward) memcpy(c->out + yi, c->in[0] + xi, sizeof(float) * (size_t)C);
                else for (int64_t k = 0; k < C; k++) c->in_grad[0][xi + k] += c->out_grad[yi + k];
            }
}

static cnn_status upsample_forward(cnn_op_ctx *c) { upsample_move(c, 0); return CNN_OK; }

static cnn_status upsample_backward(cnn_op_ctx *c) {
    if (c->in_grad[0]) upsample_move(c, 1);
    return CNN_OK;
}

/* ---- zero_pad2d -------------------------------------------------------------------- */

static int64_t padded(int64_t d, int64_t p0, int64_t p1) { return d < 0 ? -1 : d + p0 + p1; }

static cnn_status zero_pad_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n;
    char buf[160];
    cnn_status st = check_rank4("zero_pad2d", in[0]);
    if (st) return st;
    if (a->n_int != 4 || a->i[0] < 0 || a->i[1] < 0 || a->i[2] < 0 || a->i[3] < 0)
        return cnn_fail(CNN_ERR_VALUE, "zero_pad2d: padding %s must be top, bottom, left, right "
                        "(all >= 0)", cnn_ints_str(a->i, a->n_int, buf, sizeof buf));
    *out = *in[0];
    out->dim[1] = padded(in[0]->dim[1], a->i[0], a->i[1]);
    out->dim[2] = padded(in[0]->dim[2], a->i[2], a->i[3]);
    return CNN_OK;
}

static cnn_status zero_pad_forward(cnn_op_ctx *c) {
    const cnn_shape *x = c->in_shape[0];
    int64_t H = x->dim[1], W = x->dim[2], C = x->dim[3];
    int64_t OH = c->out_shape.dim[1], OW = c->out_shape.dim[2];
    int64_t top = c->attrs->i[0], left = c->attrs->i[2];
    memset(c->out, 0, sizeof(float) * (size_t)cnn_shape_numel(&c->out_shape));
    for (int64_t b = 0; b < x->dim[0]; b++)
        for (int64_t h = 0; h < H; h++)
            memcpy(c->out + ((b * OH + h + top) * OW + left) * C, c->in[0] + (b * H + h) * W * C,
                   sizeof(float) * (size_t)(W * C));
    return CNN_OK;
}

static cnn_status zero_pad_backward(cnn_op_ctx *c) {
    float *dx = c->in_grad[0];
    if (!dx) return CNN_OK;
    const cnn_shape *x = c->in_shape[0];
    int64_t H = x->dim[1], W = x->dim[2], C = x->dim[3];
    int64_t OH = c->out_shape.dim[1], OW = c->out_shape.dim[2];
    int64_t top = c->attrs->i[0], left = c->attrs->i[2];
    for (int64_t b = 0; b < x->dim[0]; b++)
        for (int64_t h = 0; h < H; h++) {
            const float *src = c->out_grad + ((b * OH + h + top) * OW + left) * C;
            float *dst = dx + (b * H + h) * W * C;
            for (int64_t k = 0; k < W * C; k++) dst[k] += src[k];
        }
    return CNN_OK;
}

const cnn_op_def cnn_ops_pool[] = {
    {.name = "max_pool2d", .min_inputs = 1, .max_inputs = 1, .infer = max_pool_infer,
     .forward = max_pool_forward, .backward = max_pool_backward, .aux_size = max_pool_aux},
    {.name = "avg_pool2d", .min_inputs = 1, .max_inputs = 1, .infer = avg_pool_infer,
     .forward = avg_pool_forward, .backward = avg_pool_backward},
    {.name = "upsample2d", .min_inputs = 1, .max_inputs = 1, .infer = upsample_infer,
     .forward = upsample_forward, .backward = upsample_backward},
    {.name = "zero_pad2d", .min_inputs = 1, .max_inputs = 1, .infer = zero_pad_infer,
     .forward = zero_pad_forward, .backward = zero_pad_backward},
    {0},
};
