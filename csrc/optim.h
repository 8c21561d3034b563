/* optim.h: optimizers that update variables in place from their gradients, with Keras 3's
 * update rules. State (moments) lives in flat buffers owned by the optimizer, one slot per
 * variable, created on the variable's first update. */
#ifndef CNN_OPTIM_H
#define CNN_OPTIM_H

#include "cnn.h"

typedef enum {
    CNN_OPT_SGD = 0,
    CNN_OPT_ADAM = 1,    /* AdamW is Adam with weight_decay */
    CNN_OPT_RMSPROP = 2,
    CNN_OPT_ADAGRAD = 3,
    CNN_OPT_NADAM = 4
} cnn_optimizer_kind;

typedef struct {
    cnn_optimizer_kind kind;
    /* Doubles as Python gives them: Keras computes some constants (1 - beta) in double
     * before they meet float32 tensors, and matching it to the last digit needs the same. */
    double learning_rate;            /* this step's rate; a schedule rewrites it per step */
    double momentum;                 /* SGD, RMSprop */
    int nesterov;                    /* SGD */
    double beta_1, beta_2;           /* Adam, Nadam */
    double epsilon;                  /* Adam, Nadam, RMSprop, Adagrad */
    int amsgrad;                     /* Adam */
    double rho;                      /* RMSprop */
    int centered;                    /* RMSprop */
    double initial_accumulator_value; /* Adagrad */
    /* Keras's base-optimizer options, for every kind, in Keras's order: clip the gradients
     * (at most one of the three clips is > 0; 0 is off), decay the variables
     * (w *= 1 - weight_decay * lr; 0 is off), then the update rule. */
    double clipnorm, clipvalue, global_clipnorm;
    double weight_decay;
} cnn_optimizer_config;

typedef struct cnn_optimizer cnn_optimizer;

cnn_status cnn_optimizer_new(const cnn_optimizer_config *cfg, cnn_optimizer **out);
void cnn_optimizer_free(cnn_optimizer *o);
cnn_optimizer_config *cnn_optimizer_config_of(cnn_optimizer *o);  /* mutable: lr changes */
int64_t cnn_optimizer_iterations(const cnn_optimizer *o);
void cnn_optimizer_set_iterations(cnn_optimizer *o, int64_t it);
/* Nadam's running product of momentum-schedule terms (1 before the first step; kept, and
 * unused, by the other kinds). */
float cnn_optimizer_u_product(const cnn_optimizer *o);
void cnn_optimizer_set_u_product(cnn_optimizer *o, float u);

/* A variable's state, for saving and restoring it. Slot buffers come in the fixed order
 * m, v, vhat; the rule keeps only some of them, and the others are NULL:
 *   SGD      m (momentum; only when momentum > 0)
 *   Adam     m (momentum), v (velocity), vhat (velocity_hat; only with amsgrad)
 *   RMSprop  m (momentum; only when momentum > 0), v (velocity), vhat (average gradient;
 *            only when centered)
 *   Adagrad  v (accumulator)
 *   Nadam    m (momentum), v (velocity)
 * Each buffer holds *size floats (the variable's element count). `cnn_optimizer_slots`
 * finds the state (all three NULL, returns 0, when the variable has none yet);
 * `cnn_optimizer_ensure_slots` creates it first with the rule's initial values. */
int cnn_optimizer_slot_mask(const cnn_optimizer *o); /* bit k set: the rule keeps buffer k */
int cnn_optimizer_slots(cnn_optimizer *o, const cnn_tensor *var, float *bufs[3], int64_t *size);
cnn_status cnn_optimizer_ensure_slots(cnn_optimizer *o, const cnn_tensor *var, float *bufs[3], int64_t *size);

/* One step over n variables: clip grads, decay vars, vars[i] -= update(grads[i]) (grads[i]
 * has vars[i]'s size). The gradients are read, never written. Increments the iteration
 * count once. */
cnn_status cnn_optimizer_apply(cnn_optimizer *o, int n, cnn_tensor *const *vars, const float *const *grads);

#endif
