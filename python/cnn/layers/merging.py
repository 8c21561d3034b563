"""Merge layers: Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum, Dot, and
their functional forms (`concatenate`, `add`, ...).

Each takes a list of tensors and composes existing engine ops (add, sub, mul, div, maximum,
minimum, concat, matmul, transpose, reshape), so a merge inside a compiled training step is
just more nodes of the same C graph. Shapes follow Keras 3: element-wise merges broadcast
the non-batch axes right-aligned (a lower-rank input gets unit axes after its batch axis),
and incompatible shapes fail when the layer is called, naming the layer and the shapes."""
import numpy as np

from .. import backend, ops
from .input_spec import _fmt
from .layer import Layer, all_steps_mask, shape_of

__all__ = ["Add", "Average", "Concatenate", "Dot", "Maximum", "Minimum", "Multiply", "Subtract",
           "add", "average", "concatenate", "dot", "maximum", "minimum", "multiply", "subtract"]


def _shapes_text(shapes):
    return "[" + ", ".join(_fmt(s) for s in shapes) + "]"


class _Merge(Layer):
    """Base of the merge layers: checks that the call gets a list of tensors and that their
    shapes can be merged, then folds `_merge_function` over them."""

    _min_inputs = 1
    _exact_inputs = None
    supports_masking = True

    def compute_mask(self, inputs, previous_mask):
        """Keras's rule: the entries every input keeps (inputs without a mask keep all);
        None when no input has a mask."""
        masks = [m for m in (previous_mask if isinstance(previous_mask, (list, tuple))
                             else [previous_mask]) if m is not None]
        if not masks:
            return None
        out = masks[0]
        for m in masks[1:]:
            out = backend.op("mul", [out, m])  # 0/1 masks: the product is their AND
        return out

    def __call__(self, inputs, *args, **kwargs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"A merge layer ('{self.name}', {type(self).__name__}) should be "
                             f"called on a list of inputs. Received: inputs of shape "
                             f"{_fmt(getattr(inputs, 'shape', np.shape(inputs)))} (not a "
                             "list of tensors)")
        return super().__call__(list(inputs), *args, **kwargs)

    def _check_count(self, shapes):
        n = len(shapes)
        if self._exact_inputs is not None and n != self._exact_inputs:
            raise ValueError(f"A `{type(self).__name__}` layer ('{self.name}') should be called "
                             f"on exactly {self._exact_inputs} inputs. Received {n} inputs "
                             f"with shapes {_shapes_text(shapes)}")
        if n < self._min_inputs:
            raise ValueError(f"A `{type(self).__name__}` layer ('{self.name}') should be called "
                             f"on a list of at least {self._min_inputs} input(s). Received "
                             f"{n} inputs.")

    def _check_shapes(self, shapes):
        """Validates the shapes and returns the merged output shape."""
        self._check_count(shapes)
        batches = {s[0] for s in shapes if s} - {None}
        if len(batches) > 1:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) cannot merge tensors "
                             f"with different batch sizes. Received tensors with shapes "
                             f"{_shapes_text(shapes)}")
        out = tuple(shapes[0][1:])
        for shape in shapes[1:]:
            out = self._broadcast(out, tuple(shape[1:]), shapes)
        batch = next(iter(batches)) if batches else None
        return (batch,) + out

    def _broadcast(self, a, b, shapes):
        if len(a) < len(b):
            a, b = b, a
        if not b:
            return a
        out = list(a[:len(a) - len(b)])
        for i, j in zip(a[len(a) - len(b):], b):
            if i is None or j is None:
                out.append(None)
            elif i == 1 or j == 1 or i == j:
                out.append(j if i == 1 else i)
            else:
                raise ValueError(f"Layer '{self.name}' ({type(self).__name__}): inputs have "
                                 f"incompatible shapes. Received shapes {_shapes_text(shapes)}")
        return tuple(out)

    def _check_and_build(self, shapes):
        # Checked on every call, not only the first: a merge layer has no weights, and its
        # shape rules must hold for each call (a shared Add, eager inputs of a new shape).
        self._check_shapes([tuple(s) for s in shapes])
        super()._check_and_build(shapes)

    def build(self, input_shape):
        self.built = True

    def compute_output_shape(self, input_shape):
        shapes = [tuple(s) for s in input_shape] if input_shape and isinstance(
            input_shape[0], (list, tuple)) else [tuple(input_shape)]
        return self._check_shapes(shapes)

    def call(self, inputs):
        ranks = [len(x.shape) for x in inputs]
        if len(set(ranks)) > 1:  # lower-rank inputs get unit axes after the batch axis
            top = max(ranks)
            expanded = []
            for x, r in zip(inputs, ranks):
                for _ in range(top - r):
                    x = ops.expand_dims(x, 1)
                expanded.append(x)
            inputs = expanded
        return self._merge_function(list(inputs))

    def _merge_function(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = self._combine(out, x)
        return out


class Add(_Merge):
    """Adds a list of inputs element-wise.

    All inputs have the same shape, or shapes that broadcast (Keras's rules: the batch axes
    agree and the other axes broadcast right-aligned).

    Examples:

    >>> a, b = cnn.layers.Input((3,)), cnn.layers.Input((3,))
    >>> y = cnn.layers.Add()([a, b])            # or cnn.layers.add([a, b])

    Args:
        **kwargs: base Layer arguments (name, trainable, dtype, ...).
    """

    def _combine(self, a, b):
        return ops.add(a, b)


class Subtract(_Merge):
    """Subtracts two inputs: `inputs[0] - inputs[1]`, element-wise.

    Args:
        **kwargs: base Layer arguments (name, trainable, dtype, ...).
    """

    _exact_inputs = 2

    def _combine(self, a, b):
        return ops.subtract(a, b)


class Multiply(_Merge):
    """Multiplies a list of inputs element-wise.

    Args:
        **kwargs: base Layer arguments (name, trainable, dtype, ...).
    """

    def _combine(self, a, b):
        return ops.multiply(a, b)


class Average(_Merge):
    """Averages a list of inputs element-wise.

    Args:
        **kwargs: base Layer arguments (name, trainable, dtype, ...).
    """

    def _merge_function(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = ops.add(out, x)
        return ops.divide(out, np.float32(len(inputs))) if len(inputs) > 1 else out


class Maximum(_Merge):
    """The element-wise maximum of a list of inputs.

    Args:
        **kwargs: base Layer arguments (name, trainable, dtype, ...).
    """

    def _combine(self, a, b):
        return ops.maximum(a, b)


class Minimum(_Merge):
    """The element-wise minimum of a list of inputs.

    Args:
        **kwargs: base Layer arguments (name, trainable, dtype, ...).
    """

    def _combine(self, a, b):
        return ops.minimum(a, b)


class Concatenate(_Merge):
    """Concatenates a list of inputs along one axis.

    The inputs have the same rank and the same sizes on every other axis.

    Examples:

    >>> x = np.arange(20, dtype="float32").reshape(2, 2, 5)
    >>> y = np.arange(20, 30, dtype="float32").reshape(2, 1, 5)
    >>> cnn.layers.Concatenate(axis=1)([x, y]).shape
    (2, 3, 5)

    Args:
        axis: the axis to concatenate along (default -1).
        **kwargs: base Layer arguments (name, trainable, dtype, ...).
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
            raise TypeError(f"Concatenate: `axis` must be an integer; received axis={axis!r}")
        self.axis = int(axis)

    def _check_shapes(self, shapes):
        self._check_count(shapes)
        rank = len(shapes[0])
        bad = f"Layer '{self.name}' (Concatenate): "
        if any(len(s) != rank for s in shapes):
            raise ValueError(bad + "a `Concatenate` layer requires inputs of the same rank; "
                             f"received input shapes {_shapes_text(shapes)}")
        if not -rank <= self.axis < rank:
            raise ValueError(bad + f"axis={self.axis} is out of range for inputs of rank "
                             f"{rank}; received input shapes {_shapes_text(shapes)}")
        axis = self.axis % rank
        out = list(shapes[0])
        for shape in shapes[1:]:
            for i, (d, e) in enumerate(zip(out, shape)):
                if i == axis:
                    out[i] = None if d is None or e is None else d + e
                elif d is None:
                    out[i] = e
                elif e is not None and d != e:
                    raise ValueError(bad + "a `Concatenate` layer requires inputs with "
                                     "matching shapes except for the concatenation axis "
                                     f"{self.axis}. Received: input_shape={_shapes_text(shapes)}")
        return tuple(out)

    def call(self, inputs):
        return ops.concatenate(list(inputs), axis=self.axis)

    def compute_mask(self, inputs, previous_mask):
        """Keras's rule: each input's step mask (all ones for an input without one) is
        concatenated along `axis`; along the features, a step is kept when any input keeps
        it, so an unmasked input keeps every step. None when no input has a mask."""
        masks = list(previous_mask) if isinstance(previous_mask, (list, tuple)) else [previous_mask]
        if all(m is None for m in masks):
            return None
        rank = len(shape_of(inputs[0]))
        if self.axis % rank == rank - 1:
            given = [m for m in masks if m is not None]
            if len(given) < len(masks):
                return all_steps_mask(inputs[0])
            out = given[0]
            for m in given[1:]:
                out = backend.op("maximum", [out, m])  # 0/1 masks: the maximum is their OR
            return out
        filled = [m if m is not None else all_steps_mask(x) for x, m in zip(inputs, masks)]
        return backend.op("concat", filled, ints=[self.axis % rank])

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Dot(_Merge):
    """The dot product of two batched inputs along an axis of each (Keras's batch dot).

    With inputs of shapes `(batch, n)` and `(batch, n)` and `axes=1`, the result has shape
    `(batch, 1)`; with `(batch, 3, 5)` and `(batch, 10, 3)` and `axes=(1, 2)`, it has shape
    `(batch, 5, 10)`: the first input's axes without the summed one, then the second's
    without its batch and summed axes.

    Args:
        axes: an integer, or a pair of integers (one axis per input), saying which axis the
            product sums over. The two axes have the same size; axis 0 (the batch) is not
            allowed.
        normalize: whether to L2-normalize each sample along its dot axis first, which
            makes the result the cosine similarity of the two samples (default False).
        **kwargs: base Layer arguments (name, trainable, dtype, ...).
    """

    _exact_inputs = 2

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axes, (list, tuple)):
            if len(axes) != 2:
                raise ValueError("Invalid format for argument `axes`: it should contain two "
                                 f"elements. Received: axes={axes!r}")
            if not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool)
                       for a in axes):
                raise ValueError("Invalid format for argument `axes`: list elements should be "
                                 f"integers. Received: axes={axes!r}")
            axes = [int(a) for a in axes]
        elif not isinstance(axes, (int, np.integer)) or isinstance(axes, bool):
            raise TypeError("Invalid type for argument `axes`: it should be a list or an int. "
                            f"Received: axes={axes!r}")
        else:
            axes = int(axes)
        self.axes = axes
        self.normalize = bool(normalize)

    def _resolved_axes(self, shapes):
        pair = [self.axes, self.axes] if isinstance(self.axes, int) else list(self.axes)
        return [a % len(s) if a < 0 else a for a, s in zip(pair, shapes)]

    def _check_shapes(self, shapes):
        self._check_count(shapes)
        bad = f"Layer '{self.name}' (Dot): "
        s1, s2 = shapes
        if len(s1) < 2 or len(s2) < 2:
            raise ValueError(bad + "cannot do a batch dot on inputs of rank < 2. Received "
                             f"input shapes {_shapes_text(shapes)}")
        if s1[0] is not None and s2[0] is not None and s1[0] != s2[0]:
            raise ValueError(bad + "cannot do a batch dot on inputs with different batch "
                             f"sizes. Received input shapes {_shapes_text(shapes)}")
        a1, a2 = self._resolved_axes(shapes)
        if not (0 <= a1 < len(s1) and 0 <= a2 < len(s2)):
            raise ValueError(bad + f"axes={self.axes} are out of range for input shapes "
                             f"{_shapes_text(shapes)}")
        if a1 == 0 or a2 == 0:
            raise ValueError(bad + "cannot take the dot product over axis 0 (the batch axis); "
                             f"received axes={self.axes}")
        if s1[a1] is not None and s2[a2] is not None and s1[a1] != s2[a2]:
            raise ValueError(bad + f"incompatible input shapes: axis values {s1[a1]} (at axis "
                             f"{a1}) != {s2[a2]} (at axis {a2}). Full input shapes: "
                             f"{_shapes_text(shapes)}")
        out = [d for i, d in enumerate(s1) if i != a1] + \
              [d for i, d in enumerate(s2) if i not in (0, a2)]
        if len(out) == 1:
            out.append(1)
        batch = s1[0] if s1[0] is not None else s2[0]
        return (batch,) + tuple(out[1:])

    def call(self, inputs):
        x, y = inputs
        a1, a2 = self._resolved_axes([x.shape, y.shape])
        if self.normalize:
            x, y = _l2_normalize(x, a1), _l2_normalize(y, a2)
        return _batch_dot(x, y, a1, a2)

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def _l2_normalize(x, axis):
    """x / max(||x||, 1e-7) along `axis` (Keras's l2 normalize). The floor is applied to the
    squared norm so the gradient stays finite at a zero sample."""
    squares = ops.sum(ops.square(x), axis=axis, keepdims=True)
    return ops.divide(x, ops.sqrt(ops.maximum(squares, np.float32(1e-14))))


def _dims(shape):
    return [-1 if d is None else int(d) for d in shape]


def _batch_dot(x, y, a1, a2):
    """Keras's batch_dot, composed from transpose, reshape and a batched matmul: x's dot
    axis is moved last and y's to axis 1, extra axes are folded, and the (batch, m, k) @
    (batch, k, n) product is unfolded to x's kept axes followed by y's."""
    x_rank, y_rank = len(x.shape), len(y.shape)
    if x_rank == 2:
        x, a1 = ops.expand_dims(x, 1), a1 + 1
    if y_rank == 2:
        y = ops.expand_dims(y, 2)
    xr, yr = len(x.shape), len(y.shape)
    if a1 != xr - 1:
        x = ops.transpose(x, [i for i in range(xr) if i != a1] + [a1])
    if a2 != 1:
        y = ops.transpose(y, [0, a2] + [i for i in range(1, yr) if i != a2])
    x_mid, y_tail = list(x.shape[1:-1]), list(y.shape[2:])
    if xr > 3:
        x = ops.reshape(x, [-1, int(np.prod(x_mid)), int(x.shape[-1])])
    if yr > 3:
        y = ops.reshape(y, [-1, int(y.shape[1]), int(np.prod(y_tail))])
    out = ops.matmul(x, y)
    if xr > 3 or yr > 3:
        out = ops.reshape(out, _dims([None] + x_mid + y_tail))
    if x_rank == 2:
        out = ops.squeeze(out, 1)
    elif y_rank == 2:
        out = ops.squeeze(out, -1)
    return out


def add(inputs, **kwargs):
    """Functional form of `Add`: `add([a, b])` is `Add(**kwargs)([a, b])`."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """Functional form of `Subtract`: `subtract([a, b])` is `a - b`."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """Functional form of `Multiply`."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """Functional form of `Average`."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """Functional form of `Maximum`."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """Functional form of `Minimum`."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """Functional form of `Concatenate`: joins `inputs` along `axis` (default -1)."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, **kwargs):
    """Functional form of `Dot`: the batch dot product of two inputs along `axes`; pass
    `normalize=True` for the cosine similarity."""
    return Dot(axes=axes, **kwargs)(inputs)
