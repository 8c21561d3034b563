"""Lambda: wraps a function of `cnn.ops` as a layer."""
import importlib
import inspect

from .. import backend
from .keras_tensor import flatten
from .layer import Layer, _CALL


class Lambda(Layer):
    """Wraps a function of tensors as a layer: `Lambda(lambda x: cnn.ops.square(x))`.

    The function is called with the layer's input (a tensor, or the list it was given) and
    must compute with `cnn.ops` (or tensor operators), which run the engine's kernels
    eagerly and add graph nodes when a model is compiled, so the same Lambda works in
    `model(x)`, in a GradientTape and inside `fit`. NumPy functions do not work inside a
    compiled model. A Lambda has no weights: use a Layer subclass for anything trainable.

    Examples:

    >>> x = cnn.layers.Input((4,))
    >>> y = cnn.layers.Lambda(lambda t: cnn.ops.multiply(t, 2.0))(x)

    Args:
        function: the function to wrap. It takes the input as its first argument; if it has
            a `training` argument, the layer's training flag is passed to it.
        output_shape: the output's shape without the batch axis (a tuple), or a function
            of the input shape (with the batch axis) returning the output shape. By default
            it is found by running `function` on symbolic inputs.
        arguments: a dict of extra keyword arguments for `function` (default None).
        **kwargs: base Layer arguments (name, trainable, dtype, ...).
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda '{self.name}': `function` must be callable; received "
                            f"{function!r}")
        if mask is not None:
            raise ValueError(f"Lambda '{self.name}': masking is not supported in cnn; "
                             "received mask=" + repr(mask))
        self.function = function
        self.arguments = dict(arguments or {})
        self._output_shape = (tuple(output_shape) if isinstance(output_shape, list)
                              else output_shape)
        try:
            params = inspect.signature(function).parameters
        except (TypeError, ValueError):
            params = {}
        self._fn_expects_training = "training" in params

    def call(self, inputs, training=None):
        kwargs = dict(self.arguments)
        if self._fn_expects_training:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_output_shape(self, input_shape):
        if self._output_shape is None:
            return self._traced_shape(input_shape)
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        first = input_shape[0] if _several(input_shape) else input_shape
        batch = first[0] if first else None
        out = self._output_shape
        if isinstance(out, list) or (out and isinstance(out[0], (tuple, list))):
            return [(batch,) + tuple(s) for s in out]
        return (batch,) + tuple(out)

    def _traced_shape(self, input_shape):
        """Runs the function on Symbols of a scratch graph and reads their shapes."""
        several = _several(input_shape)
        shapes = [tuple(s) for s in input_shape] if several else [tuple(input_shape)]
        builder = backend.GraphBuilder()
        symbols = [builder.input(s[1:]) for s in shapes]
        record = _CALL["record"]
        _CALL["record"] = False
        try:
            out = self.call(symbols if several else symbols[0])
        except Exception as e:
            raise ValueError(f"Lambda '{self.name}' could not infer its output shape by "
                             f"running its function on inputs of shape "
                             f"{shapes if several else shapes[0]}: {e}. Check the function, "
                             "or pass `output_shape`.") from e
        finally:
            _CALL["record"] = record
        if isinstance(out, (list, tuple)):
            return [tuple(s.shape) for s in flatten(out)]
        if not isinstance(out, backend.Symbol):
            raise TypeError(f"Lambda '{self.name}': its function must return tensors computed "
                            f"with cnn.ops; it returned {type(out).__name__}")
        return tuple(out.shape)

    def get_config(self):
        """The base config plus `function` (a dict naming its module and name; a Python
        lambda is stored by its source text when it can be found, and cannot be rebuilt
        from it), `output_shape` when given, and `arguments`."""
        config = {**super().get_config(), "function": _describe(self.function),
                  "arguments": dict(self.arguments)}
        if self._output_shape is not None:
            config["output_shape"] = (_describe(self._output_shape)
                                      if callable(self._output_shape) else self._output_shape)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["function"] = _resolve(config["function"], config.get("name"))
        if callable(config.get("output_shape")) or isinstance(config.get("output_shape"), dict):
            config["output_shape"] = _resolve(config["output_shape"], config.get("name"))
        return cls(**config)


def _several(shape):
    """Whether `shape` is a list of shapes (a layer called on several inputs)."""
    return isinstance(shape, list) and bool(shape) and isinstance(shape[0], (tuple, list))


def _describe(fn):
    name = getattr(fn, "__qualname__", getattr(fn, "__name__", type(fn).__name__))
    entry = {"module": getattr(fn, "__module__", None), "function_name": name}
    if "<lambda>" in name or "<locals>" in name:
        try:
            entry["source"] = inspect.getsource(fn).strip()
        except (OSError, TypeError):
            pass
    return entry


def _resolve(entry, layer_name):
    if callable(entry):
        return entry
    name, module = entry.get("function_name", ""), entry.get("module")
    if "<lambda>" in name or "<locals>" in name or not module:
        raise ValueError(f"Lambda '{layer_name}': the function {name!r} cannot be rebuilt from "
                         "its config (a Python lambda or local function is not importable); "
                         "pass the function itself in the config as `function`.")
    obj = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj
