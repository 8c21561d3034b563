"""Optimizers with Keras 3's names, signatures and update rules: SGD, RMSprop, Adagrad, Adam,
AdamW and Nadam; learning-rate schedules live in `cnn.optimizers.schedules`. The updates run
in C, inside the compiled train step of `fit` and in `apply_gradients` for custom loops."""
from . import schedules
from .adagrad import Adagrad
from .adam import Adam
from .adamw import AdamW
from .base_optimizer import Optimizer
from .nadam import Nadam
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "RMSprop", "Adagrad", "Adam", "AdamW", "Nadam", "schedules",
           "get", "serialize", "deserialize", "known_names"]

_BY_NAME = {"sgd": SGD, "rmsprop": RMSprop, "adagrad": Adagrad, "adam": Adam, "adamw": AdamW,
            "nadam": Nadam}
_KERAS_ONLY = {"adadelta", "adamax", "ftrl", "lion", "adafactor", "lamb", "muon",
               "loss_scale_optimizer", "lossscaleoptimizer"}


def known_names():
    return sorted(_BY_NAME)


def serialize(optimizer):
    """An optimizer's config in Keras's serialized form (`class_name` and `config`)."""
    return {"module": "keras.optimizers", "class_name": type(optimizer).__name__,
            "config": optimizer.get_config(), "registered_name": None}


def deserialize(config, custom_objects=None):
    """The optimizer that `serialize` (ours or Keras's) described."""
    name = config.get("class_name") if isinstance(config, dict) else None
    if not isinstance(name, str) or name.lower() not in _BY_NAME:
        raise ValueError(f"Could not interpret optimizer config: {config!r}. Known "
                         f"optimizers: {known_names()}")
    return _BY_NAME[name.lower()].from_config(config.get("config", {}), custom_objects)


def get(identifier):
    """An optimizer from an identifier.

    Args:
        identifier: a name such as `"adam"` or `"SGD"` (any case; a new instance with Keras's
            defaults), a serialized config dict, an `Optimizer` class, or an `Optimizer`
            (returned as is).
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Optimizer) and identifier._kind:
        return identifier()
    if isinstance(identifier, str) and identifier.lower() in _KERAS_ONLY:
        raise ValueError(f"Optimizer '{identifier}' is not available in cnn yet. Known "
                         f"optimizers: {known_names()}; e.g. compile(optimizer='adam', ...)")
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}. "
                     f"Known optimizers: {known_names()} (or an instance of "
                     f"cnn.optimizers.Optimizer)")
