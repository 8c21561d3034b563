"""Weight initializers with Keras's names, defaults and formulas, drawn with NumPy.

An initializer given an integer `seed` draws the same values on every call (as Keras 3's
do). Without one it draws from cnn's global generator, so `cnn.utils.set_random_seed(s)`
before building a model makes its weights repeat exactly (unlike Keras 3, where an
unseeded instance picks a seed when it is created and then also repeats its values)."""
import math

import numpy as np

from .utils import rng

__all__ = ["Initializer", "Zeros", "Ones", "Constant", "Identity", "RandomNormal",
           "RandomUniform", "TruncatedNormal", "VarianceScaling", "GlorotNormal",
           "GlorotUniform", "HeNormal", "HeUniform", "LecunNormal", "LecunUniform",
           "Orthogonal", "compute_fans", "get", "serialize", "deserialize"]

# The standard deviation of a unit normal truncated to (-2, 2): VarianceScaling divides
# by it so its truncated draws keep the variance asked for.
TRUNCATED_STDDEV = 0.87962566103423978


def compute_fans(shape, input_axes=None, output_axes=None):
    """(fan_in, fan_out) of a weight shape, as Keras computes them.

    Rank 0: (1, 1); rank 1: (n, n); rank 2: (in, out); higher ranks are convolution
    kernels (..., in, out) whose receptive field (the product of the leading axes)
    multiplies both. `input_axes` and `output_axes` (both or neither) name the axes whose
    sizes multiply into each fan instead."""
    shape = tuple(int(d) for d in shape)
    if (input_axes is None) != (output_axes is None):
        raise ValueError("compute_fans: give both `input_axes` and `output_axes`, or neither; "
                         f"received input_axes={input_axes!r}, output_axes={output_axes!r}")
    if input_axes is not None:
        for axis in list(input_axes) + list(output_axes):
            if not -len(shape) <= int(axis) < len(shape):
                raise ValueError(f"compute_fans: axis {axis} is out of range for a weight of "
                                 f"shape {shape}")
        return (int(math.prod(shape[int(a)] for a in input_axes)),
                int(math.prod(shape[int(a)] for a in output_axes)))
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def _check_shape(shape, who):
    dims = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if any(d is None or isinstance(d, bool) or int(d) < 0 for d in dims):
        raise ValueError(f"{who}: the shape to initialize must be fully known and "
                         f"non-negative; received shape={shape!r}")
    return tuple(int(d) for d in dims)


def _check_dtype(dtype, who):
    if dtype not in (None, "float32", np.float32):
        raise ValueError(f"{who}: cnn initializes float32 weights only; received "
                         f"dtype={dtype!r}")


class Initializer:
    """Base class: subclasses implement `__call__(shape, dtype=None)`, returning a float32
    array of that shape, and `get_config()` for their arguments."""

    def __call__(self, shape, dtype=None):
        raise TypeError(f"{type(self).__name__}: Initializer subclasses must implement "
                        "__call__(shape, dtype=None), returning an array of that shape")

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def clone(self):
        return type(self).from_config(self.get_config())

    def _start(self, shape, dtype):
        who = type(self).__name__
        _check_dtype(dtype, who)
        return _check_shape(shape, who)


# ---- constants -----------------------------------------------------------------------------

class Zeros(Initializer):
    """All zeros."""

    def __call__(self, shape, dtype=None):
        return np.zeros(self._start(shape, dtype), dtype=np.float32)


class Ones(Initializer):
    """All ones."""

    def __call__(self, shape, dtype=None):
        return np.ones(self._start(shape, dtype), dtype=np.float32)


class Constant(Initializer):
    """`value` everywhere (a scalar, or an array broadcast to the shape).

    Args:
        value: the value (default 0.0).
    """

    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        shape = self._start(shape, dtype)
        value = np.asarray(self.value, dtype=np.float32)
        try:
            return np.ascontiguousarray(np.broadcast_to(value, shape), dtype=np.float32)
        except ValueError:
            raise ValueError(f"Constant: value of shape {value.shape} cannot fill a weight of "
                             f"shape {shape}") from None

    def get_config(self):
        value = self.value
        return {"value": value.tolist() if isinstance(value, np.ndarray) else value}


class Identity(Initializer):
    """`gain` times the identity matrix (rectangular shapes get ones on the main
    diagonal); rank-2 shapes only.

    Args:
        gain: the diagonal's value (default 1.0).
    """

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        shape = self._start(shape, dtype)
        if len(shape) != 2:
            raise ValueError("Identity matrix initializer can only be used for 2D matrices. "
                             f"Received: shape={shape} of rank {len(shape)}.")
        return (np.float32(self.gain) * np.eye(*shape, dtype=np.float32)).astype(np.float32)

    def get_config(self):
        return {"gain": self.gain}


# ---- random --------------------------------------------------------------------------------

class RandomInitializer(Initializer):
    """Base of the random initializers: `seed` (an int, or None for cnn's global
    generator)."""

    def __init__(self, seed=None):
        if seed is not None and (isinstance(seed, bool) or
                                 not isinstance(seed, (int, np.integer))):
            raise ValueError(f"{type(self).__name__}: `seed` argument should be an integer or "
                             f"None. Received: seed={seed!r}")
        self.seed = None if seed is None else int(seed)

    def _generator(self):
        # A fresh generator from the seed on each call: a seeded initializer repeats.
        return rng.make_generator(self.seed)

    def get_config(self):
        return {"seed": self.seed}


# Draws are made in float32: a float64 draw of VGG16's 102M-weight fc1 would be an 800 MB
# temporary, more than the whole model's weights.

def _uniform(gen, low, high, shape):
    u = gen.random(size=shape, dtype=np.float32)
    return u * np.float32(high - low) + np.float32(low)


def _normal(gen, mean, stddev, shape):
    return gen.standard_normal(size=shape, dtype=np.float32) * np.float32(stddev) + np.float32(mean)


def _truncated_standard_normal(gen, shape):
    """Unit normal draws redrawn until strictly inside (-2, 2)."""
    out = gen.standard_normal(size=shape, dtype=np.float32)
    bad = np.abs(out) >= 2.0
    while bad.any():
        out[bad] = gen.standard_normal(size=int(bad.sum()), dtype=np.float32)
        bad = np.abs(out) >= 2.0
    return out


class RandomNormal(RandomInitializer):
    """Normal draws.

    Args:
        mean: their mean (default 0.0).
        stddev: their standard deviation (default 0.05).
        seed: an int for repeatable draws, or None (default).
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev = mean, stddev
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        shape = self._start(shape, dtype)
        return _normal(self._generator(), self.mean, self.stddev, shape)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class TruncatedNormal(RandomInitializer):
    """Normal draws, redrawn when more than two standard deviations from the mean (their
    standard deviation is then about 0.88 * stddev).

    Args:
        mean: the mean (default 0.0).
        stddev: the standard deviation before truncation (default 0.05).
        seed: an int for repeatable draws, or None (default).
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev = mean, stddev
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        shape = self._start(shape, dtype)
        draws = _truncated_standard_normal(self._generator(), shape)
        return draws * np.float32(self.stddev) + np.float32(self.mean)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class RandomUniform(RandomInitializer):
    """Uniform draws in [minval, maxval).

    Args:
        minval: the lower bound (default -0.05).
        maxval: the upper bound (default 0.05).
        seed: an int for repeatable draws, or None (default).
    """

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval = minval, maxval
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        shape = self._start(shape, dtype)
        return _uniform(self._generator(), self.minval, self.maxval, shape)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


_MODES = ("fan_in", "fan_out", "fan_avg")
_DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")


class VarianceScaling(RandomInitializer):
    """Draws with variance `scale / n`, n being fan_in, fan_out or their mean (`mode`):
    a normal truncated at two standard deviations (its stddev corrected by 0.8796...), an
    untruncated normal, or a uniform on [-sqrt(3 * scale / n), sqrt(3 * scale / n)].

    Args:
        scale: a positive float (default 1.0).
        mode: "fan_in" (default), "fan_out" or "fan_avg".
        distribution: "truncated_normal" (default; "normal" means it too),
            "untruncated_normal" or "uniform".
        seed: an int for repeatable draws, or None (default).
        input_axes, output_axes: the axes whose sizes make fan_in and fan_out (both or
            neither; default None: `compute_fans`' rules).
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None,
                 input_axes=None, output_axes=None):
        if isinstance(scale, bool) or not isinstance(scale, (int, float, np.number)) or \
                not scale > 0.0:
            raise ValueError(f"Argument `scale` must be positive float. Received: scale={scale!r}")
        if mode not in _MODES:
            raise ValueError(f"Invalid `mode` argument: {mode!r}. Please use one of {_MODES}")
        dist = distribution.lower() if isinstance(distribution, str) else distribution
        dist = "truncated_normal" if dist == "normal" else dist
        if dist not in _DISTRIBUTIONS:
            raise ValueError(f"Invalid `distribution` argument: {distribution!r}. Please use "
                             f"one of {_DISTRIBUTIONS}")
        if (input_axes is None) != (output_axes is None):
            raise ValueError("VarianceScaling: give both `input_axes` and `output_axes`, or "
                             f"neither; received input_axes={input_axes!r}, "
                             f"output_axes={output_axes!r}")
        self.scale, self.mode, self.distribution = scale, mode, dist
        self.input_axes, self.output_axes = input_axes, output_axes
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        shape = self._start(shape, dtype)
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        variance = self.scale / max(1.0, n)
        gen = self._generator()
        if self.distribution == "truncated_normal":
            out = _truncated_standard_normal(gen, shape) * np.float32(math.sqrt(variance) /
                                                                      TRUNCATED_STDDEV)
        elif self.distribution == "untruncated_normal":
            out = _normal(gen, 0.0, math.sqrt(variance), shape)
        else:
            limit = math.sqrt(3.0 * variance)
            out = _uniform(gen, -limit, limit, shape)
        return np.asarray(out, dtype=np.float32)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "input_axes": self.input_axes, "output_axes": self.output_axes,
                **super().get_config()}


def _preset(scale, mode, distribution, doc):
    """A VarianceScaling subclass with fixed scale, mode and distribution."""

    class Preset(VarianceScaling):
        __doc__ = doc + """

    Args:
        seed: an int for repeatable draws, or None (default).
        input_axes, output_axes: as for VarianceScaling (default None).
    """

        def __init__(self, seed=None, input_axes=None, output_axes=None):
            super().__init__(scale, mode, distribution, seed, input_axes, output_axes)

        def get_config(self):
            return {"seed": self.seed, "input_axes": self.input_axes,
                    "output_axes": self.output_axes}

    return Preset


GlorotUniform = _preset(1.0, "fan_avg", "uniform",
                        "Uniform on [-limit, limit], limit = sqrt(6 / (fan_in + fan_out)).")
GlorotNormal = _preset(1.0, "fan_avg", "truncated_normal",
                       "Truncated normal with variance 2 / (fan_in + fan_out).")
HeUniform = _preset(2.0, "fan_in", "uniform",
                    "Uniform on [-limit, limit], limit = sqrt(6 / fan_in).")
HeNormal = _preset(2.0, "fan_in", "truncated_normal",
                   "Truncated normal with variance 2 / fan_in.")
LecunUniform = _preset(1.0, "fan_in", "uniform",
                       "Uniform on [-limit, limit], limit = sqrt(3 / fan_in).")
LecunNormal = _preset(1.0, "fan_in", "truncated_normal",
                      "Truncated normal with variance 1 / fan_in.")
for _cls, _name in ((GlorotUniform, "GlorotUniform"), (GlorotNormal, "GlorotNormal"),
                    (HeUniform, "HeUniform"), (HeNormal, "HeNormal"),
                    (LecunUniform, "LecunUniform"), (LecunNormal, "LecunNormal")):
    _cls.__name__ = _cls.__qualname__ = _name


class Orthogonal(RandomInitializer):
    """An orthogonal matrix from the QR decomposition of a normal draw (signs fixed by
    R's diagonal), times `gain`. Shapes of rank > 2 are made as a (prod(shape[:-1]),
    shape[-1]) matrix; with fewer rows than columns the rows are orthonormal, else the
    columns.

    Args:
        gain: the factor (default 1.0).
        seed: an int for repeatable draws, or None (default).
    """

    def __init__(self, gain=1.0, seed=None):
        self.gain = gain
        super().__init__(seed)

    def __call__(self, shape, dtype=None):
        shape = self._start(shape, dtype)
        if len(shape) < 2:
            raise ValueError("The tensor to initialize must be at least two-dimensional. "
                             f"Received: shape={shape} of rank {len(shape)}.")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = self._generator().standard_normal(size=(max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return (self.gain * q.reshape(shape)).astype(np.float32)

    def get_config(self):
        return {"gain": self.gain, **super().get_config()}


# ---- lookup --------------------------------------------------------------------------------

_CLASSES = {c.__name__: c for c in (
    Zeros, Ones, Constant, Identity, RandomNormal, RandomUniform, TruncatedNormal,
    VarianceScaling, GlorotNormal, GlorotUniform, HeNormal, HeUniform, LecunNormal,
    LecunUniform, Orthogonal)}
_BY_NAME = {
    "zeros": Zeros, "zero": Zeros, "ones": Ones, "one": Ones, "constant": Constant,
    "identity": Identity, "identity_initializer": Identity,
    "random_normal": RandomNormal, "normal": RandomNormal,
    "random_uniform": RandomUniform, "uniform": RandomUniform,
    "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
    "he_normal": HeNormal, "he_uniform": HeUniform,
    "lecun_normal": LecunNormal, "lecun_uniform": LecunUniform,
    "orthogonal": Orthogonal, "orthogonal_initializer": Orthogonal,
}
_NAME_OF = {}
for _name, _cls in _BY_NAME.items():
    _NAME_OF.setdefault(_cls, _name)


def serialize(initializer):
    """A built-in initializer with its default arguments serializes to its name
    ("glorot_uniform"); one with other arguments to {"class_name", "config"}."""
    cls = type(initializer)
    if cls in _NAME_OF and initializer.get_config() == cls().get_config():
        return _NAME_OF[cls]
    if isinstance(initializer, Initializer):
        return {"class_name": cls.__name__, "config": initializer.get_config()}
    return getattr(initializer, "__name__", str(initializer))


def deserialize(config):
    """An initializer from serialize()'s output."""
    if isinstance(config, str):
        return get(config)
    if not isinstance(config, dict) or config.get("class_name") not in _CLASSES or \
            set(config) - {"class_name", "config", "module", "registered_name",
                           "shared_object_id"}:
        raise ValueError(f"Could not interpret initializer identifier: {config!r}. A dict "
                         f"needs a 'class_name' among {sorted(_CLASSES)} and optionally a "
                         "'config'")
    return _CLASSES[config["class_name"]].from_config(config.get("config") or {})


def known_names():
    return sorted(_BY_NAME) + sorted(_CLASSES)


def get(identifier):
    """A name ("glorot_uniform", "GlorotUniform"), a serialized dict, an Initializer, a
    class, or a callable taking (shape, dtype=None). Names give a new instance."""
    if identifier is None:
        return None
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        from .utils.naming import to_snake_case
        cls = _CLASSES.get(identifier) or _BY_NAME.get(to_snake_case(identifier))
        if cls is None:
            raise ValueError(f"Unknown initializer: '{identifier}'. "
                             f"Known initializers: {known_names()}")
        return cls()
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret initializer identifier: {identifier!r}")
