"""`Input(shape)`: the symbolic entry point of a functional model, and its InputLayer."""
import numpy as np

from ..utils.naming import auto_name
from .keras_tensor import KerasTensor, Node
from .layer import Layer


def _index_dtype_of(dtype):
    """"int32" or "int64" for those dtypes (integer inputs, e.g. Embedding indices, which
    cnn carries as float32: exact up to 2**24), else None."""
    if dtype is None:
        return None
    try:
        name = np.dtype(dtype).name
    except TypeError:
        return None
    return name if name in ("int32", "int64") else None


class InputLayer(Layer):
    def __init__(self, shape=None, batch_size=None, dtype=None, batch_shape=None, name=None,
                 input_tensor=None, **kwargs):
        self._index_dtype = _index_dtype_of(dtype)
        super().__init__(name=name or auto_name("InputLayer"),
                         dtype=None if self._index_dtype else dtype, **kwargs)
        if shape is not None and batch_shape is not None:
            raise ValueError("You cannot pass both `shape` and `batch_shape` at the same time.")
        if batch_shape is None:
            if shape is None:
                raise ValueError("You must pass a `shape` argument.")
            shape = (shape,) if isinstance(shape, int) else tuple(shape)
            batch_shape = (batch_size,) + shape
        self.batch_shape = tuple(None if d is None else int(d) for d in batch_shape)
        if len(self.batch_shape) == 0:
            raise ValueError("Input shapes need at least a batch axis; received an empty "
                             "batch_shape.")
        self.built = True
        Node(self, [], KerasTensor(self.batch_shape, name=self.name))  # `output` reads it

    @property
    def shape(self):
        return self.batch_shape

    def get_config(self):
        return {"batch_shape": self.batch_shape, "name": self.name}


def Input(shape=None, batch_size=None, dtype=None, batch_shape=None, name=None, **kwargs):
    """A symbolic tensor of shape (batch_size, *shape) to start a functional model. `dtype`
    is None or "float32", or "int32"/"int64" for integer inputs such as Embedding indices
    (carried as float32, so exact up to 2**24)."""
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype,
                       batch_shape=batch_shape, name=name, **kwargs)
    return layer.output
