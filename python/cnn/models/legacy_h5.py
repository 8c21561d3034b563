"""Loading Keras 2's legacy `.h5` weights (`model.save_weights("w.h5")` in Keras 2, or
the "model_weights" group of a Keras 2 `model.save("m.h5")` file).

Layout: the root (or "model_weights") group has the attribute "layer_names"; each named
layer has a group with the attribute "weight_names", and each weight is a dataset at that
name inside the layer's group (e.g. "dense/kernel:0"). Weights are matched by order, as
Keras does: the model's layers that have weights, in `model.layers` order, against the
file's layers that list weights; each layer's trainable weights first."""
import numpy as np

from .saving import _h5py, report_errors


def _decode(values):
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


def _attribute(group, name):
    """A list attribute, also when Keras split a long one into name0, name1, ..."""
    if name in group.attrs:
        return _decode(group.attrs[name])
    out, i = [], 0
    while f"{name}{i}" in group.attrs:
        out.extend(_decode(group.attrs[f"{name}{i}"]))
        i += 1
    return out


def _layer_weights(layer):
    """All of a layer's variables (nested layers included), trainable ones first."""
    weights = list(getattr(layer, "weights", None) or getattr(layer, "_own_weights", []))
    return [w for w in weights if w.trainable] + [w for w in weights if not w.trainable]


def load_legacy_weights(model, filepath, skip_mismatch=False):
    h5py = _h5py()
    with h5py.File(filepath, "r") as f:
        group = f
        if "layer_names" not in f.attrs and "model_weights" in f:
            group = f["model_weights"]
        names = _attribute(group, "layer_names")
        if not names and "layer_names0" not in group.attrs:
            raise ValueError(f"{filepath} is not a Keras legacy `.h5` weights file (its root "
                             "has no 'layer_names' attribute). Keras 3 weights files end in "
                             "`.weights.h5`.")
        stored = []
        for name in names:
            weight_names = _attribute(group[name], "weight_names")
            if weight_names:
                stored.append((name, [np.asarray(group[name][w]) for w in weight_names]))
    layers = [l for l in model.layers if _layer_weights(l)]
    if len(layers) != len(stored):
        raise ValueError("Layer count mismatch when loading weights from file. Model expected "
                         f"{len(layers)} layers, found {len(stored)} saved layers.")
    updates, errors = [], []
    for k, (layer, (name, values)) in enumerate(zip(layers, stored)):
        variables = _layer_weights(layer)
        if len(values) != len(variables):
            raise ValueError(f"Weight count mismatch for layer #{k} (named {layer.name} in the "
                             f"current model, {name} in the save file). Layer expects "
                             f"{len(variables)} weight(s). Received {len(values)} saved "
                             "weight(s)")
        bad = [(v, a) for v, a in zip(variables, values) if tuple(v.shape) != a.shape]
        if bad:
            var, value = bad[0]
            errors.append((layer, f"Shape mismatch in layer #{k} (named {layer.name}) for "
                                  f"weight {var.name}. Weight expects shape "
                                  f"{tuple(var.shape)}. Received saved weight with shape "
                                  f"{value.shape}"))
        else:
            updates.extend(zip(variables, values))
    report_errors(errors, skip_mismatch)
    for var, value in updates:
        var.assign(np.asarray(value, dtype=np.float32))
