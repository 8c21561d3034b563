/* ops_common.c: helpers shared by op families: broadcasting, axes, per-sample shapes. */
#include "ops.h"

cnn_status cnn_broadcast_shapes(const char *op, const cnn_shape *a, const cnn_shape *b, cnn_shape *out) {
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    out->ndim = nd;
    for (int i = 0; i < nd; i++) {
        int ia = i - (nd - a->ndim), ib = i - (nd - b->ndim);
        int64_t da = ia >= 0 ? a->dim[ia] : 1, db = ib >= 0 ? b->dim[ib] : 1;
        if (da == db) out->dim[i] = da;
        else if (da == 1) out->dim[i] = db;
        else if (db == 1) out->dim[i] = da;
        else if (da == -1) out->dim[i] = db;  // symbolic batch meets a concrete size
        else if (db == -1) out->dim[i] = da;
        else
            return cnn_fail(CNN_ERR_SHAPE, "%s: shapes %s and %s cannot be broadcast together",
                            op, cnn_shape_fmt(a), cnn_shape_fmt(b));
    }
    return CNN_OK;
}

cnn_status cnn_norm_axis(const char *op, int64_t axis, int ndim, int *out) {
    int64_t ax = axis < 0 ? axis + ndim : axis;
    if (ax < 0 || ax >= ndim)
        return cnn_fail(CNN_ERR_VALUE, "%s: axis %lld is out of range for rank %d", op, (long long)axis, ndim);
    *out = (int)ax;
    return CNN_OK;
}

void cnn_broadcast_strides(const cnn_shape *in, const cnn_shape *out, int64_t strides[CNN_MAX_DIMS]) {
    int off = out->ndim - in->ndim;
    int64_t s = 1;
    for (int i = out->ndim - 1; i >= 0; i--) {
        int ii = i - off;
        if (ii < 0 || in->dim[ii] == 1) strides[i] = 0;
        else { strides[i] = s; s *= in->dim[ii]; }
    }
}

/* ---- per-sample losses and metrics: (y_true, y_pred) -> y_pred.shape[:-1] ---------- */

/* y_true and y_pred of equal shape (-1 matches anything); out = y_pred.shape[:-1]. */
cnn_status cnn_infer_per_sample(const char *op, const cnn_shape *t, const cnn_shape *p, cnn_shape *out) {
    if (p->ndim < 1)
        return cnn_fail(CNN_ERR_SHAPE, "%s: y_pred needs rank >= 1, got y_true %s and y_pred %s",
                        op, cnn_shape_fmt(t), cnn_shape_fmt(p));
    int ok = t->ndim == p->ndim;
    for (int i = 0; ok && i < p->ndim; i++)
        ok = t->dim[i] == p->dim[i] || t->dim[i] == -1 || p->dim[i] == -1;
    if (!ok)
        return cnn_fail(CNN_ERR_SHAPE, "%s: y_true and y_pred must have the same shape, got y_true %s and y_pred %s",
                        op, cnn_shape_fmt(t), cnn_shape_fmt(p));
    out->ndim = p->ndim - 1;
    for (int i = 0; i < out->ndim; i++) out->dim[i] = p->dim[i] != -1 ? p->dim[i] : t->dim[i];
    return CNN_OK;
}

/* Sparse labels: y_true is y_pred.shape[:-1], or that with a trailing 1 (Keras squeezes it). */
cnn_status cnn_infer_per_sample_sparse(const char *op, const cnn_shape *t, const cnn_shape *p, cnn_shape *out) {
    int lead = p->ndim - 1, ok = p->ndim >= 1;
    if (ok && t->ndim == p->ndim) ok = t->dim[lead] == 1 || t->dim[lead] == -1;
    else ok = ok && t->ndim == lead;
    for (int i = 0; ok && i < lead; i++)
        ok = t->dim[i] == p->dim[i] || t->dim[i] == -1 || p->dim[i] == -1;
    if (!ok)
        return cnn_fail(CNN_ERR_SHAPE,
                        "%s: y_true %s must have the shape of y_pred %s without its last axis "
                        "(or with a last axis of 1)", op, cnn_shape_fmt(t), cnn_shape_fmt(p));
    out->ndim = lead;
    for (int i = 0; i < lead; i++) out->dim[i] = p->dim[i] != -1 ? p->dim[i] : t->dim[i];
    return CNN_OK;
}
