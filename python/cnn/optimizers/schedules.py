"""Learning-rate schedules with Keras 3's formulas, evaluated in float32 as Keras evaluates
them, so an optimizer driven by one takes the same steps as Keras's.

A schedule maps the optimizer's step count (the number of updates done before this one) to a
learning rate; pass one as any optimizer's `learning_rate`. The optimizer evaluates it once
per training step, in Python: a few scalar operations.
"""
import math
import numbers

import numpy as np

_f32 = np.float32


def _check_steps(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"Argument `{name}` must be > 0. Received: {name}={value!r}")


def _step_f32(step):
    # Keras casts the step to the initial learning rate's dtype (float32).
    return _f32(int(step) if isinstance(step, numbers.Integral) else float(step))


def _cos(x):
    # cos in double, rounded once: Keras's float32 cos differs from it by at most 1 ulp.
    return _f32(math.cos(float(x)))


class LearningRateSchedule:
    """The learning rate schedule base class.

    Subclasses implement `__call__(self, step)`, which takes the optimizer's step count (an
    int) and returns the learning rate for that step, and `get_config()` so that the schedule
    can be saved and rebuilt with `from_config`.

    Example:

    ```python
    class MyLRSchedule(cnn.optimizers.schedules.LearningRateSchedule):
        def __init__(self, initial_learning_rate):
            self.initial_learning_rate = initial_learning_rate

        def __call__(self, step):
            return self.initial_learning_rate / (step + 1)

        def get_config(self):
            return {"initial_learning_rate": self.initial_learning_rate}

    optimizer = cnn.optimizers.SGD(learning_rate=MyLRSchedule(0.1))
    ```
    """

    def __call__(self, step):
        raise TypeError(f"Learning rate schedule '{type(self).__name__}' must override "
                        "`__call__(self, step)`.")

    def get_config(self):
        raise TypeError(f"Learning rate schedule '{type(self).__name__}' must override "
                        "`get_config()` in order to be serializable.")

    @classmethod
    def from_config(cls, config):
        """Instantiates a `LearningRateSchedule` from its config (the output of `get_config()`)."""
        return cls(**config)


class ExponentialDecay(LearningRateSchedule):
    """A `LearningRateSchedule` that uses an exponential decay schedule.

    `initial_learning_rate * decay_rate ** (step / decay_steps)`; with `staircase=True` the
    exponent is rounded down to an integer, so the rate drops at discrete intervals.

    Args:
        initial_learning_rate: A float. The initial learning rate.
        decay_steps: A positive number. Every `decay_steps` steps the rate is multiplied by
            `decay_rate`.
        decay_rate: A float. The decay rate.
        staircase: Boolean. If `True` decay the learning rate at discrete intervals.
            Defaults to `False`.
        name: String. Defaults to `"ExponentialDecay"`.
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        _check_steps("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step):
        p = _step_f32(step) / _f32(self.decay_steps)
        if self.staircase:
            p = np.floor(p)
        return float(_f32(self.initial_learning_rate) * np.power(_f32(self.decay_rate), p))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """A `LearningRateSchedule` that uses a piecewise constant decay schedule.

    The rate is `values[0]` while `step <= boundaries[0]`, `values[1]` while
    `boundaries[0] < step <= boundaries[1]`, ..., and `values[-1]` once
    `step > boundaries[-1]`.

    Args:
        boundaries: A list of increasing step numbers.
        values: A list of learning rates, one more than `boundaries`.
        name: String. Defaults to `"PiecewiseConstant"`.
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "The length of boundaries should be 1 less than the length of values. "
                f"Received: boundaries={boundaries} of length {len(boundaries)}, and "
                f"values={values} of length {len(values)}.")
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step):
        if isinstance(step, numbers.Integral):
            # Keras casts the boundaries to the step's (integer) dtype, truncating them.
            step, bounds = int(step), [int(b) for b in self.boundaries]
        else:
            step, bounds = float(step), [float(b) for b in self.boundaries]
        for bound, value in zip(bounds, self.values):
            if step <= bound:
                return float(_f32(value))
        return float(_f32(self.values[-1]))

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """A `LearningRateSchedule` that uses a polynomial decay schedule.

    `(initial_learning_rate - end_learning_rate) * (1 - step / decay_steps) ** power +
    end_learning_rate`, with `step` capped at `decay_steps`; with `cycle=True` the decay
    restarts with `decay_steps` stretched to the next multiple that exceeds the step.

    Args:
        initial_learning_rate: A float. The initial learning rate.
        decay_steps: A positive number of steps to decay over.
        end_learning_rate: A float. The minimal end learning rate. Defaults to `0.0001`.
        power: A float. The power of the polynomial. Defaults to `1.0`.
        cycle: Boolean, whether it should cycle beyond decay_steps. Defaults to `False`.
        name: String. Defaults to `"PolynomialDecay"`.
    """

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0,
                 cycle=False, name="PolynomialDecay"):
        _check_steps("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def __call__(self, step):
        initial, end = _f32(self.initial_learning_rate), _f32(self.end_learning_rate)
        step, decay_steps = _step_f32(step), _f32(self.decay_steps)
        if self.cycle:
            multiplier = _f32(1.0) if step == 0 else np.ceil(step / decay_steps)
            decay_steps = decay_steps * multiplier
        else:
            step = min(step, decay_steps)
        p = step / decay_steps
        return float((initial - end) * np.power(_f32(1) - p, _f32(self.power)) + end)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "end_learning_rate": self.end_learning_rate,
                "power": self.power, "cycle": self.cycle, "name": self.name}


class InverseTimeDecay(LearningRateSchedule):
    """A `LearningRateSchedule` that uses an inverse time decay schedule.

    `initial_learning_rate / (1 + decay_rate * step / decay_steps)`; with `staircase=True`
    `step / decay_steps` is rounded down to an integer.

    Args:
        initial_learning_rate: A float. The initial learning rate.
        decay_steps: A positive number. How often to apply decay.
        decay_rate: A float. The decay rate.
        staircase: Whether to apply decay in a discrete staircase, as opposed to
            continuous, fashion. Defaults to `False`.
        name: String. Defaults to `"InverseTimeDecay"`.
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="InverseTimeDecay"):
        _check_steps("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step):
        p = _step_f32(step) / _f32(self.decay_steps)
        if self.staircase:
            p = np.floor(p)
        return float(_f32(self.initial_learning_rate) / (_f32(1) + _f32(self.decay_rate) * p))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """A `LearningRateSchedule` that uses a cosine decay with optional linear warmup.

    Without warmup (`warmup_target=None`) the rate decays from `initial_learning_rate` over
    `decay_steps` steps: `initial_learning_rate * ((1 - alpha) * 0.5 * (1 + cos(pi * step /
    decay_steps)) + alpha)`, with `step` capped at `decay_steps`. With a `warmup_target`, the
    rate first rises linearly from `initial_learning_rate` to `warmup_target` over
    `warmup_steps` steps, then decays from `warmup_target` the same way over `decay_steps`.

    Args:
        initial_learning_rate: A float. The initial learning rate.
        decay_steps: A positive number of steps to decay over.
        alpha: A float. Minimum learning rate value for decay as a fraction of the rate
            decayed from. Defaults to `0.0`.
        name: String. Defaults to `"CosineDecay"`.
        warmup_target: A float or `None`. The learning rate to reach at the end of the
            warmup; `None` means no warmup. Defaults to `None`.
        warmup_steps: A number of steps to warm up over. Defaults to `0`.
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        _check_steps("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_steps = warmup_steps
        self.warmup_target = warmup_target

    def _decay(self, step, decay_steps, decay_from):
        cosine = _f32(0.5) * (_f32(1) + _cos(_f32(math.pi) * (step / decay_steps)))
        decayed = _f32(1 - self.alpha) * cosine + _f32(self.alpha)
        return decay_from * decayed

    def __call__(self, step):
        initial = _f32(self.initial_learning_rate)
        decay_steps, step = _f32(self.decay_steps), _step_f32(step)
        if self.warmup_target is None:
            return float(self._decay(min(step, decay_steps), decay_steps, initial))
        target, warmup_steps = _f32(self.warmup_target), _f32(self.warmup_steps)
        step = min(step, decay_steps + warmup_steps)
        if step < warmup_steps:
            return float((target - initial) * (step / warmup_steps) + initial)
        return float(self._decay(step - warmup_steps, decay_steps, target))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


class CosineDecayRestarts(LearningRateSchedule):
    """A `LearningRateSchedule` that uses a cosine decay schedule with restarts (SGDR).

    The rate follows a cosine decay from `initial_learning_rate` over `first_decay_steps`,
    then restarts; each period is `t_mul` times longer than the previous one and starts from
    `m_mul` times the previous starting rate.

    Args:
        initial_learning_rate: A float. The initial learning rate.
        first_decay_steps: A positive number of steps to decay over in the first period.
        t_mul: A float. Used to derive the number of iterations in the i-th period.
            Defaults to `2.0`.
        m_mul: A float. Used to derive the initial learning rate of the i-th period.
            Defaults to `1.0`.
        alpha: A float. Minimum learning rate value as a fraction of the
            `initial_learning_rate`. Defaults to `0.0`.
        name: String. Defaults to `"SGDRDecay"`.
    """

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0,
                 alpha=0.0, name="SGDRDecay"):
        _check_steps("first_decay_steps", first_decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self._t_mul = t_mul
        self._m_mul = m_mul
        self.alpha = alpha
        self.name = name

    def __call__(self, step):
        t_mul, m_mul, alpha = _f32(self._t_mul), _f32(self._m_mul), _f32(self.alpha)
        fraction = _step_f32(step) / _f32(self.first_decay_steps)
        if t_mul == 1:
            restart = np.floor(fraction)
            fraction = fraction - restart
        else:
            # Keras: i = floor(log(1 - fraction * (1 - t_mul)) / log(t_mul)).
            arg = _f32(1) - fraction * (_f32(1) - t_mul)
            restart = np.floor(_f32(math.log(float(arg))) / _f32(math.log(float(t_mul))))
            done = (_f32(1) - np.power(t_mul, restart)) / (_f32(1) - t_mul)
            fraction = (fraction - done) / np.power(t_mul, restart)
        cosine = _f32(0.5) * np.power(m_mul, restart) * (
            _f32(1) + _cos(_f32(math.pi) * fraction))
        decayed = (_f32(1) - alpha) * cosine + alpha
        return float(_f32(self.initial_learning_rate) * decayed)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "first_decay_steps": self.first_decay_steps, "t_mul": self._t_mul,
                "m_mul": self._m_mul, "alpha": self.alpha, "name": self.name}


_BY_NAME = {c.__name__: c for c in (ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay,
                                     InverseTimeDecay, CosineDecay, CosineDecayRestarts)}


def serialize(learning_rate_schedule):
    """A schedule's config in Keras's serialized form (`class_name` and `config`)."""
    return {"module": "keras.optimizers.schedules",
            "class_name": type(learning_rate_schedule).__name__,
            "config": learning_rate_schedule.get_config(), "registered_name": None}


def deserialize(config, custom_objects=None):
    """The schedule that `serialize` (ours or Keras's) described.

    Args:
        config: A dict with `class_name` and `config`.
        custom_objects: Optional dict mapping names to user-defined schedule classes.
    """
    classes = dict(_BY_NAME, **(custom_objects or {}))
    if not isinstance(config, dict) or config.get("class_name") not in classes:
        raise ValueError(f"Could not interpret learning rate schedule config: {config!r}. "
                         f"Known schedules: {sorted(classes)}")
    return classes[config["class_name"]].from_config(config.get("config", {}))
