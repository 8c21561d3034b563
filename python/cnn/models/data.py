"""Turning user data into what the compiled graphs take: lists of contiguous float32
arrays, checked once per fit/evaluate/predict call (never per batch)."""
import math

import numpy as np

from .. import backend


def _fmt(shape):
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _as_float_array(value, arg):
    if isinstance(value, (backend.Tensor, backend.Variable)):
        value = value.numpy()
    try:
        array = np.asarray(value)
    except ValueError:  # NumPy's word for ragged nesting
        raise TypeError(f"`{arg}` must be a rectangular array of numbers; received a ragged "
                        f"{type(value).__name__} whose rows have different lengths") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"`{arg}` must contain numbers (it is converted to float32); "
                        f"received an array of dtype {array.dtype}")
    if array.ndim == 0:
        raise ValueError(f"`{arg}` must have a leading batch axis; received a scalar "
                         f"{array.item()!r}")
    return np.ascontiguousarray(array, dtype=np.float32)


def to_arrays(data, arg, names, count):
    """`data` as one array, a list/tuple of arrays, or a dict keyed by `names` -> a list of
    `count` float32 arrays (count None: as many as given)."""
    if data is None:
        raise ValueError(f"`{arg}` is required; received None")
    if isinstance(data, dict):
        if names is None or set(data) != set(names):
            raise ValueError(f"`{arg}` as a dict must have exactly the keys {names}; "
                             f"received keys {sorted(data)}")
        items = [data[n] for n in names]
    elif isinstance(data, (list, tuple)) and data and all(hasattr(v, "shape") for v in data):
        items = list(data)  # one array per input/output
    elif isinstance(data, (list, tuple)) and (count or 1) > 1:
        items = list(data)  # nested Python lists, one per input/output
    else:
        items = [data]
    arrays = [_as_float_array(v, f"{arg}[{i}]" if len(items) > 1 else arg)
              for i, v in enumerate(items)]
    if count is not None and len(arrays) != count:
        raise ValueError(f"The model expects {count} {'input' if arg == 'x' else 'target'} "
                         f"array(s) for `{arg}`, but received {len(arrays)}: shapes "
                         f"{[_fmt(a.shape) for a in arrays]}")
    return arrays


def check_cardinality(xs, ys=None):
    sizes_x = [a.shape[0] for a in xs]
    sizes_y = [a.shape[0] for a in ys or ()]
    if len(set(sizes_x + sizes_y)) > 1:
        msg = "Data cardinality is ambiguous. Make sure all arrays contain the same number " \
              f"of samples. 'x' sizes: {', '.join(map(str, sizes_x))}"
        if sizes_y:
            msg += f", 'y' sizes: {', '.join(map(str, sizes_y))}"
        raise ValueError(msg)
    n = sizes_x[0]
    if n == 0:
        raise ValueError(f"Expected at least one sample, but `x` is empty: shape "
                         f"{_fmt(xs[0].shape)}")
    return n


def split_validation(xs, ys, n, validation_split):
    """Keras's validation_split: the LAST fraction of the samples, taken before shuffling."""
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"`validation_split` must be in [0, 1); received {validation_split}")
    split_at = int(math.floor(n * (1.0 - validation_split)))
    if split_at == 0 or split_at == n:
        raise ValueError(f"Training data contains {n} samples, which is not sufficient to "
                         "split it into a validation and training set as specified by "
                         f"`validation_split={validation_split}`. Either provide more data, "
                         "or a different value for the `validation_split` argument.")
    train = ([a[:split_at] for a in xs], [a[:split_at] for a in ys])
    val = ([a[split_at:] for a in xs], [a[split_at:] for a in ys])
    return train, val


def batch_slices(n, batch_size):
    return [slice(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]


def check_batch_size(batch_size, arg="batch_size"):
    if batch_size is None:
        return 32
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size <= 0:
        raise ValueError(f"`{arg}` must be a positive integer; received {batch_size!r}")
    return int(batch_size)


def check_steps(steps, arg):
    """None, or a positive number of batches."""
    if steps is None:
        return None
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps <= 0:
        raise ValueError(f"`{arg}` must be None or a positive integer; received {steps!r}")
    return int(steps)


def _is_array_like(v):
    return v is None or hasattr(v, "shape") or isinstance(v, (list, tuple))


def sample_weight_arrays(sample_weight, output_names, n, arg="sample_weight"):
    """Per-output float32 weight arrays (None for an output without weights), or None when
    no weights are given. Accepts one array (shared by every output, which then must be
    one weight per sample, as Keras requires), a list with one entry per output, or a dict
    keyed by output name. Weights of shape (N, 1) become (N,)."""
    if sample_weight is None:
        return None
    count = len(output_names)
    if isinstance(sample_weight, dict):
        unknown = set(sample_weight) - set(output_names)
        if unknown:
            raise ValueError(f"`{arg}` has keys {sorted(unknown)} that are not outputs of the "
                             f"model; outputs are {output_names}")
        items = [sample_weight.get(name) for name in output_names]
    elif isinstance(sample_weight, (list, tuple)) and len(sample_weight) == count and all(
            _is_array_like(v) for v in sample_weight) and (
            count > 1 or hasattr(sample_weight[0], "shape")
            or isinstance(sample_weight[0], (list, tuple))):
        items = list(sample_weight)
    elif count > 1 and isinstance(sample_weight, (list, tuple)) and sample_weight and all(
            hasattr(v, "shape") or v is None for v in sample_weight):
        raise ValueError(f"You should provide one `{arg}` array per output: the model has "
                         f"{count} outputs ({output_names}), but received {len(sample_weight)} "
                         "arrays.")
    else:
        shared = _as_float_array(sample_weight, arg)
        if count > 1 and not (shared.ndim == 1 or shared.ndim == 2 and shared.shape[1] == 1):
            raise ValueError(
                f"For a model with multiple outputs, when providing a single `{arg}` array, "
                "it should only have one scalar score per sample (i.e. shape "
                f"`(num_samples,)`); received shape {_fmt(shared.shape)}. If you want to use "
                f"non-scalar sample weights, pass a `{arg}` argument with one array per "
                "model output.")
        items = [shared] * count
    out = []
    for i, item in enumerate(items):
        if item is None:
            out.append(None)
            continue
        name = f"{arg}[{output_names[i]!r}]" if count > 1 else arg
        w = _as_float_array(item, name)
        if w.ndim == 2 and w.shape[1] == 1:
            w = w.reshape(-1)
        if w.shape[0] != n:
            raise ValueError(f"Data cardinality is ambiguous: `{name}` has {w.shape[0]} "
                             f"weights but the data has {n} samples.")
        out.append(np.ascontiguousarray(w))
    return out if any(w is not None for w in out) else None


def class_weight_to_sample_weights(y, class_weight):
    """Keras's class_weight: each sample weighs class_weight[its class] (1.0 for classes
    not in the dict); the class is the argmax of one-hot targets, else the rounded label."""
    if y.ndim > 1:
        y = y.argmax(axis=-1) if y.shape[-1] != 1 else y.reshape(y.shape[:-1])
    if y.ndim != 1:
        raise ValueError("`class_weight` needs one class per sample, but the targets have "
                         f"shape {_fmt(y.shape)} after taking the class of each; pass "
                         "`sample_weight` instead.")
    labels = np.round(y).astype(np.int64)
    classes, inverse = np.unique(labels, return_inverse=True)
    table = np.array([float(class_weight.get(int(c), 1.0)) for c in classes], np.float32)
    return np.ascontiguousarray(table[inverse.reshape(-1)])


class GatherBuffers:
    """Reusable batch-sized buffers for shuffled batches. Gathering each batch's rows into
    the same memory every step (kept on the model across fit calls) avoids allocating a
    permuted copy of the data per epoch, whose fresh pages would fault on every touch."""

    def __init__(self):
        self._buffers = {}

    def gather(self, slot, array, index, batch_size):
        key = (slot, batch_size, array.shape[1:])
        buf = self._buffers.get(key)
        if buf is None:
            buf = self._buffers[key] = np.empty((batch_size,) + array.shape[1:], np.float32)
        out = buf[:len(index)]
        # mode="clip" lets take() write straight into `out` (the default buffers a copy);
        # the indices come from a permutation, so they are always in range.
        array.take(index, axis=0, out=out, mode="clip")
        return out
