/* optim.c: SGD, Adam/AdamW, RMSprop, Adagrad and Nadam with Keras 3's update rules, plus
 * its base-optimizer options (clipnorm, clipvalue, global_clipnorm, weight_decay).
 *
 * We follow Keras 3's torch backend operation by operation, in float32, so results agree to
 * the last bit wherever the gradients do. Its "x += g * a" is torch's add(alpha=a), a fused
 * multiply-add (fmaf here); scalars it passes as Python floats are rounded to float once
 * ((float)(1.0 - beta) from doubles); per-step scalars (bias corrections) are float32 ops.
 *   SGD:      m = m*mu;  m = fma(g, -lr, m);  w = nesterov ? fma(m, mu, fma(g, -lr, w)) : w + m
 *             (momentum == 0: w = fma(g, -lr, w))
 *   Adam:     t = iterations + 1;  alpha = lr * sqrt(1 - b2^t) / (1 - b1^t)
 *             m = fma(g, 1-b1, m*b1);  v = fma(g*g, 1-b2, v*b2);  vhat = max(vhat, v) (amsgrad)
 *             w -= (m * alpha) / (sqrt(v or vhat) + eps)
 *   RMSprop:  v = fma(g*g, 1-rho, v*rho);  a = fma(g, 1-rho, a*rho) (centered)
 *             inc = (g * lr) / sqrt(v + eps - a*a  or  v + eps)
 *             momentum > 0: m = m*mu + inc, w -= m;  else w -= inc
 *   Adagrad:  acc += g*g (acc starts at initial_accumulator_value);  w -= (g*lr) / sqrt(acc + eps)
 *   Nadam:    u_t = b1 * (1 - 0.5 * 0.96^t),  u_t1 likewise at t + 1;  u_product *= u_t (kept
 *             across steps);  m, v as Adam;
 *             w -= (((m*u_t1) / (1 - u_product*u_t1) + (g*(1-u_t)) / (1 - u_product)) * lr)
 *                  / (sqrt(v / (1 - b2^t)) + eps)
 * Before the rule, in Keras's order: gradients are clipped (clipnorm per variable:
 * (g*c) / max(|g|, c); global_clipnorm: g * c * min(1/|all g|, 1/c); clipvalue: clamp), then
 * variables decay (w *= 1 - weight_decay * lr).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fpmode.h"
#include "optim.h"

/* The update loops use fmaf, so their clones need FMA: CPUs with FMA get the "fma" clone
 * (AVX + FMA); the baseline clone calls libm's exact fmaf. Every clone gives equal bits.
 * Not "arch=haswell": GCC dispatches an arch= clone by CPU model, not by features, so AMD
 * and later Intel CPUs without AVX-512 got the baseline clone (Adam 3.4x slower on a Zen 3). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(CNN_NO_CLONES)
#define OPT_HOT __attribute__((target_clones("avx512f", "fma", "default")))
#else
#define OPT_HOT
#endif

typedef struct {
    int64_t var_id;
    int64_t size;
    float *m, *v, *vhat; /* NULL where the rule needs no such moment; RMSprop keeps its
                            centred average gradient in vhat, Adagrad its accumulator in v */
} slot;

struct cnn_optimizer {
    cnn_optimizer_config cfg;
    int64_t iterations;
    float u_product;     /* Nadam's product of momentum-schedule terms, 1 before step 1 */
    slot *slots;
    int n_slots, cap_slots;
    float *scratch;      /* one variable's clipped gradient; grows to the largest variable */
    int64_t scratch_cap;
};

static int nonneg(double x) { return x >= 0.0; } /* false for NaN too */

cnn_status cnn_optimizer_new(const cnn_optimizer_config *cfg, cnn_optimizer **out) {
    if (cfg->kind < CNN_OPT_SGD || cfg->kind > CNN_OPT_NADAM)
        return cnn_fail(CNN_ERR_VALUE, "unknown optimizer kind %d", (int)cfg->kind);
    if (!nonneg(cfg->epsilon) || !nonneg(cfg->weight_decay) || !nonneg(cfg->momentum) ||
        !nonneg(cfg->clipnorm) || !nonneg(cfg->clipvalue) || !nonneg(cfg->global_clipnorm))
        return cnn_fail(CNN_ERR_VALUE, "optimizer: epsilon, momentum, weight_decay and the clip "
                        "options must be >= 0 (epsilon=%g, momentum=%g, weight_decay=%g, clipnorm=%g, "
                        "clipvalue=%g, global_clipnorm=%g)", cfg->epsilon, cfg->momentum,
                        cfg->weight_decay, cfg->clipnorm, cfg->clipvalue, cfg->global_clipnorm);
    if ((cfg->clipnorm > 0) + (cfg->clipvalue > 0) + (cfg->global_clipnorm > 0) > 1)
        return cnn_fail(CNN_ERR_VALUE, "optimizer: only one of clipnorm, clipvalue and global_clipnorm "
                        "can be set (clipnorm=%g, clipvalue=%g, global_clipnorm=%g)", cfg->clipnorm,
                        cfg->clipvalue, cfg->global_clipnorm);
    cnn_optimizer *o = calloc(1, sizeof *o);
    if (!o) return cnn_fail(CNN_ERR_MEMORY, "out of memory");
    o->cfg = *cfg;
    o->u_product = 1.0f;
    *out = o;
    return CNN_OK;
}

void cnn_optimizer_free(cnn_optimizer *o) {
    if (!o) return;
    for (int i = 0; i < o->n_slots; i++) {
        cnn_free(o->slots[i].m); cnn_free(o->slots[i].v); cnn_free(o->slots[i].vhat);
    }
    free(o->slots);
    cnn_free(o->scratch);
    free(o);
}

cnn_optimizer_config *cnn_optimizer_config_of(cnn_optimizer *o) { return &o->cfg; }
int64_t cnn_optimizer_iterations(const cnn_optimizer *o) { return o->iterations; }
void cnn_optimizer_set_iterations(cnn_optimizer *o, int64_t it) { o->iterations = it; }

static float *filled(int64_t n, float value) {
    float *p = cnn_alloc(sizeof(float) * (size_t)n);
    if (p) {
        if (value == 0.0f) memset(p, 0, sizeof(float) * (size_t)n);
        else for (int64_t i = 0; i < n; i++) p[i] = value;
    }
    return p;
}

int cnn_optimizer_slot_mask(const cnn_optimizer *o) {
    const cnn_optimizer_config *c = &o->cfg;
    cnn_optimizer_kind k = c->kind;
    int adam_like = k == CNN_OPT_ADAM || k == CNN_OPT_NADAM;
    int need_m = adam_like || ((k == CNN_OPT_SGD || k == CNN_OPT_RMSPROP) && c->momentum > 0.0);
    int need_v = adam_like || k == CNN_OPT_RMSPROP || k == CNN_OPT_ADAGRAD;
    int need_third = (k == CNN_OPT_ADAM && c->amsgrad) || (k == CNN_OPT_RMSPROP && c->centered);
    return need_m | need_v << 1 | need_third << 2;
}

/* The slot of a variable, created on first use. `hint` is where it was last time: a
 * training loop updates the same variables in the same order every step. */
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
    cnn_optimizer_kind k = c->kind;
    int mask = cnn_optimizer_slot_mask(o);
    int need_m = mask & 1, need_v = mask & 2, need_third = mask & 4;
    /* Keras fills Adagrad's accumulator with float32(initial_accumulator_value). */
    float v0 = k == CNN_OPT_ADAGRAD ? (float)c->initial_accumulator_value : 0.0f;
    if ((need_m && !(s->m = filled(n, 0.0f))) || (need_v && !(s->v = filled(n, v0))) ||
        (need_third && !(s->vhat = filled(n, 0.0f)))) {
        cnn_free(s->m); cnn_free(s->v);
        return NULL;
    }
    o->n_slots++;
    return s;
}

float cnn_optimizer_u_product(const cnn_optimizer *o) { return o->u_product; }
void cnn_optimizer_set_u_product(cnn_optimizer *o, float u) { o->u_product = u; }

static int slot_bufs(const slot *s, float *bufs[3], int64_t *size) {
    bufs[0] = s ? s->m : NULL;
    bufs[1] = s ? s->v : NULL;
    bufs[2] = s ? s->vhat : NULL;
    *size = s ? s->size : 0;
    return s != NULL;
}

int cnn_optimizer_slots(cnn_optimizer *o, const cnn_tensor *var, float *bufs[3], int64_t *size) {
    const slot *s = NULL;
    for (int i = 0; i < o->n_slots && !s; i++)
        if (o->slots[i].var_id == var->id) s = &o->slots[i];
    return slot_bufs(s, bufs, size);
}

cnn_status cnn_optimizer_ensure_slots(cnn_optimizer *o, const cnn_tensor *var, float *bufs[3], int64_t *size) {
    slot *s = find_slot(o, var, o->n_slots);
    if (!s) return cnn_fail(CNN_ERR_MEMORY, "optimizer: out of memory for variable state");
    if (s->size != cnn_shape_numel(&var->shape))
        return cnn_fail(CNN_ERR_SHAPE, "optimizer: variable changed size (%lld -> %lld)",
                        (long long)s->size, (long long)cnn_shape_numel(&var->shape));
    slot_bufs(s, bufs, size);
    return CNN_OK;
}

/* ---- the update rules ------------------------------------------------------------------ */

OPT_HOT static void sgd_update(const cnn_optimizer_config *c, float lr, float *w, const float *g,
                               float *m, int64_t n) {
    const float neg_lr = -lr, mu = (float)c->momentum;
    if (!m) {
        for (int64_t i = 0; i < n; i++) w[i] = fmaf(g[i], neg_lr, w[i]);
    } else if (c->nesterov) {
        for (int64_t i = 0; i < n; i++) {
            m[i] = fmaf(g[i], neg_lr, m[i] * mu);
            w[i] = fmaf(m[i], mu, fmaf(g[i], neg_lr, w[i]));
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            m[i] = fmaf(g[i], neg_lr, m[i] * mu);
            w[i] += m[i];
        }
    }
}

/* First and second moments, shared by Adam and Nadam (inlined into their loops). */
typedef struct { float b1, b2, one_b1, one_b2; } moment_rates;

static inline moment_rates rates_of(const cnn_optimizer_config *c) {
    return (moment_rates){(float)c->beta_1, (float)c->beta_2, (float)(1.0 - c->beta_1), (float)(1.0 - c->beta_2)};
}

static inline void moments(moment_rates r, float g, float *m, float *v) {
    *m = fmaf(g, r.one_b1, *m * r.b1);
    *v = fmaf(g * g, r.one_b2, *v * r.b2);
}

OPT_HOT static void adam_update(const cnn_optimizer_config *c, float alpha, float *w, const float *g,
                                float *m, float *v, float *vhat, int64_t n) {
    const float eps = (float)c->epsilon;
    const moment_rates r = rates_of(c);
    if (vhat) {
        for (int64_t i = 0; i < n; i++) {
            moments(r, g[i], &m[i], &v[i]);
            vhat[i] = vhat[i] > v[i] || isnan(vhat[i]) ? vhat[i] : v[i];
            w[i] -= (m[i] * alpha) / (sqrtf(vhat[i]) + eps);
        }
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        moments(r, g[i], &m[i], &v[i]);
        w[i] -= (m[i] * alpha) / (sqrtf(v[i]) + eps);
    }
}

typedef struct {
    float u_t, u_t1;          /* this step's and the next step's momentum-schedule terms */
    float den_m, den_g, den_v; /* 1 - u_product * u_t1, 1 - u_product, 1 - b2^t */
} nadam_scalars;

OPT_HOT static void nadam_update(const cnn_optimizer_config *c, const nadam_scalars *s, float lr, float *w,
                                 const float *g, float *m, float *v, int64_t n) {
    const float eps = (float)c->epsilon, one_u = 1.0f - s->u_t;
    const moment_rates r = rates_of(c);
    for (int64_t i = 0; i < n; i++) {
        moments(r, g[i], &m[i], &v[i]);
        float m_hat = (m[i] * s->u_t1) / s->den_m + (g[i] * one_u) / s->den_g;
        float v_hat = v[i] / s->den_v;
        w[i] -= (m_hat * lr) / (sqrtf(v_hat) + eps);
    }
}

OPT_HOT static void rmsprop_update(const cnn_optimizer_config *c, float lr, float *w, const float *g,
                                   float *m, float *v, float *avg, int64_t n) {
    const float rho = (float)c->rho, one_rho = (float)(1.0 - c->rho);
    const float eps = (float)c->epsilon, mu = (float)c->momentum;
    for (int64_t i = 0; i < n; i++) {
        v[i] = fmaf(g[i] * g[i], one_rho, v[i] * rho);
        float denom = v[i] + eps;
        if (avg) {
            avg[i] = fmaf(g[i], one_rho, avg[i] * rho);
            denom -= avg[i] * avg[i];
        }
        float inc = (g[i] * lr) / sqrtf(denom);
        if (m) { m[i] = m[i] * mu + inc; w[i] -= m[i]; }
        else w[i] -= inc;
    }
}

OPT_HOT static void adagrad_update(const cnn_optimizer_config *c, float lr, float *w, const float *g,
                                   float *acc, int64_t n) {
    const float eps = (float)c->epsilon;
    for (int64_t i = 0; i < n; i++) {
        acc[i] += g[i] * g[i];
        w[i] -= (g[i] * lr) / sqrtf(acc[i] + eps);
    }
}

/* ---- clipping and weight decay --------------------------------------------------------- */

/* sum(g*g) rounded to float once: Keras sums float32 squares; a double accumulator keeps
 * our sum as close to the exact one as its pairwise float32 sum is. */
static float sum_squares(const float *g, int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += (double)(g[i] * g[i]);
    return (float)s;
}

/* (g * c) / max(norm, c); Keras uses 0 for the norm of an all-zero gradient. */
OPT_HOT static void clip_by_norm(const float *g, float *out, int64_t n, float c) {
    float l2sum = sum_squares(g, n);
    float norm = l2sum > 0.0f ? sqrtf(l2sum) : l2sum;
    float den = norm > c || isnan(norm) ? norm : c;
    for (int64_t i = 0; i < n; i++) out[i] = (g[i] * c) / den;
}

OPT_HOT static void clip_by_value(const float *g, float *out, int64_t n, float lo, float hi) {
    for (int64_t i = 0; i < n; i++) out[i] = g[i] < lo ? lo : g[i] > hi ? hi : g[i];
}

OPT_HOT static void scale(const float *g, float *out, int64_t n, float s) {
    for (int64_t i = 0; i < n; i++) out[i] = g[i] * s;
}

/* Keras: scale = c * min(1/norm, 1/c) + (norm - norm), NaN when the norm is not finite. */
static float global_clip_scale(const cnn_optimizer_config *c, int n, cnn_tensor *const *vars,
                               const float *const *grads) {
    float total = 0.0f;
    for (int i = 0; i < n; i++) total += sum_squares(grads[i], cnn_shape_numel(&vars[i]->shape));
    float norm = sqrtf(total), inv = 1.0f / norm, inv_c = (float)(1.0 / c->global_clipnorm);
    float lo = inv < inv_c || isnan(inv) ? inv : inv_c;
    return (float)c->global_clipnorm * lo + (norm - norm);
}

OPT_HOT static void decay(float *w, int64_t n, float factor) {
    for (int64_t i = 0; i < n; i++) w[i] *= factor;
}

static int ensure_scratch(cnn_optimizer *o, int64_t n) {
    if (n <= o->scratch_cap) return 1;
    float *p = cnn_alloc(sizeof(float) * (size_t)n);
    if (!p) return 0;
    cnn_free(o->scratch);
    o->scratch = p;
    o->scratch_cap = n;
    return 1;
}

/* ---- one step ------------------------------------------------------------------------- */

static cnn_status apply_all(cnn_optimizer *o, int n, cnn_tensor *const *vars, const float *const *grads) {
    const cnn_optimizer_config *c = &o->cfg;
    const float lr = (float)c->learning_rate;
    const float t = (float)(o->iterations + 1);
    float alpha = 0.0f, global_scale = 1.0f;
    nadam_scalars ns = {0};
    if (c->kind == CNN_OPT_ADAM) {
        float b1_power = powf((float)c->beta_1, t), b2_power = powf((float)c->beta_2, t);
        alpha = lr * sqrtf(1.0f - b2_power) / (1.0f - b1_power);
    } else if (c->kind == CNN_OPT_NADAM) {
        const float b1 = (float)c->beta_1, decay_base = 0.96f;
        ns.u_t = b1 * (1.0f - 0.5f * powf(decay_base, t));
        ns.u_t1 = b1 * (1.0f - 0.5f * powf(decay_base, (float)(o->iterations + 2)));
        float u_product = o->u_product * ns.u_t;
        ns.den_m = 1.0f - u_product * ns.u_t1;
        ns.den_g = 1.0f - u_product;
        ns.den_v = 1.0f - powf((float)c->beta_2, t);
        o->u_product = u_product;
    }
    const int clip = c->clipnorm > 0 || c->clipvalue > 0 || c->global_clipnorm > 0;
    if (c->global_clipnorm > 0) global_scale = global_clip_scale(c, n, vars, grads);
    /* Keras multiplies by float32(1 - float32(wd) * lr). */
    const float decay_factor = 1.0f - (float)c->weight_decay * lr;
    for (int i = 0; i < n; i++) {
        slot *s = find_slot(o, vars[i], i);
        if (!s) return cnn_fail(CNN_ERR_MEMORY, "optimizer: out of memory for variable state");
        if (s->size != cnn_shape_numel(&vars[i]->shape))
            return cnn_fail(CNN_ERR_SHAPE, "optimizer: variable %d changed size (%lld -> %lld)", i,
                            (long long)s->size, (long long)cnn_shape_numel(&vars[i]->shape));
        float *w = cnn_tensor_data(vars[i]);
        const float *g = grads[i];
        if (clip) {
            if (!ensure_scratch(o, s->size))
                return cnn_fail(CNN_ERR_MEMORY, "optimizer: out of memory for clipped gradients");
            if (c->clipnorm > 0) clip_by_norm(g, o->scratch, s->size, (float)c->clipnorm);
            else if (c->global_clipnorm > 0) scale(g, o->scratch, s->size, global_scale);
            else clip_by_value(g, o->scratch, s->size, (float)-c->clipvalue, (float)c->clipvalue);
            g = o->scratch;
        }
        if (c->weight_decay > 0) decay(w, s->size, decay_factor);
        switch (c->kind) {
        case CNN_OPT_SGD: sgd_update(c, lr, w, g, s->m, s->size); break;
        case CNN_OPT_ADAM: adam_update(c, alpha, w, g, s->m, s->v, s->vhat, s->size); break;
        case CNN_OPT_RMSPROP: rmsprop_update(c, lr, w, g, s->m, s->v, s->vhat, s->size); break;
        case CNN_OPT_ADAGRAD: adagrad_update(c, lr, w, g, s->v, s->size); break;
        case CNN_OPT_NADAM: nadam_update(c, &ns, lr, w, g, s->m, s->v, s->size); break;
        }
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
