"""ActivityRegularization: passes its input through and adds an L1/L2 penalty on it."""
from .. import regularizers
from .layer import Layer


class ActivityRegularization(Layer):
    """Returns its input unchanged and adds `(l1 * sum(|x|) + l2 * sum(x^2)) / batch size`
    to the losses (and so to the training loss).

    Args:
        l1: L1 factor, a non-negative float (default 0.0).
        l2: L2 factor, a non-negative float (default 0.0).
        **kwargs: base Layer arguments (name, trainable, dtype, input_shape, ...).
    """

    supports_masking = True  # a mask passes through (Keras)

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        if "activity_regularizer" in kwargs:
            raise TypeError("ActivityRegularization sets its own activity_regularizer from "
                            "`l1` and `l2`; do not pass `activity_regularizer`")
        super().__init__(activity_regularizer=regularizers.L1L2(l1=l1, l2=l2), **kwargs)
        self.l1 = l1
        self.l2 = l2
        self.built = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.pop("activity_regularizer", None)
        return {**config, "l1": self.l1, "l2": self.l2}
