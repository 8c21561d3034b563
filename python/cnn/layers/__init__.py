"""Layers: the Layer base class, Input/InputLayer, Dense, Activation,
ActivityRegularization, and the dropout/noise layers (regularization.py)."""
from .activity_regularization import ActivityRegularization
from .core import Activation, Dense
from .input import Input, InputLayer
from .input_spec import InputSpec
from .keras_tensor import KerasTensor
from .layer import Layer
from .regularization import (AlphaDropout, Dropout, GaussianDropout, GaussianNoise,
                             SpatialDropout1D, SpatialDropout2D, SpatialDropout3D)

__all__ = ["Activation", "ActivityRegularization", "AlphaDropout", "Dense", "Dropout",
           "GaussianDropout", "GaussianNoise", "Input", "InputLayer", "InputSpec", "KerasTensor",
           "Layer", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"]
