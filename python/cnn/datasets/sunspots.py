"""Yearly mean sunspot numbers, 1700-2008, bundled with statsmodels
(`statsmodels.datasets.sunspots`): a noisy cycle of about eleven years."""
import numpy as np

from ._common import require


def load_data():
    """Returns `(years, activity)`: int32 years 1700-2008 and float32 sunspot activity."""
    datasets = require("statsmodels.api", "statsmodels", "sunspots").datasets
    frame = datasets.sunspots.load_pandas().data
    return frame["YEAR"].to_numpy().astype(np.int32), frame["SUNACTIVITY"].to_numpy(np.float32)
