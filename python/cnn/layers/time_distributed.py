"""TimeDistributed: one layer applied to every time step of a (batch, time, ...) input, with
the same weights at every step. The time axis is folded into the batch with a reshape
(batch * time, ...), the layer runs once on that, and the result is unfolded back to
(batch, time, ...): one pass instead of a loop over the steps, so the layer's kernels see
one large batch."""
from .. import backend
from .input_spec import InputSpec
from .keras_tensor import KerasTensor
from .layer import Layer, _call_parameters


class TimeDistributed(Layer):
    """Applies `layer` to every temporal slice of an input: for an input of shape
    (batch, time, *rest), `layer` sees (batch * time, *rest) and the output is
    (batch, time, *out_rest). Every step uses the same weights (the wrapped layer's). The time
    axis and the axes after it must be known; masks are not supported. As in Keras, the
    wrapped layer's `call` runs directly, so its own activity regularizer is not applied.

    Args:
        layer: a `cnn.layers.Layer` instance.
        **kwargs: base Layer arguments (name, trainable, ...).
    """

    supports_masking = True  # a mask passes through (Keras)

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError("Please initialize `TimeDistributed` layer with a "
                             f"`cnn.layers.Layer` instance. Received: {layer!r}")
        super().__init__(**kwargs)
        self.layer = layer
        self.input_spec = InputSpec(min_ndim=3)

    def _sublayers(self):
        return [self.layer]

    def _child_input_shape(self, input_shape):
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) < 3 or not all(
                d is None or isinstance(d, int) for d in input_shape):
            raise ValueError("`TimeDistributed` Layer should be passed an `input_shape` with "
                             f"at least 3 dimensions, received: {input_shape}")
        input_shape = tuple(input_shape)
        if any(d is None for d in input_shape[1:]):
            raise ValueError(f"Layer '{self.name}' needs a known time axis and known axes "
                             f"after it; received input shape {input_shape}")
        batch, steps = input_shape[0], input_shape[1]
        return (None if batch is None else batch * steps,) + input_shape[2:]

    def build(self, input_shape):
        child = self._child_input_shape(input_shape)
        if not self.layer.built:
            self.layer._check_and_build([child])
        self.built = True

    def _child_output_shape(self, child_shape):
        inner = self.layer
        if type(inner).compute_output_shape is not Layer.compute_output_shape:
            return tuple(inner.compute_output_shape(child_shape))
        # A layer without compute_output_shape: trace its call on a scratch graph.
        kt = KerasTensor(child_shape)
        shape = inner._infer_output_shapes(kt, [kt], {})
        if isinstance(shape, list):
            raise ValueError(f"Layer '{self.name}': the wrapped layer '{inner.name}' must have "
                             "one output")
        return tuple(shape)

    def compute_output_shape(self, input_shape):
        child = self._child_input_shape(input_shape)
        if not self.layer.built:
            self.layer._check_and_build([child])
        out = self._child_output_shape(child)
        return (tuple(input_shape)[0], input_shape[1], *out[1:])

    def call(self, inputs, training=None):
        shape = tuple(inputs.shape)
        self._child_input_shape(shape)
        steps, rest = shape[1], shape[2:]
        folded = backend.op("reshape", [inputs], ints=[-1, *rest])
        # The wrapped layer's call() runs directly, as in Keras: its activity regularizer
        # is not applied (add_loss in its call still counts).
        kwargs = {"training": training} if "training" in _call_parameters(type(self.layer)) else {}
        out = self.layer.call(folded, **kwargs)
        if not isinstance(out, (backend.Tensor, backend.Symbol)):
            raise ValueError(f"Layer '{self.name}': the wrapped layer '{self.layer.name}' must "
                             f"return one tensor; it returned {type(out).__name__}")
        out_rest = tuple(out.shape)[1:]
        return backend.op("reshape", [out], ints=[-1, steps, *out_rest])

    def get_config(self):
        from ..models.model_config import serialize_layer
        return {**super().get_config(), "layer": serialize_layer(self.layer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ..models.model_config import deserialize_layer
        config = dict(config)
        layer = deserialize_layer(config.pop("layer"), custom_objects)
        return cls(layer, **config)
