"""Masking: marks the timesteps whose features all equal `mask_value` as padding."""
import numpy as np

from .. import backend
from .layer import Layer


class Masking(Layer):
    """Masks the timesteps of (batch, timesteps, features) inputs (any rank >= 2) whose
    features all equal `mask_value`: the output is the input with those steps set to 0,
    and inside a model the layers after it receive the mask (recurrent layers skip the
    masked steps, losses ignore them), as Keras.

    Args:
        mask_value: the padding value (default 0.0).
        **kwargs: base Layer arguments (name, trainable, dtype, input_shape, ...).
    """

    supports_masking = True

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        try:
            self.mask_value = float(mask_value)
        except (TypeError, ValueError):
            raise ValueError(f"Layer '{self.name}': `mask_value` must be a number; received "
                             f"mask_value={mask_value!r}") from None

    def build(self, input_shape):
        if len(tuple(input_shape)) < 2:
            raise ValueError(f"Layer '{self.name}' (Masking) needs inputs of rank >= 2 "
                             f"(batch, ..., features); received shape {tuple(input_shape)}")
        self.built = True

    def compute_mask(self, inputs, previous_mask=None):
        return backend.op("not_equal_any", [inputs], floats=[self.mask_value])

    def call(self, inputs):
        keep = self.compute_mask(inputs)
        keep = backend.op("reshape", [keep], ints=[-1] + list(keep.shape[1:]) + [1])
        if not isinstance(inputs, (backend.Tensor, backend.Symbol)):
            inputs = np.asarray(inputs, np.float32)
        return backend.op("mul", [inputs, keep])

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}


class KerasNotEqual(Layer):
    """The `NotEqual` operation Keras 3 writes into a functional model's config where an
    `Embedding(mask_zero=True)` mask feeds a layer explicitly (args `[indices, 0]`), so
    such files load; `x != value` elementwise as 0/1."""

    def __init__(self, value=0.0, **kwargs):
        kwargs.pop("dtype", None)
        super().__init__(**kwargs)
        self.value = float(value)

    def __call__(self, inputs, *args, **kwargs):
        if isinstance(inputs, (list, tuple)) and len(inputs) == 2 and not hasattr(inputs[1], "shape"):
            inputs, self.value = inputs[0], float(inputs[1])  # Keras's node args [x, value]
        return super().__call__(inputs, **kwargs)

    def call(self, inputs):
        column = backend.op("reshape", [inputs], ints=[-1] + list(inputs.shape[1:]) + [1])
        return backend.op("not_equal_any", [column], floats=[self.value])

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "value": self.value}
