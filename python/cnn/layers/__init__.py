"""Layers: the Layer base class, Input/InputLayer, Dense, Activation,
ActivityRegularization, the dropout/noise layers (regularization.py), BatchNormalization and
LayerNormalization (normalization.py)."""
from .activity_regularization import ActivityRegularization
from .core import Activation, Dense
from .input import Input, InputLayer
from .input_spec import InputSpec
from .keras_tensor import KerasTensor
from .layer import Layer
from .normalization import BatchNormalization, LayerNormalization
from .regularization import (AlphaDropout, Dropout, GaussianDropout, GaussianNoise,
                             SpatialDropout1D, SpatialDropout2D, SpatialDropout3D)

__all__ = ["Activation", "ActivityRegularization", "AlphaDropout", "BatchNormalization", "Dense",
           "Dropout", "GaussianDropout", "GaussianNoise", "Input", "InputLayer", "InputSpec",
           "KerasTensor", "Layer", "LayerNormalization", "SpatialDropout1D", "SpatialDropout2D",
           "SpatialDropout3D"]
