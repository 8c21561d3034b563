"""Input checks and preprocessing shared by the ImageNet models (channels_last in cnn)."""
import os

import numpy as np

from ..layers.input import Input, InputLayer
from ..layers.keras_tensor import KerasTensor

_CAFFE_MEAN = (103.939, 116.779, 123.68)  # ImageNet's mean pixel, BGR order


def preprocess_caffe(x, data_format=None):
    """RGB to BGR, then the ImageNet mean pixel subtracted per channel (no scaling): Keras's
    "caffe" mode. Returns a new float32 array (Keras changes a float array in place)."""
    if data_format is None:
        data_format = "channels_last"
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError("Expected data_format to be one of `channels_first` or "
                         f"`channels_last`. Received: data_format={data_format}")
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
    axis = -1 if data_format == "channels_last" else (0 if x.ndim == 3 else 1)
    if x.shape[axis] != 3:
        raise ValueError(f"preprocess_input expects 3 color channels on axis {axis}; "
                         f"received an array of shape {x.shape}")
    x = np.flip(x, axis=axis).copy()
    shape = [1] * x.ndim
    shape[axis] = 3
    x -= np.asarray(_CAFFE_MEAN, dtype=x.dtype).reshape(shape)
    return x


def check_weights(weights, include_top, file_top, file_notop):
    if weights == "imagenet":
        name = file_top if include_top else file_notop
        raise ValueError(
            "cnn cannot download the ImageNet weights (it works offline). Download Keras's "
            f"weights file `{name}` yourself (keras.applications caches it under "
            f"~/.keras/models/) and pass its path: weights='/path/to/{name}'.")
    if not (weights is None or (isinstance(weights, (str, os.PathLike))
                                and os.path.exists(weights))):
        raise ValueError("The `weights` argument should be either `None` (random "
                         "initialization), 'imagenet' (pre-training on ImageNet), or the path "
                         f"to the weights file to be loaded. Received: weights={weights}")


def obtain_input_shape(input_shape, default_size, min_size, require_flatten):
    """The (height, width, channels) input shape, checked as Keras checks it."""
    if input_shape:
        input_shape = tuple(input_shape)
        if len(input_shape) != 3:
            raise ValueError("`input_shape` must be a tuple of three integers.")
        if any(d is not None and d < min_size for d in input_shape[:2]):
            raise ValueError(f"Input size must be at least {min_size}x{min_size}; Received: "
                             f"input_shape={input_shape}")
    else:  # Keras leaves height and width open without the top; cnn's convolutions
        input_shape = (default_size, default_size, 3)  # need them static
    if require_flatten and None in input_shape:
        raise ValueError("If `include_top` is True, you should specify a static "
                         f"`input_shape`. Received: input_shape={input_shape}")
    if None in input_shape:
        raise ValueError("cnn's convolutions need a static image size: give `input_shape` "
                         f"as (height, width, channels) integers. Received: "
                         f"input_shape={input_shape}")
    return input_shape


def model_input(input_tensor, input_shape):
    """(tensor to build on, the model's inputs)."""
    if input_tensor is None:
        x = Input(shape=input_shape)
        return x, x
    if not isinstance(input_tensor, KerasTensor):
        raise ValueError("`input_tensor` must be a symbolic tensor from `cnn.layers.Input` "
                         f"(or a layer output); received {type(input_tensor).__name__}")
    return input_tensor, source_inputs(input_tensor)


def source_inputs(tensor):
    """The Input tensors that `tensor` is computed from."""
    out, stack, seen = [], [tensor], set()
    while stack:
        kt = stack.pop()
        if id(kt) in seen:
            continue
        seen.add(id(kt))
        if kt.node is None or isinstance(kt.node.layer, InputLayer):
            out.append(kt)
        else:
            stack.extend(reversed(kt.node.input_tensors))
    return out[0] if len(out) == 1 else out
