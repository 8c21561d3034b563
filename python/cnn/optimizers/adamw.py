"""AdamW: Adam with decoupled weight decay."""
from .adam import Adam


class AdamW(Adam):
    """Optimizer that implements the AdamW algorithm.

    AdamW is Adam with decoupled weight decay: before each Adam update the weights shrink by
    `w = w - w * weight_decay * learning_rate`, independently of the gradient-based moment
    estimates (Loshchilov & Hutter, "Decoupled Weight Decay Regularization").

    Args:
        learning_rate: A float, a `cnn.optimizers.schedules.LearningRateSchedule`, or a
            callable that takes no arguments and returns the rate. Defaults to `0.001`.
        weight_decay: A non-negative float, the decay rate. Defaults to `0.004`.
        beta_1: A float in [0, 1). The exponential decay rate for the 1st moment estimates.
            Defaults to `0.9`.
        beta_2: A float in [0, 1). The exponential decay rate for the 2nd moment estimates.
            Defaults to `0.999`.
        epsilon: A small non-negative constant for numerical stability. Defaults to `1e-7`.
        amsgrad: Boolean. Whether to apply the AMSGrad variant. Defaults to `False`.
        clipnorm, clipvalue, global_clipnorm, name: see `cnn.optimizers.Optimizer`.
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name=None, **kwargs):
        if weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: "
                             "weight_decay=None")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay,
                         clipnorm, clipvalue, global_clipnorm, name, **kwargs)
