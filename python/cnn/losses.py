"""Losses with Keras's names and signatures.

The functions return per-sample values (the predictions' shape without the last axis, or
without the crossentropies' `axis`); the Loss classes reduce those to a scalar
("sum_over_batch_size" by default), multiplied by sample weights when given. Both are built
from engine ops, so they run eagerly, under a GradientTape, and inside compiled training
graphs."""
import numpy as np

from . import backend
from ._shapes import as_input, match_ranks, reshape, shape_of


def _smooth(y_true, amount, classes):
    # Label smoothing: y * (1 - a) + a / classes.
    if not amount:
        return y_true
    scaled = backend.op("mul", [y_true, np.float32(1.0 - amount)])
    return backend.op("add", [scaled, np.float32(amount / classes)])


def _class_axis_last(x, axis, fn):
    """`x` with its axis `axis` moved to the end, where the engine's loss ops reduce (Keras's
    `axis=` argument of the crossentropies)."""
    ndim = len(shape_of(x))
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"{fn}: `axis` must be an integer; received axis={axis!r}")
    ax = int(axis) + ndim if axis < 0 else int(axis)
    if not 0 <= ax < ndim:
        raise ValueError(f"{fn}: axis={axis} is out of range for an input of rank {ndim}")
    if ax == ndim - 1:
        return x
    return backend.op("transpose", [x], ints=[i for i in range(ndim) if i != ax] + [ax])


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
    """Elementwise binary crossentropy averaged over `axis`."""
    y_true, y_pred = match_ranks(y_true, y_pred)
    y_true = _smooth(y_true, label_smoothing, 2)
    y_true = _class_axis_last(y_true, axis, "binary_crossentropy")
    y_pred = _class_axis_last(y_pred, axis, "binary_crossentropy")
    return backend.op("binary_crossentropy", [y_true, y_pred], ints=[int(bool(from_logits))])


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Crossentropy over the class axis `axis`. Label smoothing divides by the size of the
    LAST axis whatever `axis` is, as Keras does."""
    y_true, y_pred = match_ranks(y_true, y_pred)
    y_true = _smooth(y_true, label_smoothing, shape_of(y_true)[-1])
    y_true = _class_axis_last(y_true, axis, "categorical_crossentropy")
    y_pred = _class_axis_last(y_pred, axis, "categorical_crossentropy")
    return backend.op("categorical_crossentropy", [y_true, y_pred],
                      ints=[int(bool(from_logits))])


def _not_equal(labels, value):
    """1.0 where an (integer-valued) label differs from `value`, else 0.0; in engine ops
    1 - relu(1 - |labels - value|), which is exact for integer labels."""
    if isinstance(labels, np.ndarray):
        return (labels != np.float32(value)).astype(np.float32)
    close = backend.op("relu", [backend.op("sub", [np.float32(1.0), backend.op(
        "abs", [backend.op("sub", [labels, np.float32(value)])])])])
    return backend.op("sub", [np.float32(1.0), close])


def _sparse_crossentropy(y_true, y_pred, from_logits, ignore_class, axis):
    """(per-element loss, validity mask or None)."""
    y_true, y_pred = as_input(y_true), as_input(y_pred)
    ts, ps = tuple(shape_of(y_true)), tuple(shape_of(y_pred))
    y_pred = _class_axis_last(y_pred, axis, "sparse_categorical_crossentropy")  # checks axis
    ax = axis % len(ps)
    if len(ts) == len(ps) and ts[ax] == 1:  # labels with a unit class axis
        y_true = reshape(y_true, ts[:ax] + ts[ax + 1:])
    valid = None
    if ignore_class is not None:
        # Ignored labels become class 0 and their loss is zeroed (Keras also zeroes their
        # predictions; the masked result and its gradient are the same).
        valid = _not_equal(y_true, ignore_class)
        y_true = backend.op("mul", [y_true, valid]) if not isinstance(y_true, np.ndarray) \
            else y_true * valid + 0.0
    res = backend.op("sparse_categorical_crossentropy", [y_true, y_pred],
                     ints=[int(bool(from_logits))])
    if valid is not None:
        res = backend.op("mul", [res, valid])
    return res, valid


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None,
                                    axis=-1):
    """Crossentropy against integer labels; `axis` is the class axis of `y_pred`. Labels equal
    to `ignore_class` get a loss of 0 (the Loss class also leaves them out of the mean)."""
    return _sparse_crossentropy(y_true, y_pred, from_logits, ignore_class, axis)[0]


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error


# ---- reduction ------------------------------------------------------------------------

_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "none", None)


def apply_sample_weight(values, sample_weight):
    """values * sample_weight. Weights of shape (N,) or (N, 1) weight whole samples (they are
    broadcast over the values' trailing axes); weights of the values' own shape weight
    each element; a scalar weights everything."""
    weight = as_input(sample_weight)
    vs, ws = tuple(shape_of(values)), tuple(shape_of(weight))
    if len(ws) == len(vs) + 1 and ws[-1] == 1:
        weight, ws = reshape(weight, ws[:-1]), ws[:-1]
    if len(ws) < len(vs):
        weight = reshape(weight, ws + (1,) * (len(vs) - len(ws)))
    elif len(ws) > len(vs) and vs:  # (a scalar loss just broadcasts, as in Keras)
        raise ValueError(f"sample_weight of shape {ws} has more axes than the loss values of "
                         f"shape {vs}")
    return backend.op("mul", [values, weight])


def reduce_values(values, reduction="sum_over_batch_size", sample_weight=None):
    """Keras's reduction: the weighted values summed ("sum"), averaged over their number
    of elements ("sum_over_batch_size"/"mean": NOT divided by the sum of the weights), or
    returned as they are ("none"/None)."""
    if reduction not in _REDUCTIONS:
        raise ValueError(f"Invalid value for argument `reduction`: {reduction!r}. "
                         f"Expected one of {list(_REDUCTIONS)}")
    if sample_weight is not None:
        values = apply_sample_weight(values, sample_weight)
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
        raise TypeError(f"{type(self).__name__}: Loss subclasses must implement "
                        "call(y_true, y_pred), returning the per-sample loss values")

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
                 axis=-1, name="sparse_categorical_crossentropy"):
        super().__init__(sparse_categorical_crossentropy, reduction=reduction, name=name,
                         from_logits=from_logits, ignore_class=ignore_class, axis=axis)
        self.from_logits = from_logits
        self.ignore_class = ignore_class

    def __call__(self, y_true, y_pred, sample_weight=None):
        if self.ignore_class is None:
            return super().__call__(y_true, y_pred, sample_weight)
        # Keras masks the ignored labels: "sum_over_batch_size" and "mean" divide by the
        # number of labels kept, not by all of them (and give 0 when none is kept).
        values, valid = _sparse_crossentropy(y_true, y_pred, **self._fn_kwargs)
        if sample_weight is not None:
            values = apply_sample_weight(values, sample_weight)
        if self.reduction in ("none", None):
            return values
        total = backend.op("sum", [values], ints=[0])
        if self.reduction == "sum":
            return total
        kept = backend.op("maximum", [backend.op("sum", [valid], ints=[0]), np.float32(1.0)])
        return backend.op("div", [total, kept])


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
