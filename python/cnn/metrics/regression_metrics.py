"""Regression metrics: (weighted) means of per-sample errors, and the root of the mean
squared error. The error functions are the losses' (cnn.losses)."""
from .. import backend, losses
from .._shapes import match_ranks
from .metric import ratio
from .reduction_metrics import MeanMetricWrapper


def mean_squared_error(y_true, y_pred):
    return losses.mean_squared_error(y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    return losses.mean_absolute_error(y_true, y_pred)


def mean_absolute_percentage_error(y_true, y_pred):
    return losses.mean_absolute_percentage_error(y_true, y_pred)


def mean_squared_logarithmic_error(y_true, y_pred):
    return losses.mean_squared_logarithmic_error(y_true, y_pred)


def log_cosh(y_true, y_pred):
    return losses.log_cosh(y_true, y_pred)


def cosine_similarity(y_true, y_pred, axis=-1):
    """`sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)` (the loss is its negative)."""
    return backend.op("neg", [losses.cosine_similarity(y_true, y_pred, axis=axis)])


class _LossMean(MeanMetricWrapper):
    """A mean of a loss-like error: smaller is better."""
    _direction = "down"


class MeanSquaredError(_LossMean):
    """Computes the mean squared error between `y_true` and `y_pred`.

    Args:
        name: Optional name of the metric instance.
        dtype: `None` or `"float32"`.
    """

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(_LossMean):
    """Computes the mean absolute error between `y_true` and `y_pred`.

    Args:
        name: Optional name of the metric instance.
        dtype: `None` or `"float32"`.
    """

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, dtype=dtype)


class MeanAbsolutePercentageError(_LossMean):
    """Computes `100 * mean(|(y_true - y_pred) / y_true|)`.

    Args:
        name: Optional name of the metric instance.
        dtype: `None` or `"float32"`.
    """

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(mean_absolute_percentage_error, name=name, dtype=dtype)


class MeanSquaredLogarithmicError(_LossMean):
    """Computes `mean(square(log(y_true + 1) - log(y_pred + 1)))`.

    Args:
        name: Optional name of the metric instance.
        dtype: `None` or `"float32"`.
    """

    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(mean_squared_logarithmic_error, name=name, dtype=dtype)


class LogCoshError(_LossMean):
    """Computes the logarithm of the hyperbolic cosine of the prediction error.

    Args:
        name: Optional name of the metric instance.
        dtype: `None` or `"float32"`.
    """

    def __init__(self, name="logcosh", dtype=None):
        super().__init__(log_cosh, name=name, dtype=dtype)


class CosineSimilarity(MeanMetricWrapper):
    """Computes the cosine similarity between the labels and predictions.

    Args:
        name: Optional name of the metric instance.
        dtype: `None` or `"float32"`.
        axis: The axis along which the cosine similarity is computed.
    """
    _direction = "up"

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(cosine_similarity, name=name, dtype=dtype, axis=axis)


class RootMeanSquaredError(MeanMetricWrapper):
    """Computes the root mean squared error: `sqrt(mean((y_pred - y_true) ** 2))`, the
    mean taken over all samples seen (weighted by `sample_weight`).

    Args:
        name: Optional name of the metric instance.
        dtype: `None` or `"float32"`.
    """
    _direction = "down"

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(_squared_error, name=name, dtype=dtype)

    def _result_from(self, totals):
        return ratio(totals[0], totals[1]) ** 0.5

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


def _squared_error(y_true, y_pred):
    """(y_pred - y_true) ** 2 elementwise: Keras's RMSE weights these, not their
    per-sample mean (the same for per-sample weights)."""
    y_true, y_pred = match_ranks(y_true, y_pred)
    return backend.op("square", [backend.op("sub", [y_pred, y_true])])


# Losses used as metrics: smaller is better (MeanMetricWrapper reads this).
for _fn in (mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
            mean_squared_logarithmic_error, log_cosh):
    _fn.is_loss = True
