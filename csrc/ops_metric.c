/* ops_metric.c: placeholder table until the family lands. */
#include "ops.h"

const cnn_op_def cnn_ops_metric[] = {
    {0},
};
