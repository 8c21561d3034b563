/* ops.h: the op interface. Every op is one cnn_op_def in a family file (ops_linalg.c,
 * ops_elementwise.c, ...) with its shape inference, forward and backward side by side.
 * The static graph (graph.c) and the eager tape (tape.c) drive the same definitions.
 *
 * Contract for kernels:
 *  - infer() sees shapes that may hold -1 (the symbolic batch dim) and must propagate it;
 *    it validates everything forward() relies on and fails with a message naming the op
 *    and the shapes. forward()/backward() only ever see concrete, inferred shapes.
 *  - forward() writes every element of out (the buffer holds garbage on entry).
 *  - backward() ADDS into each in_grad[k] that is not NULL (NULL: that input needs no
 *    gradient), so fan-out needs no special case. out_grad has the output's shape.
 *    An op may declare overwrites_fresh_grads: then bit k of grad_fresh says in_grad[k]
 *    holds garbage and must be written (=) rather than added to, which saves the graph a
 *    memset of every gradient buffer (used by matmul and bias_add, the parameter writers).
 *  - aux: op-owned memory of aux_size() floats, written by forward() and read by
 *    backward() (e.g. softmax probabilities); it lives from forward until backward.
 *  - work: scratch of work_size() floats, undefined on entry, shared by all ops.
 *  - No malloc in forward/backward: ask for aux or work instead.
 */
#ifndef CNN_OPS_H
#define CNN_OPS_H

#include "cnn.h"

typedef struct cnn_op_ctx {
    const cnn_attrs *attrs;
    int n_in;
    const cnn_shape *in_shape[CNN_MAX_INPUTS];
    const float *in[CNN_MAX_INPUTS];
    cnn_shape out_shape;
    float *out;
    float *aux;
    float *work;
    const float *out_grad;            /* backward only */
    float *in_grad[CNN_MAX_INPUTS];   /* backward only; NULL where not needed */
    unsigned grad_fresh;              /* backward only; see overwrites_fresh_grads */
    int training;                     /* call argument, never global state */
    uint64_t seed;                    /* per-call random stream for stochastic ops */
} cnn_op_ctx;

typedef struct cnn_op_def {
    const char *name;
    int min_inputs, max_inputs;
    cnn_status (*infer)(int n_in, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out);
    cnn_status (*forward)(cnn_op_ctx *c);
    cnn_status (*backward)(cnn_op_ctx *c);       /* required unless not_differentiable */
    int64_t (*aux_size)(const cnn_op_ctx *c);    /* optional; floats */
    int64_t (*work_size)(const cnn_op_ctx *c);   /* optional; floats */
    int not_differentiable;                      /* e.g. accuracy: no gradient flows */
    unsigned no_grad_inputs;                     /* bit k: input k never gets a gradient (labels) */
    int overwrites_fresh_grads;                  /* backward honours ctx->grad_fresh */
} cnn_op_def;

/* Registry (ops_registry.c). cnn_ops_init() validates every definition once. */
cnn_status cnn_ops_init(void);
const cnn_op_def *cnn_op_find(const char *name);
int cnn_op_count(void);
const cnn_op_def *cnn_op_at(int i);

/* Each family file exports a table terminated by an entry with name == NULL. */
extern const cnn_op_def cnn_ops_linalg[];
extern const cnn_op_def cnn_ops_elementwise[];
extern const cnn_op_def cnn_ops_activation[];
extern const cnn_op_def cnn_ops_reduce[];
extern const cnn_op_def cnn_ops_shape[];
extern const cnn_op_def cnn_ops_loss[];
extern const cnn_op_def cnn_ops_metric[];
extern const cnn_op_def cnn_ops_norm[];
extern const cnn_op_def cnn_ops_random[];
extern const cnn_op_def cnn_ops_pool[];
extern const cnn_op_def cnn_ops_conv[];
extern const cnn_op_def cnn_ops_image[];
extern const cnn_op_def cnn_ops_sequence[];
extern const cnn_op_def cnn_ops_recurrent[];
extern const cnn_op_def cnn_ops_attention[];

/* Shared helpers (ops_common.c). */

/* NumPy broadcasting of two shapes; -1 (unknown) broadcasts against 1 or -1 to -1. */
cnn_status cnn_broadcast_shapes(const char *op, const cnn_shape *a, const cnn_shape *b, cnn_shape *out);
/* Normalises a possibly negative axis against ndim; fails naming the op otherwise. */
cnn_status cnn_norm_axis(const char *op, int64_t axis, int ndim, int *out);
/* For an input of shape `in` broadcast to `out`: strides (in floats) of `in` laid against
 * out's dims, 0 where in is broadcast. Used by binary elementwise kernels and their
 * gradient reductions. */
void cnn_broadcast_strides(const cnn_shape *in, const cnn_shape *out, int64_t strides[CNN_MAX_DIMS]);

/* Shapes of per-sample losses and metrics: y_true like y_pred (-1 matches anything), or for
 * sparse labels y_pred.shape[:-1] (optionally with a trailing 1); out = y_pred.shape[:-1]. */
cnn_status cnn_infer_per_sample(const char *op, const cnn_shape *t, const cnn_shape *p, cnn_shape *out);
cnn_status cnn_infer_per_sample_sparse(const char *op, const cnn_shape *t, const cnn_shape *p, cnn_shape *out);

/* Counter-based randomness: splitmix64's finaliser mixes (seed, index) into 64 strong bits,
 * so a mask can be regenerated in backward from the seed alone. */
static inline uint64_t cnn_seed_mix(uint64_t a, uint64_t b) {
    uint64_t z = a + 0x9E3779B97F4A7C15ull * (b + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform [0,1) float from the top 24 bits: reproducible for (seed, index). Converted from
 * int32 because uint64 -> float has no vector instruction below AVX-512 (10x slower loops). */
static inline float cnn_rand_uniform(uint64_t seed, uint64_t index) {
    return (float)(int32_t)(cnn_seed_mix(seed, index) >> 40) * (1.0f / 16777216.0f);
}

#endif
