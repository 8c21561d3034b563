"""compile/fit/evaluate/predict.

Each (input shapes, target shapes, sample-weight shapes, trainable set) gets one engine
graph, compiled once and cached on the model; the batch dim stays symbolic, so the last,
smaller batch reuses it. Sample weights (fit's sample_weight and class_weight, the third
item of validation_data, evaluate's sample_weight) are fed like targets, one array per
weighted output, and multiply the loss and weighted metrics inside the graph; a call
without weights uses a graph without them. Per batch, Python only slices arrays, calls the
graph, and folds the reported scalars into running sums (Keras's loss and metric means)."""
import math
import os
import sys
import warnings

import numpy as np

from .. import _C, backend, callbacks as callbacks_module
from ..utils import rng
from . import compile_utils, data


class GraphCache:
    def __init__(self):
        self._graphs = {}

    def clear(self):
        self._graphs.clear()

    def values(self):
        return list(self._graphs.values())

    def peek(self, key):
        return self._graphs.get(key)

    def get(self, key, factory):
        graph = self._graphs.get(key)
        if graph is None:
            graph = self._graphs[key] = factory()
        return graph


# ---- compile ------------------------------------------------------------------------------

def compile_model(model, optimizer, loss, loss_weights, metrics, weighted_metrics, kwargs):
    unsupported = {k: v for k, v in kwargs.items()
                   if v is not None and k not in ("run_eagerly", "jit_compile", "auto_scale_loss",
                                                  "steps_per_execution")}
    if unsupported:
        raise TypeError(f"compile() got unsupported argument(s): {sorted(unsupported)}")
    model._compile_spec = compile_utils.CompileSpec(optimizer, loss, loss_weights, metrics,
                                                    weighted_metrics)
    model.optimizer = model._compile_spec.optimizer
    model.compiled = True
    model._graph_cache.clear()


def _require_compiled(model, needs_loss=True):
    spec = model._compile_spec
    if spec is None:
        raise ValueError(f"You must call `compile()` before using model '{model.name}' for "
                         "training or evaluation.")
    if needs_loss and spec.loss_arg is None:
        raise ValueError(f"Model '{model.name}' was compiled without a loss; pass "
                         "`loss=` to compile() to train or evaluate it.")
    return spec


# ---- graphs ---------------------------------------------------------------------------

def _output_info(model, x_shapes):
    """Names and shapes (batch None) of the model's outputs."""
    if model._graph is not None:
        return model.output_names, [t.shape for t in model._graph.outputs]
    builder = backend.GraphBuilder()
    outs = model._forward([builder.input(s[1:], f"input_{i}") for i, s in enumerate(x_shapes)])
    names = [f"output_{i}" for i in range(len(outs))] if len(outs) > 1 else ["output"]
    return names, [tuple(o.shape) for o in outs]


def _input_names(model, count):
    if model._graph is not None:
        return model.input_names
    return [f"input_{i}" for i in range(count)]


class TrainGraph:
    """The compiled forward + loss + metrics graph, the names of what it logs, and how its
    reports become those logs.

    Reports (see compile_utils.ReportLayout): the total loss, the per-output losses
    (several outputs), then the parts of each metric's state, the metrics before the
    weighted metrics (which see the sample weights)."""

    def __init__(self, model, x_shapes, y_shapes, w_shapes, output_specs, output_names):
        builder = backend.GraphBuilder()
        names = _input_names(model, len(x_shapes))
        xs = [builder.input(s[1:], n) for s, n in zip(x_shapes, names)]
        # Losses the layers add on this forward (add_loss, activity regularizers) and the
        # weight regularizers' penalties on the parameters join the total loss in the graph.
        masks = []  # the outputs' masks (Embedding(mask_zero=True), Masking): the loss skips
        outs, penalties = model._call_collecting_losses(
            lambda: model._forward(xs, training=True, output_masks=masks))
        masks += [None] * (len(outs) - len(masks))
        penalties += model._weight_penalties(builder.param)
        ts = [builder.input(s[1:], f"{n}_target") for s, n in zip(y_shapes, output_names)]
        ws = [None if s is None else builder.input(s[1:], f"{n}_sample_weight")
              for s, n in zip(w_shapes or [None] * len(ts), output_names)]
        multi = len(outs) > 1
        loss_values, weights, loss_names = [], [], []
        for spec, t, o, w, m, name in zip(output_specs, ts, outs, ws, masks, output_names):
            if spec.loss is not None:
                loss_values.append(compile_utils.loss_value(spec.loss, t, o, w, m))
                weights.append(spec.weight)
                loss_names.append(f"{name}_loss")
        if not loss_values:
            raise ValueError(f"Model '{model.name}' has no loss for any output.")
        total = compile_utils.add_penalties(compile_utils.weighted_total(loss_values, weights),
                                            penalties)

        layout = compile_utils.ReportLayout()
        for value in [total] + (loss_values if multi else []):
            layout.add_loss(value)
        plain_ids, weighted_ids = [], []
        for ids, attr, weighted in ((plain_ids, "metric_ids", False),
                                    (weighted_ids, "weighted_metric_ids", True)):
            for i, (spec, t, o, w, m, ys) in enumerate(zip(output_specs, ts, outs, ws, masks,
                                                           y_shapes)):
                for metric_name, metric in compile_utils.resolve_metrics(
                        getattr(spec, attr), ys, tuple(o.shape)):
                    # Without sample weights a weighted metric is a plain one.
                    weight = compile_utils.metric_weight(metric, w if weighted else None, m)
                    layout.add_metric(metric_name, metric, t, o, weight)
                    ids.append((i, metric_name))
        plain_names, weighted_names = compile_utils.metric_log_names(plain_ids, weighted_ids,
                                                                     output_names)
        self.names = ["loss"] + (loss_names if multi else []) + plain_names + weighted_names
        self.layout = layout
        self.report_count = layout.size  # floats in the report array
        # evaluate()'s list order, as Keras's _flatten_metrics_in_order: the loss, the
        # metrics whose log name is their own name, the per-output losses, then the rest
        # sorted by name.
        first = ["loss"] + [m for _, m in plain_ids] + [m for _, m in weighted_ids] + \
            (loss_names if multi else [])
        index = {n: i for i, n in enumerate(self.names)}
        order = []
        for n in first:
            if n in index and index[n] not in order:
                order.append(index[n])
        order += [index[n] for n in sorted(self.names) if index[n] not in order]
        self.order = order
        self.trainable = model.trainable_variables
        # One flat buffer for the weights a step updates, in the order the optimizer walks
        # them (values are kept; variables only change where they live).
        _C.consolidate([v._t for v in self.trainable])
        self.graph = backend.CompiledGraph(
            builder, xs, outs, targets=ts + [w for w in ws if w is not None], loss=total,
            reports=layout.nodes, trainable=self.trainable)


def _weight_key(sws):
    return None if sws is None else tuple(None if w is None else w.shape[1:] for w in sws)


def _train_graph(model, spec, xs, ys, sws, output_names):
    key = ("train", tuple(a.shape[1:] for a in xs), tuple(a.shape[1:] for a in ys),
           _weight_key(sws), tuple(id(v) for v in model.trainable_variables))
    w_shapes = None if sws is None else [None if w is None else (None,) + w.shape[1:]
                                         for w in sws]
    return model._graph_cache.get(key, lambda: TrainGraph(
        model, [(None,) + a.shape[1:] for a in xs], [(None,) + a.shape[1:] for a in ys],
        w_shapes, spec.outputs, output_names))


def _fed_targets(ys, sws):
    """What a train graph takes after the inputs: the targets, then the given weights."""
    return list(ys) + ([w for w in sws if w is not None] if sws is not None else [])


def _predict_graph(model, xs):
    def build():
        builder = backend.GraphBuilder()
        names = _input_names(model, len(xs))
        inputs = [builder.input(a.shape[1:], n) for a, n in zip(xs, names)]
        outputs = model._forward(inputs, training=False)
        return backend.CompiledGraph(builder, inputs, outputs)
    return model._graph_cache.get(("predict", tuple(a.shape[1:] for a in xs)), build)


# ---- data ----------------------------------------------------------------------------------

def _prepare_x(model, x):
    count = len(model._graph.inputs) if model._graph is not None else None
    names = model.input_names if model._graph is not None else None
    xs = data.to_arrays(x, "x", names, count)
    model._ensure_built([a.shape for a in xs])
    if model._graph is not None:
        model._graph.check_input_shapes([(None,) + a.shape[1:] for a in xs], model.name)
    return xs


def _prepare_xy(model, x, y, spec):
    xs = _prepare_x(model, x)
    names, shapes = _output_info(model, [a.shape for a in xs])
    ys = data.to_arrays(y, "y", names, len(names))
    n = data.check_cardinality(xs, ys)
    spec.outputs = spec.resolve(names)
    ys = [compile_utils.prepare_target(a, s, shape, i, name) for i, (a, s, shape, name)
          in enumerate(zip(ys, spec.outputs, shapes, names))]
    return xs, ys, n, names


def _check_class_weight(class_weight, sample_weight, output_names):
    if class_weight is None:
        return
    if sample_weight is not None:
        raise ValueError("You cannot `class_weight` and `sample_weight` at the same time.")
    if len(output_names) > 1:
        raise ValueError("`class_weight` is only supported for Models with a single output.")
    if not isinstance(class_weight, dict):
        raise TypeError("`class_weight` must be a dict mapping class indices to weights; "
                        f"received {type(class_weight).__name__}")


class RunningMeans:
    """Running sums of a graph's reports over the batches of one epoch (or evaluation):
    batch means times the batch size, batch totals (counts) as they are; the logged
    values come from them (graph.layout.values). Logs come in Keras's sorted order."""

    def __init__(self, graph):
        self.names = graph.names
        self.layout = graph.layout
        self.keras_order = graph.order
        self.order = sorted(range(len(self.names)), key=lambda i: self.names[i])
        self.is_mean = np.asarray(graph.layout.is_mean, dtype=np.float64)
        self.sums = np.zeros(graph.report_count)
        self.count = 0
        self.batches = 0
        self._scales = {}

    def add(self, values, n):
        scale = self._scales.get(n)
        if scale is None:  # n for batch means, 1 for totals
            scale = self._scales[n] = self.is_mean * (n - 1) + 1.0
        self.sums += values * scale
        self.count += n
        self.batches += 1

    def _values(self):
        return self.layout.values(self.sums, self.count, self.batches)

    def logs(self, prefix=""):
        values = self._values()
        return {prefix + self.names[i]: values[i] for i in self.order}

    def in_order(self):
        values = self._values()
        return [values[i] for i in self.keras_order]


def _verbosity(verbose):
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2, True, False):
        raise ValueError(f"`verbose` must be 'auto', 0, 1 or 2; received {verbose!r}")
    return int(verbose)


def _callback_list(model, callbacks, verbose, params, history=True):
    """Keras's CallbackList for fit/evaluate/predict: the given callbacks, then a History
    (fit) and a ProgbarLogger (verbose) unless the list has them already."""
    if isinstance(callbacks, callbacks_module.CallbackList):
        cbs = list(callbacks.callbacks)
    elif isinstance(callbacks, callbacks_module.Callback):
        cbs = [callbacks]
    else:
        cbs = list(callbacks or [])
    bad = [c for c in cbs if not isinstance(c, callbacks_module.Callback)]
    if bad:
        raise TypeError(f"`callbacks` must be cnn.callbacks.Callback instances; received "
                        f"{bad[0]!r}")
    cblist = callbacks_module.CallbackList(cbs, add_history=history, add_progbar=verbose != 0,
                                           model=model, verbose=verbose, **params)
    return cblist, cblist.history


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _warn_user(message):
    """A UserWarning attributed to the first caller outside cnn."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, UserWarning, stacklevel=level)


def _limited(slices, steps, batch_size, what):
    """The first `steps` batches (all of them when steps is None), as Keras's epoch
    iterator takes them from array data (it warns when there are fewer)."""
    if steps is None:
        return slices
    if steps > len(slices):
        _warn_user(f"Your input ran out of data: {what} was given steps={steps}, but the data "
                   f"holds only {len(slices)} batch(es) of up to {batch_size} samples; it "
                   "used those.")
    return slices[:steps]


# ---- fit -------------------------------------------------------------------------------------

def fit(model, x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data,
        shuffle, class_weight, sample_weight, initial_epoch, steps_per_epoch, validation_steps,
        validation_batch_size, validation_freq):
    spec = _require_compiled(model)
    steps_per_epoch = data.check_steps(steps_per_epoch, "steps_per_epoch")
    validation_steps = data.check_steps(validation_steps, "validation_steps")
    for arg, value in (("batch_size", batch_size),
                       ("validation_batch_size", validation_batch_size)):
        if value is not None:
            data.check_batch_size(value, arg)
    verbose = _verbosity(verbose)
    _check_validation_freq(validation_freq)
    xs, ys, n, out_names = _prepare_xy(model, x, y, spec)
    _check_class_weight(class_weight, sample_weight, out_names)
    sws = data.sample_weight_arrays(sample_weight, out_names, n)
    val = None
    if validation_data is not None:
        if not isinstance(validation_data, (list, tuple)) or len(validation_data) not in (2, 3):
            raise ValueError("`validation_data` must be a tuple (x_val, y_val) or (x_val, "
                             "y_val, val_sample_weight); received "
                             f"{type(validation_data).__name__}")
        vx, vy, vn, _ = _prepare_xy(model, validation_data[0], validation_data[1], spec)
        vsw = data.sample_weight_arrays(validation_data[2] if len(validation_data) == 3
                                        else None, out_names, vn, "val_sample_weight")
        val = (vx, vy, vsw)
    elif validation_split:
        # Keras splits the sample weights with x and y (class weights apply to the
        # training part only).
        given = list(sws) if sws is not None else []
        present = [w for w in given if w is not None]
        (xs, rest), (vx, vrest) = data.split_validation(xs, ys + present, n, validation_split)
        ys, vy = rest[:len(ys)], vrest[:len(ys)]
        if sws is not None:
            it, vit = iter(rest[len(ys):]), iter(vrest[len(ys):])
            sws = [None if w is None else next(it) for w in given]
            vsw = [None if w is None else next(vit) for w in given]
        else:
            vsw = None
        val = (vx, vy, vsw)
        n = xs[0].shape[0]
    if class_weight is not None:
        sws = [data.class_weight_to_sample_weights(ys[0], class_weight)]
    graph = _train_graph(model, spec, xs, ys, sws, out_names)
    targets = _fed_targets(ys, sws)
    optimizer = spec.optimizer
    optimizer._fit_variables = list(model.trainable_variables)  # what `variables` reports
    # Keras's array batching: without a batch size, steps_per_epoch sets it.
    bs = batch_size if batch_size is not None else (
        math.ceil(n / steps_per_epoch) if steps_per_epoch else 32)
    slices = data.batch_slices(n, bs)
    steps = steps_per_epoch or len(slices)
    cbs, history = _callback_list(model, callbacks, verbose, {"epochs": epochs,
                                                              "steps": steps})
    model.stop_training = False
    generator = rng.global_generator()
    buffers = model._gather_buffers
    step_seed = rng.draw_seed()
    batch_begin = cbs.overrides("on_train_batch_begin")
    batch_end = cbs.overrides("on_train_batch_end")
    cbs.on_train_begin()
    logs = {}
    # With steps_per_epoch, epochs take consecutive runs of batches from one pass over the
    # (shuffled) data and a new pass starts only when it is used up, so an epoch that
    # meets the end of a pass is cut short (Keras's EpochIterator on arrays).
    position = None
    for epoch in range(initial_epoch, epochs):
        cbs.on_epoch_begin(epoch)
        if position is None or steps_per_epoch is None:
            perm = generator.permutation(n) if shuffle else None
            position = 0
        running = RunningMeans(graph)
        for step in range(steps):
            if position >= len(slices):
                _warn_user(
                    f"Your input ran out of data: epoch {epoch + 1} stopped after {step} of "
                    f"its steps_per_epoch={steps} steps, at the end of the {len(slices)} "
                    f"batch(es) of up to {bs} samples in the data; the next epoch starts a "
                    "new pass over it.")
                break
            s = slices[position]
            position += 1
            if batch_begin:
                cbs.on_train_batch_begin(step)
            if perm is None:
                bx, by = [a[s] for a in xs], [b[s] for b in targets]
            else:
                idx = perm[s]
                bx = [buffers.gather(i, a, idx, bs) for i, a in enumerate(xs)]
                by = [buffers.gather(-1 - i, b, idx, bs) for i, b in enumerate(targets)]
            step_seed = (step_seed + 1) & 0x7FFFFFFFFFFFFFFF
            values = graph.graph.train_step(bx, by, optimizer._step_state(), step_seed)
            running.add(values, s.stop - s.start)
            if batch_end:
                cbs.on_train_batch_end(step, running.logs())
            if model.stop_training:
                break
        if position >= len(slices):
            position = None
        logs = running.logs()
        if val is not None and _should_validate(epoch, validation_freq):
            vx, vy, vsw = val
            val_graph = _train_graph(model, spec, vx, vy, vsw, out_names)
            logs.update(_evaluate_arrays(val_graph, vx, _fed_targets(vy, vsw),
                                         validation_batch_size or batch_size, validation_steps,
                                         cbs).logs("val_"))
        cbs.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    cbs.on_train_end(logs)
    return history


def _check_validation_freq(validation_freq):
    if isinstance(validation_freq, bool) or not isinstance(
            validation_freq, (int, list)) or (isinstance(validation_freq, int)
                                              and validation_freq < 1):
        raise ValueError("Expected `validation_freq` to be a list or int. Received: "
                         f"validation_freq={validation_freq} of the type "
                         f"{type(validation_freq)}.")


def _should_validate(epoch, validation_freq):
    if isinstance(validation_freq, list):
        return epoch + 1 in validation_freq
    return (epoch + 1) % validation_freq == 0


def compiled_metrics(model):
    """The Metric objects of the model's most recent training graph (Keras's
    model.metrics, used by callbacks to tell whether a metric should grow or shrink)."""
    graphs = [g for g in model._graph_cache.values() if isinstance(g, TrainGraph)]
    return list(graphs[-1].layout.metrics) if graphs else []


# ---- evaluate ----------------------------------------------------------------------------

def _eval_batches(n, batch_size, steps, what):
    """Keras's array batching for evaluate/predict: without a batch size, `steps` sets it
    (else 32); `steps` then takes the first batches."""
    bs = batch_size if batch_size is not None else (math.ceil(n / steps) if steps else 32)
    return _limited(data.batch_slices(n, bs), steps, bs, what)


def _evaluate_arrays(graph, xs, targets, batch_size, steps, cbs):
    running = RunningMeans(graph)
    batch_begin = cbs.overrides("on_test_batch_begin")
    batch_end = cbs.overrides("on_test_batch_end")
    cbs.on_test_begin()
    for step, s in enumerate(_eval_batches(xs[0].shape[0], batch_size, steps, "evaluation")):
        if batch_begin:
            cbs.on_test_batch_begin(step)
        values = graph.graph.evaluate([a[s] for a in xs], [b[s] for b in targets])
        running.add(values, s.stop - s.start)
        if batch_end:
            cbs.on_test_batch_end(step, running.logs())
    cbs.on_test_end(running.logs())
    return running


def evaluate(model, x, y, batch_size, verbose, sample_weight, steps, callbacks, return_dict):
    spec = _require_compiled(model)
    steps = data.check_steps(steps, "steps")
    if batch_size is not None:
        data.check_batch_size(batch_size)
    verbose = _verbosity(verbose)
    xs, ys, n, out_names = _prepare_xy(model, x, y, spec)
    sws = data.sample_weight_arrays(sample_weight, out_names, n)
    graph = _train_graph(model, spec, xs, ys, sws, out_names)
    count = steps or len(data.batch_slices(n, batch_size or 32))
    cbs, _ = _callback_list(model, callbacks, verbose, {"epochs": 1, "steps": count},
                            history=False)
    running = _evaluate_arrays(graph, xs, _fed_targets(ys, sws), batch_size, steps, cbs)
    if return_dict:
        return running.logs()
    values = running.in_order()  # Keras's order: loss, metrics, per-output losses, the rest
    return values[0] if len(values) == 1 else values


def metrics_names(model):
    graphs = [g for g in model._graph_cache.values() if isinstance(g, TrainGraph)]
    return list(graphs[-1].names) if graphs else []


# ---- predict -------------------------------------------------------------------------------

def predict_small(model, x):
    """The serving path for one small array (batch-1 latency, `model(x)`): a program that an
    earlier call compiled and validated for this feature shape, run in one C call. Returns
    None when the input does not qualify, and the caller takes the general path."""
    if type(x) is not np.ndarray or x.ndim < 1 or x.shape[0] == 0 or x.dtype.kind not in "biuf":
        return None
    if x.dtype != np.float32 or not x.flags.c_contiguous:
        x = np.ascontiguousarray(x, dtype=np.float32)
    graph = model._graph_cache.peek(("predict", (x.shape[1:],)))
    if graph is None:
        if model._graph is None or len(model._graph.inputs) != 1:
            return None
        graph = _predict_graph(model, _prepare_x(model, x))  # validates, naming the layer
    outs = graph.predict([x])
    single = model._single_output() if model._graph is not None else len(outs) == 1
    return outs[0] if single else outs


def predict(model, x, batch_size, verbose, steps=None, callbacks=None, whole=False):
    steps = data.check_steps(steps, "steps")
    if batch_size is not None and not whole:
        data.check_batch_size(batch_size)
    xs = _prepare_x(model, x)
    n = data.check_cardinality(xs)
    verbose = 0 if whole else _verbosity(verbose)
    graph = _predict_graph(model, xs)
    slices = [slice(0, n)] if whole else _eval_batches(n, batch_size, steps, "predict")
    cbs, _ = _callback_list(model, callbacks, verbose, {"epochs": 1, "steps": len(slices)},
                            history=False)
    cbs.on_predict_begin()
    chunks = None
    for step, s in enumerate(slices):
        cbs.on_predict_batch_begin(step)
        outs = graph.predict([a[s] for a in xs])
        chunks = [[] for _ in outs] if chunks is None else chunks
        for store, out in zip(chunks, outs):
            store.append(np.asarray(out))
        cbs.on_predict_batch_end(step, {"outputs": outs})
    cbs.on_predict_end()
    results = [c[0] if len(c) == 1 else np.concatenate(c, axis=0) for c in chunks]
    if model._graph is not None:
        single = model._single_output()
    else:
        single = len(results) == 1
    return results[0] if single else results


# ---- single batches ----------------------------------------------------------------------------

def _batch_logs(graph, values, return_dict):
    running = RunningMeans(graph)
    running.add(values, 1)
    if return_dict:
        return running.logs()
    vals = running.in_order()
    return vals[0] if len(vals) == 1 else vals


def train_on_batch(model, x, y, sample_weight, class_weight, return_dict):
    spec = _require_compiled(model)
    xs, ys, n, out_names = _prepare_xy(model, x, y, spec)
    _check_class_weight(class_weight, sample_weight, out_names)
    sws = data.sample_weight_arrays(sample_weight, out_names, n)
    if class_weight is not None:
        sws = [data.class_weight_to_sample_weights(ys[0], class_weight)]
    graph = _train_graph(model, spec, xs, ys, sws, out_names)
    spec.optimizer._fit_variables = list(model.trainable_variables)
    values = graph.graph.train_step(xs, _fed_targets(ys, sws), spec.optimizer._step_state(),
                                    rng.draw_seed())
    return _batch_logs(graph, values, return_dict)


def test_on_batch(model, x, y, sample_weight, return_dict):
    spec = _require_compiled(model)
    xs, ys, n, out_names = _prepare_xy(model, x, y, spec)
    sws = data.sample_weight_arrays(sample_weight, out_names, n)
    graph = _train_graph(model, spec, xs, ys, sws, out_names)
    return _batch_logs(graph, graph.graph.evaluate(xs, _fed_targets(ys, sws)), return_dict)
