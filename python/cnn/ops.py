"""Keras-named tensor ops (`keras.ops` subset). Each works eagerly on arrays/Tensors (and is
recorded on GradientTapes) and symbolically on graph Symbols, running the same C kernels."""
import numpy as np

from .backend import Symbol, Tensor, convert_to_tensor, op

__all__ = [
    "matmul", "add", "subtract", "multiply", "divide", "negative", "exp", "log", "sqrt", "square",
    "abs", "absolute", "clip", "maximum", "minimum", "sum", "mean", "max", "reshape", "transpose",
    "concatenate", "slice", "arange",
    "relu", "leaky_relu", "elu", "selu", "gelu", "sigmoid", "hard_sigmoid",
    "tanh", "softplus", "softsign", "silu", "swish", "softmax", "log_softmax", "convert_to_tensor",
    "convert_to_numpy", "shape", "expand_dims", "squeeze",
]


def _axes(axis, ndim):
    if axis is None:
        return []
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    return [int(a) for a in axes]


def matmul(x1, x2): return op("matmul", [x1, x2])
def add(x1, x2): return op("add", [x1, x2])
def subtract(x1, x2): return op("sub", [x1, x2])
def multiply(x1, x2): return op("mul", [x1, x2])
def divide(x1, x2): return op("div", [x1, x2])
def negative(x): return op("neg", [x])
def exp(x): return op("exp", [x])
def log(x): return op("log", [x])
def sqrt(x): return op("sqrt", [x])
def square(x): return op("square", [x])
def abs(x): return op("abs", [x])  # noqa: A001 (Keras name)
absolute = abs
def maximum(x1, x2): return op("maximum", [x1, x2])
def minimum(x1, x2): return op("minimum", [x1, x2])
def clip(x, x_min, x_max): return op("clip", [x], floats=[x_min, x_max])


def _ndim(x):
    return len(x.shape) if isinstance(x, (Tensor, Symbol)) else np.ndim(x)


def sum(x, axis=None, keepdims=False):  # noqa: A001
    return op("sum", [x], ints=[int(keepdims)] + _axes(axis, _ndim(x)))


def mean(x, axis=None, keepdims=False):
    return op("mean", [x], ints=[int(keepdims)] + _axes(axis, _ndim(x)))


def max(x, axis=None, keepdims=False):  # noqa: A001
    return op("max", [x], ints=[int(keepdims)] + _axes(axis, _ndim(x)))


def reshape(x, newshape):
    dims = [newshape] if isinstance(newshape, int) else list(newshape)
    return op("reshape", [x], ints=[-1 if d is None else int(d) for d in dims])


def transpose(x, axes=None):
    return op("transpose", [x], ints=[] if axes is None else [int(a) for a in axes])


def concatenate(xs, axis=0):
    return op("concat", list(xs), ints=[int(axis)])


def slice(x, start_indices, shape):  # noqa: A001 (Keras name)
    return op("slice", [x], ints=[int(s) for s in start_indices] + [int(s) for s in shape])


def expand_dims(x, axis):
    s = list(x.shape if isinstance(x, (Tensor, Symbol)) else np.shape(x))
    ax = axis if axis >= 0 else len(s) + 1 + axis
    s.insert(ax, 1)
    return reshape(x, [-1 if d is None else d for d in s])


def squeeze(x, axis=None):
    s = list(x.shape if isinstance(x, (Tensor, Symbol)) else np.shape(x))
    axes = range(len(s)) if axis is None else [a % len(s) for a in _axes(axis, len(s))]
    keep = [d for i, d in enumerate(s) if not (i in axes and d == 1)]
    return reshape(x, [-1 if d is None else d for d in keep])


def arange(start, stop=None, step=1, dtype=None):
    """Evenly spaced values in [start, stop) (or [0, start)), as NumPy's arange: a constant
    float32 tensor (cnn's tensors hold float32, and integer-valued ones up to 2**24 are
    exact, so the result can index an Embedding, e.g. positions 0..length-1)."""
    if dtype not in (None, "float32", "int32", "int64", "int"):
        raise ValueError(f"cnn tensors are float32; received dtype={dtype!r}")
    if stop is None:
        start, stop = 0, start
    values = np.arange(start, stop, step)
    return convert_to_tensor(values.astype(np.float32))


def relu(x): return op("relu", [x])
def leaky_relu(x, negative_slope=0.2): return op("leaky_relu", [x], floats=[negative_slope])
def elu(x, alpha=1.0): return op("elu", [x], floats=[alpha])
def selu(x): return op("selu", [x])
def gelu(x, approximate=True): return op("gelu", [x], ints=[int(approximate)])
def sigmoid(x): return op("sigmoid", [x])
def hard_sigmoid(x): return op("hard_sigmoid", [x])
def tanh(x): return op("tanh", [x])
def softplus(x): return op("softplus", [x])
def softsign(x): return op("softsign", [x])
def silu(x): return op("silu", [x])
swish = silu
def softmax(x, axis=-1): return op("softmax", [x], ints=[int(axis)])
def log_softmax(x, axis=-1): return op("log_softmax", [x], ints=[int(axis)])


def convert_to_numpy(x):
    return np.asarray(x.numpy() if isinstance(x, Tensor) else x)


def shape(x):
    return tuple(x.shape) if isinstance(x, (Tensor, Symbol)) else np.shape(x)
