"""Atmospheric CO2 at Mauna Loa (ppm), 1958-2001, from the weekly series bundled with
statsmodels (`statsmodels.datasets.co2`), averaged by month: a trend plus a yearly season."""
import numpy as np

from ._common import require


def load_data():
    """Returns `(months, ppm)`: numpy datetime64[M] months and float32 monthly mean CO2.

    The weekly readings are averaged per calendar month; the few months with no reading are
    filled by linear interpolation, so the series has no gaps (526 months, 1958-03 to 2001-12).
    """
    datasets = require("statsmodels.api", "statsmodels", "co2").datasets
    frame = datasets.co2.load_pandas().data
    monthly = frame["co2"].resample("MS").mean().interpolate()
    months = monthly.index.values.astype("datetime64[M]")
    return months, monthly.to_numpy(np.float32)
