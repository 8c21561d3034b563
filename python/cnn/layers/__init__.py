"""Layers: the Layer base class, Input/InputLayer, Dense, Activation,
ActivityRegularization, the dropout/noise layers (regularization.py), BatchNormalization and
LayerNormalization (normalization.py), the convolutions (convolutional.py), the pooling and
reshaping layers (pooling.py, reshaping.py), the merge layers (merging.py), the
preprocessing and image augmentation layers (preprocessing.py), Embedding, SimpleRNN, LSTM, GRU,
TimeDistributed, Bidirectional, Masking, Lambda and LeakyReLU."""
from .activity_regularization import ActivityRegularization
from .attention import AdditiveAttention, Attention, MultiHeadAttention
from .bidirectional import Bidirectional
from .convolutional import (Conv1D, Conv1DTranspose, Conv2D, Conv2DTranspose, Convolution1D,
                            Convolution1DTranspose, Convolution2D, Convolution2DTranspose,
                            DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D,
                            SeparableConv2D)
from . import convolutional  # noqa: F401  (Keras 2 path: cnn.layers.convolutional.Conv2D)
from .core import Activation, Dense
from .embedding import Embedding
from .input import Input, InputLayer
from .input_spec import InputSpec
from .keras_tensor import KerasTensor
from .lambda_layer import Lambda
from .leaky_relu import LeakyReLU
from .masking import Masking
from .layer import Layer
from .merging import (Add, Average, Concatenate, Dot, Maximum, Minimum, Multiply, Subtract,
                      add, average, concatenate, dot, maximum, minimum, multiply, subtract)
from . import merge  # noqa: F401  (Keras 2 path: cnn.layers.merge.Add)
from .normalization import BatchNormalization, LayerNormalization
from .pooling import (AveragePooling1D, AveragePooling2D, AvgPool1D, AvgPool2D,
                      GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalAvgPool1D,
                      GlobalAvgPool2D, GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPooling1D,
                      GlobalMaxPooling2D, MaxPool1D, MaxPool2D, MaxPooling1D, MaxPooling2D)
from . import pooling  # noqa: F401  (Keras 2 path: cnn.layers.pooling.MaxPooling2D)
from .preprocessing import (Normalization, RandomBrightness, RandomContrast, RandomCrop,
                            RandomFlip, RandomRotation, RandomTranslation, RandomZoom,
                            Rescaling, Resizing)
from .regularization import (AlphaDropout, Dropout, GaussianDropout, GaussianNoise,
                             SpatialDropout1D, SpatialDropout2D, SpatialDropout3D)
from .time_distributed import TimeDistributed
from .recurrent import GRU, LSTM, SimpleRNN
from .reshaping import (Cropping2D, Flatten, Permute, RepeatVector, Reshape, UpSampling2D,
                        ZeroPadding2D)

__all__ = ["Activation", "ActivityRegularization", "AlphaDropout", "BatchNormalization", "Dense",
           "AdditiveAttention", "Attention", "MultiHeadAttention", "Bidirectional", "Masking",
           "Dropout", "Embedding", "GRU", "LSTM", "SimpleRNN", "GaussianDropout", "GaussianNoise", "Input", "InputLayer",
           "InputSpec",
           "KerasTensor", "Layer", "LayerNormalization", "LeakyReLU", "SpatialDropout1D", "SpatialDropout2D",
           "SpatialDropout3D", "Add", "Average", "Concatenate", "Dot", "Lambda", "Maximum",
           "Minimum", "Multiply", "Subtract", "add", "average", "concatenate", "dot", "maximum",
           "minimum", "multiply", "subtract",
           "AveragePooling1D", "AveragePooling2D", "AvgPool1D", "AvgPool2D", "Cropping2D",
           "Flatten", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAvgPool1D",
           "GlobalAvgPool2D", "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPooling1D",
           "GlobalMaxPooling2D", "MaxPool1D", "MaxPool2D", "MaxPooling1D", "MaxPooling2D",
           "Permute", "RepeatVector", "Reshape", "UpSampling2D", "ZeroPadding2D",
           "Conv1D", "Conv1DTranspose", "Conv2D", "Conv2DTranspose", "Convolution1D",
           "Convolution1DTranspose", "Convolution2D", "Convolution2DTranspose", "DepthwiseConv1D",
           "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
           "Normalization", "RandomBrightness", "RandomContrast", "RandomCrop", "RandomFlip",
           "RandomRotation", "RandomTranslation", "RandomZoom", "Rescaling", "Resizing",
           "TimeDistributed"]
