"""The optimizer base class: the learning rate (a float, a schedule or a callable), Keras's
base options (weight decay, gradient clipping) and the bridge to the C update rules.

The update itself runs in C (backend.OptimizerState), both inside the compiled train step of
`fit` and for `apply_gradients` in custom loops; Python only hands it each step's rate."""
import math
import numbers

import numpy as np

from .. import backend
from ..utils import naming
from . import schedules

# Keras base-optimizer arguments cnn does not implement, with the value that leaves them
# off: Keras code and configs that pass them at these values work unchanged.
_KERAS_ONLY_OFF = {"use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
                   "loss_scale_factor": None, "gradient_accumulation_steps": None, "decay": None}


def _is_number(x):
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def check_range(name, value, low=0.0, high=1.0, high_open=False):
    """`value` as a float, or ValueError naming the argument, the range and the value."""
    ok = _is_number(value) and low <= value and (value < high if high_open else value <= high)
    if not ok:
        interval = f"[{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"Argument `{name}` must be a float in {interval}. Received: "
                         f"{name}={value!r}")
    return float(value)


def check_nonnegative(name, value, allow_none=False):
    if value is None and allow_none:
        return None
    if not (_is_number(value) and 0 <= value < math.inf):
        raise ValueError(f"Argument `{name}` must be a non-negative float"
                         f"{' or None' if allow_none else ''}. Received: {name}={value!r}")
    return float(value)


def _check_learning_rate(value):
    if isinstance(value, schedules.LearningRateSchedule) or (callable(value) and not _is_number(value)):
        return value
    if not _is_number(value):
        raise ValueError(
            "Argument `learning_rate` should be float, or an instance of "
            "LearningRateSchedule, or a callable (that takes no arguments and returns the "
            f"learning rate value). Received instead: learning_rate={value!r}")
    if not 0 <= value < math.inf:
        raise ValueError(f"Argument `learning_rate` must be a non-negative finite float. "
                         f"Received: learning_rate={value!r}")
    return float(np.float32(value))  # Keras keeps it in a float32 variable


class Optimizer:
    """Abstract optimizer base class: SGD, RMSprop, Adagrad, Adam, AdamW and Nadam derive from
    it, each with its C update rule.

    Every optimizer takes these arguments besides its own:

    Args:
        learning_rate: A non-negative float, a
            `cnn.optimizers.schedules.LearningRateSchedule` (called with the step count before
            each update), or a callable that takes no arguments and returns the rate to use.
        weight_decay: Float or `None`. If set, each update first decays the variables:
            `variable -= variable * weight_decay * learning_rate`. Defaults to `None`.
        clipnorm: Float or `None`. If set, the gradient of each variable is clipped so that
            its L2 norm is no higher than this value. Defaults to `None`.
        clipvalue: Float or `None`. If set, each gradient element is clipped to
            `[-clipvalue, clipvalue]`. Defaults to `None`.
        global_clipnorm: Float or `None`. If set, all gradients of a step are scaled together
            so that their joint L2 norm is no higher than this value. Defaults to `None`.
            At most one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set.
        name: String. The optimizer's name; by default a unique name derived from the class
            name, as in Keras (`"adam"`, `"adam_1"`, ...).

    Keras's `use_ema`, `ema_momentum`, `ema_overwrite_frequency`, `loss_scale_factor` and
    `gradient_accumulation_steps` are not implemented: they are accepted only at the values
    that leave them off, so Keras configs still load.

    In `fit`, one update happens per batch: full-batch gradient descent is
    `fit(x, y, batch_size=len(x))`; plain stochastic gradient descent is `batch_size=1`.
    """

    _kind = None  # the C update rule

    def __init__(self, learning_rate, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, name=None, _rule=None, **kwargs):
        if self._kind is None:
            raise TypeError("cnn.optimizers.Optimizer is abstract: use one of SGD, RMSprop, "
                            "Adagrad, Adam, AdamW or Nadam (their update rules run in C)")
        for key, value in kwargs.items():
            if key not in _KERAS_ONLY_OFF:
                raise ValueError(f"Argument(s) not recognized: {kwargs}")
            if value != _KERAS_ONLY_OFF[key]:
                raise ValueError(
                    f"Argument `{key}` is not supported by cnn's optimizers; it can only be "
                    f"{_KERAS_ONLY_OFF[key]!r}. Received: {key}={value!r}")
        clips = {"clipnorm": clipnorm, "clipvalue": clipvalue, "global_clipnorm": global_clipnorm}
        if sum(v is not None for v in clips.values()) > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                f"global_clipnorm={global_clipnorm}")
        clips = {k: check_nonnegative(k, v, allow_none=True) for k, v in clips.items()}
        weight_decay = check_nonnegative("weight_decay", weight_decay, allow_none=True)
        if name is not None and not isinstance(name, str):
            raise ValueError(f"Argument `name` must be a string. Received: name={name!r}")
        learning_rate = _check_learning_rate(learning_rate)
        base = {"weight_decay": weight_decay, **clips}
        object.__setattr__(self, "_base", base)
        object.__setattr__(self, "_rule", dict(_rule or {}))
        object.__setattr__(self, "_learning_rate", learning_rate)
        self.name = name if name is not None else naming.auto_name(type(self).__name__)
        # The C side takes 0 for "off"; Keras also treats a clip of 0 as off.
        off_zero = {k: (v or 0.0) for k, v in base.items()}
        first_lr = learning_rate if isinstance(learning_rate, float) else 0.0
        self._state = backend.OptimizerState(self._kind, learning_rate=first_lr,
                                             **self._rule, **off_zero)
        self._used = False  # Keras counts optimizer variables in summary() once built

    # Hyperparameters read like Keras's attributes (opt.beta_1, opt.clipnorm) but are fixed
    # once the C optimizer exists: assigning one would silently change nothing.
    def __getattr__(self, name):
        for store in ("_rule", "_base"):
            values = self.__dict__.get(store, {})
            if name in values:
                return values[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name, value):
        if name in self.__dict__.get("_rule", {}) or name in self.__dict__.get("_base", {}):
            raise AttributeError(f"`{name}` is fixed when the optimizer is created; make a new "
                                 f"{type(self).__name__}({name}={value!r}, ...) instead")
        object.__setattr__(self, name, value)

    # ---- learning rate -----------------------------------------------------------------

    def _current_learning_rate(self):
        lr = self._learning_rate
        if isinstance(lr, schedules.LearningRateSchedule):
            return float(lr(self.iterations))
        if callable(lr):
            return float(lr())
        return lr

    @property
    def learning_rate(self):
        """The rate the next update uses (a schedule or callable is evaluated now). Settable
        to a float, a schedule or a callable, as in Keras; a float cannot replace a schedule
        (TypeError, as in Keras)."""
        return self._current_learning_rate()

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(value, schedules.LearningRateSchedule) or (callable(value) and not _is_number(value)):
            object.__setattr__(self, "_learning_rate", value)
            return
        if isinstance(self._learning_rate, schedules.LearningRateSchedule):
            raise TypeError(
                "This optimizer was created with a `LearningRateSchedule` object as its "
                "`learning_rate` constructor argument, hence its learning rate is not "
                "settable. If you need the learning rate to be settable, you should "
                "instantiate the optimizer with a float `learning_rate` argument.")
        value = _check_learning_rate(value)
        object.__setattr__(self, "_learning_rate", value)
        self._state.learning_rate = value

    def _step_state(self):
        """The C optimizer, ready for one update: called before every training step, where a
        schedule or callable sets this step's rate."""
        if not isinstance(self._learning_rate, float):
            self._state.learning_rate = self._current_learning_rate()
        return self._state

    @property
    def iterations(self):
        return int(self._state.iterations)

    @property
    def built(self):
        return self._used or self.iterations > 0

    # ---- updates -----------------------------------------------------------------------

    def apply(self, grads, trainable_variables=None):
        """One update of `trainable_variables` with `grads` (arrays or Tensors); pairs whose
        gradient is None are skipped, as Keras does. Without `trainable_variables`, the
        variables of the first call are updated again (Keras's built optimizer)."""
        grads = list(grads)
        if trainable_variables is None:
            if self.__dict__.get("_variables") is None:
                raise ValueError(
                    "When passing `grads` without `variables`, the optimizer must already be "
                    "built on a list of variables: call `apply(grads, trainable_variables)` "
                    "first.")
            variables = self._variables
        else:
            variables = list(trainable_variables)
        if len(grads) != len(variables):
            raise ValueError(f"Expected as many gradients as variables; received "
                             f"{len(grads)} gradients for {len(variables)} variables")
        pairs = [(g, v) for g, v in zip(grads, variables) if g is not None]
        if not pairs:
            raise ValueError("No gradients provided for any variable.")
        arrays = []
        for g, v in pairs:
            if not isinstance(g, backend.Tensor):  # tape gradients pass through uncopied
                g = np.ascontiguousarray(np.asarray(g), dtype=np.float32)
            if tuple(g.shape) != tuple(v.shape):
                raise ValueError(f"Gradient shape {tuple(g.shape)} does not match variable "
                                 f"'{v.name}' of shape {tuple(v.shape)}")
            arrays.append(g)
        self._step_state().apply(arrays, [v for _, v in pairs])
        self._used = True
        if self.__dict__.get("_variables") is None:
            self._variables = variables
        return self.iterations

    def apply_gradients(self, grads_and_vars):
        """`apply` for a list of `(gradient, variable)` pairs; returns the iteration count."""
        grads_and_vars = list(grads_and_vars)
        return self.apply([g for g, _ in grads_and_vars], [v for _, v in grads_and_vars])

    def _slots_per_param(self):
        return 0

    def slot_count(self, num_params):
        """How many numbers the optimizer keeps for `num_params` weights, counted like Keras's
        optimizer variables: the iteration counter, the learning rate when it is a float
        (a schedule or callable has no variable), and the per-weight moments."""
        return 1 + isinstance(self._learning_rate, float) + self._slots_per_param() * num_params

    # ---- state (Keras's optimizer variables) --------------------------------------------

    def _slot_layout(self):
        """Keras's build() order of the per-variable state, as a list of its
        add_optimizer_variables calls; each call lists slots by their index in the C state
        (0 m, 1 v, 2 vhat; see _C.Optimizer.get_slots), interleaved per model variable."""
        kind, rule = self._kind, self._rule
        if kind == "sgd":
            return [[0]] if rule["momentum"] != 0 else []
        if kind == "rmsprop":
            return [[1]] + ([[0]] if rule["momentum"] > 0 else []) + ([[2]] if rule["centered"] else [])
        if kind == "adagrad":
            return [[1]]
        if kind == "adam":
            return [[0, 1]] + ([[2]] if rule.get("amsgrad") else [])
        return [[0, 1]]  # nadam; its u_product follows the slots

    def _slot_initial(self, index):
        if self._kind == "adagrad" and index == 1:
            return np.float32(self._rule["initial_accumulator_value"])
        return np.float32(0.0)

    def _model_variables(self):
        return (self.__dict__.get("_variables") or self.__dict__.get("_fit_variables")
                or None)

    @property
    def variables(self):
        """The optimizer's state as NumPy arrays, in Keras 3's order for this optimizer:
        the iteration count, the learning rate when it is a float, the per-variable moments
        in the order Keras's build() creates them (zeros, or Adagrad's initial accumulator,
        where a variable has not been updated yet), and Nadam's momentum-schedule product.
        Before the optimizer is used on (or `fit` with) a list of variables, only the first
        two."""
        return self._variables_for(self._model_variables())

    def _variables_for(self, trainable_variables):
        it = self.iterations
        out = [np.array(it, dtype=np.int32 if it < 2 ** 31 else np.int64)]
        if isinstance(self._learning_rate, float):
            out.append(np.array(self._learning_rate, dtype=np.float32))
        if trainable_variables is None:
            return out
        trainable_variables = list(trainable_variables)
        layout = self._slot_layout()
        present = sorted({i for call in layout for i in call})
        c = self._state._c
        slots = []
        for v in trainable_variables:
            got = c.get_slots(v._t)
            if got:
                slots.append(dict(zip(present, got)))
            else:
                slots.append({i: np.full(tuple(v.shape), self._slot_initial(i), np.float32)
                              for i in present})
        for call in layout:
            for per_var in slots:
                out.extend(per_var[i] for i in call)
        if self._kind == "nadam":
            out.append(np.array(c.u_product, dtype=np.float32))
        return out

    def _set_variables(self, values, trainable_variables):
        """Restores state that `variables` (or Keras's optimizer of the same type) gave for
        `trainable_variables`. A list of just the iteration count and learning rate (an
        optimizer saved before its first update) restores those. Everything is checked
        before anything is written: ValueError on a count or shape mismatch."""
        values = [np.asarray(x) for x in values]
        trainable_variables = list(trainable_variables)
        head = 1 + isinstance(self._learning_rate, float)
        layout = self._slot_layout()
        per_var = sum(len(call) for call in layout)
        full = head + per_var * len(trainable_variables) + (self._kind == "nadam")
        if len(values) not in (head, full):
            raise ValueError(
                f"{type(self).__name__} keeps {full} variables for these "
                f"{len(trainable_variables)} model variables ({head} before it is built), "
                f"got {len(values)}")
        for i, x in enumerate(values[:head]):
            if x.shape != ():
                raise ValueError(f"optimizer variable {i} should be a scalar, got shape {x.shape}")
        present = sorted({i for call in layout for i in call})
        slots = [{} for _ in trainable_variables]
        if len(values) == full:
            k = head
            for call in layout:
                for j, v in enumerate(trainable_variables):
                    for i in call:
                        if tuple(values[k].shape) != tuple(v.shape):
                            raise ValueError(
                                f"optimizer variable {k} has shape {tuple(values[k].shape)}, "
                                f"but model variable '{v.name}' has shape {tuple(v.shape)}")
                        slots[j][i] = values[k]
                        k += 1
            if self._kind == "nadam" and values[k].shape != ():
                raise ValueError(f"optimizer variable {k} (u_product) should be a scalar, "
                                 f"got shape {values[k].shape}")
        c = self._state._c
        c.iterations = int(values[0])
        if head == 2:
            self.learning_rate = float(values[1])
        if len(values) == full:
            for v, per in zip(trainable_variables, slots):
                if present:
                    c.set_slots(v._t, [np.asarray(per[i], dtype=np.float32) for i in present])
            if self._kind == "nadam":
                c.u_product = float(values[-1])
            self._used = True
            if self.__dict__.get("_variables") is None:
                object.__setattr__(self, "_fit_variables", trainable_variables)

    # ---- config ------------------------------------------------------------------------

    def get_config(self):
        lr = self._learning_rate
        if isinstance(lr, schedules.LearningRateSchedule):
            lr = schedules.serialize(lr)
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm,
                "clipvalue": self.clipvalue,
                **{k: v for k, v in _KERAS_ONLY_OFF.items() if k != "decay"}, **self._rule}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"],
                                                            custom_objects)
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} {self.get_config()}>"
