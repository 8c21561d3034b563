"""The layer graph of a functional model: the nodes between its inputs and outputs, in an
order that respects dependencies, and replay of those nodes on real values."""
from ..layers.input import InputLayer
from ..layers.input_spec import check_input_compatibility, _fmt
from ..layers.keras_tensor import KerasTensor, flatten, pack_like


class FunctionalGraph:
    def __init__(self, inputs, outputs, model_name):
        self.inputs = flatten(inputs)
        self.outputs = flatten(outputs)
        for what, tensors, given in (("inputs", self.inputs, inputs),
                                     ("outputs", self.outputs, outputs)):
            bad = [t for t in tensors if not isinstance(t, KerasTensor)]
            if bad or not tensors:
                raise ValueError(f"All `{what}` values must be KerasTensors. Received: "
                                 f"{what}={given!r}" + (f" including invalid value {bad[0]!r} "
                                                        f"of type {type(bad[0])}" if bad else ""))
        self.nodes = self._order_nodes(model_name)
        self.layers = self._collect_layers()
        names = [layer.name for layer in self.layers]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"The name \"{name}\" is used {names.count(name)} times in the "
                                 "model. All layer names should be unique.")

    def _order_nodes(self, model_name):
        """Depth-first from the outputs (iteratively, so deep stacks do not hit Python's
        recursion limit); a node is emitted after every node it consumes. Also records the
        order in which layers are first reached, which Keras uses to order model.layers."""
        sources = {id(t) for t in self.inputs}
        order, done = [], set()
        self._first_seen = {}
        for out in self.outputs:
            stack = [(out, False)]
            while stack:
                kt, expanded = stack.pop()
                node = kt.node
                if node is None or id(node) in done:
                    continue
                is_input_node = isinstance(node.layer, InputLayer)
                if id(kt) in sources and not is_input_node:
                    continue  # an intermediate tensor used as a model input
                if is_input_node and id(kt) not in sources:
                    raise ValueError(
                        f"Graph disconnected in model '{model_name}': cannot obtain value for "
                        f"tensor {kt.name} (shape {kt.shape}) from input layer "
                        f"'{node.layer.name}', which is not among the model's inputs "
                        f"{[t.name for t in self.inputs]}.")
                self._first_seen.setdefault(id(node.layer), len(self._first_seen))
                if expanded or is_input_node:
                    done.add(id(node))
                    order.append(node)
                    continue
                stack.append((kt, True))
                for parent in reversed(node.input_tensors):
                    stack.append((parent, False))
        self._all_nodes = order  # InputLayer nodes included
        return [n for n in order if not isinstance(n.layer, InputLayer)]

    def _collect_layers(self):
        """Keras's order: by depth (distance from the outputs, deepest first), ties broken
        by the order the traversal first reached each layer."""
        node_depth, layer_depth, layers = {}, {}, {}
        for node in reversed(self._all_nodes):
            depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(id(node.layer), 0))
            layer_depth[id(node.layer)] = depth
            layers[id(node.layer)] = node.layer
            node_depth[id(node)] = depth
            for kt in node.input_tensors:
                if kt.node is not None:
                    node_depth[id(kt.node)] = max(depth + 1, node_depth.get(id(kt.node), 0))
        for kt in self.inputs:  # inputs no output depends on still belong to the model
            layer = kt.node.layer if kt.node is not None else None
            if layer is not None and id(layer) not in layers:
                layers[id(layer)] = layer
                layer_depth[id(layer)] = 0
                self._first_seen.setdefault(id(layer), len(self._first_seen))
        return sorted(layers.values(), key=lambda l: (-layer_depth[id(l)],
                                                       self._first_seen[id(l)]))

    def run(self, values, training=None, output_masks=None):
        """Replays the nodes on `values` (one per input: arrays, Tensors or Symbols) and
        returns one value per output. Masks travel beside the values (see Layer's masking
        rules); `output_masks`, a list, receives each output's mask (None without one)."""
        env = {id(kt): v for kt, v in zip(self.inputs, values)}
        masks = {}
        for node in self.nodes:
            layer = node.layer
            args = pack_like(node.inputs, [env[id(t)] for t in node.input_tensors])
            # Keras's previous_mask: the mask(s) of the call's first positional argument (a
            # list for merge layers; the sequence alone for a recurrent layer with states).
            first = layer._node_call_arguments(node)[0][0]
            first_mask = pack_like(first, [masks.get(id(t)) for t in flatten(first)]) \
                if isinstance(first, (list, tuple)) else masks.get(id(first))
            kwargs = node.kwargs
            if layer._consumes_mask and "mask" not in kwargs and any(
                    m is not None for m in flatten(first_mask)):
                kwargs = {**kwargs, "mask": first_mask}
            result = layer(args, training=training, **kwargs)
            flat = flatten(result)
            for kt, v in zip(node.output_tensors, flat):
                env[id(kt)] = v
            if layer.supports_masking:
                out_masks = layer.compute_mask(args, first_mask)
                out_masks = flatten(out_masks) if isinstance(out_masks, list) else [out_masks] * len(flat)
                for kt, m in zip(node.output_tensors, out_masks):
                    if m is not None:
                        masks[id(kt)] = m
        if output_masks is not None:
            output_masks.extend(masks.get(id(kt)) for kt in self.outputs)
        return [env[id(kt)] for kt in self.outputs]

    def check_input_shapes(self, shapes, model_name):
        """Compares data shapes (batch dim None) with the declared inputs. A mismatch is
        reported by the first layer that consumes the input when its own checks catch it
        (Keras names that layer), else against the model's declared shape."""
        if len(shapes) != len(self.inputs):
            raise ValueError(f"Model '{model_name}' expects {len(self.inputs)} input(s), but "
                             f"it received {len(shapes)} input arrays.")
        for i, (kt, shape) in enumerate(zip(self.inputs, shapes)):
            expected = kt.shape
            if len(expected) == len(shape) and all(
                    e is None or e == d for e, d in zip(expected[1:], shape[1:])):
                continue
            for node in self.nodes:
                if any(t is kt for t in node.input_tensors):
                    node_shapes = [shape if t is kt else t.shape for t in node.input_tensors]
                    check_input_compatibility(node.layer, node_shapes)
                    break
            raise ValueError(f"Input {i} of model '{model_name}' is incompatible with the "
                             f"model: expected shape {_fmt(expected)}, but received input with "
                             f"shape {_fmt(shape)}")
