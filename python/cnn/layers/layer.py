"""The Layer base class: weights, build-on-first-call, and the three ways a layer runs.

`layer(x)` on KerasTensors records a Node (functional API) and infers the output shape;
on NumPy arrays or eager Tensors it computes now through the engine (and is recorded on
any active GradientTape); on graph Symbols it adds nodes to the graph being compiled.
Subclasses write build(input_shape) and call(inputs) once for all three."""
import inspect
import math

import numpy as np

from .. import backend, initializers
from ..utils.naming import auto_name
from .input_spec import check_input_compatibility
from .keras_tensor import KerasTensor, Node, any_keras_tensor, flatten, pack_like


def shape_of(x):
    shape = getattr(x, "shape", None)
    return tuple(shape) if shape is not None else tuple(np.shape(x))


def _standardize_shape(shape):
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    return tuple(None if d is None else int(d) for d in shape)


class Layer:
    def __init__(self, trainable=True, name=None, dtype=None, input_shape=None,
                 input_dim=None, batch_size=None, **kwargs):
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

    def add_weight(self, shape=None, initializer=None, dtype=None, trainable=True,
                   autocast=True, aggregation="none", name=None):
        # Keras's `regularizer` and `constraint` are not accepted: cnn has neither yet.
        shape = _standardize_shape(shape or ())
        if any(d is None or d < 0 for d in shape):
            raise ValueError(f"Layer '{self.name}': weight '{name}' needs a fully known, "
                             f"non-negative shape; got {shape}")
        init = initializers.get(initializer if initializer is not None else "glorot_uniform")
        value = np.ascontiguousarray(init(shape), dtype=np.float32).reshape(shape)
        var = backend.Variable(value, name=name or f"variable_{len(self._own_weights)}",
                               trainable=trainable)
        self._own_weights.append(var)
        return var

    def _sublayers(self):
        return []

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
        self._check_and_build(shapes)
        return self.call(inputs, **self._call_kwargs(training, kwargs))

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
        out = self.call(pack_like(inputs, symbols), **kwargs)
        out_flat = flatten(out)
        if isinstance(out, (list, tuple)):
            return [tuple(s.shape) for s in out_flat]
        return tuple(out_flat[0].shape)

    # ---- config ---------------------------------------------------------------------

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "dtype": "float32"}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


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
