"""Layers: the Layer base class, Input/InputLayer, Dense, Activation."""
from .core import Activation, Dense
from .input import Input, InputLayer
from .input_spec import InputSpec
from .keras_tensor import KerasTensor
from .layer import Layer

__all__ = ["Activation", "Dense", "Input", "InputLayer", "InputSpec", "KerasTensor", "Layer"]
