"""Declared input expectations of a layer, checked on every call (symbolic or eager) so
shape mistakes fail early with the layer's name and both shapes in the message."""


class InputSpec:
    def __init__(self, ndim=None, min_ndim=None, max_ndim=None, axes=None, shape=None,
                 name=None):
        self.ndim, self.min_ndim, self.max_ndim = ndim, min_ndim, max_ndim
        self.axes = dict(axes or {})
        self.shape = tuple(shape) if shape is not None else None
        self.name = name

    def __repr__(self):
        parts = [f"{k}={v}" for k, v in (("ndim", self.ndim), ("min_ndim", self.min_ndim),
                                          ("max_ndim", self.max_ndim), ("axes", self.axes),
                                          ("shape", self.shape)) if v]
        return f"InputSpec({', '.join(parts)})"


def _fmt(shape):
    shape = tuple(shape)
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def check_input_compatibility(layer, input_shapes):
    """Raises ValueError when a shape breaks the layer's input_spec. `input_shapes` is one
    shape per flat input; the batch dim may be None."""
    specs = layer.input_spec
    if specs is None:
        return
    if not isinstance(specs, (list, tuple)):
        specs = [specs]
    if len(specs) != len(input_shapes):
        raise ValueError(f"Layer '{layer.name}' expects {len(specs)} input(s), but it "
                         f"received {len(input_shapes)} input tensors.")
    for i, (spec, shape) in enumerate(zip(specs, input_shapes)):
        if spec is None:
            continue
        shape = tuple(shape)
        head = f"Input {i} of layer '{layer.name}' is incompatible with the layer:"
        ndim = len(shape)
        if spec.ndim is not None and ndim != spec.ndim:
            raise ValueError(f"{head} expected ndim={spec.ndim}, found ndim={ndim}. "
                             f"Full shape received: {_fmt(shape)}")
        if spec.min_ndim is not None and ndim < spec.min_ndim:
            raise ValueError(f"{head} expected min_ndim={spec.min_ndim}, found ndim={ndim}. "
                             f"Full shape received: {_fmt(shape)}")
        if spec.max_ndim is not None and ndim > spec.max_ndim:
            raise ValueError(f"{head} expected max_ndim={spec.max_ndim}, found ndim={ndim}. "
                             f"Full shape received: {_fmt(shape)}")
        for axis, value in spec.axes.items():
            if value is None:
                continue
            if not -ndim <= axis < ndim or shape[axis] not in (value, None):
                raise ValueError(f"{head} expected axis {axis} of input shape to have value "
                                 f"{value}, but received input with shape {_fmt(shape)}")
        if spec.shape is not None:
            if len(spec.shape) != ndim or any(
                    e is not None and d is not None and e != d for e, d in zip(spec.shape, shape)):
                raise ValueError(f"{head} expected shape={_fmt(spec.shape)}, found "
                                 f"shape={_fmt(shape)}")
