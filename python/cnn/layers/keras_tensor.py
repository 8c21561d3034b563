"""Symbolic tensors of the functional API and the nodes that connect them.

A KerasTensor only carries a shape (None for the batch dim) and the node that made it;
no engine state. Models replay the recorded nodes on real values (eager Tensors, or graph
Symbols when compiling a training step)."""
from ..utils.naming import uniquify


class KerasTensor:
    def __init__(self, shape, name=None, node=None, index=0):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = "float32"
        self.name = name or uniquify("keras_tensor")
        self.node = node      # the Node whose output this is
        self.index = index    # position among that node's outputs

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def layer(self):
        return self.node.layer if self.node is not None else None

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    def __array__(self, *args, **kwargs):
        raise TypeError(f"A symbolic KerasTensor ({self.name}, shape {self.shape}) cannot be "
                        "converted to a NumPy array: it has no value until a model runs it.")


class Node:
    """One call of a layer on symbolic inputs: `layer(inputs, **kwargs) -> outputs`."""

    def __init__(self, layer, inputs, outputs, kwargs=None):
        self.layer = layer
        self.inputs = inputs                       # the call's input structure
        self.input_tensors = flatten(inputs)
        self.output_tensors = flatten(outputs)
        self.outputs = outputs
        self.kwargs = dict(kwargs or {})
        layer._inbound_nodes.append(self)
        self.index = len(layer._inbound_nodes) - 1
        for i, kt in enumerate(self.output_tensors):
            kt.node, kt.index = self, i


def flatten(structure):
    """Leaves of nested lists/tuples, in order."""
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    return [structure]


def pack_like(structure, leaves):
    """Rebuilds `structure`'s nesting around `leaves` (the inverse of flatten)."""
    it = iter(leaves)

    def build(s):
        if isinstance(s, (list, tuple)):
            return type(s)(build(item) for item in s)
        return next(it)
    return build(structure)


def any_keras_tensor(structure):
    return any(isinstance(x, KerasTensor) for x in flatten(structure))
