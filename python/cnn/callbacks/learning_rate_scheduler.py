"""LearningRateScheduler: set the learning rate at the start of every epoch."""
import numpy as np

from ._io import print_msg
from .callback import Callback
from .reduce_lr_on_plateau import learning_rate_of


class LearningRateScheduler(Callback):
    """Learning rate scheduler: at the start of each epoch the learning rate becomes
    `schedule(epoch, lr)` (epoch counted from 0, lr the current rate); each epoch's logs
    get the key "learning_rate".

    Args:
        schedule: A function (epoch, lr) -> new learning rate (a float). A function of
            the epoch alone is accepted too.
        verbose: 0 (quiet) or 1 (a message every epoch).
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        if not hasattr(optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        try:
            learning_rate = self.schedule(epoch, learning_rate_of(optimizer))
        except TypeError:  # the older one-argument schedule
            learning_rate = self.schedule(epoch)
        if not isinstance(learning_rate, (float, np.float32, np.float64)):
            raise ValueError("The output of the `schedule` function should be a float. Got: "
                             f"{learning_rate}")
        optimizer.learning_rate = float(learning_rate)
        if self.verbose > 0:
            print_msg(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                      f"{learning_rate}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = learning_rate_of(self.model.optimizer)
