"""MonitorCallback: the shared logic of callbacks that watch one logged quantity."""
import warnings

from .callback import Callback


class MonitorCallback(Callback):
    """Base class of EarlyStopping, ModelCheckpoint and ReduceLROnPlateau: which way the
    monitored quantity should go, and whether a value improves on a reference.

    Args:
        monitor: The log key to watch (e.g. "val_loss").
        mode: "min", "max", or "auto": "loss" (and "val_loss") is minimized, a compiled
            metric goes the way it declares (accuracy, AUC, precision, ... up; errors and
            losses down); any other name raises a ValueError asking for a mode.
        baseline: Initial best value, or None (the first value is the best).
        min_delta: An improvement must beat the reference by more than this.
    """

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__} mode '{mode}' is unknown, fallback to auto "
                          "mode.", stacklevel=2)
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None

    def _set_monitor_op(self):
        if self.mode == "min":
            self.monitor_op = _less
        elif self.mode == "max":
            self.monitor_op = _greater
        else:
            metric_name = self.monitor.removeprefix("val_")
            if metric_name == "loss":
                self.monitor_op = _less
            for m in _compiled_metrics(self.model):
                if m.name == metric_name and m._direction is not None:
                    self.monitor_op = _greater if m._direction == "up" else _less
            if self.monitor_op is None:
                raise ValueError(
                    f"{type(self).__name__} callback received monitor={self.monitor}, but "
                    "cnn isn't able to automatically determine whether that metric should be "
                    "maximized or minimized. Pass `mode='max'` in order to monitor based on "
                    "the highest metric value, or pass `mode='min'` in order to use the "
                    "lowest value.")
        if self.monitor_op is _less:
            self.min_delta *= -1

    def _is_improvement(self, monitor_value, reference_value):
        if reference_value is None:
            return True
        return self.monitor_op(monitor_value - self.min_delta, reference_value)


def _less(a, b):
    return a < b


def _greater(a, b):
    return a > b


def _compiled_metrics(model):
    from ..models import trainer  # the models import callbacks
    return trainer.compiled_metrics(model) if model is not None else []
