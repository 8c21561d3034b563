"""ReduceLROnPlateau: lower the learning rate when a metric stops improving."""
import warnings

import numpy as np

from ._io import print_msg
from .monitor_callback import MonitorCallback


def learning_rate_of(optimizer):
    """The optimizer's learning rate as Keras logs it: its float32 value."""
    return float(np.float32(optimizer.learning_rate))


class ReduceLROnPlateau(MonitorCallback):
    """Reduce the learning rate when a metric has stopped improving.

    After `patience` epochs without an improvement (by more than `min_delta`) the
    learning rate becomes `max(lr * factor, min_lr)`; `cooldown` epochs then pass before
    the waiting starts again. Each epoch's logs get the key "learning_rate".

    Args:
        monitor: Quantity to be monitored. Defaults to "val_loss".
        factor: Factor by which the learning rate is reduced (< 1).
        patience: Number of epochs with no improvement after which the learning rate is
            reduced.
        verbose: 0 (quiet) or 1 (a message on each reduction).
        mode: "auto", "min" or "max" (see MonitorCallback).
        min_delta: Threshold for measuring the new optimum.
        cooldown: Number of epochs to wait after a reduction before resuming.
        min_lr: Lower bound on the learning rate.
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        super().__init__(monitor, mode, min_delta=min_delta)
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0. Received "
                             f"factor={factor}")
        self.factor = factor
        self.min_lr = min_lr
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.cooldown_counter = 0
        self.wait = 0

    def _reset(self):
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def _reduce_lr(self, epoch):
        optimizer = self.model.optimizer
        old_lr = learning_rate_of(optimizer)
        if old_lr <= np.float32(self.min_lr):
            return False
        new_lr = max(old_lr * self.factor, self.min_lr)
        optimizer.learning_rate = new_lr
        if self.verbose > 0:
            print_msg(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to "
                      f"{new_lr}.")
        return True

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:  # the model's metrics are known now
            self._set_monitor_op()
        logs = logs if logs is not None else {}
        logs["learning_rate"] = learning_rate_of(self.model.optimizer)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn("Learning rate reduction is conditioned on metric "
                          f"`{self.monitor}` which is not available. Available metrics are: "
                          f"{','.join(list(logs.keys()))}.", stacklevel=2)
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience and self._reduce_lr(epoch):
                self.cooldown_counter = self.cooldown
                self.wait = 0

    def in_cooldown(self):
        return self.cooldown_counter > 0
