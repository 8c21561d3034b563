"""TerminateOnNaN: stop training when the loss becomes NaN or infinite."""
import numpy as np

from ._io import print_msg
from .callback import Callback


class TerminateOnNaN(Callback):
    """Stops training when a training batch ends with a NaN or infinite loss (the
    epoch's running loss, as the batch logs hold it).

    Args:
        raise_error: False (default): print "Batch {i}: Invalid loss, terminating training"
            and stop gracefully (`model.stop_training = True`; on_train_end still runs).
            True: raise a RuntimeError at once instead.
    """

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and (np.isnan(loss) or np.isinf(loss)):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss "
                                   f"value: {loss}. Terminating training immediately.")
            print_msg(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True
