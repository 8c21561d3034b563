"""LeakyReLU: the leaky rectifier as a layer (Keras 3's `keras.layers.LeakyReLU`)."""
import warnings

from .. import activations
from .layer import Layer


class LeakyReLU(Layer):
    """Leaky ReLU: `x` where `x >= 0`, `negative_slope * x` elsewhere, so units below zero
    keep a small gradient (the usual hidden activation of GAN discriminators).

    Args:
        negative_slope: float >= 0, the slope below zero (default 0.3, Keras's default; the
            `"leaky_relu"` activation string uses 0.2). `alpha=` is accepted with a
            deprecation warning, as in Keras 3.
        **kwargs: base layer arguments (`name`, `dtype`, ...).
    """
    supports_masking = True  # a mask passes through (Keras)

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
            warnings.warn("Argument `alpha` is deprecated. Use `negative_slope` instead.")
        super().__init__(**kwargs)
        if negative_slope is None or negative_slope < 0:
            raise ValueError("The negative_slope value of a Leaky ReLU layer cannot be None or "
                             f"negative value. Expected a float. Received: "
                             f"negative_slope={negative_slope}")
        self.negative_slope = negative_slope

    def call(self, inputs):
        return activations.leaky_relu(inputs, negative_slope=self.negative_slope)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}
