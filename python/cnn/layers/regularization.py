"""Regularization layers: Dropout, SpatialDropout1D/2D/3D, GaussianNoise, GaussianDropout,
AlphaDropout.

Each layer emits one engine op (ops_random.c) that reads the training flag at run time, so
the graph compiled for `fit` drops units while `evaluate`, which runs the same graph, does
not. An explicit `training=` given when the layer is called on a symbolic tensor (the
MC-dropout idiom `Dropout(0.5)(x, training=True)`) is recorded with that call and becomes
the op's mode attribute: 1 always train, 2 always infer (0 follows the run).

Randomness: a compiled graph seeds each node afresh every step from the step seed (drawn
from cnn's generator, so `cnn.utils.set_random_seed` repeats runs exactly); eager calls
draw from `backend.next_seed()`, or, for a layer given `seed=`, from the layer's own
counter, so that layer's masks repeat across runs as Keras's seeded layers do. The layer
seed is also an op attribute mixed into the step's seed, so two seeded layers differ.
"""
import numbers

from .. import backend
from .input_spec import InputSpec
from .keras_tensor import any_keras_tensor
from .layer import Layer, shape_of

__all__ = ["Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
           "GaussianNoise", "GaussianDropout", "AlphaDropout"]

# Call keyword that carries an explicit build-time `training=` through a recorded Node
# (the model's own training flag arrives as `training` when the graph is replayed).
_FIXED = "_fixed_training"
_MODE_FOLLOW = 0  # the ops also take 1 (always train) and 2 (always infer)


def _check_fraction(layer, arg, value, closed):
    """`value` in [0, 1] (closed) or [0, 1); the message names the layer and the value."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and (
        0 <= value <= 1 if closed else 0 <= value < 1)
    if not ok:
        span = "between 0 and 1" if closed else "in [0, 1) (1 would make the noise infinite)"
        raise ValueError(f"Invalid value received for argument `{arg}` of layer "
                         f"'{layer.name}'. Expected a float value {span}. Received: "
                         f"{arg}={value!r}")
    return float(value)


def _check_noise_shape(layer, noise_shape):
    """Keras's checks: None, or an iterable of positive ints and None."""
    if noise_shape is None:
        return None
    head = f"Invalid value received for argument `noise_shape` of layer '{layer.name}'."
    if isinstance(noise_shape, str):
        raise ValueError(f"{head} Expected a tuple or list of integers. "
                         f"Received: noise_shape={noise_shape}")
    try:
        noise_shape = tuple(noise_shape)
    except TypeError:
        raise ValueError(f"{head} Expected an iterable of integers (e.g., a tuple or list). "
                         f"Received: noise_shape={noise_shape}") from None
    for i, dim in enumerate(noise_shape):
        if dim is None:
            continue
        if not isinstance(dim, numbers.Integral) or isinstance(dim, bool):
            raise ValueError(f"{head} Expected all elements to be integers or None. Received "
                             f"element at index {i}: {dim} (type: {type(dim).__name__})")
        if dim <= 0:
            raise ValueError(f"{head} Expected all dimensions to be positive integers or "
                             f"None. Received negative or zero value at index {i}: {dim}")
    return tuple(None if d is None else int(d) for d in noise_shape)


def _data_format(data_format):
    if data_format is None:
        return "channels_last"  # Keras's default image_data_format
    value = str(data_format).lower()
    if value not in ("channels_first", "channels_last"):
        raise ValueError("The `data_format` argument must be one of {'channels_first', "
                         f"'channels_last'}}. Received: data_format={data_format}")
    return value


class _RandomLayer(Layer):
    """Shared machinery: one op `_op` with floats=[param] and
    ints=[mode, seed attribute, *noise shape]; identity when the parameter is 0."""

    supports_masking = True  # a mask passes through (Keras)

    _op = None

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        if seed is not None and (not isinstance(seed, numbers.Integral) or isinstance(seed, bool)):
            raise ValueError(f"Argument `seed` of layer '{self.name}' must be an integer. "
                             f"Received: seed={seed!r}")
        self.seed = None if seed is None else int(seed)
        # Op attribute: 0 means "no layer seed", so every integer maps to a nonzero value.
        self._seed_attr = 0 if seed is None else int(seed) % (2**62) + 1
        self._eager_draws = 0

    def _param(self):
        """The op's float parameter (rate; GaussianNoise: stddev)."""
        return self.rate

    def _noise_ints(self, shape):
        return []

    def __call__(self, inputs, *args, training=None, **kwargs):
        if training is not None and any_keras_tensor(inputs):
            kwargs = {**kwargs, _FIXED: bool(training)}  # recorded on the Node
        return super().__call__(inputs, *args, training=training, **kwargs)

    def _next_seed(self):
        if self.seed is None:
            return backend.next_seed()
        self._eager_draws += 1
        return self._eager_draws

    def call(self, inputs, training=None, _fixed_training=None):
        """Keras 3's rule for an explicit build-time `training=`: it is the default used
        when a run does not say. Compiled programs always say (fit trains, evaluate and
        predict infer), so graph nodes follow the run; an eager `model(x)` with
        training=None uses the recorded value (MC dropout)."""
        ints = [_MODE_FOLLOW, self._seed_attr] + self._noise_ints(shape_of(inputs))
        if isinstance(inputs, backend.Symbol):  # the node reads the run's flag and seed
            return inputs if self._param() == 0 else backend.op(self._op, [inputs], ints,
                                                                 [self._param()])
        on = bool(training) if training is not None else bool(_fixed_training)
        if not on or self._param() == 0:  # inactive: Keras returns its input
            return backend.convert_to_tensor(inputs)
        return backend.op(self._op, [inputs], ints, [self._param()], training=True,
                          seed=self._next_seed())

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


class Dropout(_RandomLayer):
    """Randomly sets input units to 0 with frequency `rate` during training and scales the
    kept ones by `1 / (1 - rate)`, so the expected sum is unchanged. Identity in inference.

    Args:
        rate: float in [0, 1], the fraction of the input units to drop. 0 is the identity;
            1 drops everything.
        noise_shape: optional tuple, the shape of the binary mask that is broadcast over
            the input, one entry per input dim; None entries take the input's size. E.g.
            `(None, 1, features)` shares one mask across the timesteps of
            `(batch, timesteps, features)` inputs. Defaults to None (the input's shape).
        seed: optional integer; makes this layer's masks reproducible.

    Call arguments:
        inputs: a tensor of any rank.
        training: bool; `fit` passes True. Given explicitly on a symbolic input it fixes the
            layer's mode in the model (`training=True`: Monte-Carlo dropout at predict too).
    """

    _op = "dropout"

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _check_fraction(self, "rate", rate, closed=True)
        self.noise_shape = _check_noise_shape(self, noise_shape)

    def build(self, input_shape):
        if self.noise_shape is not None:
            _check_noise_fits(self, self.noise_shape, tuple(input_shape))
        self.built = True

    def _noise_ints(self, shape):
        if self.noise_shape is None:
            return []
        _check_noise_fits(self, self.noise_shape, shape)
        return [-1 if d is None else d for d in self.noise_shape]

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape}


def _check_noise_fits(layer, noise_shape, input_shape):
    """Each noise dim must be 1 or the input's size (None: the input's size)."""
    fits = len(noise_shape) == len(input_shape) and all(
        n is None or n == 1 or d is None or n == d for n, d in zip(noise_shape, input_shape))
    if not fits:
        raise ValueError(f"Layer '{layer.name}': noise_shape={noise_shape} does not broadcast "
                         f"to the input shape {input_shape}; it needs one entry per input dim, "
                         "each None, 1 or the input's size.")


class _SpatialDropout(Dropout):
    _rank = None

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)
        self.input_spec = InputSpec(ndim=self._rank)

    def build(self, input_shape):
        self.built = True

    def _channel_axis(self):
        return -1

    def _noise_ints(self, shape):
        # One draw per (sample, channel), shared over every spatial position.
        ints = [1] * self._rank
        ints[0] = -1
        ints[self._channel_axis()] = -1
        return ints

    def get_config(self):
        config = super().get_config()
        config.pop("noise_shape")
        return config


class SpatialDropout1D(_SpatialDropout):
    """Dropout of whole 1D feature maps: for `(batch, timesteps, channels)` inputs one mask
    entry per (sample, channel) is shared over all timesteps, with Dropout's scaling.

    Args:
        rate: float in [0, 1], the fraction of the channels to drop.
        seed: optional integer; makes this layer's masks reproducible.
    """
    _rank = 3


class _SpatialDropoutND(_SpatialDropout):
    def __init__(self, rate, data_format=None, seed=None, **kwargs):
        super().__init__(rate, seed=seed, **kwargs)
        self.data_format = _data_format(data_format)

    def _channel_axis(self):
        return 1 if self.data_format == "channels_first" else -1

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class SpatialDropout2D(_SpatialDropoutND):
    """Dropout of whole 2D feature maps: one mask entry per (sample, channel), shared over
    rows and columns, with Dropout's scaling.

    Args:
        rate: float in [0, 1], the fraction of the channels to drop.
        data_format: "channels_last" (inputs `(batch, rows, cols, channels)`, the default)
            or "channels_first" (`(batch, channels, rows, cols)`).
        seed: optional integer; makes this layer's masks reproducible.
    """
    _rank = 4


class SpatialDropout3D(_SpatialDropoutND):
    """Dropout of whole 3D feature maps: one mask entry per (sample, channel), shared over
    the three spatial dims, with Dropout's scaling.

    Args:
        rate: float in [0, 1], the fraction of the channels to drop.
        data_format: "channels_last" (inputs `(batch, d1, d2, d3, channels)`, the default)
            or "channels_first" (`(batch, channels, d1, d2, d3)`).
        seed: optional integer; makes this layer's masks reproducible.
    """
    _rank = 5


class GaussianNoise(_RandomLayer):
    """Adds zero-centred Gaussian noise `N(0, stddev^2)` during training; identity in
    inference.

    Args:
        stddev: float in [0, 1] (Keras's bounds), the standard deviation of the noise.
        seed: optional integer; makes this layer's noise reproducible.
    """

    _op = "gaussian_noise"

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.stddev = _check_fraction(self, "stddev", stddev, closed=True)

    def _param(self):
        return self.stddev

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev}


class GaussianDropout(_RandomLayer):
    """Multiplies the input by 1-centred Gaussian noise with standard deviation
    `sqrt(rate / (1 - rate))` during training; identity in inference.

    Args:
        rate: float in [0, 1), the drop probability it mimics (as Dropout's).
        seed: optional integer; makes this layer's noise reproducible.
    """

    _op = "gaussian_dropout"

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _check_fraction(self, "rate", rate, closed=False)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


class AlphaDropout(Dropout):
    """Dropout that keeps the mean and variance of its inputs (for SELU networks): dropped
    units are set to SELU's negative saturation `-alpha * scale`, then an affine map
    `a * x + b` restores the statistics of a standard-normal input. Identity in inference.

    Args:
        rate: float in [0, 1), the fraction of the input units to drop.
        noise_shape: optional tuple, the shape of the mask broadcast over the input (None
            entries take the input's size). Defaults to None.
        seed: optional integer; makes this layer's masks reproducible.
    """

    _op = "alpha_dropout"

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        _RandomLayer.__init__(self, seed=seed, **kwargs)
        self.rate = _check_fraction(self, "rate", rate, closed=False)
        self.noise_shape = _check_noise_shape(self, noise_shape)
