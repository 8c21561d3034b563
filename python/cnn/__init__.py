"""cnn: a Keras-compatible deep-learning library with a C engine."""
from . import _blas  # noqa: F401  (loads OpenBLAS before the extension needs it)
from . import _C
