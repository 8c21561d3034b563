/* ops_reduce.c: reductions over a set of axes.
 *
 * sum(x), mean(x), max(x): ints[0] = keepdims (0/1, default 0), ints[1..] = axes
 *   (negative allowed, no duplicates); no axes reduces over every axis. The output drops
 *   the reduced axes, or keeps them as size 1 with keepdims.
 * Backward: sum broadcasts dy back over the reduced axes, mean also divides by the number
 *   of reduced elements, max routes dy to the arg-max entries, split equally among ties
 *   (as torch.amax does).
 *
 * Every kernel first folds the shape into a plan: size-1 axes dropped, neighbouring axes
 * that are both reduced or both kept merged. Most reductions then have one reduced group,
 * (outer, r, inner), which covers the common Keras cases (last axis: inner = 1; leading
 * axes: outer = 1) with plain loops. Two or more reduced groups take the general path,
 * which walks the input in order, one innermost run at a time, and steps the output
 * offset with strides.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops.h"

/* Reads the attributes against input shape x: red[d] = 1 for each reduced axis. */
static cnn_status reduce_attrs(const char *op, const cnn_shape *x, const cnn_attrs *a,
                               int red[CNN_MAX_DIMS], int *keepdims) {
    char buf[160];
    *keepdims = a->n_int > 0 ? (int)a->i[0] : 0;
    if (a->n_int > 0 && a->i[0] != 0 && a->i[0] != 1)
        return cnn_fail(CNN_ERR_VALUE, "%s: keepdims (ints[0]) must be 0 or 1, got %lld",
                        op, (long long)a->i[0]);
    int n_axes = a->n_int > 1 ? a->n_int - 1 : 0;
    for (int d = 0; d < CNN_MAX_DIMS; d++) red[d] = n_axes == 0 && d < x->ndim;
    for (int k = 0; k < n_axes; k++) {
        int ax;
        if (cnn_norm_axis(op, a->i[1 + k], x->ndim, &ax))
            return cnn_fail(CNN_ERR_VALUE, "%s: axis %lld is out of range for input %s (axes %s)",
                            op, (long long)a->i[1 + k], cnn_shape_fmt(x),
                            cnn_ints_str(a->i + 1, n_axes, buf, sizeof buf));
        if (red[ax])
            return cnn_fail(CNN_ERR_VALUE, "%s: duplicate axis %lld in axes %s for input %s",
                            op, (long long)a->i[1 + k], cnn_ints_str(a->i + 1, n_axes, buf, sizeof buf),
                            cnn_shape_fmt(x));
        red[ax] = 1;
    }
    return CNN_OK;
}

static cnn_status reduce_infer_op(const char *op, const cnn_shape *x, const cnn_attrs *a,
                                  cnn_shape *out) {
    int red[CNN_MAX_DIMS], keep;
    cnn_status st = reduce_attrs(op, x, a, red, &keep);
    if (st) return st;
    out->ndim = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (!red[d]) out->dim[out->ndim++] = x->dim[d];  // an unknown kept dim stays unknown
        else if (keep) out->dim[out->ndim++] = 1;
    }
    return CNN_OK;
}

static cnn_status sum_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n;
    return reduce_infer_op("sum", in[0], a, out);
}

static cnn_status mean_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n;
    return reduce_infer_op("mean", in[0], a, out);
}

static cnn_status max_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n;
    cnn_status st = reduce_infer_op("max", in[0], a, out);
    if (st) return st;
    // The max of nothing has no value (numpy and torch refuse it too).
    int red[CNN_MAX_DIMS], keep;
    reduce_attrs("max", in[0], a, red, &keep);
    for (int d = 0; d < in[0]->ndim; d++)
        if (red[d] && in[0]->dim[d] == 0)
            return cnn_fail(CNN_ERR_SHAPE, "max: cannot reduce over the zero-size axis %d of %s",
                            d, cnn_shape_fmt(in[0]));
    return CNN_OK;
}

/* ---- plan -------------------------------------------------------------------------- */

typedef struct {
    int64_t in_n, out_n, count;  // elements in, out, and reduced into each output
    int general;                 // more than one reduced group: use the strided walk
    int64_t outer, r, inner;     // one reduced group: x is (outer, r, inner), y is (outer, inner)
    int nd;                      // general: folded rank, dims, and output strides (0 if reduced)
    int64_t dim[CNN_MAX_DIMS], ostride[CNN_MAX_DIMS];
    int red[CNN_MAX_DIMS];
} rplan;

static void make_plan(const char *op, const cnn_op_ctx *c, rplan *p) {
    const cnn_shape *x = c->in_shape[0];
    int red[CNN_MAX_DIMS], keep;
    reduce_attrs(op, x, c->attrs, red, &keep);  // infer already validated these
    memset(p, 0, sizeof *p);
    p->in_n = cnn_shape_numel(x);
    p->out_n = cnn_shape_numel(&c->out_shape);
    p->count = 1;
    for (int d = 0; d < x->ndim; d++) if (red[d]) p->count *= x->dim[d];
    // Fold: size-1 axes carry nothing; neighbours of the same kind merge.
    for (int d = 0; d < x->ndim; d++) {
        if (x->dim[d] == 1) continue;
        if (p->nd > 0 && p->red[p->nd - 1] == red[d]) p->dim[p->nd - 1] *= x->dim[d];
        else { p->dim[p->nd] = x->dim[d]; p->red[p->nd] = red[d]; p->nd++; }
    }
    int groups = 0;
    for (int d = 0; d < p->nd; d++) groups += p->red[d];
    p->general = groups > 1;
    if (!p->general) {
        p->outer = p->r = p->inner = 1;
        int seen = 0;
        for (int d = 0; d < p->nd; d++) {
            if (p->red[d]) { p->r = p->dim[d]; seen = 1; }
            else if (seen) p->inner = p->dim[d];
            else p->outer = p->dim[d];
        }
        return;
    }
    int64_t s = 1;
    for (int d = p->nd - 1; d >= 0; d--) {
        p->ostride[d] = p->red[d] ? 0 : s;
        if (!p->red[d]) s *= p->dim[d];
    }
}

/* General path: the input is walked in order as runs of its innermost folded axis. Moves
 * the odometer over the outer folded axes by one run and returns the new output offset. */
static inline int64_t next_run(const rplan *p, int64_t idx[CNN_MAX_DIMS], int64_t o) {
    for (int d = p->nd - 2; d >= 0; d--) {
        o += p->ostride[d];
        if (++idx[d] < p->dim[d]) break;
        o -= p->ostride[d] * p->dim[d];
        idx[d] = 0;
    }
    return o;
}

/* Sum of a contiguous run in double. Four accumulators break the add-latency chain (a
 * float sum may not be reordered, so the compiler would keep one), and double keeps long
 * runs accurate. */
static inline double row_sum(const float *x, int64_t n) {
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) { s0 += x[j]; s1 += x[j + 1]; s2 += x[j + 2]; s3 += x[j + 3]; }
    for (; j < n; j++) s0 += x[j];
    return (s0 + s1) + (s2 + s3);
}

/* NaN wins, as in numpy and torch: once m is NaN, v > m never replaces it. */
static inline float max_nan(float m, float v) { return (v > m || v != v) ? v : m; }
/* An entry x that produced the maximum y (NaN counts as matching NaN). */
static inline int is_arg(float xv, float yv) { return xv == yv || (xv != xv && yv != yv); }

/* ---- forward ----------------------------------------------------------------------- */

static void sum_kernel(const rplan *p, const float *x, float *y) {
    if (!p->general) {
        for (int64_t o = 0; o < p->outer; o++) {
            const float *xo = x + o * p->r * p->inner;
            float *yo = y + o * p->inner;
            if (p->inner == 1) yo[0] = (float)row_sum(xo, p->r);
            else {
                // Leading/middle axes: add whole rows so the inner loop vectorises.
                memcpy(yo, xo, sizeof(float) * (size_t)p->inner);
                for (int64_t j = 1; j < p->r; j++) {
                    const float *xr = xo + j * p->inner;
                    for (int64_t k = 0; k < p->inner; k++) yo[k] += xr[k];
                }
            }
        }
        return;
    }
    memset(y, 0, sizeof(float) * (size_t)p->out_n);
    int64_t run = p->dim[p->nd - 1], idx[CNN_MAX_DIMS] = {0}, o = 0;
    int run_red = p->red[p->nd - 1];
    for (int64_t b = 0; b < p->in_n; b += run) {
        const float *xr = x + b;
        if (run_red) y[o] += (float)row_sum(xr, run);
        else for (int64_t j = 0; j < run; j++) y[o + j] += xr[j];
        o = next_run(p, idx, o);
    }
}

static void max_kernel(const rplan *p, const float *x, float *y) {
    if (!p->general) {
        for (int64_t o = 0; o < p->outer; o++) {
            const float *xo = x + o * p->r * p->inner;
            float *yo = y + o * p->inner;
            if (p->inner == 1) {
                float m = xo[0];
                for (int64_t j = 1; j < p->r; j++) m = max_nan(m, xo[j]);
                yo[0] = m;
            } else {
                memcpy(yo, xo, sizeof(float) * (size_t)p->inner);
                for (int64_t j = 1; j < p->r; j++) {
                    const float *xr = xo + j * p->inner;
                    for (int64_t k = 0; k < p->inner; k++) yo[k] = max_nan(yo[k], xr[k]);
                }
            }
        }
        return;
    }
    for (int64_t i = 0; i < p->out_n; i++) y[i] = -INFINITY;
    int64_t run = p->dim[p->nd - 1], idx[CNN_MAX_DIMS] = {0}, o = 0;
    int run_red = p->red[p->nd - 1];
    for (int64_t b = 0; b < p->in_n; b += run) {
        const float *xr = x + b;
        if (run_red) {
            float m = y[o];
            for (int64_t j = 0; j < run; j++) m = max_nan(m, xr[j]);
            y[o] = m;
        } else {
            for (int64_t j = 0; j < run; j++) y[o + j] = max_nan(y[o + j], xr[j]);
        }
        o = next_run(p, idx, o);
    }
}

static cnn_status sum_forward(cnn_op_ctx *c) {
    rplan p;
    make_plan("sum", c, &p);
    if (p.in_n == 0) { memset(c->out, 0, sizeof(float) * (size_t)p.out_n); return CNN_OK; }
    sum_kernel(&p, c->in[0], c->out);
    return CNN_OK;
}

static cnn_status mean_forward(cnn_op_ctx *c) {
    rplan p;
    make_plan("mean", c, &p);
    if (p.in_n == 0) {  // the mean of nothing is NaN, as in numpy and torch
        for (int64_t i = 0; i < p.out_n; i++) c->out[i] = NAN;
        return CNN_OK;
    }
    sum_kernel(&p, c->in[0], c->out);
    float count = (float)p.count;
    for (int64_t i = 0; i < p.out_n; i++) c->out[i] /= count;
    return CNN_OK;
}

static cnn_status max_forward(cnn_op_ctx *c) {
    rplan p;
    make_plan("max", c, &p);
    if (p.out_n > 0) max_kernel(&p, c->in[0], c->out);  // infer ruled out empty reductions
    return CNN_OK;
}

/* ---- backward ---------------------------------------------------------------------- */

/* dx += scale * dy broadcast over the reduced axes (sum: scale 1, mean: 1/count). */
static void broadcast_add(const rplan *p, const float *dy, float *dx, float scale) {
    if (!p->general) {
        for (int64_t o = 0; o < p->outer; o++) {
            float *dxo = dx + o * p->r * p->inner;
            const float *dyo = dy + o * p->inner;
            if (p->inner == 1) {
                float g = dyo[0] * scale;
                for (int64_t j = 0; j < p->r; j++) dxo[j] += g;
            } else {
                for (int64_t j = 0; j < p->r; j++) {
                    float *dxr = dxo + j * p->inner;
                    for (int64_t k = 0; k < p->inner; k++) dxr[k] += dyo[k] * scale;
                }
            }
        }
        return;
    }
    int64_t run = p->dim[p->nd - 1], idx[CNN_MAX_DIMS] = {0}, o = 0;
    int run_red = p->red[p->nd - 1];
    for (int64_t b = 0; b < p->in_n; b += run) {
        float *dxr = dx + b;
        if (run_red) {
            float g = dy[o] * scale;
            for (int64_t j = 0; j < run; j++) dxr[j] += g;
        } else {
            for (int64_t j = 0; j < run; j++) dxr[j] += dy[o + j] * scale;
        }
        o = next_run(p, idx, o);
    }
}

static cnn_status sum_backward(cnn_op_ctx *c) {
    rplan p;
    make_plan("sum", c, &p);
    if (c->in_grad[0] && p.in_n > 0) broadcast_add(&p, c->out_grad, c->in_grad[0], 1.0f);
    return CNN_OK;
}

static cnn_status mean_backward(cnn_op_ctx *c) {
    rplan p;
    make_plan("mean", c, &p);
    if (c->in_grad[0] && p.in_n > 0)
        broadcast_add(&p, c->out_grad, c->in_grad[0], 1.0f / (float)p.count);
    return CNN_OK;
}

/* Tie counts per output, for splitting the gradient equally among tied maxima. */
static int64_t max_work_size(const cnn_op_ctx *c) { return cnn_shape_numel(&c->out_shape); }

static cnn_status max_backward(cnn_op_ctx *c) {
    rplan p;
    make_plan("max", c, &p);
    if (!c->in_grad[0] || p.in_n == 0) return CNN_OK;
    const float *x = c->in[0], *y = c->out, *dy = c->out_grad;
    float *dx = c->in_grad[0], *cnt = c->work;
    if (!p.general) {
        for (int64_t o = 0; o < p.outer; o++) {
            const float *xo = x + o * p.r * p.inner, *yo = y + o * p.inner, *dyo = dy + o * p.inner;
            float *dxo = dx + o * p.r * p.inner;
            if (p.inner == 1) {
                int64_t ties = 0;
                for (int64_t j = 0; j < p.r; j++) ties += is_arg(xo[j], yo[0]);
                float g = dyo[0] / (float)ties;
                for (int64_t j = 0; j < p.r; j++) if (is_arg(xo[j], yo[0])) dxo[j] += g;
            } else {
                float *co = cnt + o * p.inner;
                for (int64_t k = 0; k < p.inner; k++) co[k] = 0.0f;
                for (int64_t j = 0; j < p.r; j++)
                    for (int64_t k = 0; k < p.inner; k++) co[k] += is_arg(xo[j * p.inner + k], yo[k]);
                for (int64_t j = 0; j < p.r; j++)
                    for (int64_t k = 0; k < p.inner; k++)
                        if (is_arg(xo[j * p.inner + k], yo[k])) dxo[j * p.inner + k] += dyo[k] / co[k];
            }
        }
        return CNN_OK;
    }
    // Two walks over the input: count the ties of each output, then share its gradient.
    int64_t run = p.dim[p.nd - 1];
    int run_red = p.red[p.nd - 1];
    memset(cnt, 0, sizeof(float) * (size_t)p.out_n);
    for (int pass = 0; pass < 2; pass++) {
        int64_t idx[CNN_MAX_DIMS] = {0}, o = 0;
        for (int64_t b = 0; b < p.in_n; b += run) {
            for (int64_t j = 0; j < run; j++) {
                int64_t oj = run_red ? o : o + j;
                if (!is_arg(x[b + j], y[oj])) continue;
                if (pass == 0) cnt[oj] += 1.0f;
                else dx[b + j] += dy[oj] / cnt[oj];
            }
            o = next_run(&p, idx, o);
        }
    }
    return CNN_OK;
}

const cnn_op_def cnn_ops_reduce[] = {
    {.name = "sum", .min_inputs = 1, .max_inputs = 1, .infer = sum_infer,
     .forward = sum_forward, .backward = sum_backward},
    {.name = "mean", .min_inputs = 1, .max_inputs = 1, .infer = mean_infer,
     .forward = mean_forward, .backward = mean_backward},
    {.name = "max", .min_inputs = 1, .max_inputs = 1, .infer = max_infer,
     .forward = max_forward, .backward = max_backward, .work_size = max_work_size},
    {0},
};
