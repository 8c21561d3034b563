"""CallbackList: one object that calls every callback's hook in turn."""
from .callback import Callback
from .history import History
from .progbar_logger import ProgbarLogger


def _pythonify(logs):
    """Keras hands each hook call a fresh dict, sorted by key, values as Python floats
    where they convert (arrays such as per-threshold results stay as they are)."""
    out = {}
    if not logs:
        return out
    for key, value in sorted(logs.items()):
        if isinstance(value, dict):
            out.update(_pythonify(value))
            continue
        try:
            value = float(value)
        except (TypeError, ValueError):
            pass
        out[key] = value
    return out


class CallbackList(Callback):
    """Container of callbacks; each hook calls every callback's hook, in order.

    Args:
        callbacks: List of Callback instances.
        add_history: Add a History callback unless the list has one.
        add_progbar: Add a ProgbarLogger unless the list has one.
        model: The model the callbacks see.
        **params: Passed to every callback's set_params (e.g. verbose, epochs, steps).
    """

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None,
                 **params):
        super().__init__()
        self.callbacks = list(callbacks or [])
        self.history = next((c for c in self.callbacks if isinstance(c, History)), None)
        if self.history is None and add_history:
            self.history = History()
            self.callbacks.append(self.history)
        if add_progbar and not any(isinstance(c, ProgbarLogger) for c in self.callbacks):
            self.callbacks.append(ProgbarLogger())
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def append(self, callback):
        self.callbacks.append(callback)

    def overrides(self, *hooks):
        """Whether any callback may do something in one of `hooks` (a subclass method, a
        function set on the instance as LambdaCallback does, or custom attribute lookup):
        the loops skip building per-batch logs nobody reads. on_train_batch_* reach the
        on_batch_* aliases."""
        if "on_train_batch_begin" in hooks:
            hooks += ("on_batch_begin",)
        if "on_train_batch_end" in hooks:
            hooks += ("on_batch_end",)
        return any(_may_override(cb, hook) for cb in self.callbacks for hook in hooks)

    def set_params(self, params):
        self.params = params
        for cb in self.callbacks:
            cb.set_params(params)

    def set_model(self, model):
        super().set_model(model)
        if self.history is not None:
            model.history = self.history
        for cb in self.callbacks:
            cb.set_model(model)


def _may_override(cb, hook):
    cls = type(cb)
    return (hook in vars(cb) or getattr(cls, hook) is not getattr(Callback, hook)
            or cls.__getattribute__ is not object.__getattribute__
            or hasattr(cls, "__getattr__"))


def _batch_hook(hook):
    def method(self, batch, logs=None):
        logs = _pythonify(logs)
        for cb in self.callbacks:
            getattr(cb, hook)(batch, logs=logs)
    method.__name__ = hook
    return method


def _epoch_hook(hook):
    def method(self, epoch, logs=None):
        logs = _pythonify(logs)
        for cb in self.callbacks:
            getattr(cb, hook)(epoch, logs)
    method.__name__ = hook
    return method


def _stage_hook(hook):
    def method(self, logs=None):
        logs = _pythonify(logs)
        for cb in self.callbacks:
            getattr(cb, hook)(logs)
    method.__name__ = hook
    return method


# Keras's calling conventions: batch hooks get logs by keyword, the others positionally.
for _hook in ("on_batch_begin", "on_batch_end", "on_train_batch_begin", "on_train_batch_end",
              "on_test_batch_begin", "on_test_batch_end", "on_predict_batch_begin",
              "on_predict_batch_end"):
    setattr(CallbackList, _hook, _batch_hook(_hook))
for _hook in ("on_epoch_begin", "on_epoch_end"):
    setattr(CallbackList, _hook, _epoch_hook(_hook))
for _hook in ("on_train_begin", "on_train_end", "on_test_begin", "on_test_end",
              "on_predict_begin", "on_predict_end"):
    setattr(CallbackList, _hook, _stage_hook(_hook))
