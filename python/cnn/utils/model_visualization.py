"""`plot_model` and `model_to_dot`: a model's layer graph drawn with pydot and Graphviz.

One box per layer (a shared layer is one box with an edge from each of its callers), an
edge for every tensor passed between layers. Nested models are one box, or with
`expand_nested=True` a cluster holding their own layers."""
import html
import os
import shutil

__all__ = ["model_to_dot", "plot_model"]

_INSTALL = "`pip install pydot` and `apt-get install graphviz`"


def _import_pydot(need_dot):
    """pydot, or an ImportError saying what to install; `need_dot` also requires Graphviz's
    `dot` program (rendering an image needs it, a `pydot.Dot` does not)."""
    what = "plot_model" if need_dot else "model_to_dot"
    try:
        import pydot
    except ImportError:
        raise ImportError(f"{what} needs the `pydot` package and Graphviz, which were not "
                          f"found: install them with {_INSTALL} (on macOS `brew install "
                          "graphviz`; see https://graphviz.org/download/).") from None
    if need_dot and shutil.which("dot") is None:
        raise ImportError(f"{what} needs Graphviz's `dot` program, which is not on your PATH: "
                          f"install Graphviz (`apt-get install graphviz`; on macOS `brew "
                          "install graphviz`; see https://graphviz.org/download/). pydot is "
                          f"installed; the full requirement is {_INSTALL}.")
    return pydot


def _fmt_shape(shape):
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _shapes_text(tensor_lists):
    """The shapes of one call's tensors, or "multiple" when the layer's calls differ."""
    texts = set()
    for tensors in tensor_lists:
        shapes = [_fmt_shape(t.shape) for t in tensors]
        texts.add(shapes[0] if len(shapes) == 1 else "[" + ", ".join(shapes) + "]")
    if not texts:
        return "?"
    return texts.pop() if len(texts) == 1 else "multiple"


def _is_model(layer):
    from ..models.model import Model
    return isinstance(layer, Model) and layer._graph is not None


def _is_sequential(model):
    from ..models.sequential import Sequential
    return isinstance(model, Sequential)


def _label(layer, opts):
    """An HTML-like Graphviz label: the layer's name and class, then the rows asked for."""
    from ..layers.input import InputLayer
    title = html.escape(type(layer).__name__)
    if opts["show_layer_names"]:
        title = f"<b>{html.escape(layer.name)}</b> ({title})"
    rows = [title]
    if opts["show_layer_activations"]:
        act = getattr(layer, "activation", None)
        if act is not None:
            name = getattr(act, "__name__", type(act).__name__)
            rows.append(f"Activation: {html.escape(name)}")
    nodes = layer._inbound_nodes
    if opts["show_shapes"] or opts["show_dtype"]:
        ins = [n.input_tensors for n in nodes if n.input_tensors]
        outs = [n.output_tensors for n in nodes]
        if opts["show_shapes"]:
            if not isinstance(layer, InputLayer):
                rows.append(f"Input shape: {html.escape(_shapes_text(ins))}")
            rows.append(f"Output shape: {html.escape(_shapes_text(outs))}")
        if opts["show_dtype"]:
            rows.append("Output dtype: float32")
    if opts["show_trainable"]:
        rows.append(f"Trainable: {'True' if layer.trainable else 'False'}")
    cells = "".join(f"<tr><td>{r}</td></tr>" for r in rows)
    return f'<<table border="0" cellborder="1" cellspacing="0" cellpadding="4">{cells}</table>>'


class _Drawer:
    def __init__(self, pydot, opts):
        self.pydot, self.opts = pydot, opts
        self.ids = {}

    def node_id(self, layer):
        if id(layer) not in self.ids:
            self.ids[id(layer)] = f"layer_{len(self.ids)}"
        return self.ids[id(layer)]

    def draw(self, graph, model):
        """Adds `model`'s layers and edges to `graph`; returns, for the model's inputs and
        outputs, the ids of the boxes that stand for them (for a parent's edges)."""
        from ..layers.input import InputLayer
        fg = model._graph
        skip_inputs = _is_sequential(model)
        layers, seen = [], set()
        for node in fg._all_nodes:
            if id(node.layer) not in seen and not (skip_inputs and
                                                   isinstance(node.layer, InputLayer)):
                seen.add(id(node.layer))
                layers.append(node.layer)
        ports = {}  # id(layer) -> (entry ids per input, exit ids per output)
        for layer in layers:
            if self.opts["expand_nested"] and _is_model(layer):
                cluster = self.pydot.Cluster(f"cluster_{self.node_id(layer)}",
                                             label=html.escape(layer.name), style="dashed")
                ports[id(layer)] = self.draw(cluster, layer)
                graph.add_subgraph(cluster)
            else:
                nid = self.node_id(layer)
                graph.add_node(self.pydot.Node(nid, label=_label(layer, self.opts),
                                               shape="plaintext"))
                ports[id(layer)] = None
        added = set()
        for node in fg._all_nodes:
            if id(node.layer) not in ports:
                continue
            for pos, kt in enumerate(node.input_tensors):
                src = kt.node.layer if kt.node is not None else None
                if src is None or id(src) not in ports:
                    continue
                for s in self._exits(src, kt.index, ports):
                    for d in self._entries(node.layer, pos, ports):
                        if (s, d) not in added:
                            added.add((s, d))
                            graph.add_edge(self.pydot.Edge(s, d))
        entries, exits = [], []
        for kt in fg.inputs:
            layer = kt.node.layer
            if id(layer) in ports:
                entries.append([self.node_id(layer)])
            else:  # a Sequential's input: its first layer takes it
                first = fg.nodes[0].layer if fg.nodes else None
                entries.append(self._entries(first, 0, ports) if first is not None else [])
        for kt in fg.outputs:
            exits.append(self._exits(kt.node.layer, kt.index, ports))
        return entries, exits

    def _entries(self, layer, pos, ports):
        port = ports.get(id(layer))
        if port is None:
            return [self.node_id(layer)]
        entries = port[0]
        return entries[pos] if pos < len(entries) else [i for e in entries for i in e]

    def _exits(self, layer, index, ports):
        port = ports.get(id(layer))
        if port is None:
            return [self.node_id(layer)]
        exits = port[1]
        return exits[index] if index < len(exits) else [i for e in exits for i in e]


def model_to_dot(model, show_shapes=False, show_dtype=False, show_layer_names=True,
                 rankdir="TB", expand_nested=False, dpi=200, subgraph=False,
                 show_layer_activations=False, show_trainable=False, **kwargs):
    """Converts a model's layer graph to a `pydot.Dot` (which needs only `pydot`).

    Args:
        model: a built model (functional, or a Sequential that knows its input shape).
        show_shapes: whether to show each layer's input and output shapes.
        show_dtype: whether to show each layer's output dtype.
        show_layer_names: whether to show the layer names.
        rankdir: Graphviz's `rankdir`: "TB" (top to bottom) or "LR" (left to right).
        expand_nested: whether to draw nested models' layers inside a cluster.
        dpi: the image resolution in dots per inch.
        subgraph: return a `pydot.Cluster` instead of a `pydot.Dot`.
        show_layer_activations: whether to show the activation of layers that have one.
        show_trainable: whether to show whether each layer is trainable.

    Returns:
        A `pydot.Dot` (or `pydot.Cluster`) describing the model.

    Raises:
        ImportError: pydot is not installed (`pip install pydot`).
        ValueError: the model is not built yet, or an argument is unknown.
    """
    if kwargs:
        if "layer_range" in kwargs:
            raise ValueError("Argument `layer_range` is not supported by model_to_dot.")
        raise ValueError(f"Unrecognized keyword arguments: {sorted(kwargs)}")
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"`rankdir` must be 'TB', 'LR', 'BT' or 'RL'; received {rankdir!r}")
    pydot = _import_pydot(need_dot=False)
    if not _is_model(model):
        raise ValueError(f"Model '{getattr(model, 'name', model)}' has not been built yet, so "
                         "it has no layer graph to draw. Give it an Input(...), or call it "
                         "on data first.")
    opts = dict(show_shapes=show_shapes, show_dtype=show_dtype,
                show_layer_names=show_layer_names, expand_nested=expand_nested,
                show_layer_activations=show_layer_activations, show_trainable=show_trainable)
    if subgraph:
        dot = pydot.Cluster(f"cluster_{model.name}", label=html.escape(model.name),
                            style="dashed")
    else:
        dot = pydot.Dot(graph_type="digraph")
        dot.set("rankdir", rankdir)
        dot.set("dpi", str(dpi))
        dot.set("concentrate", "true")
        dot.set_node_defaults(shape="plaintext")
    _Drawer(pydot, opts).draw(dot, model)
    return dot


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False,
               show_layer_names=True, rankdir="TB", expand_nested=False, dpi=200,
               show_layer_activations=False, show_trainable=False, **kwargs):
    """Draws a model's layer graph to an image file with Graphviz.

    Example:

    >>> cnn.utils.plot_model(model, "model.png", show_shapes=True)

    Args:
        model: a built model.
        to_file: the file to write; its extension picks the format ("png", "svg",
            "pdf", "dot", ...; default "model.png").
        show_shapes: whether to show each layer's input and output shapes.
        show_dtype: whether to show each layer's output dtype.
        show_layer_names: whether to show the layer names.
        rankdir: "TB" (top to bottom, the default) or "LR" (left to right).
        expand_nested: whether to draw nested models' layers inside a cluster.
        dpi: the image resolution in dots per inch (default 200).
        show_layer_activations: whether to show the activation of layers that have one.
        show_trainable: whether to show whether each layer is trainable.

    Returns:
        An `IPython.display.Image` of the file when IPython is installed (so a notebook
        shows it) and the file is a PNG, JPEG or GIF image; otherwise None.

    Raises:
        ImportError: pydot (`pip install pydot`) or Graphviz's `dot` program
            (`apt-get install graphviz`) is missing.
    """
    _import_pydot(need_dot=True)
    dot = model_to_dot(model, show_shapes=show_shapes, show_dtype=show_dtype,
                       show_layer_names=show_layer_names, rankdir=rankdir,
                       expand_nested=expand_nested, dpi=dpi,
                       show_layer_activations=show_layer_activations,
                       show_trainable=show_trainable, **kwargs)
    to_file = os.fspath(to_file)
    extension = os.path.splitext(to_file)[1][1:].lower() or "png"
    if extension == "dot":
        dot.write(to_file, format="raw")
    else:
        dot.write(to_file, format=extension)
    if extension in ("png", "jpg", "jpeg", "gif"):
        try:
            from IPython import display
            return display.Image(filename=to_file)
        except ImportError:
            pass
    return None
