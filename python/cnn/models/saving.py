"""Model weights in Keras 3's `.weights.h5` format (h5py).

The file mirrors Keras's layout, so weights move between cnn and Keras models of the same
architecture: each layer's variables are datasets "0", "1", ... (trainable ones first) in
a group `<path>/vars` whose attribute "name" is the layer's name. Paths follow Keras's
walk of the model: Sequential and functional models list their layers under "layers/",
each keyed by its class name in snake_case ("dense", "dense_1", ...; not by its own
name, which may differ between two builds of the same model); other models and layers
key their sublayers by attribute name. Optimizer state is not saved (Keras also writes
"optimizer/vars"; loading ignores it)."""
import os
import warnings

import numpy as np

from ..utils.naming import to_snake_case


def _h5py():
    try:
        import h5py
    except ImportError:  # pragma: no cover - h5py is a dependency
        raise ImportError("Saving and loading weights needs h5py: `pip install h5py`.") from None
    return h5py


def _own_variables(layer):
    own = list(getattr(layer, "_own_weights", []))
    return [v for v in own if v.trainable] + [v for v in own if not v.trainable]


def _name_key(name):
    return f"~{name}" if name.startswith("_") else name  # private attributes last


def _unique(name, used):
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


def _children(layer):
    """(path component, child) pairs in Keras's order: Sequential and functional models
    give their layer list ("layers"); other models and layers their attributes holding
    layers or lists of layers, public ones first, a model's `layers` list among them."""
    from ..layers.layer import Layer
    from .model import Model
    from .sequential import Sequential
    if isinstance(layer, Sequential) or (isinstance(layer, Model) and layer._graph is not None):
        return [("layers", list(layer.layers))]
    attrs = dict(vars(layer))
    if isinstance(layer, Model):
        attrs["layers"] = list(layer.layers)
    out = []
    for name in sorted(attrs, key=_name_key):
        value = attrs[name]
        if isinstance(value, Layer) and value is not layer:
            out.append((name, value))
        elif isinstance(value, (list, tuple)) and value and all(
                isinstance(v, Layer) for v in value):
            out.append((name, list(value)))
    return out


def _walk(layer, path, seen, out):
    """(path, layer) for `layer` and everything below it, each layer once."""
    if id(layer) in seen:
        return
    seen.add(id(layer))
    out.append((path, layer))
    for name, child in _children(layer):
        child_path = f"{path}/{name}" if path else name
        if isinstance(child, list):
            used = {}
            for item in child:
                key = _unique(to_snake_case(type(item).__name__), used)
                _walk(item, f"{child_path}/{key}", seen, out)
        else:
            _walk(child, child_path, seen, out)


def _layer_paths(model):
    out = []
    _walk(model, "", set(), out)
    return out


def _check_built(model, what):
    if not model.built:
        raise ValueError(f"You are {what} a model that has not yet been built. Try building "
                         "the model first by calling it on some data or by using `build()`.")


def save_weights(model, filepath, overwrite=True):
    filepath = os.fspath(filepath)
    if not filepath.endswith(".weights.h5"):
        raise ValueError(f"The filename must end in `.weights.h5`. Received: filepath={filepath}")
    _check_built(model, "saving")
    if os.path.exists(filepath) and not overwrite:
        answer = input(f"[WARNING] {filepath} already exists - overwrite? [y/n]").strip().lower()
        while answer not in ("y", "n"):
            answer = input('Enter "y" (overwrite) or "n" (cancel).').strip().lower()
        if answer == "n":
            return
        print("[TIP] Next time specify overwrite=True!")
    h5py = _h5py()
    with h5py.File(filepath, "w") as f:
        for path, layer in _layer_paths(model):
            group = f.create_group(f"{path}/vars" if path else "vars")
            group.attrs["name"] = layer.name
            for i, var in enumerate(_own_variables(layer)):
                group[str(i)] = np.asarray(var.numpy(), dtype=np.float32)


def _check_layer(layer, stored):
    """An error message for `layer` against its stored arrays, or None."""
    variables = _own_variables(layer)
    if len(stored) != len(variables):
        return (f"Layer '{layer.name}' expected {len(variables)} variables, but received "
                f"{len(stored)} variables during loading. Expected: "
                f"{[v.name for v in variables]}")
    for i, (var, value) in enumerate(zip(variables, stored)):
        if tuple(value.shape) != tuple(var.shape):
            return (f"Layer '{layer.name}' weight '{var.name}' (variable {i}) has shape "
                    f"{tuple(var.shape)}, but the file holds shape {tuple(value.shape)}.")
    return None


def load_weights(model, filepath, skip_mismatch=False):
    filepath = os.fspath(filepath)
    if filepath.endswith(".keras"):
        raise ValueError("Loading weights from `.keras` model files is not available in cnn "
                         "yet; save them with `model.save_weights(...)` to a `.weights.h5` "
                         f"file. Received: filepath={filepath}")
    if not filepath.endswith(".weights.h5"):
        raise ValueError("File format not supported: filepath="
                         f"{filepath}. cnn loads weights from `.weights.h5` files.")
    _check_built(model, "loading weights into")
    h5py = _h5py()
    updates, errors = [], []
    with h5py.File(filepath, "r") as f:
        for path, layer in _layer_paths(model):
            key = f"{path}/vars" if path else "vars"
            group = f[key] if key in f else {}
            stored = [np.asarray(group[str(i)]) for i in range(len(group)) if str(i) in group]
            message = _check_layer(layer, stored)
            if message is None:
                updates.extend(zip(_own_variables(layer), stored))
            else:
                errors.append((layer, message))
    if errors:
        layer, message = errors[0]
        text = (f"A total of {len(errors)} objects could not be loaded. Example error message "
                f"for object {layer}:\n\n{message}\n\nList of objects that could not be "
                f"loaded:\n{[e[0] for e in errors]}")
        if not skip_mismatch:
            raise ValueError(text)
        warnings.warn(text, stacklevel=3)
    for var, value in updates:  # all checked before any is written
        var.assign(value)
