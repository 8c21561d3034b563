"""Sequential: a stack of single-input, single-output layers.

It is a functional model under the hood: once its input shape is known (an Input(...)
first, `input_shape=` on the first layer, or the first data seen) the layers are called
on a KerasTensor in order and the resulting graph is what runs."""
from ..layers.input import InputLayer
from ..layers.keras_tensor import KerasTensor
from ..layers.layer import Layer
from ..utils.naming import auto_name
from .model import Model


class Sequential(Model):
    def __init__(self, layers=None, trainable=True, name=None):
        super().__init__(name=name or auto_name("Sequential"), trainable=trainable)
        self._stack = []
        self._input_layer = None
        for layer in layers or ():
            self.add(layer, rebuild=False)
        self._rebuild()

    def add(self, layer, rebuild=True):
        if isinstance(layer, KerasTensor) and layer.node is not None and isinstance(
                layer.node.layer, InputLayer):
            layer = layer.node.layer
        if not isinstance(layer, Layer):
            raise TypeError("Only instances of `cnn.layers.Layer` can be added to a "
                            f"Sequential model. Received: {layer!r} (of type {type(layer)})")
        if isinstance(layer, InputLayer):
            if self._input_layer is not None or self._stack:
                raise ValueError(f"Sequential model '{self.name}' already has layers; an "
                                 "Input can only be its first element.")
            self._input_layer = layer
        else:
            if any(layer is l for l in self._stack):
                raise ValueError(f"Layer '{layer.name}' is already in Sequential model "
                                 f"'{self.name}'; a layer can appear only once.")
            if not self._stack and self._input_layer is None and layer._input_shape_arg:
                self._input_layer = InputLayer(shape=layer._input_shape_arg,
                                               batch_size=layer._batch_size_arg)
            self._stack.append(layer)
        if rebuild:
            self._rebuild()

    def pop(self, rebuild=True):
        if not self._stack:
            raise IndexError(f"There are no layers in the model '{self.name}'.")
        layer = self._stack.pop()
        if rebuild:
            self._rebuild()
        return layer

    def _rebuild(self):
        """(Re)wires the stack on the input, building each layer's weights."""
        if self._input_layer is None or not self._stack:
            self._graph = None
            self.built = False
            self._graph_cache.clear()
            return
        x = self._input_layer.output
        for layer in self._stack:
            x = layer(x)
            if isinstance(x, (list, tuple)):
                raise ValueError(f"All layers in a Sequential model should have a single "
                                 f"output, but layer '{layer.name}' has {len(x)} outputs.")
        self._set_graph(self._input_layer.output, x)

    def build(self, input_shape=None):
        if self._graph is not None:
            return
        if not self._stack:
            raise ValueError(f"Sequential model '{self.name}' has no layers yet, so it cannot "
                             "be built or run. Add layers first.")
        if input_shape is None:
            raise ValueError(f"Sequential model '{self.name}' needs an input shape to build.")
        if isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], tuple):
            raise ValueError(f"Sequential model '{self.name}' takes one input; received "
                             f"shapes {input_shape}")
        self._input_layer = InputLayer(batch_shape=(None,) + tuple(input_shape)[1:])
        self._rebuild()

    @property
    def layers(self):
        return list(self._stack)

    def _sublayers(self):
        return list(self._stack)

    def _require_graph(self, what):
        if self._graph is None and not self._stack:
            raise ValueError(f"Sequential model '{self.name}' has no layers yet, so it has no "
                             f"{what}. Add layers first.")
        return super()._require_graph(what)

    def _ensure_built(self, input_shapes):
        if self._graph is None:
            if len(input_shapes) != 1:
                raise ValueError(f"Sequential model '{self.name}' takes one input; received "
                                 f"{len(input_shapes)} input arrays.")
            self.build(input_shapes[0])

    def get_config(self):
        config = super().get_config()
        config["layers"] = [{"class_name": type(l).__name__, "config": l.get_config()}
                            for l in self._stack]
        return config
