/* graph.h: the static graph a Keras model compiles into, and programs that run it.
 *
 * A graph is a list of nodes in topological order (a node only names earlier nodes), built
 * once with a symbolic batch dimension. A program picks the graph's inputs, outputs, loss
 * and reports, and runs it as one C call per batch: inference, evaluation, or a training
 * step (forward, loss, backward, optimizer update). Each mode has a plan (concrete shapes,
 * need-grad marks and buffer offsets in one arena) made when the batch size changes and
 * reused otherwise: a steady-state step allocates nothing.
 */
#ifndef CNN_GRAPH_H
#define CNN_GRAPH_H

#include "ops.h"
#include "optim.h"

typedef struct cnn_graph cnn_graph;
typedef struct cnn_program cnn_program;

cnn_graph *cnn_graph_new(void);
void cnn_graph_free(cnn_graph *g);
/* Each returns the new node's index, or -1 with the error set. */
int cnn_graph_input(cnn_graph *g, const cnn_shape *shape);      /* dims may be -1 (batch) */
int cnn_graph_param(cnn_graph *g, cnn_tensor *var);              /* retains var */
int cnn_graph_const(cnn_graph *g, cnn_tensor *value);            /* retains value */
int cnn_graph_op(cnn_graph *g, const cnn_op_def *def, int n_in, const int *in, const cnn_attrs *a);
const cnn_shape *cnn_graph_shape(const cnn_graph *g, int node);
int cnn_graph_size(const cnn_graph *g);

/* A program over graph g (which it shares and must outlive it: the binding keeps both). */
typedef struct {
    int n_inputs;   const int *inputs;     /* input nodes fed per batch (features) */
    int n_targets;  const int *targets;    /* input nodes fed per batch (labels, weights) */
    int n_outputs;  const int *outputs;    /* predicted values */
    int loss;                              /* scalar node minimised by train_step, or -1 */
    int n_reports;  const int *reports;    /* fixed-size nodes whose values each step returns */
    int n_trainable; cnn_tensor *const *trainable;  /* variables updated by train_step */
} cnn_program_spec;

cnn_status cnn_program_new(cnn_graph *g, const cnn_program_spec *spec, cnn_program **out);
void cnn_program_free(cnn_program *p);
/* Floats that evaluate/train_step write into `reports`: the reports' sizes, end to end. */
int64_t cnn_program_report_size(const cnn_program *p);

/* Inference: feeds xs (n_inputs tensors sharing the batch size) and copies each output into
 * outs[k] (caller-allocated; shapes from cnn_program_output_shape after planning). */
cnn_status cnn_program_predict(cnn_program *p, cnn_tensor *const *xs, float *const *outs);
cnn_status cnn_program_output_shape(cnn_program *p, cnn_tensor *const *xs, int k, cnn_shape *shape);
/* Evaluation: the reports (cnn_program_report_size floats) in inference mode. */
cnn_status cnn_program_evaluate(cnn_program *p, cnn_tensor *const *xs, cnn_tensor *const *ys, float *reports);
/* One training step: forward in training mode, backward of loss, opt update. */
cnn_status cnn_program_train_step(cnn_program *p, cnn_tensor *const *xs, cnn_tensor *const *ys,
                                  cnn_optimizer *opt, uint64_t seed, float *reports);

#endif
