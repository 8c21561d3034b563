/* ops_shape.c: ops that move data without arithmetic. Data is always contiguous, so each
 * op copies into its own output (no views), and each backward is the same movement run
 * the other way, adding into the input gradient.
 *
 * reshape(x): ints = target dims; at most one -1, inferred from the element count.
 * transpose(x): ints = permutation of the axes (output axis j is input axis perm[j]);
 *   no ints reverses the axes.
 * concat(x0, ..., xn): 1..32 inputs joined along ints[0] = axis (negative allowed); every
 *   other dim must match.
 * slice(x): ints = starts (one per axis) then sizes (one per axis); size -1 runs to the
 *   end of that axis.
 * reverse(x): ints[0] = axis (negative allowed); the entries along that axis in reverse
 *   order (Bidirectional's backward outputs back in time order).
 */
#include <stdio.h>
#include <string.h>

#include "ops.h"

static void strides_of(const cnn_shape *s, int64_t st[CNN_MAX_DIMS]) {
    int64_t acc = 1;
    for (int d = s->ndim - 1; d >= 0; d--) { st[d] = acc; acc *= s->dim[d]; }
}

static void add_into(float *dst, const float *src, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] += src[i];
}

/* ---- reshape ----------------------------------------------------------------------- */

static cnn_status reshape_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n;
    const cnn_shape *x = in[0];
    char buf[160];
    if (a->n_int > CNN_MAX_DIMS)
        return cnn_fail(CNN_ERR_VALUE, "reshape: target %s has more than %d dims",
                        cnn_ints_str(a->i, a->n_int, buf, sizeof buf), CNN_MAX_DIMS);
    int free_axis = -1;
    int64_t known = 1;  // product of the given target dims
    for (int d = 0; d < a->n_int; d++) {
        if (a->i[d] < -1 || (a->i[d] == -1 && free_axis >= 0))
            return cnn_fail(CNN_ERR_VALUE, "reshape: bad target %s for input %s (dims must be "
                            ">= 0, with at most one -1)", cnn_ints_str(a->i, a->n_int, buf, sizeof buf),
                            cnn_shape_fmt(x));
        if (a->i[d] == -1) free_axis = d;
        else known *= a->i[d];
    }
    out->ndim = a->n_int;
    for (int d = 0; d < a->n_int; d++) out->dim[d] = a->i[d];
    int64_t total = cnn_shape_numel(x);
    if (total < 0) return CNN_OK;  // symbolic batch: the -1 stays unknown, nothing to check
    if (free_axis >= 0 ? (known == 0 || total % known != 0) : known != total)
        return cnn_fail(CNN_ERR_SHAPE, "reshape: cannot reshape input %s (%lld elements) into "
                        "target %s", cnn_shape_fmt(x), (long long)total,
                        cnn_ints_str(a->i, a->n_int, buf, sizeof buf));
    if (free_axis >= 0) out->dim[free_axis] = total / known;
    return CNN_OK;
}

static cnn_status reshape_forward(cnn_op_ctx *c) {
    memcpy(c->out, c->in[0], sizeof(float) * (size_t)cnn_shape_numel(&c->out_shape));
    return CNN_OK;
}

static cnn_status reshape_backward(cnn_op_ctx *c) {
    if (c->in_grad[0]) add_into(c->in_grad[0], c->out_grad, cnn_shape_numel(&c->out_shape));
    return CNN_OK;
}

/* ---- transpose --------------------------------------------------------------------- */

/* Reads the permutation (reversed axes when none is given) and checks it. */
static cnn_status transpose_perm(const cnn_shape *x, const cnn_attrs *a, int perm[CNN_MAX_DIMS]) {
    char buf[160];
    if (a->n_int == 0) {
        for (int j = 0; j < x->ndim; j++) perm[j] = x->ndim - 1 - j;
        return CNN_OK;
    }
    if (a->n_int != x->ndim)
        return cnn_fail(CNN_ERR_VALUE, "transpose: permutation %s has %d entries for input %s of rank %d",
                        cnn_ints_str(a->i, a->n_int, buf, sizeof buf), a->n_int, cnn_shape_fmt(x), x->ndim);
    int seen[CNN_MAX_DIMS] = {0};
    for (int j = 0; j < x->ndim; j++) {
        int64_t p = a->i[j] < 0 ? a->i[j] + x->ndim : a->i[j];
        if (p < 0 || p >= x->ndim || seen[p])
            return cnn_fail(CNN_ERR_VALUE, "transpose: %s is not a permutation of the axes of input %s",
                            cnn_ints_str(a->i, a->n_int, buf, sizeof buf), cnn_shape_fmt(x));
        seen[p] = 1;
        perm[j] = (int)p;
    }
    return CNN_OK;
}

static cnn_status transpose_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n;
    int perm[CNN_MAX_DIMS];
    cnn_status st = transpose_perm(in[0], a, perm);
    if (st) return st;
    out->ndim = in[0]->ndim;
    for (int j = 0; j < out->ndim; j++) out->dim[j] = in[0]->dim[perm[j]];
    return CNN_OK;
}

#define TILE 32

/* dst = src with its axes permuted (output axis j is src axis perm[j]); with `add`,
 * dst += instead. dst is written in order. Axes that stay neighbours in src fold into one;
 * the last two folded axes are copied in TILE x TILE blocks, so a strided read of src
 * reuses each cache line it pulls in before the line is evicted. */
static void permute(const float *src, const cnn_shape *s, const int *perm, float *dst, int add) {
    int64_t sst[CNN_MAX_DIMS], dim[CNN_MAX_DIMS], st[CNN_MAX_DIMS];
    strides_of(s, sst);
    int nd = 0;
    for (int j = 0; j < s->ndim; j++) {
        int64_t dj = s->dim[perm[j]], sj = sst[perm[j]];
        if (dj == 1) continue;
        if (nd > 0 && st[nd - 1] == sj * dj) { dim[nd - 1] *= dj; st[nd - 1] = sj; }
        else { dim[nd] = dj; st[nd] = sj; nd++; }
    }
    int64_t total = cnn_shape_numel(s);
    if (total == 0) return;
    if (nd <= 1) {  // the permutation moves nothing
        if (add) add_into(dst, src, total);
        else memcpy(dst, src, sizeof(float) * (size_t)total);
        return;
    }
    int64_t rows = dim[nd - 2], cols = dim[nd - 1], sr = st[nd - 2], sc = st[nd - 1];
    int64_t tile_c = sc == 1 ? cols : TILE;  // rows contiguous in src too: no need to tile
    int64_t idx[CNN_MAX_DIMS] = {0}, off = 0;
    for (int64_t base = 0; base < total; base += rows * cols) {
        const float *sp = src + off;
        float *dp = dst + base;
        for (int64_t i0 = 0; i0 < rows; i0 += TILE) {
            int64_t i1 = i0 + TILE < rows ? i0 + TILE : rows;
            for (int64_t j0 = 0; j0 < cols; j0 += tile_c) {
                int64_t j1 = j0 + tile_c < cols ? j0 + tile_c : cols;
                for (int64_t i = i0; i < i1; i++) {
                    const float *si = sp + i * sr;
                    float *di = dp + i * cols;
                    if (add) for (int64_t j = j0; j < j1; j++) di[j] += si[j * sc];
                    else for (int64_t j = j0; j < j1; j++) di[j] = si[j * sc];
                }
            }
        }
        // Odometer over the outer folded axes, tracking the source offset.
        for (int d = nd - 3; d >= 0; d--) {
            off += st[d];
            if (++idx[d] < dim[d]) break;
            off -= st[d] * dim[d];
            idx[d] = 0;
        }
    }
}

static cnn_status transpose_forward(cnn_op_ctx *c) {
    int perm[CNN_MAX_DIMS];
    transpose_perm(c->in_shape[0], c->attrs, perm);
    permute(c->in[0], c->in_shape[0], perm, c->out, 0);
    return CNN_OK;
}

static cnn_status transpose_backward(cnn_op_ctx *c) {
    if (!c->in_grad[0]) return CNN_OK;
    // dx is dy permuted by the inverse permutation.
    int perm[CNN_MAX_DIMS], inv[CNN_MAX_DIMS];
    transpose_perm(c->in_shape[0], c->attrs, perm);
    for (int j = 0; j < c->out_shape.ndim; j++) inv[perm[j]] = j;
    permute(c->out_grad, &c->out_shape, inv, c->in_grad[0], 1);
    return CNN_OK;
}

/* ---- concat ------------------------------------------------------------------------ */

static cnn_status concat_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    if (a->n_int < 1)
        return cnn_fail(CNN_ERR_VALUE, "concat: the axis (ints[0]) is missing");
    int ax;
    if (cnn_norm_axis("concat", a->i[0], in[0]->ndim, &ax))
        return cnn_fail(CNN_ERR_VALUE, "concat: axis %lld is out of range for input 0 %s",
                        (long long)a->i[0], cnn_shape_fmt(in[0]));
    *out = *in[0];
    for (int k = 1; k < n; k++) {
        const cnn_shape *x = in[k];
        int ok = x->ndim == out->ndim;
        for (int d = 0; ok && d < out->ndim; d++) {
            if (d == ax) continue;
            if (x->dim[d] == out->dim[d] || x->dim[d] == -1) continue;
            if (out->dim[d] == -1) out->dim[d] = x->dim[d];  // symbolic batch meets a size
            else ok = 0;
        }
        if (!ok)
            return cnn_fail(CNN_ERR_SHAPE, "concat: input %d %s does not fit input 0 %s along axis %lld "
                            "(all dims but the axis must match)", k, cnn_shape_fmt(x),
                            cnn_shape_fmt(in[0]), (long long)a->i[0]);
        out->dim[ax] = out->dim[ax] < 0 || x->dim[ax] < 0 ? -1 : out->dim[ax] + x->dim[ax];
    }
    return CNN_OK;
}

/* The output as (outer, sum of run_k): input k is (outer, run_k) with run_k = its axis
 * size times the size of the axes after it. Forward copies runs in, backward copies out. */
static void concat_move(cnn_op_ctx *c, int backward) {
    int ax;
    cnn_norm_axis("concat", c->attrs->i[0], c->out_shape.ndim, &ax);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < ax; d++) outer *= c->out_shape.dim[d];
    for (int d = ax + 1; d < c->out_shape.ndim; d++) inner *= c->out_shape.dim[d];
    int64_t row = c->out_shape.dim[ax] * inner, off = 0;
    for (int k = 0; k < c->n_in; k++) {
        int64_t run = c->in_shape[k]->dim[ax] * inner;
        for (int64_t o = 0; o < outer && run > 0; o++) {
            if (!backward)
                memcpy(c->out + o * row + off, c->in[k] + o * run, sizeof(float) * (size_t)run);
            else if (c->in_grad[k])
                add_into(c->in_grad[k] + o * run, c->out_grad + o * row + off, run);
        }
        off += run;
    }
}

static cnn_status concat_forward(cnn_op_ctx *c) { concat_move(c, 0); return CNN_OK; }
static cnn_status concat_backward(cnn_op_ctx *c) { concat_move(c, 1); return CNN_OK; }

/* ---- slice ------------------------------------------------------------------------- */

static cnn_status slice_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n;
    const cnn_shape *x = in[0];
    int r = x->ndim;
    char sb[160], zb[160];
    if (a->n_int != 2 * r)
        return cnn_fail(CNN_ERR_VALUE, "slice: input %s needs %d starts then %d sizes, got %d ints",
                        cnn_shape_fmt(x), r, r, a->n_int);
    const int64_t *start = a->i, *size = a->i + r;
    out->ndim = r;
    for (int d = 0; d < r; d++) {
        int64_t s = start[d], z = size[d], dim = x->dim[d];
        int bad = s < 0 || z < -1;
        if (dim >= 0) bad = bad || s > dim || (z >= 0 && s + z > dim);
        if (bad)
            return cnn_fail(CNN_ERR_VALUE, "slice: start %lld size %lld is out of bounds on axis %d "
                            "of input %s (starts %s, sizes %s)", (long long)s, (long long)z, d,
                            cnn_shape_fmt(x), cnn_ints_str(start, r, sb, sizeof sb),
                            cnn_ints_str(size, r, zb, sizeof zb));
        out->dim[d] = z >= 0 ? z : dim < 0 ? -1 : dim - s;
    }
    return CNN_OK;
}

/* Walks the slice as contiguous runs: the axes after the last one the slice cuts are
 * whole, so each run spans them. Forward copies runs of x into y; backward adds runs of
 * dy into dx. */
static void slice_move(cnn_op_ctx *c, int backward) {
    const cnn_shape *x = c->in_shape[0], *y = &c->out_shape;
    const int64_t *start = c->attrs->i;
    int r = x->ndim;
    int64_t total = cnn_shape_numel(y);
    if (total == 0) return;
    int64_t xst[CNN_MAX_DIMS], base = 0;
    strides_of(x, xst);
    for (int d = 0; d < r; d++) base += start[d] * xst[d];
    int cut = -1;  // last axis the slice cuts
    for (int d = 0; d < r; d++) if (y->dim[d] != x->dim[d]) cut = d;
    int64_t run = cut < 0 ? total : y->dim[cut] * xst[cut];
    int64_t idx[CNN_MAX_DIMS] = {0}, off = base;
    const float *src = backward ? c->out_grad : c->in[0];
    float *dst = backward ? c->in_grad[0] : c->out;
    for (int64_t o = 0; o < total; o += run) {
        if (backward) add_into(dst + off, src + o, run);
        else memcpy(dst + o, src + off, sizeof(float) * (size_t)run);
        for (int d = cut - 1; d >= 0; d--) {
            off += xst[d];
            if (++idx[d] < y->dim[d]) break;
            off -= xst[d] * y->dim[d];
            idx[d] = 0;
        }
    }
}

static cnn_status slice_forward(cnn_op_ctx *c) { slice_move(c, 0); return CNN_OK; }

static cnn_status slice_backward(cnn_op_ctx *c) {
    if (c->in_grad[0]) slice_move(c, 1);
    return CNN_OK;
}

/* ---- reverse ----------------------------------------------------------------------- */

static cnn_status reverse_infer(int n, const cnn_shape *const *in, const cnn_attrs *a, cnn_shape *out) {
    (void)n;
    int axis;
    if (a->n_int != 1)
        return cnn_fail(CNN_ERR_VALUE, "reverse: takes ints=[axis]; got %d ints for input %s",
                        a->n_int, cnn_shape_fmt(in[0]));
    cnn_status st = cnn_norm_axis("reverse", a->i[0], in[0]->ndim, &axis);
    if (st) return st;
    *out = *in[0];
    return CNN_OK;
}

/* dst[o, L-1-k, i] (op) src[o, k, i] over the (outer, L, inner) view of the shape. */
static void reverse_move(const cnn_op_ctx *c, const float *src, float *dst, int add) {
    int axis;
    cnn_norm_axis("reverse", c->attrs->i[0], c->out_shape.ndim, &axis);
    int64_t outer = 1, inner = 1, len = c->out_shape.dim[axis];
    for (int d = 0; d < axis; d++) outer *= c->out_shape.dim[d];
    for (int d = axis + 1; d < c->out_shape.ndim; d++) inner *= c->out_shape.dim[d];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < len; k++) {
            const float *s = src + (o * len + k) * inner;
            float *t = dst + (o * len + len - 1 - k) * inner;
            if (add) add_into(t, s, inner);
            else memcpy(t, s, sizeof(float) * (size_t)inner);
        }
}

static cnn_status reverse_forward(cnn_op_ctx *c) {
    reverse_move(c, c->in[0], c->out, 0);
    return CNN_OK;
}

static cnn_status reverse_backward(cnn_op_ctx *c) {
    if (c->in_grad[0]) reverse_move(c, c->out_grad, c->in_grad[0], 1);
    return CNN_OK;
}

const cnn_op_def cnn_ops_shape[] = {
    {.name = "reshape", .min_inputs = 1, .max_inputs = 1, .infer = reshape_infer,
     .forward = reshape_forward, .backward = reshape_backward},
    {.name = "transpose", .min_inputs = 1, .max_inputs = 1, .infer = transpose_infer,
     .forward = transpose_forward, .backward = transpose_backward},
    {.name = "concat", .min_inputs = 1, .max_inputs = CNN_MAX_INPUTS, .infer = concat_infer,
     .forward = concat_forward, .backward = concat_backward},
    {.name = "slice", .min_inputs = 1, .max_inputs = 1, .infer = slice_infer,
     .forward = slice_forward, .backward = slice_backward},
    {.name = "reverse", .min_inputs = 1, .max_inputs = 1, .infer = reverse_infer,
     .forward = reverse_forward, .backward = reverse_backward},
    {0},
};
