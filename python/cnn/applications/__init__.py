"""Keras Applications: reference architectures with Keras's layer names, so weights files
written by Keras load into them. `VGG16` and `vgg16.preprocess_input` for now."""
from . import vgg16
from .vgg16 import VGG16

__all__ = ["VGG16", "vgg16"]
