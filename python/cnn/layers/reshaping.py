"""Reshaping layers (channels last): Flatten, Reshape, Permute, RepeatVector, ZeroPadding2D,
Cropping2D and UpSampling2D. Each is one engine op (reshape, transpose, upsample2d,
zero_pad2d, slice); the batch axis stays symbolic, so the layers fit any batch size."""
import math

from .. import backend
from .input_spec import InputSpec
from .layer import Layer
from .pooling import check_data_format, standardize_tuple


def _known(layer, shape, what):
    """The non-batch dims of `shape`, which these layers need to be known."""
    dims = tuple(shape)[1:]
    if any(d is None for d in dims):
        raise ValueError(f"Layer '{layer.name}' needs known non-batch dims to {what}; "
                         f"received input shape {tuple(shape)}")
    return dims


class Flatten(Layer):
    """Flattens every axis but the batch: (batch, d1, ..., dn) -> (batch, d1 * ... * dn).

    Args:
        data_format: "channels_last" (or None); "channels_first" raises ValueError.
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = check_data_format(self, data_format)
        self.input_spec = InputSpec(min_ndim=1)

    def compute_output_shape(self, input_shape):
        dims = tuple(input_shape)[1:]
        flat = None if any(d is None for d in dims) else math.prod(dims)
        return (tuple(input_shape)[0], flat)

    def call(self, inputs):
        flat = math.prod(_known(self, inputs.shape, "flatten"))
        return backend.op("reshape", [inputs], ints=[-1, flat])

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class Reshape(Layer):
    """Reshapes the non-batch axes to `target_shape`.

    Args:
        target_shape: tuple of ints, the output shape without the batch axis; one entry
            may be -1, inferred from the input's size.
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        try:
            target = tuple(target_shape)
        except TypeError:
            target = None
        if (target is None or not all(isinstance(d, int) and not isinstance(d, bool)
                                      and (d > 0 or d == -1) for d in target)
                or target.count(-1) > 1):
            raise ValueError(f"Layer '{self.name}': `target_shape` must be a tuple of positive "
                             "integers with at most one -1. Received: "
                             f"target_shape={target_shape!r}")
        self.target_shape = target

    def _resolved(self, input_shape):
        dims = _known(self, input_shape, "reshape")
        size, known = math.prod(dims), math.prod(d for d in self.target_shape if d != -1)
        ok = size % known == 0 if -1 in self.target_shape else size == known
        if not ok:
            raise ValueError(f"Layer '{self.name}': the total size of the tensor must be "
                             f"unchanged. Received: input_shape={tuple(input_shape)}, "
                             f"target_shape={self.target_shape}")
        return tuple(size // known if d == -1 else d for d in self.target_shape)

    def compute_output_shape(self, input_shape):
        return (tuple(input_shape)[0],) + self._resolved(input_shape)

    def call(self, inputs):
        return backend.op("reshape", [inputs], ints=[-1, *self._resolved(inputs.shape)])

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}


class Permute(Layer):
    """Permutes the non-batch axes.

    Args:
        dims: tuple of ints, a permutation of 1..rank-1 (1-indexed: the batch axis stays);
            e.g. (2, 1) swaps the two axes of a (batch, a, b) input.
    """

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        try:
            dims = tuple(dims)
        except TypeError:
            dims = (dims,)
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(f"Layer '{self.name}': invalid permutation argument `dims`. The "
                             "set of indices in `dims` must be consecutive and start from 1. "
                             f"Received: dims={dims}")
        self.dims = dims
        self.input_spec = InputSpec(ndim=len(dims) + 1)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        return (shape[0],) + tuple(shape[d] for d in self.dims)

    def call(self, inputs):
        return backend.op("transpose", [inputs], ints=[0, *self.dims])

    def get_config(self):
        return {**super().get_config(), "dims": self.dims}


class RepeatVector(Layer):
    """Repeats a (batch, features) input n times: (batch, n, features).

    Args:
        n: int >= 1, the number of repetitions.
    """

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"Layer '{self.name}': expected an integer value >= 1 for `n`. "
                             f"Received: n={n!r}")
        self.n = n
        self.input_spec = InputSpec(ndim=2)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        return (shape[0], self.n, shape[1])

    def call(self, inputs):
        (f,) = _known(self, inputs.shape, "repeat")
        # Nearest upsampling of a (batch, 1, 1, f) image by (n, 1) is the repetition.
        x = backend.op("reshape", [inputs], ints=[-1, 1, 1, f])
        x = backend.op("upsample2d", [x], ints=[self.n, 1])
        return backend.op("reshape", [x], ints=[-1, self.n, f])

    def get_config(self):
        return {**super().get_config(), "n": self.n}


def _pairs(layer, value, arg):
    """An int, 2 ints (symmetric per axis) or 2 pairs, as ((top, bottom), (left, right))."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    try:
        rows, cols = value
        out = tuple(standardize_tuple(layer, v, 2, arg, allow_zero=True) for v in (rows, cols))
    except (TypeError, ValueError):
        raise ValueError(f"Layer '{layer.name}': `{arg}` must be an int, a tuple of 2 ints "
                         "(symmetric height, symmetric width), or a tuple of 2 tuples of 2 "
                         f"non-negative ints ((top, bottom), (left, right)). Received: "
                         f"{arg}={value!r}") from None
    return out


class ZeroPadding2D(Layer):
    """Adds rows and columns of zeros around (batch, height, width, channels) images.

    Args:
        padding: int, tuple of 2 ints (symmetric height, symmetric width) or tuple of 2
            tuples of 2 ints ((top, bottom), (left, right)) (default (1, 1)).
        data_format: "channels_last" (or None); "channels_first" raises ValueError.
    """

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pairs(self, padding, "padding")
        self.data_format = check_data_format(self, data_format)
        self.input_spec = InputSpec(ndim=4)

    def compute_output_shape(self, input_shape):
        n, h, w, c = tuple(input_shape)
        (t, b), (l, r) = self.padding
        return (n, None if h is None else h + t + b, None if w is None else w + l + r, c)

    def call(self, inputs):
        (t, b), (l, r) = self.padding
        return backend.op("zero_pad2d", [inputs], ints=[t, b, l, r])

    def get_config(self):
        return {**super().get_config(), "padding": self.padding,
                "data_format": self.data_format}


class Cropping2D(Layer):
    """Removes rows and columns at the borders of (batch, height, width, channels) images.

    Args:
        cropping: int, tuple of 2 ints (symmetric height, symmetric width) or tuple of 2
            tuples of 2 ints ((top, bottom), (left, right)) (default ((0, 0), (0, 0))).
        data_format: "channels_last" (or None); "channels_first" raises ValueError.
    """

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.cropping = _pairs(self, cropping, "cropping")
        self.data_format = check_data_format(self, data_format)
        self.input_spec = InputSpec(ndim=4)

    def compute_output_shape(self, input_shape):
        n, h, w, c = tuple(input_shape)
        (t, b), (l, r) = self.cropping
        if (h is not None and t + b >= h) or (w is not None and l + r >= w):
            raise ValueError(f"Layer '{self.name}': values in `cropping` should be smaller "
                             "than the corresponding spatial dimension of the input. "
                             f"Received: input_shape={tuple(input_shape)}, "
                             f"cropping={self.cropping}")
        return (n, None if h is None else h - t - b, None if w is None else w - l - r, c)

    def call(self, inputs):
        _known(self, inputs.shape, "crop")
        _, h, w, _ = self.compute_output_shape(tuple(inputs.shape))
        (t, _), (l, _) = self.cropping
        return backend.op("slice", [inputs], ints=[0, t, l, 0, -1, h, w, -1])

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping,
                "data_format": self.data_format}


class UpSampling2D(Layer):
    """Repeats the rows and columns of (batch, height, width, channels) images.

    Args:
        size: int or tuple of 2 ints, the row and column factors (default (2, 2)).
        data_format: "channels_last" (or None); "channels_first" raises ValueError.
        interpolation: "nearest" (the only one cnn has; others raise ValueError).
    """

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.size = standardize_tuple(self, size, 2, "size")
        self.data_format = check_data_format(self, data_format)
        if interpolation != "nearest":
            raise ValueError(f"Layer '{self.name}' supports only interpolation='nearest'; "
                             f"received interpolation={interpolation!r}")
        self.interpolation = interpolation
        self.input_spec = InputSpec(ndim=4)

    def compute_output_shape(self, input_shape):
        n, h, w, c = tuple(input_shape)
        return (n, None if h is None else h * self.size[0],
                None if w is None else w * self.size[1], c)

    def call(self, inputs):
        return backend.op("upsample2d", [inputs], ints=list(self.size))

    def get_config(self):
        return {**super().get_config(), "size": self.size, "data_format": self.data_format,
                "interpolation": self.interpolation}


__all__ = ["Flatten", "Reshape", "Permute", "RepeatVector", "ZeroPadding2D", "Cropping2D",
           "UpSampling2D"]
