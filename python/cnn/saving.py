"""`cnn.saving`: whole-model saving in Keras 3's `.keras` format, and registration of custom
classes so that configs can name them (as `keras.saving`)."""
from .models.keras_archive import load_model, save_model
from .models.model_config import _REGISTERED


def register_keras_serializable(package="Custom", name=None):
    """A class decorator that registers a custom layer so model configs can name it.

    Args:
        package: the registration package; the class is registered as "package>name".
        name: the name to register; defaults to the class name.

    Example:

    ```python
    @cnn.saving.register_keras_serializable(package="my_layers")
    class Scale(cnn.layers.Layer):
        ...
    ```
    """
    def decorator(cls):
        key = f"{package}>{name or cls.__name__}"
        if key in _REGISTERED and _REGISTERED[key] is not cls:
            raise ValueError(f"{key} has already been registered to {_REGISTERED[key]}")
        if not hasattr(cls, "get_config"):
            raise ValueError("Cannot register a class that does not have a get_config() "
                             "method.")
        _REGISTERED[key] = cls
        return cls
    return decorator


def get_registered_name(obj):
    """The "package>name" a class (or an instance's class) was registered under, else its
    class name."""
    cls = obj if isinstance(obj, type) else type(obj)
    for key, value in _REGISTERED.items():
        if value is cls:
            return key
    return cls.__name__


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The class registered (or passed in custom_objects/module_objects) under `name`, or
    None."""
    for table in (custom_objects or {}, _REGISTERED, module_objects or {}):
        if name in table:
            return table[name]
    return None


__all__ = ["save_model", "load_model", "register_keras_serializable", "get_registered_name",
           "get_registered_object"]
