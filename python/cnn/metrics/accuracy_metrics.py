"""Accuracy metrics. The functions return per-sample values from engine ops (no gradient
flows through them); the classes are their weighted means."""
from .. import backend
from .._shapes import match_ranks, reshape, shape_of
from .reduction_metrics import MeanMetricWrapper


def _per_sample(y_true, y_pred):
    """Elementwise metrics average over the last axis; rank-1 values (one number per
    sample) get a unit last axis so each stays its own sample."""
    y_true, y_pred = match_ranks(y_true, y_pred)
    ps = shape_of(y_pred)
    if len(ps) == 1 and len(shape_of(y_true)) == 1:
        y_true, y_pred = reshape(y_true, ps + (1,)), reshape(y_pred, ps + (1,))
    return y_true, y_pred


def accuracy(y_true, y_pred):
    """How often `y_pred` equals `y_true` (per sample: the mean over the last axis)."""
    y_true, y_pred = _per_sample(y_true, y_pred)
    return backend.op("accuracy", [y_true, y_pred])


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """How often `y_pred > threshold` matches the binary `y_true` (per sample: the mean
    over the last axis)."""
    y_true, y_pred = _per_sample(y_true, y_pred)
    return backend.op("binary_accuracy", [y_true, y_pred], floats=[float(threshold)])


def categorical_accuracy(y_true, y_pred):
    """Whether argmax(y_pred) equals argmax of the one-hot `y_true`."""
    y_true, y_pred = match_ranks(y_true, y_pred)
    return backend.op("categorical_accuracy", [y_true, y_pred])


def sparse_categorical_accuracy(y_true, y_pred):
    """Whether argmax(y_pred) equals the integer label `y_true`."""
    y_true, y_pred = match_ranks(y_true, y_pred, sparse=True)
    return backend.op("sparse_categorical_accuracy", [y_true, y_pred])


def _check_k(k):
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"`k` must be a positive integer; received k={k!r}")
    return k


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """Whether the class of the one-hot `y_true` is among the `k` highest scores."""
    y_true, y_pred = match_ranks(y_true, y_pred)
    return backend.op("top_k_categorical_accuracy", [y_true, y_pred], ints=[_check_k(k)])


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    """Whether the integer label `y_true` is among the `k` highest scores."""
    y_true, y_pred = match_ranks(y_true, y_pred, sparse=True)
    return backend.op("sparse_top_k_categorical_accuracy", [y_true, y_pred],
                      ints=[_check_k(k)])


class Accuracy(MeanMetricWrapper):
    """Calculates how often predictions equal labels.

    Args:
        name: Optional name of the metric instance.
        dtype: `None` or `"float32"`.
    """
    _direction = "up"

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """Calculates how often predictions match binary labels.

    Args:
        name: Optional name of the metric instance.
        dtype: `None` or `"float32"`.
        threshold: A prediction is 1 when it is greater than this, else 0.
    """
    _direction = "up"

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold


class CategoricalAccuracy(MeanMetricWrapper):
    """Calculates how often predictions match one-hot labels.

    Args:
        name: Optional name of the metric instance.
        dtype: `None` or `"float32"`.
    """
    _direction = "up"

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """Calculates how often predictions match integer labels.

    Args:
        name: Optional name of the metric instance.
        dtype: `None` or `"float32"`.
    """
    _direction = "up"

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """Computes how often the one-hot target's class is in the top `k` predictions.

    Args:
        k: The number of top elements to look at. Defaults to 5.
        name: Optional name of the metric instance.
        dtype: `None` or `"float32"`.
    """
    _direction = "up"

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=_check_k(k))
        self.k = k


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """Computes how often the integer target is in the top `k` predictions.

    Args:
        k: The number of top elements to look at. Defaults to 5.
        name: Optional name of the metric instance.
        dtype: `None` or `"float32"`.
    """
    _direction = "up"

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype,
                         k=_check_k(k))
        self.k = k
