"""Model configs in Keras 3's JSON form (the `config.json` of a `.keras` file), both ways.

`serialize_model(model)` writes a Sequential or functional model as Keras does: each layer
as {"module", "class_name", "config", "registered_name"}, and for functional models its
"inbound_nodes" with `__keras_tensor__` references [layer name, node index, tensor index].
`model_from_config(config)` rebuilds a cnn model from such a config, including configs that
Keras wrote: Keras-only arguments left at their defaults (constraints of None, `sparse`,
LoRA off, ...) are dropped; any other argument cnn does not have raises a ValueError."""
import inspect
import json

from .. import layers as layers_module
from ..layers.input import InputLayer
from ..layers.keras_tensor import flatten
from ..layers.layer import Layer

# Keras config entries cnn has no argument for, and the values that mean "off".
_KERAS_DEFAULTS = {"sparse": (False,), "ragged": (False,), "optional": (False,),
                   "synchronized": (False,), "renorm": (False,), "renorm_momentum": (0.99,),
                   "rms_scaling": (False,), "lora_rank": (None,), "lora_alpha": (None,),
                   "lora_enabled": (False,)}

# Arguments Keras's own constructors refuse although other layers take them.
_NOT_IN_KERAS = {"SpatialDropout1D": "trainable", "SpatialDropout2D": "trainable",
                 "SpatialDropout3D": "trainable"}

_REGISTERED = {}  # "package>Name" -> class, filled by cnn.saving.register_keras_serializable


def _layer_classes():
    return {name: obj for name, obj in vars(layers_module).items()
            if isinstance(obj, type) and issubclass(obj, Layer)}


def registered_name(cls):
    for key, value in _REGISTERED.items():
        if value is cls:
            return key
    return None


def _class_for(entry, custom_objects):
    from .model import Model
    from .sequential import Sequential
    class_name = entry.get("class_name") if isinstance(entry, dict) else None
    if not isinstance(class_name, str):
        raise ValueError(f"A layer config needs a 'class_name'; received {entry!r}")
    custom_objects = custom_objects or {}
    reg = entry.get("registered_name")
    for key in (reg, class_name):
        if key and key in custom_objects:
            return custom_objects[key]
        if key and key in _REGISTERED:
            return _REGISTERED[key]
    if class_name == "Sequential":
        return Sequential
    if class_name in ("Functional", "Model"):
        return Model
    known = _layer_classes()
    if class_name in known:
        return known[class_name]
    if class_name == "NotEqual":  # a Keras operation that masks become in Keras's configs
        from ..layers.masking import KerasNotEqual
        return KerasNotEqual
    raise ValueError(f"Unknown layer class '{class_name}' in the model config: cnn has no "
                     "such layer. If it is a custom layer, pass it in "
                     f"`custom_objects={{'{class_name}': {class_name}}}` or decorate it with "
                     "`@cnn.saving.register_keras_serializable()`.")


def _accepted_args(cls):
    """Keyword arguments the class's constructors take (through **kwargs up the MRO)."""
    names = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        names |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
        if klass is Layer:
            break
    return names - {"self"}


def _clean_config(cls, config):
    """A Keras config reduced to the arguments `cls` takes; ValueError for a Keras feature
    that is on but that cnn does not have."""
    config = dict(config)
    dtype = config.get("dtype")
    if isinstance(dtype, dict):  # Keras's DTypePolicy
        dtype = (dtype.get("config") or {}).get("name", "float32")
    if dtype is not None:
        config["dtype"] = dtype
    if "batch_input_shape" in config and cls is InputLayer:
        config["batch_shape"] = config.pop("batch_input_shape")
    if not cls.__module__.startswith("cnn."):
        return config  # a custom layer reads its own config
    accepted = _accepted_args(cls)
    out = {}
    for key, value in config.items():
        if key in accepted:
            out[key] = value
        elif value is None or value in _KERAS_DEFAULTS.get(key, ()) or key == "build_config":
            continue
        else:
            raise ValueError(f"Layer class '{cls.__name__}' in cnn does not support "
                             f"{key}={value!r} (from the model config of layer "
                             f"'{config.get('name')}').")
    return out


def _shape_arg(shape):
    return None if shape is None else tuple(None if d is None else int(d) for d in shape)


def deserialize_layer(entry, custom_objects=None):
    """A layer (or a nested model) from its {"class_name", "config", ...} entry."""
    cls = _class_for(entry, custom_objects)
    config = entry.get("config") or {}
    from .model import Model
    if isinstance(cls, type) and issubclass(cls, Model):
        return model_from_config(entry, custom_objects)
    if cls is InputLayer:
        config = dict(config)
        if "batch_shape" in config:
            config["batch_shape"] = _shape_arg(config["batch_shape"])
    return cls.from_config(_clean_config(cls, config))


def serialize_layer(layer):
    cls = type(layer)
    reg = registered_name(cls)
    from .model import Model
    if isinstance(layer, Model):
        return serialize_model(layer)
    module = "keras.layers" if _layer_classes().get(cls.__name__) is cls else cls.__module__
    config = layer.get_config()
    if "dtype" in config and config["dtype"] == "float32" and cls is not InputLayer:
        config["dtype"] = {"module": "keras", "class_name": "DTypePolicy",
                           "config": {"name": "float32"}, "registered_name": None}
    if config.get(_NOT_IN_KERAS.get(cls.__name__), False) is True:
        config = {k: v for k, v in config.items() if k != _NOT_IN_KERAS[cls.__name__]}
    if cls is InputLayer:
        config = {**config, "batch_shape": list(config["batch_shape"]), "dtype": "float32"}
    out = {"module": module, "class_name": cls.__name__, "config": config,
           "registered_name": reg}
    if layer.built and layer._inbound_nodes and cls is not InputLayer:
        args, _ = layer._node_call_arguments(layer._inbound_nodes[0])
        shapes = [list(t.shape) for t in flatten(args)]
        out["build_config"] = {"input_shape": shapes[0] if len(shapes) == 1 else shapes}
    return out


# ---- functional models ------------------------------------------------------------------

def _node_kwargs(node):
    kwargs = {k: v for k, v in node.kwargs.items() if not k.startswith("_")}
    if node.kwargs.get("_fixed_training") is not None:
        kwargs["training"] = bool(node.kwargs["_fixed_training"])
    return kwargs


def _serialize_functional(model):
    graph = model._graph
    in_model = {id(n) for n in graph._all_nodes}
    node_index = {}
    for layer in graph.layers:
        kept = [n for n in layer._inbound_nodes if id(n) in in_model]
        for i, node in enumerate(kept):
            node_index[id(node)] = i

    def history(kt):
        return [kt.node.layer.name, node_index[id(kt.node)], kt.index]

    def tensor(kt):
        return {"class_name": "__keras_tensor__",
                "config": {"shape": list(kt.shape), "dtype": "float32",
                           "keras_history": history(kt)}}

    def structure(s, leaf):
        if isinstance(s, (list, tuple)):
            return [structure(x, leaf) for x in s]
        return leaf(s)

    layer_configs = []
    for layer in graph.layers:
        entry = serialize_layer(layer)
        entry["name"] = layer.name
        entry["inbound_nodes"] = []
        for n in layer._inbound_nodes:
            if id(n) not in in_model or isinstance(layer, InputLayer):
                continue
            # A layer that packs tensor keyword arguments (initial_state) into its node's
            # inputs writes them back as Keras's keyword arguments.
            args, tensor_kwargs = layer._node_call_arguments(n)
            kwargs = {**_node_kwargs(n),
                      **{k: structure(v, tensor) for k, v in tensor_kwargs.items()}}
            entry["inbound_nodes"].append({"args": [structure(a, tensor) for a in args],
                                           "kwargs": kwargs})
        layer_configs.append(entry)
    return {"name": model.name, "trainable": model.trainable, "layers": layer_configs,
            "input_layers": structure(model._input_structure, history),
            "output_layers": structure(model._output_structure, history)}


def _functional_from_config(config, custom_objects):
    from .model import Model
    created, pending = {}, []
    node_outputs = {}  # (layer name, node index) -> output tensors
    for entry in config.get("layers", []):
        layer = deserialize_layer(entry, custom_objects)
        name = entry.get("name", layer.name)
        created[name] = layer
        if isinstance(layer, InputLayer):
            node_outputs[(name, 0)] = [layer.output]
        for node_data in entry.get("inbound_nodes", []):
            pending.append((name, node_data))

    def ready(ref):
        return (ref[0], ref[1]) in node_outputs

    def refs(obj):
        if isinstance(obj, dict) and obj.get("class_name") == "__keras_tensor__":
            return [obj["config"]["keras_history"]]
        if isinstance(obj, dict):
            return [r for v in obj.values() for r in refs(v)]
        if isinstance(obj, (list, tuple)):
            return [r for v in obj for r in refs(v)]
        return []

    def resolve(obj):
        if isinstance(obj, dict) and obj.get("class_name") == "__keras_tensor__":
            name, index, tensor = obj["config"]["keras_history"]
            return node_outputs[(name, index)][tensor]
        if isinstance(obj, dict):
            return {k: resolve(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [resolve(v) for v in obj]
        return obj

    counts = {}
    while pending:
        progress = False
        for item in list(pending):
            name, node_data = item
            if isinstance(node_data, list):  # Keras 2's [[name, node, tensor, kwargs], ...]
                node_data = {"args": [[{"class_name": "__keras_tensor__",
                                        "config": {"keras_history": r[:3]}} for r in node_data]]
                             if len(node_data) > 1 else
                             [{"class_name": "__keras_tensor__",
                               "config": {"keras_history": node_data[0][:3]}}],
                             "kwargs": node_data[0][3] if len(node_data[0]) > 3 else {}}
            # Nodes of one layer are made in order, so a later one waits for earlier ones.
            if not all(ready(r) for r in refs([node_data.get("args", []),
                                               node_data.get("kwargs") or {}])) or \
                    any(p[0] == name for p in pending[:pending.index(item)]):
                continue
            args = resolve(node_data.get("args", []))
            # A mask keyword reaches only layers that take one (recurrent layers).
            takes_mask = getattr(created[name], "_consumes_mask", False)
            kwargs = {k: resolve(v) for k, v in (node_data.get("kwargs") or {}).items()
                      if (k != "mask" or takes_mask) and v is not None}
            inputs = args[0] if len(args) == 1 else args
            outputs = created[name](inputs, **kwargs)
            index = counts.get(name, 0)
            counts[name] = index + 1
            node_outputs[(name, index)] = flatten(outputs)
            pending.remove(item)
            progress = True
        if not progress:
            raise ValueError("The model config's layer graph cannot be rebuilt: the inputs of "
                             f"layer(s) {sorted({p[0] for p in pending})} are never produced.")

    def tensors(spec):
        if isinstance(spec, list) and len(spec) == 3 and isinstance(spec[0], str):
            key = (spec[0], spec[1])
            if key not in node_outputs:
                raise ValueError(f"The model config refers to layer '{spec[0]}' node "
                                 f"{spec[1]}, which the config does not define.")
            return node_outputs[key][spec[2]]
        return [tensors(s) for s in spec]

    return Model(tensors(config["input_layers"]), tensors(config["output_layers"]),
                 name=config.get("name"), trainable=config.get("trainable", True))


def _sequential_from_config(config, custom_objects):
    from .sequential import Sequential
    entries = config["layers"] if isinstance(config, dict) else config
    model = Sequential(name=config.get("name") if isinstance(config, dict) else None,
                       trainable=config.get("trainable", True) if isinstance(config, dict)
                       else True)
    for entry in entries:
        model.add(deserialize_layer(entry, custom_objects), rebuild=False)
    model._rebuild()
    shape = config.get("build_input_shape") if isinstance(config, dict) else None
    if model._graph is None and shape is not None:
        model.build(_shape_arg(shape))
    return model


# ---- public -----------------------------------------------------------------------------

def serialize_model(model):
    """A Sequential or functional model as Keras's {"module", "class_name", "config", ...}."""
    from .model import Model
    from .sequential import Sequential
    if isinstance(model, Sequential):
        layers = ([serialize_layer(model._input_layer)] if model._input_layer is not None
                  else []) + [serialize_layer(l) for l in model.layers]
        config = {"name": model.name, "trainable": model.trainable, "layers": layers}
        if model._input_layer is not None:
            config["build_input_shape"] = list(model._input_layer.batch_shape)
        out = {"module": "keras", "class_name": "Sequential", "config": config,
               "registered_name": None}
        if model._input_layer is not None:
            out["build_config"] = {"input_shape": list(model._input_layer.batch_shape)}
        return out
    if type(model) is Model and model._graph is not None:
        return {"module": "keras.src.models.functional", "class_name": "Functional",
                "config": _serialize_functional(model), "registered_name": "Functional",
                "build_config": {"input_shape": None}}
    raise ValueError(f"Model '{model.name}' ({type(model).__name__}) cannot be saved as a "
                     "config: only Sequential and functional models (Model(inputs, outputs)) "
                     "can. Save its weights with `save_weights(...)` instead.")


def model_from_config(config, custom_objects=None):
    """A cnn model from a Keras-style model config (`{"class_name", "config"}`)."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError("A model config is a dict with 'class_name' and 'config'; "
                         f"received {config!r:.200}")
    class_name = config["class_name"]
    inner = config.get("config") or {}
    custom = (custom_objects or {}).get(class_name) or _REGISTERED.get(
        config.get("registered_name") or "")
    if custom is not None and hasattr(custom, "from_config"):
        return custom.from_config(inner)
    if class_name == "Sequential":
        return _sequential_from_config(inner, custom_objects)
    if class_name in ("Functional", "Model") and "layers" in inner:
        return _functional_from_config(inner, custom_objects)
    raise ValueError(f"Unknown model class '{class_name}': cnn rebuilds Sequential and "
                     "Functional models; pass other classes in `custom_objects`.")


def model_from_json(json_string, custom_objects=None):
    """A cnn model from the JSON text of `model.to_json()` (or Keras's)."""
    try:
        config = json.loads(json_string)
    except (TypeError, ValueError) as e:
        raise ValueError(f"model_from_json expects the JSON text of a model config: {e}") \
            from None
    return model_from_config(config, custom_objects)


__all__ = ["serialize_model", "model_from_config", "model_from_json", "serialize_layer",
           "deserialize_layer"]
