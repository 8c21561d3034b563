/* ops_activation.c: activation functions, with Keras 3 semantics and PyTorch numerics.
 *
 * Pointwise, x -> same shape:
 *   relu                       gradient 0 at x == 0
 *   leaky_relu   floats[0] = negative_slope (default 0.2, as keras.activations)
 *   elu          floats[0] = alpha (default 1.0)
 *   selu         alpha = 1.6732632423543772, scale = 1.0507009873554805
 *   gelu         ints[0] = approximate: 0 (default) erf form, 1 tanh form
 *                (torch.nn.functional.gelu approximate='none' / 'tanh')
 *   sigmoid, tanh
 *   hard_sigmoid relu6(x + 3) / 6 (Keras 3, torch hardsigmoid); gradient 1/6 on the open
 *                interval (-3, 3), 0 elsewhere
 *   softplus     log1p(exp(-|x|)) + max(x, 0)
 *   softsign     x / (1 + |x|)
 *   silu         x * sigmoid(x)
 * Along an axis, x -> same shape:
 *   softmax, log_softmax   ints[0] = axis (default -1); max-subtracted, sums in float.
 *   work: 2 * inner floats when the axis is not the last (running max and sum per column).
 * Backward uses the forward output c->out where that is what torch does (relu, sigmoid,
 * tanh, softmax, log_softmax), and the input elsewhere.
 */
#include <math.h>

#include "fastmath.h"
#include "ops.h"
#include "parallel.h"

#if defined(__GNUC__)
#define INLINE static inline __attribute__((always_inline))
#else
#define INLINE static inline
#endif

#define SELU_ALPHA 1.6732632423543772f
#define SELU_SCALE 1.0507009873554805f
#define SQRT1_2 0.70710678118654752440f     /* 1/sqrt(2) */
#define INV_SQRT_2PI 0.39894228040143267794f /* 1/sqrt(2 pi): the normal pdf's constant */
#define SQRT_2_OVER_PI 0.79788456080286535588f
#define GELU_KAPPA 0.044715f

/* ---- pointwise ------------------------------------------------------------------- */

enum {
    A_RELU, A_LEAKY_RELU, A_ELU, A_SELU, A_GELU, A_GELU_TANH, A_SIGMOID, A_HARD_SIGMOID,
    A_TANH, A_SOFTPLUS, A_SOFTSIGN, A_SILU
};

/* y = f(x); p is the op's float parameter (slope, alpha) where it has one. */
INLINE float act_f(int op, float x, float p) {
    switch (op) {
    case A_RELU:       return x < 0.0f ? 0.0f : x;  // NaN passes through, as torch
    case A_LEAKY_RELU: return x > 0.0f ? x : x * p;
    case A_ELU:        return x > 0.0f ? x : p * expm1f(x);
    case A_SELU:       return x > 0.0f ? SELU_SCALE * x : (SELU_ALPHA * SELU_SCALE) * expm1f(x);
    case A_GELU:       return 0.5f * x * (1.0f + erff(x * SQRT1_2));
    case A_GELU_TANH: {
        float inner = SQRT_2_OVER_PI * (x + GELU_KAPPA * (x * x * x));
        return 0.5f * x * (1.0f + cnn_fast_tanh(inner));
    }
    case A_SIGMOID:    return cnn_fast_sigmoid(x);
    case A_HARD_SIGMOID: {
        float t = x + 3.0f;
        t = t < 0.0f ? 0.0f : (t > 6.0f ? 6.0f : t);
        return t / 6.0f;
    }
    case A_TANH:       return cnn_fast_tanh(x);
    // log(1 + e^x) = max(x, 0) + log(1 + e^-|x|): exp never overflows
    case A_SOFTPLUS:   return log1pf(expf(-fabsf(x))) + (x > 0.0f ? x : 0.0f);
    case A_SOFTSIGN:   return x / (1.0f + fabsf(x));
    default:           return x * cnn_fast_sigmoid(x);  // silu
    }
}

/* dx for one element, g = dL/dy, y = f(x). */
INLINE float act_g(int op, float g, float x, float y, float p) {
    switch (op) {
    case A_RELU:       return y > 0.0f ? g : 0.0f;
    case A_LEAKY_RELU: return x > 0.0f ? g : g * p;
    case A_ELU:        return x > 0.0f ? g : g * p * expf(x);
    case A_SELU:       return x > 0.0f ? g * SELU_SCALE : g * (SELU_ALPHA * SELU_SCALE) * expf(x);
    case A_GELU: {     // Phi(x) + x phi(x)
        float cdf = 0.5f * (1.0f + erff(x * SQRT1_2));
        float pdf = INV_SQRT_2PI * expf(-0.5f * x * x);
        return g * (cdf + x * pdf);
    }
    case A_GELU_TANH: {  // product rule on 0.5 x (1 + tanh(u(x)))
        float x2 = x * x;
        float t = cnn_fast_tanh(SQRT_2_OVER_PI * (x + GELU_KAPPA * (x2 * x)));
        float du = SQRT_2_OVER_PI * (1.0f + 3.0f * GELU_KAPPA * x2);
        return g * (0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du);
    }
    case A_SIGMOID:    return g * (1.0f - y) * y;
    case A_HARD_SIGMOID: return (x > -3.0f && x < 3.0f) ? g * (1.0f / 6.0f) : 0.0f;
    case A_TANH:       return g * (1.0f - y * y);
    case A_SOFTPLUS: { // sigmoid(x), from e^-|x| so it cannot overflow
        float e = expf(-fabsf(x));
        return g * (x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e));
    }
    case A_SOFTSIGN: {
        float d = 1.0f + fabsf(x);
        return g / (d * d);
    }
    default: {         // silu: s + x s (1 - s)
        float s = cnn_fast_sigmoid(x);
        return g * s * (1.0f + x * (1.0f - s));
    }
    }
}

INLINE void act_forward_op(int op, const float *x, float *y, int64_t n, float p) {
    for (int64_t i = 0; i < n; i++) y[i] = act_f(op, x[i], p);
}

INLINE void act_backward_op(int op, const float *x, const float *y, const float *g, float *dx, int64_t n,
                            float p) {
    for (int64_t i = 0; i < n; i++) dx[i] += act_g(op, g[i], x[i], y[i], p);
}

/* gelu picks its form at run time; every other op is fixed. */
static int act_resolve(const cnn_op_ctx *c, int op) {
    if (op == A_GELU && c->attrs->n_int > 0 && c->attrs->i[0] == 1) return A_GELU_TANH;
    return op;
}

static float act_param(const cnn_op_ctx *c, int op) {
    if (op == A_LEAKY_RELU) return c->attrs->n_float > 0 ? (float)c->attrs->f[0] : 0.2f;
    if (op == A_ELU) return c->attrs->n_float > 0 ? (float)c->attrs->f[0] : 1.0f;
    return 0.0f;
}

/* Calls F(OP, ...) with OP a compile-time constant, so each op gets its own loop. */
#define ACT_SWITCH(op, F, ...)                                                 \
    switch (op) {                                                              \
    case A_RELU:         F(A_RELU, __VA_ARGS__); break;                        \
    case A_LEAKY_RELU:   F(A_LEAKY_RELU, __VA_ARGS__); break;                  \
    case A_ELU:          F(A_ELU, __VA_ARGS__); break;                         \
    case A_SELU:         F(A_SELU, __VA_ARGS__); break;                        \
    case A_GELU:         F(A_GELU, __VA_ARGS__); break;                        \
    case A_GELU_TANH:    F(A_GELU_TANH, __VA_ARGS__); break;                   \
    case A_SIGMOID:      F(A_SIGMOID, __VA_ARGS__); break;                     \
    case A_HARD_SIGMOID: F(A_HARD_SIGMOID, __VA_ARGS__); break;                \
    case A_TANH:         F(A_TANH, __VA_ARGS__); break;                        \
    case A_SOFTPLUS:     F(A_SOFTPLUS, __VA_ARGS__); break;                    \
    case A_SOFTSIGN:     F(A_SOFTSIGN, __VA_ARGS__); break;                    \
    default:             F(A_SILU, __VA_ARGS__); break;                        \
    }

/* Elements [b, e) of an activation's forward or backward pass, on the engine's threads. */
typedef struct {
    const cnn_op_ctx *c;
    int op;
    float p;
} act_job;

CNN_HOT static void act_forward_range(void *arg, int64_t b, int64_t e, int part) {
    (void)part;
    const act_job *j = arg;
    ACT_SWITCH(j->op, act_forward_op, j->c->in[0] + b, j->c->out + b, e - b, j->p)
}

CNN_HOT static void act_backward_range(void *arg, int64_t b, int64_t e, int part) {
    (void)part;
    const act_job *j = arg;
    const cnn_op_ctx *c = j->c;
    ACT_SWITCH(j->op, act_backward_op, c->in[0] + b, c->out + b, c->out_grad + b,
               c->in_grad[0] + b, e - b, j->p)
}

static cnn_status act_forward(cnn_op_ctx *c, int op) {
    act_job j = {c, act_resolve(c, op), act_param(c, op)};
    cnn_parallel_for(cnn_shape_numel(&c->out_shape), CNN_ELEMENTWISE_GRAIN, act_forward_range, &j);
    return CNN_OK;
}

static cnn_status act_backward(cnn_op_ctx *c, int op) {
    if (!c->in_grad[0]) return CNN_OK;
    act_job j = {c, act_resolve(c, op), act_param(c, op)};
    cnn_parallel_for(cnn_shape_numel(&c->out_shape), CNN_ELEMENTWISE_GRAIN, act_backward_range, &j);
    return CNN_OK;
}

static cnn_status act_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n; (void)a;
    *out = *in[0];
    return CNN_OK;
}

static cnn_status gelu_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    if (a->n_int > 0 && a->i[0] != 0 && a->i[0] != 1)
        return cnn_fail(CNN_ERR_VALUE, "gelu: approximate must be 0 (erf) or 1 (tanh), got %lld",
                        (long long)a->i[0]);
    return act_infer(n, in, a, out);
}

#define ACT_OP(NAME, OP)                                                                     \
    static cnn_status NAME##_forward(cnn_op_ctx *c) { return act_forward(c, OP); }           \
    static cnn_status NAME##_backward(cnn_op_ctx *c) { return act_backward(c, OP); }

ACT_OP(relu, A_RELU)
ACT_OP(leaky_relu, A_LEAKY_RELU)
ACT_OP(elu, A_ELU)
ACT_OP(selu, A_SELU)
ACT_OP(gelu, A_GELU)
ACT_OP(sigmoid, A_SIGMOID)
ACT_OP(hard_sigmoid, A_HARD_SIGMOID)
ACT_OP(tanh, A_TANH)
ACT_OP(softplus, A_SOFTPLUS)
ACT_OP(softsign, A_SOFTSIGN)
ACT_OP(silu, A_SILU)
#undef ACT_OP

/* ---- softmax, log_softmax -------------------------------------------------------- */

/* x viewed as (outer, n, inner) around the axis. */
typedef struct { int64_t outer, n, inner; } axis_view;

static int64_t attr_axis(const cnn_attrs *a) { return a->n_int > 0 ? a->i[0] : -1; }

static cnn_status softmax_infer_named(const char *op, const cnn_shape *x, const cnn_attrs *a, cnn_shape *out) {
    int ax;
    cnn_status st = cnn_norm_axis(op, attr_axis(a), x->ndim, &ax);
    if (st) return st;
    *out = *x;
    return CNN_OK;
}

static cnn_status softmax_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n;
    return softmax_infer_named("softmax", in[0], a, out);
}

static cnn_status log_softmax_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n;
    return softmax_infer_named("log_softmax", in[0], a, out);
}

static axis_view view_of(const cnn_op_ctx *c) {
    const cnn_shape *s = c->in_shape[0];
    int ax;
    cnn_norm_axis("softmax", attr_axis(c->attrs), s->ndim, &ax);  // validated by infer
    axis_view v = {1, s->dim[ax], 1};
    for (int i = 0; i < ax; i++) v.outer *= s->dim[i];
    for (int i = ax + 1; i < s->ndim; i++) v.inner *= s->dim[i];
    return v;
}

static int64_t softmax_work_size(const cnn_op_ctx *c) {
    axis_view v = view_of(c);
    return v.inner > 1 ? 2 * v.inner : 0;
}

/* One contiguous row of n (the axis is the last one, or all after it are size 1).
 * softmax: y = e^(x - max) / sum; log_softmax: y = (x - max) - log(sum). */
CNN_HOT static void softmax_row(const float *x, float *y, int64_t n, int log_form) {
    float m = x[0];
    for (int64_t k = 1; k < n; k++) m = x[k] > m ? x[k] : m;
    float s = 0.0f;
    if (log_form) {
        for (int64_t k = 0; k < n; k++) y[k] = cnn_fast_exp(x[k] - m);
        for (int64_t k = 0; k < n; k++) s += y[k];
        float ls = logf(s);
        for (int64_t k = 0; k < n; k++) y[k] = (x[k] - m) - ls;
    } else {
        for (int64_t k = 0; k < n; k++) y[k] = cnn_fast_exp(x[k] - m);
        for (int64_t k = 0; k < n; k++) s += y[k];
        float inv = 1.0f / s;
        for (int64_t k = 0; k < n; k++) y[k] *= inv;
    }
}

/* A block (n, inner) with the axis strided by inner: the same three passes, each one
 * running along contiguous rows of `inner` with a per-column max and sum in work. */
CNN_HOT static void softmax_block(const float *x, float *y, int64_t n, int64_t inner, float *m, float *s,
                          int log_form) {
    for (int64_t j = 0; j < inner; j++) { m[j] = x[j]; s[j] = 0.0f; }
    for (int64_t k = 1; k < n; k++) {
        const float *xk = x + k * inner;
        for (int64_t j = 0; j < inner; j++) m[j] = xk[j] > m[j] ? xk[j] : m[j];
    }
    for (int64_t k = 0; k < n; k++) {
        const float *xk = x + k * inner;
        float *yk = y + k * inner;
        for (int64_t j = 0; j < inner; j++) {
            float e = cnn_fast_exp(xk[j] - m[j]);
            s[j] += e;
            yk[j] = log_form ? xk[j] - m[j] : e;
        }
    }
    if (log_form) for (int64_t j = 0; j < inner; j++) s[j] = logf(s[j]);
    else for (int64_t j = 0; j < inner; j++) s[j] = 1.0f / s[j];
    for (int64_t k = 0; k < n; k++) {
        float *yk = y + k * inner;
        if (log_form) for (int64_t j = 0; j < inner; j++) yk[j] -= s[j];
        else for (int64_t j = 0; j < inner; j++) yk[j] *= s[j];
    }
}

static cnn_status softmax_forward_any(cnn_op_ctx *c, int log_form) {
    axis_view v = view_of(c);
    if (v.outer * v.n * v.inner == 0) return CNN_OK;
    for (int64_t o = 0; o < v.outer; o++) {
        const float *x = c->in[0] + o * v.n * v.inner;
        float *y = c->out + o * v.n * v.inner;
        if (v.inner == 1) softmax_row(x, y, v.n, log_form);
        else softmax_block(x, y, v.n, v.inner, c->work, c->work + v.inner, log_form);
    }
    return CNN_OK;
}

/* softmax:     dx = y * (g - sum_k g y)
 * log_softmax: dx = g - e^y * sum_k g
 * with the sums along the axis; one block (n, inner) at a time, sums in s[inner]. */
static void softmax_grad_block(const float *y, const float *g, float *dx, int64_t n, int64_t inner, float *s,
                               int log_form) {
    for (int64_t j = 0; j < inner; j++) s[j] = 0.0f;
    for (int64_t k = 0; k < n; k++) {
        const float *yk = y + k * inner, *gk = g + k * inner;
        if (log_form) for (int64_t j = 0; j < inner; j++) s[j] += gk[j];
        else for (int64_t j = 0; j < inner; j++) s[j] += gk[j] * yk[j];
    }
    for (int64_t k = 0; k < n; k++) {
        const float *yk = y + k * inner, *gk = g + k * inner;
        float *dk = dx + k * inner;
        if (log_form) for (int64_t j = 0; j < inner; j++) dk[j] += gk[j] - cnn_fast_exp(yk[j]) * s[j];
        else for (int64_t j = 0; j < inner; j++) dk[j] += yk[j] * (gk[j] - s[j]);
    }
}

static cnn_status softmax_backward_any(cnn_op_ctx *c, int log_form) {
    if (!c->in_grad[0]) return CNN_OK;
    axis_view v = view_of(c);
    if (v.outer * v.n * v.inner == 0) return CNN_OK;
    float row_sum;  // the inner == 1 case needs one float, not work
    for (int64_t o = 0; o < v.outer; o++) {
        int64_t off = o * v.n * v.inner;
        softmax_grad_block(c->out + off, c->out_grad + off, c->in_grad[0] + off, v.n, v.inner,
                           v.inner == 1 ? &row_sum : c->work, log_form);
    }
    return CNN_OK;
}

static cnn_status softmax_forward(cnn_op_ctx *c) { return softmax_forward_any(c, 0); }
static cnn_status softmax_backward(cnn_op_ctx *c) { return softmax_backward_any(c, 0); }
static cnn_status log_softmax_forward(cnn_op_ctx *c) { return softmax_forward_any(c, 1); }
static cnn_status log_softmax_backward(cnn_op_ctx *c) { return softmax_backward_any(c, 1); }

/* ---- table ----------------------------------------------------------------------- */

#define ACT_DEF(NAME, INFER)                                                                 \
    {.name = #NAME, .min_inputs = 1, .max_inputs = 1, .infer = INFER,                        \
     .forward = NAME##_forward, .backward = NAME##_backward}

const cnn_op_def cnn_ops_activation[] = {
    ACT_DEF(relu, act_infer),
    ACT_DEF(leaky_relu, act_infer),
    ACT_DEF(elu, act_infer),
    ACT_DEF(selu, act_infer),
    ACT_DEF(gelu, gelu_infer),
    ACT_DEF(sigmoid, act_infer),
    ACT_DEF(hard_sigmoid, act_infer),
    ACT_DEF(tanh, act_infer),
    ACT_DEF(softplus, act_infer),
    ACT_DEF(softsign, act_infer),
    ACT_DEF(silu, act_infer),
    {.name = "softmax", .min_inputs = 1, .max_inputs = 1, .infer = softmax_infer,
     .forward = softmax_forward, .backward = softmax_backward, .work_size = softmax_work_size},
    {.name = "log_softmax", .min_inputs = 1, .max_inputs = 1, .infer = log_softmax_infer,
     .forward = log_softmax_forward, .backward = log_softmax_backward,
     .work_size = softmax_work_size},
    {0},
};
