/* ops_norm.c: fused normalization ops, forward and backward one kernel each.
 *
 * batch_norm(x, gamma, beta, moving_mean, moving_variance) -> y, shaped like x.
 *   ints[0] = axis (the channel axis; negative allowed), ints[1] = mode: -1 follows the
 *   run's training flag (fit's step trains, evaluate and predict infer), 0 always infers
 *   (a frozen layer, or an explicit training=False), 1 always trains; floats[0] =
 *   epsilon > 0, floats[1] = momentum in [0, 1]. gamma, beta and the moving statistics
 *   are (C,).
 *   Training: statistics of the batch over every axis but `axis`, computed as Keras 3 does
 *   on its torch backend, mean = E[x] and the biased var = E[x^2] - E[x]^2 (each rounded to
 *   float32 as there; the variance is clamped at 0 where rounding makes it negative), and
 *   the moving statistics are updated in place (they are non-trainable variables, and
 *   their graph nodes point at the variables' memory):
 *     moving = moving * momentum + batch_statistic * (1 - momentum)
 *   Inference: the moving statistics. Both: y = (x - mean) * (gamma / sqrt(var + eps)) + beta.
 *   aux holds the mean, 1/sqrt(var + eps) and the mode used, so backward never reads the
 *   moving statistics (forward has already moved them on).
 *
 * layer_norm(x, gamma, beta) -> y, shaped like x.
 *   ints[0] = rms_scaling (0/1), ints[1..] = the normalised axes (negative allowed, at least
 *   one, no duplicates); floats[0] = epsilon > 0. gamma and beta have the dims of the
 *   normalised axes in increasing axis order. Statistics per position of the other axes,
 *   two-pass in double: y = (x - mean) * rstd * gamma + beta, rstd = 1/sqrt(var + eps).
 *   rms_scaling (Keras's deprecated flag, which scales by the centred variance):
 *   y = x * rstd * gamma + beta (the layer feeds zeros for beta).
 *
 * Missing gamma or beta (scale=False, center=False) are fed as constant ones/zeros: a
 * constant gets no gradient, so the kernels do no extra work for them.
 *
 * Both ops walk x through one layout: the shape folded into runs of same-kind axes, where
 * every element has a statistic index k (over the axes that are not reduced) and a reduced
 * index r. batch_norm's parameters follow k (the channel), layer_norm's follow r.
 */
#include <math.h>
#include <string.h>

#include "ops.h"

/* ---- layout ------------------------------------------------------------------------- */

typedef struct {
    int nd;                             // folded rank (>= 1)
    int64_t dim[CNN_MAX_DIMS];
    int red[CNN_MAX_DIMS];              // folded axis d is reduced
    int64_t ks[CNN_MAX_DIMS], rs[CNN_MAX_DIMS];  // strides of k and r along each folded axis
    int64_t n, nk, nr;                  // elements, statistics, elements per statistic
} layout;

static void make_layout(const cnn_shape *x, const int red[CNN_MAX_DIMS], layout *L) {
    memset(L, 0, sizeof *L);
    L->n = L->nk = L->nr = 1;
    for (int d = 0; d < x->ndim; d++) {
        L->n *= x->dim[d];
        if (red[d]) L->nr *= x->dim[d]; else L->nk *= x->dim[d];
        // Size-1 axes carry nothing; neighbours of the same kind merge into one.
        if (x->dim[d] == 1) continue;
        if (L->nd > 0 && L->red[L->nd - 1] == red[d]) L->dim[L->nd - 1] *= x->dim[d];
        else { L->dim[L->nd] = x->dim[d]; L->red[L->nd] = red[d]; L->nd++; }
    }
    if (L->nd == 0) { L->nd = 1; L->dim[0] = 1; L->red[0] = 1; }
    int64_t ks = 1, rs = 1;
    for (int d = L->nd - 1; d >= 0; d--) {
        if (L->red[d]) { L->rs[d] = rs; rs *= L->dim[d]; }
        else { L->ks[d] = ks; ks *= L->dim[d]; }
    }
}

/* Moves the odometer over the outer folded axes by one innermost run. */
static inline void next_run(const layout *L, int64_t idx[CNN_MAX_DIMS], int64_t *k, int64_t *r) {
    for (int d = L->nd - 2; d >= 0; d--) {
        *k += L->ks[d];
        *r += L->rs[d];
        if (++idx[d] < L->dim[d]) return;
        *k -= L->ks[d] * L->dim[d];
        *r -= L->rs[d] * L->dim[d];
        idx[d] = 0;
    }
}

/* Visits x in memory order one innermost run at a time: the run starts at element b and
 * holds L->dim[nd-1] elements; along it r advances (a reduced run, k fixed) or k advances
 * (a kept run, r fixed). k and r are the indices of the run's first element. */
#define FOR_RUNS(L, b, k, r)                                                                 \
    for (int64_t b = 0, k = 0, r = 0, idx_[CNN_MAX_DIMS] = {0}; b < (L)->n;                  \
         b += (L)->dim[(L)->nd - 1], next_run((L), idx_, &k, &r))

static inline int run_reduced(const layout *L) { return L->red[L->nd - 1]; }
static inline int64_t run_len(const layout *L) { return L->dim[L->nd - 1]; }

/* The work buffer as doubles: it is 64-byte aligned in both the graph arena and eager. */
static inline double *work_doubles(const cnn_op_ctx *c) { return (double *)(void *)c->work; }

/* Reductions along a reduced run keep LANES independent double sums: a sum may not be
 * reordered, so a single accumulator would chain every add; independent lanes vectorise
 * and give the same bits in every clone. */
#define LANES 8

static inline double lanes_total(const double *a) {
    double t = 0.0;
    for (int l = 0; l < LANES; l++) t += a[l];
    return t;
}

/* sum += x, sumsq += x*x rounded to float32 first (torch squares in float32 before its mean). */
static inline void row_moments(const float *x, int64_t n, double *sum, double *sumsq) {
    double a[LANES] = {0}, q[LANES] = {0};
    int64_t j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++) { float v = x[j + l], sq = v * v; a[l] += v; q[l] += sq; }
    for (; j < n; j++) { float sq = x[j] * x[j]; a[0] += x[j]; q[0] += sq; }
    *sum += lanes_total(a);
    *sumsq += lanes_total(q);
}

static inline double row_sum(const float *x, int64_t n) {
    double a[LANES] = {0};
    int64_t j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++) a[l] += x[j + l];
    for (; j < n; j++) a[0] += x[j];
    return lanes_total(a);
}

static inline double row_centred(const float *x, int64_t n, double mu) {
    double a[LANES] = {0};
    int64_t j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++) { double d = x[j + l] - mu; a[l] += d * d; }
    for (; j < n; j++) { double d = x[j] - mu; a[0] += d * d; }
    return lanes_total(a);
}

/* Per-statistic sums over the reduced axes, in double: s1 = sum x, s2 = sum x*x (see
 * row_moments). */
CNN_HOT static void sum_moments(const layout *L, const float *x, double *s1, double *s2) {
    memset(s1, 0, sizeof(double) * (size_t)L->nk);
    memset(s2, 0, sizeof(double) * (size_t)L->nk);
    int64_t len = run_len(L);
    FOR_RUNS(L, b, k, r) {
        const float *xr = x + b;
        if (run_reduced(L)) row_moments(xr, len, &s1[k], &s2[k]);
        else for (int64_t j = 0; j < len; j++) { float sq = xr[j] * xr[j]; s1[k + j] += xr[j]; s2[k + j] += sq; }
    }
}

CNN_HOT static void sum_x(const layout *L, const float *x, double *s1) {
    memset(s1, 0, sizeof(double) * (size_t)L->nk);
    int64_t len = run_len(L);
    FOR_RUNS(L, b, k, r) {
        const float *xr = x + b;
        if (run_reduced(L)) s1[k] += row_sum(xr, len);
        else for (int64_t j = 0; j < len; j++) s1[k + j] += xr[j];
    }
}

/* s2 = sum (x - center)^2 in double: the second pass of a two-pass variance. */
CNN_HOT static void sum_centred(const layout *L, const float *x, const double *center, double *s2) {
    memset(s2, 0, sizeof(double) * (size_t)L->nk);
    int64_t len = run_len(L);
    FOR_RUNS(L, b, k, r) {
        const float *xr = x + b;
        if (run_reduced(L)) s2[k] += row_centred(xr, len, center[k]);
        else for (int64_t j = 0; j < len; j++) { double d = xr[j] - center[k + j]; s2[k + j] += d * d; }
    }
}

/* ---- batch_norm -------------------------------------------------------------------- */

enum { BN_FOLLOW = -1, BN_INFER = 0, BN_TRAIN = 1 };

static cnn_status bn_attrs(const cnn_shape *x, const cnn_attrs *a, int *axis) {
    if (a->n_int != 2 || a->n_float != 2)
        return cnn_fail(CNN_ERR_VALUE, "batch_norm: expected ints (axis, mode) and floats (epsilon, "
                        "momentum), got %d ints and %d floats", a->n_int, a->n_float);
    if (x->ndim < 1)
        return cnn_fail(CNN_ERR_SHAPE, "batch_norm: input must have rank >= 1, got %s", cnn_shape_fmt(x));
    if (cnn_norm_axis("batch_norm", a->i[0], x->ndim, axis))
        return cnn_fail(CNN_ERR_VALUE, "batch_norm: axis %lld is out of range for input %s",
                        (long long)a->i[0], cnn_shape_fmt(x));
    if (a->i[1] < -1 || a->i[1] > 1)
        return cnn_fail(CNN_ERR_VALUE, "batch_norm: mode (ints[1]) must be -1 (follow the run), 0 "
                        "(inference) or 1 (training), got %lld", (long long)a->i[1]);
    if (!(a->f[0] > 0.0) || !isfinite(a->f[0]))
        return cnn_fail(CNN_ERR_VALUE, "batch_norm: epsilon must be a positive number, got %g", a->f[0]);
    if (!(a->f[1] >= 0.0 && a->f[1] <= 1.0))
        return cnn_fail(CNN_ERR_VALUE, "batch_norm: momentum must be in [0, 1], got %g", a->f[1]);
    return CNN_OK;
}

static cnn_status bn_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n;
    static const char *const names[] = {"x", "gamma", "beta", "moving_mean", "moving_variance"};
    const cnn_shape *x = in[0];
    int axis;
    cnn_status st = bn_attrs(x, a, &axis);
    if (st) return st;
    int64_t ch = x->dim[axis];
    for (int k = 1; k < 5; k++) {
        const cnn_shape *p = in[k];
        if (p->ndim != 1 || (p->dim[0] != ch && ch != -1 && p->dim[0] != -1))
            return cnn_fail(CNN_ERR_SHAPE, "batch_norm: %s must have shape (%lld,) to match axis %d of "
                            "input %s, got %s", names[k], (long long)ch, axis, cnn_shape_fmt(x),
                            cnn_shape_fmt(p));
    }
    *out = *x;
    return CNN_OK;
}

static void bn_layout(const cnn_op_ctx *c, layout *L, int64_t *ch) {
    int axis, red[CNN_MAX_DIMS];
    const cnn_shape *x = c->in_shape[0];
    cnn_norm_axis("batch_norm", c->attrs->i[0], x->ndim, &axis);  // infer validated it
    for (int d = 0; d < CNN_MAX_DIMS; d++) red[d] = d != axis;
    make_layout(x, red, L);
    *ch = x->dim[axis];
}

static int bn_training(const cnn_op_ctx *c) {
    int64_t mode = c->attrs->i[1];
    return mode == BN_FOLLOW ? c->training != 0 : mode == BN_TRAIN;
}

/* aux: mean (C), 1/sqrt(var + eps) (C), then 1 if batch statistics were used. */
static int64_t bn_aux_size(const cnn_op_ctx *c) { return 2 * c->in_shape[1]->dim[0] + 1; }

/* Forward: 2C doubles of sums and C floats of scale; backward: 2C doubles and 3C floats. */
static int64_t bn_work_size(const cnn_op_ctx *c) { return 8 * c->in_shape[1]->dim[0] + 16; }

/* y = (x - mean) * scale + beta per channel, with scale = gamma / sqrt(var + eps) rounded
 * first, as Keras composes it. */
CNN_HOT static void bn_apply(const layout *L, const float *x, const float *mean, const float *scale,
                             const float *beta, float *y) {
    int64_t len = run_len(L);
    FOR_RUNS(L, b, k, r) {
        const float *xr = x + b;
        float *yr = y + b;
        if (run_reduced(L)) {
            float mu = mean[k], s = scale[k], be = beta[k];
            for (int64_t j = 0; j < len; j++) yr[j] = (xr[j] - mu) * s + be;
        } else {
            for (int64_t j = 0; j < len; j++) yr[j] = (xr[j] - mean[k + j]) * scale[k + j] + beta[k + j];
        }
    }
}

static cnn_status bn_forward(cnn_op_ctx *c) {
    layout L;
    int64_t ch;
    bn_layout(c, &L, &ch);
    const float *x = c->in[0], *gamma = c->in[1], *beta = c->in[2];
    // The moving statistics are variables this op owns the update of (see the header).
    float *moving_mean = (float *)c->in[3], *moving_var = (float *)c->in[4];
    float *mean = c->aux, *inv = c->aux + ch, eps = (float)c->attrs->f[0];
    int train = bn_training(c);
    c->aux[2 * ch] = (float)train;
    double *s1 = work_doubles(c), *s2 = s1 + ch;
    float *scale = (float *)(void *)(s2 + ch);
    if (train && L.nr > 0) {
        sum_moments(&L, x, s1, s2);
        // Keras (torch backend): torch.mean = float32 sum / count, then E[x^2] - E[x]^2.
        float count = (float)L.nr, m = (float)c->attrs->f[1], m1 = (float)(1.0 - c->attrs->f[1]);
        for (int64_t j = 0; j < ch; j++) {
            float mu = (float)s1[j] / count, msq = (float)s2[j] / count;
            float var = msq - mu * mu;
            if (var < 0.0f) var = 0.0f;  // rounding only; a negative variance would give NaN
            mean[j] = mu;
            inv[j] = 1.0f / sqrtf(var + eps);
            moving_mean[j] = moving_mean[j] * m + mu * m1;
            moving_var[j] = moving_var[j] * m + var * m1;
        }
    } else {
        // Inference, or an empty batch in training (no statistics: the moving ones stay).
        for (int64_t j = 0; j < ch; j++) {
            mean[j] = moving_mean[j];
            inv[j] = 1.0f / sqrtf(moving_var[j] + eps);
        }
    }
    for (int64_t j = 0; j < ch; j++) scale[j] = inv[j] * gamma[j];
    bn_apply(&L, x, mean, scale, beta, c->out);
    return CNN_OK;
}

/* Per channel: sd = sum dy, sdx = sum dy * xhat, xhat = (x - mean) * inv. */
CNN_HOT static void bn_grad_sums(const layout *L, const float *x, const float *dy, const float *mean,
                                 const float *inv, double *sd, double *sdx) {
    int64_t len = run_len(L);
    memset(sd, 0, sizeof(double) * (size_t)L->nk);
    memset(sdx, 0, sizeof(double) * (size_t)L->nk);
    FOR_RUNS(L, b, k, r) {
        const float *xr = x + b, *g = dy + b;
        if (run_reduced(L)) {
            double s[LANES] = {0}, q[LANES] = {0};
            float mu = mean[k], iv = inv[k];
            int64_t j = 0;
            for (; j + LANES <= len; j += LANES)
                for (int l = 0; l < LANES; l++) { s[l] += g[j + l]; q[l] += g[j + l] * ((xr[j + l] - mu) * iv); }
            for (; j < len; j++) { s[0] += g[j]; q[0] += g[j] * ((xr[j] - mu) * iv); }
            sd[k] += lanes_total(s);
            sdx[k] += lanes_total(q);
        } else {
            for (int64_t j = 0; j < len; j++) {
                sd[k + j] += g[j];
                sdx[k + j] += g[j] * ((xr[j] - mean[k + j]) * inv[k + j]);
            }
        }
    }
}

/* dx += a * (dy - mdy - xhat * mdx) per channel (inference: mdy = mdx = 0). */
CNN_HOT static void bn_grad_x(const layout *L, const float *x, const float *dy, const float *mean,
                              const float *inv, const float *a, const float *mdy, const float *mdx,
                              int train, float *dx) {
    int64_t len = run_len(L);
    FOR_RUNS(L, b, k, r) {
        const float *xr = x + b, *g = dy + b;
        float *dxr = dx + b;
        if (run_reduced(L)) {
            float mu = mean[k], iv = inv[k], ak = a[k], md = mdy[k], mq = mdx[k];
            if (train) for (int64_t j = 0; j < len; j++) dxr[j] += ak * (g[j] - md - (xr[j] - mu) * iv * mq);
            else for (int64_t j = 0; j < len; j++) dxr[j] += ak * g[j];
        } else if (train) {
            for (int64_t j = 0; j < len; j++)
                dxr[j] += a[k + j] * (g[j] - mdy[k + j] - (xr[j] - mean[k + j]) * inv[k + j] * mdx[k + j]);
        } else {
            for (int64_t j = 0; j < len; j++) dxr[j] += a[k + j] * g[j];
        }
    }
}

static cnn_status bn_backward(cnn_op_ctx *c) {
    layout L;
    int64_t ch;
    bn_layout(c, &L, &ch);
    if (L.n == 0) return CNN_OK;
    const float *x = c->in[0], *gamma = c->in[1], *dy = c->out_grad;
    const float *mean = c->aux, *inv = c->aux + ch;
    int train = c->aux[2 * ch] != 0.0f;
    float *dx = c->in_grad[0], *dgamma = c->in_grad[1], *dbeta = c->in_grad[2];
    double *sd = work_doubles(c), *sdx = sd + ch;
    float *a = (float *)(void *)(sdx + ch), *mdy = a + ch, *mdx = mdy + ch;
    if (dgamma || dbeta || (dx && train)) {
        bn_grad_sums(&L, x, dy, mean, inv, sd, sdx);
        if (dgamma) for (int64_t j = 0; j < ch; j++) dgamma[j] += (float)sdx[j];
        if (dbeta) for (int64_t j = 0; j < ch; j++) dbeta[j] += (float)sd[j];
    }
    if (!dx) return CNN_OK;
    // Training: dx = gamma*inv * (dy - mean(dy) - xhat * mean(dy * xhat)), the batch
    // statistics' own dependence on x included; inference: dx = gamma*inv * dy.
    for (int64_t j = 0; j < ch; j++) {
        a[j] = gamma[j] * inv[j];
        mdy[j] = train ? (float)(sd[j] / (double)L.nr) : 0.0f;
        mdx[j] = train ? (float)(sdx[j] / (double)L.nr) : 0.0f;
    }
    bn_grad_x(&L, x, dy, mean, inv, a, mdy, mdx, train, dx);
    return CNN_OK;
}

/* ---- layer_norm -------------------------------------------------------------------- */

/* Reads the attributes against x: red[d] = 1 for each normalised axis. */
static cnn_status ln_attrs(const cnn_shape *x, const cnn_attrs *a, int red[CNN_MAX_DIMS]) {
    char buf[160];
    if (a->n_int < 2 || a->n_float != 1)
        return cnn_fail(CNN_ERR_VALUE, "layer_norm: expected ints (rms_scaling, axis, ...) with at least "
                        "one axis and floats (epsilon), got %d ints and %d floats", a->n_int, a->n_float);
    if (a->i[0] != 0 && a->i[0] != 1)
        return cnn_fail(CNN_ERR_VALUE, "layer_norm: rms_scaling (ints[0]) must be 0 or 1, got %lld",
                        (long long)a->i[0]);
    if (!(a->f[0] > 0.0) || !isfinite(a->f[0]))
        return cnn_fail(CNN_ERR_VALUE, "layer_norm: epsilon must be a positive number, got %g", a->f[0]);
    int n_axes = a->n_int - 1;
    for (int d = 0; d < CNN_MAX_DIMS; d++) red[d] = 0;
    for (int k = 0; k < n_axes; k++) {
        int ax;
        if (cnn_norm_axis("layer_norm", a->i[1 + k], x->ndim, &ax))
            return cnn_fail(CNN_ERR_VALUE, "layer_norm: axis %lld is out of range for input %s (axes %s)",
                            (long long)a->i[1 + k], cnn_shape_fmt(x),
                            cnn_ints_str(a->i + 1, n_axes, buf, sizeof buf));
        if (red[ax])
            return cnn_fail(CNN_ERR_VALUE, "layer_norm: duplicate axis %lld in axes %s for input %s",
                            (long long)a->i[1 + k], cnn_ints_str(a->i + 1, n_axes, buf, sizeof buf),
                            cnn_shape_fmt(x));
        red[ax] = 1;
    }
    return CNN_OK;
}

static cnn_status ln_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n;
    const cnn_shape *x = in[0];
    int red[CNN_MAX_DIMS];
    cnn_status st = ln_attrs(x, a, red);
    if (st) return st;
    cnn_shape want = {0};
    for (int d = 0; d < x->ndim; d++)
        if (red[d]) want.dim[want.ndim++] = x->dim[d];
    for (int k = 1; k < 3; k++) {
        const cnn_shape *p = in[k];
        int ok = p->ndim == want.ndim;
        for (int d = 0; ok && d < want.ndim; d++)
            ok = p->dim[d] == want.dim[d] || p->dim[d] == -1 || want.dim[d] == -1;
        if (!ok)
            return cnn_fail(CNN_ERR_SHAPE, "layer_norm: %s must have shape %s (the normalised axes of "
                            "input %s), got %s", k == 1 ? "gamma" : "beta", cnn_shape_fmt(&want),
                            cnn_shape_fmt(x), cnn_shape_fmt(p));
    }
    *out = *x;
    return CNN_OK;
}

static void ln_layout(const cnn_op_ctx *c, layout *L) {
    int red[CNN_MAX_DIMS];
    ln_attrs(c->in_shape[0], c->attrs, red);  // infer validated these
    make_layout(c->in_shape[0], red, L);
}

/* aux: mean and rstd per statistic. */
static int64_t ln_aux_size(const cnn_op_ctx *c) {
    layout L;
    ln_layout(c, &L);
    return 2 * L.nk;
}

/* Two doubles per statistic and two per normalised element (backward's dgamma, dbeta). */
static int64_t ln_work_size(const cnn_op_ctx *c) {
    layout L;
    ln_layout(c, &L);
    return 4 * (L.nk + L.nr) + 16;
}

/* y = (x - mean) * rstd * gamma + beta (rms_scaling: x * rstd * gamma + beta). */
CNN_HOT static void ln_apply(const layout *L, const float *x, const float *mean, const float *rstd,
                             const float *gamma, const float *beta, int rms, float *y) {
    int64_t len = run_len(L);
    FOR_RUNS(L, b, k, r) {
        const float *xr = x + b;
        float *yr = y + b;
        if (run_reduced(L)) {
            float mu = rms ? 0.0f : mean[k], rs = rstd[k];
            const float *gr = gamma + r, *br = beta + r;
            for (int64_t j = 0; j < len; j++) yr[j] = (xr[j] - mu) * rs * gr[j] + br[j];
        } else {
            float g = gamma[r], be = beta[r];
            const float *mk = mean + k, *rk = rstd + k;
            if (rms) for (int64_t j = 0; j < len; j++) yr[j] = xr[j] * rk[j] * g + be;
            else for (int64_t j = 0; j < len; j++) yr[j] = (xr[j] - mk[j]) * rk[j] * g + be;
        }
    }
}

static cnn_status ln_forward(cnn_op_ctx *c) {
    layout L;
    ln_layout(c, &L);
    if (L.n == 0) return CNN_OK;
    const float *x = c->in[0];
    float *mean = c->aux, *rstd = c->aux + L.nk, eps = (float)c->attrs->f[0];
    double *s1 = work_doubles(c), *s2 = s1 + L.nk;
    // Two passes in double: the variance does not lose digits to a large mean.
    sum_x(&L, x, s1);
    for (int64_t k = 0; k < L.nk; k++) s1[k] /= (double)L.nr;
    sum_centred(&L, x, s1, s2);
    for (int64_t k = 0; k < L.nk; k++) {
        mean[k] = (float)s1[k];
        rstd[k] = 1.0f / sqrtf((float)(s2[k] / (double)L.nr) + eps);
    }
    ln_apply(&L, x, mean, rstd, c->in[1], c->in[2], c->attrs->i[0] == 1, c->out);
    return CNN_OK;
}

/* Per statistic: sg = sum g and sgx = sum g * xhat (rms_scaling: sum g * x), g = dy * gamma.
 * Per normalised element, over the statistics: dg = sum dy * xhat (rms_scaling:
 * dy * x * rstd) and db = sum dy. xhat = (x - mean) * rstd. */
CNN_HOT static void ln_grad_sums(const layout *L, const float *x, const float *dy, const float *gamma,
                                 const float *mean, const float *rstd, int rms, double *sg,
                                 double *sgx, double *dg, double *db) {
    int64_t len = run_len(L);
    memset(sg, 0, sizeof(double) * (size_t)L->nk);
    memset(sgx, 0, sizeof(double) * (size_t)L->nk);
    memset(dg, 0, sizeof(double) * (size_t)L->nr);
    memset(db, 0, sizeof(double) * (size_t)L->nr);
    FOR_RUNS(L, b, k, r) {
        const float *xr = x + b, *d = dy + b;
        if (run_reduced(L)) {
            float mu = rms ? 0.0f : mean[k], rs = rstd[k];
            const float *gr = gamma + r;
            double *dgr = dg + r, *dbr = db + r, s[LANES] = {0}, q[LANES] = {0};
            int64_t j = 0;
            // xc * rs is xhat, or x * rstd with rms_scaling (mu = 0): the same expression.
            for (; j + LANES <= len; j += LANES)
                for (int l = 0; l < LANES; l++) {
                    float v = (xr[j + l] - mu) * rs, g = d[j + l] * gr[j + l];
                    s[l] += g;
                    q[l] += g * (rms ? xr[j + l] : v);
                }
            for (; j < len; j++) {
                float v = (xr[j] - mu) * rs, g = d[j] * gr[j];
                s[0] += g;
                q[0] += g * (rms ? xr[j] : v);
            }
            for (j = 0; j < len; j++) { dgr[j] += d[j] * ((xr[j] - mu) * rs); dbr[j] += d[j]; }
            sg[k] += lanes_total(s);
            sgx[k] += lanes_total(q);
        } else {
            float gm = gamma[r];
            double s[LANES] = {0}, q[LANES] = {0};
            for (int64_t j = 0; j < len; j++) {
                float mu = rms ? 0.0f : mean[k + j], rs = rstd[k + j];
                float v = (xr[j] - mu) * rs, g = d[j] * gm;
                sg[k + j] += g;
                sgx[k + j] += g * (rms ? xr[j] : v);
                s[j % LANES] += d[j] * v;
                q[j % LANES] += d[j];
            }
            dg[r] += lanes_total(s);
            db[r] += lanes_total(q);
        }
    }
}

/* Centred: dx += rstd * (g - mean(g) - xhat * mean(g * xhat)).
 * rms_scaling: dx += rstd * g - rstd^3 * (x - mean) * mean(g * x). mg, mgx: those means. */
CNN_HOT static void ln_grad_x(const layout *L, const float *x, const float *dy, const float *gamma,
                              const float *mean, const float *rstd, const double *mg,
                              const double *mgx, int rms, float *dx) {
    int64_t len = run_len(L);
    FOR_RUNS(L, b, k, r) {
        const float *xr = x + b, *d = dy + b;
        float *dxr = dx + b;
        if (run_reduced(L)) {
            float mu = mean[k], rs = rstd[k], a = (float)mg[k], q = (float)mgx[k];
            const float *gr = gamma + r;
            if (rms) for (int64_t j = 0; j < len; j++) dxr[j] += rs * (d[j] * gr[j]) - rs * rs * rs * (xr[j] - mu) * q;
            else for (int64_t j = 0; j < len; j++) dxr[j] += rs * (d[j] * gr[j] - a - (xr[j] - mu) * rs * q);
        } else {
            float gm = gamma[r];
            for (int64_t j = 0; j < len; j++) {
                float rs = rstd[k + j], g = d[j] * gm, xc = xr[j] - mean[k + j];
                float a = (float)mg[k + j], q = (float)mgx[k + j];
                dxr[j] += rms ? rs * g - rs * rs * rs * xc * q : rs * (g - a - xc * rs * q);
            }
        }
    }
}

static cnn_status ln_backward(cnn_op_ctx *c) {
    layout L;
    ln_layout(c, &L);
    if (L.n == 0) return CNN_OK;
    const float *x = c->in[0], *gamma = c->in[1], *dy = c->out_grad;
    const float *mean = c->aux, *rstd = c->aux + L.nk;
    float *dx = c->in_grad[0], *dgamma = c->in_grad[1], *dbeta = c->in_grad[2];
    int rms = c->attrs->i[0] == 1;
    double *sg = work_doubles(c), *sgx = sg + L.nk, *dg = sgx + L.nk, *db = dg + L.nr;
    ln_grad_sums(&L, x, dy, gamma, mean, rstd, rms, sg, sgx, dg, db);
    if (dgamma) for (int64_t j = 0; j < L.nr; j++) dgamma[j] += (float)dg[j];
    if (dbeta) for (int64_t j = 0; j < L.nr; j++) dbeta[j] += (float)db[j];
    if (!dx) return CNN_OK;
    for (int64_t k = 0; k < L.nk; k++) { sg[k] /= (double)L.nr; sgx[k] /= (double)L.nr; }
    ln_grad_x(&L, x, dy, gamma, mean, rstd, sg, sgx, rms, dx);
    return CNN_OK;
}

const cnn_op_def cnn_ops_norm[] = {
    {.name = "batch_norm", .min_inputs = 5, .max_inputs = 5, .infer = bn_infer, .forward = bn_forward,
     .backward = bn_backward, .aux_size = bn_aux_size, .work_size = bn_work_size,
     .no_grad_inputs = (1u << 3) | (1u << 4)},  // the moving statistics get no gradient
    {.name = "layer_norm", .min_inputs = 3, .max_inputs = 3, .infer = ln_infer, .forward = ln_forward,
     .backward = ln_backward, .aux_size = ln_aux_size, .work_size = ln_work_size},
    {0},
};
