/* graph.c: static graphs and the programs that run them (see graph.h).
 *
 * Planning, per mode and batch size:
 *   1. mark the nodes the requested results depend on;
 *   2. infer concrete shapes in node order;
 *   3. (training) mark nodes on a path from a trainable variable to the loss;
 *   4. give every buffer a lifetime in steps (forward step i = i, backward step of node i =
 *      2n-1-i) and place the buffers in one arena so that buffers alive at the same time
 *      never overlap. Inference reuses activations as soon as their last reader ran; a
 *      training step keeps activations until the backward pass and reuses gradient buffers.
 */
#include <stdlib.h>
#include <string.h>

#include "fpmode.h"
#include "graph.h"

typedef enum { NODE_INPUT, NODE_PARAM, NODE_CONST, NODE_OP } node_kind;

typedef struct {
    node_kind kind;
    const cnn_op_def *def;
    cnn_attrs attrs;
    int n_in;
    int in[CNN_MAX_INPUTS];
    cnn_shape sym;       /* shape with -1 for the batch dimension */
    cnn_tensor *tensor;  /* PARAM: the variable; CONST: the value */
} node;

struct cnn_graph {
    node *nodes;
    int n, cap;
};

/* ---- building ---------------------------------------------------------------------- */

cnn_graph *cnn_graph_new(void) {
    cnn_graph *g = calloc(1, sizeof *g);
    if (!g) cnn_fail(CNN_ERR_MEMORY, "out of memory");
    return g;
}

void cnn_graph_free(cnn_graph *g) {
    if (!g) return;
    for (int i = 0; i < g->n; i++) cnn_tensor_release(g->nodes[i].tensor);
    free(g->nodes);
    free(g);
}

static node *append(cnn_graph *g) {
    if (g->n == g->cap) {
        int cap = g->cap ? 2 * g->cap : 64;
        node *nn = realloc(g->nodes, sizeof *nn * (size_t)cap);
        if (!nn) { cnn_fail(CNN_ERR_MEMORY, "out of memory growing the graph"); return NULL; }
        g->nodes = nn;
        g->cap = cap;
    }
    node *x = &g->nodes[g->n];
    memset(x, 0, sizeof *x);
    return x;
}

int cnn_graph_input(cnn_graph *g, const cnn_shape *shape) {
    node *x = append(g);
    if (!x) return -1;
    x->kind = NODE_INPUT;
    x->sym = *shape;
    return g->n++;
}

static int leaf(cnn_graph *g, node_kind kind, cnn_tensor *t) {
    node *x = append(g);
    if (!x) return -1;
    x->kind = kind;
    x->sym = t->shape;
    x->tensor = t;
    cnn_tensor_retain(t);
    return g->n++;
}

int cnn_graph_param(cnn_graph *g, cnn_tensor *var) { return leaf(g, NODE_PARAM, var); }
int cnn_graph_const(cnn_graph *g, cnn_tensor *value) { return leaf(g, NODE_CONST, value); }

int cnn_graph_op(cnn_graph *g, const cnn_op_def *def, int n_in, const int *in, const cnn_attrs *a) {
    if (n_in < def->min_inputs || n_in > def->max_inputs) {
        cnn_fail(CNN_ERR_VALUE, "%s: expected %d..%d inputs, got %d", def->name, def->min_inputs,
                 def->max_inputs, n_in);
        return -1;
    }
    const cnn_shape *shapes[CNN_MAX_INPUTS];
    for (int k = 0; k < n_in; k++) {
        if (in[k] < 0 || in[k] >= g->n) {
            cnn_fail(CNN_ERR_VALUE, "%s: input %d names node %d, which does not exist", def->name, k, in[k]);
            return -1;
        }
        shapes[k] = &g->nodes[in[k]].sym;
    }
    cnn_shape out;
    if (def->infer(n_in, shapes, a, &out)) return -1;
    node *x = append(g);
    if (!x) return -1;
    x->kind = NODE_OP;
    x->def = def;
    x->attrs = *a;
    x->n_in = n_in;
    memcpy(x->in, in, sizeof(int) * (size_t)n_in);
    x->sym = out;
    return g->n++;
}

const cnn_shape *cnn_graph_shape(const cnn_graph *g, int i) {
    return i >= 0 && i < g->n ? &g->nodes[i].sym : NULL;
}

int cnn_graph_size(const cnn_graph *g) { return g->n; }

/* ---- plans ------------------------------------------------------------------------- */

typedef enum { MODE_PREDICT, MODE_EVALUATE, MODE_TRAIN, N_MODES } mode;

typedef struct {
    cnn_shape shape;
    int64_t numel;
    int needed;        /* computed in this mode */
    int on_path;       /* training: a gradient flows from the loss through this node */
    int first_grad_writer; /* training: first node whose backward writes this node's grad */
    int64_t value_off, aux_off, grad_off; /* arena offsets in floats; -1: none */
    int64_t aux_n;
} node_plan;

typedef struct {
    int valid;
    int64_t batch;
    node_plan *np;
    int64_t arena_floats;
    int64_t work_off, work_n;
    unsigned char *var_unwritten; /* training: trainable variables no backward writes */
} plan;

struct cnn_program {
    cnn_graph *g;
    int n_inputs, n_targets, n_outputs, n_reports, n_trainable, loss;
    int *inputs, *targets, *outputs, *reports;
    cnn_tensor **trainable;
    int *param_slot;      /* per node: index into trainable for PARAM nodes, else -1 */
    int64_t *grad_offset; /* per trainable variable: offset in flat_grad */
    float *flat_grad;     /* gradients of the trainable variables, laid out in order */
    int64_t flat_grad_n;
    plan plans[N_MODES];
    float *arena;
    int64_t arena_cap;
    /* per-run pointers, rebuilt from the plan and the fed tensors */
    float **value, **grad, **aux;
    const float **opt_grads;
};

int64_t cnn_program_report_size(const cnn_program *p) {
    int64_t n = 0;
    for (int k = 0; k < p->n_reports; k++) n += cnn_shape_numel(&p->g->nodes[p->reports[k]].sym);
    return n;
}

void cnn_program_free(cnn_program *p) {
    if (!p) return;
    for (int m = 0; m < N_MODES; m++) { free(p->plans[m].np); free(p->plans[m].var_unwritten); }
    for (int i = 0; i < p->n_trainable; i++) cnn_tensor_release(p->trainable[i]);
    free(p->inputs); free(p->targets); free(p->outputs); free(p->reports);
    free(p->trainable); free(p->param_slot); free(p->grad_offset);
    free(p->value); free(p->grad); free(p->aux); free(p->opt_grads);
    cnn_free(p->flat_grad);
    cnn_free(p->arena);
    free(p);
}

static int *copy_ints(const int *src, int n) {
    int *d = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    if (d && n) memcpy(d, src, sizeof(int) * (size_t)n);
    return d;
}

cnn_status cnn_program_new(cnn_graph *g, const cnn_program_spec *s, cnn_program **out) {
    const int *lists[] = {s->inputs, s->targets, s->outputs, s->reports};
    const int counts[] = {s->n_inputs, s->n_targets, s->n_outputs, s->n_reports};
    for (int l = 0; l < 4; l++)
        for (int k = 0; k < counts[l]; k++)
            if (lists[l][k] < 0 || lists[l][k] >= g->n)
                return cnn_fail(CNN_ERR_VALUE, "program: node %d does not exist", lists[l][k]);
    for (int l = 0; l < 2; l++)
        for (int k = 0; k < counts[l]; k++)
            if (g->nodes[lists[l][k]].kind != NODE_INPUT)
                return cnn_fail(CNN_ERR_VALUE, "program: node %d fed with data is not an input", lists[l][k]);
    if (s->loss >= g->n || (s->loss >= 0 && (g->nodes[s->loss].kind != NODE_OP ||
                                             cnn_shape_numel(&g->nodes[s->loss].sym) != 1)))
        return cnn_fail(CNN_ERR_SHAPE, "program: the loss must be a scalar computed by an op");
    for (int k = 0; k < s->n_reports; k++)
        if (cnn_shape_numel(&g->nodes[s->reports[k]].sym) < 0)
            return cnn_fail(CNN_ERR_SHAPE, "program: report %d has shape %s, which depends on the batch size",
                            k, cnn_shape_fmt(&g->nodes[s->reports[k]].sym));

    cnn_program *p = calloc(1, sizeof *p);
    if (!p) return cnn_fail(CNN_ERR_MEMORY, "out of memory");
    p->g = g;
    p->n_inputs = s->n_inputs; p->n_targets = s->n_targets;
    p->n_outputs = s->n_outputs; p->n_reports = s->n_reports;
    p->n_trainable = s->n_trainable; p->loss = s->loss;
    p->inputs = copy_ints(s->inputs, s->n_inputs);
    p->targets = copy_ints(s->targets, s->n_targets);
    p->outputs = copy_ints(s->outputs, s->n_outputs);
    p->reports = copy_ints(s->reports, s->n_reports);
    p->trainable = calloc((size_t)(s->n_trainable + 1), sizeof *p->trainable);
    p->grad_offset = calloc((size_t)(s->n_trainable + 1), sizeof *p->grad_offset);
    p->opt_grads = calloc((size_t)(s->n_trainable + 1), sizeof *p->opt_grads);
    p->param_slot = malloc(sizeof(int) * (size_t)(g->n + 1));
    p->value = calloc((size_t)g->n + 1, sizeof *p->value);
    p->grad = calloc((size_t)g->n + 1, sizeof *p->grad);
    p->aux = calloc((size_t)g->n + 1, sizeof *p->aux);
    if (!p->inputs || !p->targets || !p->outputs || !p->reports || !p->trainable || !p->grad_offset ||
        !p->opt_grads || !p->param_slot || !p->value || !p->grad || !p->aux) {
        cnn_program_free(p);
        return cnn_fail(CNN_ERR_MEMORY, "out of memory");
    }
    int64_t off = 0;
    for (int k = 0; k < s->n_trainable; k++) {
        p->trainable[k] = s->trainable[k];
        cnn_tensor_retain(s->trainable[k]);
        p->grad_offset[k] = off;
        off += cnn_shape_numel(&s->trainable[k]->shape);
    }
    p->flat_grad_n = off;
    p->flat_grad = cnn_alloc(sizeof(float) * (size_t)(off > 0 ? off : 1));
    if (!p->flat_grad) { cnn_program_free(p); return cnn_fail(CNN_ERR_MEMORY, "out of memory"); }
    for (int i = 0; i < g->n; i++) {
        p->param_slot[i] = -1;
        if (g->nodes[i].kind != NODE_PARAM) continue;
        for (int k = 0; k < s->n_trainable; k++)
            if (g->nodes[i].tensor == s->trainable[k]) p->param_slot[i] = k;
    }
    *out = p;
    return CNN_OK;
}

/* Marks the nodes that the roots depend on. */
static void mark_needed(const cnn_graph *g, node_plan *np, const int *roots, int n_roots) {
    for (int k = 0; k < n_roots; k++) np[roots[k]].needed = 1;
    for (int i = g->n - 1; i >= 0; i--) {
        if (!np[i].needed) continue;
        for (int k = 0; k < g->nodes[i].n_in; k++) np[g->nodes[i].in[k]].needed = 1;
    }
}

/* A buffer to place: `n` floats alive from step `start` to step `end` inclusive. */
typedef struct { int64_t n, start, end, *off; } request;

/* Places buffers first-fit by start time: each goes at the lowest offset that overlaps no
 * buffer alive at the same time. Quadratic, which is fine for graphs of hundreds of nodes. */
static int64_t place(request *r, int nr) {
    int64_t total = 0;
    for (int a = 1; a < nr; a++)  // insertion sort by start
        for (int b = a; b > 0 && r[b].start < r[b - 1].start; b--) {
            request t = r[b]; r[b] = r[b - 1]; r[b - 1] = t;
        }
    for (int a = 0; a < nr; a++) {
        int64_t n = (r[a].n + 15) & ~(int64_t)15;  /* 64-byte aligned offsets */
        int64_t off = 0;
        for (int moved = 1; moved;) {
            moved = 0;
            for (int b = 0; b < a; b++) {
                int overlap_time = r[b].start <= r[a].end && r[a].start <= r[b].end;
                int64_t bo = *r[b].off, bn = (r[b].n + 15) & ~(int64_t)15;
                if (overlap_time && off < bo + bn && bo < off + n) { off = bo + bn; moved = 1; }
            }
        }
        *r[a].off = off;
        if (off + n > total) total = off + n;
    }
    return total;
}

/* Feeds shapes of inputs/targets for this batch into np; fails naming the input. */
static cnn_status feed_shapes(cnn_program *p, node_plan *np, cnn_tensor *const *xs, cnn_tensor *const *ys,
                              int64_t *batch) {
    *batch = -1;
    for (int l = 0; l < 2; l++) {
        int n = l ? p->n_targets : p->n_inputs;
        const int *ids = l ? p->targets : p->inputs;
        cnn_tensor *const *ts = l ? ys : xs;
        if (!ts) continue;
        for (int k = 0; k < n; k++) {
            const cnn_shape *want = &p->g->nodes[ids[k]].sym, *got = &ts[k]->shape;
            int ok = want->ndim == got->ndim;
            for (int d = 0; ok && d < want->ndim; d++) ok = want->dim[d] < 0 || want->dim[d] == got->dim[d];
            if (!ok)
                return cnn_fail(CNN_ERR_SHAPE, "%s %d: expected shape %s, got %s", l ? "target" : "input",
                                k, cnn_shape_fmt(want), cnn_shape_fmt(got));
            if (got->ndim > 0) {
                if (*batch >= 0 && got->dim[0] != *batch)
                    return cnn_fail(CNN_ERR_SHAPE, "%s %d: batch size %lld differs from %lld of the other inputs",
                                    l ? "target" : "input", k, (long long)got->dim[0], (long long)*batch);
                *batch = got->dim[0];
            }
            np[ids[k]].shape = *got;
        }
    }
    return CNN_OK;
}

static cnn_status make_plan(cnn_program *p, mode m, cnn_tensor *const *xs, cnn_tensor *const *ys) {
    const cnn_graph *g = p->g;
    plan *pl = &p->plans[m];
    int64_t batch;
    cnn_status st;
    node_plan *np = calloc((size_t)g->n + 1, sizeof *np);
    request *req = malloc(sizeof *req * (size_t)(3 * g->n + 1));
    if (!np || !req) { free(np); free(req); return cnn_fail(CNN_ERR_MEMORY, "out of memory planning"); }
    if ((st = feed_shapes(p, np, xs, m == MODE_PREDICT ? NULL : ys, &batch))) goto fail;

    if (m == MODE_PREDICT) mark_needed(g, np, p->outputs, p->n_outputs);
    else mark_needed(g, np, p->reports, p->n_reports);
    if (m == MODE_TRAIN && p->loss >= 0) mark_needed(g, np, &p->loss, 1);

    /* Concrete shapes in node order. */
    for (int i = 0; i < g->n; i++) {
        const node *x = &g->nodes[i];
        np[i].value_off = np[i].aux_off = np[i].grad_off = -1;
        np[i].first_grad_writer = -1;
        if (!np[i].needed) continue;
        if (x->kind == NODE_INPUT) {
            if (np[i].shape.ndim == 0 && x->sym.ndim != 0) {
                st = cnn_fail(CNN_ERR_VALUE, "program: input node %d is needed but not fed", i);
                goto fail;
            }
        } else if (x->kind != NODE_OP) {
            np[i].shape = x->tensor->shape;
        } else {
            const cnn_shape *shapes[CNN_MAX_INPUTS];
            for (int k = 0; k < x->n_in; k++) shapes[k] = &np[x->in[k]].shape;
            if ((st = x->def->infer(x->n_in, shapes, &x->attrs, &np[i].shape))) goto fail;
        }
        np[i].numel = cnn_shape_numel(&np[i].shape);
    }

    /* Training: which nodes carry a gradient from the loss to a trainable variable. */
    int train = m == MODE_TRAIN && p->loss >= 0;
    if (train) {
        char *leads = calloc((size_t)g->n + 1, 1);  /* depends on a trainable variable */
        if (!leads) { st = cnn_fail(CNN_ERR_MEMORY, "out of memory"); goto fail; }
        for (int i = 0; i < g->n; i++) {
            const node *x = &g->nodes[i];
            if (x->kind == NODE_PARAM) leads[i] = p->param_slot[i] >= 0;
            else if (x->kind == NODE_OP && !x->def->not_differentiable)
                for (int k = 0; k < x->n_in; k++)
                    if (!((x->def->no_grad_inputs >> k) & 1u) && leads[x->in[k]]) leads[i] = 1;
        }
        np[p->loss].on_path = leads[p->loss];
        for (int i = g->n - 1; i >= 0; i--) {
            const node *x = &g->nodes[i];
            if (!np[i].on_path || x->kind != NODE_OP) continue;
            for (int k = 0; k < x->n_in; k++)
                if (!((x->def->no_grad_inputs >> k) & 1u) && leads[x->in[k]]) {
                    np[x->in[k]].on_path = 1;
                    if (np[x->in[k]].first_grad_writer < 0) np[x->in[k]].first_grad_writer = i;
                }
        }
        free(leads);
    }

    /* Lifetimes: forward step of node i is i; its backward step is 2n-1-i. */
    int nr = 0;
    int64_t last = 2 * (int64_t)g->n;
    int64_t work_n = 0;
    int64_t *last_read = malloc(sizeof(int64_t) * ((size_t)g->n + 1));
    if (!last_read) { st = cnn_fail(CNN_ERR_MEMORY, "out of memory"); goto fail; }
    for (int i = 0; i < g->n; i++) last_read[i] = i;
    for (int i = 0; i < g->n; i++)
        if (np[i].needed && g->nodes[i].kind == NODE_OP)
            for (int k = 0; k < g->nodes[i].n_in; k++)
                if (last_read[g->nodes[i].in[k]] < i) last_read[g->nodes[i].in[k]] = i;
    const int *keep = m == MODE_PREDICT ? p->outputs : p->reports;
    int n_keep = m == MODE_PREDICT ? p->n_outputs : p->n_reports;
    for (int k = 0; k < n_keep; k++) last_read[keep[k]] = last;

    for (int i = 0; i < g->n; i++) {
        const node *x = &g->nodes[i];
        if (!np[i].needed || x->kind != NODE_OP) continue;
        cnn_op_ctx c;
        memset(&c, 0, sizeof c);
        c.attrs = &x->attrs;
        c.n_in = x->n_in;
        for (int k = 0; k < x->n_in; k++) c.in_shape[k] = &np[x->in[k]].shape;
        c.out_shape = np[i].shape;
        c.training = m == MODE_TRAIN;
        int64_t w = x->def->work_size ? x->def->work_size(&c) : 0;
        if (w > work_n) work_n = w;
        np[i].aux_n = x->def->aux_size ? x->def->aux_size(&c) : 0;
        /* Activations live until their last reader, or through backward when training. */
        req[nr++] = (request){np[i].numel, i, train ? last : last_read[i], &np[i].value_off};
        if (np[i].aux_n > 0)
            req[nr++] = (request){np[i].aux_n, i, train ? last : i, &np[i].aux_off};
    }
    if (train) {
        for (int i = 0; i < g->n; i++) {
            if (!np[i].on_path || g->nodes[i].kind != NODE_OP) continue;
            int64_t start = i == p->loss ? g->n : 2 * (int64_t)g->n - 1 - np[i].first_grad_writer;
            req[nr++] = (request){np[i].numel, start, 2 * (int64_t)g->n - 1 - i, &np[i].grad_off};
        }
    }
    free(last_read);
    pl->work_n = work_n;
    req[nr++] = (request){work_n, 0, last, &pl->work_off};
    pl->arena_floats = place(req, nr);
    free(req);
    free(pl->var_unwritten);
    pl->var_unwritten = calloc((size_t)p->n_trainable + 1, 1);
    if (!pl->var_unwritten) { pl->valid = 0; free(np); return cnn_fail(CNN_ERR_MEMORY, "out of memory"); }
    for (int k = 0; k < p->n_trainable; k++) pl->var_unwritten[k] = 1;
    for (int i = 0; i < g->n; i++)
        if (train && g->nodes[i].kind == NODE_PARAM && p->param_slot[i] >= 0 && np[i].on_path)
            pl->var_unwritten[p->param_slot[i]] = 0;
    free(pl->np);
    pl->np = np;
    pl->batch = batch;
    pl->valid = 1;
    if (pl->arena_floats > p->arena_cap) {
        /* Grow once to the largest plan; never shrink inside a training loop. */
        cnn_free(p->arena);
        p->arena = cnn_alloc(sizeof(float) * (size_t)pl->arena_floats);
        if (!p->arena) { p->arena_cap = 0; pl->valid = 0; return cnn_fail(CNN_ERR_MEMORY, "out of memory for the arena"); }
        p->arena_cap = pl->arena_floats;
    }
    return CNN_OK;
fail:
    free(np);
    free(req);
    return st;
}

/* Re-plans when the batch size (or any fed shape) differs from the cached plan. */
static cnn_status ensure_plan(cnn_program *p, mode m, cnn_tensor *const *xs, cnn_tensor *const *ys) {
    plan *pl = &p->plans[m];
    int same = pl->valid;
    for (int k = 0; same && k < p->n_inputs; k++)
        same = cnn_shape_equal(&pl->np[p->inputs[k]].shape, &xs[k]->shape);
    for (int k = 0; same && m != MODE_PREDICT && k < p->n_targets; k++)
        same = cnn_shape_equal(&pl->np[p->targets[k]].shape, &ys[k]->shape);
    if (same) return CNN_OK;
    return make_plan(p, m, xs, ys);
}

/* Points every needed node at its memory for this run. */
static void bind(cnn_program *p, const plan *pl, cnn_tensor *const *xs, cnn_tensor *const *ys, int train) {
    const cnn_graph *g = p->g;
    for (int i = 0; i < g->n; i++) {
        const node *x = &g->nodes[i];
        const node_plan *q = &pl->np[i];
        p->value[i] = p->aux[i] = p->grad[i] = NULL;
        if (!q->needed) continue;
        if (x->kind == NODE_PARAM || x->kind == NODE_CONST) p->value[i] = cnn_tensor_data(x->tensor);
        else if (x->kind == NODE_OP) p->value[i] = p->arena + q->value_off;
        if (q->aux_off >= 0) p->aux[i] = p->arena + q->aux_off;
        if (train && q->on_path) {
            if (x->kind == NODE_OP) p->grad[i] = p->arena + q->grad_off;
            else if (x->kind == NODE_PARAM) p->grad[i] = p->flat_grad + p->grad_offset[p->param_slot[i]];
        }
    }
    for (int k = 0; k < p->n_inputs; k++) p->value[p->inputs[k]] = cnn_tensor_data(xs[k]);
    for (int k = 0; ys && k < p->n_targets; k++) p->value[p->targets[k]] = cnn_tensor_data(ys[k]);
}

static void fill_ctx(const cnn_program *p, const plan *pl, int i, cnn_op_ctx *c, int training, uint64_t seed) {
    const node *x = &p->g->nodes[i];
    memset(c, 0, sizeof *c);
    c->attrs = &x->attrs;
    c->n_in = x->n_in;
    for (int k = 0; k < x->n_in; k++) {
        c->in_shape[k] = &pl->np[x->in[k]].shape;
        c->in[k] = p->value[x->in[k]];
    }
    c->out_shape = pl->np[i].shape;
    c->out = p->value[i];
    c->aux = p->aux[i];
    c->work = p->arena + pl->work_off;
    c->training = training;
    c->seed = cnn_seed_mix(seed, (uint64_t)i);
}

static cnn_status forward(cnn_program *p, const plan *pl, int training, uint64_t seed) {
    for (int i = 0; i < p->g->n; i++) {
        const node *x = &p->g->nodes[i];
        if (!pl->np[i].needed || x->kind != NODE_OP) continue;
        cnn_op_ctx c;
        fill_ctx(p, pl, i, &c, training, seed);
        cnn_status st = x->def->forward(&c);
        if (st) return st;
    }
    return CNN_OK;
}

static cnn_status backward(cnn_program *p, const plan *pl, uint64_t seed) {
    const cnn_graph *g = p->g;
    /* Gradient buffers are zeroed (or, for ops that can, overwritten) by their first writer;
     * variables that no backward reaches get a zero gradient here. */
    for (int k = 0; k < p->n_trainable; k++)
        if (pl->var_unwritten[k])
            memset(p->flat_grad + p->grad_offset[k], 0,
                   sizeof(float) * (size_t)cnn_shape_numel(&p->trainable[k]->shape));
    memset(p->grad[p->loss], 0, sizeof(float) * (size_t)pl->np[p->loss].numel);
    p->grad[p->loss][0] = 1.0f;
    for (int i = g->n - 1; i >= 0; i--) {
        const node *x = &g->nodes[i];
        if (!pl->np[i].on_path || x->kind != NODE_OP) continue;
        cnn_op_ctx c;
        fill_ctx(p, pl, i, &c, 1, seed);
        c.out_grad = p->grad[i];
        for (int k = 0; k < x->n_in; k++) {
            int j = x->in[k];
            if ((x->def->no_grad_inputs >> k) & 1u) continue;
            c.in_grad[k] = p->grad[j];
            if (!c.in_grad[k] || pl->np[j].first_grad_writer != i) continue;
            /* The first writer of a gradient starts it: it overwrites it if the op can and
             * names the input once, else the buffer is zeroed for it to add into. */
            int uses = 0;
            for (int q = 0; q < x->n_in; q++) uses += x->in[q] == j;
            int seen = 0;
            for (int q = 0; q < k; q++) seen |= x->in[q] == j;
            if (x->def->overwrites_fresh_grads && uses == 1) c.grad_fresh |= 1u << k;
            else if (!seen) memset(c.in_grad[k], 0, sizeof(float) * (size_t)pl->np[j].numel);
        }
        cnn_status st = x->def->backward(&c);
        if (st) return st;
    }
    return CNN_OK;
}

/* Reports are fixed-size values (scalars, or per-threshold counts), laid end to end. */
static void read_reports(const cnn_program *p, float *reports) {
    for (int k = 0; k < p->n_reports; k++) {
        int64_t n = cnn_shape_numel(&p->g->nodes[p->reports[k]].sym);
        memcpy(reports, p->value[p->reports[k]], sizeof(float) * (size_t)n);
        reports += n;
    }
}

cnn_status cnn_program_output_shape(cnn_program *p, cnn_tensor *const *xs, int k, cnn_shape *shape) {
    cnn_status st = ensure_plan(p, MODE_PREDICT, xs, NULL);
    if (st) return st;
    *shape = p->plans[MODE_PREDICT].np[p->outputs[k]].shape;
    return CNN_OK;
}

static cnn_status cnn_program_predict_body(cnn_program *p, cnn_tensor *const *xs, float *const *outs) {
    cnn_status st = ensure_plan(p, MODE_PREDICT, xs, NULL);
    if (st) return st;
    const plan *pl = &p->plans[MODE_PREDICT];
    bind(p, pl, xs, NULL, 0);
    if ((st = forward(p, pl, 0, 0))) return st;
    for (int k = 0; k < p->n_outputs; k++)
        if (pl->np[p->outputs[k]].numel > 0)  /* an empty batch has no buffers to copy */
            memcpy(outs[k], p->value[p->outputs[k]], sizeof(float) * (size_t)pl->np[p->outputs[k]].numel);
    return CNN_OK;
}

cnn_status cnn_program_predict(cnn_program *p, cnn_tensor *const *xs, float *const *outs) {
    unsigned fp = cnn_fp_enter();
    cnn_status st = cnn_program_predict_body(p, xs, outs);
    cnn_fp_leave(fp);
    return st;
}

static cnn_status cnn_program_evaluate_body(cnn_program *p, cnn_tensor *const *xs, cnn_tensor *const *ys, float *reports) {
    cnn_status st = ensure_plan(p, MODE_EVALUATE, xs, ys);
    if (st) return st;
    const plan *pl = &p->plans[MODE_EVALUATE];
    bind(p, pl, xs, ys, 0);
    if ((st = forward(p, pl, 0, 0))) return st;
    read_reports(p, reports);
    return CNN_OK;
}

cnn_status cnn_program_evaluate(cnn_program *p, cnn_tensor *const *xs, cnn_tensor *const *ys, float *reports) {
    unsigned fp = cnn_fp_enter();
    cnn_status st = cnn_program_evaluate_body(p, xs, ys, reports);
    cnn_fp_leave(fp);
    return st;
}

static cnn_status cnn_program_train_step_body(cnn_program *p, cnn_tensor *const *xs, cnn_tensor *const *ys,
                                              cnn_optimizer *opt, uint64_t seed, float *reports) {
    if (p->loss < 0) return cnn_fail(CNN_ERR_VALUE, "train_step: the program has no loss");
    cnn_status st = ensure_plan(p, MODE_TRAIN, xs, ys);
    if (st) return st;
    const plan *pl = &p->plans[MODE_TRAIN];
    bind(p, pl, xs, ys, 1);
    if ((st = forward(p, pl, 1, seed))) return st;
    read_reports(p, reports);
    if (pl->np[p->loss].on_path) {
        if ((st = backward(p, pl, seed))) return st;
        for (int k = 0; k < p->n_trainable; k++) p->opt_grads[k] = p->flat_grad + p->grad_offset[k];
        if (opt && (st = cnn_optimizer_apply(opt, p->n_trainable, p->trainable, p->opt_grads))) return st;
    }
    return CNN_OK;
}

cnn_status cnn_program_train_step(cnn_program *p, cnn_tensor *const *xs, cnn_tensor *const *ys,
                                  cnn_optimizer *opt, uint64_t seed, float *reports) {
    unsigned fp = cnn_fp_enter();
    cnn_status st = cnn_program_train_step_body(p, xs, ys, opt, seed, reports);
    cnn_fp_leave(fp);
    return st;
}
