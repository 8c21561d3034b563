/* rnn_common.c: the parts of the fused recurrent ops that do not depend on the cell:
 * attribute and shape checks, buffer layout, input projection with dropout, masks, the
 * emitted final states, and the gradients of the inputs (see rnn_common.h). */
#include <string.h>

#include "blas.h"
#include "gemm.h"
#include "parallel.h"
#include "rnn_common.h"
#include "small_gemm.h"

/* OpenBLAS sends products of up to 1e6 multiply-adds to its small-matrix kernels (no
 * packing, never threaded); one LSTM step (64 x 256 x 64) is just past that, and on the
 * packed path with 2 threads each of the 150 per-step products pays a thread hand-off
 * (LSTM training went from 6 ms at 1 thread to 9.5 ms at 2). Column blocks keep each
 * per-step call small. */
#define RNN_SMALL_GEMM 1000000

void rnn_gemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, const float *a,
              int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    if (!trans_b && cnn_small_sgemm_available()) {  // faster still at these sizes (small_gemm.c)
        cnn_small_sgemm(trans_a, m, n, k, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    int64_t step = n;
    if (m * n * k > RNN_SMALL_GEMM && m * k > 0)
        step = (RNN_SMALL_GEMM / (m * k)) / 16 * 16;
    if (step < 16) step = n;
    for (int64_t j = 0; j < n; j += step) {
        int64_t w = n - j < step ? n - j : step;
        const float *bj = trans_b ? b + j * ldb : b + j;
        cnn_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                  trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)w, (int)k, 1.0f, a,
                  (int)lda, bj, (int)ldb, beta, c + j, (int)ldc);
    }
}

/* The kernel gradients' products, dW (m, n) += A^T (m, K) . B (K, n) over all N*T rows: with
 * the small-matrix kernel, blocks of 32 columns split across the engine's threads (every
 * element is still one ordered sum, whatever the split); otherwise one threaded OpenBLAS
 * call. */
typedef struct {
    int64_t m, n, k, lda, ldb;
    const float *a, *b;
    float *c;
} tn_job;

static void tn_columns(void *arg, int64_t j0, int64_t j1, int part) {
    (void)part;
    const tn_job *job = arg;
    int64_t c0 = j0 * 32, c1 = j1 * 32 < job->n ? j1 * 32 : job->n;
    cnn_small_sgemm(1, job->m, c1 - c0, job->k, job->a, job->lda, job->b + c0, job->ldb, 1.0f,
                    job->c + c0, job->n);
}

static void rnn_gemm_tn_accumulate(int64_t m, int64_t n, int64_t k, const float *a,
                                   int64_t lda, const float *b, int64_t ldb, float *c) {
    if (!cnn_small_sgemm_available()) {
        cnn_gemm(1, 0, m, n, k, 1.0f, a,
                  lda, b, ldb, 1.0f, c, n);
        return;
    }
    tn_job job = {m, n, k, lda, ldb, a, b, c};
    cnn_parallel_for((n + 31) / 32, 2, tn_columns, &job);
}

typedef struct {
    int back, act, ract, flags;
    int64_t seed;
    double drop, rdrop;
} rnn_attrs;

static rnn_attrs read_attrs(const cnn_attrs *a, int n_in) {
    rnn_attrs r = {
        a->n_int > 0 ? (int)a->i[0] : 0,
        a->n_int > 1 ? (int)a->i[1] : RNN_TANH,
        a->n_int > 2 ? (int)a->i[2] : RNN_SIGMOID,
        a->n_int > 3 ? (int)a->i[3] : (n_in > 3 ? RNN_HAS_BIAS : 0),
        a->n_int > 4 ? a->i[4] : 0,
        a->n_float > 0 ? a->f[0] : 0.0,
        a->n_float > 1 ? a->f[1] : 0.0,
    };
    return r;
}

static int n_states(rnn_cell cell) { return cell == CELL_LSTM ? 2 : 1; }
static int n_gates(rnn_cell cell) { return cell == CELL_LSTM ? 4 : cell == CELL_GRU ? 3 : 1; }

static int input_count(rnn_cell cell, int flags) {
    return 3 + !!(flags & RNN_HAS_BIAS) + (flags & RNN_HAS_STATE ? n_states(cell) : 0) +
           !!(flags & RNN_HAS_MASK);
}

/* The layout a message names: "x (N, T, F), kernel (F, 4u), ..." for this cell. */
static const char *layout(rnn_cell cell, int flags) {
    switch (cell) {
    case CELL_LSTM: return "x (N, T, F), kernel (F, 4u), recurrent_kernel (u, 4u), bias (4u)";
    case CELL_GRU:
        return flags & RNN_RESET_BEFORE
                   ? "x (N, T, F), kernel (F, 3u), recurrent_kernel (u, 3u), bias (3u)"
                   : "x (N, T, F), kernel (F, 3u), recurrent_kernel (u, 3u), bias (2, 3u)";
    default: return "x (N, T, F), kernel (F, u), recurrent_kernel (u, u), bias (u)";
    }
}

static int bias_fits(rnn_cell cell, int flags, const cnn_shape *b, int64_t g) {
    if (cell == CELL_GRU && !(flags & RNN_RESET_BEFORE))
        return b->ndim == 2 && b->dim[0] == 2 && b->dim[1] == g;
    return b->ndim == 1 && b->dim[0] == g;
}

static int batch_fits(int64_t a, int64_t b) { return a == -1 || b == -1 || a == b; }

cnn_status rnn_infer(rnn_cell cell, const char *op, int n_in, const cnn_shape *const *in,
                     const cnn_attrs *a, cnn_shape *out) {
    rnn_attrs at = read_attrs(a, n_in);
    if (a->n_int > 5 || (at.back != 0 && at.back != 1))
        return cnn_fail(CNN_ERR_VALUE, "%s: ints are [go_backwards, activation, "
                        "recurrent_activation, flags, seed] with go_backwards 0 or 1", op);
    for (int k = 1; k < 3 && k < a->n_int; k++)
        if (a->i[k] < 0 || a->i[k] >= RNN_N_ACT)
            return cnn_fail(CNN_ERR_VALUE, "%s: unknown activation code %lld (0 tanh, 1 sigmoid, "
                            "2 relu, 3 linear, 4 hard_sigmoid)", op, (long long)a->i[k]);
    if (at.flags < 0 || at.flags > RNN_ALL_FLAGS ||
        (cell != CELL_GRU && (at.flags & RNN_RESET_BEFORE)))
        return cnn_fail(CNN_ERR_VALUE, "%s: unknown flags %d (ints[3]: 1 bias, 2 initial state, "
                        "4 mask, 8 emit states, 16 zero masked outputs%s)", op, at.flags,
                        cell == CELL_GRU ? ", 32 reset before" : "");
    if (a->n_float > 2 || at.drop < 0 || at.drop > 1 || at.rdrop < 0 || at.rdrop > 1)
        return cnn_fail(CNN_ERR_VALUE, "%s: floats are [dropout, recurrent_dropout], each in "
                        "[0, 1]", op);
    if ((at.flags & RNN_WRITE_STATES) && !(at.flags & RNN_HAS_STATE))
        return cnn_fail(CNN_ERR_VALUE, "%s: flag 64 (write the final states back) needs the "
                        "initial states (flag 2)", op);
    if (n_in != input_count(cell, at.flags))
        return cnn_fail(CNN_ERR_VALUE, "%s: flags %d announce %d inputs, got %d", op, at.flags,
                        input_count(cell, at.flags), n_in);
    const cnn_shape *x = in[0], *w = in[1], *r = in[2];
    int k = 3;
    const cnn_shape *b = at.flags & RNN_HAS_BIAS ? in[k++] : NULL;
    int bias_ndim = cell == CELL_GRU && !(at.flags & RNN_RESET_BEFORE) ? 2 : 1;
    if (x->ndim != 3 || w->ndim != 2 || r->ndim != 2 || (b && b->ndim != bias_ndim))
        return cnn_fail(CNN_ERR_SHAPE, "%s: needs %s; got x %s, kernel %s, recurrent_kernel %s%s%s",
                        op, layout(cell, at.flags), cnn_shape_fmt(x), cnn_shape_fmt(w),
                        cnn_shape_fmt(r), b ? ", bias " : "", b ? cnn_shape_fmt(b) : "");
    int64_t u = r->dim[0], g = n_gates(cell) * u;
    if (u < 0 || w->dim[0] < 0 || w->dim[1] != g || r->dim[1] != g ||
        (x->dim[2] != -1 && x->dim[2] != w->dim[0]) || (b && !bias_fits(cell, at.flags, b, g)))
        return cnn_fail(CNN_ERR_SHAPE, "%s: shapes do not fit %s: x %s, kernel %s, "
                        "recurrent_kernel %s%s%s", op, layout(cell, at.flags), cnn_shape_fmt(x),
                        cnn_shape_fmt(w), cnn_shape_fmt(r), b ? ", bias " : "",
                        b ? cnn_shape_fmt(b) : "");
    if (at.flags & RNN_HAS_STATE)
        for (int s = 0; s < n_states(cell); s++, k++) {
            const cnn_shape *h = in[k];
            if (h->ndim != 2 || h->dim[1] != u || !batch_fits(h->dim[0], x->dim[0]))
                return cnn_fail(CNN_ERR_SHAPE, "%s: initial state %d must be (N, u) = (%lld, %lld) "
                                "for x %s; got %s", op, s, (long long)x->dim[0], (long long)u,
                                cnn_shape_fmt(x), cnn_shape_fmt(h));
        }
    if (at.flags & RNN_HAS_MASK) {
        const cnn_shape *m = in[k];
        if (m->ndim != 2 || !batch_fits(m->dim[0], x->dim[0]) || m->dim[1] != x->dim[1])
            return cnn_fail(CNN_ERR_SHAPE, "%s: mask must be (N, T) = (%lld, %lld) for x %s; got %s",
                            op, (long long)x->dim[0], (long long)x->dim[1], cnn_shape_fmt(x),
                            cnn_shape_fmt(m));
    }
    *out = *x;
    out->dim[1] = x->dim[1] + (at.flags & RNN_EMIT_STATES ? n_states(cell) : 0);
    out->dim[2] = u;
    return CNN_OK;
}

/* Floats the cell keeps from forward to backward before the states H (with a mask). */
static int64_t cell_aux(rnn_cell cell, int64_t n, int64_t t, int64_t u) {
    // lstm: gates (4u), cell states and their activations; gru: gates and q_h or r h_{s-1}
    return cell == CELL_LSTM ? n * t * 6 * u : cell == CELL_GRU ? n * t * 4 * u : 0;
}

rnn_run rnn_setup(cnn_op_ctx *c, rnn_cell cell) {
    rnn_attrs a = read_attrs(c->attrs, c->n_in);
    const cnn_shape *xs = c->in_shape[0];
    rnn_run r;
    memset(&r, 0, sizeof r);
    r.cell = cell;
    r.n = xs->dim[0], r.t = xs->dim[1], r.f = xs->dim[2], r.u = c->in_shape[2]->dim[0];
    r.g = n_gates(cell) * r.u;
    r.back = a.back, r.act = a.act, r.ract = cell == CELL_SIMPLE ? RNN_LINEAR : a.ract;
    r.flags = a.flags, r.ns = n_states(cell);
    r.emit = a.flags & RNN_EMIT_STATES ? r.ns : 0;
    r.x = c->in[0], r.w = c->in[1], r.rk = c->in[2];
    r.h0_in = r.c0_in = -1;
    int k = 3;
    if (a.flags & RNN_HAS_BIAS) r.bias = c->in[k++];
    if (a.flags & RNN_HAS_STATE) {
        r.h0_in = k, r.h0 = c->in[k++];
        if (cell == CELL_LSTM) r.c0_in = k, r.c0 = c->in[k++];
    }
    if (a.flags & RNN_HAS_MASK) r.mask = c->in[k++];
    r.drop = c->training && a.drop > 0 && a.drop < 1 ? (float)a.drop : 0.0f;
    r.rdrop = c->training && a.rdrop > 0 && a.rdrop < 1 ? (float)a.rdrop : 0.0f;
    uint64_t base = a.seed ? cnn_seed_mix(c->seed, (uint64_t)a.seed) : c->seed;
    r.seed_x = cnn_seed_mix(base, 1), r.seed_r = cnn_seed_mix(base, 2);
    r.y = c->out, r.dy = c->out_grad, r.ystride = (r.t + r.emit) * r.u;
    float *tail = c->aux + cell_aux(cell, r.n, r.t, r.u);  // after the cell's own aux
    if (r.mask) r.hs = tail, r.hstride = r.t * r.u, tail += r.n * r.t * r.u;
    else r.hs = c->out, r.hstride = r.ystride;
    if (a.flags & RNN_WRITE_STATES) {  // h0 / c0 read this call's saved copies
        r.saved = tail;
        r.h0 = tail;
        if (cell == CELL_LSTM) r.c0 = tail + r.n * r.u;
    }
    return r;
}

rnn_run rnn_slice(const rnn_run *r, int64_t i0, int64_t i1) {
    rnn_run s = *r;
    int64_t T = r->t, u = r->u;
    s.n = i1 - i0, s.i0 = r->i0 + i0;
    s.x = r->x + i0 * T * r->f;
    if (r->h0) s.h0 = r->h0 + i0 * u;
    if (r->c0) s.c0 = r->c0 + i0 * u;
    if (r->mask) s.mask = r->mask + i0 * T;
    s.y = r->y + i0 * r->ystride, s.hs = r->hs + i0 * r->hstride;
    if (r->dy) s.dy = r->dy + i0 * r->ystride;
    s.saved = NULL;  // the states are kept and written for the whole call, not per slice
    return s;
}

rnn_work rnn_work_slice(const rnn_run *r, const rnn_work *w, int64_t i0) {
    int64_t T = r->t, u = r->u;
    rnn_work s = *w;
    s.big = w->big + i0 * T * r->g, s.hprev = w->hprev + i0 * T * u, s.q = w->q + i0 * r->g;
    s.dh = w->dh + i0 * u, s.carry = w->carry + i0 * u, s.dc = w->dc + i0 * u;
    s.hd = w->hd + i0 * u, s.tmp = w->tmp + i0 * u, s.first = w->first + i0;
    s.xd = w->xd + i0 * T * r->f;
    return s;
}

int64_t rnn_aux_size(const cnn_op_ctx *c, rnn_cell cell) {
    rnn_attrs a = read_attrs(c->attrs, c->n_in);
    int64_t n = c->in_shape[0]->dim[0], t = c->in_shape[0]->dim[1], u = c->in_shape[2]->dim[0];
    return cell_aux(cell, n, t, u) + (a.flags & RNN_HAS_MASK ? n * t * u : 0) +
           (a.flags & RNN_WRITE_STATES ? n_states(cell) * n * u : 0);
}

static int64_t work_floats(int64_t n, int64_t t, int64_t f, int64_t u, int64_t g, int drop) {
    return n * t * g + n * t * u + g * u + n * g + 5 * n * u + n + (drop ? n * t * f : 0);
}

int64_t rnn_work_size(const cnn_op_ctx *c, rnn_cell cell) {
    rnn_attrs a = read_attrs(c->attrs, c->n_in);
    const cnn_shape *x = c->in_shape[0];
    int64_t u = c->in_shape[2]->dim[0];
    return work_floats(x->dim[0], x->dim[1], x->dim[2], u, n_gates(cell) * u, a.drop > 0);
}

rnn_work rnn_work_split(const rnn_run *r, float *work) {
    int64_t nu = r->n * r->u;
    rnn_work w;
    w.big = work, w.hprev = w.big + r->n * r->t * r->g, w.rkt = w.hprev + r->n * r->t * r->u;
    w.q = w.rkt + r->g * r->u, w.dh = w.q + r->n * r->g;
    w.carry = w.dh + nu, w.dc = w.carry + nu, w.hd = w.dc + nu, w.tmp = w.hd + nu;
    w.first = w.tmp + nu, w.xd = w.first + r->n;
    return w;
}

/* Keep factor of dropout element `index`: 1 / (1 - rate), or 0 when dropped. */
static inline float keep(uint64_t seed, float rate, int64_t index) {
    return cnn_rand_uniform(seed, (uint64_t)index) >= rate ? 1.0f / (1.0f - rate) : 0.0f;
}

const float *rnn_rec_input(const rnn_run *r, int64_t s, float *buf, int64_t *ld) {
    const float *h = rnn_prev_h(r, s, ld);
    if (!h || r->rdrop == 0.0f) return h;
    for (int64_t i = 0; i < r->n; i++)
        for (int64_t j = 0; j < r->u; j++)
            buf[i * r->u + j] =
                h[i * *ld + j] * keep(r->seed_r, r->rdrop, (r->i0 + i) * r->u + j);
    *ld = r->u;
    return buf;
}

void rnn_rec_mask_grad(const rnn_run *r, float *m) {
    if (r->rdrop == 0.0f) return;
    for (int64_t k = 0; k < r->n * r->u; k++)
        m[k] *= keep(r->seed_r, r->rdrop, r->i0 * r->u + k);
}

/* x times the input dropout mask (one (N, F) mask for every step) into xd. */
static void drop_inputs(const rnn_run *r, float *xd) {
    int64_t T = r->t, F = r->f;
    for (int64_t i = 0; i < r->n; i++)
        for (int64_t t = 0; t < T; t++)
            for (int64_t f = 0; f < F; f++)
                xd[(i * T + t) * F + f] = r->x[(i * T + t) * F + f] * keep(r->seed_x, r->drop, i * F + f);
}

void rnn_project(const rnn_run *r, float *dst, const rnn_work *wk) {
    int64_t rows = r->n * r->t;
    if (r->f == 0) {
        memset(dst, 0, sizeof(float) * (size_t)(rows * r->g));
        return;
    }
    const float *x = r->x;
    if (r->drop > 0.0f) drop_inputs(r, wk->xd), x = wk->xd;
    // dst (N*T, G) = x (N*T, F) . kernel (F, G). With a few features OpenBLAS is bound by its
    // zeroing pass over dst; the small-matrix kernel writes dst once.
    if (r->f <= 16 && cnn_small_sgemm_available()) {
        cnn_small_sgemm(0, rows, r->g, r->f, x, r->f, r->w, r->g, 0.0f, dst, r->g);
        return;
    }
    cnn_gemm(0, 0, rows, r->g, r->f, 1.0f,
              x, r->f, r->w, r->g, 0.0f, dst, r->g);
}

static void copy_or_zero(float *dst, const float *src, int64_t n) {
    if (src) memcpy(dst, src, sizeof(float) * (size_t)n);
    else memset(dst, 0, sizeof(float) * (size_t)n);
}

void rnn_carry_state(const rnn_run *r, int64_t s, int64_t i, float *hr, float *cr, const float *cell) {
    int64_t ld, u = r->u;
    const float *hp = rnn_prev_h(r, s, &ld);
    copy_or_zero(hr, rnn_row(hp, ld, i), u);
    if (cr) copy_or_zero(cr, s > 0 ? cell + (i * r->t + s - 1) * u : rnn_row(r->c0, u, i), u);
}

void rnn_finish(const rnn_run *r, const float *cell) {
    int64_t T = r->t, u = r->u;
    for (int64_t i = 0; i < r->n; i++) {
        float *yr = r->y + i * r->ystride;
        const float *hr = r->hs + i * r->hstride;
        if (r->mask) {
            int seen = 0;
            for (int64_t s = 0; s < T; s++) {
                int v = rnn_valid(r, i, rnn_time(r, s));
                seen |= v;
                copy_or_zero(yr + s * u, (r->flags & RNN_ZERO_MASKED ? v : seen) ? hr + s * u : NULL, u);
            }
        }
        if (!r->emit) continue;
        copy_or_zero(yr + T * u, T > 0 ? hr + (T - 1) * u : rnn_row(r->h0, u, i), u);
        if (r->ns == 2)
            copy_or_zero(yr + (T + 1) * u, T > 0 ? cell + (i * T + T - 1) * u : rnn_row(r->c0, u, i), u);
    }
}

void rnn_keep_states(const rnn_run *r, cnn_op_ctx *c) {
    if (!r->saved) return;
    size_t bytes = sizeof(float) * (size_t)(r->n * r->u);
    memcpy(r->saved, c->in[r->h0_in], bytes);
    if (r->c0_in >= 0) memcpy(r->saved + r->n * r->u, c->in[r->c0_in], bytes);
}

void rnn_write_states(const rnn_run *r, cnn_op_ctx *c, const float *cell) {
    if (!r->saved) return;
    int64_t T = r->t, u = r->u;
    // The state inputs are variables this op owns the update of, as batch_norm's moving
    // statistics: nothing else reads them during the call (their copies are in aux).
    float *h = (float *)c->in[r->h0_in], *cs = r->c0_in >= 0 ? (float *)c->in[r->c0_in] : NULL;
    for (int64_t i = 0; i < r->n; i++) {
        copy_or_zero(h + i * u, T > 0 ? r->hs + i * r->hstride + (T - 1) * u : r->h0 + i * u, u);
        if (cs)
            copy_or_zero(cs + i * u, T > 0 ? cell + (i * T + T - 1) * u : r->c0 + i * u, u);
    }
}

void rnn_backward_init(const rnn_run *r, const rnn_work *wk) {
    int64_t T = r->t, u = r->u;
    for (int64_t i = 0; i < r->n; i++) {
        const float *de = r->dy + i * r->ystride + T * u;  // the emitted states' gradients
        copy_or_zero(wk->carry + i * u, r->emit ? de : NULL, u);
        if (r->ns == 2) copy_or_zero(wk->dc + i * u, r->emit ? de + u : NULL, u);
        wk->first[i] = (float)T;
        for (int64_t s = 0; r->mask && s < T; s++)
            if (rnn_valid(r, i, rnn_time(r, s))) { wk->first[i] = (float)s; break; }
    }
    for (int64_t j = 0; j < u; j++)
        for (int64_t k = 0; k < r->g; k++) wk->rkt[k * u + j] = r->rk[j * r->g + k];
}

CNN_HOT void rnn_state_grad(const rnn_run *r, int64_t s, const rnn_work *wk) {
    int64_t u = r->u, t = rnn_time(r, s);
    for (int64_t i = 0; i < r->n; i++) {
        const float *dyr = r->dy + i * r->ystride + s * u, *cr = wk->carry + i * u;
        float *dhr = wk->dh + i * u;
        int from_h = !r->mask || (r->flags & RNN_ZERO_MASKED ? rnn_valid(r, i, t)
                                                              : s >= (int64_t)wk->first[i]);
        if (from_h)
            for (int64_t j = 0; j < u; j++) dhr[j] = dyr[j] + cr[j];
        else
            memcpy(dhr, cr, sizeof(float) * (size_t)u);
    }
}

void rnn_input_grads(const rnn_run *r, cnn_op_ctx *c, const float *dz, const rnn_work *wk) {
    int64_t rows = r->n * r->t, F = r->f, G = r->g;
    float *dx = c->in_grad[0], *dw = c->in_grad[1];
    if (F == 0 || rows == 0) return;
    if (dw) {  // dkernel (F, G) += x^T (F, N*T) . dz (N*T, G), x with its dropout mask
        const float *x = r->x;
        if (r->drop > 0.0f) drop_inputs(r, wk->xd), x = wk->xd;
        rnn_gemm_tn_accumulate(F, G, rows, x, F, dz, G, dw);
    }
    if (!dx) return;
    if (r->drop == 0.0f) {  // dx (N*T, F) += dz (N*T, G) . kernel^T (G, F)
        cnn_gemm(0, 1, rows, F, G, 1.0f, dz,
                  G, r->w, G, 1.0f, dx, F);
        return;
    }
    cnn_gemm(0, 1, rows, F, G, 1.0f, dz,
              G, r->w, G, 0.0f, wk->xd, F);
    for (int64_t i = 0; i < r->n; i++)
        for (int64_t t = 0; t < r->t; t++)
            for (int64_t f = 0; f < F; f++) {
                int64_t k = (i * r->t + t) * F + f;
                dx[k] += wk->xd[k] * keep(r->seed_x, r->drop, i * F + f);
            }
}

CNN_HOT void rnn_sum_rows(const float *dz, int64_t rows, int64_t g, int64_t ld, float *db) {
    for (int64_t k = 0; k < rows; k++)
        for (int64_t j = 0; j < g; j++) db[j] += dz[k * ld + j];
}

void rnn_state_input_grads(const rnn_run *r, cnn_op_ctx *c, const rnn_work *wk) {
    int64_t nu = r->n * r->u;
    float *dh0 = r->h0_in >= 0 ? c->in_grad[r->h0_in] : NULL;
    float *dc0 = r->c0_in >= 0 ? c->in_grad[r->c0_in] : NULL;
    if (dh0)
        for (int64_t k = 0; k < nu; k++) dh0[k] += wk->carry[k];
    if (dc0)
        for (int64_t k = 0; k < nu; k++) dc0[k] += wk->dc[k];
}

void rnn_recurrent_carry(const rnn_run *r, int64_t s, const float *dzs, int64_t ldz, const rnn_work *wk) {
    if (s == 0 && !r->h0) return;  // nothing upstream of the first step
    // carry (N, u) = dz_s (N, G) . recurrent_kernel^T (G, u), through the recurrent mask
    rnn_gemm(0, 0, r->n, r->u, r->g, dzs, ldz, wk->rkt, r->u, 0.0f, wk->carry, r->u);
    rnn_rec_mask_grad(r, wk->carry);
    if (!r->mask) return;
    int64_t t = rnn_time(r, s), u = r->u;
    for (int64_t i = 0; i < r->n; i++)  // a masked step hands its state gradient straight on
        if (!rnn_valid(r, i, t))
            for (int64_t j = 0; j < u; j++) wk->carry[i * u + j] += wk->dh[i * u + j];
}

int rnn_rk_grad_from_states(const rnn_run *r) {
    return r->rdrop == 0.0f && cnn_small_sgemm_available();
}

void rnn_keep_rec_input(const rnn_run *r, int64_t s, const rnn_work *wk) {
    if (rnn_rk_grad_from_states(r)) return;
    int64_t ld, u = r->u, t = rnn_time(r, s);
    const float *hp = rnn_rec_input(r, s, wk->hd, &ld);
    for (int64_t i = 0; i < r->n; i++)
        copy_or_zero(wk->hprev + (i * r->t + t) * u, rnn_row(hp, ld, i), u);
}

/* Columns [32 j0, 32 j1) of the kernel gradient straight from the saved states: per sample,
 * H rows 0 .. T-2 against dz at the input times of steps 1 .. T-1 (descending rows under
 * go_backwards: a negative stride), then h0 against every sample's first step. */
typedef struct {
    const rnn_run *r;
    const float *dz;
    float *drk;
} rk_job;

static void rk_columns(void *arg, int64_t j0, int64_t j1, int part) {
    (void)part;
    const rk_job *job = arg;
    const rnn_run *r = job->r;
    int64_t T = r->t, u = r->u, g = r->g, c0 = j0 * 32, c1 = j1 * 32 < g ? j1 * 32 : g;
    int64_t step_rows = r->back ? -g : g;  // dz's row stride from step s to s + 1
    if (T > 1)  // every sample's product in one pass (C loaded and stored once per chain)
        cnn_small_sgemm_batch(1, u, c1 - c0, T - 1, r->hs, u, r->hstride,
                              job->dz + rnn_time(r, 1) * g + c0, step_rows, T * g, r->n, 1.0f,
                              job->drk + c0, g);
    if (r->h0)
        cnn_small_sgemm(1, u, c1 - c0, r->n, r->h0, u, job->dz + rnn_time(r, 0) * g + c0, T * g,
                        1.0f, job->drk + c0, g);
}

void rnn_recurrent_kernel_grad(const rnn_run *r, cnn_op_ctx *c, const float *dz,
                               const rnn_work *wk) {
    float *drk = c->in_grad[2];
    int64_t rows = r->n * r->t;
    if (!drk || rows == 0) return;
    if (rnn_rk_grad_from_states(r)) {
        rk_job job = {r, dz, drk};
        cnn_parallel_for((r->g + 31) / 32, 2, rk_columns, &job);
        return;
    }
    rnn_gemm_tn_accumulate(r->u, r->g, rows, wk->hprev, r->u, dz, r->g, drk);  // one product
}
