"""Nadam: Adam with Nesterov momentum."""
from .adam import adam_rule
from .base_optimizer import Optimizer


class Nadam(Optimizer):
    """Optimizer that implements the Nadam algorithm.

    Much like Adam is essentially RMSprop with momentum, Nadam is Adam with Nesterov
    momentum. Keras's variant (Dozat, 2015) warms the momentum up with the schedule
    `u_t = beta_1 * (1 - 0.5 * 0.96 ** t)` at step `t` (counting from 1) and keeps the
    running product of the `u_t`:

    ```python
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g ** 2
    m_hat = u_{t+1} * m / (1 - u_1 * ... * u_{t+1}) + (1 - u_t) * g / (1 - u_1 * ... * u_t)
    v_hat = v / (1 - beta_2 ** t)
    w = w - learning_rate * m_hat / (sqrt(v_hat) + epsilon)
    ```

    Args:
        learning_rate: A float, a `cnn.optimizers.schedules.LearningRateSchedule`, or a
            callable that takes no arguments and returns the rate. Defaults to `0.001`.
        beta_1: A float in [0, 1). The exponential decay rate for the 1st moment estimates.
            Defaults to `0.9`.
        beta_2: A float in [0, 1). The exponential decay rate for the 2nd moment estimates.
            Defaults to `0.999`.
        epsilon: A small non-negative constant for numerical stability. Defaults to `1e-7`.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: see
            `cnn.optimizers.Optimizer`.
    """

    _kind = "nadam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name=None, **kwargs):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name,
                         _rule=adam_rule(beta_1, beta_2, epsilon), **kwargs)

    def slot_count(self, num_params):
        # Keras also keeps the momentum-schedule product as a variable.
        return super().slot_count(num_params) + 1

    def _slots_per_param(self):
        return 2
