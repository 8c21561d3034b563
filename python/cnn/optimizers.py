"""SGD, Adam and RMSprop with Keras's signatures; the update itself runs in C (OptimizerState),
both for compiled train steps and for apply_gradients in custom loops."""
import numpy as np

from . import backend


class Optimizer:
    _kind = None

    def __init__(self, name, **hyper):
        self.name = name
        self._hyper = hyper
        self._state = backend.OptimizerState(self._kind, **hyper)
        self._used = False  # Keras counts optimizer variables in summary() once built

    @property
    def learning_rate(self):
        return float(self._state.learning_rate)

    @learning_rate.setter
    def learning_rate(self, value):
        self._state.learning_rate = float(value)
        self._hyper["learning_rate"] = float(value)

    @property
    def iterations(self):
        return int(self._state.iterations)

    def _step_state(self):
        """The C optimizer, ready for one update: called before every training step (where
        a learning-rate schedule sets this step's rate)."""
        return self._state

    @property
    def built(self):
        return self._used or self.iterations > 0

    def apply(self, grads, trainable_variables):
        """One update of `trainable_variables` with `grads` (arrays or Tensors); pairs whose
        gradient is None are skipped, as Keras does."""
        grads, variables = list(grads), list(trainable_variables)
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
        self._state.apply(arrays, [v for _, v in pairs])
        self._used = True

    def apply_gradients(self, grads_and_vars):
        grads_and_vars = list(grads_and_vars)
        return self.apply([g for g, _ in grads_and_vars], [v for _, v in grads_and_vars])

    def slot_count(self, num_params):
        """How many numbers the optimizer keeps for `num_params` weights, counted like Keras
        (its iteration counter and learning rate included)."""
        return 2

    def get_config(self):
        return {"name": self.name, **self._hyper}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} {self._hyper}>"


class SGD(Optimizer):
    _kind = "sgd"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name="SGD"):
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"`momentum` must be a float between [0, 1]. Received: "
                             f"momentum={momentum}")
        super().__init__(name, learning_rate=float(learning_rate), momentum=float(momentum),
                         nesterov=bool(nesterov))

    def slot_count(self, num_params):
        return 2 + (num_params if self._hyper["momentum"] else 0)


class Adam(Optimizer):
    _kind = "adam"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, name="adam"):
        super().__init__(name, learning_rate=float(learning_rate), beta_1=float(beta_1),
                         beta_2=float(beta_2), epsilon=float(epsilon), amsgrad=bool(amsgrad))

    def slot_count(self, num_params):
        return 2 + num_params * (3 if self._hyper["amsgrad"] else 2)


class RMSprop(Optimizer):
    _kind = "rmsprop"

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
                 centered=False, name="rmsprop"):
        super().__init__(name, learning_rate=float(learning_rate), rho=float(rho),
                         momentum=float(momentum), epsilon=float(epsilon),
                         centered=bool(centered))

    def slot_count(self, num_params):
        # Keras: velocities, plus momentums when momentum > 0, plus average gradients
        # when centered.
        h = self._hyper
        return 2 + num_params * (1 + (h["momentum"] > 0) + bool(h["centered"]))


_BY_NAME = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop}
_KERAS_ONLY = {"adamw", "adagrad", "adadelta", "adamax", "nadam", "ftrl", "lion",
               "adafactor", "lamb", "loss_scale_optimizer"}


def known_names():
    return sorted(_BY_NAME)


def get(identifier):
    """"sgd"/"adam"/"rmsprop" (any case) -> a new instance with Keras's defaults; an Optimizer ->
    itself."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    if isinstance(identifier, str) and identifier.lower() in _KERAS_ONLY:
        raise ValueError(f"Optimizer '{identifier}' is not available in cnn yet. Known "
                         f"optimizers: {known_names()}; e.g. compile(optimizer='adam', ...)")
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}. "
                     f"Known optimizers: {known_names()} (or an instance of "
                     f"cnn.optimizers.Optimizer)")
