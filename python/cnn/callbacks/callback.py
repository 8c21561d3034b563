"""The Callback base class: Keras's hooks into fit, evaluate and predict."""


class Callback:
    """Base class of callbacks: override the hooks you need.

    fit() calls on_train_begin, then per epoch on_epoch_begin, on_train_batch_begin/end
    around each batch, the on_test_* hooks for validation, and on_epoch_end (with the
    epoch's logs, validation keys prefixed "val_"), and finally on_train_end. evaluate()
    calls on_test_begin/end and on_test_batch_begin/end; predict() the on_predict_* hooks.
    Batch logs hold the running means over the epoch so far. By default on_train_batch_
    begin/end call the older on_batch_begin/end.

    Attributes:
        params: Dict of training parameters ("verbose", "epochs", "steps").
        model: The model being trained, evaluated or run. Set `model.stop_training =
            True` to stop training after the current batch.
    """

    def __init__(self):
        self.params = None
        self._model = None

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self._model = model

    @property
    def model(self):
        return self._model

    def on_batch_begin(self, batch, logs=None):
        """A backwards compatibility alias for `on_train_batch_begin`."""

    def on_batch_end(self, batch, logs=None):
        """A backwards compatibility alias for `on_train_batch_end`."""

    def on_epoch_begin(self, epoch, logs=None):
        """Called at the start of an epoch of fit()."""

    def on_epoch_end(self, epoch, logs=None):
        """Called at the end of an epoch of fit(), with its metric results (validation
        results prefixed with "val_")."""

    def on_train_batch_begin(self, batch, logs=None):
        """Called at the beginning of a training batch in fit()."""
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        """Called at the end of a training batch in fit(), with the epoch's running
        metric results."""
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        """Called at the beginning of a batch of evaluate() (or of fit's validation)."""

    def on_test_batch_end(self, batch, logs=None):
        """Called at the end of a batch of evaluate() (or of fit's validation), with the
        running metric results."""

    def on_predict_batch_begin(self, batch, logs=None):
        """Called at the beginning of a batch of predict()."""

    def on_predict_batch_end(self, batch, logs=None):
        """Called at the end of a batch of predict(); logs hold the batch's "outputs"."""

    def on_train_begin(self, logs=None):
        """Called at the beginning of fit()."""

    def on_train_end(self, logs=None):
        """Called at the end of fit(), with the last epoch's logs."""

    def on_test_begin(self, logs=None):
        """Called at the beginning of evaluate() (or of fit's validation)."""

    def on_test_end(self, logs=None):
        """Called at the end of evaluate() (or of fit's validation), with its results."""

    def on_predict_begin(self, logs=None):
        """Called at the beginning of predict()."""

    def on_predict_end(self, logs=None):
        """Called at the end of predict()."""
