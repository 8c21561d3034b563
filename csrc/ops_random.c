/* ops_random.c: placeholder table until the family lands. */
#include "ops.h"

const cnn_op_def cnn_ops_random[] = {
    {0},
};
