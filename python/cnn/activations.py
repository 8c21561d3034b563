"""Activation functions by their Keras names; each is one engine op, so it works eagerly
(arrays, Tensors, under a GradientTape) and on graph Symbols alike."""
from . import backend


def relu(x):
    return backend.op("relu", [x])


def leaky_relu(x, negative_slope=0.2):
    return backend.op("leaky_relu", [x], floats=[float(negative_slope)])


def elu(x, alpha=1.0):
    return backend.op("elu", [x], floats=[float(alpha)])


def selu(x):
    return backend.op("selu", [x])


def gelu(x, approximate=False):
    return backend.op("gelu", [x], ints=[int(bool(approximate))])


def sigmoid(x):
    return backend.op("sigmoid", [x])


def hard_sigmoid(x):
    return backend.op("hard_sigmoid", [x])


def tanh(x):
    return backend.op("tanh", [x])


def softplus(x):
    return backend.op("softplus", [x])


def softsign(x):
    return backend.op("softsign", [x])


def silu(x):
    return backend.op("silu", [x])


swish = silu


def softmax(x, axis=-1):
    return backend.op("softmax", [x], ints=[int(axis)])


def log_softmax(x, axis=-1):
    return backend.op("log_softmax", [x], ints=[int(axis)])


def linear(x):
    return x


_BY_NAME = {f.__name__: f for f in (relu, leaky_relu, elu, selu, gelu, sigmoid, hard_sigmoid,
                                      tanh, softplus, softsign, silu, softmax, log_softmax, linear)}
_BY_NAME["swish"] = silu


def serialize(activation):
    for name, fn in _BY_NAME.items():
        if fn is activation and name != "swish":
            return name
    return getattr(activation, "__name__", str(activation))


def get(identifier):
    """None or "linear" -> identity; a known name -> its function; a callable -> itself."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        fn = _BY_NAME.get(identifier.lower())
        if fn is None:
            raise ValueError(f"Unknown activation: '{identifier}'. "
                             f"Known activations: {sorted(_BY_NAME)}")
        return fn
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret activation identifier: {identifier!r}")
