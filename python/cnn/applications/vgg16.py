"""VGG16 (Simonyan & Zisserman, 2015) with Keras's layer names, so Keras's weights files
(`vgg16_weights_tf_dim_ordering_tf_kernels.h5` and `..._notop.h5`, or any `.weights.h5` of
the same architecture) load into it."""
from ..layers import (Conv2D, Dense, Flatten, GlobalAveragePooling2D, GlobalMaxPooling2D,
                      MaxPooling2D)
from ..models.model import Model
from . import imagenet_utils

WEIGHTS_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels.h5"
WEIGHTS_FILE_NO_TOP = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"

_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))


def VGG16(include_top=True, weights=None, input_tensor=None, input_shape=None, pooling=None,
          classes=1000, classifier_activation="softmax", name="vgg16"):
    """Instantiates the VGG16 architecture (channels_last images).

    Args:
        include_top: whether to include the 3 fully-connected layers at the top (flatten,
            fc1, fc2, predictions).
        weights: `None` (random initialization) or the path of a weights file to load:
            Keras's `vgg16_weights_tf_dim_ordering_tf_kernels.h5` (or `_notop.h5` without
            the top), a `.weights.h5` or a `.keras` file. `"imagenet"` would need a
            download, which cnn does not do: it raises a ValueError saying which file to
            fetch and pass instead.
        input_tensor: optional symbolic tensor (output of `cnn.layers.Input()`) to use as
            the image input.
        input_shape: optional (height, width, channels) integers; each side at least 32.
            The default is (224, 224, 3), also without the top (Keras then leaves the
            image size open, but cnn's convolutions need a static size).
        pooling: with `include_top=False`: `None` (the 4D output of the last block),
            `"avg"` (global average pooling, 2D output) or `"max"` (global max pooling).
        classes: number of classes, with `include_top=True`.
        classifier_activation: activation of the "predictions" layer (`None` for logits).
        name: the model's name.

    Returns:
        A functional `Model`. Preprocess its inputs with
        `cnn.applications.vgg16.preprocess_input`.
    """
    imagenet_utils.check_weights(weights, include_top, WEIGHTS_FILE, WEIGHTS_FILE_NO_TOP)
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"`pooling` must be None, 'avg' or 'max'. Received: pooling={pooling}")
    input_shape = imagenet_utils.obtain_input_shape(input_shape, default_size=224, min_size=32,
                                                    require_flatten=include_top)
    x, inputs = imagenet_utils.model_input(input_tensor, input_shape)
    for block, (filters, convs) in enumerate(_BLOCKS, start=1):
        for i in range(1, convs + 1):
            x = Conv2D(filters, (3, 3), activation="relu", padding="same",
                       name=f"block{block}_conv{i}")(x)
        x = MaxPooling2D((2, 2), strides=(2, 2), name=f"block{block}_pool")(x)
    if include_top:
        x = Flatten(name="flatten")(x)
        x = Dense(4096, activation="relu", name="fc1")(x)
        x = Dense(4096, activation="relu", name="fc2")(x)
        x = Dense(classes, activation=classifier_activation, name="predictions")(x)
    elif pooling == "avg":
        x = GlobalAveragePooling2D()(x)
    elif pooling == "max":
        x = GlobalMaxPooling2D()(x)
    model = Model(inputs, x, name=name)
    if weights is not None:
        model.load_weights(weights)
    return model


def preprocess_input(x, data_format=None):
    """Preprocesses a batch of RGB images (values 0-255) as Keras's VGG16 expects ("caffe"
    mode): converted to BGR, then each channel zero-centered by the ImageNet mean pixel
    (103.939, 116.779, 123.68 for B, G, R), without scaling.

    Args:
        x: an array of shape (..., 3) (or (3, H, W) / (N, 3, H, W) with
            `data_format="channels_first"`); integer arrays become float32.
        data_format: "channels_last" (default) or "channels_first".

    Returns:
        A new preprocessed array (the input is left unchanged).
    """
    return imagenet_utils.preprocess_caffe(x, data_format=data_format)


__all__ = ["VGG16", "preprocess_input"]
