/* eager.c: runs one op on concrete tensors, outside any graph. Used by the tape
 * (GradientTape, cnn.ops on arrays) and by the per-op tests. Eager calls allocate their
 * outputs; the compiled graph (graph.c) is the allocation-free path used by fit(). */
#include <stdlib.h>
#include <string.h>

#include "eager.h"
#include "fpmode.h"

static cnn_status infer_concrete(const cnn_op_def *def, int n, cnn_tensor *const *in,
                                 const cnn_attrs *a, cnn_shape *out) {
    if (n < def->min_inputs || n > def->max_inputs)
        return cnn_fail(CNN_ERR_VALUE, "%s: expected %d..%d inputs, got %d", def->name,
                        def->min_inputs, def->max_inputs, n);
    const cnn_shape *shapes[CNN_MAX_INPUTS];
    for (int i = 0; i < n; i++) shapes[i] = &in[i]->shape;
    return def->infer(n, shapes, a, out);
}

static void fill_ctx(cnn_op_ctx *c, int n, cnn_tensor *const *in, const cnn_attrs *a,
                     int training, uint64_t seed) {
    memset(c, 0, sizeof *c);
    c->attrs = a;
    c->n_in = n;
    for (int i = 0; i < n; i++) {
        c->in_shape[i] = &in[i]->shape;
        c->in[i] = cnn_tensor_data(in[i]);
    }
    c->training = training;
    c->seed = seed;
}

static float *alloc_floats(int64_t n, cnn_status *st) {
    float *p = cnn_alloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    if (!p) *st = cnn_fail(CNN_ERR_MEMORY, "out of memory allocating %lld floats", (long long)n);
    return p;
}

cnn_status cnn_eager_forward(const cnn_op_def *def, int n, cnn_tensor *const *in, const cnn_attrs *a,
                             int training, uint64_t seed, cnn_tensor **out, float **aux) {
    cnn_op_ctx c;
    cnn_status st;
    *out = NULL;
    *aux = NULL;
    fill_ctx(&c, n, in, a, training, seed);
    if ((st = infer_concrete(def, n, in, a, &c.out_shape))) return st;
    if (cnn_shape_numel(&c.out_shape) < 0)
        return cnn_fail(CNN_ERR_INTERNAL, "%s: inferred an unknown shape from concrete inputs", def->name);
    cnn_tensor *t = cnn_tensor_new(&c.out_shape);
    if (!t) return CNN_ERR_MEMORY;
    c.out = cnn_tensor_data(t);
    int64_t naux = def->aux_size ? def->aux_size(&c) : 0;
    int64_t nwork = def->work_size ? def->work_size(&c) : 0;
    st = CNN_OK;
    float *auxp = naux > 0 ? alloc_floats(naux, &st) : NULL;
    float *work = (st == CNN_OK && nwork > 0) ? alloc_floats(nwork, &st) : NULL;
    c.aux = auxp;
    c.work = work;
    if (st == CNN_OK) {
        unsigned fp = cnn_fp_enter();
        st = def->forward(&c);
        cnn_fp_leave(fp);
    }
    cnn_free(work);
    if (st) { cnn_free(auxp); cnn_tensor_release(t); return st; }
    *out = t;
    *aux = auxp;
    return CNN_OK;
}

cnn_status cnn_eager_backward(const cnn_op_def *def, int n, cnn_tensor *const *in, const cnn_tensor *out,
                              float *aux, const cnn_attrs *a, int training, uint64_t seed,
                              const float *out_grad, float *const *in_grad) {
    if (def->not_differentiable) return CNN_OK;
    cnn_op_ctx c;
    fill_ctx(&c, n, in, a, training, seed);
    c.out_shape = out->shape;
    c.out = cnn_tensor_data(out);
    c.aux = aux;
    c.out_grad = out_grad;
    int any = 0;
    for (int i = 0; i < n; i++) {
        c.in_grad[i] = (def->no_grad_inputs >> i) & 1u ? NULL : in_grad[i];
        any |= c.in_grad[i] != NULL;
    }
    if (!any) return CNN_OK;
    int64_t nwork = def->work_size ? def->work_size(&c) : 0;
    cnn_status st = CNN_OK;
    float *work = nwork > 0 ? alloc_floats(nwork, &st) : NULL;
    if (st) return st;
    c.work = work;
    unsigned fp = cnn_fp_enter();
    st = def->backward(&c);
    cnn_fp_leave(fp);
    cnn_free(work);
    return st;
}
