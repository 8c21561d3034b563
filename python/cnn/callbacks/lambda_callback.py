"""LambdaCallback: a callback built from plain functions."""
from .callback import Callback

_HOOKS = tuple(n for n in vars(Callback) if n.startswith("on_"))


class LambdaCallback(Callback):
    """Callback for creating simple, custom callbacks on-the-fly: each given function
    becomes that hook, called as the hook is (`on_epoch_end(epoch, logs)`,
    `on_train_batch_end(batch, logs=...)`, `on_train_begin(logs)`, ...).

    Args:
        on_epoch_begin, on_epoch_end, on_train_begin, on_train_end, on_train_batch_begin,
        on_train_batch_end: Functions for those hooks.
        **kwargs: Functions for any other hook by its name (on_test_begin,
            on_predict_batch_end, on_batch_end, ...).
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **kwargs):
        super().__init__()
        unknown = sorted(k for k in kwargs if k not in _HOOKS)
        if unknown:
            raise TypeError(f"LambdaCallback got unknown hook(s) {unknown}; the hooks are "
                            f"{sorted(_HOOKS)}")
        given = dict(kwargs, on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                     on_train_begin=on_train_begin, on_train_end=on_train_end,
                     on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end)
        for hook, fn in given.items():
            if fn is not None:
                if not callable(fn):
                    raise TypeError(f"LambdaCallback: `{hook}` must be callable; received "
                                    f"{fn!r}")
                setattr(self, hook, fn)
