"""Model weights in Keras 3's `.weights.h5` format (h5py).

The file mirrors Keras's layout, so weights move between cnn and Keras models of the same
architecture: each layer's variables are datasets "0", "1", ... (trainable ones first) in
a group `<path>/vars` whose attribute "name" is the layer's name. Paths follow Keras's
walk of the model: Sequential and functional models list their layers under "layers/",
each keyed by its class name in snake_case ("dense", "dense_1", ...; not by its own
name, which may differ between two builds of the same model); other models and layers
key their sublayers by attribute name. A compiled model's optimizer state goes to
"optimizer/vars" as Keras writes it (Optimizer.variables' order), and loading restores it
into the model's optimizer when it fits (else warns and skips it, as Keras does).

`.keras` model files are written and read by keras_archive.py; Keras 2's legacy `.h5`
weights are read by legacy_h5.py."""
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


def _class_key(layer):
    """Keras's key for a layer in a list: its class in snake_case; a functional Model is
    Keras's class Functional."""
    from .model import Model
    if type(layer) is Model and layer._graph is not None:
        return "functional"
    return to_snake_case(type(layer).__name__)


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
                key = _unique(_class_key(item), used)
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


def may_write(filepath, overwrite):
    """False when the file exists, overwrite is False and the user declines (Keras asks)."""
    if os.path.exists(filepath) and not overwrite:
        answer = input(f"[WARNING] {filepath} already exists - overwrite? [y/n]").strip().lower()
        while answer not in ("y", "n"):
            answer = input('Enter "y" (overwrite) or "n" (cancel).').strip().lower()
        if answer == "n":
            return False
        print("[TIP] Next time specify overwrite=True!")
    return True


def save_weights(model, filepath, overwrite=True):
    filepath = os.fspath(filepath)
    if not filepath.endswith(".weights.h5"):
        raise ValueError(f"The filename must end in `.weights.h5`. Received: filepath={filepath}")
    _check_built(model, "saving")
    if not may_write(filepath, overwrite):
        return
    h5py = _h5py()
    with h5py.File(filepath, "w") as f:
        write_weights(model, f)


def _vars_key(path, layer):
    """Where a layer's variables live: "<path>/vars", or for a recurrent layer its cell's
    "<path>/cell/vars" (Keras keeps them on the cell; the layer's own vars stay empty)."""
    cell = getattr(layer, "_keras_cell_name", None)
    base = f"{path}/cell" if cell and path else ("cell" if cell else path)
    return f"{base}/vars" if base else "vars"


def write_weights(model, f):
    """Writes the model's variables into the open h5py File (or group) `f`."""
    for path, layer in _layer_paths(model):
        key = _vars_key(path, layer)
        if key != (f"{path}/vars" if path else "vars"):  # the layer's own, empty group
            f.create_group(f"{path}/vars" if path else "vars").attrs["name"] = layer.name
        group = f.create_group(key)
        group.attrs["name"] = getattr(layer, "_keras_cell_name", None) or layer.name
        for i, var in enumerate(_own_variables(layer)):
            group[str(i)] = np.asarray(var.numpy(), dtype=np.float32)
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and hasattr(optimizer, "_variables_for"):
        # Keras 3 writes a compiled model's optimizer variables, built for its trainable
        # variables, to "optimizer/vars" (iterations, learning rate, moments: see
        # Optimizer.variables).
        group = f.create_group("optimizer/vars")
        group.attrs["name"] = optimizer.name
        for i, value in enumerate(optimizer._variables_for(model.trainable_variables)):
            group[str(i)] = value


def read_optimizer(model, f):
    """Restores the compiled model's optimizer from the "optimizer/vars" of the open h5py
    File `f`, when there is one. State that does not fit this optimizer (another type, or
    another model) is skipped with Keras's warning."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not hasattr(optimizer, "_set_variables") or "optimizer/vars" not in f:
        return
    group = f["optimizer/vars"]
    stored = [np.asarray(group[str(i)]) for i in range(len(group)) if str(i) in group]
    try:
        optimizer._set_variables(stored, model.trainable_variables)
    except ValueError as e:
        warnings.warn(f"Skipping variable loading for optimizer '{optimizer.name}': {e}",
                      stacklevel=3)


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
        from .keras_archive import load_weights_from_archive
        _check_built(model, "loading weights into")
        load_weights_from_archive(model, filepath, skip_mismatch)
        return
    if filepath.endswith((".h5", ".hdf5")) and not filepath.endswith(".weights.h5"):
        from .legacy_h5 import load_legacy_weights
        _check_built(model, "loading weights into")
        load_legacy_weights(model, filepath, skip_mismatch)
        return
    if not filepath.endswith(".weights.h5"):
        raise ValueError("File format not supported: filepath="
                         f"{filepath}. cnn loads weights from `.weights.h5`, `.keras` and "
                         "legacy `.h5` files.")
    _check_built(model, "loading weights into")
    h5py = _h5py()
    with h5py.File(filepath, "r") as f:
        read_weights(model, f, skip_mismatch)


def read_weights(model, f, skip_mismatch=False):
    """Loads the model's variables from the open h5py File `f` (Keras 3's layout); every
    layer is checked before any variable is written."""
    updates, errors = [], []
    for path, layer in _layer_paths(model):
        key = _vars_key(path, layer)
        if key not in f:  # a file cnn wrote before recurrent weights moved to the cell
            key = f"{path}/vars" if path else "vars"
        group = f[key] if key in f else {}
        stored = [np.asarray(group[str(i)]) for i in range(len(group)) if str(i) in group]
        message = _check_layer(layer, stored)
        if message is None:
            updates.extend(zip(_own_variables(layer), stored))
        else:
            errors.append((layer, message))
    report_errors(errors, skip_mismatch)
    for var, value in updates:  # all checked before any is written
        var.assign(value)
    read_optimizer(model, f)


def report_errors(errors, skip_mismatch):
    """Raises (or with skip_mismatch warns about) the layers that could not be loaded."""
    if errors:
        layer, message = errors[0]
        text = (f"A total of {len(errors)} objects could not be loaded. Example error message "
                f"for object {layer}:\n\n{message}\n\nList of objects that could not be "
                f"loaded:\n{[e[0] for e in errors]}")
        if not skip_mismatch:
            raise ValueError(text)
        warnings.warn(text, stacklevel=4)
