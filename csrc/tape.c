/* tape.c: eager reverse-mode autodiff over recorded op applications (see tape.h). */
#include <stdlib.h>
#include <string.h>

#include "eager.h"
#include "tape.h"

typedef struct {
    const cnn_op_def *def;
    cnn_attrs attrs;
    int n_in;
    cnn_tensor *in[CNN_MAX_INPUTS];
    cnn_tensor *out;
    cnn_storage *aux;
    int training;
    uint64_t seed;
} entry;

struct cnn_tape {
    entry *e;
    int n, cap;
    int persistent;
    int used; /* a non-persistent tape answers one gradient() call */
};

cnn_tape *cnn_tape_new(int persistent) {
    cnn_tape *t = calloc(1, sizeof *t);
    if (!t) { cnn_fail(CNN_ERR_MEMORY, "out of memory"); return NULL; }
    t->persistent = persistent;
    return t;
}

static void clear(cnn_tape *t) {
    for (int i = 0; i < t->n; i++) {
        for (int k = 0; k < t->e[i].n_in; k++) cnn_tensor_release(t->e[i].in[k]);
        cnn_tensor_release(t->e[i].out);
        cnn_storage_release(t->e[i].aux);
    }
    t->n = 0;
}

void cnn_tape_free(cnn_tape *t) {
    if (!t) return;
    clear(t);
    free(t->e);
    free(t);
}

cnn_status cnn_tape_record(cnn_tape *t, const cnn_op_def *def, const cnn_attrs *a, int n_in,
                           cnn_tensor *const *in, cnn_tensor *out, cnn_storage *aux, int training,
                           uint64_t seed) {
    if (def->not_differentiable) return CNN_OK;
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 64;
        entry *e = realloc(t->e, sizeof *e * (size_t)cap);
        if (!e) return cnn_fail(CNN_ERR_MEMORY, "out of memory recording on the tape");
        t->e = e;
        t->cap = cap;
    }
    entry *e = &t->e[t->n++];
    e->def = def;
    e->attrs = *a;
    e->n_in = n_in;
    for (int k = 0; k < n_in; k++) { e->in[k] = in[k]; cnn_tensor_retain(in[k]); }
    e->out = out;
    cnn_tensor_retain(out);
    e->aux = aux;
    if (aux) cnn_storage_retain(aux);
    e->training = training;
    e->seed = seed;
    return CNN_OK;
}

/* Gradients keyed by tensor id in an open-addressing table. */
typedef struct { int64_t id; cnn_tensor *grad; } cell;
typedef struct { cell *c; int64_t mask; } table;

static cell *lookup(table *tb, int64_t id) {
    int64_t h = (int64_t)((uint64_t)id * 0x9E3779B97F4A7C15ull >> 7) & tb->mask;
    while (tb->c[h].id && tb->c[h].id != id) h = (h + 1) & tb->mask;
    return &tb->c[h];
}

/* The gradient buffer of tensor x, created zeroed on first use. */
static cnn_tensor *grad_of(table *tb, const cnn_tensor *x, int create) {
    cell *c = lookup(tb, x->id);
    if (c->id) return c->grad;
    if (!create) return NULL;
    cnn_tensor *g = cnn_tensor_new(&x->shape);
    if (!g) return NULL;
    c->id = x->id;
    c->grad = g;
    return g;
}

cnn_status cnn_tape_gradient(cnn_tape *t, cnn_tensor *target, int n_src, cnn_tensor *const *sources,
                             cnn_tensor **grads) {
    for (int k = 0; k < n_src; k++) grads[k] = NULL;
    if (t->used && !t->persistent)
        return cnn_fail(CNN_ERR_VALUE, "GradientTape.gradient can only be called once on a non-persistent "
                                       "tape; use GradientTape(persistent=True)");
    t->used = 1;
    /* Which recorded outputs depend on a source: only those get gradients. */
    int64_t cap = 64;
    while (cap < 4 * (int64_t)(t->n + n_src + 2)) cap *= 2;
    table tb = {calloc((size_t)cap, sizeof(cell)), cap - 1};
    table dep = {calloc((size_t)cap, sizeof(cell)), cap - 1};
    char *live = calloc((size_t)t->n + 1, 1);
    cnn_status st = CNN_OK;
    if (!tb.c || !dep.c || !live) { st = cnn_fail(CNN_ERR_MEMORY, "out of memory"); goto done; }
    for (int k = 0; k < n_src; k++) lookup(&dep, sources[k]->id)->id = sources[k]->id;
    for (int i = 0; i < t->n; i++) {
        for (int k = 0; k < t->e[i].n_in && !live[i]; k++)
            if (!((t->e[i].def->no_grad_inputs >> k) & 1u) && lookup(&dep, t->e[i].in[k]->id)->id) live[i] = 1;
        if (live[i]) lookup(&dep, t->e[i].out->id)->id = t->e[i].out->id;
    }
    if (!lookup(&dep, target->id)->id) goto done; /* target does not depend on any source */

    cnn_tensor *seed = grad_of(&tb, target, 1);
    if (!seed) { st = CNN_ERR_MEMORY; goto done; }
    float *sd = cnn_tensor_data(seed);
    for (int64_t j = 0; j < cnn_shape_numel(&target->shape); j++) sd[j] = 1.0f;

    for (int i = t->n - 1; i >= 0; i--) {
        entry *e = &t->e[i];
        if (!live[i]) continue;
        cnn_tensor *gout = grad_of(&tb, e->out, 0);
        if (!gout) continue;
        float *gin[CNN_MAX_INPUTS] = {0};
        for (int k = 0; k < e->n_in; k++) {
            if ((e->def->no_grad_inputs >> k) & 1u || !lookup(&dep, e->in[k]->id)->id) continue;
            cnn_tensor *g = grad_of(&tb, e->in[k], 1);
            if (!g) { st = CNN_ERR_MEMORY; goto done; }
            gin[k] = cnn_tensor_data(g);
        }
        st = cnn_eager_backward(e->def, e->n_in, e->in, e->out, e->aux ? e->aux->data : NULL, &e->attrs,
                                e->training, e->seed, cnn_tensor_data(gout), gin);
        if (st) goto done;
    }
    for (int k = 0; k < n_src; k++) {
        cnn_tensor *g = grad_of(&tb, sources[k], 0);
        if (g) { cnn_tensor_retain(g); grads[k] = g; }
    }
done:
    if (tb.c)
        for (int64_t h = 0; h <= tb.mask; h++) cnn_tensor_release(tb.c[h].grad);
    free(tb.c);
    free(dep.c);
    free(live);
    if (!t->persistent) clear(t);
    return st;
}
