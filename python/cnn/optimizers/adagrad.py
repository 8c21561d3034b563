"""Adagrad: per-parameter rates from the sum of all past squared gradients."""
from . import base_optimizer
from .base_optimizer import Optimizer


class Adagrad(Optimizer):
    """Optimizer that implements the Adagrad algorithm.

    Adagrad adapts each parameter's learning rate to how often and how much it has been
    updated: the more updates a parameter receives, the smaller its steps.

    ```python
    accumulator = accumulator + g ** 2          # starts at initial_accumulator_value
    w = w - learning_rate * g / sqrt(accumulator + epsilon)
    ```

    Args:
        learning_rate: A float, a `cnn.optimizers.schedules.LearningRateSchedule`, or a
            callable that takes no arguments and returns the rate. Defaults to `0.001`.
        initial_accumulator_value: Non-negative float. Starting value for the accumulators
            (per-parameter momentum values). Defaults to `0.1`.
        epsilon: A small non-negative constant for numerical stability. Defaults to `1e-7`.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: see
            `cnn.optimizers.Optimizer`.
    """

    _kind = "adagrad"

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name=None, **kwargs):
        rule = {"initial_accumulator_value": base_optimizer.check_nonnegative(
                    "initial_accumulator_value", initial_accumulator_value),
                "epsilon": base_optimizer.check_nonnegative("epsilon", epsilon)}
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name,
                         _rule=rule, **kwargs)

    def _slots_per_param(self):
        return 1
