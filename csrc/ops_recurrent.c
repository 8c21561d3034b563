/* ops_recurrent.c: fused recurrent layers, one op over a whole sequence. The call layout
 * (optional bias, initial states, mask, emitted final states, dropout) is shared and
 * documented in rnn_common.h; this file holds the three cells.
 *
 * lstm: kernel (F, 4u), recurrent_kernel (u, 4u), bias (4u); Keras's gate order i, f, c, o:
 *   z = x_t kernel + h_{s-1} recurrent_kernel + bias,
 *   i = ract(z_i), f = ract(z_f), g = act(z_c), o = ract(z_o),
 *   c_s = f c_{s-1} + i g,  h_s = o act(c_s).
 *   aux: the activated gates (N, T, 4u, input-time order), the cell states (N, T, u,
 *   step order).
 *
 * gru: kernel (F, 3u), recurrent_kernel (u, 3u), gate order z, r, h. Keras 3's default
 *   reset_after = True, bias (2, 3u) (row 0 input, row 1 recurrent):
 *     xp = x_t kernel + bias[0],  q = h_{s-1} recurrent_kernel + bias[1],
 *     z = ract(xp_z + q_z), r = ract(xp_r + q_r), hh = act(xp_h + r q_h).
 *   RNN_RESET_BEFORE (reset_after = False), bias (3u), the reset gate before the product:
 *     z = ract(xp_z + h_{s-1} rk_z), r = ract(xp_r + h_{s-1} rk_r),
 *     hh = act(xp_h + (r h_{s-1}) rk_h).
 *   Both: h_s = z h_{s-1} + (1 - z) hh. aux: the gates z, r, hh (N, T, 3u, input-time
 *   order), then q_h (reset after) or r h_{s-1} (reset before) (N, T, u, step order).
 *
 * simple_rnn: kernel (F, u), recurrent_kernel (u, u), bias (u):
 *   h_s = act(x_t kernel + h_{s-1} recurrent_kernel + bias). No aux of its own: backward
 *   differentiates act from the state itself.
 *
 * Every cell: one sgemm projects the inputs of all steps at once, one (two for gru with the
 * reset before) per step adds the recurrent term, and backward runs BPTT inside the op.
 */

/* The gate loops select with float compares (clamps, tanh's small-argument branch); under
 * GCC's default -ftrapping-math a compare may raise FE_INVALID, so GCC will not turn those
 * selects into vector blends and the loops stay scalar. Nothing here reads FP flags.
 * Before the includes, so rnn_common.h's inline gate maths gets it too. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#include <string.h>

#include "blas.h"
#include "parallel.h"
#include "rnn_common.h"

/* ---- lstm -------------------------------------------------------------------------- */

static cnn_status lstm_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    return rnn_infer(CELL_LSTM, "lstm", n, in, a, out);
}
static int64_t lstm_aux_size(const cnn_op_ctx *c) { return rnn_aux_size(c, CELL_LSTM); }
static int64_t lstm_work_size(const cnn_op_ctx *c) { return rnn_work_size(c, CELL_LSTM); }

/* One sample's step: the gates z (the projections on entry, the activated gates on exit),
 * the cell state c, its activation tanh(c) (kept for backward, which would otherwise
 * compute it again) and h. The activations run one gate at a time, the bias added on the
 * way, then the state update. */
RNN_INLINE void lstm_act_loop(int kind, int64_t n, float *restrict z, const float *restrict b) {
    if (b)
        for (int64_t j = 0; j < n; j++) z[j] = act_fwd(kind, z[j] + b[j]);
    else
        for (int64_t j = 0; j < n; j++) z[j] = act_fwd(kind, z[j]);
}

RNN_INLINE void lstm_state_impl(int act, int64_t u, const float *restrict ig,
                                const float *restrict fg, const float *restrict gg,
                                const float *restrict og, const int has_cp,
                                const float *restrict cp, float *restrict cr,
                                float *restrict tcr, float *restrict hr) {
    for (int64_t j = 0; j < u; j++) {
        float cv = ig[j] * gg[j] + fg[j] * (has_cp ? cp[j] : 0.0f), tc = act_fwd(act, cv);
        cr[j] = cv;
        tcr[j] = tc;
        hr[j] = og[j] * tc;
    }
}

RNN_INLINE void lstm_row_fwd(int act, int ract, int64_t u, float *zr, const float *b,
                             const float *cp, float *cr, float *tcr, float *hr) {
    lstm_act_loop(ract, 2 * u, zr, b);                           // i, f
    lstm_act_loop(act, u, zr + 2 * u, b ? b + 2 * u : NULL);     // c candidate
    lstm_act_loop(ract, u, zr + 3 * u, b ? b + 3 * u : NULL);    // o
    // The "no previous cell state" case as its own loop: a load under a per-element
    // pointer test (cp ? cp[j] : 0) keeps GCC from vectorising it.
    if (cp) lstm_state_impl(act, u, zr, zr + u, zr + 2 * u, zr + 3 * u, 1, cp, cr, tcr, hr);
    else lstm_state_impl(act, u, zr, zr + u, zr + 2 * u, zr + 3 * u, 0, cp, cr, tcr, hr);
}

/* Step s for every sample; a masked sample carries its states instead. Each sample's row of
 * the next step's projections is fetched for that step's product meanwhile. */
CNN_HOT static void lstm_cells_fwd(const rnn_run *r, int64_t s, float *z, float *cell,
                                   float *cell_act) {
    int64_t n = r->n, T = r->t, u = r->u, t = rnn_time(r, s);
    int64_t next = s + 1 < T ? (r->back ? -4 * u : 4 * u) : 0;  // to the next step's row
#define LSTM_FWD(A, R)                                                              \
    for (int64_t i = 0; i < n; i++) {                                               \
        float *cr = cell + (i * T + s) * u, *hr = r->hs + i * r->hstride + s * u;   \
        if (next) rnn_prefetch(z + i * T * 4 * u + next, 4 * u);                    \
        if (!rnn_valid(r, i, t)) {                                                  \
            rnn_carry_state(r, s, i, hr, cr, cell);                                 \
            continue;                                                               \
        }                                                                           \
        lstm_row_fwd(A, R, u, z + i * T * 4 * u, r->bias,                           \
                     s > 0 ? cr - u : rnn_row(r->c0, u, i), cr,                     \
                     cell_act + (i * T + s) * u, hr);                               \
    }
    RNN_DISPATCH(r, LSTM_FWD);
#undef LSTM_FWD
}

/* A time loop's share of a call: samples [i0, i1) of `r` (see cnn_parallel_for). */
typedef struct {
    const rnn_run *r;
    const rnn_work *wk;
    float *gates, *cell;  /* the cell's aux (lstm: gates, cell states; gru: gates, q_h or
                           * r h_{s-1}; simple_rnn: none) */
    int need_rk_grad;
    float *cell_act;      /* lstm: the cell states' activations (tanh(c) with the defaults) */
} rnn_job;

static void lstm_steps_fwd(void *arg, int64_t i0, int64_t i1, int part) {
    (void)part;
    const rnn_job *job = arg;
    rnn_run r = rnn_slice(job->r, i0, i1);
    rnn_work wk = rnn_work_slice(job->r, job->wk, i0);
    int64_t n = r.n, T = r.t, u = r.u, g = r.g;
    float *gates = job->gates + i0 * T * g, *cell = job->cell + i0 * T * u;
    float *cell_act = job->cell_act + i0 * T * u;
    for (int64_t s = 0; s < T; s++) {
        float *z = gates + rnn_time(&r, s) * g;  // sample i's row at z + i*T*4u
        int64_t ld;
        const float *hp = rnn_rec_input(&r, s, wk.hd, &ld);
        if (hp)  // z (N, 4u) += h_{s-1} (N, u) . recurrent_kernel (u, 4u)
            rnn_gemm(0, 0, n, g, u, hp, ld, r.rk, g, 1.0f, z, T * g);
        lstm_cells_fwd(&r, s, z, cell, cell_act);
    }
}

static cnn_status lstm_forward(cnn_op_ctx *c) {
    rnn_run r = rnn_setup(c, CELL_LSTM);
    int64_t n = r.n, T = r.t, u = r.u, g = r.g;
    if (n == 0 || u == 0) return CNN_OK;
    float *gates = c->aux, *cell = c->aux + n * T * g, *cell_act = cell + n * T * u;
    rnn_work wk = rnn_work_split(&r, c->work);
    rnn_keep_states(&r, c);
    if (T > 0) {
        rnn_project(&r, gates, &wk);
        rnn_job job = {&r, &wk, gates, cell, 0, cell_act};
        cnn_parallel_for(n, RNN_PARALLEL_GRAIN, lstm_steps_fwd, &job);
    }
    rnn_finish(&r, cell);
    rnn_write_states(&r, c, cell);
    return CNN_OK;
}

RNN_INLINE void lstm_gates_bwd(int act, int ract, int64_t u, const float *restrict gi,
                               const float *restrict gf, const float *restrict gg_,
                               const float *restrict go, const float *restrict tcr,
                               const int has_cp, const float *restrict cp, float *restrict dzi,
                               float *restrict dzf, float *restrict dzg, float *restrict dzo,
                               const float *restrict dhr, float *restrict dcr) {
    for (int64_t j = 0; j < u; j++) {
        float ig = gi[j], fg = gf[j], gg = gg_[j], og = go[j];
        float tc = tcr[j];
        float dcv = dcr[j] + dhr[j] * og * act_grad(act, tc);
        float dov = dhr[j] * tc;
        dzi[j] = dcv * gg * act_grad(ract, ig);
        dzf[j] = dcv * (has_cp ? cp[j] : 0.0f) * act_grad(ract, fg);
        dzg[j] = dcv * ig * act_grad(act, gg);
        dzo[j] = dov * act_grad(ract, og);
        dcr[j] = dcv * fg;
    }
}

RNN_INLINE void lstm_row_bwd(int act, int ract, int64_t u, const float *gr, const float *tcr,
                             const float *cp, float *dzr, const float *dhr, float *dcr) {
    if (cp)  // as lstm_row_fwd: one loop per case, so both vectorise
        lstm_gates_bwd(act, ract, u, gr, gr + u, gr + 2 * u, gr + 3 * u, tcr, 1, cp, dzr,
                       dzr + u, dzr + 2 * u, dzr + 3 * u, dhr, dcr);
    else
        lstm_gates_bwd(act, ract, u, gr, gr + u, gr + 2 * u, gr + 3 * u, tcr, 0, cp, dzr,
                       dzr + u, dzr + 2 * u, dzr + 3 * u, dhr, dcr);
}

/* Step s (input time t) of BPTT for every sample: dz from dh and the carried dc. A masked
 * sample's step computed nothing that reached the states: its dz is zero and dc passes.
 * Each sample's rows of step s - 1 (gates, dz, tanh(c), the cell state before) are fetched
 * meanwhile. */
CNN_HOT static void lstm_cells_bwd(const rnn_run *r, int64_t s, const float *gates,
                                   const float *cell, const float *cell_act, float *dz,
                                   const rnn_work *wk) {
    int64_t n = r->n, T = r->t, u = r->u, t = rnn_time(r, s);
    int64_t prev = s > 0 ? (r->back ? 4 * u : -4 * u) : 0;  // to step s - 1's row
#define LSTM_BWD(A, R)                                                              \
    for (int64_t i = 0; i < n; i++) {                                               \
        float *dzr = dz + (i * T + t) * 4 * u;                                      \
        if (prev) {                                                                 \
            rnn_prefetch(gates + (i * T + t) * 4 * u + prev, 4 * u);                \
            rnn_prefetch(dzr + prev, 4 * u);                                        \
            rnn_prefetch(cell_act + (i * T + s - 1) * u, u);                        \
            if (s > 1) rnn_prefetch(cell + (i * T + s - 2) * u, u);                 \
        }                                                                           \
        if (!rnn_valid(r, i, t)) {                                                  \
            memset(dzr, 0, sizeof(float) * (size_t)(4 * u));                        \
            continue;                                                               \
        }                                                                           \
        const float *cr = cell + (i * T + s) * u, *tcr = cell_act + (i * T + s) * u; \
        lstm_row_bwd(A, R, u, gates + (i * T + t) * 4 * u, tcr,                     \
                     s > 0 ? cr - u : rnn_row(r->c0, u, i), dzr, wk->dh + i * u,    \
                     wk->dc + i * u);                                               \
    }
    RNN_DISPATCH(r, LSTM_BWD);
#undef LSTM_BWD
}

static void lstm_steps_bwd(void *arg, int64_t i0, int64_t i1, int part) {
    (void)part;
    const rnn_job *job = arg;
    rnn_run r = rnn_slice(job->r, i0, i1);
    rnn_work wk = rnn_work_slice(job->r, job->wk, i0);
    int64_t T = r.t, u = r.u, g = r.g;
    const float *gates = job->gates + i0 * T * g, *cell = job->cell + i0 * T * u;
    const float *cell_act = job->cell_act + i0 * T * u;
    float *dz = wk.big;
    for (int64_t s = T - 1; s >= 0; s--) {
        const float *dzs = dz + rnn_time(&r, s) * g;
        rnn_state_grad(&r, s, &wk);
        lstm_cells_bwd(&r, s, gates, cell, cell_act, dz, &wk);
        rnn_recurrent_carry(&r, s, dzs, T * g, &wk);
        if (job->need_rk_grad) rnn_keep_rec_input(&r, s, &wk);
    }
}

static cnn_status lstm_backward(cnn_op_ctx *c) {
    rnn_run r = rnn_setup(c, CELL_LSTM);
    int64_t n = r.n, T = r.t, g = r.g;
    if (n == 0 || r.u == 0) return CNN_OK;
    rnn_work wk = rnn_work_split(&r, c->work);
    float *dz = wk.big;
    rnn_backward_init(&r, &wk);
    float *cell = c->aux + n * T * g;
    rnn_job job = {&r, &wk, c->aux, cell, c->in_grad[2] != NULL, cell + n * T * r.u};
    cnn_parallel_for(n, RNN_PARALLEL_GRAIN, lstm_steps_bwd, &job);
    rnn_recurrent_kernel_grad(&r, c, dz, &wk);
    rnn_state_input_grads(&r, c, &wk);
    rnn_input_grads(&r, c, dz, &wk);
    if (r.bias && c->in_grad[3]) rnn_sum_rows(dz, n * T, g, g, c->in_grad[3]);
    return CNN_OK;
}

/* ---- gru --------------------------------------------------------------------------- */

static cnn_status gru_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    return rnn_infer(CELL_GRU, "gru", n, in, a, out);
}
static int64_t gru_aux_size(const cnn_op_ctx *c) { return rnn_aux_size(c, CELL_GRU); }
static int64_t gru_work_size(const cnn_op_ctx *c) { return rnn_work_size(c, CELL_GRU); }

RNN_INLINE void gru_gates_fwd_impl(int act, int ract, int64_t u, float *restrict gz,
                                   float *restrict gr, float *restrict gh,
                                   const float *restrict qz, const float *restrict qr,
                                   const float *restrict qhh, float *restrict qhr,
                                   const int has_hp, const float *restrict hp,
                                   float *restrict hr) {
    for (int64_t j = 0; j < u; j++) {
        float zg = act_fwd(ract, gz[j] + qz[j]), rg = act_fwd(ract, gr[j] + qr[j]);
        float hh = act_fwd(act, gh[j] + rg * qhh[j]);
        gz[j] = zg; gr[j] = rg; gh[j] = hh;
        qhr[j] = qhh[j];
        hr[j] = zg * (has_hp ? hp[j] : 0.0f) + (1.0f - zg) * hh;
    }
}

/* One loop per case, as lstm_gates_fwd, so that both vectorise. */
RNN_INLINE void gru_gates_fwd(int act, int ract, int64_t u, float *gz, float *gr, float *gh,
                              const float *qz, const float *qr, const float *qhh, float *qhr,
                              const float *hp, float *hr) {
    if (hp) gru_gates_fwd_impl(act, ract, u, gz, gr, gh, qz, qr, qhh, qhr, 1, hp, hr);
    else gru_gates_fwd_impl(act, ract, u, gz, gr, gh, qz, qr, qhh, qhr, 0, hp, hr);
}

/* Reset after, step s (input time t) for every sample: the biases join the input
 * projections (gates) and the recurrent ones (q), then the gates, q_h and h. */
CNN_HOT static void gru_cells_fwd(const rnn_run *r, int64_t s, float *gates, float *q, float *qh) {
    int64_t n = r->n, T = r->t, u = r->u, g = r->g, t = rnn_time(r, s), ld;
    const float *hp = rnn_prev_h(r, s, &ld), *bi = r->bias;
#define GRU_FWD(A, R)                                                               \
    for (int64_t i = 0; i < n; i++) {                                               \
        float *zr = gates + (i * T + t) * g, *qr = q + i * g;                       \
        float *hr = r->hs + i * r->hstride + s * u;                                 \
        if (!rnn_valid(r, i, t)) {                                                  \
            rnn_carry_state(r, s, i, hr, NULL, NULL);                               \
            continue;                                                               \
        }                                                                           \
        if (bi)                                                                     \
            for (int64_t j = 0; j < g; j++) { zr[j] += bi[j]; qr[j] += bi[g + j]; } \
        gru_gates_fwd(A, R, u, zr, zr + u, zr + 2 * u, qr, qr + u, qr + 2 * u,      \
                      qh + (i * T + s) * u, rnn_row(hp, ld, i), hr);                \
    }
    RNN_DISPATCH(r, GRU_FWD);
#undef GRU_FWD
}

static void gru_step_reset_after(const rnn_run *r, int64_t s, float *gates, float *qh,
                                 const rnn_work *wk) {
    int64_t ld;
    const float *hp = rnn_rec_input(r, s, wk->hd, &ld);
    if (hp)  // q (N, 3u) = h_{s-1} (N, u) . recurrent_kernel (u, 3u)
        rnn_gemm(0, 0, r->n, r->g, r->u, hp, ld, r->rk, r->g, 0.0f, wk->q, r->g);
    else
        memset(wk->q, 0, sizeof(float) * (size_t)(r->n * r->g));
    gru_cells_fwd(r, s, gates, wk->q, qh);
}

/* Reset before, step s: z and r from h_{s-1} rk_zr, then the candidate from (r h_{s-1}) rk_h.
 * rh (N, T, u, step order) keeps r h_{s-1} (with the recurrent dropout mask) for backward. */
static void gru_step_reset_before(const rnn_run *r, int64_t s, float *gates, float *rh,
                                  const rnn_work *wk) {
    int64_t n = r->n, T = r->t, u = r->u, g = r->g, t = rnn_time(r, s), ldr, ld;
    const float *hd = rnn_rec_input(r, s, wk->hd, &ldr), *hp = rnn_prev_h(r, s, &ld);
    float *q = wk->q;
    if (hd)  // q[:, :2u] (N, 2u) = h_{s-1} (N, u) . recurrent_kernel[:, :2u] (u, 2u)
        rnn_gemm(0, 0, n, 2 * u, u, hd, ldr, r->rk, g, 0.0f, q, g);
    else
        memset(q, 0, sizeof(float) * (size_t)(n * g));
    for (int64_t i = 0; i < n; i++) {
        float *zr = gates + (i * T + t) * g, *qr = q + i * g, *rhr = rh + (i * T + s) * u;
        const float *hdr = rnn_row(hd, ldr, i);
        if (!rnn_valid(r, i, t)) {
            memset(rhr, 0, sizeof(float) * (size_t)u);
            continue;
        }
        if (r->bias)
            for (int64_t j = 0; j < g; j++) zr[j] += r->bias[j];
        for (int64_t j = 0; j < u; j++) {
            float zg = act_fwd(r->ract, zr[j] + qr[j]), rg = act_fwd(r->ract, zr[u + j] + qr[u + j]);
            zr[j] = zg, zr[u + j] = rg;
            rhr[j] = hdr ? rg * hdr[j] : 0.0f;
        }
    }
    if (hd)  // q[:, 2u:] (N, u) = (r h_{s-1}) (N, u) . recurrent_kernel[:, 2u:] (u, u)
        rnn_gemm(0, 0, n, u, u, rh + s * u, T * u, r->rk + 2 * u, g, 0.0f, q + 2 * u, g);
    for (int64_t i = 0; i < n; i++) {
        float *zr = gates + (i * T + t) * g, *hr = r->hs + i * r->hstride + s * u;
        const float *qr = q + i * g, *hpr = rnn_row(hp, ld, i);
        if (!rnn_valid(r, i, t)) {
            rnn_carry_state(r, s, i, hr, NULL, NULL);
            continue;
        }
        for (int64_t j = 0; j < u; j++) {
            float zg = zr[j], hh = act_fwd(r->act, zr[2 * u + j] + qr[2 * u + j]);
            zr[2 * u + j] = hh;
            hr[j] = zg * (hpr ? hpr[j] : 0.0f) + (1.0f - zg) * hh;
        }
    }
}

/* Samples [i0, i1) of the forward time loop (see lstm_steps_fwd). Backward stays on one
 * thread: its per-step recurrent-kernel and bias gradients sum over the samples. */
static void gru_steps_fwd(void *arg, int64_t i0, int64_t i1, int part) {
    (void)part;
    const rnn_job *job = arg;
    rnn_run r = rnn_slice(job->r, i0, i1);
    rnn_work wk = rnn_work_slice(job->r, job->wk, i0);
    float *gates = job->gates + i0 * r.t * r.g, *extra = job->cell + i0 * r.t * r.u;
    for (int64_t s = 0; s < r.t; s++) {
        if (r.flags & RNN_RESET_BEFORE) gru_step_reset_before(&r, s, gates, extra, &wk);
        else gru_step_reset_after(&r, s, gates, extra, &wk);
    }
}

static cnn_status gru_forward(cnn_op_ctx *c) {
    rnn_run r = rnn_setup(c, CELL_GRU);
    int64_t n = r.n, T = r.t, u = r.u, g = r.g;
    if (n == 0 || u == 0) return CNN_OK;
    float *gates = c->aux, *extra = c->aux + n * T * g;  // extra: q_h or r h_{s-1}
    rnn_work wk = rnn_work_split(&r, c->work);
    rnn_keep_states(&r, c);
    if (T > 0) {
        rnn_project(&r, gates, &wk);
        rnn_job job = {&r, &wk, gates, extra, 0, NULL};
        cnn_parallel_for(n, RNN_PARALLEL_GRAIN, gru_steps_fwd, &job);
    }
    rnn_finish(&r, NULL);
    rnn_write_states(&r, c, NULL);
    return CNN_OK;
}

/* The per-sample part of a GRU BPTT step shared by both variants: dz, da (the candidate's
 * pre-activation) into dp, dz into dq, and h_{s-1}'s direct share dh z into the carry.
 * Returns 0 for a masked sample (its dp and dq rows zero, its dh carried whole). */
static int gru_row_bwd_common(const rnn_run *r, int64_t i, int64_t s, const float *gr,
                              const float *hpr, float *dpr, float *dqr, const rnn_work *wk) {
    int64_t u = r->u;
    const float *dhr = wk->dh + i * u;
    float *cr = wk->carry + i * u;
    if (!rnn_valid(r, i, rnn_time(r, s))) {
        memset(dpr, 0, sizeof(float) * (size_t)r->g);
        memset(dqr, 0, sizeof(float) * (size_t)r->g);
        memcpy(cr, dhr, sizeof(float) * (size_t)u);
        return 0;
    }
    for (int64_t j = 0; j < u; j++) {
        float zg = gr[j], hh = gr[2 * u + j], dh = dhr[j];
        float dz = dh * ((hpr ? hpr[j] : 0.0f) - hh) * act_grad(r->ract, zg);
        dpr[j] = dqr[j] = dz;
        dpr[2 * u + j] = dh * (1.0f - zg) * act_grad(r->act, hh);
        cr[j] = dh * zg;
    }
    return 1;
}

/* Reset after: dr from q_h, dq_h = da r; dh_{s-1} += dq . rk^T; rk += h_{s-1}^T dq. */
static void gru_step_bwd_reset_after(const rnn_run *r, cnn_op_ctx *c, int64_t s,
                                     const float *gates, const float *qh, float *dp,
                                     const rnn_work *wk) {
    int64_t n = r->n, T = r->t, u = r->u, g = r->g, t = rnn_time(r, s), ld, ldr;
    const float *hp = rnn_prev_h(r, s, &ld);
    float *dq = wk->q, *drk = c->in_grad[2];
    for (int64_t i = 0; i < n; i++) {
        const float *gr = gates + (i * T + t) * g, *qhr = qh + (i * T + s) * u;
        float *dpr = dp + (i * T + t) * g, *dqr = dq + i * g;
        if (!gru_row_bwd_common(r, i, s, gr, rnn_row(hp, ld, i), dpr, dqr, wk)) continue;
        for (int64_t j = 0; j < u; j++) {
            float rg = gr[u + j], da = dpr[2 * u + j];
            dpr[u + j] = dqr[u + j] = da * qhr[j] * act_grad(r->ract, rg);
            dqr[2 * u + j] = da * rg;
        }
    }
    if (r->bias && c->in_grad[3]) rnn_sum_rows(dq, n, g, g, c->in_grad[3] + g);  // row 1
    const float *hd = rnn_rec_input(r, s, wk->hd, &ldr);
    if (!hd) return;
    // tmp (N, u) = dq (N, 3u) . recurrent_kernel^T (3u, u); through the mask into the carry
    rnn_gemm(0, 0, n, u, g, dq, g, wk->rkt, u, 0.0f, wk->tmp, u);
    rnn_rec_mask_grad(r, wk->tmp);
    for (int64_t k = 0; k < n * u; k++) wk->carry[k] += wk->tmp[k];
    if (drk)  // recurrent_kernel (u, 3u) += h_{s-1}^T (u, N) . dq (N, 3u)
        rnn_gemm(1, 0, u, g, n, hd, ldr, dq, g, 1.0f, drk, g);
}

/* Reset before: d(r h) = da . rk_h^T gives dr and part of h_{s-1}'s gradient; the rest
 * comes through [dz, dr] . rk_zr^T. */
static void gru_step_bwd_reset_before(const rnn_run *r, cnn_op_ctx *c, int64_t s,
                                      const float *gates, const float *rh, float *dp,
                                      const rnn_work *wk) {
    int64_t n = r->n, T = r->t, u = r->u, g = r->g, t = rnn_time(r, s), ld, ldr;
    const float *hp = rnn_prev_h(r, s, &ld), *hd = rnn_rec_input(r, s, wk->hd, &ldr);
    float *dq = wk->q, *drh = wk->tmp, *drk = c->in_grad[2];
    for (int64_t i = 0; i < n; i++)
        gru_row_bwd_common(r, i, s, gates + (i * T + t) * g, rnn_row(hp, ld, i),
                           dp + (i * T + t) * g, dq + i * g, wk);
    if (!hd) {  // a zero h_{s-1}: r had no effect, and nothing flows further back
        for (int64_t i = 0; i < n; i++)
            memset(dp + (i * T + t) * g + u, 0, sizeof(float) * (size_t)u);
        return;
    }
    // drh (N, u) = da (N, u) . recurrent_kernel[:, 2u:]^T (u, u)
    rnn_gemm(0, 0, n, u, u, dp + t * g + 2 * u, T * g, wk->rkt + 2 * u * u, u, 0.0f, drh, u);
    for (int64_t i = 0; i < n; i++) {
        const float *gr = gates + (i * T + t) * g, *hdr = hd + i * ldr;
        float *dpr = dp + (i * T + t) * g, *dqr = dq + i * g, *drr = drh + i * u;
        for (int64_t j = 0; j < u; j++) {  // masked rows: da = 0, so drh = 0 and dr = 0
            float rg = gr[u + j];
            dpr[u + j] = dqr[u + j] = drr[j] * hdr[j] * act_grad(r->ract, rg);
            drr[j] *= rg;
        }
    }
    // drh (N, u) += [dz, dr] (N, 2u) . recurrent_kernel[:, :2u]^T (2u, u)
    rnn_gemm(0, 0, n, u, 2 * u, dq, g, wk->rkt, u, 1.0f, drh, u);
    rnn_rec_mask_grad(r, drh);
    for (int64_t k = 0; k < n * u; k++) wk->carry[k] += drh[k];
    if (!drk) return;
    // recurrent_kernel[:, :2u] (u, 2u) += h_{s-1}^T (u, N) . [dz, dr] (N, 2u)
    rnn_gemm(1, 0, u, 2 * u, n, hd, ldr, dq, g, 1.0f, drk, g);
    // recurrent_kernel[:, 2u:] (u, u) += (r h_{s-1})^T (u, N) . da (N, u)
    rnn_gemm(1, 0, u, u, n, rh + s * u, T * u, dp + t * g + 2 * u, T * g, 1.0f, drk + 2 * u, g);
}

static cnn_status gru_backward(cnn_op_ctx *c) {
    rnn_run r = rnn_setup(c, CELL_GRU);
    int64_t n = r.n, T = r.t, u = r.u, g = r.g;
    if (n == 0 || u == 0) return CNN_OK;
    const float *gates = c->aux, *extra = c->aux + n * T * g;
    rnn_work wk = rnn_work_split(&r, c->work);
    float *dp = wk.big;
    rnn_backward_init(&r, &wk);
    for (int64_t s = T - 1; s >= 0; s--) {
        rnn_state_grad(&r, s, &wk);
        if (r.flags & RNN_RESET_BEFORE) gru_step_bwd_reset_before(&r, c, s, gates, extra, dp, &wk);
        else gru_step_bwd_reset_after(&r, c, s, gates, extra, dp, &wk);
    }
    rnn_state_input_grads(&r, c, &wk);
    rnn_input_grads(&r, c, dp, &wk);
    if (r.bias && c->in_grad[3]) rnn_sum_rows(dp, n * T, g, g, c->in_grad[3]);  // input bias
    return CNN_OK;
}

/* ---- simple_rnn -------------------------------------------------------------------- */

static cnn_status simple_rnn_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    return rnn_infer(CELL_SIMPLE, "simple_rnn", n, in, a, out);
}
static int64_t simple_rnn_aux_size(const cnn_op_ctx *c) { return rnn_aux_size(c, CELL_SIMPLE); }
static int64_t simple_rnn_work_size(const cnn_op_ctx *c) { return rnn_work_size(c, CELL_SIMPLE); }

CNN_HOT static void simple_rnn_cells_fwd(const rnn_run *r, int64_t s, const float *p) {
    int64_t n = r->n, T = r->t, u = r->u, t = rnn_time(r, s);
    const float *b = r->bias;
    for (int64_t i = 0; i < n; i++) {
        const float *restrict pr = p + (i * T + t) * u;
        float *restrict hr = r->hs + i * r->hstride + s * u;
        if (!rnn_valid(r, i, t)) rnn_carry_state(r, s, i, hr, NULL, NULL);
        else if (b)
            for (int64_t j = 0; j < u; j++) hr[j] = act_fwd(r->act, hr[j] + pr[j] + b[j]);
        else
            for (int64_t j = 0; j < u; j++) hr[j] = act_fwd(r->act, hr[j] + pr[j]);
    }
}

static void simple_rnn_steps_fwd(void *arg, int64_t i0, int64_t i1, int part) {
    (void)part;
    const rnn_job *job = arg;
    rnn_run r = rnn_slice(job->r, i0, i1);
    rnn_work wk = rnn_work_slice(job->r, job->wk, i0);
    int64_t n = r.n, T = r.t, u = r.u;
    const float *p = wk.big;  // the input projections
    for (int64_t s = 0; s < T; s++) {
        int64_t ld;
        const float *hp = rnn_rec_input(&r, s, wk.hd, &ld);
        float *hs = r.hs + s * u;
        if (hp)  // h_s (N, u) = h_{s-1} (N, u) . recurrent_kernel (u, u), then the rest
            rnn_gemm(0, 0, n, u, u, hp, ld, r.rk, u, 0.0f, hs, r.hstride);
        else
            for (int64_t i = 0; i < n; i++) memset(hs + i * r.hstride, 0, sizeof(float) * (size_t)u);
        simple_rnn_cells_fwd(&r, s, p);
    }
}

static cnn_status simple_rnn_forward(cnn_op_ctx *c) {
    rnn_run r = rnn_setup(c, CELL_SIMPLE);
    if (r.n == 0 || r.u == 0) return CNN_OK;
    rnn_work wk = rnn_work_split(&r, c->work);
    rnn_keep_states(&r, c);
    if (r.t > 0) {
        rnn_project(&r, wk.big, &wk);
        rnn_job job = {&r, &wk, NULL, NULL, 0, NULL};
        cnn_parallel_for(r.n, RNN_PARALLEL_GRAIN, simple_rnn_steps_fwd, &job);
    }
    rnn_finish(&r, NULL);
    rnn_write_states(&r, c, NULL);
    return CNN_OK;
}

static void simple_rnn_steps_bwd(void *arg, int64_t i0, int64_t i1, int part) {
    (void)part;
    const rnn_job *job = arg;
    rnn_run r = rnn_slice(job->r, i0, i1);
    rnn_work wk = rnn_work_slice(job->r, job->wk, i0);
    int64_t n = r.n, T = r.t, u = r.u;
    float *dz = wk.big;
    for (int64_t s = T - 1; s >= 0; s--) {
        int64_t t = rnn_time(&r, s);
        rnn_state_grad(&r, s, &wk);
        for (int64_t i = 0; i < n; i++) {
            const float *hr = r.hs + i * r.hstride + s * u, *dhr = wk.dh + i * u;
            float *dzr = dz + (i * T + t) * u;
            if (!rnn_valid(&r, i, t)) memset(dzr, 0, sizeof(float) * (size_t)u);
            else
                for (int64_t j = 0; j < u; j++) dzr[j] = dhr[j] * act_grad(r.act, hr[j]);
        }
        rnn_recurrent_carry(&r, s, dz + t * u, T * u, &wk);
        if (job->need_rk_grad) rnn_keep_rec_input(&r, s, &wk);
    }
}

static cnn_status simple_rnn_backward(cnn_op_ctx *c) {
    rnn_run r = rnn_setup(c, CELL_SIMPLE);
    int64_t n = r.n, T = r.t, u = r.u;
    if (n == 0 || u == 0) return CNN_OK;
    rnn_work wk = rnn_work_split(&r, c->work);
    float *dz = wk.big;
    rnn_backward_init(&r, &wk);
    rnn_job job = {&r, &wk, NULL, NULL, c->in_grad[2] != NULL, NULL};
    cnn_parallel_for(n, RNN_PARALLEL_GRAIN, simple_rnn_steps_bwd, &job);
    rnn_recurrent_kernel_grad(&r, c, dz, &wk);
    rnn_state_input_grads(&r, c, &wk);
    rnn_input_grads(&r, c, dz, &wk);
    if (r.bias && c->in_grad[3]) rnn_sum_rows(dz, n * T, u, u, c->in_grad[3]);
    return CNN_OK;
}

const cnn_op_def cnn_ops_recurrent[] = {
    {.name = "lstm", .min_inputs = 3, .max_inputs = 7, .infer = lstm_infer,
     .forward = lstm_forward, .backward = lstm_backward, .aux_size = lstm_aux_size,
     .work_size = lstm_work_size},
    {.name = "gru", .min_inputs = 3, .max_inputs = 6, .infer = gru_infer,
     .forward = gru_forward, .backward = gru_backward, .aux_size = gru_aux_size,
     .work_size = gru_work_size},
    {.name = "simple_rnn", .min_inputs = 3, .max_inputs = 6, .infer = simple_rnn_infer,
     .forward = simple_rnn_forward, .backward = simple_rnn_backward,
     .aux_size = simple_rnn_aux_size, .work_size = simple_rnn_work_size},
    {0},
};
