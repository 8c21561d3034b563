/* rnn_common.h: what the fused recurrent ops (ops_recurrent.c) share: the call layout,
 * the gate maths, and the steps every cell runs the same way (rnn_common.c).
 *
 * Inputs, in this order: x (N, T, F), kernel (F, G), recurrent_kernel (u, G), then the
 * optional ones that ints[3] (flags) announces:
 *   [bias]              RNN_HAS_BIAS; its shape depends on the cell
 *   [h0 (N, u)[, c0]]   RNN_HAS_STATE: the initial state(s), c0 for lstm only
 *   [mask (N, T)]       RNN_HAS_MASK: 1 keeps input time t of a sample, 0 skips it
 * G is 4u (lstm), 3u (gru) or u (simple_rnn).
 *
 * ints = [go_backwards, activation, recurrent_activation, flags, seed]; each optional.
 *   Without flags, a fourth input is the bias (the ops' original 3-or-4-input form).
 *   simple_rnn ignores recurrent_activation.
 * floats = [dropout, recurrent_dropout], each optional, in [0, 1]; active only in training
 *   and for rates strictly between 0 and 1 (Keras's rule). One input mask (N, F) is shared
 *   by every step and gate, and one recurrent mask (N, u) on the state that enters the
 *   recurrent product, drawn from the call's seed (mixed with ints[4] when nonzero).
 *
 * Output (N, T + E, u): rows 0..T-1 are the outputs of the steps in processing order
 *   (reversed input order with go_backwards, as Keras); with RNN_EMIT_STATES the E final
 *   states follow as extra rows (h, then c for lstm).
 * RNN_WRITE_STATES (with RNN_HAS_STATE; Keras's stateful=True): the initial states are
 *   non-trainable variables that each call leaves holding its final states, for the next
 *   batch; aux keeps the call's initial states for backward.
 * Masks follow Keras 3: at a masked step the state is carried unchanged, and the output
 *   repeats the previous output (zeros before a sample's first kept step), or is zero
 *   at every masked step with RNN_ZERO_MASKED (zero_output_for_mask). With a mask the
 *   states H live in aux after the cell's own saved tensors, because outputs and states
 *   can then differ; without one H is the output itself.
 */
#ifndef CNN_RNN_COMMON_H
#define CNN_RNN_COMMON_H

#include <math.h>
#include <stdint.h>

#include "fastmath.h"
#include "ops.h"

enum { RNN_TANH, RNN_SIGMOID, RNN_RELU, RNN_LINEAR, RNN_HARD_SIGMOID, RNN_N_ACT };

enum {
    RNN_HAS_BIAS = 1, RNN_HAS_STATE = 2, RNN_HAS_MASK = 4, RNN_EMIT_STATES = 8,
    RNN_ZERO_MASKED = 16, RNN_RESET_BEFORE = 32, /* gru: Keras's reset_after=False */
    RNN_WRITE_STATES = 64, /* stateful: the final states overwrite the initial-state inputs */
    RNN_ALL_FLAGS = 127
};

typedef enum { CELL_LSTM, CELL_GRU, CELL_SIMPLE } rnn_cell;

/* One call as the kernels see it: dimensions, options, and where each buffer lives. */
typedef struct {
    rnn_cell cell;
    int64_t n, t, f, u, g;         /* batch, timesteps, features, units, gate width G */
    int back, act, ract, flags, ns, emit;  /* ns states per sample; emit extra rows */
    const float *x, *w, *rk, *bias, *h0, *c0, *mask;
    int h0_in, c0_in;              /* input indices of h0 / c0 (-1 when absent) */
    float *saved;                  /* RNN_WRITE_STATES: this call's initial states (aux) */
    int64_t i0;                    /* a slice's first sample in the call (dropout indices) */
    float drop, rdrop;             /* rates in effect for this call (0: off) */
    uint64_t seed_x, seed_r;       /* dropout streams: inputs, recurrent state */
    float *y;                      /* outputs (N, T + emit, u) */
    const float *dy;               /* their gradient (backward only) */
    int64_t ystride;               /* floats between samples of y */
    float *hs;                     /* hidden states H: y itself, or aux with a mask */
    int64_t hstride;
} rnn_run;

/* Scratch layout shared by forward and backward (floats, in this order):
 * big (N*T*G) | hprev (N*T*u) | rkt (G*u) | q (N*G) | dh | carry | dc | hd | tmp (N*u each)
 * | first (N) | xd (N*T*F, only when dropout is declared). */
typedef struct {
    float *big, *hprev, *rkt, *q, *dh, *carry, *dc, *hd, *tmp, *first, *xd;
} rnn_work;

/* Samples [i0, i1) of a call as a call of their own (every per-sample pointer moved on),
 * and the matching scratch: the time loops run on such slices in parallel, since samples
 * never mix inside a recurrence (the weight gradients are summed after the loop). */
rnn_run rnn_slice(const rnn_run *r, int64_t i0, int64_t i1);
rnn_work rnn_work_slice(const rnn_run *r, const rnn_work *w, int64_t i0);
/* Rows per thread below which a time loop stays on one thread (its per-step products
 * would get too thin to pay for the thread). */
#define RNN_PARALLEL_GRAIN 16

cnn_status rnn_infer(rnn_cell cell, const char *op, int n_in, const cnn_shape *const *in,
                     const cnn_attrs *a, cnn_shape *out);
rnn_run rnn_setup(cnn_op_ctx *c, rnn_cell cell);
int64_t rnn_aux_size(const cnn_op_ctx *c, rnn_cell cell);
int64_t rnn_work_size(const cnn_op_ctx *c, rnn_cell cell);
rnn_work rnn_work_split(const rnn_run *r, float *work);

/* C (m, n) = op(A) op(B) + beta C (row-major, alpha 1), in column blocks small enough for
 * OpenBLAS's small-matrix kernels: the cells' per-step products (see rnn_common.c). */
void rnn_gemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, const float *a,
              int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

/* Asks for the cache lines of floats [p, p + n) ahead of use, into L2: a step's rows
 * (160 KiB for LSTM(64) at batch 64 in backward) would not fit in L1 beside the step
 * being computed. The time loops walk one row per sample at a stride of T rows (1 KiB rows
 * 50 KiB apart for LSTM(64) over 50 steps), which the hardware prefetchers do not follow:
 * without this, the gates that backward reads and the projections that forward's product
 * adds to arrive from L3 one row at a time. */
static inline void rnn_prefetch(const float *p, int64_t n) {
    for (int64_t k = 0; k < n; k += 16) __builtin_prefetch(p + k, 0, 2);
}

/* Input time of processing step s, and whether sample i keeps input time t. */
static inline int64_t rnn_time(const rnn_run *r, int64_t s) { return r->back ? r->t - 1 - s : s; }
static inline int rnn_valid(const rnn_run *r, int64_t i, int64_t t) {
    return !r->mask || r->mask[i * r->t + t] != 0.0f;
}
/* The state entering step s (h0 or NULL = zeros at s = 0), rows ld apart. */
static inline const float *rnn_prev_h(const rnn_run *r, int64_t s, int64_t *ld) {
    if (s > 0) { *ld = r->hstride; return r->hs + (s - 1) * r->u; }
    *ld = r->u;
    return r->h0;
}
/* Row i of a state matrix from rnn_prev_h, or NULL for the zero state. */
static inline const float *rnn_row(const float *m, int64_t ld, int64_t i) { return m ? m + i * ld : 0; }

/* The state that step s multiplies by recurrent_kernel: H_{s-1}, times the recurrent
 * dropout mask when that is on (then written to buf). NULL when it is all zeros. */
const float *rnn_rec_input(const rnn_run *r, int64_t s, float *buf, int64_t *ld);
/* Multiplies m (N, u) by the recurrent dropout mask (the gradient through the mask). */
void rnn_rec_mask_grad(const rnn_run *r, float *m);
/* dst (N*T, G) = (x times the input dropout mask) . kernel. */
void rnn_project(const rnn_run *r, float *dst, const rnn_work *wk);
/* For a masked-out row of step s: the state(s) carried from the step before. */
void rnn_carry_state(const rnn_run *r, int64_t s, int64_t i, float *hr, float *cr, const float *cell);
/* After the last step: the outputs from the states where a mask makes them differ, and the
 * emitted final states. cell: lstm's cell states (N, T, u), else NULL. */
void rnn_finish(const rnn_run *r, const float *cell);
/* RNN_WRITE_STATES, in forward: rnn_keep_states before the first step (the state inputs
 * are copied to aux, which h0/c0 then read, in backward too), rnn_write_states after
 * rnn_finish (the final states into the state inputs). */
void rnn_keep_states(const rnn_run *r, cnn_op_ctx *c);
void rnn_write_states(const rnn_run *r, cnn_op_ctx *c, const float *cell);
/* Backward set-up: carry = the emitted final h's gradient, dc = the final c's, each
 * sample's first kept step (for the output rule), and rkt = recurrent_kernel^T (G, u): the
 * per-step products with it run as plain NN products, ~20% faster than NT ones. */
void rnn_backward_init(const rnn_run *r, const rnn_work *wk);
/* dH_s for every sample: the output gradient where Y_s is H_s, plus the carry. */
void rnn_state_grad(const rnn_run *r, int64_t s, const rnn_work *wk);
/* dx += (dz . kernel^T) * input mask, dkernel += (x * input mask)^T . dz, over N*T rows. */
void rnn_input_grads(const rnn_run *r, cnn_op_ctx *c, const float *dz, const rnn_work *wk);
/* db (G) += the sum of the N*T rows of dz (G wide, rows ld apart). */
void rnn_sum_rows(const float *dz, int64_t rows, int64_t g, int64_t ld, float *db);
/* lstm and simple_rnn: carry (N, u) = the gradient reaching H_{s-1} through step s's
 * recurrent product dz_s (rows ldz apart), plus, for masked rows, dH_s itself. */
void rnn_recurrent_carry(const rnn_run *r, int64_t s, const float *dzs, int64_t ldz, const rnn_work *wk);
/* lstm and simple_rnn: step s's recurrent input (H_{s-1}, through the recurrent dropout
 * mask) into hprev at its input-time rows, so that recurrent_kernel's gradient is one
 * product over every step after the loop (rnn_recurrent_kernel_grad). A no-op where that
 * product reads the saved states directly (rnn_rk_grad_from_states). */
void rnn_keep_rec_input(const rnn_run *r, int64_t s, const rnn_work *wk);
/* Without recurrent dropout, H_{s-1} is the saved state of step s - 1 itself, so the
 * kernel gradient needs no copy of it (with the small-matrix kernel, which takes any row
 * strides). */
int rnn_rk_grad_from_states(const rnn_run *r);
/* recurrent_kernel (u, G) += sum over steps s of H_{s-1}^T (u, N) . dz_s (N, G). */
void rnn_recurrent_kernel_grad(const rnn_run *r, cnn_op_ctx *c, const float *dz,
                               const rnn_work *wk);
/* The initial states' gradients: dh0 += carry, dc0 += dc (where those inputs need one). */
void rnn_state_input_grads(const rnn_run *r, cnn_op_ctx *c, const rnn_work *wk);

/* ---- gate maths: inline so the per-step loops vectorise ------------------------------ */

#define RNN_INLINE static inline __attribute__((always_inline))

/* The gates' e^x and tanh: fastmath.h's, which vectorise. */
#define rnn_exp cnn_fast_exp
#define rnn_tanh cnn_fast_tanh

RNN_INLINE float act_fwd(int kind, float v) {
    switch (kind) {
    case RNN_TANH: return rnn_tanh(v);
    case RNN_SIGMOID: return 1.0f / (1.0f + rnn_exp(-v));
    case RNN_RELU: return v > 0.0f ? v : 0.0f;
    case RNN_HARD_SIGMOID: {
        float t = v + 3.0f;
        return (t < 0.0f ? 0.0f : t > 6.0f ? 6.0f : t) * (1.0f / 6.0f);
    }
    default: return v;
    }
}

/* The derivative at the input whose activation is y: every activation here is
 * differentiable from its output, so backward needs no pre-activations. */
RNN_INLINE float act_grad(int kind, float y) {
    switch (kind) {
    case RNN_TANH: return 1.0f - y * y;
    case RNN_SIGMOID: return y * (1.0f - y);
    case RNN_RELU: return y > 0.0f ? 1.0f : 0.0f;
    case RNN_HARD_SIGMOID: return y > 0.0f && y < 1.0f ? 1.0f / 6.0f : 0.0f;
    default: return 1.0f;
    }
}

/* Calls BODY(act, ract) with both codes compile-time constants for Keras's default pair,
 * so that loop's activations inline into straight-line, vectorisable code. */
#define RNN_DISPATCH(r, BODY)                                                       \
    do {                                                                            \
        if ((r)->act == RNN_TANH && (r)->ract == RNN_SIGMOID) {                     \
            BODY(RNN_TANH, RNN_SIGMOID)                                             \
        } else {                                                                    \
            BODY((r)->act, (r)->ract)                                               \
        }                                                                           \
    } while (0)

#endif
