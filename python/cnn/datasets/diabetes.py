"""scikit-learn's bundled diabetes regression set (Efron et al., 2004): 442 patients, ten
baseline variables (age, sex, BMI, blood pressure, six blood serum measurements), and a
quantitative measure of disease progression one year later."""
import numpy as np

from ._common import require, split

FEATURE_NAMES = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")


def load_data(test_split=0.2, seed=113, scaled=False):
    """Loads the diabetes set as `(x_train, y_train), (x_test, y_test)` float32 arrays.

    With `scaled=False` (the default) the features are in their original units (age in years,
    BMI, mean blood pressure, ...), so a model needs the normalization the lesson teaches;
    `scaled=True` gives scikit-learn's mean-centred, unit-norm columns. Targets are the
    disease-progression scores (25-346).
    """
    sklearn_datasets = require("sklearn.datasets", "scikit-learn", "diabetes")
    bunch = sklearn_datasets.load_diabetes(scaled=scaled)
    return split(bunch.data.astype(np.float32), bunch.target.astype(np.float32), test_split, seed)
