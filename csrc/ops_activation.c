/* ops_activation.c: placeholder table until the family lands. */
#include "ops.h"

const cnn_op_def cnn_ops_activation[] = {
    {0},
};
