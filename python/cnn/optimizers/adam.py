"""Adam, with the AMSGrad variant."""
from . import base_optimizer
from .base_optimizer import Optimizer


def adam_rule(beta_1, beta_2, epsilon, amsgrad=None):
    """Adam-family hyperparameters, validated."""
    rule = {"beta_1": base_optimizer.check_range("beta_1", beta_1, high_open=True),
            "beta_2": base_optimizer.check_range("beta_2", beta_2, high_open=True),
            "epsilon": base_optimizer.check_nonnegative("epsilon", epsilon)}
    if amsgrad is not None:
        rule["amsgrad"] = bool(amsgrad)
    return rule


class Adam(Optimizer):
    """Optimizer that implements the Adam algorithm.

    Adam optimization is a stochastic gradient descent method that is based on adaptive
    estimation of first-order and second-order moments. At step `t` (counting from 1):

    ```python
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g ** 2
    alpha = learning_rate * sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
    w = w - alpha * m / (sqrt(v) + epsilon)
    ```

    With `amsgrad=True`, `v` in the last line is replaced by the running maximum of `v`.

    Args:
        learning_rate: A float, a `cnn.optimizers.schedules.LearningRateSchedule`, or a
            callable that takes no arguments and returns the rate. Defaults to `0.001`.
        beta_1: A float in [0, 1). The exponential decay rate for the 1st moment estimates.
            Defaults to `0.9`.
        beta_2: A float in [0, 1). The exponential decay rate for the 2nd moment estimates.
            Defaults to `0.999`.
        epsilon: A small non-negative constant for numerical stability. This epsilon is
            "epsilon hat" in the Kingma and Ba paper (in the formula just before Section
            2.1), not the epsilon in Algorithm 1 of the paper. Defaults to `1e-7`.
        amsgrad: Boolean. Whether to apply AMSGrad variant of this algorithm from the paper
            "On the Convergence of Adam and beyond". Defaults to `False`.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: see
            `cnn.optimizers.Optimizer`.
    """

    _kind = "adam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name=None, **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name,
                         _rule=adam_rule(beta_1, beta_2, epsilon, amsgrad), **kwargs)

    def _slots_per_param(self):
        return 3 if self.amsgrad else 2
