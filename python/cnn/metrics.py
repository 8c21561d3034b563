"""Metrics with Keras's names. The functions return per-sample values from engine ops (no
gradient flows through the accuracy ops); the classes keep a running mean in Python for
standalone use, and compile() reads their `fn` and `name`."""
import numpy as np

from . import backend, losses
from ._shapes import match_ranks


def sparse_categorical_accuracy(y_true, y_pred):
    y_true, y_pred = match_ranks(y_true, y_pred, sparse=True)
    return backend.op("sparse_categorical_accuracy", [y_true, y_pred])


def categorical_accuracy(y_true, y_pred):
    y_true, y_pred = match_ranks(y_true, y_pred)
    return backend.op("categorical_accuracy", [y_true, y_pred])


def binary_accuracy(y_true, y_pred, threshold=0.5):
    y_true, y_pred = match_ranks(y_true, y_pred)
    return backend.op("binary_accuracy", [y_true, y_pred], floats=[float(threshold)])


mean_squared_error = mse = losses.mean_squared_error
mean_absolute_error = mae = losses.mean_absolute_error
binary_crossentropy = losses.binary_crossentropy
categorical_crossentropy = losses.categorical_crossentropy
sparse_categorical_crossentropy = losses.sparse_categorical_crossentropy


class Metric:
    """A running, sample-weighted mean of per-sample values."""

    def __init__(self, name=None, dtype=None):
        from .utils.naming import to_snake_case
        self.name = name or to_snake_case(type(self).__name__)
        self.reset_state()

    def reset_state(self):
        self._total, self._count = 0.0, 0.0

    def _values(self, y_true, y_pred):
        raise TypeError(f"{type(self).__name__}: Metric subclasses must implement "
                        "update_state(...) and result(), or _values(y_true, y_pred) "
                        "returning per-sample values to average")

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = np.asarray(self._values(y_true, y_pred), dtype=np.float64)
        weight = (np.ones_like(values) if sample_weight is None
                  else np.broadcast_to(np.asarray(sample_weight, np.float64), values.shape))
        self._total += float(np.sum(values * weight))
        self._count += float(np.sum(weight))

    def result(self):
        return self._total / self._count if self._count else 0.0

    def __call__(self, y_true, y_pred, sample_weight=None):
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()

    def get_config(self):
        return {"name": self.name}


class MeanMetricWrapper(Metric):
    def __init__(self, fn, name=None, dtype=None, **kwargs):
        self.fn = fn
        self._fn_kwargs = kwargs
        super().__init__(name=name or fn.__name__)

    def _values(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)


class Mean(Metric):
    """Mean of the values passed to update_state(values)."""

    def update_state(self, values, sample_weight=None):
        values = np.asarray(values, dtype=np.float64)
        weight = (np.ones_like(values) if sample_weight is None
                  else np.broadcast_to(np.asarray(sample_weight, np.float64), values.shape))
        self._total += float(np.sum(values * weight))
        self._count += float(np.sum(weight))


class BinaryAccuracy(MeanMetricWrapper):
    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name=name, threshold=threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name)


class MeanSquaredError(MeanMetricWrapper):
    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name)


class MeanAbsoluteError(MeanMetricWrapper):
    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name)


_FUNCTIONS = {
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "categorical_accuracy": categorical_accuracy,
    "binary_accuracy": binary_accuracy,
    "mean_squared_error": mean_squared_error, "mse": mean_squared_error,
    "mean_absolute_error": mean_absolute_error, "mae": mean_absolute_error,
    "binary_crossentropy": binary_crossentropy,
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
}
_CLASSES = {c.__name__: c for c in (BinaryAccuracy, CategoricalAccuracy,
                                    SparseCategoricalAccuracy, MeanSquaredError,
                                    MeanAbsoluteError)}


def known_names():
    return ["accuracy", "acc"] + sorted(_FUNCTIONS) + sorted(_CLASSES)


def get(identifier):
    """A metric name, a Metric instance or class, or a callable (y_true, y_pred) -> values.
    "accuracy" depends on the targets' shape and is resolved by compile()/fit()."""
    if isinstance(identifier, str):
        if identifier in _FUNCTIONS:
            return _FUNCTIONS[identifier]
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        raise ValueError(f"Could not interpret metric identifier: '{identifier}'. "
                         f"Known metrics: {known_names()}")
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, Metric) or callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}")


def resolve_accuracy(target_shape, output_shape):
    """Keras's choice for "accuracy": binary when the output has one unit, sparse when the
    labels have fewer axes (or one label per sample against several classes), else
    categorical."""
    if output_shape[-1] == 1:
        return binary_accuracy
    if len(target_shape) < len(output_shape) or (target_shape[-1] == 1 and output_shape[-1] > 1):
        return sparse_categorical_accuracy
    return categorical_accuracy
