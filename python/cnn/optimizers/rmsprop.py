"""RMSprop, plain, with momentum, or centered."""
from . import base_optimizer
from .base_optimizer import Optimizer


class RMSprop(Optimizer):
    """Optimizer that implements the RMSprop algorithm.

    The gist of RMSprop is to maintain a moving (discounted) average of the square of
    gradients and divide the gradient by the root of this average:

    ```python
    v = rho * v + (1 - rho) * g ** 2
    w = w - learning_rate * g / sqrt(v + epsilon)
    ```

    The centered version also keeps a moving average of the gradients `a` and uses
    `v - a ** 2` (an estimate of the variance) instead of `v`. With momentum, the steps
    `learning_rate * g / sqrt(...)` are accumulated in a velocity that moves `w`.

    Args:
        learning_rate: A float, a `cnn.optimizers.schedules.LearningRateSchedule`, or a
            callable that takes no arguments and returns the rate. Defaults to `0.001`.
        rho: float in [0, 1], the discounting factor for the old gradients. Defaults to
            `0.9`.
        momentum: float in [0, 1]. If not 0.0, the optimizer tracks the momentum value, with
            a decay rate equals to `1 - momentum`. Defaults to `0.0`.
        epsilon: A small non-negative constant for numerical stability. Defaults to `1e-7`.
        centered: Boolean. If `True`, gradients are normalized by the estimated variance of
            the gradient; if `False`, by the uncentered second moment. Setting this to `True`
            may help with training, but is slightly more expensive in terms of computation
            and memory. Defaults to `False`.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: see
            `cnn.optimizers.Optimizer`.
    """

    _kind = "rmsprop"

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 name=None, **kwargs):
        rule = {"rho": base_optimizer.check_range("rho", rho),
                "momentum": base_optimizer.check_range("momentum", momentum),
                "epsilon": base_optimizer.check_nonnegative("epsilon", epsilon),
                "centered": bool(centered)}
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name,
                         _rule=rule, **kwargs)

    def _slots_per_param(self):
        # Keras: velocities, plus momentums when momentum > 0, plus average gradients when
        # centered.
        return 1 + (self.momentum > 0) + bool(self.centered)
