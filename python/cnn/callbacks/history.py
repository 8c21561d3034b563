"""History: records each epoch's logs; fit() returns it."""
from .callback import Callback


class History(Callback):
    """Records events into a `History` object; every fit() adds one and returns it.

    Attributes:
        history: Dict from log key to its list of per-epoch values.
        epoch: The indices of the epochs recorded.
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        # The model's history is the latest state, as in Keras.
        self.model.history = self
