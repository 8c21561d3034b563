/* ops_random.c: stochastic regularisers with Keras 3 semantics, x -> same shape.
 *
 * Shared attributes:
 *   ints[0] = mode: 0 follow the call's training flag (fit trains, evaluate/predict do not),
 *             1 always train (Keras's MC-dropout idiom `Dropout(r)(x, training=True)`),
 *             2 always infer. Absent: 0.
 *   ints[1] = seed attribute: 0 none, else mixed into the call's seed (a layer's `seed=`),
 *             so two layers with different seeds draw different streams in the same step.
 * Inactive (inference): y = x and dx = g, for every op.
 *
 *   dropout          floats[0] = rate in [0, 1]; ints[2..2+ndim) optional noise shape,
 *                    one entry per input dim: -1 (the input's size), 1 (shared along that
 *                    dim) or the input's size. keep = u >= rate; y = x * keep / (1 - rate)
 *                    as torch's dropout (x times the float 1/(1-rate)); rate 1 gives zeros.
 *   alpha_dropout    floats[0] = rate in [0, 1); the same noise shape; with SELU's constants
 *                    alpha_p = -alpha * scale, a = ((1 - rate)(1 + rate alpha_p^2))^-1/2,
 *                    b = -a alpha_p rate: y = a x + b where kept, a alpha_p + b where dropped.
 *   gaussian_noise   floats[0] = stddev >= 0; y = x + stddev z, z ~ N(0, 1).
 *   gaussian_dropout floats[0] = rate in [0, 1); y = x (1 + sqrt(rate / (1 - rate)) z).
 *
 * Randomness is counter-based: element k of the (noise-shaped) draw uses
 * u_k = cnn_rand_cnn_rand_uniform(seed, k), and normals come from Box-Muller on the pair of uniforms
 * (2j, 2j + 1): z_2j = r cos(2 pi u_2j+1), z_2j+1 = r sin(2 pi u_2j+1), r = sqrt(-2 ln(1 - u_2j)).
 * So forward and backward regenerate the same draw from the same seed, and dropout's mask
 * needs no memory between them: the hash vectorises and costs less than writing and
 * re-reading a mask. Box-Muller costs a log, a square root and a sine per pair, so
 * gaussian_dropout keeps its multiplier in aux instead. Broadcast noise shapes draw the
 * small noise tensor into work, then multiply rows.
 */
#include <math.h>
#include <string.h>

#include "ops.h"

#define SELU_ALPHA 1.6732632423543772848170429916717
#define SELU_SCALE 1.0507009873554804934193349852946
#define TWO_PI_F 6.28318530717958647692f

enum { MODE_FOLLOW = 0, MODE_TRAIN = 1, MODE_INFER = 2 };

/* ---- shared ---------------------------------------------------------------------- */

static int64_t attr_mode(const cnn_attrs *a) { return a->n_int > 0 ? a->i[0] : MODE_FOLLOW; }

static int active(const cnn_op_ctx *c) {
    int64_t m = attr_mode(c->attrs);
    return m == MODE_TRAIN || (m == MODE_FOLLOW && c->training);
}

static uint64_t op_seed(const cnn_op_ctx *c) {
    int64_t s = c->attrs->n_int > 1 ? c->attrs->i[1] : 0;
    return s ? cnn_seed_mix(c->seed, (uint64_t)s) : c->seed;
}

/* n standard normals into z, by Box-Muller on pairs of uniforms (see the top). */
static void fill_normal(uint64_t seed, float *z, int64_t n) {
    for (int64_t j = 0; j < n; j += 2) {
        float u1 = cnn_rand_uniform(seed, (uint64_t)j), u2 = cnn_rand_uniform(seed, (uint64_t)j + 1);
        float r = sqrtf(-2.0f * logf(1.0f - u1));  // 1 - u1 is in (0, 1]: the log is finite
        float t = TWO_PI_F * u2;
        z[j] = r * cosf(t);
        if (j + 1 < n) z[j + 1] = r * sinf(t);
    }
}

static void pass_through(cnn_op_ctx *c) {
    int64_t n = cnn_shape_numel(&c->out_shape);
    if (n > 0 && c->out != c->in[0]) memcpy(c->out, c->in[0], sizeof(float) * (size_t)n);
}

static void add_grad(cnn_op_ctx *c) {
    int64_t n = cnn_shape_numel(&c->out_shape);
    float *dx = c->in_grad[0];
    const float *g = c->out_grad;
    for (int64_t i = 0; i < n; i++) dx[i] += g[i];
}

/* floats[0] in [0, hi) (or [0, hi] when closed), and the mode and seed attributes. */
static cnn_status check_common(const char *op, const cnn_attrs *a, const char *what, double hi,
                               int closed) {
    if (a->n_float != 1)
        return cnn_fail(CNN_ERR_VALUE, "%s: expected floats=[%s], got %d floats", op, what, a->n_float);
    double v = a->f[0];
    int ok = v >= 0.0 && (closed ? v <= hi : v < hi);
    if (!ok)
        return cnn_fail(CNN_ERR_VALUE, "%s: %s must be in [0, %g%s, got %g", op, what, hi,
                        closed ? "]" : ")", v);
    int64_t m = attr_mode(a);
    if (m != MODE_FOLLOW && m != MODE_TRAIN && m != MODE_INFER)
        return cnn_fail(CNN_ERR_VALUE, "%s: mode (ints[0]) must be 0 (follow the call), 1 (always "
                        "train) or 2 (always infer), got %lld", op, (long long)m);
    return CNN_OK;
}

/* ---- noise shapes (dropout, alpha_dropout) ------------------------------------------ */

static int has_noise_shape(const cnn_attrs *a) { return a->n_int > 2; }

static cnn_status check_noise_shape(const char *op, const cnn_shape *x, const cnn_attrs *a) {
    if (a->n_int <= 2) return CNN_OK;
    char buf[160];
    const char *ns = cnn_ints_str(a->i + 2, a->n_int - 2, buf, sizeof buf);
    if (a->n_int - 2 != x->ndim)
        return cnn_fail(CNN_ERR_SHAPE, "%s: noise_shape %s must have one entry per input dim, input %s",
                        op, ns, cnn_shape_fmt(x));
    for (int d = 0; d < x->ndim; d++) {
        int64_t v = a->i[2 + d], s = x->dim[d];
        // -1 takes the input's size; an unknown (batch) size is checked once it is known
        if (v == -1 || v == 1 || v == s || (s == -1 && v > 0)) continue;
        return cnn_fail(CNN_ERR_SHAPE, "%s: noise_shape %s does not broadcast to the input %s "
                        "(each entry must be -1, 1 or the input's size)", op, ns, cnn_shape_fmt(x));
    }
    return CNN_OK;
}

/* The concrete noise shape; *bcast says whether it is smaller than the input. */
static cnn_shape noise_shape(const cnn_op_ctx *c, int *bcast) {
    const cnn_shape *x = c->in_shape[0];
    cnn_shape s = *x;
    *bcast = 0;
    if (!has_noise_shape(c->attrs)) return s;
    for (int d = 0; d < x->ndim; d++) {
        int64_t v = c->attrs->i[2 + d];
        s.dim[d] = v == -1 ? x->dim[d] : v;
        if (s.dim[d] != x->dim[d]) *bcast = 1;
    }
    return s;
}

static int64_t mask_work_size(const cnn_op_ctx *c) {
    int bcast;
    cnn_shape s = noise_shape(c, &bcast);
    return bcast ? cnn_shape_numel(&s) : 0;
}

/* The mask as a multiplier: `on` where u >= rate, else 0. Over the noise shape into work
 * when it broadcasts (returns work), else NULL: callers then draw per element. */
static const float *draw_mask(const cnn_op_ctx *c, uint64_t seed, float rate, float on) {
    int bcast;
    cnn_shape s = noise_shape(c, &bcast);
    if (!bcast) return NULL;
    int64_t n = cnn_shape_numel(&s);
    for (int64_t k = 0; k < n; k++) c->work[k] = cnn_rand_uniform(seed, (uint64_t)k) >= rate ? on : 0.0f;
    return c->work;
}

/* The input as rows of its last dim: row r starts at row_offset(r) in the noise tensor,
 * which advances by row_step (0 or 1) along the row. */
typedef struct {
    int nd;
    int64_t row_len, rows;
    int64_t dim[CNN_MAX_DIMS], stride[CNN_MAX_DIMS];
} row_walk;

static row_walk walk_of(const cnn_op_ctx *c) {
    int bcast;
    cnn_shape s = noise_shape(c, &bcast);
    const cnn_shape *x = c->in_shape[0];
    row_walk w;
    w.nd = x->ndim;
    cnn_broadcast_strides(&s, x, w.stride);
    for (int d = 0; d < x->ndim; d++) w.dim[d] = x->dim[d];
    w.row_len = x->ndim ? x->dim[x->ndim - 1] : 1;
    int64_t n = cnn_shape_numel(x);
    w.rows = w.row_len ? n / w.row_len : 0;
    return w;
}

static int64_t row_offset(const row_walk *w, int64_t r) {
    int64_t off = 0;
    for (int d = w->nd - 2; d >= 0; d--) {
        off += (r % w->dim[d]) * w->stride[d];
        r /= w->dim[d];
    }
    return off;
}

static int64_t row_step(const row_walk *w) { return w->nd ? w->stride[w->nd - 1] : 0; }

/* ---- dropout ---------------------------------------------------------------------- */

static float drop_rate(const cnn_op_ctx *c) { return (float)c->attrs->f[0]; }

/* 1/(1 - rate) in float, as torch scales its mask; 0 for rate 1 (nothing is kept). */
static float drop_scale(const cnn_op_ctx *c) {
    double r = c->attrs->f[0];
    return r < 1.0 ? 1.0f / (float)(1.0 - r) : 0.0f;
}

static cnn_status dropout_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n;
    cnn_status st = check_common("dropout", a, "rate", 1.0, 1);
    if (!st) st = check_noise_shape("dropout", in[0], a);
    if (st) return st;
    *out = *in[0];
    return CNN_OK;
}

/* y = x * m, m the scaled mask drawn per element. */
CNN_HOT static void drop_set(const float *x, float *y, int64_t n, uint64_t seed, float rate, float scale) {
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * (cnn_rand_uniform(seed, (uint64_t)i) >= rate ? scale : 0.0f);
}

CNN_HOT static void drop_add(const float *g, float *dx, int64_t n, uint64_t seed, float rate, float scale) {
    for (int64_t i = 0; i < n; i++) dx[i] += g[i] * (cnn_rand_uniform(seed, (uint64_t)i) >= rate ? scale : 0.0f);
}

/* y = x * m (forward) or dx += g * m (backward). */
static void dropout_apply(cnn_op_ctx *c, const float *src, float *dst, int accumulate) {
    uint64_t seed = op_seed(c);
    float rate = drop_rate(c), scale = drop_scale(c);
    const float *mask = draw_mask(c, seed, rate, scale);
    if (!mask) {
        int64_t n = cnn_shape_numel(&c->out_shape);
        if (accumulate) drop_add(src, dst, n, seed, rate, scale);
        else drop_set(src, dst, n, seed, rate, scale);
        return;
    }
    row_walk w = walk_of(c);
    int64_t step = row_step(&w);
    for (int64_t r = 0; r < w.rows; r++) {
        const float *mr = mask + row_offset(&w, r), *s = src + r * w.row_len;
        float *d = dst + r * w.row_len;
        if (accumulate) for (int64_t j = 0; j < w.row_len; j++) d[j] += s[j] * mr[j * step];
        else for (int64_t j = 0; j < w.row_len; j++) d[j] = s[j] * mr[j * step];
    }
}

static cnn_status dropout_forward(cnn_op_ctx *c) {
    if (!active(c) || c->attrs->f[0] == 0.0) pass_through(c);
    else dropout_apply(c, c->in[0], c->out, 0);
    return CNN_OK;
}

static cnn_status dropout_backward(cnn_op_ctx *c) {
    if (!c->in_grad[0]) return CNN_OK;
    if (!active(c) || c->attrs->f[0] == 0.0) add_grad(c);
    else dropout_apply(c, c->out_grad, c->in_grad[0], 1);
    return CNN_OK;
}

/* ---- alpha_dropout ----------------------------------------------------------------- */

/* Keras computes a and b in double and torch applies them as float32 scalars. */
typedef struct { float a, b, dropped; } alpha_consts;

static alpha_consts alpha_of(const cnn_op_ctx *c) {
    double rate = c->attrs->f[0];
    double alpha_p = -SELU_ALPHA * SELU_SCALE;
    double a = pow((1.0 - rate) * (1.0 + rate * alpha_p * alpha_p), -0.5);
    double b = -a * alpha_p * rate;
    alpha_consts k = {(float)a, (float)b, 0.0f};
    k.dropped = k.a * (float)alpha_p + k.b;
    return k;
}

static cnn_status alpha_dropout_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n;
    cnn_status st = check_common("alpha_dropout", a, "rate", 1.0, 0);
    if (!st) st = check_noise_shape("alpha_dropout", in[0], a);
    if (st) return st;
    *out = *in[0];
    return CNN_OK;
}

/* Forward: y = kept ? a x + b : dropped; the mask drawn per element. */
CNN_HOT static void alpha_set(const float *x, float *y, int64_t n, uint64_t seed, float rate, alpha_consts k) {
    for (int64_t i = 0; i < n; i++) y[i] = cnn_rand_uniform(seed, (uint64_t)i) >= rate ? k.a * x[i] + k.b : k.dropped;
}

/* Backward: dx += kept ? a g : 0. */
CNN_HOT static void alpha_add(const float *g, float *dx, int64_t n, uint64_t seed, float rate, float a) {
    for (int64_t i = 0; i < n; i++) dx[i] += cnn_rand_uniform(seed, (uint64_t)i) >= rate ? a * g[i] : 0.0f;
}

static void alpha_apply(cnn_op_ctx *c, const float *src, float *dst, int backward) {
    uint64_t seed = op_seed(c);
    float rate = drop_rate(c);
    alpha_consts k = alpha_of(c);
    const float *mask = draw_mask(c, seed, rate, 1.0f);
    if (!mask) {
        int64_t n = cnn_shape_numel(&c->out_shape);
        if (backward) alpha_add(src, dst, n, seed, rate, k.a);
        else alpha_set(src, dst, n, seed, rate, k);
        return;
    }
    row_walk w = walk_of(c);
    int64_t step = row_step(&w);
    for (int64_t r = 0; r < w.rows; r++) {
        const float *mr = mask + row_offset(&w, r), *s = src + r * w.row_len;
        float *d = dst + r * w.row_len;
        if (backward) for (int64_t j = 0; j < w.row_len; j++) d[j] += mr[j * step] != 0.0f ? k.a * s[j] : 0.0f;
        else for (int64_t j = 0; j < w.row_len; j++) d[j] = mr[j * step] != 0.0f ? k.a * s[j] + k.b : k.dropped;
    }
}

static cnn_status alpha_dropout_forward(cnn_op_ctx *c) {
    if (!active(c) || c->attrs->f[0] == 0.0) pass_through(c);
    else alpha_apply(c, c->in[0], c->out, 0);
    return CNN_OK;
}

static cnn_status alpha_dropout_backward(cnn_op_ctx *c) {
    if (!c->in_grad[0]) return CNN_OK;
    if (!active(c) || c->attrs->f[0] == 0.0) add_grad(c);
    else alpha_apply(c, c->out_grad, c->in_grad[0], 1);
    return CNN_OK;
}

/* ---- gaussian_noise ---------------------------------------------------------------- */

static cnn_status gaussian_noise_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n;
    if (a->n_int > 2)
        return cnn_fail(CNN_ERR_VALUE, "gaussian_noise: takes ints=[mode, seed], got %d ints", a->n_int);
    cnn_status st = check_common("gaussian_noise", a, "stddev", INFINITY, 0);
    if (st) return st;
    *out = *in[0];
    return CNN_OK;
}

static cnn_status gaussian_noise_forward(cnn_op_ctx *c) {
    float sd = (float)c->attrs->f[0];
    if (!active(c) || sd == 0.0f) { pass_through(c); return CNN_OK; }
    int64_t n = cnn_shape_numel(&c->out_shape);
    fill_normal(op_seed(c), c->out, n);  // z into out, then x + stddev z in place
    for (int64_t i = 0; i < n; i++) c->out[i] = c->in[0][i] + sd * c->out[i];
    return CNN_OK;
}

static cnn_status gaussian_noise_backward(cnn_op_ctx *c) {
    if (c->in_grad[0]) add_grad(c);  // additive noise: dy/dx = 1 in both modes
    return CNN_OK;
}

/* ---- gaussian_dropout -------------------------------------------------------------- */

static int gd_on(const cnn_op_ctx *c) { return active(c) && c->attrs->f[0] > 0.0; }

static cnn_status gaussian_dropout_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n;
    if (a->n_int > 2)
        return cnn_fail(CNN_ERR_VALUE, "gaussian_dropout: takes ints=[mode, seed], got %d ints", a->n_int);
    cnn_status st = check_common("gaussian_dropout", a, "rate", 1.0, 0);
    if (st) return st;
    *out = *in[0];
    return CNN_OK;
}

static int64_t gaussian_dropout_aux_size(const cnn_op_ctx *c) {
    return gd_on(c) ? cnn_shape_numel(&c->out_shape) : 0;
}

/* aux holds the multiplier 1 + stddev z (torch.normal(1, stddev) computes z * stddev + 1). */
static cnn_status gaussian_dropout_forward(cnn_op_ctx *c) {
    if (!gd_on(c)) { pass_through(c); return CNN_OK; }
    double rate = c->attrs->f[0];
    float sd = (float)sqrt(rate / (1.0 - rate));
    int64_t n = cnn_shape_numel(&c->out_shape);
    fill_normal(op_seed(c), c->aux, n);
    for (int64_t i = 0; i < n; i++) {
        c->aux[i] = c->aux[i] * sd + 1.0f;
        c->out[i] = c->in[0][i] * c->aux[i];
    }
    return CNN_OK;
}

static cnn_status gaussian_dropout_backward(cnn_op_ctx *c) {
    if (!c->in_grad[0]) return CNN_OK;
    if (!gd_on(c)) { add_grad(c); return CNN_OK; }
    int64_t n = cnn_shape_numel(&c->out_shape);
    for (int64_t i = 0; i < n; i++) c->in_grad[0][i] += c->out_grad[i] * c->aux[i];
    return CNN_OK;
}

/* ---- table ----------------------------------------------------------------------- */

const cnn_op_def cnn_ops_random[] = {
    {.name = "dropout", .min_inputs = 1, .max_inputs = 1, .infer = dropout_infer,
     .forward = dropout_forward, .backward = dropout_backward, .work_size = mask_work_size},
    {.name = "alpha_dropout", .min_inputs = 1, .max_inputs = 1, .infer = alpha_dropout_infer,
     .forward = alpha_dropout_forward, .backward = alpha_dropout_backward, .work_size = mask_work_size},
    {.name = "gaussian_noise", .min_inputs = 1, .max_inputs = 1, .infer = gaussian_noise_infer,
     .forward = gaussian_noise_forward, .backward = gaussian_noise_backward},
    {.name = "gaussian_dropout", .min_inputs = 1, .max_inputs = 1, .infer = gaussian_dropout_infer,
     .forward = gaussian_dropout_forward, .backward = gaussian_dropout_backward,
     .aux_size = gaussian_dropout_aux_size},
    {0},
};
