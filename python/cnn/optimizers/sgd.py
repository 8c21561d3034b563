"""Stochastic gradient descent with momentum and Nesterov momentum."""
from . import base_optimizer
from .base_optimizer import Optimizer


class SGD(Optimizer):
    """Gradient descent (with momentum) optimizer.

    Update rule for parameter `w` with gradient `g` when `momentum` is 0:

    ```python
    w = w - learning_rate * g
    ```

    Update rule when `momentum` is larger than 0:

    ```python
    velocity = momentum * velocity - learning_rate * g
    w = w + velocity
    ```

    When `nesterov=True`, this rule becomes:

    ```python
    velocity = momentum * velocity - learning_rate * g
    w = w + momentum * velocity - learning_rate * g
    ```

    The "stochastic" part comes from the batches `fit` feeds it: `batch_size=1` is classic
    per-sample SGD, `batch_size=len(x)` is full-batch gradient descent.

    Args:
        learning_rate: A float, a `cnn.optimizers.schedules.LearningRateSchedule`, or a
            callable that takes no arguments and returns the rate. Defaults to `0.01`.
        momentum: float in [0, 1] that accelerates gradient descent in the relevant
            direction and dampens oscillations. 0 is vanilla gradient descent. Defaults
            to `0.0`.
        nesterov: boolean. Whether to apply Nesterov momentum. Defaults to `False`.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: see
            `cnn.optimizers.Optimizer`.
    """

    _kind = "sgd"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, name=None, **kwargs):
        momentum = base_optimizer.check_range("momentum", momentum)
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name,
                         _rule={"momentum": momentum, "nesterov": bool(nesterov)}, **kwargs)

    def _slots_per_param(self):
        return 1 if self.momentum != 0 else 0
