"""Metrics over confusion counts: TruePositives & co, Precision, Recall and AUC.

Each batch's (weighted) counts per threshold come from the engine op confusion_counts;
they are summed over batches (not averaged), and the result is computed from the totals
as Keras does (precision = tp / (tp + fp), AUC by its Riemann sums)."""
import numpy as np

from .. import backend
from .._shapes import match_ranks, reshape, shape_of
from .metric import SUM, Metric, as_result, divide_no_nan, engine_input, ratio

NEG_INF = -1e10  # Keras's threshold when only top_k decides what is positive
EPSILON = 1e-7   # keras.backend.epsilon(): AUC's end thresholds are -eps and 1 + eps

_COMPARE, _BUCKETS, _BUCKETS_EPS = 0, 1, 2  # confusion_counts modes (see ops_metric.c)
_TP, _FP, _TN, _FN = range(4)


def _thresholds_list(thresholds, default):
    """Keras's parse_init_thresholds: one float or a list, each in [0, 1]."""
    if thresholds is None:
        return [default]
    values = list(thresholds) if isinstance(thresholds, (list, tuple, np.ndarray)) \
        else [thresholds]
    bad = [t for t in values if t is None or not 0 <= t <= 1]
    if bad:
        raise ValueError(f"Threshold values must be in [0, 1]. Received: {bad}")
    return [float(t) for t in values]


def _evenly_distributed(thresholds):
    n = len(thresholds)
    if n < 3:
        return False
    even = np.arange(n, dtype=np.float32) / (n - 1)
    return bool(np.allclose(thresholds, even, atol=EPSILON))


def _weight_like(sample_weight, rank):
    """Sample weights with y_pred's rank: trailing unit axes added (a weight per sample
    covers its whole row) or dropped, as Keras expands and squeezes them."""
    weight = engine_input(sample_weight)
    shape = tuple(shape_of(weight))
    while len(shape) > rank and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) > rank:
        raise ValueError(f"sample_weight of shape {tuple(shape_of(weight))} has more axes "
                         f"than y_pred of rank {rank}")
    return reshape(weight, shape + (1,) * (rank - len(shape)))


def confusion_counts(y_true, y_pred, thresholds, mode, top_k=None, class_id=None,
                     sample_weight=None):
    """(4, T, L) counts: true positives, false positives, true negatives and false
    negatives per threshold and label column (see the confusion_counts op)."""
    y_true, y_pred = match_ranks(engine_input(y_true), engine_input(y_pred))
    inputs = [y_true, y_pred, np.asarray(thresholds, dtype=np.float32)]
    if sample_weight is not None:
        inputs.append(_weight_like(sample_weight, len(shape_of(y_pred))))
    ints = [mode, 0 if top_k is None else int(top_k), -1 if class_id is None else int(class_id)]
    return backend.op("confusion_counts", inputs, ints=ints)


def _over_labels(counts, label_weights=None):
    """(4, T, L) -> (4, T): summed over the label columns (weighted, for AUC)."""
    if label_weights is not None:
        counts = backend.op("mul", [counts, label_weights])
    return backend.op("sum", [counts], ints=[0, 2])


def _row(counts, k):
    """counts[k] of a (4, ...) value."""
    rest = tuple(shape_of(counts))[1:]
    part = backend.op("slice", [counts], ints=[k] + [0] * len(rest) + [1] + [-1] * len(rest))
    return reshape(part, rest)


def _first(rows):
    """rows[0] of a (T, ...) value: the first threshold's entry."""
    rest = tuple(shape_of(rows))[1:]
    part = backend.op("slice", [rows], ints=[0] * (1 + len(rest)) + [1] + [-1] * len(rest))
    return reshape(part, rest)


def _fraction(num, den):
    """num / den per threshold (0 where den is 0); a float for one threshold."""
    if np.size(num) == 1:
        return ratio(np.reshape(num, -1)[0], np.reshape(den, -1)[0])
    return divide_no_nan(num, den)


def _check_int(value, arg, minimum):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"`{arg}` must be an integer >= {minimum} or None; received "
                         f"{arg}={value!r}")
    return int(value)


class _ThresholdCounts(Metric):
    """Counts at one or more thresholds, with optional top_k / class_id filtering."""
    _rows = ()

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        self.init_thresholds = thresholds
        self.top_k = _check_int(top_k, "top_k", 1)
        self.class_id = _check_int(class_id, "class_id", 0)
        self.thresholds = _thresholds_list(thresholds, 0.5 if top_k is None else NEG_INF)
        self._mode = _BUCKETS if _evenly_distributed(self.thresholds) else _COMPARE
        super().__init__(name=name, dtype=dtype)

    def _state_parts(self, y_true, y_pred, sample_weight=None):
        counts = _over_labels(confusion_counts(y_true, y_pred, self.thresholds, self._mode,
                                               self.top_k, self.class_id, sample_weight))
        return [(_row(counts, k), SUM) for k in self._rows]

    def _empty_result(self):
        return self._result_from([np.zeros(len(self.thresholds))] * len(self._rows))

    def get_config(self):
        return {**super().get_config(), "thresholds": self.init_thresholds,
                "top_k": self.top_k, "class_id": self.class_id}


class _CountMetric(_ThresholdCounts):
    """One confusion-matrix count (Keras's _ConfusionMatrixConditionCount)."""

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(thresholds=thresholds, name=name, dtype=dtype)

    def _result_from(self, totals):
        return as_result(totals[0])

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "thresholds": self.init_thresholds}


class TruePositives(_CountMetric):
    """The (weighted) number of true positives: label != 0 and prediction > threshold.

    Args:
        thresholds: A float or a list of floats in [0, 1] (default 0.5); with several,
            the result has one count per threshold.
        name: Optional name of the metric instance.
        dtype: `None` or `"float32"`.
    """
    _rows = (_TP,)


class FalsePositives(_CountMetric):
    """The (weighted) number of false positives: label 0 and prediction > threshold.

    Args: as TruePositives.
    """
    _rows = (_FP,)


class TrueNegatives(_CountMetric):
    """The (weighted) number of true negatives: label 0 and prediction <= threshold.

    Args: as TruePositives.
    """
    _rows = (_TN,)


class FalseNegatives(_CountMetric):
    """The (weighted) number of false negatives: label != 0 and prediction <= threshold.

    Args: as TruePositives.
    """
    _rows = (_FN,)


class Precision(_ThresholdCounts):
    """Computes the precision of the predictions with respect to the labels:
    `true_positives / (true_positives + false_positives)` (0 when nothing is predicted
    positive).

    Args:
        thresholds: A float or a list of floats in [0, 1]: a prediction is positive when
            it is greater. Defaults to 0.5, or with `top_k` to no threshold. With several
            thresholds the result has one precision per threshold.
        top_k: Only the `top_k` highest predictions of each row (last axis) count as
            positive.
        class_id: Only this class (column of the last axis) is considered.
        name: Optional name of the metric instance.
        dtype: `None` or `"float32"`.
    """
    _direction = "up"
    _rows = (_TP, _FP)

    def _result_from(self, totals):
        tp, fp = totals
        return _fraction(tp, np.add(tp, fp))


class Recall(_ThresholdCounts):
    """Computes the recall of the predictions with respect to the labels:
    `true_positives / (true_positives + false_negatives)` (0 when there are no positive
    labels).

    Args: as Precision.
    """
    _direction = "up"
    _rows = (_TP, _FN)

    def _result_from(self, totals):
        tp, fn = totals
        return _fraction(tp, np.add(tp, fn))


_CURVES = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}
_SUMMATIONS = ("interpolation", "majoring", "minoring")


class AUC(Metric):
    """Approximates the area under the ROC or precision-recall curve (Riemann sums over
    `num_thresholds` thresholds), as Keras does.

    Args:
        num_thresholds: Number of thresholds (> 1), evenly spaced in [0, 1] with the end
            ones moved to -epsilon and 1 + epsilon. Defaults to 200.
        curve: "ROC" (default), "PR" or "PRGAIN".
        summation_method: "interpolation" (default; for PR, Davis & Goadrich's
            interpolation), "minoring" or "majoring".
        name: Optional name of the metric instance.
        dtype: `None` or `"float32"`.
        thresholds: Optional list of thresholds in [0, 1] to use instead (then
            num_thresholds is their number plus the two end thresholds).
        multi_label: Whether each column of 2-D predictions is its own label, with its own
            AUC (averaged), rather than all values flattened into one curve.
        num_labels: The number of labels when `multi_label` (checked against the data).
        label_weights: Non-negative weights per label: they weigh each label's counts
            (not multi_label) or each label's AUC in the average (multi_label).
        from_logits: Whether predictions are logits (a sigmoid is applied first).
    """
    _direction = "up"

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name=None, dtype=None, thresholds=None, multi_label=False, num_labels=None,
                 label_weights=None, from_logits=False):
        key = str(curve).lower()
        if key not in _CURVES:
            raise ValueError(f'Invalid AUC curve value: "{curve}". Expected values are '
                             '["PR", "ROC", "PRGAIN"]')
        if str(summation_method).lower() not in _SUMMATIONS:
            raise ValueError(f'Invalid AUC summation method value: "{summation_method}". '
                             'Expected values are ["interpolation", "majoring", "minoring"]')
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(_thresholds_list(thresholds, 0.5))
            self.num_thresholds = len(inner) + 2
            even = _evenly_distributed([0.0] + inner + [1.0])
        else:
            if isinstance(num_thresholds, bool) or not isinstance(
                    num_thresholds, (int, np.integer)) or num_thresholds <= 1:
                raise ValueError("Argument `num_thresholds` must be an integer > 1. "
                                 f"Received: num_thresholds={num_thresholds}")
            self.num_thresholds = int(num_thresholds)
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            even = True
        self._thresholds = np.array([0.0 - EPSILON] + inner + [1.0 + EPSILON])
        self._mode = _BUCKETS_EPS if even else _COMPARE
        self.curve = _CURVES[key]
        self.summation_method = str(summation_method).lower()
        self.multi_label = bool(multi_label)
        if num_labels is not None and not multi_label:
            raise ValueError("`num_labels` is needed only when `multi_label` is True.")
        self.num_labels = _check_int(num_labels, "num_labels", 1)
        self.label_weights = None if label_weights is None else np.asarray(
            label_weights, dtype=np.float32).reshape(-1)
        if self.label_weights is not None and np.any(self.label_weights < 0):
            raise ValueError("All values of `label_weights` must be non-negative; received "
                             f"{self.label_weights.tolist()}")
        self._from_logits = bool(from_logits)
        super().__init__(name=name, dtype=dtype)

    @property
    def thresholds(self):
        return list(self._thresholds)

    def _state_parts(self, y_true, y_pred, sample_weight=None):
        y_pred = engine_input(y_pred)
        shape = tuple(shape_of(y_pred))
        if self.multi_label:
            if len(shape) != 2:
                raise ValueError("`y_pred` must have rank 2 when `multi_label=True`. Found "
                                 f"rank {len(shape)}. Full shape received for `y_pred`: "
                                 f"{shape}")
            if self.num_labels is not None and shape[1] != self.num_labels:
                raise ValueError(f"AUC was built for num_labels={self.num_labels}, but "
                                 f"y_pred has {shape[1]} labels (shape {shape})")
        labels = shape[-1] if len(shape) >= 2 else 1
        if self.label_weights is not None and len(self.label_weights) != labels:
            raise ValueError(f"`label_weights` has {len(self.label_weights)} entries but "
                             f"y_pred has {labels} labels (shape {shape})")
        if self._from_logits:
            y_pred = backend.op("sigmoid", [y_pred])
        counts = confusion_counts(y_true, y_pred, self._thresholds, self._mode,
                                  sample_weight=sample_weight)
        if not self.multi_label:
            counts = _over_labels(counts, self.label_weights)
        # tn and fn follow from the totals of negative and positive labels (any threshold's
        # tn + fp and tp + fn): 2T + 2 numbers of state instead of 4T.
        tp, fp = _row(counts, _TP), _row(counts, _FP)
        pos = _first(backend.op("add", [tp, _row(counts, _FN)]))
        neg = _first(backend.op("add", [fp, _row(counts, _TN)]))
        return [(tp, SUM), (fp, SUM), (pos, SUM), (neg, SUM)]

    def _empty_result(self):
        return 0.0

    def _average(self, by_label):
        """One label's AUC, or the (weighted) mean of the labels' AUCs."""
        if not self.multi_label:
            return float(by_label)
        if self.label_weights is None:
            return float(np.mean(by_label))
        w = self.label_weights.astype(np.float64)
        return float(divide_no_nan(np.sum(by_label * w), np.sum(w)))

    def _interpolate_pr_auc(self, tp, fp, fn):
        """Davis & Goadrich's interpolation between thresholds (Keras's formula)."""
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = divide_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = np.where(both, divide_no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
        increment = divide_no_nan(slope * (dtp + intercept * np.log(ratio)),
                                  np.maximum(tp[1:] + fn[1:], 0))
        return self._average(np.sum(increment, axis=0))

    def _result_from(self, totals):
        tp, fp, pos, neg = (np.asarray(t, dtype=np.float64) for t in totals)
        tn, fn = neg - fp, pos - tp
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc(tp, fp, fn)
        recall = divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, divide_no_nan(tp, tp + fp)
        else:  # PRGAIN, with Keras's fixes for no true positives and negative gains
            scale = divide_no_nan(tp + fn, tn + fp)
            recall_gain = 1.0 - scale * divide_no_nan(fn, tp)
            precision_gain = 1.0 - scale * divide_no_nan(fp, tp)
            recall_gain = np.maximum(np.where(tp == 0, 0.0, recall_gain), 0.0)
            x, y = recall_gain, np.where(tp == 0, 1.0, precision_gain)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return self._average(np.sum((x[:-1] - x[1:]) * heights, axis=0))

    def get_config(self):
        config = {**super().get_config(), "num_thresholds": self.num_thresholds,
                  "curve": self.curve, "summation_method": self.summation_method,
                  "multi_label": self.multi_label, "num_labels": self.num_labels,
                  "label_weights": None if self.label_weights is None
                  else self.label_weights.tolist(),
                  "from_logits": self._from_logits}
        if self._init_from_thresholds:
            config["thresholds"] = [float(t) for t in self._thresholds[1:-1]]
        return config
