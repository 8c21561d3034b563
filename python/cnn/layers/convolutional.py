"""Convolution layers: Conv1D, Conv2D, Conv1DTranspose, Conv2DTranspose, DepthwiseConv1D,
DepthwiseConv2D, SeparableConv1D, SeparableConv2D.

Each is the engine's conv2d or conv2d_transpose op (csrc/ops_conv.c; channels_last, Keras's
kernel layouts) followed by bias_add and the activation. 1-D layers use the ops' rank-3 form
and the depthwise layers a conv2d with one group per input channel. Weight names, shapes and
order match Keras 3, so get_weights/set_weights exchange weights with Keras directly.
Only data_format="channels_last" is supported.
"""
import numbers

from .. import activations, backend, initializers, regularizers
from .input_spec import InputSpec
from .layer import Layer

# conv2d's padding attribute (see csrc/ops_conv.c).
_PADDING = {"valid": 0, "same": 1, "causal": 2}


def _int_tuple(layer_cls, value, n, name, allow_zero=False):
    """An int or n ints -> a tuple of n positive ints (Keras's standardize_tuple)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (int(value),) * n
    try:
        value = tuple(value)
    except TypeError:
        value = None
    lowest = 0 if allow_zero else 1
    if (value is None or len(value) != n or any(
            isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < lowest for v in value)):
        raise ValueError(f"{layer_cls}: the `{name}` argument must be an integer or a tuple of "
                         f"{n} integers >= {lowest}. Received: {name}={value!r}")
    return tuple(int(v) for v in value)


def _check_options(cls, padding, data_format, allow_causal, constraints):
    padding = str(padding).lower()
    allowed = ("valid", "same", "causal") if allow_causal else ("valid", "same")
    if padding not in allowed:
        raise ValueError(f"{cls}: the `padding` argument must be one of {allowed}. "
                         f"Received: padding={padding!r}")
    if data_format not in (None, "channels_last"):
        raise ValueError(f"{cls}: only data_format='channels_last' is supported (inputs "
                         f"(batch, ..., channels)). Received: data_format={data_format!r}")
    given = sorted(k for k, v in constraints.items() if v is not None)
    if given:
        raise ValueError(f"{cls}: cnn has no weight constraints yet; leave "
                         f"{', '.join(given)} as None.")
    return padding


class _Conv(Layer):
    """Shared machinery: argument checks, the conv2d call, shape inference through the op."""

    rank = 2
    _allow_causal = False  # Keras allows padding="causal" in Conv1D only

    def __init__(self, kernel_size, strides, padding, data_format, dilation_rate, activation,
                 use_bias, bias_initializer, bias_regularizer, activity_regularizer,
                 constraints, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        cls = type(self).__name__
        self.kernel_size = _int_tuple(cls, kernel_size, self.rank, "kernel_size")
        self.strides = _int_tuple(cls, strides, self.rank, "strides")
        self.dilation_rate = _int_tuple(cls, dilation_rate, self.rank, "dilation_rate")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{cls}: `strides > 1` is not supported together with "
                             f"`dilation_rate > 1`. Received: strides={self.strides} and "
                             f"dilation_rate={self.dilation_rate}")
        self.padding = _check_options(cls, padding, data_format, self._allow_causal, constraints)
        self.data_format = "channels_last"
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.bias_initializer = initializers.get(bias_initializer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.input_spec = InputSpec(ndim=self.rank + 2)
        self.bias = None

    # -- the op ------------------------------------------------------------------------

    def _attrs(self, groups):
        s, d = self.strides, self.dilation_rate
        if self.rank == 1:
            s, d = (1,) + s, (1,) + d
        return [s[0], s[1], d[0], d[1], groups, _PADDING[self.padding]]

    def _conv(self, x, kernel, groups, depthwise=False):
        """conv2d of x (batch, *spatial, C) with the Keras-layout kernel, as is: rank-3
        operands run the op's 1-D form, and `depthwise` reads a (kh, kw, C, multiplier)
        kernel. Kernels go in untouched: an op on a weight alone would run eagerly while
        fit builds its graph, and its result would be baked in as a constant."""
        return backend.op("conv2d", [x, kernel], ints=self._attrs(groups) + ([1] if depthwise else []))

    def _check_channels(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != self.rank + 2:
            raise ValueError(f"Input 0 of layer '{self.name}' is incompatible with the layer: "
                             f"expected ndim={self.rank + 2}, found ndim={len(input_shape)}. "
                             f"Full shape received: {input_shape}")
        ch = input_shape[-1]
        if ch is None:
            raise ValueError(f"Layer '{self.name}' needs a known channel axis to build; "
                             f"received input shape {input_shape}")
        return input_shape, ch

    def _finish_build(self, input_shape, ch):
        if self.use_bias:
            self.bias = self.add_weight(shape=(self._out_channels(ch),),
                                        initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, name="bias")
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={-1: ch})
        self.built = True

    def call(self, inputs):
        x = self._apply(inputs, self._kernels())
        if self.use_bias:
            x = backend.op("bias_add", [x, self.bias])
        return self.activation(x)

    def compute_output_shape(self, input_shape):
        """The output shape as the engine's conv2d shape inference computes it."""
        input_shape, ch = self._check_channels(input_shape)
        builder = backend.GraphBuilder()
        x = builder.input(input_shape[1:])
        kernels = [builder.input(s, batch=False) for s in self._kernel_shapes(ch)]
        try:
            y = self._apply(x, kernels)
        except ValueError as e:
            raise ValueError(f"Layer '{self.name}' cannot process input shape "
                             f"{input_shape}: {e}") from None
        return (input_shape[0],) + tuple(y.shape[1:])

    def _base_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding,
                "data_format": self.data_format, "dilation_rate": self.dilation_rate,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer)}


class _BaseConv(_Conv):
    """Conv1D and Conv2D: one kernel (*kernel_size, C/groups, filters)."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        cls = type(self).__name__
        if isinstance(filters, bool) or not isinstance(filters, numbers.Integral) or filters <= 0:
            raise ValueError(f"{cls}: invalid value for argument `filters`, expected a strictly "
                             f"positive integer. Received filters={filters!r}")
        if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups <= 0:
            raise ValueError(f"{cls}: the number of groups must be a positive integer. "
                             f"Received: groups={groups!r}")
        if filters % groups:
            raise ValueError(f"{cls}: the number of filters must be evenly divisible by the "
                             f"number of groups. Received: groups={groups}, filters={filters}")
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation,
                         use_bias, bias_initializer, bias_regularizer, activity_regularizer,
                         dict(kernel_constraint=kernel_constraint, bias_constraint=bias_constraint),
                         **kwargs)
        self.filters, self.groups = int(filters), int(groups)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.kernel = None

    def _kernel_shapes(self, ch):
        return [self.kernel_size + (ch // self.groups, self.filters)]

    def _out_channels(self, ch):
        return self.filters

    def _kernels(self):
        return [self.kernel]

    def _apply(self, x, kernels):
        return self._conv(x, kernels[0], self.groups)

    def build(self, input_shape):
        input_shape, ch = self._check_channels(input_shape)
        if ch % self.groups:
            raise ValueError(f"Layer '{self.name}': the number of input channels must be evenly "
                             f"divisible by the number of groups. Received groups={self.groups}, "
                             f"but the input has {ch} channels (full input shape is "
                             f"{input_shape}).")
        self.compute_output_shape(input_shape)  # the op validates the geometry first
        self.kernel = self.add_weight(shape=self._kernel_shapes(ch)[0],
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, name="kernel")
        self._finish_build(input_shape, ch)

    def get_config(self):
        return {**self._base_config(), "filters": self.filters, "groups": self.groups,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer)}


class Conv2D(_BaseConv):
    """2D convolution: slides `filters` kernels of size `kernel_size` over the height and
    width of channels_last inputs (batch, height, width, channels), adds a bias and applies
    the activation.

    Args:
        filters: number of output channels, a positive integer.
        kernel_size: int or tuple of 2 ints, the window's height and width.
        strides: int or tuple of 2 ints (default 1). Strides > 1 cannot be combined with
            dilation_rate > 1.
        padding: "valid" (no padding) or "same" (output size ceil(input / stride); the
            odd padding pixel goes to the bottom/right, as in Keras).
        data_format: None or "channels_last" (channels_first is not supported).
        dilation_rate: int or tuple of 2 ints (default 1), the spacing of the window taps.
        groups: number of channel groups (default 1): each group of `channels / groups`
            inputs feeds `filters / groups` outputs.
        activation: activation function or name (default None: linear).
        use_bias: whether to add a bias vector (default True).
        kernel_initializer, bias_initializer: initializers (default "glorot_uniform",
            "zeros").
        kernel_regularizer, bias_regularizer, activity_regularizer: regularizers (default
            None).
        **kwargs: base Layer arguments (name, trainable, dtype, input_shape, ...).

    Weights: "kernel" (kh, kw, channels / groups, filters) and "bias" (filters,).
    Output: (batch, new_height, new_width, filters).
    """

    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, **kwargs):
        super().__init__(filters, kernel_size, strides=strides, padding=padding,
                         data_format=data_format, dilation_rate=dilation_rate, groups=groups,
                         **kwargs)


class Conv1D(_BaseConv):
    """1D convolution over the steps of channels_last inputs (batch, steps, channels).

    Args:
        filters: number of output channels, a positive integer.
        kernel_size: int or tuple of 1 int, the window's length.
        strides: int (default 1). Strides > 1 cannot be combined with dilation_rate > 1.
        padding: "valid", "same" or "causal" (pads (kernel_size - 1) * dilation_rate steps
            on the left only, so output t sees no input after t).
        data_format: None or "channels_last".
        dilation_rate, groups, activation, use_bias, initializers, regularizers: as Conv2D.

    Weights: "kernel" (kernel_size, channels / groups, filters) and "bias" (filters,).
    Output: (batch, new_steps, filters).
    """

    rank = 1
    _allow_causal = True

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, **kwargs):
        super().__init__(filters, kernel_size, strides=strides, padding=padding,
                         data_format=data_format, dilation_rate=dilation_rate, groups=groups,
                         **kwargs)


class _BaseConvTranspose(_Conv):
    """Conv1DTranspose and Conv2DTranspose: one kernel (*kernel_size, filters, C)."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        cls = type(self).__name__
        if isinstance(filters, bool) or not isinstance(filters, numbers.Integral) or filters <= 0:
            raise ValueError(f"{cls}: invalid value for argument `filters`, expected a strictly "
                             f"positive integer. Received filters={filters!r}")
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation,
                         use_bias, bias_initializer, bias_regularizer, activity_regularizer,
                         dict(kernel_constraint=kernel_constraint, bias_constraint=bias_constraint),
                         **kwargs)
        self.output_padding = None
        if output_padding is not None:
            self.output_padding = _int_tuple(cls, output_padding, self.rank, "output_padding",
                                             allow_zero=True)
            for i, (op, s) in enumerate(zip(self.output_padding, self.strides)):
                if op >= s:
                    raise ValueError(f"{cls}: each value of `output_padding` must be strictly "
                                     f"less than the matching `strides` value; at index {i} "
                                     f"output_padding is {op} and strides is {s}. Received: "
                                     f"output_padding={self.output_padding}, "
                                     f"strides={self.strides}")
        self.filters = int(filters)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.kernel = None

    def _kernel_shapes(self, ch):
        return [self.kernel_size + (self.filters, ch)]

    def _out_channels(self, ch):
        return self.filters

    def _kernels(self):
        return [self.kernel]

    def _apply(self, x, kernels):
        (kernel,) = kernels
        s, d = self.strides, self.dilation_rate
        op = [-1] * self.rank if self.output_padding is None else list(self.output_padding)
        if self.rank == 1:  # the op's 1-D form: a height-1 window, stride 1, output height 1
            s, d, op = (1,) + s, (1,) + d, [-1] + op
        ints = [s[0], s[1], d[0], d[1], _PADDING[self.padding]] + op
        return backend.op("conv2d_transpose", [x, kernel], ints=ints)

    def build(self, input_shape):
        input_shape, ch = self._check_channels(input_shape)
        self.compute_output_shape(input_shape)  # the op validates the geometry first
        self.kernel = self.add_weight(shape=self._kernel_shapes(ch)[0],
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, name="kernel")
        self._finish_build(input_shape, ch)

    def get_config(self):
        return {**self._base_config(), "filters": self.filters,
                "output_padding": self.output_padding,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer)}


class Conv2DTranspose(_BaseConvTranspose):
    """Transposed 2D convolution (sometimes called deconvolution): the gradient of a Conv2D
    with respect to its input, used to upsample feature maps. Channels_last inputs (batch,
    height, width, channels).

    Args:
        filters: number of output channels, a positive integer.
        kernel_size: int or tuple of 2 ints.
        strides: int or tuple of 2 ints (default 1): the upsampling factor.
        padding: "valid" (output (size - 1) * stride + max(kernel, stride) per axis, for
            the dilated kernel) or "same" (output size * stride).
        output_padding: None (default) or int / tuple of 2 ints, each below the stride:
            the output length becomes (size - 1) * stride + kernel + output_padding
            ("valid") or (size - 1) * stride + kernel % 2 + output_padding ("same").
        data_format: None or "channels_last".
        dilation_rate, activation, use_bias, initializers, regularizers: as Conv2D.

    Weights: "kernel" (kh, kw, filters, channels) and "bias" (filters,), as in Keras.
    """

    rank = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 output_padding=None, data_format=None, dilation_rate=(1, 1), **kwargs):
        super().__init__(filters, kernel_size, strides=strides, padding=padding,
                         output_padding=output_padding, data_format=data_format,
                         dilation_rate=dilation_rate, **kwargs)


class Conv1DTranspose(_BaseConvTranspose):
    """Transposed 1D convolution over the steps of channels_last inputs (batch, steps,
    channels). Arguments as Conv2DTranspose with single ints.

    Weights: "kernel" (kernel_size, filters, channels) and "bias" (filters,).
    """

    rank = 1

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None,
                 data_format=None, dilation_rate=1, **kwargs):
        super().__init__(filters, kernel_size, strides=strides, padding=padding,
                         output_padding=output_padding, data_format=data_format,
                         dilation_rate=dilation_rate, **kwargs)


class DepthwiseConv2D(_Conv):
    """Depthwise 2D convolution: each input channel is convolved with its own
    `depth_multiplier` kernels, giving channels * depth_multiplier outputs (a conv2d with
    one group per channel).

    Args:
        kernel_size: int or tuple of 2 ints.
        strides, padding, data_format, dilation_rate: as Conv2D.
        depth_multiplier: output channels per input channel (default 1).
        activation, use_bias: as Conv2D.
        depthwise_initializer, bias_initializer: initializers (default "glorot_uniform",
            "zeros").
        depthwise_regularizer, bias_regularizer, activity_regularizer: regularizers.

    Weights: "kernel" (kh, kw, channels, depth_multiplier) and "bias"
    (channels * depth_multiplier,). Output channel c * depth_multiplier + m comes from input
    channel c, as in Keras.
    """

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        if (isinstance(depth_multiplier, bool) or not isinstance(depth_multiplier, numbers.Integral)
                or depth_multiplier <= 0):
            raise ValueError(f"DepthwiseConv2D: depth_multiplier must be a positive integer. "
                             f"Received: depth_multiplier={depth_multiplier!r}")
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation,
                         use_bias, bias_initializer, bias_regularizer, activity_regularizer,
                         dict(depthwise_constraint=depthwise_constraint,
                              bias_constraint=bias_constraint), **kwargs)
        self.depth_multiplier = int(depth_multiplier)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.kernel = None

    def _kernel_shapes(self, ch):
        return [self.kernel_size + (ch, self.depth_multiplier)]

    def _out_channels(self, ch):
        return ch * self.depth_multiplier

    def _kernels(self):
        return [self.kernel]

    def _apply(self, x, kernels):
        # Group c (one per channel) owns outputs [c*dm, (c+1)*dm).
        return self._conv(x, kernels[0], kernels[0].shape[-2], depthwise=True)

    def build(self, input_shape):
        input_shape, ch = self._check_channels(input_shape)
        self.compute_output_shape(input_shape)  # the op validates the geometry first
        self.kernel = self.add_weight(shape=self._kernel_shapes(ch)[0],
                                      initializer=self.depthwise_initializer,
                                      regularizer=self.depthwise_regularizer, name="kernel")
        self._finish_build(input_shape, ch)

    def get_config(self):
        return {**self._base_config(), "depth_multiplier": self.depth_multiplier,
                "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
                "depthwise_regularizer": regularizers.serialize(self.depthwise_regularizer)}


class SeparableConv2D(_Conv):
    """Depthwise separable 2D convolution: a depthwise convolution (each channel on its own,
    `depth_multiplier` kernels per channel, with the strides, padding and dilation given)
    followed by a 1x1 pointwise convolution to `filters` outputs, then bias and activation.

    Args:
        filters: number of output channels, a positive integer.
        kernel_size, strides, padding, data_format, dilation_rate: as Conv2D (they apply to
            the depthwise step).
        depth_multiplier: depthwise outputs per input channel (default 1).
        activation, use_bias: as Conv2D.
        depthwise_initializer, pointwise_initializer, bias_initializer: initializers (default
            "glorot_uniform", "glorot_uniform", "zeros").
        depthwise_regularizer, pointwise_regularizer, bias_regularizer,
            activity_regularizer: regularizers (default None).

    Weights, in Keras's order: "depthwise_kernel" (kh, kw, channels, depth_multiplier),
    "pointwise_kernel" (1, 1, channels * depth_multiplier, filters), "bias" (filters,).
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, pointwise_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, **kwargs):
        if isinstance(filters, bool) or not isinstance(filters, numbers.Integral) or filters <= 0:
            raise ValueError(f"SeparableConv2D: invalid value for argument `filters`, expected a "
                             f"strictly positive integer. Received filters={filters!r}")
        if (isinstance(depth_multiplier, bool) or not isinstance(depth_multiplier, numbers.Integral)
                or depth_multiplier <= 0):
            raise ValueError(f"SeparableConv2D: depth_multiplier must be a positive integer. "
                             f"Received: depth_multiplier={depth_multiplier!r}")
        super().__init__(kernel_size, strides, padding, data_format, dilation_rate, activation,
                         use_bias, bias_initializer, bias_regularizer, activity_regularizer,
                         dict(depthwise_constraint=depthwise_constraint,
                              pointwise_constraint=pointwise_constraint,
                              bias_constraint=bias_constraint), **kwargs)
        self.filters, self.depth_multiplier = int(filters), int(depth_multiplier)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.depthwise_kernel = self.pointwise_kernel = None

    def _kernel_shapes(self, ch):
        return [self.kernel_size + (ch, self.depth_multiplier),
                (1,) * self.rank + (ch * self.depth_multiplier, self.filters)]

    def _out_channels(self, ch):
        return self.filters

    def _kernels(self):
        return [self.depthwise_kernel, self.pointwise_kernel]

    def _apply(self, x, kernels):
        depthwise, pointwise = kernels
        x = self._conv(x, depthwise, depthwise.shape[-2], depthwise=True)
        # The 1x1 stride-1 pointwise step: the op runs it as a plain matmul.
        return backend.op("conv2d", [x, pointwise], ints=[1, 1, 1, 1, 1, _PADDING["valid"]])

    def build(self, input_shape):
        input_shape, ch = self._check_channels(input_shape)
        self.compute_output_shape(input_shape)  # the op validates the geometry first
        dw_shape, pw_shape = self._kernel_shapes(ch)
        self.depthwise_kernel = self.add_weight(shape=dw_shape,
                                                initializer=self.depthwise_initializer,
                                                regularizer=self.depthwise_regularizer,
                                                name="depthwise_kernel")
        self.pointwise_kernel = self.add_weight(shape=pw_shape,
                                                initializer=self.pointwise_initializer,
                                                regularizer=self.pointwise_regularizer,
                                                name="pointwise_kernel")
        self._finish_build(input_shape, ch)

    def get_config(self):
        return {**self._base_config(), "filters": self.filters,
                "depth_multiplier": self.depth_multiplier,
                "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
                "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
                "depthwise_regularizer": regularizers.serialize(self.depthwise_regularizer),
                "pointwise_regularizer": regularizers.serialize(self.pointwise_regularizer)}


class DepthwiseConv1D(DepthwiseConv2D):
    """Depthwise 1D convolution over (batch, steps, channels): each channel convolved with
    its own `depth_multiplier` kernels. Arguments as DepthwiseConv2D with single ints.

    Weights: "kernel" (kernel_size, channels, depth_multiplier) and "bias"
    (channels * depth_multiplier,).
    """

    rank = 1

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=1, **kwargs):
        super().__init__(kernel_size, strides=strides, padding=padding,
                         depth_multiplier=depth_multiplier, data_format=data_format,
                         dilation_rate=dilation_rate, **kwargs)


class SeparableConv1D(SeparableConv2D):
    """Depthwise separable 1D convolution over (batch, steps, channels). Arguments as
    SeparableConv2D with single ints.

    Weights: "depthwise_kernel" (kernel_size, channels, depth_multiplier), "pointwise_kernel"
    (1, channels * depth_multiplier, filters), "bias" (filters,).
    """

    rank = 1

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, depth_multiplier=1, **kwargs):
        super().__init__(filters, kernel_size, strides=strides, padding=padding,
                         data_format=data_format, dilation_rate=dilation_rate,
                         depth_multiplier=depth_multiplier, **kwargs)


Convolution1D = Conv1D
Convolution2D = Conv2D
Convolution1DTranspose = Conv1DTranspose
Convolution2DTranspose = Conv2DTranspose
