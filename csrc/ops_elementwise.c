/* ops_elementwise.c: binary ops with NumPy broadcasting, and simple unary math.
 *
 * Binary, (a, b) of any ranks <= 8 that broadcast -> the broadcast shape:
 *   add, sub, mul, div, maximum, minimum
 *   Backward sums the gradient over the axes each input was broadcast along.
 *   maximum/minimum propagate NaN and split the gradient 0.5/0.5 on ties, as
 *   torch.maximum/minimum do.
 * Unary, x -> same shape:
 *   neg, exp, log, sqrt, square, abs (abs'(0) = 0, as torch)
 *   clip: floats[0] = lo, floats[1] = hi; min(max(x, lo), hi). Gradient 1 where
 *     lo <= x <= hi (inclusive, as torch.clamp), else 0.
 * No aux, no work. Backward formulas follow torch's derivatives (e.g. div's
 * d/db = -g * ((a / b) / b), reusing the forward output), so parity holds to rounding.
 */
#include <math.h>

#include "ops.h"

#if defined(__GNUC__)
#define INLINE static inline __attribute__((always_inline))
#else
#define INLINE static inline
#endif

/* The per-element kernels below take the op as an argument and are force-inlined into
 * a switch over compile-time constants, so each op gets its own branch-free loop that
 * the compiler can vectorise, without writing every loop six times. */

/* ---- broadcasting ---------------------------------------------------------------- */

/* A broadcast binary op seen as rows: the output's dims, size-1 dims dropped, and
 * neighbours merged wherever both inputs stay contiguous across them. The last dim is
 * the row the kernels loop over; the others are walked by an odometer. This gives the
 * fast paths for free:
 *   equal shapes          (N,)    sa = 1, sb = 1  one plain loop
 *   scalar vs anything    (N,)    sa = 1, sb = 0
 *   (R, C) + (C,)         (R, C)  rows with sa = 1, sb = 1
 * and every other broadcast is the general strided row. */
typedef struct {
    int nd;                                     /* >= 1 */
    int64_t dim[CNN_MAX_DIMS];
    int64_t sa[CNN_MAX_DIMS], sb[CNN_MAX_DIMS]; /* in floats; 0 where broadcast */
} bcast_plan;

typedef struct {
    int64_t idx[CNN_MAX_DIMS];
    int64_t oa, ob; /* offsets of the current row in a and b */
} bcast_iter;

static void plan_broadcast(const cnn_shape *a, const cnn_shape *b, const cnn_shape *out, bcast_plan *p) {
    int64_t sa[CNN_MAX_DIMS], sb[CNN_MAX_DIMS];
    cnn_broadcast_strides(a, out, sa);
    cnn_broadcast_strides(b, out, sb);
    p->nd = 0;
    for (int i = 0; i < out->ndim; i++) {
        int64_t d = out->dim[i];
        if (d == 1) continue;  // moves no offset
        int k = p->nd - 1;
        if (k >= 0 && p->sa[k] == sa[i] * d && p->sb[k] == sb[i] * d) {
            // dim k steps over dim i exactly in both inputs: fold i into k
            p->dim[k] *= d;
            p->sa[k] = sa[i];
            p->sb[k] = sb[i];
        } else {
            p->dim[p->nd] = d;
            p->sa[p->nd] = sa[i];
            p->sb[p->nd] = sb[i];
            p->nd++;
        }
    }
    if (p->nd == 0) {  // every dim is 1: a single element
        p->nd = 1;
        p->dim[0] = 1;
        p->sa[0] = p->sb[0] = 0;
    }
}

/* Advances to the next row: the odometer over all dims but the last. */
static void iter_next(const bcast_plan *p, bcast_iter *it) {
    for (int d = p->nd - 2; d >= 0; d--) {
        it->oa += p->sa[d];
        it->ob += p->sb[d];
        if (++it->idx[d] < p->dim[d]) return;
        it->oa -= p->sa[d] * p->dim[d];
        it->ob -= p->sb[d] * p->dim[d];
        it->idx[d] = 0;
    }
}

/* ---- binary ops ------------------------------------------------------------------ */

enum { B_ADD, B_SUB, B_MUL, B_DIV, B_MAX, B_MIN };

INLINE float binary_f(int op, float a, float b) {
    switch (op) {
    case B_ADD: return a + b;
    case B_SUB: return a - b;
    case B_MUL: return a * b;
    case B_DIV: return a / b;
    case B_MAX: return (a > b || a != a) ? a : b;  // a NaN on either side wins
    default:    return (a < b || a != a) ? a : b;
    }
}

/* Contribution of one output element's gradient g to da (wrt == 0) or db (wrt == 1);
 * y = binary_f(a, b). Ties of maximum/minimum give each side g / 2. */
INLINE float binary_g(int op, int wrt, float g, float a, float b, float y) {
    switch (op) {
    case B_ADD: return g;
    case B_SUB: return wrt ? -g : g;
    case B_MUL: return wrt ? g * a : g * b;
    case B_DIV: return wrt ? -g * (y / b) : g / b;
    case B_MAX:
        if (a == b) return 0.5f * g;
        return (wrt ? a > b : a < b) ? 0.0f : g;
    default:
        if (a == b) return 0.5f * g;
        return (wrt ? a < b : a > b) ? 0.0f : g;
    }
}

/* y[i] = a[i*sa] op b[i*sb] for one row of n. */
INLINE void binary_row_op(int op, const float *a, int64_t sa, const float *b, int64_t sb, float *y, int64_t n) {
    if (sa == 1 && sb == 1) {
        for (int64_t i = 0; i < n; i++) y[i] = binary_f(op, a[i], b[i]);
    } else if (sa == 1 && sb == 0) {
        float bv = b[0];
        for (int64_t i = 0; i < n; i++) y[i] = binary_f(op, a[i], bv);
    } else if (sa == 0 && sb == 1) {
        float av = a[0];
        for (int64_t i = 0; i < n; i++) y[i] = binary_f(op, av, b[i]);
    } else {
        for (int64_t i = 0; i < n; i++) y[i] = binary_f(op, a[i * sa], b[i * sb]);
    }
}

/* dst[i*sd] += d(op)/d(input wrt) * g[i] for one row; sd is that input's stride
 * (sa or sb). A broadcast input (sd == 0) sums the row first. */
INLINE void binary_grad_row_op(int op, int wrt, const float *a, int64_t sa, const float *b, int64_t sb,
                               const float *y, const float *g, float *dst, int64_t sd, int64_t n) {
    if (sd == 0) {
        float s = 0.0f;
        for (int64_t i = 0; i < n; i++) s += binary_g(op, wrt, g[i], a[i * sa], b[i * sb], y[i]);
        dst[0] += s;
    } else if (sa == 1 && sb == 1) {
        for (int64_t i = 0; i < n; i++) dst[i] += binary_g(op, wrt, g[i], a[i], b[i], y[i]);
    } else {
        for (int64_t i = 0; i < n; i++) dst[i * sd] += binary_g(op, wrt, g[i], a[i * sa], b[i * sb], y[i]);
    }
}

INLINE void binary_row(int op, const float *a, int64_t sa, const float *b, int64_t sb, float *y, int64_t n) {
    switch (op) {
    case B_ADD: binary_row_op(B_ADD, a, sa, b, sb, y, n); break;
    case B_SUB: binary_row_op(B_SUB, a, sa, b, sb, y, n); break;
    case B_MUL: binary_row_op(B_MUL, a, sa, b, sb, y, n); break;
    case B_DIV: binary_row_op(B_DIV, a, sa, b, sb, y, n); break;
    case B_MAX: binary_row_op(B_MAX, a, sa, b, sb, y, n); break;
    default:    binary_row_op(B_MIN, a, sa, b, sb, y, n); break;
    }
}

#define GRAD_ROW(OP) \
    (wrt ? binary_grad_row_op(OP, 1, a, sa, b, sb, y, g, dst, sd, n) \
         : binary_grad_row_op(OP, 0, a, sa, b, sb, y, g, dst, sd, n))

INLINE void binary_grad_row(int op, int wrt, const float *a, int64_t sa, const float *b, int64_t sb,
                            const float *y, const float *g, float *dst, int64_t sd, int64_t n) {
    switch (op) {
    case B_ADD: GRAD_ROW(B_ADD); break;
    case B_SUB: GRAD_ROW(B_SUB); break;
    case B_MUL: GRAD_ROW(B_MUL); break;
    case B_DIV: GRAD_ROW(B_DIV); break;
    case B_MAX: GRAD_ROW(B_MAX); break;
    default:    GRAD_ROW(B_MIN); break;
    }
}
#undef GRAD_ROW

CNN_HOT static cnn_status binary_forward(cnn_op_ctx *c, int op) {
    int64_t total = cnn_shape_numel(&c->out_shape);
    if (total <= 0) return CNN_OK;
    bcast_plan p;
    plan_broadcast(c->in_shape[0], c->in_shape[1], &c->out_shape, &p);
    int last = p.nd - 1;
    int64_t n = p.dim[last], rows = total / n;
    bcast_iter it = {0};
    for (int64_t r = 0; r < rows; r++) {
        binary_row(op, c->in[0] + it.oa, p.sa[last], c->in[1] + it.ob, p.sb[last], c->out + r * n, n);
        iter_next(&p, &it);
    }
    return CNN_OK;
}

CNN_HOT static cnn_status binary_backward(cnn_op_ctx *c, int op) {
    int64_t total = cnn_shape_numel(&c->out_shape);
    if (total <= 0) return CNN_OK;
    bcast_plan p;
    plan_broadcast(c->in_shape[0], c->in_shape[1], &c->out_shape, &p);
    int last = p.nd - 1;
    int64_t n = p.dim[last], rows = total / n;
    for (int wrt = 0; wrt < 2; wrt++) {
        if (!c->in_grad[wrt]) continue;
        // The input's gradient has the input's layout, so it walks with its strides.
        int64_t sd = wrt ? p.sb[last] : p.sa[last];
        bcast_iter it = {0};
        for (int64_t r = 0; r < rows; r++) {
            binary_grad_row(op, wrt, c->in[0] + it.oa, p.sa[last], c->in[1] + it.ob, p.sb[last],
                            c->out + r * n, c->out_grad + r * n,
                            c->in_grad[wrt] + (wrt ? it.ob : it.oa), sd, n);
            iter_next(&p, &it);
        }
    }
    return CNN_OK;
}

/* infer/forward/backward of one binary op; infer names the op in its errors. */
#define BINARY_OP(NAME, OP)                                                                   \
    static cnn_status NAME##_infer(int n, const cnn_shape *const *in, const cnn_attrs *a,    \
                                   cnn_shape *out) {                                          \
        (void)n; (void)a;                                                                     \
        return cnn_broadcast_shapes(#NAME, in[0], in[1], out);                               \
    }                                                                                         \
    static cnn_status NAME##_forward(cnn_op_ctx *c) { return binary_forward(c, OP); }         \
    static cnn_status NAME##_backward(cnn_op_ctx *c) { return binary_backward(c, OP); }

BINARY_OP(add, B_ADD)
BINARY_OP(sub, B_SUB)
BINARY_OP(mul, B_MUL)
BINARY_OP(div, B_DIV)
BINARY_OP(maximum, B_MAX)
BINARY_OP(minimum, B_MIN)
#undef BINARY_OP

/* ---- unary ops ------------------------------------------------------------------- */

enum { U_NEG, U_EXP, U_LOG, U_SQRT, U_SQUARE, U_ABS, U_CLIP };

INLINE float unary_f(int op, float x, float lo, float hi) {
    switch (op) {
    case U_NEG:    return -x;
    case U_EXP:    return expf(x);
    case U_LOG:    return logf(x);
    case U_SQRT:   return sqrtf(x);
    case U_SQUARE: return x * x;
    case U_ABS:    return fabsf(x);
    default: {     // clip: written with compares so NaN passes through, as torch.clamp
        float t = x < lo ? lo : x;
        return t > hi ? hi : t;
    }
    }
}

/* dx for one element: g is dL/dy, y the forward output. */
INLINE float unary_g(int op, float g, float x, float y, float lo, float hi) {
    switch (op) {
    case U_NEG:    return -g;
    case U_EXP:    return g * y;
    case U_LOG:    return g / x;
    case U_SQRT:   return g / (2.0f * y);
    case U_SQUARE: return g * (2.0f * x);
    case U_ABS:    return x > 0.0f ? g : (x < 0.0f ? -g : 0.0f);
    default:       return (x >= lo && x <= hi) ? g : 0.0f;
    }
}

INLINE void unary_forward_op(int op, const float *x, float *y, int64_t n, float lo, float hi) {
    for (int64_t i = 0; i < n; i++) y[i] = unary_f(op, x[i], lo, hi);
}

INLINE void unary_backward_op(int op, const float *x, const float *y, const float *g, float *dx, int64_t n,
                              float lo, float hi) {
    for (int64_t i = 0; i < n; i++) dx[i] += unary_g(op, g[i], x[i], y[i], lo, hi);
}

/* clip's bounds; the other unary ops ignore them. */
static void clip_bounds(const cnn_op_ctx *c, int op, float *lo, float *hi) {
    *lo = op == U_CLIP ? (float)c->attrs->f[0] : 0.0f;
    *hi = op == U_CLIP ? (float)c->attrs->f[1] : 0.0f;
}

static cnn_status unary_forward(cnn_op_ctx *c, int op) {
    int64_t n = cnn_shape_numel(&c->out_shape);
    const float *x = c->in[0];
    float *y = c->out, lo, hi;
    clip_bounds(c, op, &lo, &hi);
    switch (op) {
    case U_NEG:    unary_forward_op(U_NEG, x, y, n, lo, hi); break;
    case U_EXP:    unary_forward_op(U_EXP, x, y, n, lo, hi); break;
    case U_LOG:    unary_forward_op(U_LOG, x, y, n, lo, hi); break;
    case U_SQRT:   unary_forward_op(U_SQRT, x, y, n, lo, hi); break;
    case U_SQUARE: unary_forward_op(U_SQUARE, x, y, n, lo, hi); break;
    case U_ABS:    unary_forward_op(U_ABS, x, y, n, lo, hi); break;
    default:       unary_forward_op(U_CLIP, x, y, n, lo, hi); break;
    }
    return CNN_OK;
}

static cnn_status unary_backward(cnn_op_ctx *c, int op) {
    if (!c->in_grad[0]) return CNN_OK;
    int64_t n = cnn_shape_numel(&c->out_shape);
    const float *x = c->in[0], *y = c->out, *g = c->out_grad;
    float *dx = c->in_grad[0], lo, hi;
    clip_bounds(c, op, &lo, &hi);
    switch (op) {
    case U_NEG:    unary_backward_op(U_NEG, x, y, g, dx, n, lo, hi); break;
    case U_EXP:    unary_backward_op(U_EXP, x, y, g, dx, n, lo, hi); break;
    case U_LOG:    unary_backward_op(U_LOG, x, y, g, dx, n, lo, hi); break;
    case U_SQRT:   unary_backward_op(U_SQRT, x, y, g, dx, n, lo, hi); break;
    case U_SQUARE: unary_backward_op(U_SQUARE, x, y, g, dx, n, lo, hi); break;
    case U_ABS:    unary_backward_op(U_ABS, x, y, g, dx, n, lo, hi); break;
    default:       unary_backward_op(U_CLIP, x, y, g, dx, n, lo, hi); break;
    }
    return CNN_OK;
}

static cnn_status same_shape_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n; (void)a;
    *out = *in[0];
    return CNN_OK;
}

static cnn_status clip_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    if (a->n_float != 2)
        return cnn_fail(CNN_ERR_VALUE, "clip: expected 2 float attributes (lo, hi), got %d", a->n_float);
    return same_shape_infer(n, in, a, out);
}

#define UNARY_OP(NAME, OP)                                                                   \
    static cnn_status NAME##_forward(cnn_op_ctx *c) { return unary_forward(c, OP); }         \
    static cnn_status NAME##_backward(cnn_op_ctx *c) { return unary_backward(c, OP); }

UNARY_OP(neg, U_NEG)
UNARY_OP(exp, U_EXP)
UNARY_OP(log, U_LOG)
UNARY_OP(sqrt, U_SQRT)
UNARY_OP(square, U_SQUARE)
UNARY_OP(abs, U_ABS)
UNARY_OP(clip, U_CLIP)
#undef UNARY_OP

/* ---- table ----------------------------------------------------------------------- */

#define BINARY_DEF(NAME)                                                                      \
    {.name = #NAME, .min_inputs = 2, .max_inputs = 2, .infer = NAME##_infer,                  \
     .forward = NAME##_forward, .backward = NAME##_backward}
#define UNARY_DEF(NAME, INFER)                                                                \
    {.name = #NAME, .min_inputs = 1, .max_inputs = 1, .infer = INFER,                         \
     .forward = NAME##_forward, .backward = NAME##_backward}

const cnn_op_def cnn_ops_elementwise[] = {
    BINARY_DEF(add),
    BINARY_DEF(sub),
    BINARY_DEF(mul),
    BINARY_DEF(div),
    BINARY_DEF(maximum),
    BINARY_DEF(minimum),
    UNARY_DEF(neg, same_shape_infer),
    UNARY_DEF(exp, same_shape_infer),
    UNARY_DEF(log, same_shape_infer),
    UNARY_DEF(sqrt, same_shape_infer),
    UNARY_DEF(square, same_shape_infer),
    UNARY_DEF(abs, same_shape_infer),
    UNARY_DEF(clip, clip_infer),
    {0},
};
