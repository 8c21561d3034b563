/* ops_loss.c: per-sample losses, formulas as Keras 3 (torch backend).
 *
 * Every op takes (y_true, y_pred) and returns the loss per sample, shape
 * y_pred.shape[:-1]: the reduction over the last axis happens here, the batch reduction
 * (sum_over_batch_size) and sample weights on the Python side. y_true never gets a
 * gradient (no_grad_inputs = 1).
 *
 * mse(t, p)                    mean((t - p)^2, -1)
 * mae(t, p)                    mean(|t - p|, -1); d|e|/de = sign(e), sign(0) = 0
 * huber(t, p; f[0]=delta=1)    mean(|e| <= delta ? e^2/2 : delta*|e| - delta^2/2, -1), e = p - t
 * binary_crossentropy(t, p; i[0]=from_logits)
 *     probabilities: o = clip(p, eps, 1-eps), mean(-(t*log(o) + (1-t)*log(1-o)), -1);
 *                    no gradient where the clip is active (torch.clamp)
 *     logits:        mean((1-t)*x - min(x,0) + log1p(exp(-|x|)), -1)  (= -t*log s - (1-t)*log(1-s))
 * categorical_crossentropy(t, p; i[0]=from_logits)
 *     probabilities: o = clip(p / sum(p, -1), eps, 1-eps), -sum(t*log(o), -1)   aux: sum(p) per row
 *     logits:        -sum(t*log_softmax(x), -1)                                 aux: softmax(x)
 * sparse_categorical_crossentropy(y, p; i[0]=from_logits): y holds integer class indices as
 *     floats, shape p.shape[:-1] or p.shape[:-1] + (1,); the same as categorical with a
 *     one-hot t, picked instead of multiplied. A label that is not an integer in [0, C) is a
 *     CNN_ERR_VALUE naming the op, the label and C.
 * eps = 1e-7 (keras.backend.epsilon()), applied in float32 as torch.clip does.
 */
#include <math.h>

#include "ops.h"

#define LOSS_EPS 1e-7f
#define LOSS_ONE_M_EPS ((float)(1.0 - 1e-7))

/* ---- shapes ---------------------------------------------------------------------- */



#define SAME_SHAPE_INFER(fn, opname)                                                          \
    static cnn_status fn(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) { \
        (void)n; (void)a;                                                                     \
        return cnn_infer_per_sample(opname, in[0], in[1], out);                                   \
    }

SAME_SHAPE_INFER(mse_infer, "mse")
SAME_SHAPE_INFER(mae_infer, "mae")
SAME_SHAPE_INFER(huber_infer, "huber")
SAME_SHAPE_INFER(bce_infer, "binary_crossentropy")
SAME_SHAPE_INFER(cce_infer, "categorical_crossentropy")

static cnn_status scce_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n; (void)a;
    return cnn_infer_per_sample_sparse("sparse_categorical_crossentropy", in[0], in[1], out);
}

/* rows = number of per-sample outputs, ch = size of the reduced last axis. */
static void loss_dims(const cnn_op_ctx *c, int64_t *rows, int64_t *ch) {
    const cnn_shape *p = c->in_shape[1];
    *ch = p->dim[p->ndim - 1];
    *rows = cnn_shape_numel(&c->out_shape);
}

static int from_logits(const cnn_op_ctx *c) { return c->attrs->n_int > 0 && c->attrs->i[0] != 0; }

static inline float clip_prob(float o) {
    return o < LOSS_EPS ? LOSS_EPS : (o > LOSS_ONE_M_EPS ? LOSS_ONE_M_EPS : o);
}
/* torch.clamp passes the gradient where min <= x <= max (NaN: no gradient). */
static inline int clip_passes(float o) { return o >= LOSS_EPS && o <= LOSS_ONE_M_EPS; }

/* ---- mse / mae / huber ----------------------------------------------------------- */

static cnn_status mse_forward(cnn_op_ctx *c) {
    int64_t rows, ch;
    loss_dims(c, &rows, &ch);
    for (int64_t r = 0; r < rows; r++) {
        const float *t = c->in[0] + r * ch, *p = c->in[1] + r * ch;
        double s = 0.0;
        for (int64_t j = 0; j < ch; j++) {
            float d = t[j] - p[j];
            s += (double)(d * d);
        }
        c->out[r] = (float)(s / (double)ch);
    }
    return CNN_OK;
}

static cnn_status mse_backward(cnn_op_ctx *c) {
    int64_t rows, ch;
    loss_dims(c, &rows, &ch);
    float *dp = c->in_grad[1];
    if (!dp) return CNN_OK;
    for (int64_t r = 0; r < rows; r++) {
        const float *t = c->in[0] + r * ch, *p = c->in[1] + r * ch;
        float g = 2.0f * (c->out_grad[r] / (float)ch);
        float *d = dp + r * ch;
        for (int64_t j = 0; j < ch; j++) d[j] += g * (p[j] - t[j]);
    }
    return CNN_OK;
}

static cnn_status mae_forward(cnn_op_ctx *c) {
    int64_t rows, ch;
    loss_dims(c, &rows, &ch);
    for (int64_t r = 0; r < rows; r++) {
        const float *t = c->in[0] + r * ch, *p = c->in[1] + r * ch;
        double s = 0.0;
        for (int64_t j = 0; j < ch; j++) s += (double)fabsf(t[j] - p[j]);
        c->out[r] = (float)(s / (double)ch);
    }
    return CNN_OK;
}

static cnn_status mae_backward(cnn_op_ctx *c) {
    int64_t rows, ch;
    loss_dims(c, &rows, &ch);
    float *dp = c->in_grad[1];
    if (!dp) return CNN_OK;
    for (int64_t r = 0; r < rows; r++) {
        const float *t = c->in[0] + r * ch, *p = c->in[1] + r * ch;
        float g = c->out_grad[r] / (float)ch;
        float *d = dp + r * ch;
        for (int64_t j = 0; j < ch; j++) {
            float e = p[j] - t[j];
            d[j] += e > 0.0f ? g : (e < 0.0f ? -g : 0.0f);
        }
    }
    return CNN_OK;
}

static float huber_delta(const cnn_op_ctx *c) {
    return c->attrs->n_float > 0 ? (float)c->attrs->f[0] : 1.0f;
}

static cnn_status huber_forward(cnn_op_ctx *c) {
    int64_t rows, ch;
    loss_dims(c, &rows, &ch);
    float delta = huber_delta(c), lin0 = 0.5f * (delta * delta);
    for (int64_t r = 0; r < rows; r++) {
        const float *t = c->in[0] + r * ch, *p = c->in[1] + r * ch;
        double s = 0.0;
        for (int64_t j = 0; j < ch; j++) {
            float e = p[j] - t[j], ae = fabsf(e);
            s += (double)(ae <= delta ? 0.5f * (e * e) : delta * ae - lin0);
        }
        c->out[r] = (float)(s / (double)ch);
    }
    return CNN_OK;
}

static cnn_status huber_backward(cnn_op_ctx *c) {
    int64_t rows, ch;
    loss_dims(c, &rows, &ch);
    float *dp = c->in_grad[1];
    if (!dp) return CNN_OK;
    float delta = huber_delta(c);
    for (int64_t r = 0; r < rows; r++) {
        const float *t = c->in[0] + r * ch, *p = c->in[1] + r * ch;
        float g = c->out_grad[r] / (float)ch;
        float *d = dp + r * ch;
        for (int64_t j = 0; j < ch; j++) {
            float e = p[j] - t[j], ae = fabsf(e);
            // quadratic branch: e; linear branch: delta * sign(e)
            float de = ae <= delta ? e : (e > 0.0f ? delta : (e < 0.0f ? -delta : 0.0f));
            d[j] += g * de;
        }
    }
    return CNN_OK;
}

/* ---- binary_crossentropy --------------------------------------------------------- */

static cnn_status bce_forward(cnn_op_ctx *c) {
    int64_t rows, ch;
    loss_dims(c, &rows, &ch);
    int logits = from_logits(c);
    for (int64_t r = 0; r < rows; r++) {
        const float *t = c->in[0] + r * ch, *p = c->in[1] + r * ch;
        double s = 0.0;
        if (logits) {
            for (int64_t j = 0; j < ch; j++) {
                float x = p[j];
                // (1-t)*x - log_sigmoid(x), log_sigmoid(x) = min(x,0) - log1p(exp(-|x|))
                float l = (1.0f - t[j]) * x - fminf(x, 0.0f) + log1pf(expf(-fabsf(x)));
                s += (double)l;
            }
        } else {
            for (int64_t j = 0; j < ch; j++) {
                float o = clip_prob(p[j]);
                // torch's binary_cross_entropy also floors each log at -100; with the clip
                // both logs stay above log(1e-7) ~ -16.1, so that floor never applies.
                float l = (t[j] - 1.0f) * log1pf(-o) - t[j] * logf(o);
                s += (double)l;
            }
        }
        c->out[r] = (float)(s / (double)ch);
    }
    return CNN_OK;
}

static cnn_status bce_backward(cnn_op_ctx *c) {
    int64_t rows, ch;
    loss_dims(c, &rows, &ch);
    float *dp = c->in_grad[1];
    if (!dp) return CNN_OK;
    int logits = from_logits(c);
    for (int64_t r = 0; r < rows; r++) {
        const float *t = c->in[0] + r * ch, *p = c->in[1] + r * ch;
        float g = c->out_grad[r] / (float)ch;
        float *d = dp + r * ch;
        if (logits) {
            for (int64_t j = 0; j < ch; j++) {
                float x = p[j];
                float sig = x >= 0.0f ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x));
                d[j] += g * (sig - t[j]);
            }
        } else {
            for (int64_t j = 0; j < ch; j++) {
                float o = p[j];
                if (!clip_passes(o)) continue;
                float den = (1.0f - o) * o;
                d[j] += g * (o - t[j]) / (den > 1e-12f ? den : 1e-12f);
            }
        }
    }
    return CNN_OK;
}

/* ---- categorical_crossentropy ---------------------------------------------------- */

/* Logits: writes softmax(x) of one row into sm and returns log(sum(exp(x - max))) + max. */
static float row_softmax(const float *x, int64_t ch, float *sm) {
    float m = -INFINITY;
    for (int64_t j = 0; j < ch; j++) m = x[j] > m ? x[j] : m;
    double s = 0.0;
    for (int64_t j = 0; j < ch; j++) {
        float e = expf(x[j] - m);
        sm[j] = e;
        s += (double)e;
    }
    float sf = (float)s, inv = 1.0f / sf;
    for (int64_t j = 0; j < ch; j++) sm[j] *= inv;
    return m + logf(sf);
}

static double row_sum(const float *p, int64_t ch) {
    double s = 0.0;
    for (int64_t j = 0; j < ch; j++) s += (double)p[j];
    return s;
}

static int64_t cce_aux_size(const cnn_op_ctx *c) {
    int64_t rows, ch;
    loss_dims(c, &rows, &ch);
    return from_logits(c) ? rows * ch : rows;
}

static cnn_status cce_forward(cnn_op_ctx *c) {
    int64_t rows, ch;
    loss_dims(c, &rows, &ch);
    int logits = from_logits(c);
    for (int64_t r = 0; r < rows; r++) {
        const float *t = c->in[0] + r * ch, *p = c->in[1] + r * ch;
        double s = 0.0;
        if (logits) {
            float lse = row_softmax(p, ch, c->aux + r * ch);
            for (int64_t j = 0; j < ch; j++) s += (double)(t[j] * (p[j] - lse));
        } else {
            float sum = (float)row_sum(p, ch);
            c->aux[r] = sum;
            for (int64_t j = 0; j < ch; j++) s += (double)(t[j] * logf(clip_prob(p[j] / sum)));
        }
        c->out[r] = (float)(-s);
    }
    return CNN_OK;
}

static cnn_status cce_backward(cnn_op_ctx *c) {
    int64_t rows, ch;
    loss_dims(c, &rows, &ch);
    float *dp = c->in_grad[1];
    if (!dp) return CNN_OK;
    int logits = from_logits(c);
    for (int64_t r = 0; r < rows; r++) {
        const float *t = c->in[0] + r * ch, *p = c->in[1] + r * ch;
        float g = c->out_grad[r];
        float *d = dp + r * ch;
        if (logits) {
            // d/dx_k = softmax_k * sum(t) - t_k
            const float *sm = c->aux + r * ch;
            float tsum = (float)row_sum(t, ch);
            for (int64_t j = 0; j < ch; j++) d[j] += g * (sm[j] * tsum - t[j]);
        } else {
            // o = p / S; gl_j = dL/do_j = -g t_j / o_j where the clip passes;
            // dL/dp_k = gl_k / S - sum_j(gl_j p_j) / S^2
            float sum = c->aux[r];
            double dot = 0.0;
            for (int64_t j = 0; j < ch; j++) {
                float o = p[j] / sum;
                if (clip_passes(o)) dot += (double)((-g * t[j] / o) * p[j]);
            }
            float corr = (float)dot / (sum * sum);
            for (int64_t j = 0; j < ch; j++) {
                float o = p[j] / sum;
                float gl = clip_passes(o) ? -g * t[j] / o : 0.0f;
                d[j] += gl / sum - corr;
            }
        }
    }
    return CNN_OK;
}

/* ---- sparse_categorical_crossentropy --------------------------------------------- */

#define SCCE "sparse_categorical_crossentropy"

/* The class index of a float label, or -1 after recording an error naming the label and C. */
static int64_t sparse_label(float y, int64_t ch) {
    if (!(y >= 0.0f && (double)y < (double)ch && floorf(y) == y)) {
        cnn_fail(CNN_ERR_VALUE, SCCE ": label %g is not an integer class index in [0, %lld)",
                 (double)y, (long long)ch);
        return -1;
    }
    return (int64_t)y;
}

static cnn_status scce_forward(cnn_op_ctx *c) {
    int64_t rows, ch;
    loss_dims(c, &rows, &ch);
    int logits = from_logits(c);
    const float *y = c->in[0];
    for (int64_t r = 0; r < rows; r++) {
        int64_t k = sparse_label(y[r], ch);
        if (k < 0) return CNN_ERR_VALUE;
        const float *p = c->in[1] + r * ch;
        if (logits) {
            float lse = row_softmax(p, ch, c->aux + r * ch);
            c->out[r] = lse - p[k];
        } else {
            float sum = (float)row_sum(p, ch);
            c->aux[r] = sum;
            c->out[r] = -logf(clip_prob(p[k] / sum));
        }
    }
    return CNN_OK;
}

static cnn_status scce_backward(cnn_op_ctx *c) {
    int64_t rows, ch;
    loss_dims(c, &rows, &ch);
    float *dp = c->in_grad[1];
    if (!dp) return CNN_OK;
    int logits = from_logits(c);
    const float *y = c->in[0];
    for (int64_t r = 0; r < rows; r++) {
        int64_t k = sparse_label(y[r], ch);
        if (k < 0) return CNN_ERR_VALUE;
        const float *p = c->in[1] + r * ch;
        float g = c->out_grad[r];
        float *d = dp + r * ch;
        if (logits) {
            const float *sm = c->aux + r * ch;
            for (int64_t j = 0; j < ch; j++) d[j] += g * sm[j];
            d[k] -= g;
        } else {
            float sum = c->aux[r], o = p[k] / sum;
            if (!clip_passes(o)) continue;
            float gl = -g / o;  // dL/do_k
            float corr = gl * p[k] / (sum * sum);
            for (int64_t j = 0; j < ch; j++) d[j] -= corr;
            d[k] += gl / sum;
        }
    }
    return CNN_OK;
}

const cnn_op_def cnn_ops_loss[] = {
    {.name = "mse", .min_inputs = 2, .max_inputs = 2, .infer = mse_infer,
     .forward = mse_forward, .backward = mse_backward, .no_grad_inputs = 1},
    {.name = "mae", .min_inputs = 2, .max_inputs = 2, .infer = mae_infer,
     .forward = mae_forward, .backward = mae_backward, .no_grad_inputs = 1},
    {.name = "huber", .min_inputs = 2, .max_inputs = 2, .infer = huber_infer,
     .forward = huber_forward, .backward = huber_backward, .no_grad_inputs = 1},
    {.name = "binary_crossentropy", .min_inputs = 2, .max_inputs = 2, .infer = bce_infer,
     .forward = bce_forward, .backward = bce_backward, .no_grad_inputs = 1},
    {.name = "categorical_crossentropy", .min_inputs = 2, .max_inputs = 2, .infer = cce_infer,
     .forward = cce_forward, .backward = cce_backward, .aux_size = cce_aux_size, .no_grad_inputs = 1},
    {.name = SCCE, .min_inputs = 2, .max_inputs = 2, .infer = scce_infer,
     .forward = scce_forward, .backward = scce_backward, .aux_size = cce_aux_size, .no_grad_inputs = 1},
    {0},
};
