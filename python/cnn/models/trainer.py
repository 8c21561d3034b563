"""compile/fit/evaluate/predict.

Each (input shapes, target shapes, trainable set) gets one engine graph, compiled once and
cached on the model; the batch dim stays symbolic, so the last, smaller batch reuses it.
Per batch, Python only slices arrays, calls the graph, and folds the reported scalars
into running means weighted by batch size (Keras's loss and mean-metric semantics)."""
import numpy as np

from .. import backend, callbacks as callbacks_module
from ..utils import rng
from . import compile_utils, data


class GraphCache:
    def __init__(self):
        self._graphs = {}

    def clear(self):
        self._graphs.clear()

    def values(self):
        return list(self._graphs.values())

    def get(self, key, factory):
        graph = self._graphs.get(key)
        if graph is None:
            graph = self._graphs[key] = factory()
        return graph


# ---- compile ------------------------------------------------------------------------------

def compile_model(model, optimizer, loss, loss_weights, metrics, kwargs):
    unsupported = {k: v for k, v in kwargs.items()
                   if v is not None and k not in ("run_eagerly", "jit_compile", "auto_scale_loss",
                                                  "steps_per_execution")}
    if unsupported:
        raise TypeError(f"compile() got unsupported argument(s): {sorted(unsupported)}")
    model._compile_spec = compile_utils.CompileSpec(optimizer, loss, loss_weights, metrics)
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
    """The compiled forward + loss + metrics graph, and the names of what it reports."""

    def __init__(self, model, x_shapes, y_shapes, output_specs, output_names):
        builder = backend.GraphBuilder()
        names = _input_names(model, len(x_shapes))
        xs = [builder.input(s[1:], n) for s, n in zip(x_shapes, names)]
        outs = model._forward(xs, training=True)
        ts = [builder.input(s[1:], f"{n}_target") for s, n in zip(y_shapes, output_names)]
        multi = len(outs) > 1
        loss_values, weights, loss_names, metric_syms, metric_names = [], [], [], [], []
        for spec, t, o, name, ys in zip(output_specs, ts, outs, output_names, y_shapes):
            if spec.loss is not None:
                loss_values.append(compile_utils.loss_value(spec.loss, t, o))
                weights.append(spec.weight)
                loss_names.append(f"{name}_loss")
            for metric_name, fn in compile_utils.resolve_metrics(spec, ys, tuple(o.shape)):
                metric_syms.append(compile_utils.mean_of(fn(t, o)))
                metric_names.append(f"{name}_{metric_name}" if multi else metric_name)
        if not loss_values:
            raise ValueError(f"Model '{model.name}' has no loss for any output.")
        total = compile_utils.weighted_total(loss_values, weights)
        reports = [total] + (loss_values if multi else []) + metric_syms
        self.names = ["loss"] + (loss_names if multi else []) + metric_names
        self.trainable = model.trainable_variables
        self.graph = backend.CompiledGraph(builder, xs, outs, targets=ts, loss=total,
                                           reports=reports, trainable=self.trainable)


def _train_graph(model, spec, xs, ys, output_names):
    key = ("train", tuple(a.shape[1:] for a in xs), tuple(a.shape[1:] for a in ys),
           tuple(id(v) for v in model.trainable_variables))
    return model._graph_cache.get(key, lambda: TrainGraph(
        model, [(None,) + a.shape[1:] for a in xs], [(None,) + a.shape[1:] for a in ys],
        spec.outputs, output_names))


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


class RunningMeans:
    """Batch-size-weighted means of the reported scalars; logs in Keras's sorted order."""

    def __init__(self, names):
        self.names = names
        self.order = sorted(range(len(names)), key=lambda i: names[i])
        self.sums = np.zeros(len(names))
        self.count = 0

    def add(self, values, n):
        self.sums += np.asarray(values, dtype=np.float64) * n
        self.count += n

    def logs(self, prefix=""):
        means = self.sums / max(self.count, 1)
        return {prefix + self.names[i]: float(means[i]) for i in self.order}

    def in_order(self):
        return [float(v) for v in self.sums / max(self.count, 1)]


def _verbosity(verbose):
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2, True, False):
        raise ValueError(f"`verbose` must be 'auto', 0, 1 or 2; received {verbose!r}")
    return int(verbose)


def _callback_list(model, callbacks, verbose, params, history=True):
    cbs = list(callbacks or [])
    bad = [c for c in cbs if not isinstance(c, callbacks_module.Callback)]
    if bad:
        raise TypeError(f"`callbacks` must be cnn.callbacks.Callback instances; received "
                        f"{bad[0]!r}")
    hist = None
    if history:
        hist = callbacks_module.History()
        cbs.append(hist)
    if verbose:
        cbs.append(callbacks_module.ProgbarLogger())
    return callbacks_module.CallbackList(cbs, model, {**params, "verbose": verbose}), hist


# ---- fit -------------------------------------------------------------------------------------

def fit(model, x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data,
        shuffle, class_weight, sample_weight, initial_epoch, steps_per_epoch, validation_steps,
        validation_batch_size, validation_freq):
    for name, value in (("class_weight", class_weight), ("sample_weight", sample_weight),
                        ("steps_per_epoch", steps_per_epoch),
                        ("validation_steps", validation_steps)):
        if value is not None:
            raise NotImplementedError(f"fit(): `{name}` is not supported yet")
    spec = _require_compiled(model)
    batch_size = data.check_batch_size(batch_size)
    verbose = _verbosity(verbose)
    xs, ys, n, out_names = _prepare_xy(model, x, y, spec)
    val = None
    if validation_data is not None:
        if not isinstance(validation_data, (list, tuple)) or len(validation_data) not in (2, 3):
            raise ValueError("`validation_data` must be a tuple (x_val, y_val); received "
                             f"{type(validation_data).__name__}")
        if len(validation_data) == 3 and validation_data[2] is not None:
            raise NotImplementedError("fit(): validation sample weights are not supported yet")
        vx, vy, vn, _ = _prepare_xy(model, validation_data[0], validation_data[1], spec)
        val = (vx, vy)
    elif validation_split:
        (xs, ys), val = data.split_validation(xs, ys, n, validation_split)
        n = xs[0].shape[0]
    graph = _train_graph(model, spec, xs, ys, out_names)
    state = spec.optimizer._state
    slices = data.batch_slices(n, batch_size)
    cbs, history = _callback_list(model, callbacks, verbose, {"epochs": epochs,
                                                              "steps": len(slices)})
    model.stop_training = False
    generator = rng.global_generator()
    buffers = model._gather_buffers
    step_seed = rng.draw_seed()
    cbs.on_train_begin()
    logs = {}
    for epoch in range(initial_epoch, epochs):
        cbs.on_epoch_begin(epoch)
        perm = generator.permutation(n) if shuffle else None
        running = RunningMeans(graph.names)
        for step, s in enumerate(slices):
            cbs.on_train_batch_begin(step)
            if perm is None:
                bx, by = [a[s] for a in xs], [b[s] for b in ys]
            else:
                idx = perm[s]
                bx = [buffers.gather(i, a, idx, batch_size) for i, a in enumerate(xs)]
                by = [buffers.gather(-1 - i, b, idx, batch_size) for i, b in enumerate(ys)]
            step_seed = (step_seed + 1) & 0x7FFFFFFFFFFFFFFF
            values = graph.graph.train_step(bx, by, state, step_seed)
            running.add(values, s.stop - s.start)
            cbs.on_train_batch_end(step, running.logs())
            if model.stop_training:
                break
        logs = running.logs()
        if val is not None and (epoch + 1) % validation_freq == 0:
            val_batch = data.check_batch_size(validation_batch_size or batch_size)
            logs.update(_evaluate_arrays(graph, val[0], val[1], val_batch, cbs).logs("val_"))
        cbs.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    cbs.on_train_end(logs)
    return history


# ---- evaluate ----------------------------------------------------------------------------

def _evaluate_arrays(graph, xs, ys, batch_size, cbs):
    running = RunningMeans(graph.names)
    cbs.on_test_begin()
    for step, s in enumerate(data.batch_slices(xs[0].shape[0], batch_size)):
        cbs.on_test_batch_begin(step)
        values = graph.graph.evaluate([a[s] for a in xs], [b[s] for b in ys])
        running.add(values, s.stop - s.start)
        cbs.on_test_batch_end(step, running.logs())
    cbs.on_test_end(running.logs())
    return running


def evaluate(model, x, y, batch_size, verbose, sample_weight, steps, callbacks, return_dict):
    if sample_weight is not None or steps is not None:
        raise NotImplementedError("evaluate(): `sample_weight` and `steps` are not supported yet")
    spec = _require_compiled(model)
    batch_size = data.check_batch_size(batch_size)
    verbose = _verbosity(verbose)
    xs, ys, n, out_names = _prepare_xy(model, x, y, spec)
    graph = _train_graph(model, spec, xs, ys, out_names)
    cbs, _ = _callback_list(model, callbacks, verbose,
                            {"epochs": 1, "steps": len(data.batch_slices(n, batch_size))},
                            history=False)
    running = _evaluate_arrays(graph, xs, ys, batch_size, cbs)
    if return_dict:
        return running.logs()
    values = running.in_order()  # Keras's order: loss, per-output losses, metrics
    return values[0] if len(values) == 1 else values


def metrics_names(model):
    graphs = [g for g in model._graph_cache.values() if isinstance(g, TrainGraph)]
    return list(graphs[-1].names) if graphs else []


# ---- predict -------------------------------------------------------------------------------

def predict(model, x, batch_size, verbose, steps=None, callbacks=None, whole=False):
    if steps is not None:
        raise NotImplementedError("predict(): `steps` is not supported yet")
    xs = _prepare_x(model, x)
    n = data.check_cardinality(xs)
    batch_size = n if whole else data.check_batch_size(batch_size)
    verbose = 0 if whole else _verbosity(verbose)
    graph = _predict_graph(model, xs)
    slices = data.batch_slices(n, batch_size)
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

def train_on_batch(model, x, y, return_dict):
    spec = _require_compiled(model)
    xs, ys, _, out_names = _prepare_xy(model, x, y, spec)
    graph = _train_graph(model, spec, xs, ys, out_names)
    values = graph.graph.train_step(xs, ys, spec.optimizer._state, rng.draw_seed())
    names = graph.names
    vals = [float(v) for v in values]
    if return_dict:
        return {names[i]: vals[i] for i in sorted(range(len(names)), key=lambda i: names[i])}
    return vals[0] if len(vals) == 1 else vals


def test_on_batch(model, x, y, return_dict):
    spec = _require_compiled(model)
    xs, ys, _, out_names = _prepare_xy(model, x, y, spec)
    graph = _train_graph(model, spec, xs, ys, out_names)
    vals = [float(v) for v in graph.graph.evaluate(xs, ys)]
    names = graph.names
    if return_dict:
        return {names[i]: vals[i] for i in sorted(range(len(names)), key=lambda i: names[i])}
    return vals[0] if len(vals) == 1 else vals
