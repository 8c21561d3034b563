"""Weight and activity regularizers with Keras's names, defaults and formulas.

A regularizer maps a tensor to a scalar penalty built from engine ops, so the same object
gives an eager value (`layer.losses`, `model.losses`) and, applied to a parameter's graph
Symbol, a term of the compiled training loss that the C step differentiates. Layers take
them as `kernel_regularizer=`, `bias_regularizer=`, `activity_regularizer=`, and
`Layer.add_weight(regularizer=...)`."""
import math

import numpy as np

from . import backend

__all__ = ["Regularizer", "L1", "L2", "L1L2", "OrthogonalRegularizer", "l1", "l2", "l1_l2",
           "orthogonal_regularizer", "get", "serialize", "deserialize"]


def validate_float_arg(value, name):
    """`value` as a float; a ValueError unless it is a finite, non-negative number."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value) or value < 0:
        raise ValueError(f"Invalid value for argument {name}: expected a non-negative float. "
                         f"Received: {name}={value!r}")
    return float(value)


def _sum_all(x):
    return backend.op("sum", [x], ints=[0])


class Regularizer:
    """Base class: a regularizer is called on a tensor and returns a scalar penalty.

    Subclasses implement `__call__(x)` and, to be serialized, `get_config()`."""

    def __call__(self, x):
        return 0.0

    def get_config(self):
        raise TypeError(f"{type(self).__name__}: Regularizer subclasses must implement "
                        "get_config() to be serialized")

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class L1L2(Regularizer):
    """`l1 * sum(abs(x)) + l2 * sum(square(x))`.

    Args:
        l1: L1 factor, a non-negative float (default 0.0; None means 0.0).
        l2: L2 factor, a non-negative float (default 0.0; None means 0.0).
    """

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = validate_float_arg(0.0 if l1 is None else l1, "l1")
        self.l2 = validate_float_arg(0.0 if l2 is None else l2, "l2")

    def __call__(self, x):
        penalty = None
        if self.l1 != 0.0:
            penalty = backend.op("mul", [np.float32(self.l1),
                                         _sum_all(backend.op("abs", [x]))])
        if self.l2 != 0.0:
            term = backend.op("mul", [np.float32(self.l2), _sum_all(backend.op("square", [x]))])
            penalty = term if penalty is None else backend.op("add", [penalty, term])
        return penalty if penalty is not None else backend.convert_to_tensor(np.float32(0.0))

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """`l1 * sum(abs(x))`.

    Args:
        l1: the factor, a non-negative float (default 0.01; None means 0.01).
    """

    def __init__(self, l1=0.01):
        self.l1 = validate_float_arg(0.01 if l1 is None else l1, "l1")

    def __call__(self, x):
        return backend.op("mul", [np.float32(self.l1), _sum_all(backend.op("abs", [x]))])

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """`l2 * sum(square(x))`.

    Args:
        l2: the factor, a non-negative float (default 0.01; None means 0.01).
    """

    def __init__(self, l2=0.01):
        self.l2 = validate_float_arg(0.01 if l2 is None else l2, "l2")

    def __call__(self, x):
        return backend.op("mul", [np.float32(self.l2), _sum_all(backend.op("square", [x]))])

    def get_config(self):
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Pushes the rows (or columns) of a rank-2 tensor towards orthogonality:
    `factor * 0.5 * sum(|off-diagonal of N N^T|) / (size * (size - 1) / 2)` where N holds
    the L2-normalized rows (mode="rows") or columns (mode="columns").

    Args:
        factor: a non-negative float (default 0.01).
        mode: "rows" (default) or "columns".
    """

    def __init__(self, factor=0.01, mode="rows"):
        self.factor = validate_float_arg(factor, "factor")
        if mode not in ("rows", "columns"):
            raise ValueError("Invalid value for argument `mode`. Expected one of "
                             f"{{'rows', 'columns'}}. Received: mode={mode!r}")
        self.mode = mode

    def __call__(self, x):
        from .losses import l2_normalize
        shape = tuple(getattr(x, "shape", np.shape(x)))
        if len(shape) != 2 or None in shape:
            raise ValueError("Inputs to OrthogonalRegularizer must have rank 2 and a known "
                             f"shape. Received: inputs.shape={shape}")
        if self.mode == "rows":
            unit = l2_normalize(x, axis=1)
            product = backend.op("matmul", [unit, backend.op("transpose", [unit])])
            size = shape[0]
        else:
            unit = l2_normalize(x, axis=0)
            product = backend.op("matmul", [backend.op("transpose", [unit]), unit])
            size = shape[1]
        off_diagonal = backend.op("mul", [product, 1.0 - np.eye(size, dtype=np.float32)])
        pairs = size * (size - 1.0) / 2.0
        # size 1 has no pairs: Keras divides 0 by 0 there; the penalty is 0 instead of NaN.
        scale = self.factor * 0.5 / pairs if pairs else 0.0
        return backend.op("mul", [np.float32(scale),
                                  _sum_all(backend.op("abs", [off_diagonal]))])

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode}


# Keras's lower-case aliases of the classes.
l1, l2, l1_l2, orthogonal_regularizer = L1, L2, L1L2, OrthogonalRegularizer

_CLASSES = {c.__name__: c for c in (Regularizer, L1, L2, L1L2, OrthogonalRegularizer)}
_BY_NAME = {**_CLASSES, "regularizer": Regularizer, "l1": L1, "l2": L2, "l1l2": L1L2,
            "orthogonal_regularizer": OrthogonalRegularizer}


def serialize(regularizer):
    """None, {"class_name", "config"} for a Regularizer, or a function's name."""
    if regularizer is None:
        return None
    if isinstance(regularizer, Regularizer):
        return {"class_name": type(regularizer).__name__, "config": regularizer.get_config()}
    return getattr(regularizer, "__name__", str(regularizer))


def deserialize(config):
    """A Regularizer from serialize()'s {"class_name", "config"} dict."""
    if not isinstance(config, dict) or config.get("class_name") not in _CLASSES or \
            set(config) - {"class_name", "config", "module", "registered_name",
                           "shared_object_id"}:
        raise ValueError(f"Could not interpret regularizer identifier: {config!r}. A dict "
                         f"needs a 'class_name' among {sorted(_CLASSES)} and optionally a "
                         "'config'")
    return _CLASSES[config["class_name"]].from_config(config.get("config") or {})


def known_names():
    return sorted(set(_BY_NAME) | {"l1_l2"})


def get(identifier):
    """None; a name ("l1", "l2", "l1_l2", "L1L2", "orthogonal_regularizer", ...); a
    serialized dict; a Regularizer instance or class; or a callable `fn(x) -> scalar`.

    "l1_l2" is L1L2(l1=0.01, l2=0.01) (the defaults Keras documents for that string);
    "l1l2"/"L1L2" are L1L2() with both factors 0, as Keras 3 builds them."""
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier == "l1_l2":
            return L1L2(l1=0.01, l2=0.01)
        if identifier not in _BY_NAME:
            raise ValueError(f"Could not interpret regularizer identifier: '{identifier}'. "
                             f"Known regularizers: {known_names()}")
        return _BY_NAME[identifier]()
    if isinstance(identifier, type) and issubclass(identifier, Regularizer):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret regularizer identifier: {identifier!r}")
