/* eager.h: one op on concrete tensors (see eager.c). */
#ifndef CNN_EAGER_H
#define CNN_EAGER_H

#include "ops.h"

/* Allocates *out (refcount 1) and *aux (cnn_free it, may be NULL). */
cnn_status cnn_eager_forward(const cnn_op_def *def, int n, cnn_tensor *const *in, const cnn_attrs *a,
                             int training, uint64_t seed, cnn_tensor **out, float **aux);
/* Adds the input gradients into in_grad[i] (NULL: not wanted). */
cnn_status cnn_eager_backward(const cnn_op_def *def, int n, cnn_tensor *const *in, const cnn_tensor *out,
                              float *aux, const cnn_attrs *a, int training, uint64_t seed,
                              const float *out_grad, float *const *in_grad);

#endif
