/* ops_registry.c: the one table of ops, assembled from the family files. */
#include <string.h>

#include "ops.h"

static const cnn_op_def *const families[] = {
    cnn_ops_linalg, cnn_ops_elementwise, cnn_ops_activation, cnn_ops_reduce,
    cnn_ops_shape,  cnn_ops_loss,        cnn_ops_metric,     cnn_ops_norm,
    cnn_ops_random, cnn_ops_pool,   cnn_ops_conv,   cnn_ops_image,
    cnn_ops_sequence, cnn_ops_recurrent, cnn_ops_attention,
};

#define MAX_OPS 256
static const cnn_op_def *table[MAX_OPS];
static int n_ops;

cnn_status cnn_ops_init(void) {
    if (n_ops) return CNN_OK;
    int n = 0;
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
        for (const cnn_op_def *d = families[f]; d->name; d++) {
            if (n == MAX_OPS) return cnn_fail(CNN_ERR_INTERNAL, "op registry is full");
            // A differentiable op without backward cannot be registered.
            if (!d->infer || !d->forward || (!d->not_differentiable && !d->backward))
                return cnn_fail(CNN_ERR_INTERNAL, "op %s is missing infer/forward/backward", d->name);
            if (d->min_inputs < 0 || d->max_inputs > CNN_MAX_INPUTS || d->min_inputs > d->max_inputs)
                return cnn_fail(CNN_ERR_INTERNAL, "op %s declares a bad arity", d->name);
            for (int i = 0; i < n; i++)
                if (!strcmp(table[i]->name, d->name))
                    return cnn_fail(CNN_ERR_INTERNAL, "op %s is registered twice", d->name);
            table[n++] = d;
        }
    }
    n_ops = n;
    return CNN_OK;
}

const cnn_op_def *cnn_op_find(const char *name) {
    for (int i = 0; i < n_ops; i++)
        if (!strcmp(table[i]->name, name)) return table[i];
    return NULL;
}

int cnn_op_count(void) { return n_ops; }
const cnn_op_def *cnn_op_at(int i) { return i >= 0 && i < n_ops ? table[i] : NULL; }
