"""BatchNormalization and LayerNormalization, each one fused engine op (see
csrc/ops_norm.c)."""
import numbers
import warnings

import numpy as np

from .. import backend, initializers, regularizers
from .input_spec import InputSpec
from .keras_tensor import any_keras_tensor
from .layer import Layer

# batch_norm's mode attribute: follow the run's training flag, or pin inference.
_FOLLOW, _INFERENCE = -1, 0
# Call keyword that carries an explicit build-time `training=` through a recorded Node
# (the same name as the dropout layers', which Model.__call__ looks for).
_FIXED = "_fixed_training"


def _check_no_constraints(layer, **options):
    """Keras's weight constraints: cnn has none yet; None (the default) is accepted."""
    given = sorted(k for k, v in options.items() if v is not None)
    if given:
        raise ValueError(f"Layer '{layer.name}': cnn has no weight constraints yet; leave "
                         f"{', '.join(given)} as None.")


def _check_epsilon(layer, epsilon):
    if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real) or not epsilon > 0 \
            or not np.isfinite(epsilon):
        raise ValueError(f"Layer '{layer.name}': epsilon must be a positive number; received "
                         f"epsilon={epsilon!r}")
    return float(epsilon)


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _normalize_axis(layer, axis, shape):
    rank = len(shape)
    if not -rank <= axis < rank:
        raise ValueError(f"Layer '{layer.name}': axis {axis} is out of bounds for input shape "
                         f"{tuple(shape)} (rank {rank}); received axis={layer.axis}")
    return axis % rank


class BatchNormalization(Layer):
    """Normalizes its inputs per feature (the `axis` dimension) to mean 0 and variance 1,
    then scales by `gamma` and shifts by `beta`.

    In training (`fit`, or a call with `training=True`) it uses the mean and the (biased)
    variance of the batch over all the other axes, and moves the non-trainable statistics
    towards them:
    `moving_mean = moving_mean * momentum + mean(batch) * (1 - momentum)`, and likewise
    `moving_variance` with the batch variance. In inference (`evaluate`, `predict`, a call
    with `training=False` or none) it uses `moving_mean` and `moving_variance`:
    `gamma * (x - mean) / sqrt(var + epsilon) + beta`.

    Setting `layer.trainable = False` freezes the layer and makes it always run in
    inference mode, as in Keras (in cnn it takes effect from the next fit or evaluate,
    without a recompile).

    Args:
        axis: Integer, the feature axis (e.g. `1` for channels-first images).
        momentum: Momentum for the moving averages, in [0, 1].
        epsilon: Small positive float added to the variance.
        center: If True, add the offset `beta`.
        scale: If True, multiply by `gamma`.
        beta_initializer, gamma_initializer, moving_mean_initializer,
        moving_variance_initializer: Initializers of the four weights.
        beta_regularizer, gamma_regularizer: Optional regularizers of beta and gamma.
        beta_constraint, gamma_constraint: Accepted for Keras compatibility; must be None
            (cnn has no weight constraints).
        renorm, renorm_clipping, renorm_momentum, synchronized: Accepted for Keras
            compatibility; batch renormalization and synchronized statistics are not
            available (renorm=True and synchronized=True raise ValueError).

    Call arguments:
        inputs: Input tensor of any rank.
        training: True for batch statistics (and the moving-average update), False or
            None for the moving statistics.
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, renorm=False, renorm_clipping=None,
                 renorm_momentum=0.99, synchronized=False, **kwargs):
        super().__init__(**kwargs)
        if not _is_int(axis):
            raise TypeError(f"Layer '{self.name}': axis must be an integer; received "
                            f"axis={axis!r}")
        self.axis = int(axis)
        if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) \
                or not 0.0 <= momentum <= 1.0:
            raise ValueError(f"Layer '{self.name}': momentum must be a number in [0, 1]; "
                             f"received momentum={momentum!r}")
        self.momentum = float(momentum)
        self.epsilon = _check_epsilon(self, epsilon)
        _check_no_constraints(self, beta_constraint=beta_constraint,
                              gamma_constraint=gamma_constraint)
        if synchronized:
            raise ValueError(f"Layer '{self.name}': synchronized=True needs the TensorFlow "
                             "backend's distribution strategies; cnn runs on one device.")
        if renorm:
            raise ValueError(f"Layer '{self.name}': batch renormalization (renorm=True) is not "
                             "available in cnn.")
        self.center, self.scale = bool(center), bool(scale)
        self.synchronized, self.renorm = False, False
        self.renorm_clipping, self.renorm_momentum = renorm_clipping, renorm_momentum
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        axis = _normalize_axis(self, self.axis, input_shape)
        features = input_shape[axis]
        if features is None:
            raise ValueError(f"Layer '{self.name}' needs a known size on axis {self.axis} to "
                             f"build; received input shape {input_shape}")
        shape = (features,)
        if self.scale:
            self.gamma = self.add_weight(shape=shape, initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer, name="gamma")
        if self.center:
            self.beta = self.add_weight(shape=shape, initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer, name="beta")
        self.moving_mean = self.add_weight(shape=shape, initializer=self.moving_mean_initializer,
                                           trainable=False, name="moving_mean")
        self.moving_variance = self.add_weight(shape=shape,
                                               initializer=self.moving_variance_initializer,
                                               trainable=False, name="moving_variance")
        # Stand-ins for a missing gamma/beta: constants get no gradient.
        self._ones = np.ones(shape, np.float32)
        self._zeros = np.zeros(shape, np.float32)
        self.input_spec = InputSpec(ndim=len(input_shape), axes={self.axis: features})
        self.built = True

    def __call__(self, inputs, *args, training=None, **kwargs):
        if training is not None and any_keras_tensor(inputs):
            kwargs = {**kwargs, _FIXED: bool(training)}  # recorded on the functional Node
        return super().__call__(inputs, *args, training=training, **kwargs)

    def _mode(self, inputs, training):
        """The op's mode attribute. In a graph being built, `training` is what the model
        passes down (fit's graph: True, predict's: False) or an explicit value from a
        subclassed model's call(): False pins inference, True or None leave the choice to
        each run (fit's step trains, evaluate on the same graph infers)."""
        if not self.trainable:
            return _INFERENCE  # a frozen BatchNormalization always runs in inference mode
        if isinstance(inputs, backend.Symbol) and training is False:
            return _INFERENCE
        return _FOLLOW  # eager: the call's flag is the run's

    def call(self, inputs, training=None, mask=None, _fixed_training=None):
        """Keras 3's rule for a `training=` given when the layer was called on a symbolic
        input: it is only the default for runs that do not say. Compiled programs always
        say (fit trains; evaluate and predict infer); an eager `model(x)` uses it."""
        if mask is not None:
            raise ValueError(f"Layer '{self.name}': masks are not supported by cnn's "
                             "BatchNormalization; received a mask.")
        if training is None and not isinstance(inputs, backend.Symbol):
            training = _fixed_training
        gamma = self.gamma if self.scale else self._ones
        beta = self.beta if self.center else self._zeros
        return backend.op("batch_norm",
                          [inputs, gamma, beta, self.moving_mean, self.moving_variance],
                          ints=(self.axis, self._mode(inputs, training)),
                          floats=(self.epsilon, self.momentum),
                          training=bool(training), seed=0)  # draws no seed: not random

    def compute_output_shape(self, input_shape):
        _normalize_axis(self, self.axis, input_shape)
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer":
                    initializers.serialize(self.moving_variance_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "beta_constraint": None, "gamma_constraint": None,
                "synchronized": self.synchronized, "renorm": self.renorm,
                "renorm_clipping": self.renorm_clipping,
                "renorm_momentum": self.renorm_momentum}


class LayerNormalization(Layer):
    """Normalizes each sample over the given axes to mean 0 and variance 1, then scales by
    `gamma` and shifts by `beta` (both shaped like the normalized axes). It behaves the same
    in training and inference.

    `outputs = (inputs - mean) / sqrt(var + epsilon) * gamma + beta`, with the mean and the
    (biased) variance taken over `axis` for each position of the other axes.

    Args:
        axis: Integer or list of integers, the axes to normalize over. Defaults to `-1`.
        epsilon: Small positive float added to the variance. Defaults to 1e-3.
        center: If True, add the offset `beta`.
        scale: If True, multiply by `gamma`.
        beta_initializer, gamma_initializer: Initializers of the two weights.
        beta_regularizer, gamma_regularizer: Optional regularizers of beta and gamma.
        beta_constraint, gamma_constraint: Accepted for Keras compatibility; must be None.
        rms_scaling: Keras's deprecated flag: scale by `1 / sqrt(var + epsilon)` without
            centering or `beta` (it warns, as Keras does).
    """

    supports_masking = True  # a mask passes through (Keras)

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 **kwargs):
        rms_scaling = kwargs.pop("rms_scaling", False)
        super().__init__(**kwargs)
        if rms_scaling:
            warnings.warn("rms_scaling=True is deprecated (as in Keras): it divides by the "
                          "square root of the centered variance, not by the root mean square.",
                          UserWarning, stacklevel=2)
        if isinstance(axis, (list, tuple)):
            if not axis or not all(_is_int(a) for a in axis):
                raise TypeError(f"Layer '{self.name}': axis must be an int or a non-empty "
                                f"list of ints; received axis={axis!r}")
            self.axis = [int(a) for a in axis]
        elif _is_int(axis):
            self.axis = int(axis)
        else:
            raise TypeError(f"Layer '{self.name}': axis must be an int or a list of ints; "
                            f"received axis={axis!r}")
        self.epsilon = _check_epsilon(self, epsilon)
        _check_no_constraints(self, beta_constraint=beta_constraint,
                              gamma_constraint=gamma_constraint)
        self.center, self.scale, self.rms_scaling = bool(center), bool(scale), bool(rms_scaling)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.gamma = self.beta = None

    def _axes(self, shape):
        """The normalized axes as sorted non-negative ints, checked against `shape`."""
        raw = self.axis if isinstance(self.axis, list) else [self.axis]
        axes = [_normalize_axis(self, a, shape) for a in raw]
        if len(set(axes)) != len(axes):
            raise ValueError(f"Layer '{self.name}': axis {self.axis} names the same axis of "
                             f"input shape {tuple(shape)} twice")
        return sorted(axes)

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        axes = self._axes(input_shape)
        shape = tuple(input_shape[a] for a in axes)
        if any(d is None for d in shape):
            raise ValueError(f"Layer '{self.name}' needs known sizes on the normalized axes "
                             f"{self.axis} to build; received input shape {input_shape}")
        # Keras keeps the axes as a sorted list from here on.
        self.axis = sorted(self.axis) if isinstance(self.axis, list) else [self.axis]
        if self.scale or self.rms_scaling:
            self.gamma = self.add_weight(shape=shape, initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer, name="gamma")
        if self.center and not self.rms_scaling:
            self.beta = self.add_weight(shape=shape, initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer, name="beta")
        self._ones = np.ones(shape, np.float32)
        self._zeros = np.zeros(shape, np.float32)
        # Later calls may differ in rank as long as the normalized axes keep their sizes.
        min_ndim = max([a + 1 for a in self.axis if a >= 0] + [-a for a in self.axis if a < 0])
        self.input_spec = InputSpec(min_ndim=min_ndim,
                                    axes={a: input_shape[a] for a in self.axis})
        self.built = True

    def call(self, inputs):
        axes = self._axes(tuple(inputs.shape))
        gamma = self.gamma if self.gamma is not None else self._ones
        beta = self.beta if self.beta is not None else self._zeros
        return backend.op("layer_norm", [inputs, gamma, beta],
                          ints=[int(self.rms_scaling)] + axes, floats=(self.epsilon,))

    def compute_output_shape(self, input_shape):
        self._axes(tuple(input_shape))
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale, "rms_scaling": self.rms_scaling,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "beta_constraint": None, "gamma_constraint": None}
