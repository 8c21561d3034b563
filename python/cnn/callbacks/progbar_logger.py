"""ProgbarLogger: the progress bar fit/evaluate/predict print when verbose."""
import sys

from ..utils.progbar import Progbar
from .callback import Callback


def _scalars(logs):
    """The logs the bar can show: numbers (a metric with several thresholds logs an
    array, which the bar leaves out)."""
    return [(k, v) for k, v in (logs or {}).items() if isinstance(v, (int, float))]


class ProgbarLogger(Callback):
    """Prints "Epoch i/n" and a progress bar per epoch (verbose=1) or one line per epoch
    (verbose=2); for evaluate/predict, one bar over their batches."""

    def __init__(self):
        super().__init__()
        self.progbar = None
        self._in_fit = False

    def set_params(self, params):
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else verbose
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def _new_bar(self):
        # Logged values are running means already, so the bar shows them as given.
        self.progbar = Progbar(self.target, verbose=self.verbose, stateless_metrics=())
        self.seen = 0

    def _update(self, batch, logs):
        self.seen = batch + 1
        if self.verbose == 1:
            self.progbar.update(self.seen, _scalars(logs), finalize=False)

    def _finish(self, logs):
        if self.progbar is None:
            return
        if self.target is None:
            self.target = self.progbar.target = self.seen
        self.progbar.update(self.target, _scalars(logs), finalize=True)

    def on_train_begin(self, logs=None):
        self._in_fit = True

    def on_epoch_begin(self, epoch, logs=None):
        self._new_bar()
        if self.verbose and self.epochs > 1:
            sys.stdout.write(f"Epoch {epoch + 1}/{self.epochs}\n")
            sys.stdout.flush()

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._finish(logs)

    def on_test_begin(self, logs=None):
        if not self._in_fit:
            self._new_bar()

    def on_test_batch_end(self, batch, logs=None):
        if not self._in_fit:
            self._update(batch, logs)

    def on_test_end(self, logs=None):
        if not self._in_fit:
            self._finish(logs)

    def on_predict_begin(self, logs=None):
        self._new_bar()

    def on_predict_batch_end(self, batch, logs=None):
        self._update(batch, None)

    def on_predict_end(self, logs=None):
        self._finish(None)
