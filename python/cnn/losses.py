"""Losses with Keras's names and signatures.

The functions return per-sample values (the predictions' shape without the last axis);
the Loss classes reduce those to a scalar ("sum_over_batch_size" by default). Both are
built from engine ops, so they run eagerly, under a GradientTape, and inside compiled
training graphs."""
import numpy as np

from . import backend
from ._shapes import as_input, match_ranks, shape_of


def _smooth(y_true, amount, classes):
    # Label smoothing: y * (1 - a) + a / classes.
    if not amount:
        return y_true
    scaled = backend.op("mul", [y_true, np.float32(1.0 - amount)])
    return backend.op("add", [scaled, np.float32(amount / classes)])


def _check_axis(axis, fn):
    if axis != -1:
        raise NotImplementedError(f"{fn}: only axis=-1 is supported, got axis={axis}")


def mean_squared_error(y_true, y_pred):
    y_true, y_pred = match_ranks(y_true, y_pred)
    return backend.op("mse", [y_true, y_pred])


def mean_absolute_error(y_true, y_pred):
    y_true, y_pred = match_ranks(y_true, y_pred)
    return backend.op("mae", [y_true, y_pred])


def huber(y_true, y_pred, delta=1.0):
    y_true, y_pred = match_ranks(y_true, y_pred)
    return backend.op("huber", [y_true, y_pred], floats=[float(delta)])


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    _check_axis(axis, "binary_crossentropy")
    y_true, y_pred = match_ranks(y_true, y_pred)
    y_true = _smooth(y_true, label_smoothing, 2)
    return backend.op("binary_crossentropy", [y_true, y_pred], ints=[int(bool(from_logits))])


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    _check_axis(axis, "categorical_crossentropy")
    y_true, y_pred = match_ranks(y_true, y_pred)
    y_true = _smooth(y_true, label_smoothing, shape_of(y_pred)[-1])
    return backend.op("categorical_crossentropy", [y_true, y_pred],
                      ints=[int(bool(from_logits))])


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None,
                                    axis=-1):
    _check_axis(axis, "sparse_categorical_crossentropy")
    if ignore_class is not None:
        raise NotImplementedError("sparse_categorical_crossentropy: ignore_class is not supported")
    y_true, y_pred = match_ranks(y_true, y_pred, sparse=True)
    return backend.op("sparse_categorical_crossentropy", [y_true, y_pred],
                      ints=[int(bool(from_logits))])


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error


# ---- reduction ------------------------------------------------------------------------

_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "none", None)


def reduce_values(values, reduction="sum_over_batch_size", sample_weight=None):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"Invalid value for argument `reduction`: {reduction!r}. "
                         f"Expected one of {list(_REDUCTIONS)}")
    if sample_weight is not None:
        weight = as_input(sample_weight)
        values = backend.op("mul", [values, match_ranks(weight, values)[0]])
    if reduction in ("none", None):
        return values
    return backend.op("sum" if reduction == "sum" else "mean", [values], ints=[0])


# ---- classes --------------------------------------------------------------------------

class Loss:
    """Base class: subclasses implement call(y_true, y_pred) -> per-sample values."""

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        from .utils.naming import to_snake_case
        if reduction not in _REDUCTIONS:
            raise ValueError(f"Invalid value for argument `reduction`: {reduction!r}. "
                             f"Expected one of {list(_REDUCTIONS)}")
        self.name = name or to_snake_case(type(self).__name__)
        self.reduction = reduction

    def call(self, y_true, y_pred):
        raise NotImplementedError

    def __call__(self, y_true, y_pred, sample_weight=None):
        return reduce_values(self.call(y_true, y_pred), self.reduction, sample_weight)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}


class LossFunctionWrapper(Loss):
    def __init__(self, fn, reduction="sum_over_batch_size", name=None, **kwargs):
        super().__init__(name=name or fn.__name__, reduction=reduction)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        return {**super().get_config(), **self._fn_kwargs}


class MeanSquaredError(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error"):
        super().__init__(mean_squared_error, reduction=reduction, name=name)


class MeanAbsoluteError(LossFunctionWrapper):
    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error"):
        super().__init__(mean_absolute_error, reduction=reduction, name=name)


class Huber(LossFunctionWrapper):
    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss"):
        super().__init__(huber, reduction=reduction, name=name, delta=delta)


class BinaryCrossentropy(LossFunctionWrapper):
    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy"):
        super().__init__(binary_crossentropy, reduction=reduction, name=name,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits


class CategoricalCrossentropy(LossFunctionWrapper):
    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy"):
        super().__init__(categorical_crossentropy, reduction=reduction, name=name,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy"):
        super().__init__(sparse_categorical_crossentropy, reduction=reduction, name=name,
                         from_logits=from_logits, ignore_class=ignore_class)
        self.from_logits = from_logits


_FUNCTIONS = {
    "mean_squared_error": mean_squared_error, "mse": mean_squared_error,
    "mean_absolute_error": mean_absolute_error, "mae": mean_absolute_error,
    "huber": huber, "binary_crossentropy": binary_crossentropy,
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
}
_CLASSES = {c.__name__: c for c in (MeanSquaredError, MeanAbsoluteError, Huber,
                                    BinaryCrossentropy, CategoricalCrossentropy,
                                    SparseCategoricalCrossentropy)}


def known_names():
    return sorted(_FUNCTIONS) + sorted(_CLASSES)


def get(identifier):
    """A loss name (function or class name), a Loss instance, or a callable."""
    if identifier is None:
        return None
    if isinstance(identifier, str):
        if identifier in _FUNCTIONS:
            return _FUNCTIONS[identifier]
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        raise ValueError(f"Could not interpret loss identifier: '{identifier}'. "
                         f"Known losses: {known_names()}")
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}")


def underlying_function(loss):
    """The per-sample function behind a loss (for choosing label formats and metrics)."""
    return loss.fn if isinstance(loss, LossFunctionWrapper) else loss


def is_sparse(loss):
    return underlying_function(loss) is sparse_categorical_crossentropy
