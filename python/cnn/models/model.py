"""Model: a Layer made of layers, with compile/fit/evaluate/predict.

`Model(inputs, outputs)` is a functional model over recorded KerasTensor nodes;
subclasses may instead define their layers as attributes and write call(). Training runs
through compiled engine graphs (see trainer.py); `model(x)` runs eagerly."""
import numpy as np

from .. import _C, backend
from ..layers.keras_tensor import flatten, pack_like
from ..layers.layer import Layer
from ..utils.naming import auto_name
from . import data, summary as summary_module
from . import saving, trainer
from .functional import FunctionalGraph


class Model(Layer):
    def __init__(self, inputs=None, outputs=None, name=None, trainable=True, **kwargs):
        functional = inputs is not None or outputs is not None
        default = "Functional" if functional and type(self) is Model else type(self).__name__
        super().__init__(name=name or auto_name(default), trainable=trainable, **kwargs)
        self._graph = None
        self._tracked = []
        self.stop_training = False
        self.history = None
        self.optimizer = None
        self.compiled = False
        self._compile_spec = None
        self._graph_cache = trainer.GraphCache()
        self._gather_buffers = data.GatherBuffers()  # shuffled batches, reused across fits
        if functional:
            if inputs is None or outputs is None:
                raise ValueError("A functional Model needs both `inputs` and `outputs`; "
                                 f"received inputs={inputs!r}, outputs={outputs!r}")
            self._set_graph(inputs, outputs)

    def _set_graph(self, inputs, outputs):
        self._graph = FunctionalGraph(inputs, outputs, self.name)
        self._input_structure, self._output_structure = inputs, outputs
        self.built = True
        self._graph_cache.clear()

    def __setattr__(self, name, value):
        # Subclassed models: layers assigned as attributes own the model's weights.
        if isinstance(value, Layer):
            tracked = self.__dict__.setdefault("_tracked", [])
            if all(value is not t for t in tracked):
                tracked.append(value)
        super().__setattr__(name, value)

    # ---- structure ------------------------------------------------------------------

    @property
    def layers(self):
        if self._graph is not None:
            return list(self._graph.layers)
        return list(self._tracked)

    def _sublayers(self):
        return self.layers

    def get_layer(self, name=None, index=None):
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: "
                         f"{[l.name for l in self.layers]}.")

    def _require_graph(self, what):
        if self._graph is None:
            raise ValueError(f"Model '{self.name}' has no inputs yet (it is not built), so it "
                             f"has no {what}. Give it an Input(...), or call/fit/predict it on "
                             "data first.")
        return self._graph

    @property
    def inputs(self):
        return list(self._require_graph("inputs").inputs)

    @property
    def outputs(self):
        return list(self._require_graph("outputs").outputs)

    @property
    def input(self):
        return self._input_structure if self._graph is not None else self._require_graph("input")

    @property
    def output(self):
        return self._output_structure if self._graph is not None else self._require_graph("output")

    @property
    def input_shape(self):
        shapes = [t.shape for t in self.inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = [t.shape for t in self.outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def input_names(self):
        return [t.node.layer.name if t.node is not None else t.name for t in self.inputs]

    @property
    def output_names(self):
        if self._graph is None:
            return None
        return [t.node.layer.name for t in self._graph.outputs]

    def _single_output(self):
        return self._graph is not None and not isinstance(self._output_structure, (list, tuple))

    # ---- running ----------------------------------------------------------------------

    def _check_and_build(self, shapes):
        if not self.built:
            self.build(shapes[0] if len(shapes) == 1 else shapes)
        if self._graph is not None:
            self._graph.check_input_shapes([(None,) + tuple(s[1:]) for s in shapes], self.name)

    def build(self, input_shape):
        """Functional models are built on creation; subclasses build their layers by
        running call() on the first data."""
        self.built = True

    def __call__(self, inputs, *args, training=None, **kwargs):
        # Inference on one array with no tape recording: the compiled program, one C call,
        # instead of an eager op per layer. Results are the same kernels' outputs. Layers
        # that add losses run eagerly instead, so `losses` reflects this call, as in Keras;
        # so do models with a build-time training= (MC dropout) when the call leaves it unset.
        if not training and not args and not kwargs and not _C.tapes_active() and \
                not self._may_add_losses() and \
                (training is False or not self._has_fixed_training()):
            outs = trainer.predict_small(self, inputs)
            if outs is not None:
                return _C_tensors(outs)
        return super().__call__(inputs, *args, training=training, **kwargs)

    def _has_fixed_training(self):
        """Whether a layer was called with an explicit training= at build time (MC
        dropout): then `model(x)` must run eagerly so that value applies."""
        return self._graph is not None and any(
            node.kwargs.get("_fixed_training") is not None for node in self._graph.nodes)

    def call(self, inputs, training=None):
        if self._graph is None:
            raise ValueError(f"Model '{self.name}' has no inputs and no call(): create it as "
                             "Model(inputs, outputs), or subclass Model and implement call().")
        outputs = self._graph.run(flatten(inputs), training=training)
        return pack_like(self._output_structure, outputs) if isinstance(
            self._output_structure, (list, tuple)) else outputs[0]

    def _forward(self, values, training=None, output_masks=None):
        """Flat values in (one per model input), flat outputs out; used to compile graphs.
        `output_masks`, a list, receives the outputs' masks (functional models)."""
        if self._graph is not None:
            return self._graph.run(values, training=training, output_masks=output_masks)
        inputs = values[0] if len(values) == 1 else list(values)
        return flatten(Layer.__call__(self, inputs, training=training))

    def _ensure_built(self, input_shapes):
        """Builds a model that has no inputs yet from the shapes of the first data."""
        if self._graph is None and not self.built:
            shapes = [(None,) + tuple(s[1:]) for s in input_shapes]
            self.build(shapes[0] if len(shapes) == 1 else shapes)

    # ---- training API (trainer.py does the work) --------------------------------------

    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, **kwargs):
        """`metrics` ignore sample weights; `weighted_metrics` are weighted by them
        (sum(value * weight) / sum(weight)), as in Keras."""
        trainer.compile_model(self, optimizer, loss, loss_weights, metrics, weighted_metrics,
                              kwargs)

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        return trainer.fit(self, x, y, batch_size=batch_size, epochs=epochs, verbose=verbose,
                           callbacks=callbacks, validation_split=validation_split,
                           validation_data=validation_data, shuffle=shuffle,
                           class_weight=class_weight, sample_weight=sample_weight,
                           initial_epoch=initial_epoch, steps_per_epoch=steps_per_epoch,
                           validation_steps=validation_steps,
                           validation_batch_size=validation_batch_size,
                           validation_freq=validation_freq)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        return trainer.evaluate(self, x, y, batch_size=batch_size, verbose=verbose,
                                sample_weight=sample_weight, steps=steps, callbacks=callbacks,
                                return_dict=return_dict)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        one_batch = isinstance(x, np.ndarray) and x.ndim > 0 and len(x) <= (batch_size or 32)
        if verbose == 0 and steps is None and callbacks is None and one_batch:
            outs = trainer.predict_small(self, x)
            if outs is not None:
                return outs
        return trainer.predict(self, x, batch_size=batch_size, verbose=verbose, steps=steps,
                               callbacks=callbacks)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False):
        return trainer.train_on_batch(self, x, y, sample_weight, class_weight, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        return trainer.test_on_batch(self, x, y, sample_weight, return_dict)

    def predict_on_batch(self, x):
        outs = trainer.predict_small(self, x)
        if outs is not None:
            return outs
        return trainer.predict(self, x, batch_size=None, verbose=0, whole=True)

    def save(self, filepath, overwrite=True, **kwargs):
        """Saves the whole model (config, compile config, weights) to a `.keras` file in
        Keras 3's format; `cnn.models.load_model` and Keras 3 load it. A compiled model's
        optimizer state is saved too, so training resumes where it stopped."""
        from .keras_archive import save_model
        save_model(self, filepath, overwrite=overwrite, **kwargs)

    def to_json(self, **kwargs):
        """The model's config as JSON text in Keras 3's form (what `.keras` files hold in
        config.json); `cnn.models.model_from_json` rebuilds the model (without weights).
        Keyword arguments go to `json.dumps`."""
        import json
        from .model_config import serialize_model
        return json.dumps(serialize_model(self), **kwargs)

    def save_weights(self, filepath, overwrite=True):
        """Saves the model's weights to a `.weights.h5` file in Keras 3's layout (Keras
        models of the same architecture can load it, and the other way round). With
        `overwrite=False` and an existing file, asks before overwriting."""
        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch=False):
        """Loads weights saved by `save_weights` (or by Keras) from a `.weights.h5` file,
        matching layers by their place in the model; also the weights of a `.keras` file
        and Keras 2's legacy `.h5` weights (matched by the order of the layers that have
        weights). A layer whose variables do not fit (count or shapes) raises a
        ValueError, or with `skip_mismatch=True` is left as it is, with a warning."""
        saving.load_weights(self, filepath, skip_mismatch=skip_mismatch)

    @property
    def metrics_names(self):
        return trainer.metrics_names(self)

    def summary(self, line_length=None, positions=None, print_fn=None, **kwargs):
        summary_module.print_summary(self, line_length=line_length, positions=positions,
                                     print_fn=print_fn)

    def get_config(self):
        config = super().get_config()
        config["layers"] = [{"class_name": type(l).__name__, "config": l.get_config()}
                            for l in self.layers]
        return config


def _C_tensors(outs):
    """Fresh output arrays as Tensors, without copying them again."""
    if isinstance(outs, list):
        return [backend.Tensor(_C.wrap(o)) for o in outs]
    return backend.Tensor(_C.wrap(outs))
