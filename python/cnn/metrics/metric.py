"""The Metric base class: a running state, updated per batch and turned into a result.

A built-in metric describes one batch's contribution to its state as a list of parts
(`_state_parts`): engine values (or plain numbers), so the same description runs eagerly
for `update_state` and inside the compiled training graph for `compile(metrics=...)`,
where each part becomes a report of the train/test step that the loop accumulates over
batches. Each part has a kind:

- "mean": a batch mean, accumulated as value * batch size (a total over samples);
- "sum":  a batch total (counts such as true positives), accumulated as is.

A part given as a plain number (e.g. 1.0: each sample weighs one) needs no graph node.
`_result_from(totals)` turns the accumulated parts into the metric's value."""
import numpy as np

from .. import backend
from .._shapes import shape_of
from ..utils.naming import auto_name

MEAN, SUM = "mean", "sum"


class Metric:
    """Encapsulates metric logic and state.

    Standalone use: `update_state(y_true, y_pred, sample_weight=None)` per batch, then
    `result()`; `reset_state()` starts over; calling the metric does both and returns the
    result. A subclass either implements `update_state` and `result` in Python (it then
    works standalone, but not inside a compiled model), or describes its state with
    `_state_parts(y_true, y_pred, sample_weight)` and `_result_from(totals)` as the
    built-in metrics do, which also runs in `compile(metrics=[...])`.

    Args:
        name: Optional name of the metric instance (its key in the fit/evaluate logs).
        dtype: `None` or `"float32"`: metrics compute in float32.
    """

    # "up": larger is better; "down": smaller is. Callbacks with mode="auto" read it.
    _direction = None

    def __init__(self, name=None, dtype=None):
        if dtype not in (None, "float32"):
            raise ValueError(f"cnn metrics compute in float32 only; received dtype={dtype!r}")
        self.name = name or auto_name(type(self).__name__)
        self.reset_state()

    @property
    def dtype(self):
        return "float32"

    # ---- the state as engine values ---------------------------------------------------

    def _state_parts(self, y_true, y_pred, sample_weight=None):
        """[(engine value or number, "mean" | "sum")] for one batch."""
        raise TypeError(f"{type(self).__name__}: Metric subclasses must implement "
                        "update_state(...) and result(), or _state_parts(y_true, y_pred, "
                        "sample_weight) and _result_from(totals)")

    def _result_from(self, totals):
        raise TypeError(f"{type(self).__name__}: Metric subclasses must implement result(), "
                        "or _result_from(totals) alongside _state_parts")

    def _compilable(self):
        """Whether the metric's state is described as engine values (so it can run inside
        a compiled graph) rather than kept by Python code in update_state."""
        cls = type(self)
        return (cls._state_parts is not Metric._state_parts
                and cls.update_state is Metric.update_state and cls.result is Metric.result)

    # ---- standalone use ---------------------------------------------------------------

    def reset_state(self):
        self._totals = None

    def update_state(self, y_true, y_pred, sample_weight=None):
        parts = self._state_parts(y_true, y_pred, sample_weight)
        shape = shape_of(y_pred)
        n = float(shape[0]) if len(shape) else 1.0
        if self._totals is None:
            self._totals = [0.0] * len(parts)
        for i, (value, kind) in enumerate(parts):
            value = np.asarray(value, dtype=np.float64)
            self._totals[i] = self._totals[i] + (value * n if kind == MEAN else value)

    def result(self):
        if self._totals is None:
            return self._empty_result()
        return self._result_from(self._totals)

    def _empty_result(self):
        """The result before any update (Keras's divide_no_nan of zeros)."""
        return 0.0

    def __call__(self, *args, **kwargs):
        self.update_state(*args, **kwargs)
        return self.result()

    # ---- config ---------------------------------------------------------------------

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def as_result(value):
    """A Python float for one-element results, else a float64 array (Keras logs those as
    they are)."""
    value = np.asarray(value, dtype=np.float64)
    return float(value.reshape(())) if value.size == 1 and value.ndim <= 1 else value


def ratio(num, den):
    """num / den for two numbers, 0 when den is 0 (the per-batch fast path)."""
    num, den = float(num), float(den)
    return num / den if den != 0 else 0.0


def divide_no_nan(num, den):
    """num / den, 0 where den is 0."""
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    safe = np.where(den != 0, den, 1.0)
    return np.where(den != 0, num / safe, 0.0)


def engine_input(x):
    """Engine values pass through; anything else becomes a float32 array."""
    if isinstance(x, (backend.Tensor, backend.Symbol)):
        return x
    return np.asarray(x, dtype=np.float32)
