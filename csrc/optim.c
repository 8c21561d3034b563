/* optim.c: SGD (momentum, Nesterov) and Adam (AMSGrad) with Keras 3's exact update rules.
 *
 * Keras 3, float32 throughout:
 *   SGD:      m = m * momentum - lr * g;  w += nesterov ? m * momentum - lr * g : m
 *             (momentum == 0: w -= lr * g)
 *   Adam:     t = iterations + 1;  alpha = lr * sqrt(1 - b2^t) / (1 - b1^t)
 *             m += (g - m) * (1 - b1);  v += (g^2 - v) * (1 - b2)
 *             vhat = max(vhat, v) (amsgrad);  w -= (m * alpha) / (sqrt(v or vhat) + eps)
 *   RMSprop:  v = rho * v + (1 - rho) * g^2;  a = rho * a + (1 - rho) * g (centered)
 *             inc = (lr * g) / sqrt(v - a^2 + eps  or  v + eps)
 *             momentum > 0: m = momentum * m + inc, w -= m;  else w -= inc
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fpmode.h"
#include "optim.h"

typedef struct {
    int64_t var_id;
    int64_t size;
    float *m, *v, *vhat; /* NULL where the rule needs no such moment; RMSprop keeps its
                            centred average gradient in vhat */
} slot;

struct cnn_optimizer {
    cnn_optimizer_config cfg;
    int64_t iterations;
    slot *slots;
    int n_slots, cap_slots;
};

cnn_status cnn_optimizer_new(const cnn_optimizer_config *cfg, cnn_optimizer **out) {
    if (cfg->kind != CNN_OPT_SGD && cfg->kind != CNN_OPT_ADAM && cfg->kind != CNN_OPT_RMSPROP)
        return cnn_fail(CNN_ERR_VALUE, "unknown optimizer kind %d", (int)cfg->kind);
    cnn_optimizer *o = calloc(1, sizeof *o);
    if (!o) return cnn_fail(CNN_ERR_MEMORY, "out of memory");
    o->cfg = *cfg;
    *out = o;
    return CNN_OK;
}

void cnn_optimizer_free(cnn_optimizer *o) {
    if (!o) return;
    for (int i = 0; i < o->n_slots; i++) {
        cnn_free(o->slots[i].m); cnn_free(o->slots[i].v); cnn_free(o->slots[i].vhat);
    }
    free(o->slots);
    free(o);
}

cnn_optimizer_config *cnn_optimizer_config_of(cnn_optimizer *o) { return &o->cfg; }
int64_t cnn_optimizer_iterations(const cnn_optimizer *o) { return o->iterations; }
void cnn_optimizer_set_iterations(cnn_optimizer *o, int64_t it) { o->iterations = it; }

static float *zeros(int64_t n) {
    float *p = cnn_alloc(sizeof(float) * (size_t)n);
    if (p) memset(p, 0, sizeof(float) * (size_t)n);
    return p;
}

/* The slot of a variable, created zeroed on first use. `hint` is where it was last time:
 * a training loop updates the same variables in the same order every step. */
static slot *find_slot(cnn_optimizer *o, const cnn_tensor *var, int hint) {
    int64_t n = cnn_shape_numel(&var->shape);
    if (hint < o->n_slots && o->slots[hint].var_id == var->id) return &o->slots[hint];
    for (int i = 0; i < o->n_slots; i++)
        if (o->slots[i].var_id == var->id) return &o->slots[i];
    if (o->n_slots == o->cap_slots) {
        int cap = o->cap_slots ? 2 * o->cap_slots : 16;
        slot *s = realloc(o->slots, sizeof *s * (size_t)cap);
        if (!s) return NULL;
        o->slots = s;
        o->cap_slots = cap;
    }
    slot *s = &o->slots[o->n_slots];
    memset(s, 0, sizeof *s);
    s->var_id = var->id;
    s->size = n;
    const cnn_optimizer_config *c = &o->cfg;
    int need_m = c->kind == CNN_OPT_ADAM || c->momentum > 0.0;
    int need_v = c->kind == CNN_OPT_ADAM || c->kind == CNN_OPT_RMSPROP;
    int need_third = (c->kind == CNN_OPT_ADAM && c->amsgrad) || (c->kind == CNN_OPT_RMSPROP && c->centered);
    if ((need_m && !(s->m = zeros(n))) || (need_v && !(s->v = zeros(n))) ||
        (need_third && !(s->vhat = zeros(n)))) {
        cnn_free(s->m); cnn_free(s->v);
        return NULL;
    }
    o->n_slots++;
    return s;
}

CNN_HOT static void sgd_update(const cnn_optimizer_config *c, float *w, const float *g, float *m, int64_t n) {
    const float lr = (float)c->learning_rate, mu = (float)c->momentum;
    if (!m) {
        for (int64_t i = 0; i < n; i++) w[i] -= g[i] * lr;
        return;
    }
    if (c->nesterov) {
        for (int64_t i = 0; i < n; i++) {
            m[i] = m[i] * mu - g[i] * lr;
            w[i] += m[i] * mu - g[i] * lr;
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            m[i] = m[i] * mu - g[i] * lr;
            w[i] += m[i];
        }
    }
}

CNN_HOT static void adam_update(const cnn_optimizer_config *c, float alpha, float *w, const float *g,
                        float *m, float *v, float *vhat, int64_t n) {
    const float one_b1 = (float)(1.0 - c->beta_1), one_b2 = (float)(1.0 - c->beta_2), eps = (float)c->epsilon;
    if (vhat) {
        for (int64_t i = 0; i < n; i++) {
            m[i] += (g[i] - m[i]) * one_b1;
            v[i] += (g[i] * g[i] - v[i]) * one_b2;
            vhat[i] = vhat[i] > v[i] ? vhat[i] : v[i];
            w[i] -= (m[i] * alpha) / (sqrtf(vhat[i]) + eps);
        }
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        m[i] += (g[i] - m[i]) * one_b1;
        v[i] += (g[i] * g[i] - v[i]) * one_b2;
        w[i] -= (m[i] * alpha) / (sqrtf(v[i]) + eps);
    }
}

CNN_HOT static void rmsprop_update(const cnn_optimizer_config *c, float *w, const float *g, float *m,
                                   float *v, float *avg, int64_t n) {
    const float lr = (float)c->learning_rate, rho = (float)c->rho, one_rho = (float)(1.0 - c->rho);
    const float eps = (float)c->epsilon, mu = (float)c->momentum;
    for (int64_t i = 0; i < n; i++) {
        v[i] = rho * v[i] + one_rho * (g[i] * g[i]);
        float denom;
        if (avg) {
            avg[i] = rho * avg[i] + one_rho * g[i];
            denom = v[i] - avg[i] * avg[i] + eps;
        } else {
            denom = v[i] + eps;
        }
        float inc = (lr * g[i]) / sqrtf(denom);
        if (m) { m[i] = mu * m[i] + inc; w[i] -= m[i]; }
        else w[i] -= inc;
    }
}

static cnn_status apply_all(cnn_optimizer *o, int n, cnn_tensor *const *vars, const float *const *grads) {
    const cnn_optimizer_config *c = &o->cfg;
    float alpha = 0.0f;
    if (c->kind == CNN_OPT_ADAM) {
        float t = (float)(o->iterations + 1);
        float b1_power = powf((float)c->beta_1, t), b2_power = powf((float)c->beta_2, t);
        alpha = (float)c->learning_rate * sqrtf(1.0f - b2_power) / (1.0f - b1_power);
    }
    for (int i = 0; i < n; i++) {
        slot *s = find_slot(o, vars[i], i);
        if (!s) return cnn_fail(CNN_ERR_MEMORY, "optimizer: out of memory for variable state");
        if (s->size != cnn_shape_numel(&vars[i]->shape))
            return cnn_fail(CNN_ERR_SHAPE, "optimizer: variable %d changed size (%lld -> %lld)", i,
                            (long long)s->size, (long long)cnn_shape_numel(&vars[i]->shape));
        float *w = cnn_tensor_data(vars[i]);
        if (c->kind == CNN_OPT_SGD) sgd_update(c, w, grads[i], s->m, s->size);
        else if (c->kind == CNN_OPT_ADAM) adam_update(c, alpha, w, grads[i], s->m, s->v, s->vhat, s->size);
        else rmsprop_update(c, w, grads[i], s->m, s->v, s->vhat, s->size);
    }
    o->iterations++;
    return CNN_OK;
}

cnn_status cnn_optimizer_apply(cnn_optimizer *o, int n, cnn_tensor *const *vars, const float *const *grads) {
    unsigned fp = cnn_fp_enter();
    cnn_status st = apply_all(o, n, vars, grads);
    cnn_fp_leave(fp);
    return st;
}
