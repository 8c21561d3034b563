/* ops_attention.c: fused scaled dot-product attention, forward and backward in one op.
 *
 * sdpa(q, k, v[, m]) -> out: per batch b and query head h, softmax(q k^T * scale + masking) v.
 *   q   (B, Tq, H, d)    heads beside the features: the layout a projection
 *   k   (B, Tk, Hk, d)   x (B, T, F) @ W (F, H*d) already has, so no caller transposes
 *   v   (B, Tk, Hk, dv)
 *   out (B, Tq, H, dv)
 *   H must be a multiple of Hk: query head h reads key/value head h / (H / Hk) (grouped-query
 *   attention; Hk = H is the usual case).
 *   ints[0] = heads: 0 takes the rank-4 layout above; H > 0 takes the same memory with the
 *     heads folded into the features: q (B, Tq, H*d), k (B, Tk, Hk*d), v (B, Tk, Hk*dv) ->
 *     out (B, Tq, H*dv), where d = q's features / H and then Hk = k's features / d.
 *   m (optional): (B, H, Tq, Tk), (B, Tq, Tk) (read as (B, 1, Tq, Tk)) or (Tq, Tk), each dim
 *     1 (broadcast) or full. ints[2] says what it is:
 *       0 mask: m != 0 attends (Keras casts its masks to bool); no gradient flows into it;
 *       1 bias: added to the scaled logits, differentiable (summed over broadcast dims).
 *   ints[1] = causal: key steps j > i are masked too (the top-left aligned lower triangle:
 *     Keras's use_causal_mask and is_causal).
 *   ints[3] = how masked logits are treated:
 *       0 Keras's MultiHeadAttention: replaced by -1e9 before the softmax, and the masked
 *         probabilities set to 0 after it, so a fully masked query row is all zeros;
 *       1 keras.ops.dot_product_attention: replaced by -0.7 * FLT_MAX (Keras's large
 *         negative), no zeroing: a fully masked row averages every value.
 *   Dropout on the probabilities (Keras's attention dropout): floats[1] = rate in [0, 1],
 *     ints[4] = mode (0 follow the call's training flag, 1 always train, 2 always infer) and
 *     ints[5] = seed attribute (0 none, else mixed into the call's seed), as ops_random.c.
 *     keep = u >= rate with u = cnn_rand_uniform(seed, n) at the flat index n of the
 *     probability in (B, H, Tq, Tk), the dropout op's draw over that tensor;
 *     pd = p * keep / (1 - rate) (rate 1: zeros).
 *   floats = [scale, rate]; rate is optional (0), and ints are optional from the back (0).
 *
 * sdpa_probs(q, k[, m]) -> p (B, H, Tq, Tk): the probabilities alone, before dropout (what
 *   Keras's return_attention_scores gives), from the same attributes and the same code, so
 *   they are bit for bit the p that sdpa weights v with. Differentiable; its backward reads
 *   its output, so it keeps no aux. Dropout attributes are accepted and do not apply.
 *
 * Forward per (b, h): one sgemm writes the scaled scores straight into aux (the strided
 * rows of q and k are read in place: lda is H*d), the masked softmax runs in place, and one
 * sgemm forms out (dropout goes through work first). aux keeps p (B, H, Tq, Tk) for
 * backward; the dropout mask is regenerated from the seed (once per block in backward).
 * Backward per (b, h), with
 * g = dL/dout (Tq, dv):
 *   dv += pd^T g,   dpd = g v^T,   dp = dpd * keep / (1 - rate),
 *   ds = p * (dp - sum_j dp p)       (softmax backward; 0 at masked entries: there p is 0,
 *                                     or, in a fully masked row of style 1, the logit a constant),
 *   dm += ds        (bias only),
 *   dq += scale * ds k,   dk += scale * ds^T q.
 * work: two (Tq, Tk) blocks (pd, then dp/ds). Backward honours grad_fresh: blocks of dq,
 * dk, dv that hold garbage are overwritten by their first sgemm (beta 0) instead of zeroed.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "blas.h"
#include "fastmath.h"
#include "ops.h"
#include "parallel.h"

#define MHA_FILL (-1e9f)                    // Keras's _large_negative_number for float32
#define OPS_FILL (-0.7f * FLT_MAX)          // Keras's torch backend: -0.7 * 3.38953e38
// Independent accumulators, so the reductions vectorise; 8, not 16: the halving tree that
// joins them runs through memory, and its 15 dependent steps for 16 lanes cost a 64-key
// softmax row a fifth of its time (Zen 3: 97 -> 78 ns per row with 8).
#define LANES 8

enum { KIND_MASK = 0, KIND_BIAS = 1 };
enum { STYLE_MHA = 0, STYLE_OPS = 1 };
enum { MODE_FOLLOW = 0, MODE_TRAIN = 1, MODE_INFER = 2 };
enum { A_HEADS, A_CAUSAL, A_KIND, A_STYLE, A_MODE, A_SEED, A_N };

static int64_t attr_int(const cnn_attrs *a, int k) { return a->n_int > k ? a->i[k] : 0; }

/* ---- geometry ------------------------------------------------------------------------ */

typedef struct {
    int64_t B, Tq, Tk, H, Hk, d, dv;
    int64_t ldq, ldk, ldv, ldo;        // row strides (floats) of one head's rows
    int causal, kind, style;
    const float *m;                    // the mask or bias (NULL: none)
    float *dm;                         // its gradient (backward, bias only)
    int64_t ms[4];                     // strides of m along (b, h, i, j), 0 where broadcast
    float scale;
} geom;

/* m's shape laid on (B, H, Tq, Tk): rank 3 is (B, Tq, Tk), rank 2 (Tq, Tk). */
static void mask_dims(const cnn_shape *m, int64_t out[4]) {
    out[0] = out[1] = 1;
    if (m->ndim == 4) for (int i = 0; i < 4; i++) out[i] = m->dim[i];
    else if (m->ndim == 3) { out[0] = m->dim[0]; out[2] = m->dim[1]; out[3] = m->dim[2]; }
    else { out[2] = m->dim[0]; out[3] = m->dim[1]; }
}

/* Sizes from shapes that infer() has validated (all concrete here). iv, im: the input
 * positions of v and m (-1: the op has no v; m is optional at im). */
static geom geom_of(const cnn_op_ctx *c, int iv, int im) {
    const cnn_shape *q = c->in_shape[0], *k = c->in_shape[1], *v = iv >= 0 ? c->in_shape[iv] : NULL;
    geom g;
    memset(&g, 0, sizeof g);
    int64_t heads = attr_int(c->attrs, A_HEADS);
    g.B = q->dim[0]; g.Tq = q->dim[1]; g.Tk = k->dim[1];
    if (heads == 0) {
        g.H = q->dim[2]; g.d = q->dim[3]; g.Hk = k->dim[2]; g.dv = v ? v->dim[3] : 0;
    } else {
        g.H = heads; g.d = q->dim[2] / heads; g.Hk = k->dim[2] / g.d; g.dv = v ? v->dim[2] / g.Hk : 0;
    }
    g.ldq = g.H * g.d; g.ldk = g.Hk * g.d; g.ldv = g.Hk * g.dv; g.ldo = g.H * g.dv;
    g.causal = attr_int(c->attrs, A_CAUSAL) != 0;
    g.kind = (int)attr_int(c->attrs, A_KIND);
    g.style = (int)attr_int(c->attrs, A_STYLE);
    g.scale = (float)c->attrs->f[0];
    if (c->n_in > im) {
        int64_t md[4], stride = 1;
        mask_dims(c->in_shape[im], md);
        for (int i = 3; i >= 0; i--) { g.ms[i] = md[i] == 1 ? 0 : stride; stride *= md[i]; }
        g.m = c->in[im];
        if (g.kind == KIND_BIAS) g.dm = c->in_grad[im];  // NULL in forward
    }
    return g;
}

static int dropout_active(const cnn_op_ctx *c) {
    if (c->attrs->n_float < 2 || c->attrs->f[1] == 0.0) return 0;
    int64_t m = attr_int(c->attrs, A_MODE);
    return m == MODE_TRAIN || (m == MODE_FOLLOW && c->training);
}

static uint64_t dropout_seed(const cnn_op_ctx *c) {
    int64_t s = attr_int(c->attrs, A_SEED);
    return s ? cnn_seed_mix(c->seed, (uint64_t)s) : c->seed;
}

static float keep_scale(const cnn_op_ctx *c) {
    double r = c->attrs->f[1];
    return r < 1.0 ? 1.0f / (float)(1.0 - r) : 0.0f;  // as the dropout op: float 1/(1-rate)
}

/* ---- infer --------------------------------------------------------------------------- */

/* a and b agree, or one is the symbolic batch (-1). */
static int same(int64_t a, int64_t b) { return a == b || a == -1 || b == -1; }

static cnn_status check_attrs(const char *op, const cnn_attrs *a) {
    if (a->n_int > A_N || a->n_float < 1 || a->n_float > 2)
        return cnn_fail(CNN_ERR_VALUE, "%s: expected ints [heads, causal, kind, style, mode, seed] "
                        "(optional from the back) and floats [scale, dropout rate]; got %d ints and "
                        "%d floats", op, a->n_int, a->n_float);
    if (attr_int(a, A_HEADS) < 0)
        return cnn_fail(CNN_ERR_VALUE, "%s: heads (ints[0]) must be >= 0, got %lld", op,
                        (long long)attr_int(a, A_HEADS));
    static const char *const what[] = {"", "causal", "kind: 0 mask, 1 bias", "style"};
    for (int k = A_CAUSAL; k <= A_STYLE; k++)
        if (attr_int(a, k) != 0 && attr_int(a, k) != 1)
            return cnn_fail(CNN_ERR_VALUE, "%s: ints[%d] (%s) must be 0 or 1, got %lld", op, k, what[k],
                            (long long)attr_int(a, k));
    int64_t mode = attr_int(a, A_MODE);
    if (mode < MODE_FOLLOW || mode > MODE_INFER)
        return cnn_fail(CNN_ERR_VALUE, "%s: mode (ints[4]) must be 0 (follow the call), 1 (always "
                        "train) or 2 (always infer), got %lld", op, (long long)mode);
    if (!isfinite(a->f[0]))
        return cnn_fail(CNN_ERR_VALUE, "%s: scale must be finite, got %g", op, a->f[0]);
    if (a->n_float > 1 && !(a->f[1] >= 0.0 && a->f[1] <= 1.0))
        return cnn_fail(CNN_ERR_VALUE, "%s: dropout rate must be in [0, 1], got %g", op, a->f[1]);
    return CNN_OK;
}

/* Validates q, k, v (NULL for sdpa_probs) and m (NULL: none) against the attributes and
 * gives the sizes both ops' outputs are made of. */
typedef struct { int64_t B, Tq, Tk, H, dv; } dims;

static cnn_status infer_dims(const char *op, const cnn_shape *q, const cnn_shape *k,
                             const cnn_shape *v, const cnn_shape *m, const cnn_attrs *a, dims *out) {
    cnn_status st = check_attrs(op, a);
    if (st) return st;
    int64_t heads = attr_int(a, A_HEADS);
    int rank = heads ? 3 : 4;
    const cnn_shape *vv = v ? v : k;  // sdpa_probs: k stands in for v in the checks
    const char *vs = v ? cnn_shape_fmt(v) : "(none)";
    if (q->ndim != rank || k->ndim != rank || vv->ndim != rank) {
        if (heads)
            return cnn_fail(CNN_ERR_SHAPE, "%s: with heads = %lld folded into the features, q, k and v "
                            "must be (B, T, heads*d) (rank 3), got q %s, k %s, v %s", op, (long long)heads,
                            cnn_shape_fmt(q), cnn_shape_fmt(k), vs);
        return cnn_fail(CNN_ERR_SHAPE, "%s: q, k and v must be (B, T, heads, d) (rank 4), got q %s, "
                        "k %s, v %s", op, cnn_shape_fmt(q), cnn_shape_fmt(k), vs);
    }
    for (int i = 1; i < rank; i++)
        if (q->dim[i] < 0 || k->dim[i] < 0 || vv->dim[i] < 0)
            return cnn_fail(CNN_ERR_SHAPE, "%s: only the batch dim may be unknown, got q %s, k %s, v %s",
                            op, cnn_shape_fmt(q), cnn_shape_fmt(k), vs);
    int64_t B = q->dim[0], Tq = q->dim[1], Tk = k->dim[1], H, Hk, d, dk, dv, Hv;
    if (heads == 0) {
        H = q->dim[2]; d = q->dim[3]; Hk = k->dim[2]; dk = k->dim[3]; Hv = vv->dim[2]; dv = vv->dim[3];
    } else {
        if (q->dim[2] < heads || q->dim[2] % heads)
            return cnn_fail(CNN_ERR_SHAPE, "%s: q's features (%lld) must be a positive multiple of "
                            "heads = %lld, got q %s", op, (long long)q->dim[2], (long long)heads,
                            cnn_shape_fmt(q));
        H = heads; d = dk = q->dim[2] / heads;
        Hk = Hv = k->dim[2] / d;
        if (k->dim[2] % d || Hk < 1 || vv->dim[2] % Hk)
            return cnn_fail(CNN_ERR_SHAPE, "%s: k's and v's features must hold whole heads of the "
                            "query's head size %lld (q %s with %lld heads), got k %s, v %s", op,
                            (long long)d, cnn_shape_fmt(q), (long long)heads, cnn_shape_fmt(k), vs);
        dv = vv->dim[2] / Hk;
    }
    if (!same(B, k->dim[0]) || !same(B, vv->dim[0]) || !same(k->dim[0], vv->dim[0]) || d != dk ||
        vv->dim[1] != Tk || Hk != Hv || Hk < 1 || H % Hk)
        return cnn_fail(CNN_ERR_SHAPE, "%s: shapes do not fit: q %s, k %s, v %s (need q (B, Tq, H, d), "
                        "k (B, Tk, Hk, d), v (B, Tk, Hk, dv) with H a multiple of Hk%s)", op,
                        cnn_shape_fmt(q), cnn_shape_fmt(k), vs,
                        heads ? ", heads folded into the last axis" : "");
    if (B == -1) B = k->dim[0] != -1 ? k->dim[0] : vv->dim[0];
    if (m) {
        int64_t md[4], want[4] = {B, H, Tq, Tk};
        int ok = m->ndim >= 2 && m->ndim <= 4;
        if (ok) {
            mask_dims(m, md);
            for (int i = 0; i < 4; i++) ok &= md[i] == 1 || same(md[i], want[i]);
            ok &= md[1] != -1 && md[2] != -1 && md[3] != -1;  // only the batch may be unknown
        }
        if (!ok)
            return cnn_fail(CNN_ERR_SHAPE, "%s: %s %s does not broadcast to (B, H, Tq, Tk) = %s (give "
                            "(B, H, Tq, Tk), (B, Tq, Tk) or (Tq, Tk), each dim 1 or full); q %s, k %s",
                            op, attr_int(a, A_KIND) ? "bias" : "mask", cnn_shape_fmt(m),
                            cnn_shape_fmt(&(cnn_shape){4, {B, H, Tq, Tk}}), cnn_shape_fmt(q),
                            cnn_shape_fmt(k));
    }
    *out = (dims){B, Tq, Tk, H, dv};
    return CNN_OK;
}

static cnn_status sdpa_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    dims d;
    cnn_status st = infer_dims("sdpa", in[0], in[1], in[2], n > 3 ? in[3] : NULL, a, &d);
    if (st) return st;
    *out = *in[0];
    out->dim[0] = d.B;
    if (attr_int(a, A_HEADS) == 0) out->dim[3] = d.dv;
    else out->dim[2] = d.H * d.dv;
    return CNN_OK;
}

static cnn_status sdpa_probs_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    dims d;
    cnn_status st = infer_dims("sdpa_probs", in[0], in[1], NULL, n > 2 ? in[2] : NULL, a, &d);
    if (st) return st;
    *out = (cnn_shape){4, {d.B, d.H, d.Tq, d.Tk}};
    return CNN_OK;
}

/* ---- row kernels --------------------------------------------------------------------- */

#if defined(__GNUC__)
#define ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE static inline
#endif

/* The softmax loops select with float compares (max, masks, exp's clamps); under GCC's
 * default -ftrapping-math a compare may raise FE_INVALID, so GCC would not turn those
 * selects into vector blends. Nothing here reads FP flags. Only these functions get the
 * option: as a file-wide pragma it stopped the dropout loop from vectorising. */
#if defined(__GNUC__) && !defined(__clang__)
#define NO_TRAPS __attribute__((optimize("no-trapping-math")))
#else
#define NO_TRAPS
#endif

#define exp_fast cnn_fast_exp  /* fastmath.h: vectorises */

/* The sum of LANES partial sums by a halving tree (a fixed order, so every clone agrees). */
ALWAYS_INLINE float lanes_sum(float *a) {
    for (int w = LANES / 2; w > 0; w /= 2)
        for (int l = 0; l < w; l++) a[l] += a[l + w];
    return a[0];
}

/* Whether key step j is attended: before the causal limit jmax and not masked by mrow. */
#define ATTENDS(j) ((j) < jmax && (!mrow || mrow[j] != 0.0f))

/* One row of logits s (n of them) -> probabilities, in place. mrow: the row's mask,
 * contiguous (NULL: unmasked); jmax: key steps from jmax on are masked (causal; n if not);
 * fill: what masked logits become; zero: set masked probabilities to 0 afterwards. */
CNN_HOT NO_TRAPS static void softmax_row(float *restrict s, int64_t n, const float *restrict mrow,
                                int64_t jmax, float fill, int zero) {
    int masked = mrow || jmax < n;
    if (masked)
        for (int64_t j = 0; j < n; j++) s[j] = ATTENDS(j) ? s[j] : fill;
    float mx[LANES], sum[LANES];
    for (int l = 0; l < LANES; l++) { mx[l] = s[0]; sum[l] = 0.0f; }
    int64_t j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++) mx[l] = s[j + l] > mx[l] ? s[j + l] : mx[l];
    for (; j < n; j++) mx[0] = s[j] > mx[0] ? s[j] : mx[0];
    for (int w = LANES / 2; w > 0; w /= 2)  // halving tree: a few vector steps, not a chain
        for (int l = 0; l < w; l++) mx[l] = mx[l + w] > mx[l] ? mx[l + w] : mx[l];
    float m = mx[0];
    for (j = 0; j < n; j++) s[j] = exp_fast(s[j] - m);  // at each clone's full width
    for (j = 0; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++) sum[l] += s[j + l];
    for (; j < n; j++) sum[0] += s[j];
    float inv = 1.0f / lanes_sum(sum);  // total >= 1: the maximum contributes e^0
    if (masked && zero)
        for (j = 0; j < n; j++) s[j] = ATTENDS(j) ? s[j] * inv : 0.0f;
    else
        for (j = 0; j < n; j++) s[j] *= inv;
}

/* ds = p * (dp - sum_j dp p) for one row (ds may be dp). */
CNN_HOT static void softmax_grad_row(const float *p, const float *dp, float *ds, int64_t n) {
    float acc[LANES] = {0};
    int64_t j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++) acc[l] += dp[j + l] * p[j + l];
    for (; j < n; j++) acc[0] += dp[j] * p[j];
    float dot = lanes_sum(acc);
    for (j = 0; j < n; j++) ds[j] = p[j] * (dp[j] - dot);
}

/* dst = src * keep / (1 - rate) over n elements whose flat indices start at base. */
CNN_HOT static void dropout_row(const float *restrict src, float *restrict dst, int64_t n,
                                uint64_t seed, uint64_t base, float rate, float on) {
    for (int64_t j = 0; j < n; j++)
        dst[j] = src[j] * (cnn_rand_uniform(seed, base + (uint64_t)j) >= rate ? on : 0.0f);
}

/* Backward's dp = dpd * keep / (1 - rate) without drawing the mask again: pd = p * keep *
 * on is nonzero exactly where keep is, wherever p is nonzero (on >= 1, so nothing
 * underflows), and where p is 0 the softmax backward ignores dp. */
CNN_HOT static void redrop(const float *restrict pd, float *restrict dp, int64_t n, float on) {
    for (int64_t j = 0; j < n; j++) dp[j] = pd[j] != 0.0f ? dp[j] * on : 0.0f;
}

/* ---- forward ------------------------------------------------------------------------- */

/* Query step i's masking: returns its mask row, contiguous, or NULL (none, or one value
 * for the whole row), and sets *jmax: key steps from *jmax on are masked (causal, or a
 * row-wide 0). mask: the (b, h) block's mask, NULL without one. */
static const float *row_masking(const geom *g, const float *mask, int64_t i, int64_t *jmax) {
    *jmax = g->causal && i + 1 < g->Tk ? i + 1 : g->Tk;
    const float *mrow = mask ? mask + i * g->ms[2] : NULL;
    if (mrow && !g->ms[3]) {
        if (mrow[0] == 0.0f) *jmax = 0;
        mrow = NULL;
    }
    return mrow;
}

/* The probabilities of one (b, h) block into p (Tq, Tk): scale * q k^T, + bias, masked
 * softmax. Q and K point at the block's first rows (strides ldq, ldk). */
static void block_probs(const geom *g, const float *Q, const float *K, float *p, int64_t b, int64_t h) {
    int64_t Tq = g->Tq, Tk = g->Tk;
    if (g->d > 0)  // p (Tq, Tk) = scale * Q (Tq, d) . K^T (d, Tk)
        cnn_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)Tq, (int)Tk, (int)g->d, g->scale,
                  Q, (int)g->ldq, K, (int)g->ldk, 0.0f, p, (int)Tk);
    else
        memset(p, 0, sizeof(float) * (size_t)(Tq * Tk));
    const float *mb = g->m ? g->m + b * g->ms[0] + h * g->ms[1] : NULL;
    const float *bias = g->kind == KIND_BIAS ? mb : NULL, *mask = g->kind == KIND_MASK ? mb : NULL;
    float fill = g->style == STYLE_MHA ? MHA_FILL : OPS_FILL;
    for (int64_t i = 0; i < Tq; i++) {
        float *row = p + i * Tk;
        if (bias) {
            const float *br = bias + i * g->ms[2];
            if (g->ms[3]) for (int64_t j = 0; j < Tk; j++) row[j] += br[j];
            else for (int64_t j = 0; j < Tk; j++) row[j] += br[0];
        }
        int64_t jmax;
        const float *mrow = row_masking(g, mask, i, &jmax);
        softmax_row(row, Tk, mrow, jmax, fill, g->style == STYLE_MHA);
    }
}

/* Offsets (floats) of block (b, h)'s first rows in q, k, v and out. */
typedef struct { int64_t q, k, v, o; } offsets;

static offsets block_offsets(const geom *g, int64_t b, int64_t h) {
    int64_t kh = h / (g->H / g->Hk);
    return (offsets){b * g->Tq * g->ldq + h * g->d, b * g->Tk * g->ldk + kh * g->d,
                     b * g->Tk * g->ldv + kh * g->dv, b * g->Tq * g->ldo + h * g->dv};
}

/* Batches [b0, b1) of a call, with this range's scratch (see cnn_parallel_for): blocks of
 * different samples never share an output, so batches split across the engine's threads. */
typedef struct {
    cnn_op_ctx *c;
    const geom *g;
    int drop;
    uint64_t seed;
    float rate, on;
    unsigned fresh;
    int need_ds;
} sdpa_job;

static float *part_scratch(const sdpa_job *j, int part) {
    return j->c->work + (int64_t)part * 2 * j->g->Tq * j->g->Tk;
}

static void sdpa_forward_range(void *arg, int64_t b0, int64_t b1, int part) {
    const sdpa_job *j = arg;
    cnn_op_ctx *c = j->c;
    const geom *g = j->g;
    int64_t Tq = g->Tq, Tk = g->Tk;
    float *scratch = part_scratch(j, part);
    for (int64_t b = b0; b < b1; b++)
        for (int64_t h = 0; h < g->H; h++) {
            offsets o = block_offsets(g, b, h);
            int64_t blk = b * g->H + h;
            float *p = c->aux + blk * Tq * Tk;                             // (Tq, Tk)
            block_probs(g, c->in[0] + o.q, c->in[1] + o.k, p, b, h);
            if (g->dv == 0) continue;  // an empty output; p is still kept for backward
            const float *pd = p;
            if (j->drop) {
                for (int64_t i = 0; i < Tq; i++)
                    dropout_row(p + i * Tk, scratch + i * Tk, Tk, j->seed,
                                (uint64_t)((blk * Tq + i) * Tk), j->rate, j->on);
                pd = scratch;
            }
            // O (Tq, dv) = pd (Tq, Tk) . V (Tk, dv), rows of stride ldv and ldo
            cnn_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Tq, (int)g->dv, (int)Tk, 1.0f,
                      pd, (int)Tk, c->in[2] + o.v, (int)g->ldv, 0.0f, c->out + o.o, (int)g->ldo);
        }
}

static sdpa_job dropout_job(cnn_op_ctx *c, const geom *g) {
    sdpa_job j = {c, g, dropout_active(c), 0, 0.0f, 0.0f, 0, 0};
    if (j.drop) j.seed = dropout_seed(c), j.rate = (float)c->attrs->f[1], j.on = keep_scale(c);
    return j;
}

static cnn_status sdpa_forward(cnn_op_ctx *c) {
    geom g = geom_of(c, 2, 3);
    int64_t Tq = g.Tq, Tk = g.Tk;
    if (g.B == 0 || g.H == 0 || Tq == 0) return CNN_OK;
    if (Tk == 0) {  // attention over no key steps: an empty sum
        int64_t n = cnn_shape_numel(&c->out_shape);
        if (n > 0) memset(c->out, 0, sizeof(float) * (size_t)n);
        return CNN_OK;
    }
    sdpa_job j = dropout_job(c, &g);
    cnn_parallel_for(g.B, 1, sdpa_forward_range, &j);
    return CNN_OK;
}

static cnn_status sdpa_probs_forward(cnn_op_ctx *c) {
    geom g = geom_of(c, -1, 2);
    if (g.B == 0 || g.H == 0 || g.Tq == 0 || g.Tk == 0) return CNN_OK;
    for (int64_t b = 0; b < g.B; b++)
        for (int64_t h = 0; h < g.H; h++) {
            offsets o = block_offsets(&g, b, h);
            block_probs(&g, c->in[0] + o.q, c->in[1] + o.k, c->out + (b * g.H + h) * g.Tq * g.Tk, b, h);
        }
    return CNN_OK;
}

/* ---- backward ------------------------------------------------------------------------ */

/* Zeroes the fresh gradients (see ops.h) that no sgemm will overwrite block by block: the
 * mask's or bias's (a mask gets none; a bias's sums over broadcast dims), and every one when
 * a size is 0. Returns the fresh bits left to the sgemms. */
static unsigned zero_fresh(const cnn_op_ctx *c, int im, int degenerate) {
    unsigned fresh = c->grad_fresh;
    for (int k = 0; k < c->n_in; k++) {
        if (!((fresh >> k) & 1u) || !(k == im || degenerate)) continue;
        int64_t n = cnn_shape_numel(c->in_shape[k]);
        if (c->in_grad[k] && n > 0) memset(c->in_grad[k], 0, sizeof(float) * (size_t)n);
        fresh &= ~(1u << k);
    }
    return fresh;
}

/* From dp (Tq, Tk, may be ds) of block (b, h) to ds = p * (dp - sum_j dp p) and on into
 * the bias, q and k gradients. The first query head of a key/value group starts a fresh dk
 * block (beta 0); the others add to it. */
static void block_backward(const cnn_op_ctx *c, const geom *g, unsigned fresh, const float *p,
                           const float *dp, float *ds, int64_t b, int64_t h) {
    int64_t Tq = g->Tq, Tk = g->Tk;
    offsets o = block_offsets(g, b, h);
    float *dq = c->in_grad[0], *dk = c->in_grad[1];
    for (int64_t i = 0; i < Tq; i++) softmax_grad_row(p + i * Tk, dp + i * Tk, ds + i * Tk, Tk);
    if (g->style == STYLE_OPS && (g->causal || (g->m && g->kind == KIND_MASK))) {
        // A fully masked row keeps uniform p over logits that are all the fill constant, so
        // nothing flows back from it; elsewhere masked p are already exactly 0.
        const float *mask = g->m && g->kind == KIND_MASK ? g->m + b * g->ms[0] + h * g->ms[1] : NULL;
        for (int64_t i = 0; i < Tq; i++) {
            int64_t jmax;
            const float *mrow = row_masking(g, mask, i, &jmax);
            float *row = ds + i * Tk;
            for (int64_t j = 0; j < Tk; j++) row[j] = ATTENDS(j) ? row[j] : 0.0f;
        }
    }
    if (g->dm) {  // the bias enters the logits unscaled: dm += ds, over broadcast dims
        float *db = g->dm + b * g->ms[0] + h * g->ms[1];
        for (int64_t i = 0; i < Tq; i++) {
            float *dr = db + i * g->ms[2];
            const float *row = ds + i * Tk;
            if (g->ms[3]) for (int64_t j = 0; j < Tk; j++) dr[j] += row[j];
            else for (int64_t j = 0; j < Tk; j++) dr[0] += row[j];
        }
    }
    if (g->d == 0) return;
    float beta_q = (fresh & 1u) ? 0.0f : 1.0f;
    float beta_k = ((fresh >> 1) & 1u) && h % (g->H / g->Hk) == 0 ? 0.0f : 1.0f;
    if (dq)  // dQ (Tq, d) += scale * ds (Tq, Tk) . K (Tk, d)
        cnn_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Tq, (int)g->d, (int)Tk, g->scale,
                  ds, (int)Tk, c->in[1] + o.k, (int)g->ldk, beta_q, dq + o.q, (int)g->ldq);
    if (dk)  // dK (Tk, d) += scale * ds^T (Tk, Tq) . Q (Tq, d)
        cnn_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)Tk, (int)g->d, (int)Tq, g->scale,
                  ds, (int)Tk, c->in[0] + o.q, (int)g->ldq, beta_k, dk + o.k, (int)g->ldk);
}

static void sdpa_backward_range(void *arg, int64_t b0, int64_t b1, int part) {
    const sdpa_job *j = arg;
    cnn_op_ctx *c = j->c;
    const geom *g = j->g;
    int64_t Tq = g->Tq, Tk = g->Tk, grp = g->H / g->Hk;
    float *dv = c->in_grad[2], *pd_buf = part_scratch(j, part), *ds = pd_buf + Tq * Tk;
    for (int64_t b = b0; b < b1; b++)
        for (int64_t h = 0; h < g->H; h++) {
            offsets o = block_offsets(g, b, h);
            int64_t blk = b * g->H + h;
            const float *V = c->in[2] + o.v, *G = c->out_grad + o.o;     // G (Tq, dv), rows ldo
            const float *p = c->aux + blk * Tq * Tk;                       // (Tq, Tk)
            const float *pd = p;
            if (j->drop) {
                for (int64_t i = 0; i < Tq; i++)
                    dropout_row(p + i * Tk, pd_buf + i * Tk, Tk, j->seed,
                                (uint64_t)((blk * Tq + i) * Tk), j->rate, j->on);
                pd = pd_buf;
            }
            if (dv && g->dv > 0) {  // dV (Tk, dv) += pd^T (Tk, Tq) . G (Tq, dv)
                float beta_v = ((j->fresh >> 2) & 1u) && h % grp == 0 ? 0.0f : 1.0f;
                cnn_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)Tk, (int)g->dv, (int)Tq,
                          1.0f, pd, (int)Tk, G, (int)g->ldo, beta_v, dv + o.v, (int)g->ldv);
            }
            if (!j->need_ds) continue;
            if (g->dv > 0)  // dpd (Tq, Tk) = G (Tq, dv) . V^T (dv, Tk)
                cnn_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)Tq, (int)Tk, (int)g->dv,
                          1.0f, G, (int)g->ldo, V, (int)g->ldv, 0.0f, ds, (int)Tk);
            else
                memset(ds, 0, sizeof(float) * (size_t)(Tq * Tk));
            if (j->drop) redrop(pd, ds, Tq * Tk, j->on);  // dp = dpd * keep / (1 - rate)
            block_backward(c, g, j->fresh, p, ds, ds, b, h);
        }
}

static cnn_status sdpa_backward(cnn_op_ctx *c) {
    geom g = geom_of(c, 2, 3);
    int degenerate = g.B == 0 || g.H == 0 || g.Tq == 0 || g.Tk == 0;
    unsigned fresh = zero_fresh(c, 3, degenerate);
    int need_ds = c->in_grad[0] || c->in_grad[1] || g.dm;
    if (degenerate || (!c->in_grad[2] && !need_ds)) return CNN_OK;
    sdpa_job j = dropout_job(c, &g);
    j.fresh = fresh, j.need_ds = need_ds;
    // A bias shared by every sample sums all samples' gradients into one block: one thread.
    if (g.dm && g.ms[0] == 0) sdpa_backward_range(&j, 0, g.B, 0);
    else cnn_parallel_for(g.B, 1, sdpa_backward_range, &j);
    return CNN_OK;
}

static cnn_status sdpa_probs_backward(cnn_op_ctx *c) {
    geom g = geom_of(c, -1, 2);
    int degenerate = g.B == 0 || g.H == 0 || g.Tq == 0 || g.Tk == 0;
    unsigned fresh = zero_fresh(c, 2, degenerate);
    if (degenerate || (!c->in_grad[0] && !c->in_grad[1] && !g.dm)) return CNN_OK;
    for (int64_t b = 0; b < g.B; b++)
        for (int64_t h = 0; h < g.H; h++) {
            int64_t off = (b * g.H + h) * g.Tq * g.Tk;
            block_backward(c, &g, fresh, c->out + off, c->out_grad + off, c->work, b, h);
        }
    return CNN_OK;
}

/* ---- sizes and table ----------------------------------------------------------------- */

static int64_t sdpa_aux_size(const cnn_op_ctx *c) {
    geom g = geom_of(c, 2, 3);
    return g.B * g.H * g.Tq * g.Tk;
}

static int64_t sdpa_work_size(const cnn_op_ctx *c) {  // two (Tq, Tk) blocks per range
    geom g = geom_of(c, 2, 3);
    return CNN_MAX_PARTS * 2 * g.Tq * g.Tk;
}

static int64_t sdpa_probs_work_size(const cnn_op_ctx *c) {
    geom g = geom_of(c, -1, 2);
    return g.Tq * g.Tk;
}

const cnn_op_def cnn_ops_attention[] = {
    {.name = "sdpa", .min_inputs = 3, .max_inputs = 4, .infer = sdpa_infer,
     .forward = sdpa_forward, .backward = sdpa_backward, .aux_size = sdpa_aux_size,
     .work_size = sdpa_work_size, .overwrites_fresh_grads = 1},
    {.name = "sdpa_probs", .min_inputs = 2, .max_inputs = 3, .infer = sdpa_probs_infer,
     .forward = sdpa_probs_forward, .backward = sdpa_probs_backward,
     .work_size = sdpa_probs_work_size, .overwrites_fresh_grads = 1},
    {0},
};
