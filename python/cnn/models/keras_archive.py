"""Whole models in Keras 3's `.keras` format: a zip archive holding

    metadata.json      {"keras_version", "date_saved"} (cnn adds "cnn_version")
    config.json        the model config (model_config.py), with "compile_config"
    model.weights.h5   the weights, in the layout of `save_weights` (saving.py)

Files written by Keras 3 for models made of layers cnn has load here with the same
predictions, and Keras loads the files cnn writes. A compiled model's optimizer state
(iterations, learning rate, moments) is saved in "optimizer/vars" of model.weights.h5, as
Keras writes it, and `load_model` restores it after compiling, so training resumes where it
stopped; Keras-written state loads too."""
import datetime
import io
import json
import os
import zipfile

from .. import losses, metrics, optimizers
from . import model_config
from .saving import _check_built, _h5py, may_write, read_optimizer, read_weights, write_weights

_CONFIG = "config.json"
_METADATA = "metadata.json"
_WEIGHTS = "model.weights.h5"
KERAS_FORMAT_VERSION = "3.0.0"  # the Keras release that introduced this layout


def _serialize_leaves(arg, serialize):
    if arg is None or isinstance(arg, (str, int, float)):
        return arg
    if isinstance(arg, dict):
        return {k: _serialize_leaves(v, serialize) for k, v in arg.items()}
    if isinstance(arg, (list, tuple)):
        return [_serialize_leaves(v, serialize) for v in arg]
    return serialize(arg)


def _deserialize_leaves(arg, get):
    """Config dicts ({"class_name", ...}) become objects; names and structure stay."""
    if isinstance(arg, dict) and "class_name" in arg:
        return get(arg)
    if isinstance(arg, dict):
        return {k: _deserialize_leaves(v, get) for k, v in arg.items()}
    if isinstance(arg, list):
        return [_deserialize_leaves(v, get) for v in arg]
    return arg


def _keras_object(module, serialize):
    """serialize() of a loss or metric, with the module Keras's loader resolves."""
    def run(obj):
        out = serialize(obj)
        if isinstance(out, dict):
            out = {"module": module, **out, "registered_name": None}
        return out
    return run


def compile_config(model):
    """The arguments of the model's compile() call, in Keras's compile_config form."""
    spec = model._compile_spec
    if spec is None:
        return {}
    metric = _keras_object("keras.metrics", metrics.serialize)
    return {"optimizer": optimizers.serialize(spec.optimizer),
            "loss": _serialize_leaves(spec.loss_arg, _keras_object("keras.losses",
                                                                   losses.serialize)),
            "loss_weights": _serialize_leaves(spec.loss_weights_arg, float),
            "metrics": _serialize_leaves(spec.metrics_arg, metric),
            "weighted_metrics": _serialize_leaves(spec.weighted_metrics_arg, metric),
            "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}


def compile_from_config(model, config, custom_objects=None):
    if not config:
        return
    optimizer = config.get("optimizer", "rmsprop")
    if isinstance(optimizer, dict):
        optimizer = optimizers.deserialize(optimizer, custom_objects)
    model.compile(optimizer=optimizer,
                  loss=_deserialize_leaves(config.get("loss"), losses.get),
                  loss_weights=config.get("loss_weights"),
                  metrics=_deserialize_leaves(config.get("metrics"), metrics.get),
                  weighted_metrics=_deserialize_leaves(config.get("weighted_metrics"),
                                                       metrics.get))


def save_model(model, filepath, overwrite=True, **kwargs):
    """Saves a model as a `.keras` archive (config, compile config and weights).

    Args:
        model: a Sequential or functional cnn model (subclassed models have no config;
            save their weights with `save_weights`).
        filepath: a path ending in ".keras".
        overwrite: whether to overwrite an existing file silently (else ask).

    Keras 3 loads the file (`keras.saving.load_model`) when the model uses only layers
    that Keras has. A compiled model's optimizer state is saved with it.
    """
    unknown = {k: v for k, v in kwargs.items() if k not in ("zipped", "include_optimizer")}
    if unknown:
        raise ValueError(f"save_model() got unsupported argument(s): {sorted(unknown)}")
    if kwargs.get("zipped") is False:
        raise ValueError("cnn writes `.keras` files zipped only (zipped=True).")
    filepath = os.fspath(filepath)
    if not filepath.endswith(".keras"):
        raise ValueError("The filename must end in `.keras` (cnn saves whole models in Keras "
                         "3's format; use `save_weights` for `.weights.h5`). Received: "
                         f"filepath={filepath}")
    _check_built(model, "saving")
    config = model_config.serialize_model(model)  # raises for models without a config
    config["compile_config"] = compile_config(model)
    if not may_write(filepath, overwrite):
        return
    from .. import __version__
    metadata = {"keras_version": KERAS_FORMAT_VERSION, "cnn_version": __version__,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
    buffer = io.BytesIO()
    with _h5py().File(buffer, "w") as f:
        write_weights(model, f)
    with zipfile.ZipFile(filepath, "w") as zf:
        zf.writestr(_METADATA, json.dumps(metadata))
        zf.writestr(_CONFIG, json.dumps(config))
        zf.writestr(_WEIGHTS, buffer.getvalue())


def _open(filepath):
    filepath = os.fspath(filepath)
    if not os.path.exists(filepath):
        raise ValueError(f"File not found: filepath={filepath}. Please ensure the file is an "
                         "accessible `.keras` zip file.")
    if not zipfile.is_zipfile(filepath):
        raise ValueError(f"{filepath} is not a `.keras` zip archive.")
    zf = zipfile.ZipFile(filepath, "r")
    names = set(zf.namelist())
    if _CONFIG not in names or _WEIGHTS not in names:
        zf.close()
        raise ValueError(f"{filepath} is not a Keras 3 model archive: it needs {_CONFIG} and "
                         f"{_WEIGHTS}; it holds {sorted(names)}.")
    return zf


def load_weights_from_archive(model, filepath, skip_mismatch=False):
    with _open(filepath) as zf:
        data = zf.read(_WEIGHTS)
    with _h5py().File(io.BytesIO(data), "r") as f:
        read_weights(model, f, skip_mismatch)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Loads a model saved by `save_model` or `model.save`, or by Keras 3.

    Args:
        filepath: path of a ".keras" file.
        custom_objects: optional dict mapping class names to custom layer classes that the
            config names.
        compile: whether to compile the model with the saved compile config (optimizer,
            loss, metrics), when there is one.
        safe_mode: accepted for Keras compatibility; cnn never runs code from a file.

    Returns:
        A cnn `Model` (or `Sequential`) with the saved weights.
    """
    filepath = os.fspath(filepath)
    if not filepath.endswith(".keras"):
        raise ValueError("File format not supported: cnn loads whole models from `.keras` "
                         f"files (Keras 3's format). Received: filepath={filepath}")
    with _open(filepath) as zf:
        config = json.loads(zf.read(_CONFIG).decode("utf8"))
        data = zf.read(_WEIGHTS)
    model = model_config.model_from_config(config, custom_objects)
    if not model.built:
        shape = (config.get("build_config") or {}).get("input_shape")
        if shape is not None:
            model.build(tuple(shape))
    with _h5py().File(io.BytesIO(data), "r") as f:
        read_weights(model, f)
    if compile:
        try:
            compile_from_config(model, config.get("compile_config"), custom_objects)
        except (ValueError, TypeError) as e:
            raise ValueError(f"The model in {filepath} loaded, but its compile config could "
                             f"not be restored: {e} Load it with `compile=False` and call "
                             "`compile()` yourself.") from e
        with _h5py().File(io.BytesIO(data), "r") as f:
            read_optimizer(model, f)
    return model
