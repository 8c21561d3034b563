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


# ---- regression, probabilistic and hinge losses built from elementwise ops --------------

EPSILON = 1e-7  # keras.backend.epsilon(): the clip/offset constant of these formulas


def _c(value):
    return np.float32(value)


def _last_axis_mean(x):
    return backend.op("mean", [x], ints=[0, -1])


def _last_axis_sum(x):
    return backend.op("sum", [x], ints=[0, -1])


def mean_absolute_percentage_error(y_true, y_pred):
    """`100 * mean(|(y_true - y_pred) / max(|y_true|, 1e-7)|, axis=-1)`."""
    y_true, y_pred = match_ranks(y_true, y_pred)
    denom = backend.op("maximum", [backend.op("abs", [y_true]), _c(EPSILON)])
    diff = backend.op("abs", [backend.op("div", [backend.op("sub", [y_true, y_pred]), denom])])
    return backend.op("mul", [_c(100.0), _last_axis_mean(diff)])


def mean_squared_logarithmic_error(y_true, y_pred):
    """`mean(square(log(max(y_pred, 1e-7) + 1) - log(max(y_true, 1e-7) + 1)), axis=-1)`."""
    y_true, y_pred = match_ranks(y_true, y_pred)

    def log1p_clipped(x):
        return backend.op("log", [backend.op("add", [backend.op("maximum", [x, _c(EPSILON)]),
                                                     _c(1.0)])])

    diff = backend.op("sub", [log1p_clipped(y_pred), log1p_clipped(y_true)])
    return _last_axis_mean(backend.op("square", [diff]))


def _check_axis(axis, fn):
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"{fn}: `axis` must be an integer; received axis={axis!r}")
    return int(axis)


def l2_normalize(x, axis=-1):
    """`x / max(||x||, 1e-7)` along `axis` (Keras's `normalize`, written with a
    clamped square sum so a zero vector has a finite gradient)."""
    square_sum = backend.op("sum", [backend.op("square", [x])], ints=[1, axis])
    norm = backend.op("sqrt", [backend.op("maximum", [square_sum, _c(EPSILON * EPSILON)])])
    return backend.op("div", [x, norm])


def cosine_similarity(y_true, y_pred, axis=-1):
    """`-sum(l2_normalize(y_true) * l2_normalize(y_pred), axis)`: -1 for parallel vectors,
    0 for orthogonal ones (and whenever either is a zero vector)."""
    axis = _check_axis(axis, "cosine_similarity")
    y_true, y_pred = match_ranks(y_true, y_pred)
    ndim = len(shape_of(y_pred))
    if not -ndim <= axis < ndim:
        raise ValueError(f"cosine_similarity: axis={axis} is out of range for an input of "
                         f"rank {ndim}")
    prod = backend.op("mul", [l2_normalize(y_true, axis), l2_normalize(y_pred, axis)])
    return backend.op("neg", [backend.op("sum", [prod], ints=[0, axis])])


def log_cosh(y_true, y_pred):
    """`mean(log(cosh(y_pred - y_true)), axis=-1)`, computed as `x + softplus(-2x) - log 2`
    so large errors do not overflow."""
    y_true, y_pred = match_ranks(y_true, y_pred)
    x = backend.op("sub", [y_pred, y_true])
    value = backend.op("add", [x, backend.op("softplus", [backend.op("mul", [x, _c(-2.0)])])])
    return _last_axis_mean(backend.op("sub", [value, _c(np.log(2.0))]))


def kl_divergence(y_true, y_pred):
    """`sum(y_true * log(y_true / y_pred), axis=-1)` with both clipped to [1e-7, 1]."""
    y_true, y_pred = match_ranks(y_true, y_pred)
    y_true = backend.op("clip", [y_true], floats=[EPSILON, 1.0])
    y_pred = backend.op("clip", [y_pred], floats=[EPSILON, 1.0])
    ratio = backend.op("log", [backend.op("div", [y_true, y_pred])])
    return _last_axis_sum(backend.op("mul", [y_true, ratio]))


def poisson(y_true, y_pred):
    """`mean(y_pred - y_true * log(y_pred + 1e-7), axis=-1)`."""
    y_true, y_pred = match_ranks(y_true, y_pred)
    log_pred = backend.op("log", [backend.op("add", [y_pred, _c(EPSILON)])])
    return _last_axis_mean(backend.op("sub", [y_pred, backend.op("mul", [y_true, log_pred])]))


def _nonzero(x):
    """1.0 where x != 0 and 0.0 where x == 0, exactly for every float32: the smallest
    subnormal (2**-149) times 2**149 reaches 1, and the clip caps everything above."""
    scaled = backend.op("mul", [backend.op("mul", [backend.op("abs", [x]), _c(2.0 ** 100)]),
                                _c(2.0 ** 49)])
    return backend.op("clip", [scaled], floats=[0.0, 1.0])


def _hinge_labels(y_true):
    """Keras's convert_binary_labels_to_hinge: when every label of the batch is 0 or 1 they
    become -1 or 1 (2y - 1); any other label set is used as it is."""
    if isinstance(y_true, np.ndarray):
        return 2.0 * y_true - 1.0 if np.all((y_true == 0) | (y_true == 1)) else y_true
    off = backend.op("minimum", [backend.op("abs", [y_true]),
                                 backend.op("abs", [backend.op("sub", [y_true, _c(1.0)])])])
    binary = backend.op("sub", [_c(1.0), backend.op("max", [_nonzero(off)], ints=[0])])
    # y + binary * (y - 1): 2y - 1 when binary is 1, y when it is 0.
    return backend.op("add", [y_true, backend.op("mul", [
        binary, backend.op("sub", [y_true, _c(1.0)])])])


def _hinge_margin(y_true, y_pred):
    y_true, y_pred = match_ranks(y_true, y_pred)
    y_true = _hinge_labels(y_true)
    return backend.op("maximum", [backend.op("sub", [_c(1.0), backend.op("mul", [y_true, y_pred])]),
                                  _c(0.0)])


def hinge(y_true, y_pred):
    """`mean(maximum(1 - y_true * y_pred, 0), axis=-1)`; labels are -1/1 (0/1 labels are
    converted, as in Keras)."""
    return _last_axis_mean(_hinge_margin(y_true, y_pred))


def squared_hinge(y_true, y_pred):
    """`mean(square(maximum(1 - y_true * y_pred, 0)), axis=-1)`; 0/1 labels become -1/1."""
    return _last_axis_mean(backend.op("square", [_hinge_margin(y_true, y_pred)]))


def categorical_hinge(y_true, y_pred):
    """`maximum(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)` over the last axis
    (one-hot labels)."""
    y_true, y_pred = match_ranks(y_true, y_pred)
    pos = _last_axis_sum(backend.op("mul", [y_true, y_pred]))
    neg = backend.op("max", [backend.op("mul", [backend.op("sub", [_c(1.0), y_true]), y_pred])],
                     ints=[0, -1])
    margin = backend.op("add", [backend.op("sub", [neg, pos]), _c(1.0)])
    return backend.op("maximum", [margin, _c(0.0)])


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kl_divergence
logcosh = log_cosh


# ---- reduction ------------------------------------------------------------------------

_REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"Invalid value for argument `reduction`: {reduction!r}. "
                         f"Expected one of {list(_REDUCTIONS)}")


def _reconcile_weight(values, sample_weight):
    """(values, weight) with Keras's rank rules: ranks one apart whose longer shape ends
    in a unit axis give the rank-1 side a trailing unit axis, or else lose that axis.
    Weights with still fewer axes weight whole samples (broadcast over the values'
    trailing axes); weights of the values' own shape weight each element."""
    weight = as_input(sample_weight)
    vs, ws = tuple(shape_of(values)), tuple(shape_of(weight))
    if len(ws) == len(vs) + 1 and ws[-1] == 1:
        if len(vs) == 1:
            values, vs = reshape(values, vs + (1,)), vs + (1,)
        else:
            weight, ws = reshape(weight, ws[:-1]), ws[:-1]
    elif len(vs) == len(ws) + 1 and vs[-1] == 1 and len(ws) != 1:
        values, vs = reshape(values, vs[:-1]), vs[:-1]
    if len(ws) < len(vs):
        weight = reshape(weight, ws + (1,) * (len(vs) - len(ws)))
    elif len(ws) > len(vs) and vs:  # (a scalar loss just broadcasts, as in Keras)
        raise ValueError(f"sample_weight of shape {ws} has more axes than the loss values of "
                         f"shape {vs}")
    return values, weight


def apply_sample_weight(values, sample_weight):
    """values * sample_weight, their ranks reconciled as Keras does (see _reconcile_weight)."""
    values, weight = _reconcile_weight(values, sample_weight)
    return backend.op("mul", [values, weight])


def _divide_no_nan(num, den):
    """num / den, and 0 where den is 0 (Keras's divide_no_nan)."""
    nonzero = _nonzero(den)
    safe = backend.op("add", [den, backend.op("sub", [_c(1.0), nonzero])])
    return backend.op("mul", [backend.op("div", [num, safe]), nonzero])


def reduce_values(values, reduction="sum_over_batch_size", sample_weight=None):
    """Keras's reduction of per-sample loss values, multiplied by `sample_weight` first:
    "sum" sums them; "sum_over_batch_size" and "mean" average them over their number of
    elements (NOT divided by the sum of the weights); "mean_with_sample_weight" divides
    their sum by the sum of the weights (0 when that is 0; their count without weights);
    "none"/None returns them as they are."""
    _check_reduction(reduction)
    weight = None
    if sample_weight is not None:
        values, weight = _reconcile_weight(values, sample_weight)
        values = backend.op("mul", [values, weight])
    if reduction in ("none", None) or tuple(shape_of(values)) == ():
        return values
    if reduction == "sum":
        return backend.op("sum", [values], ints=[0])
    if reduction == "mean_with_sample_weight" and weight is not None:
        return _divide_no_nan(backend.op("sum", [values], ints=[0]),
                              backend.op("sum", [weight], ints=[0]))
    return backend.op("mean", [values], ints=[0])


# ---- classes --------------------------------------------------------------------------

class Loss:
    """Base class: subclasses implement `call(y_true, y_pred)`, returning per-sample
    values, which `__call__` weights and reduces.

    Args:
        name: name of the loss instance (default: the class name in snake case).
        reduction: "sum_over_batch_size" (default), "sum", "mean",
            "mean_with_sample_weight", "none" or None (see `reduce_values`).
        dtype: None or "float32" (cnn computes in float32 only).
    """

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        from .utils.naming import to_snake_case
        _check_reduction(reduction)
        if dtype not in (None, "float32"):
            raise ValueError(f"cnn computes losses in float32 only; received dtype={dtype!r}")
        self.name = name or to_snake_case(type(self).__name__)
        self.reduction = reduction

    @property
    def dtype(self):
        return "float32"

    def call(self, y_true, y_pred):
        raise TypeError(f"{type(self).__name__}: Loss subclasses must implement "
                        "call(y_true, y_pred), returning the per-sample loss values")

    def __call__(self, y_true, y_pred, sample_weight=None):
        return reduce_values(self.call(y_true, y_pred), self.reduction, sample_weight)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class LossFunctionWrapper(Loss):
    """A Loss around a per-sample function `fn(y_true, y_pred, **kwargs)`."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name or fn.__name__, reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self):
        return {**super().get_config(), **self._fn_kwargs}


def _wrapper(fn, default_name):
    """The __init__ of a LossFunctionWrapper subclass for `fn` whose only arguments are
    reduction, name (default `default_name`) and dtype, as for `Loss`."""
    def __init__(self, reduction="sum_over_batch_size", name=default_name, dtype=None):
        LossFunctionWrapper.__init__(self, fn, reduction=reduction, name=name, dtype=dtype)
    return __init__


class MeanSquaredError(LossFunctionWrapper):
    """`mean(square(y_true - y_pred))`."""
    __init__ = _wrapper(mean_squared_error, "mean_squared_error")


class MeanAbsoluteError(LossFunctionWrapper):
    """`mean(abs(y_true - y_pred))`."""
    __init__ = _wrapper(mean_absolute_error, "mean_absolute_error")


class MeanAbsolutePercentageError(LossFunctionWrapper):
    """`100 * mean(abs((y_true - y_pred) / max(abs(y_true), 1e-7)))`."""
    __init__ = _wrapper(mean_absolute_percentage_error, "mean_absolute_percentage_error")


class MeanSquaredLogarithmicError(LossFunctionWrapper):
    """`mean(square(log(y_true + 1) - log(y_pred + 1)))`, both clipped below at 1e-7."""
    __init__ = _wrapper(mean_squared_logarithmic_error, "mean_squared_logarithmic_error")


class LogCosh(LossFunctionWrapper):
    """`mean(log(cosh(y_pred - y_true)))`."""
    __init__ = _wrapper(log_cosh, "log_cosh")


class KLDivergence(LossFunctionWrapper):
    """`sum(y_true * log(y_true / y_pred))` over the last axis, both clipped to [1e-7, 1]."""
    __init__ = _wrapper(kl_divergence, "kl_divergence")


class Poisson(LossFunctionWrapper):
    """`mean(y_pred - y_true * log(y_pred + 1e-7))`."""
    __init__ = _wrapper(poisson, "poisson")


class Hinge(LossFunctionWrapper):
    """`mean(maximum(1 - y_true * y_pred, 0))`; 0/1 labels are converted to -1/1."""
    __init__ = _wrapper(hinge, "hinge")


class SquaredHinge(LossFunctionWrapper):
    """`mean(square(maximum(1 - y_true * y_pred, 0)))`; 0/1 labels become -1/1."""
    __init__ = _wrapper(squared_hinge, "squared_hinge")


class CategoricalHinge(LossFunctionWrapper):
    """`maximum(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)`."""
    __init__ = _wrapper(categorical_hinge, "categorical_hinge")


class CosineSimilarity(LossFunctionWrapper):
    """`-sum(l2_normalize(y_true) * l2_normalize(y_pred))` along `axis`.

    Args:
        axis: the axis of the vectors compared (default -1).
        reduction, name, dtype: as for `Loss`.
    """

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity",
                 dtype=None):
        super().__init__(cosine_similarity, reduction=reduction, name=name, dtype=dtype,
                         axis=_check_axis(axis, "CosineSimilarity"))


class Huber(LossFunctionWrapper):
    """Quadratic for errors up to `delta` (default 1.0), linear beyond."""

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss",
                 dtype=None):
        super().__init__(huber, reduction=reduction, name=name, dtype=dtype, delta=delta)


class BinaryCrossentropy(LossFunctionWrapper):
    """Binary crossentropy averaged over `axis`.

    Args:
        from_logits: whether `y_pred` are logits (default False: probabilities).
        label_smoothing: labels become `y * (1 - s) + s / 2` (default 0).
        axis: the axis averaged over (default -1).
        reduction, name, dtype: as for `Loss`.
    """

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy", dtype=None):
        super().__init__(binary_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class CategoricalCrossentropy(LossFunctionWrapper):
    """Crossentropy against one-hot (or probability) labels over the class axis `axis`.

    Args:
        from_logits: whether `y_pred` are logits (default False: probabilities).
        label_smoothing: labels become `y * (1 - s) + s / classes` (default 0).
        axis: the class axis (default -1).
        reduction, name, dtype: as for `Loss`.
    """

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy", dtype=None):
        super().__init__(categorical_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Crossentropy against integer labels.

    Args:
        from_logits: whether `y_pred` are logits (default False: probabilities).
        ignore_class: a label value left out of the loss and of the mean (default None).
        axis: the class axis of `y_pred` (default -1).
        reduction, name, dtype: as for `Loss`.
    """

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 axis=-1, name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(sparse_categorical_crossentropy, reduction=reduction, name=name,
                         dtype=dtype, from_logits=from_logits, ignore_class=ignore_class,
                         axis=axis)
        self.from_logits = from_logits
        self.ignore_class = ignore_class
        self.axis = axis

    def __call__(self, y_true, y_pred, sample_weight=None):
        if self.ignore_class is None:
            return super().__call__(y_true, y_pred, sample_weight)
        # Keras masks the ignored labels: "sum_over_batch_size" and "mean" divide by the
        # number of labels kept, not by all of them (and give 0 when none is kept);
        # "mean_with_sample_weight" by the sum of the kept labels' weights.
        values, valid = _sparse_crossentropy(y_true, y_pred, **self._fn_kwargs)
        weight = valid
        if sample_weight is not None:
            values, sw = _reconcile_weight(values, sample_weight)
            values = backend.op("mul", [values, sw])
            weight = backend.op("mul", [reshape(valid, shape_of(values)), sw])
        if self.reduction in ("none", None):
            return values
        total = backend.op("sum", [values], ints=[0])
        if self.reduction == "sum":
            return total
        if self.reduction == "mean_with_sample_weight":
            return _divide_no_nan(total, backend.op("sum", [weight], ints=[0]))
        kept = backend.op("maximum", [backend.op("sum", [valid], ints=[0]), np.float32(1.0)])
        return backend.op("div", [total, kept])


_FUNCTIONS = {f.__name__: f for f in (
    mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
    mean_squared_logarithmic_error, cosine_similarity, huber, log_cosh, kl_divergence, poisson,
    hinge, squared_hinge, categorical_hinge, binary_crossentropy, categorical_crossentropy,
    sparse_categorical_crossentropy)}
# Keras's short aliases (keras.losses.get knows exactly these).
_FUNCTIONS.update({"mse": mean_squared_error, "MSE": mean_squared_error,
                   "mae": mean_absolute_error, "MAE": mean_absolute_error,
                   "mape": mean_absolute_percentage_error,
                   "MAPE": mean_absolute_percentage_error,
                   "msle": mean_squared_logarithmic_error,
                   "MSLE": mean_squared_logarithmic_error,
                   "kld": kl_divergence, "KLD": kl_divergence,
                   "bce": binary_crossentropy, "BCE": binary_crossentropy})
_CLASSES = {c.__name__: c for c in (
    MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError, CosineSimilarity, Huber, LogCosh, KLDivergence, Poisson,
    Hinge, SquaredHinge, CategoricalHinge, BinaryCrossentropy, CategoricalCrossentropy,
    SparseCategoricalCrossentropy)}


def known_names():
    return sorted(_FUNCTIONS) + sorted(_CLASSES)


def serialize(loss):
    """A function's name, or {"class_name", "config"} for a Loss instance."""
    if isinstance(loss, Loss):
        return {"class_name": type(loss).__name__, "config": loss.get_config()}
    return getattr(loss, "__name__", str(loss))


def get(identifier):
    """A loss name (function or class name), a {"class_name", "config"} dict, a Loss
    instance or class, or a callable `fn(y_true, y_pred)`."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        if set(identifier) - {"class_name", "config", "module", "registered_name"} or \
                identifier.get("class_name") not in _CLASSES:
            raise ValueError(f"Could not interpret loss identifier: {identifier!r}. A dict "
                             "needs a 'class_name' among the known loss classes "
                             f"{sorted(_CLASSES)} and optionally a 'config'")
        return _CLASSES[identifier["class_name"]].from_config(identifier.get("config") or {})
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
