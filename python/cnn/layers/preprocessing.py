"""Preprocessing layers: Rescaling, Normalization, Resizing and the image augmentation layers
RandomFlip, RandomRotation, RandomTranslation, RandomZoom, RandomContrast, RandomBrightness
and RandomCrop (channels_last images: a batch (N, H, W, C) or one image (H, W, C)).

Rescaling and Normalization compose elementwise engine ops; Resizing is the `image_resize`
op. Each augmentation layer emits one engine op (ops_image.c) that reads the run's training
flag: the graph compiled for `fit` augments, `evaluate` and `predict` run the same graph and
do not (RandomCrop then takes Keras's centre crop). As in Keras 3, calling an augmentation
layer directly without `training=` augments; `training=False` turns it off. (cnn's eager
`model(x)` runs the model in inference, so it does not augment.)

Randomness follows the dropout layers (regularization.py): a compiled graph seeds each node
afresh every step from the step seed (cnn.utils.set_random_seed repeats runs exactly); eager
calls draw from `backend.next_seed()`, or from the layer's own counter when it was given
`seed=`. The layer seed is also an op attribute mixed into the step's seed. Each sample of a
batch draws its own transform.
"""
import itertools
import math
import numbers

import numpy as np

from .. import backend
from .layer import Layer, shape_of
from .keras_tensor import any_keras_tensor
from .pooling import check_data_format

__all__ = ["Rescaling", "Normalization", "Resizing", "RandomFlip", "RandomRotation",
           "RandomTranslation", "RandomZoom", "RandomContrast", "RandomBrightness",
           "RandomCrop"]

_FIXED = "_fixed_training"  # an explicit build-time `training=`, recorded on the Node
_FOLLOW, _TRAIN, _INFER = 0, 1, 2  # the ops' mode attribute
_EPSILON = 1e-7  # keras.backend.epsilon()
_FILL_MODES = {"reflect": 0, "wrap": 1, "constant": 2, "nearest": 3}
_INTERPOLATIONS = {"bilinear": 0, "nearest": 1}


def _number(layer, arg, value):
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise ValueError(f"Layer '{layer.name}': argument `{arg}` must be a number. "
                         f"Received: {arg}={value!r}")
    return float(value)


def _positive_int(layer, arg, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"Layer '{layer.name}': argument `{arg}` must be a positive integer. "
                         f"Received: {arg}={value!r}")
    return int(value)


def _choice(layer, arg, value, options):
    if value not in options:
        raise ValueError(f"Layer '{layer.name}': unknown `{arg}` {value!r}. Expected one of "
                         f"{tuple(options)}.")
    return value


def _factor_range(layer, arg, factor, low, high, open_low=False):
    """Keras's factor rule: a number f gives (-|f|, |f|) clipped below at `low`; a pair
    gives its sorted values. Every value must lie in [low, high] ((low, high] if open_low)."""
    def check(v):
        v = _number(layer, arg, v)
        if v > high or v < low or (open_low and v == low):
            span = f"({low}, {high}]" if open_low else f"[{low}, {high}]"
            raise ValueError(f"Layer '{layer.name}': argument `{arg}` must be a number or a "
                             f"pair of numbers in {span}. Received: {arg}={factor!r}")
        return v

    if isinstance(factor, (tuple, list)):
        if len(factor) != 2:
            raise ValueError(f"Layer '{layer.name}': argument `{arg}` must be a number or a "
                             f"pair of numbers. Received: {arg}={factor!r}")
        lo, hi = sorted(check(v) for v in factor)
        return lo, hi
    f = abs(check(factor))
    return max(-f, low), f


def _check_image(layer, shape):
    shape = tuple(shape)
    if len(shape) not in (3, 4):
        raise ValueError(f"Layer '{layer.name}' expects images of rank 4 (batch, height, width, "
                         f"channels) or rank 3 (height, width, channels). Received input with "
                         f"shape {shape}")
    if any(d is None for d in shape[-3:]):
        raise ValueError(f"Layer '{layer.name}' needs a known height, width and channel count. "
                         f"Received input with shape {shape}")
    return shape


# ---- deterministic layers ------------------------------------------------------------------

class Rescaling(Layer):
    """Multiplies its inputs by `scale` and adds `offset`: `x * scale + offset`, always (in
    training and inference). E.g. `Rescaling(1 / 255)` maps [0, 255] to [0, 1] and
    `Rescaling(1 / 127.5, offset=-1)` maps it to [-1, 1].

    Args:
        scale: float, or an array broadcast against the input (e.g. one value per channel).
        offset: float, or an array broadcast against the input. Defaults to 0.
    """

    supports_masking = True  # a mask passes through (Keras)

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale
        self.offset = offset
        self._scale = self._value("scale", scale)
        self._offset = self._value("offset", offset)

    def _value(self, arg, value):
        try:
            v = np.asarray(value, dtype=np.float32)
        except (TypeError, ValueError):
            raise ValueError(f"Layer '{self.name}': argument `{arg}` must be a number or an "
                             f"array of numbers. Received: {arg}={value!r}") from None
        if not np.all(np.isfinite(v)):
            raise ValueError(f"Layer '{self.name}': argument `{arg}` must be finite. "
                             f"Received: {arg}={value!r}")
        return v

    def call(self, inputs):
        x = backend.convert_to_tensor(inputs)
        y = x if self._scale.ndim == 0 and self._scale == 1 else backend.op("mul", [x, self._scale])
        if self._offset.ndim == 0 and self._offset == 0:
            return y
        return backend.op("add", [y, self._offset])

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        def plain(v):
            return v.tolist() if isinstance(v, np.ndarray) else v
        return {**super().get_config(), "scale": plain(self.scale), "offset": plain(self.offset)}


class Normalization(Layer):
    """Shifts and scales inputs to zero mean and unit variance per feature:
    `(x - mean) / max(sqrt(variance), 1e-7)` (Keras's epsilon), or the inverse
    `mean + x * max(sqrt(variance), 1e-7)` when `invert=True`.

    The statistics are either given (`mean=`, `variance=`) or computed by `adapt(data)`
    before training; they are non-trainable weights (`mean`, `variance`, `count`, as in
    Keras), so they are saved with the model.

    Args:
        axis: int, tuple of ints or None: the axes that keep their own statistics (e.g. -1,
            the default: one mean and variance per feature of the last axis). None: one
            mean and variance over everything.
        mean: optional mean, broadcast to the kept axes.
        variance: optional variance, broadcast to the kept axes (given with `mean`).
        invert: bool; apply the inverse transform (de-normalize). Defaults to False.
    """

    supports_masking = True  # a mask passes through (Keras)

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, numbers.Integral) and not isinstance(axis, bool):
            axis = (int(axis),)
        else:
            try:
                axis = tuple(int(a) for a in axis)
            except (TypeError, ValueError):
                raise ValueError(f"Layer '{self.name}': argument `axis` must be an int, a tuple "
                                 f"of ints or None. Received: axis={axis!r}") from None
        self.axis = axis
        self.invert = bool(invert)
        if (mean is None) != (variance is None):
            raise ValueError(f"Layer '{self.name}': when setting values directly, both `mean` "
                             f"and `variance` must be set. Received: mean={mean} and "
                             f"variance={variance}")
        self.input_mean, self.input_variance = mean, variance
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError(f"Layer '{self.name}': `mean` and `variance` must have the same "
                                 f"shape. Received: mean shape {np.shape(mean)} and variance "
                                 f"shape {np.shape(variance)}")
            if np.ndim(mean) > len(self.axis):
                raise ValueError(f"Layer '{self.name}': the rank of `mean` must be at most the "
                                 f"number of axes ({len(self.axis)}). Received: mean shape "
                                 f"{np.shape(mean)} for axis {self.axis}")
            if np.any(np.asarray(variance, dtype=np.float64) < 0):
                raise ValueError(f"Layer '{self.name}': `variance` must be non-negative. "
                                 f"Received: variance={variance}")
        self._mean = self._variance = None

    def build(self, input_shape):
        shape = tuple(input_shape)
        ndim = len(shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError(f"Layer '{self.name}': all `axis` values must be in [-{ndim}, "
                             f"{ndim}). Received inputs of shape {shape} with axis={self.axis}")
        self._keep = tuple(sorted(a % ndim for a in self.axis))
        for d in self._keep:
            if shape[d] is None:
                raise ValueError(f"Layer '{self.name}': the kept axis {d} must have a known "
                                 f"size. Received axis={self.axis}, inputs.shape={shape}")
        self._reduce = tuple(d for d in range(ndim) if d not in self._keep)
        self._build_shape = shape
        self._bshape = [shape[d] if d in self._keep else 1 for d in range(ndim)]
        stats_shape = tuple(shape[d] for d in self._keep)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(stats_shape, "zeros", trainable=False, name="mean")
            self.adapt_variance = self.add_weight(stats_shape, "ones", trainable=False,
                                                  name="variance")
            self.count = self.add_weight((), "zeros", trainable=False, name="count")
            self._mean, self._variance = self.adapt_mean, self.adapt_variance
        else:
            self._mean = self._const(self.input_mean, ndim)
            self._variance = self._const(self.input_variance, ndim)
        self.built = True

    def _const(self, value, ndim):
        """A given statistic laid along the kept axes (trailing dims first), as Keras."""
        v = np.asarray(value, dtype=np.float32)
        expanded = [1] * ndim
        for i in range(1, v.ndim + 1):
            expanded[self._keep[-i]] = v.shape[-i]
        return np.ascontiguousarray(np.broadcast_to(v.reshape(expanded), self._bshape))

    def adapt(self, data):
        """Computes the mean and variance of `data` for each position of the kept axes.

        Args:
            data: a NumPy array or tensor, or an iterable of such batches (merged with
                the parallel-variance formula, as Keras does).
        """
        if isinstance(data, (np.ndarray, backend.Tensor)) or np.isscalar(data):
            batches = [np.asarray(data, dtype=np.float32)]
        elif hasattr(data, "__iter__"):
            batches = (np.asarray(b[0] if isinstance(b, tuple) else b, dtype=np.float32)
                       for b in data)
        else:
            raise TypeError(f"Layer '{self.name}': adapt() takes a NumPy array, a tensor or an "
                            f"iterable of batches. Received: {type(data).__name__}")
        batches = iter(batches)
        first = next(batches, None)
        if first is None:
            raise ValueError(f"Layer '{self.name}': adapt() received no data")
        if self.input_mean is not None:
            raise ValueError(f"Layer '{self.name}': adapt() cannot be used when `mean` and "
                             "`variance` were given at construction")
        if not self.built:
            self.build(first.shape)
        total_mean = total_var = None
        total = 0
        for batch in itertools.chain([first], batches):
            if batch.ndim != len(self._build_shape) or any(
                    batch.shape[d] != self._build_shape[d] for d in self._keep):
                raise ValueError(f"Layer '{self.name}' was built with input_shape="
                                 f"{self._build_shape}, but adapt() received data with an "
                                 f"incompatible shape, data.shape={batch.shape}")
            mean = np.mean(batch, axis=self._reduce)
            var = np.var(batch, axis=self._reduce)
            n = math.prod(batch.shape[d] for d in self._reduce)
            if total_mean is None:
                total_mean, total_var, total = mean, var, n
                continue
            total += n
            w = n / total
            new_mean = total_mean * (1 - w) + mean * w
            total_var = ((total_var + (total_mean - new_mean) ** 2) * (1 - w)
                         + (var + (mean - new_mean) ** 2) * w)
            total_mean = new_mean
        self.adapt_mean.assign(np.asarray(total_mean, dtype=np.float32))
        self.adapt_variance.assign(np.asarray(total_var, dtype=np.float32))

    def _stat(self, value):
        if isinstance(value, np.ndarray):
            return value
        if not value.shape or tuple(value.shape) == tuple(self._bshape[-len(value.shape):]):
            return value  # the kept axes are trailing: broadcasting lays them out
        return backend.op("reshape", [value], ints=list(self._bshape))

    def call(self, inputs):
        x = backend.convert_to_tensor(inputs)
        mean, var = self._stat(self._mean), self._stat(self._variance)
        std = backend.op("maximum", [backend.op("sqrt", [var]), np.float32(_EPSILON)])
        if self.invert:
            return backend.op("add", [mean, backend.op("mul", [x, std])])
        return backend.op("div", [backend.op("sub", [x, mean]), std])

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        def plain(v):
            return np.asarray(v).tolist() if v is not None else None
        return {**super().get_config(), "axis": self.axis, "invert": self.invert,
                "mean": plain(self.input_mean), "variance": plain(self.input_variance)}


def _aspect_crop(h, w, target_h, target_w):
    """Keras's centred crop box with the target's aspect ratio: (top, left, height, width)."""
    ch = max(min(h, int(float(w * target_h) / target_w)), 1)
    cw = max(min(w, int(float(h * target_w) / target_h)), 1)
    return int(float(h - ch) / 2), int(float(w - cw) / 2), ch, cw


class Resizing(Layer):
    """Resizes images to `(height, width)`, as Keras 3 on the torch backend: bilinear with
    the half-pixel rule (torch's `align_corners=False`, no antialiasing) or nearest
    ("nearest-exact"). Differentiable, so it may also sit between trainable layers.

    Args:
        height: int, the output height.
        width: int, the output width.
        interpolation: "bilinear" (default) or "nearest".
        crop_to_aspect_ratio: bool; if True, first crop the largest centred window with the
            target's aspect ratio, so the image is not distorted. Defaults to False.
        pad_to_aspect_ratio, fill_mode, fill_value, antialias: accepted with Keras's
            defaults (False, "constant", 0.0, False) so Keras configs load; cnn implements
            neither padding to the aspect ratio nor antialiasing, and other values raise
            ValueError.
        data_format: "channels_last" (or None).
    """

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0,
                 antialias=False, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.height = _positive_int(self, "height", height)
        self.width = _positive_int(self, "width", width)
        self.interpolation = _choice(self, "interpolation", interpolation, _INTERPOLATIONS)
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        for arg, value, default in [("pad_to_aspect_ratio", pad_to_aspect_ratio, False),
                                    ("fill_mode", fill_mode, "constant"),
                                    ("antialias", antialias, False)]:
            if value != default:
                raise ValueError(f"Layer '{self.name}': cnn's Resizing supports only "
                                 f"{arg}={default!r}. Received: {arg}={value!r}")
        self.pad_to_aspect_ratio, self.fill_mode, self.antialias = False, "constant", False
        self.fill_value = _number(self, "fill_value", fill_value)
        self.data_format = check_data_format(self, data_format)

    def build(self, input_shape):
        _check_image(self, input_shape)
        self.built = True

    def call(self, inputs):
        shape = _check_image(self, shape_of(inputs))
        ints = [self.height, self.width, _INTERPOLATIONS[self.interpolation]]
        if self.crop_to_aspect_ratio:
            ints += list(_aspect_crop(shape[-3], shape[-2], self.height, self.width))
        return backend.op("image_resize", [inputs], ints)

    def compute_output_shape(self, input_shape):
        s = tuple(input_shape)
        return s[:-3] + (self.height, self.width, s[-1])

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width,
                "interpolation": self.interpolation,
                "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                "pad_to_aspect_ratio": self.pad_to_aspect_ratio, "fill_mode": self.fill_mode,
                "fill_value": self.fill_value, "antialias": self.antialias,
                "data_format": self.data_format}


# ---- augmentation --------------------------------------------------------------------------

class _Augmentation(Layer):
    """One op `_op` with ints=[mode, seed attribute, *_extra_ints()] and floats=_floats()."""

    _op = None
    _identity_when_off = True

    def __init__(self, seed=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if seed is not None and (not isinstance(seed, numbers.Integral) or isinstance(seed, bool)):
            raise ValueError(f"Argument `seed` of layer '{self.name}' must be an integer. "
                             f"Received: seed={seed!r}")
        self.seed = None if seed is None else int(seed)
        self._seed_attr = 0 if seed is None else int(seed) % (2**62) + 1
        self._eager_draws = 0
        self.data_format = check_data_format(self, data_format)

    def _extra_ints(self):
        return []

    def _floats(self):
        return []

    def build(self, input_shape):
        _check_image(self, input_shape)
        self.built = True

    def __call__(self, inputs, *args, training=None, **kwargs):
        if training is not None and any_keras_tensor(inputs):
            kwargs = {**kwargs, _FIXED: bool(training)}
        return super().__call__(inputs, *args, training=training, **kwargs)

    def _next_seed(self):
        if self.seed is None:
            return backend.next_seed()
        self._eager_draws += 1
        return self._eager_draws

    def call(self, inputs, training=None, _fixed_training=None):
        """Graph nodes follow the run (fit augments; evaluate and predict do not). Eager
        calls follow `training`, else the recorded build-time value, else augment (Keras 3's
        default for these layers)."""
        _check_image(self, shape_of(inputs))
        rest = [self._seed_attr] + self._extra_ints()
        if isinstance(inputs, backend.Symbol):
            return backend.op(self._op, [inputs], [_FOLLOW] + rest, self._floats())
        on = training if training is not None else (
            _fixed_training if _fixed_training is not None else True)
        if not on:
            if self._identity_when_off:
                return backend.convert_to_tensor(inputs)
            return backend.op(self._op, [inputs], [_INFER] + rest, self._floats())
        return backend.op(self._op, [inputs], [_TRAIN] + rest, self._floats(), training=True,
                          seed=self._next_seed())

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed, "data_format": self.data_format}


class RandomFlip(_Augmentation):
    """Randomly flips images during training: each image is flipped left-right and/or
    top-bottom with probability 1/2 each. Identity in inference.

    Args:
        mode: "horizontal" (left-right), "vertical" (top-bottom) or
            "horizontal_and_vertical" (both, independently; the default).
        seed: optional integer; makes this layer's draws reproducible.
        data_format: "channels_last" (or None).
    """

    _op = "random_flip"
    _MODES = {"horizontal": (1, 0), "vertical": (0, 1), "horizontal_and_vertical": (1, 1)}

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.mode = _choice(self, "mode", mode, self._MODES)

    def _extra_ints(self):
        return list(self._MODES[self.mode])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


class _Affine(_Augmentation):
    """The `random_affine` op: floats = [angle range (radians), height and width
    translation ranges (fractions), height and width zoom ranges, fill_value]."""

    _op = "random_affine"

    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0,
                 data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.fill_mode = _choice(self, "fill_mode", fill_mode, _FILL_MODES)
        self.interpolation = _choice(self, "interpolation", interpolation, _INTERPOLATIONS)
        self.fill_value = _number(self, "fill_value", fill_value)

    def _extra_ints(self):
        return [_FILL_MODES[self.fill_mode], _INTERPOLATIONS[self.interpolation]]

    def _floats(self):
        # each subclass's _ranges(): (angle lo, hi), (ty lo, hi), (tx lo, hi), (zy lo, hi),
        # and (zx lo, hi) or None (zx = zy)
        angle, ty, tx, zy, zx = self._ranges()
        return [*angle, *ty, *tx, *zy, *(zx if zx is not None else (-1.0, -1.0)), self.fill_value]

    def get_config(self):
        return {**super().get_config(), "fill_mode": self.fill_mode,
                "interpolation": self.interpolation, "fill_value": self.fill_value}


class RandomRotation(_Affine):
    """Rotates each image by a random angle about its centre during training; identity in
    inference.

    Args:
        factor: a float or a pair (lower, upper) of fractions of a full turn, in [-1, 1]:
            the angle is drawn uniformly from [lower * 360, upper * 360] degrees (a number
            f gives [-f, f]; positive angles turn counter-clockwise).
        fill_mode: how points outside the image are filled: "reflect" (default; about the
            edge of the last pixel), "wrap", "constant" (`fill_value`) or "nearest".
        interpolation: "bilinear" (default) or "nearest".
        seed: optional integer; makes this layer's draws reproducible.
        fill_value: float, the value outside the image with fill_mode="constant".
        data_format: "channels_last" (or None).
    """

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.factor = _factor_range(self, "factor", factor, -1.0, 1.0)

    def _ranges(self):
        turn = 2 * math.pi
        return ((self.factor[0] * turn, self.factor[1] * turn), (0.0, 0.0), (0.0, 0.0),
                (1.0, 1.0), None)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class RandomTranslation(_Affine):
    """Shifts each image by a random offset during training; identity in inference.

    Args:
        height_factor: a float or a pair (lower, upper) in [-1, 1], fractions of the height:
            the vertical shift is drawn from [lower * height, upper * height] (positive:
            down). A number f gives [-f, f].
        width_factor: the same for the horizontal shift (positive: right).
        fill_mode: "reflect" (default), "wrap", "constant" or "nearest".
        interpolation: "bilinear" (default) or "nearest".
        seed: optional integer; makes this layer's draws reproducible.
        fill_value: float, the value outside the image with fill_mode="constant".
        data_format: "channels_last" (or None).
    """

    def __init__(self, height_factor, width_factor, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor  # as given
        self._h_range = _factor_range(self, "height_factor", height_factor, -1.0, 1.0)
        self._w_range = _factor_range(self, "width_factor", width_factor, -1.0, 1.0)

    def _ranges(self):
        return (0.0, 0.0), self._h_range, self._w_range, (1.0, 1.0), None

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor}


class RandomZoom(_Affine):
    """Zooms each image in or out by a random factor about its centre during training;
    identity in inference.

    Args:
        height_factor: a float or a pair (lower, upper) in (-1, 1]: the vertical zoom is
            drawn from [1 + lower, 1 + upper]; positive values zoom out (the image shrinks),
            negative values zoom in. A number f gives [-f, f].
        width_factor: the same for the horizontal zoom; None (the default) uses the vertical
            zoom, keeping the aspect ratio.
        fill_mode: "reflect" (default), "wrap", "constant" or "nearest".
        interpolation: "bilinear" (default) or "nearest".
        seed: optional integer; makes this layer's draws reproducible.
        fill_value: float, the value outside the image with fill_mode="constant".
        data_format: "channels_last" (or None).
    """

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor, self.width_factor = height_factor, width_factor  # as given
        self._h_range = _factor_range(self, "height_factor", height_factor, -1.0, 1.0,
                                      open_low=True)
        self._w_range = (None if width_factor is None else _factor_range(
            self, "width_factor", width_factor, -1.0, 1.0, open_low=True))

    def _ranges(self):
        zy = (1.0 + self._h_range[0], 1.0 + self._h_range[1])
        zx = None if self._w_range is None else (1.0 + self._w_range[0], 1.0 + self._w_range[1])
        return (0.0, 0.0), (0.0, 0.0), (0.0, 0.0), zy, zx

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor}


def _value_range(layer, value_range):
    if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
        raise ValueError(f"Layer '{layer.name}': argument `value_range` must be a list or tuple "
                         f"of two numbers. Received: value_range={value_range!r}")
    lo, hi = sorted(_number(layer, "value_range", v) for v in value_range)
    if lo == hi:
        raise ValueError(f"Layer '{layer.name}': `value_range` must span a positive interval. "
                         f"Received: value_range={value_range!r}")
    return lo, hi


class RandomContrast(_Augmentation):
    """Adjusts the contrast of each image by a random factor during training:
    `(x - mean) * c + mean` per channel (mean over the image's pixels), clipped to
    `value_range`. Identity in inference.

    Args:
        factor: a float or a pair (lower, upper) in [0, 1]: c is drawn from
            [1 - lower, 1 + upper]; a number f gives [1 - f, 1 + f], as Keras documents
            (Keras 3.15's code draws from [1, 1 + f] for a single number).
        value_range: (min, max) of the input values; outputs are clipped to it. Defaults
            to (0, 255).
        seed: optional integer; makes this layer's draws reproducible.
    """

    _op = "random_contrast"

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if isinstance(factor, (tuple, list)):
            self.factor = _factor_range(self, "factor", factor, 0.0, 1.0)
        else:
            f = _factor_range(self, "factor", factor, 0.0, 1.0)[1]
            self.factor = (f, f)
        self.value_range = _value_range(self, value_range)

    def _floats(self):
        return [1.0 - self.factor[0], 1.0 + self.factor[1], *self.value_range]

    def get_config(self):
        config = {**super().get_config(), "factor": self.factor, "value_range": self.value_range}
        config.pop("data_format")
        return config


class RandomBrightness(_Augmentation):
    """Adds a random brightness offset to each image during training: `x + d`, with d drawn
    from [lower, upper] times the width of `value_range`, clipped to `value_range`.
    Identity in inference.

    Args:
        factor: a float or a pair (lower, upper) in [-1, 1]; a number f gives [-f, f].
        value_range: (min, max) of the input values; outputs are clipped to it. Defaults
            to (0, 255).
        seed: optional integer; makes this layer's draws reproducible.
    """

    _op = "random_brightness"

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.factor = _factor_range(self, "factor", factor, -1.0, 1.0)
        self.value_range = _value_range(self, value_range)

    def _floats(self):
        return [*self.factor, *self.value_range]

    def get_config(self):
        config = {**super().get_config(), "factor": self.factor, "value_range": self.value_range}
        config.pop("data_format")
        return config


class RandomCrop(_Augmentation):
    """Crops each image to `(height, width)` at a random position during training. In
    inference, and whenever the input is not larger than the target in both dims, it takes
    the largest centred window with the target's aspect ratio and resizes it bilinearly to
    `(height, width)` (as `Resizing(height, width, crop_to_aspect_ratio=True)`), so the
    output shape is the same in both modes. Unlike Keras, which crops a whole batch at one
    position (and returns its input unchanged in inference), each image draws its own.

    Args:
        height: int, the output height.
        width: int, the output width.
        seed: optional integer; makes this layer's draws reproducible.
        data_format: "channels_last" (or None).
    """

    _op = "random_crop"
    _identity_when_off = False

    def __init__(self, height, width, seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.height = _positive_int(self, "height", height)
        self.width = _positive_int(self, "width", width)

    def _extra_ints(self):
        return [self.height, self.width]

    def compute_output_shape(self, input_shape):
        s = tuple(input_shape)
        return s[:-3] + (self.height, self.width, s[-1])

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width}
