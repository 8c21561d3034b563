"""Pooling layers (channels last): MaxPooling1D/2D, AveragePooling1D/2D and the global
poolings. The windowed ones run the engine's max_pool2d/avg_pool2d ops (1-D inputs as images
of height 1); the global ones are max/mean reductions. The module name also serves Keras 2's
`keras.layers.pooling` path."""
import numpy as np

from .. import backend
from .input_spec import InputSpec
from .layer import Layer, shape_of


def standardize_tuple(layer, value, n, arg, allow_zero=False):
    """`value` (an int or n ints) as a tuple of n ints, each >= 1 (>= 0 with allow_zero)."""
    items = (value,) * n if isinstance(value, int) and not isinstance(value, bool) else value
    try:
        items = tuple(items)
    except TypeError:
        items = None
    low = 0 if allow_zero else 1
    if (items is None or len(items) != n
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= low for v in items)):
        raise ValueError(f"Layer '{layer.name}': the `{arg}` argument must be an integer or a "
                         f"tuple of {n} integers, each >= {low}. Received: {arg}={value!r}")
    return items


def check_data_format(layer, data_format):
    """cnn computes channels last; channels_first is refused rather than silently wrong."""
    if data_format in (None, "channels_last"):
        return "channels_last"
    if data_format == "channels_first":
        raise ValueError(f"Layer '{layer.name}' supports only data_format='channels_last' "
                         "(inputs of shape (batch, ..., channels)); received "
                         "data_format='channels_first'")
    raise ValueError(f"Layer '{layer.name}': the `data_format` argument must be "
                     f"'channels_last' or 'channels_first'. Received: data_format={data_format!r}")


def _pool_len(layer, size, k, s, padding, axis):
    if size is None:
        return None
    if padding == "same":
        return (size + s - 1) // s
    if k > size:
        raise ValueError(f"Layer '{layer.name}': pool size {k} is larger than the input's "
                         f"spatial dim {size} (axis {axis}) with padding='valid'")
    return (size - k) // s + 1


class _Pooling(Layer):
    """Windowed max or average pooling over `rank` spatial axes (1 or 2)."""
    _rank = 2
    _mode = "max"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, name=None,
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.pool_size = standardize_tuple(self, pool_size, self._rank, "pool_size")
        self.strides = standardize_tuple(self, self.pool_size if strides is None else strides,
                                         self._rank, "strides")
        padding = padding.lower() if isinstance(padding, str) else padding
        if padding not in ("valid", "same"):
            raise ValueError(f"Layer '{self.name}': the `padding` argument must be 'valid' or "
                             f"'same'. Received: padding={padding!r}")
        self.padding = padding
        self.data_format = check_data_format(self, data_format)
        self.input_spec = InputSpec(ndim=self._rank + 2)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        spatial = tuple(_pool_len(self, d, k, s, self.padding, i + 1) for i, (d, k, s) in
                        enumerate(zip(shape[1:-1], self.pool_size, self.strides)))
        return (shape[0],) + spatial + (shape[-1],)

    def call(self, inputs):
        shape = tuple(inputs.shape)
        out = self.compute_output_shape(shape)  # checks the sizes, naming this layer
        name = "max_pool2d" if self._mode == "max" else "avg_pool2d"
        same = int(self.padding == "same")
        if self._rank == 2:
            return backend.op(name, [inputs], ints=[*self.pool_size, *self.strides, same])
        # 1-D: an image of height 1.
        x = backend.op("reshape", [inputs], ints=[-1, 1, shape[1], shape[2]])
        y = backend.op(name, [x], ints=[1, self.pool_size[0], 1, self.strides[0], same])
        return backend.op("reshape", [y], ints=[-1, out[1], out[2]])

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "padding": self.padding,
                "strides": self.strides, "data_format": self.data_format}


class MaxPooling2D(_Pooling):
    """Max pooling over windows of (height, width) for inputs (batch, height, width,
    channels).

    Args:
        pool_size: int or tuple of 2 ints, the window size (default (2, 2)).
        strides: int, tuple of 2 ints, or None (default: pool_size).
        padding: "valid" (no padding) or "same" (output size ceil(input / strides); padding
            never wins the max).
        data_format: "channels_last" (or None); "channels_first" raises ValueError.
    """

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name, **kwargs)


class AveragePooling2D(_Pooling):
    """Average pooling over windows of (height, width) for inputs (batch, height, width,
    channels).

    Args:
        pool_size: int or tuple of 2 ints, the window size (default (2, 2)).
        strides: int, tuple of 2 ints, or None (default: pool_size).
        padding: "valid" or "same"; with "same" each output averages only the real
            elements of its window, as TensorFlow does (Keras's torch backend instead
            averages in replicated edge pixels where the total padding is odd).
        data_format: "channels_last" (or None); "channels_first" raises ValueError.
    """
    _mode = "average"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name, **kwargs)


class MaxPooling1D(_Pooling):
    """Max pooling over windows of steps for inputs (batch, steps, features).

    Args:
        pool_size: int, the window size (default 2).
        strides: int or None (default: pool_size).
        padding: "valid" or "same".
        data_format: "channels_last" (or None); "channels_first" raises ValueError.
    """
    _rank = 1

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name, **kwargs)


class AveragePooling1D(_Pooling):
    """Average pooling over windows of steps for inputs (batch, steps, features).

    Args:
        pool_size: int, the window size (default 2).
        strides: int or None (default: pool_size).
        padding: "valid" or "same" (padding is not counted in the averages; see
            AveragePooling2D).
        data_format: "channels_last" (or None); "channels_first" raises ValueError.
    """
    _rank = 1
    _mode = "average"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, name=name, **kwargs)


def _divide_no_nan(num, den):
    """num / den with 0 where den is 0 (den holds counts >= 0)."""
    nonzero = backend.op("minimum", [den, np.float32(1.0)])
    safe = backend.op("add", [den, backend.op("sub", [np.float32(1.0), nonzero])])
    return backend.op("mul", [backend.op("div", [num, safe]), nonzero])


class _GlobalPooling(Layer):
    """Max or mean over every spatial axis of (batch, *spatial, channels)."""
    _rank = 2
    _op = "max"

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = check_data_format(self, data_format)
        self.keepdims = bool(keepdims)
        self.input_spec = InputSpec(ndim=self._rank + 2)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        if self.keepdims:
            return (shape[0],) + (1,) * self._rank + (shape[-1],)
        return (shape[0], shape[-1])

    def call(self, inputs):
        axes = list(range(1, self._rank + 1))
        return backend.op(self._op, [inputs], ints=[int(self.keepdims)] + axes)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format,
                "keepdims": self.keepdims}


class GlobalMaxPooling1D(_GlobalPooling):
    """Maximum over the steps of (batch, steps, features).

    Args:
        data_format: "channels_last" (or None); "channels_first" raises ValueError.
        keepdims: keep the steps axis with size 1 (default False).
    """
    _rank = 1


class GlobalMaxPooling2D(_GlobalPooling):
    """Maximum over height and width of (batch, height, width, channels).

    Args:
        data_format: "channels_last" (or None); "channels_first" raises ValueError.
        keepdims: keep the spatial axes with size 1 (default False).
    """


class GlobalAveragePooling1D(_GlobalPooling):
    """Mean over the steps of (batch, steps, features). With a mask (from
    `Embedding(mask_zero=True)` or `Masking` before it, or `mask=`), the mean runs over the
    kept steps only, as Keras; a sample with no kept step gives zeros (Keras: NaN).

    Args:
        data_format: "channels_last" (or None); "channels_first" raises ValueError.
        keepdims: keep the steps axis with size 1 (default False).
    """
    _rank = 1
    _op = "mean"
    supports_masking = True
    _consumes_mask = True

    def call(self, inputs, mask=None):
        if mask is None:
            return super().call(inputs)
        mask = mask if isinstance(mask, (backend.Tensor, backend.Symbol)) else \
            np.asarray(mask, np.float32)
        steps = tuple(shape_of(inputs))[1]
        keep = backend.op("reshape", [mask], ints=[-1, steps, 1])
        keepdims = int(self.keepdims)
        total = backend.op("sum", [backend.op("mul", [inputs, keep])], ints=[keepdims, 1])
        count = backend.op("sum", [keep], ints=[keepdims, 1])
        return _divide_no_nan(total, count)

    def compute_mask(self, inputs, previous_mask):
        return None


class GlobalAveragePooling2D(_GlobalPooling):
    """Mean over height and width of (batch, height, width, channels).

    Args:
        data_format: "channels_last" (or None); "channels_first" raises ValueError.
        keepdims: keep the spatial axes with size 1 (default False).
    """
    _op = "mean"


# Keras's short aliases.
MaxPool1D, MaxPool2D = MaxPooling1D, MaxPooling2D
AvgPool1D, AvgPool2D = AveragePooling1D, AveragePooling2D
GlobalMaxPool1D, GlobalMaxPool2D = GlobalMaxPooling1D, GlobalMaxPooling2D
GlobalAvgPool1D, GlobalAvgPool2D = GlobalAveragePooling1D, GlobalAveragePooling2D

__all__ = ["MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D",
           "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalAveragePooling1D",
           "GlobalAveragePooling2D", "MaxPool1D", "MaxPool2D", "AvgPool1D", "AvgPool2D",
           "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalAvgPool1D", "GlobalAvgPool2D"]
