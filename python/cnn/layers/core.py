"""Dense and Activation."""
from .. import activations, backend, initializers, regularizers
from .input_spec import InputSpec
from .layer import Layer


class Dense(Layer):
    """`activation(inputs @ kernel + bias)` over the last axis; leading axes fold into the
    matmul's rows, so (batch, steps, features) inputs work as one GEMM.

    Args:
        units: number of output features, a positive integer.
        activation: activation function or name (default None: linear).
        use_bias: whether to add a bias vector (default True).
        kernel_initializer: initializer of the kernel (default "glorot_uniform").
        bias_initializer: initializer of the bias (default "zeros").
        kernel_regularizer: regularizer of the kernel (default None).
        bias_regularizer: regularizer of the bias (default None).
        activity_regularizer: regularizer of the output, its penalty divided by the batch
            size (default None).
        **kwargs: base Layer arguments (name, trainable, dtype, input_shape, ...).
    """

    supports_masking = True  # a mask passes through (Keras)

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError("Received an invalid value for `units`, expected a positive "
                             f"integer. Received: units={units!r}")
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.input_spec = InputSpec(min_ndim=2)
        self.kernel = self.bias = None

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) < 2:
            raise ValueError(f"Input 0 of layer '{self.name}' is incompatible with the layer: "
                             f"expected min_ndim=2, found ndim={len(input_shape)}. Full shape "
                             f"received: {input_shape}")
        in_dim = input_shape[-1]
        if in_dim is None:
            raise ValueError(f"Layer '{self.name}' needs a known last axis to build; received "
                             f"input shape {input_shape}")
        self.kernel = self.add_weight(shape=(in_dim, self.units),
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, name="kernel")
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.units,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, name="bias")
        self.input_spec = InputSpec(min_ndim=2, axes={-1: in_dim})
        self.built = True

    def call(self, inputs):
        x = backend.op("matmul", [inputs, self.kernel])
        if self.use_bias:
            x = backend.op("bias_add", [x, self.bias])
        return self.activation(x)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)[:-1] + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer)}


class Activation(Layer):
    supports_masking = True  # a mask passes through (Keras)

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}
