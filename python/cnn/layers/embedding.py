"""Embedding: integer indices to dense vectors, one engine op ("embedding", a gather whose
backward scatter-adds into the table's gradient)."""
import numpy as np

from .. import backend, initializers, regularizers
from .layer import Layer


def _positive_int(value, what):
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"`{what}` must be a positive integer. Received: {what}={value!r} "
                         f"(of type {type(value).__name__}).")
    return value


class Embedding(Layer):
    """Turns nonnegative integer indices into dense vectors: row `i` of the `embeddings`
    table (input_dim, output_dim) for each index `i`, so (batch, ...) -> (batch, ..., output_dim).

    The indices arrive as float32 (models convert their inputs); each must be an integer in
    [0, input_dim), else the call raises a ValueError naming the index. float32 holds every
    integer up to 2**24 exactly, so input_dim may be at most 16777216.

    Args:
        input_dim: size of the vocabulary (largest index + 1), a positive integer.
        output_dim: size of each embedding vector, a positive integer.
        embeddings_initializer: initializer of the table (default "uniform": uniform in
            [-0.05, 0.05), as Keras).
        embeddings_regularizer: regularizer of the table (default None).
        mask_zero: whether index 0 is padding (default False): inside a model the layer
            then passes the mask `indices != 0` to the layers after it (recurrent layers
            skip those steps, losses ignore them); index 0 must not be a real token, so
            `input_dim` counts it.
        activity_regularizer: regularizer of the output, its penalty divided by the batch
            size (default None).
        **kwargs: base Layer arguments (name, trainable, dtype, input_shape, ...).
    """

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, activity_regularizer=None, mask_zero=False,
                 **kwargs):
        input_dim = _positive_int(input_dim, "input_dim")
        output_dim = _positive_int(output_dim, "output_dim")
        if input_dim > 2 ** 24:
            raise ValueError(f"`input_dim` can be at most 16777216 (2**24, the largest "
                             f"vocabulary float32 indices address exactly). Received: "
                             f"input_dim={input_dim}")
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        self.embeddings = None

    def build(self, input_shape=None):
        if self.built:
            return
        self.embeddings = self.add_weight(shape=(self.input_dim, self.output_dim),
                                          initializer=self.embeddings_initializer,
                                          regularizer=self.embeddings_regularizer,
                                          name="embeddings")
        self.built = True

    def call(self, inputs):
        return backend.op("embedding", [inputs, self.embeddings])

    def compute_mask(self, inputs, previous_mask=None):
        if not self.mask_zero:
            return None
        # Indices are nonnegative integers (the op checks), so min(i, 1) is exactly i != 0.
        return backend.op("minimum", [inputs, np.float32(1.0)])

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape), self.output_dim)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim,
                "output_dim": self.output_dim,
                "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
                "mask_zero": self.mask_zero}
