"""Mean and Sum of given values, and MeanMetricWrapper: the weighted mean of a per-sample
function of (y_true, y_pred), the form of most metrics."""
import numpy as np

from .. import backend, losses
from .metric import MEAN, Metric, divide_no_nan, ratio


_LOSS_OBJECTS = None


def _is_loss(fn):
    """Whether fn is one of cnn's loss functions (or a metric function marked as one), or
    a Loss of one of its classes."""
    global _LOSS_OBJECTS
    if getattr(fn, "is_loss", False):
        return True
    if _LOSS_OBJECTS is None:
        found = (losses.get(name) for name in losses.known_names())
        _LOSS_OBJECTS = {type(o) if isinstance(o, losses.Loss) else o for o in found}
    return fn in _LOSS_OBJECTS or type(fn) in _LOSS_OBJECTS


def _batch_mean(values):
    return backend.op("mean", [values], ints=[0])


def mean_parts(values, sample_weight=None):
    """Parts of Keras's weighted Mean over per-sample values (any trailing axes are
    averaged first): the batch means of value * weight and of the weight, whose totals
    divide to sum(v * w) / sum(w); without weights each sample weighs 1."""
    if sample_weight is None:
        return [(_batch_mean(values), MEAN), (1.0, MEAN)]
    return [(_batch_mean(losses.apply_sample_weight(values, sample_weight)), MEAN),
            (_batch_mean(sample_weight), MEAN)]


def same_rank(x1, x2, expand_rank_1=True):
    """Keras's squeeze_or_expand_to_same_rank on NumPy arrays: when the ranks differ by
    one and the longer shape ends in a unit axis, a rank-1 side gets a trailing unit axis
    (with expand_rank_1), otherwise that unit axis is dropped."""
    if x1.ndim == x2.ndim + 1 and x1.shape[-1] == 1:
        if x2.ndim == 1 and expand_rank_1:
            x2 = x2[..., None]
        else:
            x1 = x1[..., 0]
    elif x2.ndim == x1.ndim + 1 and x2.shape[-1] == 1:
        if x1.ndim == 1 and expand_rank_1:
            x1 = x1[..., None]
        else:
            x2 = x2[..., 0]
    return x1, x2


def _samplewise(values, sample_weight, reduce=np.mean):
    """Keras's reduce_to_samplewise_values on NumPy arrays: the values reduced (averaged
    for Mean, summed for Sum) down to the weights' rank and multiplied by them, then both
    reduced to one number per sample."""
    weight = None
    if sample_weight is not None:
        values, weight = same_rank(values, np.asarray(sample_weight, dtype=np.float32))
        if values.ndim > weight.ndim:
            values = reduce(values, axis=tuple(range(weight.ndim, values.ndim)))
        weight = np.broadcast_to(weight, values.shape)
        values = values * weight
        if weight.ndim > 1:
            weight = reduce(weight, axis=tuple(range(1, weight.ndim)))
    if values.ndim > 1:
        values = reduce(values, axis=tuple(range(1, values.ndim)))
    return values, weight


class Mean(Metric):
    """Computes the (weighted) mean of the given values.

    `update_state(values, sample_weight=None)`: values of any shape, averaged per sample
    over their trailing axes; a sample of weight w counts w times.

    Args:
        name: Optional name of the metric instance.
        dtype: `None` or `"float32"`.
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def reset_state(self):
        self._total, self._count = 0.0, 0.0

    def update_state(self, values, sample_weight=None):
        values = np.asarray(values, dtype=np.float32)
        values, weight = _samplewise(values, sample_weight)
        self._total += float(np.sum(values, dtype=np.float64))
        if weight is not None:
            self._count += float(np.sum(weight, dtype=np.float64))
        else:
            self._count += float(values.shape[0]) if values.ndim >= 1 else 1.0

    def result(self):
        return float(divide_no_nan(self._total, self._count))


class Sum(Metric):
    """Computes the (weighted) sum of the given values.

    Args:
        name: Optional name of the metric instance.
        dtype: `None` or `"float32"`.
    """

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def reset_state(self):
        self._total = 0.0

    def update_state(self, values, sample_weight=None):
        values, _ = _samplewise(np.asarray(values, dtype=np.float32), sample_weight, np.sum)
        self._total += float(np.sum(values, dtype=np.float64))

    def result(self):
        return self._total


class MeanMetricWrapper(Metric):
    """Wraps a stateless metric function with the (weighted) Mean metric.

    Args:
        fn: The metric function, `fn(y_true, y_pred, **kwargs)` returning per-sample
            values (engine ops, so it also runs inside compiled models).
        name: Optional name of the metric instance.
        dtype: `None` or `"float32"`.
        **kwargs: Keyword arguments passed on to `fn`.
    """

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        self._fn = fn
        self._fn_kwargs = kwargs
        super().__init__(name=name or getattr(fn, "__name__", None), dtype=dtype)
        if _is_loss(fn):  # a loss as a metric: smaller is better
            self._direction = "down"

    @property
    def fn(self):
        return self._fn

    def _state_parts(self, y_true, y_pred, sample_weight=None):
        return mean_parts(self._fn(y_true, y_pred, **self._fn_kwargs), sample_weight)

    def _result_from(self, totals):
        return ratio(totals[0], totals[1])

    def get_config(self):
        config = {**super().get_config(), **self._fn_kwargs}
        if type(self) is MeanMetricWrapper:  # subclasses know their function
            config["fn"] = getattr(self._fn, "__name__", repr(self._fn))
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("fn"), str):  # a function of cnn.metrics, by name
            from .. import metrics
            name = config["fn"]
            fn = getattr(metrics, name, None)
            if not callable(fn) or isinstance(fn, type):
                raise ValueError(f"Could not find the metric function {name!r} in cnn.metrics")
            config["fn"] = fn
        return cls(**config)
