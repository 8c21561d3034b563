"""Shape helpers shared by losses and metrics: they see NumPy arrays, eager Tensors and
graph Symbols (whose batch dim is None) alike."""
import numpy as np

from . import backend


def shape_of(x):
    shape = getattr(x, "shape", None)
    return tuple(shape) if shape is not None else np.shape(x)


def as_input(x):
    """Leaves engine values alone; turns Python/NumPy data (int labels included) into
    float32 arrays, the engine's one dtype."""
    if isinstance(x, (backend.Tensor, backend.Symbol, backend.Variable)):
        return x
    return np.asarray(x, dtype=np.float32)


def reshape(x, shape):
    """Reshape to `shape`, where None (a symbolic batch dim) becomes -1."""
    dims = [-1 if d is None else int(d) for d in shape]
    if isinstance(x, np.ndarray):
        return x.reshape(dims)
    return backend.op("reshape", [x], ints=dims)


def match_ranks(y_true, y_pred, sparse=False):
    """Keras's rank reconciliation before a loss or metric op.

    Dense targets (Keras's squeeze_or_expand_to_same_rank): when the ranks differ by one
    and the longer shape ends in a unit axis, a rank-1 side gets a trailing unit axis
    ((N,) against (N, 1) becomes (N, 1) and (N, 1)); otherwise that unit axis is dropped.
    Sparse targets must have the predictions' shape minus the class axis, so a trailing
    unit axis on the labels is dropped."""
    y_true, y_pred = as_input(y_true), as_input(y_pred)
    ts, ps = tuple(shape_of(y_true)), tuple(shape_of(y_pred))
    if sparse:
        if len(ts) == len(ps) and len(ts) > 0 and ts[-1] == 1:
            y_true = reshape(y_true, ps[:-1])
        return y_true, y_pred
    if len(ts) == len(ps) + 1 and ts[-1] == 1:
        if len(ps) == 1:
            y_pred = reshape(y_pred, ps + (1,))
        else:
            y_true = reshape(y_true, ts[:-1])
    elif len(ps) == len(ts) + 1 and ps[-1] == 1:
        if len(ts) == 1:
            y_true = reshape(y_true, ts + (1,))
        else:
            y_pred = reshape(y_pred, ps[:-1])
    return y_true, y_pred
