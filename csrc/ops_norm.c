/* ops_norm.c: placeholder table until the family lands. */
#include "ops.h"

const cnn_op_def cnn_ops_norm[] = {
    {0},
};
