"""Regression metrics: (weighted) means of per-sample errors, and the root of the mean
squared error. The error functions are the losses' (cnn.losses)."""
import warnings

import numpy as np

from .. import backend, losses
from .._shapes import match_ranks, reshape, shape_of
from .metric import MEAN, SUM, Metric, as_result, engine_input, ratio
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



def _column_sums(x):
    return backend.op("sum", [x], ints=[0, 0])


class R2Score(Metric):
    """Computes the R2 score (coefficient of determination) over all samples seen:

    ```python
    sum_squares_residuals = sum((y_true - y_pred) ** 2)
    sum_squares = sum((y_true - mean(y_true)) ** 2)
    R2 = 1 - sum_squares_residuals / sum_squares
    ```

    1.0 is a perfect fit, 0.0 what predicting the targets' mean scores; worse models go
    negative. The sums run over every batch seen (an epoch's R2 in `fit` logs, not a mean of
    per-batch scores). Inputs are (batch_size, output_dim); each output column gets its
    own score before `class_aggregation` combines them.

    Args:
        class_aggregation: How the per-column scores combine (scikit-learn's
            `multioutput`): "uniform_average" (default), "variance_weighted_average", or
            None (one score per column).
        num_regressors: The number of independent regressors, for the "adjusted R2"
            score; 0 (default) is the plain R2 score.
        name: Optional name of the metric instance (default "r2_score").
        dtype: `None` or `"float32"`.
    """
    _direction = "up"
    _AGGREGATIONS = (None, "uniform_average", "variance_weighted_average")

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name="r2_score",
                 dtype=None):
        if class_aggregation not in self._AGGREGATIONS:
            raise ValueError("Invalid value for argument `class_aggregation`. Expected one of "
                             f"{self._AGGREGATIONS}. Received: "
                             f"class_aggregation={class_aggregation}")
        if num_regressors < 0:
            raise ValueError("Invalid value for argument `num_regressors`. Expected a value "
                             f">= 0. Received: num_regressors={num_regressors}")
        self.class_aggregation = class_aggregation
        self.num_regressors = num_regressors
        super().__init__(name=name, dtype=dtype)

    def _state_parts(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = match_ranks(engine_input(y_true), engine_input(y_pred))
        ts, ps = tuple(shape_of(y_true)), tuple(shape_of(y_pred))
        if len(ts) != 2 or len(ps) != 2:
            raise ValueError("R2Score expects 2D inputs with shape (batch_size, output_dim). "
                             f"Received input shapes: y_pred.shape={ps} and y_true.shape={ts}.")
        if ps[-1] is None or ts[-1] is None:
            raise ValueError("R2Score expects 2D inputs with shape (batch_size, output_dim), "
                             "with output_dim fully defined (not None). Received input "
                             f"shapes: y_pred.shape={ps} and y_true.shape={ts}.")
        squared_error = backend.op("square", [backend.op("sub", [y_true, y_pred])])
        columns = float(ts[-1])
        if sample_weight is None:
            weighted = y_true
            count = (1.0, MEAN)  # each sample counts once in every column
        else:
            weight = engine_input(sample_weight)
            rank = len(shape_of(weight))
            if rank == 0:
                weight = reshape(weight, (1, 1))
            elif rank == 1:  # one weight per sample: a features axis to broadcast over
                weight = reshape(weight, tuple(shape_of(weight)) + (1,))
            weighted = backend.op("mul", [y_true, weight])
            squared_error = backend.op("mul", [squared_error, weight])
            # a scalar weight stands for every sample: its batch mean times the batch size
            count = (reshape(weight, (1,)), MEAN) if rank == 0 else (_column_sums(weight), SUM)
        return [(_column_sums(weighted), SUM),
                (_column_sums(backend.op("mul", [y_true, weighted])), SUM),
                (_column_sums(squared_error), SUM),
                count,
                (columns, MEAN)]  # num_samples: the targets' element count, unweighted

    def _result_from(self, totals):
        total_sum, squared_sum, residual, count, num_samples = (
            np.asarray(t, dtype=np.float64) for t in totals)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = total_sum / count
            total = squared_sum - total_sum * mean
            raw = 1.0 - residual / total
            raw = np.where(np.isinf(raw), 0.0, raw)
            if self.class_aggregation == "uniform_average":
                score = np.mean(raw)
            elif self.class_aggregation == "variance_weighted_average":
                total = np.broadcast_to(total, raw.shape)
                score = np.sum(total * raw) / np.sum(total)
            else:
                score = raw
            if self.num_regressors != 0:
                n, p = float(num_samples), float(self.num_regressors)
                if p > n - 1:
                    warnings.warn("More independent predictors than datapoints in adjusted R2 "
                                  "score. Falling back to standard R2 score.", stacklevel=2)
                elif p == n - 1:
                    warnings.warn("Division by zero in Adjusted R2 score. Falling back to "
                                  "standard R2 score.", stacklevel=2)
                else:
                    score = 1.0 - (1.0 - score) * (n - 1.0) / (n - p - 1.0)
        return as_result(score)

    def _empty_result(self):
        return float("nan")  # Keras's 0 / 0 of its zeroed state

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype,
                "class_aggregation": self.class_aggregation,
                "num_regressors": self.num_regressors}


# Losses used as metrics: smaller is better (MeanMetricWrapper reads this).
for _fn in (mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
            mean_squared_logarithmic_error, log_cosh):
    _fn.is_loss = True
