"""What compile() was given, resolved per model output, and the loss/metric part of the
training graph built from it."""
import numpy as np

from .. import backend, losses, metrics, optimizers
from .._shapes import match_ranks
from ..utils.naming import to_snake_case

# Built-in losses whose targets have the output's own shape (checked before training).
_BUILTIN_SHAPED = {losses.mean_squared_error, losses.mean_absolute_error, losses.huber,
                   losses.binary_crossentropy, losses.categorical_crossentropy,
                   losses.mean_absolute_percentage_error, losses.mean_squared_logarithmic_error,
                   losses.cosine_similarity, losses.log_cosh, losses.kl_divergence,
                   losses.poisson, losses.hinge, losses.squared_hinge, losses.categorical_hinge}


def _fmt(shape):
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _name_of(obj):
    if isinstance(obj, str):
        return obj
    if getattr(obj, "name", None):
        return obj.name
    return to_snake_case(getattr(obj, "__name__", type(obj).__name__))


class OutputSpec:
    """Loss, loss weight, metrics and weighted metrics of one model output."""

    def __init__(self, loss, weight, metric_ids, weighted_metric_ids=()):
        self.loss, self.weight, self.metric_ids = loss, weight, metric_ids
        self.weighted_metric_ids = list(weighted_metric_ids)


class CompileSpec:
    def __init__(self, optimizer, loss, loss_weights, metrics_arg, weighted_metrics_arg=None):
        self.optimizer = optimizers.get(optimizer)
        self.loss_arg, self.loss_weights_arg, self.metrics_arg = loss, loss_weights, metrics_arg
        self.weighted_metrics_arg = weighted_metrics_arg
        # Fail at compile time on names we do not know (Keras would wait until fit).
        for item in self._leaves(loss):
            losses.get(item)
        for arg in (metrics_arg, weighted_metrics_arg):
            for item in self._leaves(arg):
                if not (isinstance(item, str) and item.lower() in ("accuracy", "acc")):
                    metrics.get(item)
        if loss_weights is not None and not isinstance(loss_weights, (list, tuple, dict,
                                                                      float, int)):
            raise ValueError("Expected `loss_weights` argument to be a float (single output "
                             f"case), a list or a dict. Received: loss_weights={loss_weights!r}")

    @staticmethod
    def _leaves(arg):
        if arg is None:
            return []
        if isinstance(arg, dict):
            return [v for val in arg.values() for v in CompileSpec._leaves(val)]
        if isinstance(arg, (list, tuple)):
            return [v for val in arg for v in CompileSpec._leaves(val)]
        return [arg]

    def _per_output(self, arg, names, what, nested_ok):
        """A compile argument spread over the outputs: one value for all, a list with one
        entry per output, or a dict keyed by output name."""
        n = len(names)
        if isinstance(arg, dict):
            unknown = set(arg) - set(names)
            if unknown:
                raise ValueError(f"`{what}` has keys {sorted(unknown)} that are not outputs of "
                                 f"the model; outputs are {names}")
            return [arg.get(name) for name in names]
        if isinstance(arg, (list, tuple)) and arg and (not nested_ok or n > 1 and all(
                isinstance(v, (list, tuple)) or v is None for v in arg)):
            if len(arg) != n:
                raise ValueError(f"`{what}` has {len(arg)} entries but the model has {n} "
                                 f"outputs ({names}).")
            return list(arg)
        return [arg] * n

    def resolve(self, output_names):
        """One OutputSpec per output."""
        loss_arg = self.loss_arg
        if isinstance(loss_arg, (list, tuple)) and len(output_names) == 1 and len(loss_arg) == 1:
            loss_arg = loss_arg[0]
        losses_per = self._per_output(loss_arg, output_names, "loss", nested_ok=False)
        weights = self.loss_weights_arg
        if weights is None:
            weights_per = [1.0] * len(output_names)
        elif isinstance(weights, (int, float)):
            weights_per = [float(weights)] * len(output_names)
        else:
            weights_per = [1.0 if w is None else float(w) for w in
                           self._per_output(weights, output_names, "loss_weights", False)]
        metrics_per = self._per_output(self.metrics_arg or [], output_names, "metrics",
                                       nested_ok=True)
        weighted_per = self._per_output(self.weighted_metrics_arg or [], output_names,
                                        "weighted_metrics", nested_ok=True)

        def as_list(m):
            return [] if m is None else (list(m) if isinstance(m, (list, tuple)) else [m])

        return [OutputSpec(losses.get(loss_id), w, as_list(m), as_list(wm))
                for loss_id, w, m, wm in zip(losses_per, weights_per, metrics_per, weighted_per)]


def resolve_metrics(metric_ids, target_shape, output_shape):
    """(log name, Metric) for each metric of one output, as Keras's get_metric: a string
    names the metric (and "accuracy"/"acc" picks the accuracy the shapes call for), other
    metrics keep their own name; functions are wrapped in MeanMetricWrapper."""
    out = []
    for ident in metric_ids:
        if isinstance(ident, str) and ident.lower() in ("accuracy", "acc"):
            out.append((ident, metrics.accuracy_metric(ident, target_shape, output_shape)))
            continue
        obj = metrics.get(ident)
        name = ident if isinstance(ident, str) else _name_of(obj)
        if not isinstance(obj, metrics.Metric):
            obj = metrics.MeanMetricWrapper(obj, name=name)
        elif isinstance(ident, str):
            obj.name = name  # a fresh instance, named as given ("mse"), as Keras does
        if not obj._compilable():
            raise TypeError(f"Metric {name!r} ({type(obj).__name__}) keeps its state in Python "
                            "code (update_state/result), so it cannot run inside the compiled "
                            "training graph. Pass a built-in metric, a function "
                            "fn(y_true, y_pred) returning per-sample values, or a Metric that "
                            "defines _state_parts and _result_from.")
        out.append((name, obj))
    return out


# The engine takes at most this many report nodes per train/test step (each a fixed-size
# value: a scalar, or e.g. AUC's per-threshold counts).
MAX_REPORTS = 64


class ReportLayout:
    """What a compiled train/test step reports and how the logs come from the reports.

    Losses report their batch mean (the log is its batch-size-weighted mean). A metric
    reports the parts of its state (Metric._state_parts), each as one report node whose
    values land end to end in the step's report array; "mean" parts are accumulated times
    the batch size, "sum" parts (counts) as they are, and constant parts need no report.
    The logged value is the metric's _result_from of its accumulated parts."""

    def __init__(self):
        self.nodes = []       # the report Symbols
        self.size = 0         # floats in the report array
        self.is_mean = []     # per float: accumulate value * batch size (else value)
        self.entries = []     # per logged value: (Metric or None, [(start, shape, kind)])
        self.metrics = []     # the compiled Metric objects, in log order

    def _add_node(self, value, shape, is_mean):
        start, n = self.size, int(np.prod(shape, dtype=np.int64))
        self.nodes.append(value)
        self.size += n
        self.is_mean.extend([is_mean] * n)
        return start

    def add_loss(self, value):
        self.entries.append((None, [(self._add_node(value, (), True), (), metrics.metric.MEAN)]))

    def add_metric(self, name, metric, y_true, y_pred, sample_weight=None):
        parts = []
        for value, kind in metric._state_parts(y_true, y_pred, sample_weight):
            if not isinstance(value, backend.Symbol):  # a constant: accumulated without a report
                parts.append((None, float(value), kind))
                continue
            shape = tuple(value.shape)
            if any(d is None for d in shape):
                raise ValueError(f"Metric {name!r}: a part of its state has shape {shape}, "
                                 "which depends on the batch size; parts must be reduced "
                                 "over the batch")
            parts.append((self._add_node(value, shape, kind == metrics.metric.MEAN), shape, kind))
        self.entries.append((metric, parts))
        self.metrics.append(metric)
        if len(self.nodes) > MAX_REPORTS:
            raise ValueError(f"Metric {name!r} ({type(metric).__name__}) brings this model's "
                             f"reported values to {len(self.nodes)}; a compiled training graph "
                             f"reports at most {MAX_REPORTS} values per step. Use fewer metrics.")

    def values(self, sums, count, batches):
        """The logged values from the accumulated reports over `count` samples in
        `batches` batches (run per batch for the callbacks' logs, so kept lean)."""
        flat = sums.tolist()
        out = []
        for metric, parts in self.entries:
            totals = []
            for start, shape, kind in parts:
                if start is None:  # `shape` holds the constant
                    totals.append(shape * (count if kind == metrics.metric.MEAN else batches))
                elif shape == ():
                    totals.append(flat[start])
                else:
                    size = int(np.prod(shape, dtype=np.int64))
                    totals.append(sums[start:start + size].reshape(shape))
            if metric is None:
                out.append(totals[0] / max(count, 1))
            else:
                out.append(metric._result_from(totals))
        return out


def prepare_target(y, spec, output_shape, index, output_name):
    """Reshapes labels once per fit the way the loss expects them, and checks them
    against the output: sparse labels have the output's shape minus its class axis, other
    built-in losses the output's own shape."""
    sparse = losses.is_sparse(spec.loss)
    out_rank = len(output_shape)
    if sparse:
        axis = getattr(spec.loss, "_fn_kwargs", {}).get("axis", -1) % out_rank  # class axis
        if y.ndim == out_rank and y.shape[axis] == 1:
            y = y.reshape(y.shape[:axis] + y.shape[axis + 1:])
        expected = output_shape[:axis] + output_shape[axis + 1:]
    else:
        if y.ndim == out_rank - 1 and output_shape[-1] == 1:
            y = y.reshape(y.shape + (1,))
        expected = output_shape
    fn = losses.underlying_function(spec.loss)
    if sparse or fn in _BUILTIN_SHAPED:
        got = (None,) + tuple(y.shape[1:])
        if len(got) != len(expected) or any(e is not None and e != g
                                            for e, g in zip(expected[1:], got[1:])):
            what = "class indices" if sparse else "targets"
            raise ValueError(f"Target {index} does not match output '{output_name}' of shape "
                             f"{_fmt(output_shape)}: {_name_of(fn)} expects {what} of shape "
                             f"{_fmt(expected)}, but received y with shape {_fmt(got)}")
    if sparse and y.size:
        classes = output_shape[axis]
        ignore = getattr(spec.loss, "ignore_class", None)
        kept = y if ignore is None else y[y != np.float32(ignore)]
        lo, hi = (float(kept.min()), float(kept.max())) if kept.size else (0.0, 0.0)
        if lo < 0 or (classes is not None and hi >= classes) or not np.all(y == np.floor(y)):
            raise ValueError(f"Target {index} (output '{output_name}'): sparse labels must be "
                             f"integers in [0, {classes}); received values in [{lo:g}, {hi:g}]")
    return np.ascontiguousarray(y, dtype=np.float32)


def masked_weight(mask, sample_weight, reduction):
    """Keras 3's apply_mask: a (batch, steps) mask of the prediction joins the sample
    weights; for the averaging reductions kept entries weigh total / kept, so the mean runs
    over the kept steps only (0 when none is kept)."""
    weight = mask
    if reduction in ("sum_over_batch_size", "mean"):
        ones = backend.op("add", [backend.op("mul", [mask, np.float32(0.0)]), np.float32(1.0)])
        total = backend.op("sum", [ones], ints=[0])  # keepdims 0, every axis
        kept = backend.op("sum", [mask], ints=[0])
        weight = backend.op("mul", [mask, losses._divide_no_nan(total, kept)])
    if sample_weight is None:
        return weight
    if sample_weight.ndim < weight.ndim:  # per-sample weights broadcast over the steps
        sample_weight = backend.op("reshape", [sample_weight],
                                   ints=[-1] + [1] * (weight.ndim - sample_weight.ndim))
    return backend.op("mul", [weight, sample_weight])


def metric_weight(metric, sample_weight, mask):
    """The weights a compiled metric sees: Keras 3's mean metrics (accuracy, mse, ...)
    count only the kept steps of a masked prediction (the mask joins the sample weights,
    0/1); other metrics ignore masks, as Keras's do."""
    if mask is None or not isinstance(metric, metrics.MeanMetricWrapper):
        return sample_weight
    return masked_weight(mask, sample_weight, "sum")


def loss_value(loss, y_true, y_pred, sample_weight=None, mask=None):
    """A scalar loss Symbol: Loss objects reduce themselves; functions give per-sample
    values that are averaged over the batch ("sum_over_batch_size", as Keras wraps them).
    Sample weights multiply the values before that mean (they do not divide it). A mask of
    the prediction (batch, steps) weighs out the masked steps, as Keras 3."""
    if mask is not None:
        reduction = getattr(loss, "reduction", "sum_over_batch_size")
        sample_weight = masked_weight(mask, sample_weight, reduction)
    if isinstance(loss, losses.Loss):
        if sample_weight is None:
            return loss(y_true, y_pred)
        return loss(y_true, y_pred, sample_weight=sample_weight)
    if not losses.is_sparse(loss):
        # Keras wraps a loss function in LossFunctionWrapper, which first reconciles the
        # ranks of (N,) and (N, 1) tensors; custom functions get the same.
        y_true, y_pred = match_ranks(y_true, y_pred)
    return losses.reduce_values(loss(y_true, y_pred), "sum_over_batch_size", sample_weight)


def add_penalties(total, penalties):
    """total + each penalty (add_loss values, activity and weight regularization), summed to
    a scalar first when it is not one (Keras sums every additional loss)."""
    for penalty in penalties:
        if not isinstance(penalty, (backend.Tensor, backend.Symbol)):
            penalty = np.float32(penalty)
        elif tuple(penalty.shape) != ():
            penalty = backend.op("sum", [penalty], ints=[0])
        total = backend.op("add", [total, penalty])
    return total


def mean_of(values):
    return backend.op("mean", [values], ints=[0])


def metric_log_names(unweighted, weighted, output_names):
    """Log names of the compiled metrics as Keras's CompileMetrics.result() makes them:
    `unweighted`/`weighted` are lists of (output index, metric name); several outputs
    prefix the output's name; a repeated name gets _1, _2, ...; a weighted metric whose
    name is taken becomes weighted_<name>."""
    multi = len(output_names) > 1
    counters, out_u, out_w = {}, [], []
    for i, name in unweighted:
        full = f"{output_names[i]}_{name}" if multi else name
        if full in counters:
            index = counters[full]
            counters[full] += 1
            full = f"{full}_{index}"
        else:
            counters[full] = 1
        out_u.append(full)
    for i, name in weighted:
        full = f"{output_names[i]}_{name}" if multi else name
        if full in counters:
            full = f"{output_names[i]}_weighted_{name}" if multi else f"weighted_{name}"
            if full in counters:
                index = counters[full]
                counters[full] += 1
                full = f"{full}_{index}"
            else:
                counters[full] = 1
        else:
            counters[full] = 1
        out_w.append(full)
    return out_u, out_w


def weighted_total(values, weights):
    total = None
    for value, weight in zip(values, weights):
        term = value if weight == 1.0 else backend.op("mul", [value, np.float32(weight)])
        total = term if total is None else backend.op("add", [total, term])
    return total
