/* tape.h: eager autodiff. While a tape is active, every eager op appends an entry (op,
 * attributes, inputs, output, saved aux, training flag, seed); gradient() replays the
 * entries backwards with the same backward kernels the static graph uses. */
#ifndef CNN_TAPE_H
#define CNN_TAPE_H

#include "ops.h"

typedef struct cnn_tape cnn_tape;

cnn_tape *cnn_tape_new(int persistent);
void cnn_tape_free(cnn_tape *t);
/* Records one op application (retains the tensors; aux is shared, refcounted). */
cnn_status cnn_tape_record(cnn_tape *t, const cnn_op_def *def, const cnn_attrs *a, int n_in,
                           cnn_tensor *const *in, cnn_tensor *out, cnn_storage *aux, int training,
                           uint64_t seed);
/* d(sum(target))/d(sources[k]) into grads[k] (new tensors), NULL where unconnected. */
cnn_status cnn_tape_gradient(cnn_tape *t, cnn_tensor *target, int n_src, cnn_tensor *const *sources,
                             cnn_tensor **grads);

#endif
