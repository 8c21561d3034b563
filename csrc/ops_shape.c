/* ops_shape.c: placeholder table until the family lands. */
#include "ops.h"

const cnn_op_def cnn_ops_shape[] = {
    {0},
};
