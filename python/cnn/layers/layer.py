"""The Layer base class: weights, build-on-first-call, and the three ways a layer runs.

`layer(x)` on KerasTensors records a Node (functional API) and infers the output shape;
on NumPy arrays or eager Tensors it computes now through the engine (and is recorded on
any active GradientTape); on graph Symbols it adds nodes to the graph being compiled.
Subclasses write build(input_shape) and call(inputs) once for all three.

Losses a call adds (`add_loss`, `activity_regularizer`) are kept per layer for the last
top-level call, as Keras does; weight regularizers are applied to the weights when asked
(`losses`), and the training graph adds both kinds to its loss (see `_call_collecting_losses`
and `_weight_penalties`)."""
import inspect
import math

import numpy as np

from .. import backend, initializers, regularizers
from ..utils.naming import auto_name
from .input_spec import check_input_compatibility
from .keras_tensor import KerasTensor, Node, any_keras_tensor, flatten, pack_like


def shape_of(x):
    shape = getattr(x, "shape", None)
    return tuple(shape) if shape is not None else tuple(np.shape(x))


# The layer call in progress: only the outermost ("entry") call clears the losses recorded
# by its layer tree; `collect` is set while a training graph is built, the only time graph
# Symbols are kept as losses; `record` is off while output shapes are traced.
_CALL = {"depth": 0, "collect": False, "record": True}
# Whether any layer ever had an activity regularizer or called add_loss: until then the
# inference fast path needs no walk over the layers.
_LOSS_SOURCES = {"seen": False}


def _standardize_shape(shape):
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    return tuple(None if d is None else int(d) for d in shape)


def eager_masks(inputs):
    """The masks eager Tensors carry, packed like `inputs` (None where there is none)."""
    if isinstance(inputs, (list, tuple)):
        return [getattr(x, "_keras_mask", None) for x in inputs]
    return getattr(inputs, "_keras_mask", None)


def all_steps_mask(x):
    """A step mask that keeps every step of x (batch, ..., features), as a graph node when x
    is one: no value equals NaN."""
    if not isinstance(x, (backend.Tensor, backend.Symbol)):
        x = np.asarray(x, np.float32)
    return backend.op("not_equal_any", [x], floats=[float("nan")])


def attach_masks(outputs, masks):
    """Sets each eager output's `_keras_mask` (one mask for all, or one per output)."""
    flat = flatten(outputs)
    masks = flatten(masks) if isinstance(masks, (list, tuple)) else [masks] * len(flat)
    for out, m in zip(flat, masks):
        if isinstance(out, backend.Tensor) and not isinstance(out, backend.Variable):
            out._keras_mask = m


class Layer:
    # Masks (Keras 3's rules, applied when a model replays its layer graph): a layer that
    # supports masking hands compute_mask's result to the layers after it; one that does not
    # drops the mask. A layer whose call() takes `mask` and sets _consumes_mask gets the mask
    # of its first input.
    supports_masking = False
    _consumes_mask = False

    def compute_mask(self, inputs, previous_mask):
        """The mask of this layer's output(s) given its inputs and the mask of its first
        input (None: no mask). By default the input's mask passes through when
        `supports_masking`."""
        return previous_mask if self.supports_masking else None

    def __init__(self, activity_regularizer=None, trainable=True, name=None, dtype=None,
                 input_shape=None, input_dim=None, batch_size=None, **kwargs):
        self._losses = []
        self._regularizers = {}  # id(weight) -> (weight, regularizer)
        self._adds_losses = False
        self.activity_regularizer = activity_regularizer
        if kwargs:
            raise TypeError(f"Unrecognized keyword argument(s) passed to "
                            f"{type(self).__name__}: {sorted(kwargs)}")
        if dtype not in (None, "float32"):
            raise ValueError(f"cnn computes in float32 only; received dtype={dtype!r}")
        self.name = name or auto_name(type(self).__name__)
        self.trainable = trainable
        self.built = False
        self.input_spec = None
        self._own_weights = []
        self._inbound_nodes = []
        # Keras 2 style `input_shape=` on the first layer of a Sequential.
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        self._input_shape_arg = (_standardize_shape(input_shape)
                                 if input_shape is not None else None)
        self._batch_size_arg = batch_size

    # ---- weights --------------------------------------------------------------------

    @property
    def activity_regularizer(self):
        return self._activity_regularizer

    @activity_regularizer.setter
    def activity_regularizer(self, value):
        # Settable at any time, as in Keras; a name or config is resolved here.
        self._activity_regularizer = regularizers.get(value)
        if self._activity_regularizer is not None:
            _LOSS_SOURCES["seen"] = True

    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True,
                   autocast=True, regularizer=None, aggregation="none", name=None):
        """A new weight of this layer.

        Args:
            shape: its shape (default `()`).
            initializer: an initializer or its name (default "glorot_uniform").
            dtype: None or "float32".
            trainable: whether the optimizer updates it (default True).
            autocast: accepted for Keras compatibility (cnn computes in float32).
            regularizer: a regularizer or its name whose penalty on this weight joins the
                training loss (and `losses`) while the weight is trainable (default None).
            aggregation: accepted for Keras compatibility (no distribution in cnn).
            name: its name.
        """
        # Keras's `constraint` is not accepted: cnn has no weight constraints yet.
        regularizer = regularizers.get(regularizer)
        shape = _standardize_shape(shape or ())
        if any(d is None or d < 0 for d in shape):
            raise ValueError(f"Layer '{self.name}': weight '{name}' needs a fully known, "
                             f"non-negative shape; got {shape}")
        init = initializers.get(initializer if initializer is not None else "glorot_uniform")
        value = np.ascontiguousarray(init(shape), dtype=np.float32).reshape(shape)
        var = backend.Variable(value, name=name or f"variable_{len(self._own_weights)}",
                               trainable=trainable)
        self._own_weights.append(var)
        if regularizer is not None:
            self._regularizers[id(var)] = (var, regularizer)
        return var

    def _sublayers(self):
        """The layers this layer owns. As in Keras, a custom layer owns the layers assigned
        to its attributes (directly, or in a list, tuple or dict), in assignment order, so
        their weights train with it. Built-in wrappers and models override this."""
        out = []
        for value in vars(self).values():
            if isinstance(value, dict):
                value = list(value.values())
            items = value if isinstance(value, (list, tuple)) else [value]
            out.extend(v for v in items if isinstance(v, Layer) and v is not self)
        return out

    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        """As in Keras, freezing (or unfreezing) a layer does the same to every layer in it,
        so a BatchNormalization inside a frozen model runs in inference mode."""
        self._trainable = bool(value)
        try:
            children = self._sublayers()
        except AttributeError:  # still in __init__: no sublayers yet
            children = []
        for layer in children:
            layer.trainable = value

    def _all_weights(self, pick):
        seen, out = set(), []
        for var in pick(self):
            if id(var) not in seen:
                seen.add(id(var))
                out.append(var)
        return out

    @property
    def weights(self):
        return self._all_weights(lambda l: l._collect(trainable_only=False, frozen_only=False))

    @property
    def trainable_weights(self):
        return self._all_weights(lambda l: l._collect(trainable_only=True, frozen_only=False))

    @property
    def non_trainable_weights(self):
        return self._all_weights(lambda l: l._collect(trainable_only=False, frozen_only=True))

    def _collect(self, trainable_only, frozen_only, parent_frozen=False):
        frozen_here = parent_frozen or not self.trainable
        out = []
        for var in self._own_weights:
            is_trainable = var.trainable and not frozen_here
            if (trainable_only and not is_trainable) or (frozen_only and is_trainable):
                continue
            out.append(var)
        for layer in self._sublayers():
            out.extend(layer._collect(trainable_only, frozen_only, frozen_here))
        return out

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights
    variables = weights

    def count_params(self):
        if not self.built:
            raise ValueError(f"You tried to call `count_params` on layer '{self.name}', but "
                             "the layer isn't built. You can build it manually via: "
                             f"`{self.name}.build(batch_input_shape)`.")
        return int(sum(math.prod(v.shape) for v in self.weights))

    def get_weights(self):
        return [np.array(v.numpy()) for v in self.weights]

    def set_weights(self, weights):
        variables = self.weights
        weights = list(weights)
        if len(weights) != len(variables):
            raise ValueError(f"You called `set_weights(weights)` on layer '{self.name}' with "
                             f"a weight list of length {len(weights)}, but the layer was "
                             f"expecting {len(variables)} weights.")
        arrays = []
        for var, value in zip(variables, weights):
            value = np.asarray(value, dtype=np.float32)
            if tuple(value.shape) != tuple(var.shape):
                raise ValueError(f"Layer '{self.name}' weight '{var.name}' has shape "
                                 f"{tuple(var.shape)}, which is not compatible with the "
                                 f"provided weight shape {tuple(value.shape)}.")
            arrays.append(value)
        for var, value in zip(variables, arrays):  # all checked before any is written
            var.assign(value)

    # ---- losses -----------------------------------------------------------------------

    def add_loss(self, loss):
        """Adds a scalar loss (a tensor computed from this call's inputs or weights) to the
        layer's `losses`; model training adds it to the loss it minimizes. Call it from
        `call()`."""
        values = list(loss) if isinstance(loss, (list, tuple)) else [loss]
        for value in values:
            if not isinstance(value, (backend.Tensor, backend.Symbol)):
                raise ValueError(f"Layer '{self.name}': `add_loss()` can only be called from "
                                 "inside `build()` or `call()`, on a tensor input. Received "
                                 f"invalid value: {value!r}")
        self._adds_losses = True
        _LOSS_SOURCES["seen"] = True
        if not _CALL["record"]:
            return
        for value in values:
            # Graph Symbols count only while a training graph collects them.
            if isinstance(value, backend.Tensor) or _CALL["collect"]:
                self._losses.append(value)

    def _flat_layers(self):
        """This layer's sublayers, recursively, each once (self not included)."""
        seen, out, stack = {id(self)}, [], list(reversed(self._sublayers()))
        while stack:
            layer = stack.pop()
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            out.append(layer)
            stack.extend(reversed(layer._sublayers()))
        return out

    def _clear_losses(self):
        self._losses.clear()
        for layer in self._flat_layers():
            layer._losses.clear()

    def _call_losses(self):
        out = list(self._losses)
        for layer in self._flat_layers():
            out.extend(layer._losses)
        return out

    def _weight_penalties(self, value_of=None):
        """The regularizers' penalties on the trainable weights, in `trainable_weights`
        order; `value_of(weight)` gives what they are applied to (the weight itself, or
        its Symbol in a graph being built)."""
        found = dict(self._regularizers)
        for layer in self._flat_layers():
            found.update(layer._regularizers)
        if not found:
            return []
        out = []
        for var in self.trainable_weights:
            entry = found.get(id(var))
            if entry is not None and entry[0] is var:
                out.append(entry[1](var if value_of is None else value_of(var)))
        return out

    @property
    def losses(self):
        """The losses of the last top-level call (`add_loss`, activity regularizers; this
        layer's, then its sublayers') followed by the weight regularizers' current
        penalties on the trainable weights, as eager tensors."""
        return self._call_losses() + self._weight_penalties()

    def _may_add_losses(self):
        """Whether a call of this layer can add losses (activity regularizers, add_loss)."""
        if not _LOSS_SOURCES["seen"]:
            return False
        return any(l.activity_regularizer is not None or l._adds_losses
                   for l in [self] + self._flat_layers())

    def _call_collecting_losses(self, run):
        """Runs `run()` (which builds a training graph from this layer or model) as one
        top-level call and returns (its result, the losses its layers added: Symbols of
        that graph). They are then forgotten, so `losses` never shows graph Symbols."""
        self._clear_losses()
        saved = dict(_CALL)
        _CALL.update(depth=saved["depth"] + 1, collect=True, record=True)
        try:
            result = run()
            collected = self._call_losses()
        finally:
            _CALL.update(saved)
            self._clear_losses()
        return result, collected

    def _add_activity_penalties(self, outputs):
        """Keras's activity regularization: the regularizer's value on each output,
        divided by the output's batch size (so its weight does not change with the batch
        size), added as a loss."""
        for out in flatten(outputs):
            if not isinstance(out, (backend.Tensor, backend.Symbol, np.ndarray)) or (
                    isinstance(out, backend.Symbol) and not _CALL["collect"]):
                continue  # (a graph that does not collect losses gets no dead penalty nodes)
            penalty = self.activity_regularizer(out)
            if not isinstance(penalty, (backend.Tensor, backend.Symbol)):
                penalty = backend.convert_to_tensor(np.float32(penalty))
            if out.ndim > 0:
                penalty = _per_sample(penalty, out)
            self.add_loss(penalty)

    # ---- building and calling -------------------------------------------------------

    def build(self, input_shape):
        self.built = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        # Layers that do not override this get their output shapes by tracing call() (see
        # _infer_output_shapes), so only a direct call reaches here.
        raise TypeError(f"{type(self).__name__}: Layer subclasses must implement "
                        "compute_output_shape(input_shape) to have it called directly")

    def _maybe_build(self, input_shapes):
        if self.built:
            return
        self.build(input_shapes[0] if len(input_shapes) == 1 else list(input_shapes))
        self.built = True

    def _check_and_build(self, shapes):
        # The spec is checked before building (rank rules) and after (build pins sizes).
        check_input_compatibility(self, shapes)
        if not self.built:
            self._maybe_build(shapes)
            check_input_compatibility(self, shapes)

    def _call_kwargs(self, training, kwargs):
        params = _call_parameters(type(self))
        if training is not None and "training" in params:
            kwargs = {**kwargs, "training": training}
        return kwargs

    def __call__(self, inputs, *args, training=None, **kwargs):
        if args:
            raise TypeError(f"Layer '{self.name}' takes its inputs as one argument (use a "
                            f"list for several); received {1 + len(args)} positional arguments")
        if any_keras_tensor(inputs):
            return self._symbolic_call(inputs, training, kwargs)
        flat = flatten(inputs)
        if isinstance(inputs, (list, tuple)) and flat and all(
                isinstance(v, (int, float, np.number)) for v in flat):
            inputs = np.asarray(inputs, dtype=np.float32)  # nested Python numbers: one array
            flat = [inputs]
        shapes = [shape_of(x) for x in flat]
        if _CALL["depth"] == 0:  # the entry call: forget the previous call's losses
            self._clear_losses()
        _CALL["depth"] += 1
        builder = next((x.builder for x in flat if isinstance(x, backend.Symbol)), None)
        # Eager calls carry masks on the Tensors themselves (a model's graph carries them
        # beside its nodes, see models/functional.py).
        eager = builder is None
        first_mask = eager_masks(inputs) if eager else None
        if eager and self._takes_eager_mask(kwargs) and any(
                m is not None for m in flatten(first_mask)):
            kwargs = {**kwargs, "mask": first_mask}
        try:
            self._check_and_build(shapes)
            # While a graph is built, ops that read only weights must become nodes too
            # (e.g. a kernel transform): run eagerly they would freeze into constants.
            with backend.building(builder):
                outputs = self.call(inputs, **self._call_kwargs(training, kwargs))
            if self._activity_regularizer is not None and _CALL["record"]:
                self._add_activity_penalties(outputs)
            if eager and self.supports_masking:
                attach_masks(outputs, self.compute_mask(inputs, first_mask))
        finally:
            _CALL["depth"] -= 1
        return outputs

    def _takes_eager_mask(self, kwargs):
        """Whether an eager call hands this layer its input's mask: Keras's rule, when the
        layer consumes masks, its call() takes `mask`, none was given, and (recurrent
        layers) no initial state was given."""
        return (self._consumes_mask and "mask" in _call_parameters(type(self))
                and kwargs.get("mask") is None and kwargs.get("initial_state") is None)

    def _symbolic_call(self, inputs, training, kwargs):
        flat = flatten(inputs)
        bad = [x for x in flat if not isinstance(x, KerasTensor)]
        if bad:
            raise TypeError(f"Layer '{self.name}' was called on a mix of symbolic and "
                            f"concrete inputs; got {type(bad[0]).__name__}")
        shapes = [kt.shape for kt in flat]
        self._check_and_build(shapes)
        out_shapes = self._infer_output_shapes(inputs, flat, kwargs)
        batch = shapes[0][0] if shapes and shapes[0] else None
        outputs = [KerasTensor((batch,) + tuple(s[1:]) if s and s[0] is None else s)
                   for s in flatten_shapes(out_shapes)]
        structure = out_shapes if _is_shape_list(out_shapes) else None
        packed = pack_like([None] * len(structure), outputs) if structure else outputs[0]
        Node(self, inputs, packed, kwargs)
        return packed

    def _infer_output_shapes(self, inputs, flat, kwargs):
        """compute_output_shape when the layer has one; otherwise run call() on the Symbols
        of a scratch graph and read their shapes."""
        shapes = [kt.shape for kt in flat]
        if type(self).compute_output_shape is not Layer.compute_output_shape:
            return self.compute_output_shape(shapes[0] if len(shapes) == 1 else shapes)
        builder = backend.GraphBuilder()
        symbols = [builder.input(kt.shape[1:], kt.name) for kt in flat]
        record = _CALL["record"]
        _CALL["record"] = False  # a shape trace adds no losses
        try:
            out = self.call(pack_like(inputs, symbols), **kwargs)
        finally:
            _CALL["record"] = record
        out_flat = flatten(out)
        if isinstance(out, (list, tuple)):
            return [tuple(s.shape) for s in out_flat]
        return tuple(out_flat[0].shape)

    # ---- functional connectivity -------------------------------------------------------

    @property
    def input(self):
        """The input tensor(s) of the first call of this layer on symbolic tensors (a list
        for several), as in Keras; e.g. `Model(base.input, base.get_layer("h").output)`."""
        return self._first_node_tensors("input_tensors", "input")

    @property
    def output(self):
        """The output tensor(s) of the first call of this layer on symbolic tensors."""
        return self._first_node_tensors("output_tensors", "output")

    def _first_node_tensors(self, attr, what):
        if not self._inbound_nodes:
            raise AttributeError(f"Layer '{self.name}' has never been called on symbolic "
                                 f"tensors and thus has no defined {what}.")
        values = getattr(self._inbound_nodes[0], attr)
        return values[0] if len(values) == 1 else list(values)

    def _node_call_arguments(self, node):
        """How a recorded call is written into a model config: (positional arguments,
        keyword arguments holding tensors). Layers that pack keyword tensors into their
        node's inputs override this to write Keras's form."""
        return [node.inputs], {}

    # ---- config ---------------------------------------------------------------------

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable, "dtype": "float32"}
        if self._activity_regularizer is not None:
            config["activity_regularizer"] = regularizers.serialize(self._activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _per_sample(penalty, output):
    """penalty / batch size of `output` (0 for an empty batch, as Keras's divide_no_nan).
    In a graph the batch size is symbolic: it is counted from `output * 0 + 1` (ones, one
    per sample after a mean over the other axes), whose gradient into the output is
    exactly zero."""
    batch = output.shape[0]
    if batch is not None:
        if batch == 0:
            return backend.op("mul", [penalty, np.float32(0.0)])
        return backend.op("div", [penalty, np.float32(batch)])
    ones = backend.op("add", [backend.op("mul", [output, np.float32(0.0)]), np.float32(1.0)])
    if output.ndim > 1:
        ones = backend.op("mean", [ones], ints=[0] + list(range(1, output.ndim)))
    return backend.op("div", [penalty, backend.op("sum", [ones], ints=[0])])


def _is_shape_list(shapes):
    """True for a list of shapes (several outputs), False for one shape tuple."""
    return isinstance(shapes, list) and all(isinstance(s, (tuple, list)) for s in shapes)


def flatten_shapes(shapes):
    return list(shapes) if _is_shape_list(shapes) else [tuple(shapes)]


_CALL_PARAMS = {}


def _call_parameters(cls):
    if cls not in _CALL_PARAMS:
        sig = inspect.signature(cls.call)
        accepts_any = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
        names = set(sig.parameters)
        _CALL_PARAMS[cls] = names | ({"training"} if accepts_any else set())
    return _CALL_PARAMS[cls]
