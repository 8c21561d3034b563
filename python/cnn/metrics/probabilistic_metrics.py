"""Probabilistic and hinge metrics: (weighted) means of the matching losses
(cnn.losses), so smaller is better."""
from .. import losses
from .reduction_metrics import MeanMetricWrapper


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    return losses.binary_crossentropy(y_true, y_pred, from_logits=from_logits,
                                      label_smoothing=label_smoothing)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    return losses.categorical_crossentropy(y_true, y_pred, from_logits=from_logits,
                                           label_smoothing=label_smoothing, axis=axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None,
                                    axis=-1):
    return losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=from_logits,
                                                  ignore_class=ignore_class, axis=axis)


def kl_divergence(y_true, y_pred):
    return losses.kl_divergence(y_true, y_pred)


def poisson(y_true, y_pred):
    return losses.poisson(y_true, y_pred)


def hinge(y_true, y_pred):
    return losses.hinge(y_true, y_pred)


def squared_hinge(y_true, y_pred):
    return losses.squared_hinge(y_true, y_pred)


def categorical_hinge(y_true, y_pred):
    return losses.categorical_hinge(y_true, y_pred)


class _LossMean(MeanMetricWrapper):
    _direction = "down"


class BinaryCrossentropy(_LossMean):
    """Computes the crossentropy between binary labels and predictions.

    Args:
        name: Optional name of the metric instance.
        dtype: `None` or `"float32"`.
        from_logits: Whether `y_pred` holds logits rather than probabilities.
        label_smoothing: Float in [0, 1]: labels move towards 0.5 by this much.
    """

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0):
        super().__init__(binary_crossentropy, name=name, dtype=dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing)


class CategoricalCrossentropy(_LossMean):
    """Computes the crossentropy between one-hot labels and predictions.

    Args:
        name: Optional name of the metric instance.
        dtype: `None` or `"float32"`.
        from_logits: Whether `y_pred` holds logits rather than probabilities.
        label_smoothing: Float in [0, 1]: labels move towards uniform by this much.
        axis: The class axis.
    """

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0, axis=-1):
        super().__init__(categorical_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(_LossMean):
    """Computes the crossentropy between integer labels and predictions.

    Args:
        name: Optional name of the metric instance.
        dtype: `None` or `"float32"`.
        from_logits: Whether `y_pred` holds logits rather than probabilities.
        ignore_class: A label whose samples are left out, or `None`.
        axis: The class axis.
    """

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False,
                 ignore_class=None, axis=-1):
        super().__init__(sparse_categorical_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, ignore_class=ignore_class, axis=axis)


class KLDivergence(_LossMean):
    """Computes the Kullback-Leibler divergence between `y_true` and `y_pred`."""

    def __init__(self, name="kl_divergence", dtype=None):
        super().__init__(kl_divergence, name=name, dtype=dtype)


class Poisson(_LossMean):
    """Computes the Poisson metric: `mean(y_pred - y_true * log(y_pred))`."""

    def __init__(self, name="poisson", dtype=None):
        super().__init__(poisson, name=name, dtype=dtype)


class Hinge(_LossMean):
    """Computes the hinge metric between `y_true` (-1/1 or 0/1) and `y_pred`."""

    def __init__(self, name="hinge", dtype=None):
        super().__init__(hinge, name=name, dtype=dtype)


class SquaredHinge(_LossMean):
    """Computes the squared hinge metric between `y_true` and `y_pred`."""

    def __init__(self, name="squared_hinge", dtype=None):
        super().__init__(squared_hinge, name=name, dtype=dtype)


class CategoricalHinge(_LossMean):
    """Computes the categorical hinge metric between one-hot `y_true` and `y_pred`."""

    def __init__(self, name="categorical_hinge", dtype=None):
        super().__init__(categorical_hinge, name=name, dtype=dtype)


# Losses used as metrics: smaller is better (MeanMetricWrapper reads this).
for _fn in (binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy,
            kl_divergence, poisson, hinge, squared_hinge, categorical_hinge):
    _fn.is_loss = True
