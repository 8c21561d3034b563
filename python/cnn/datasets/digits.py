"""scikit-learn's bundled handwritten digits (UCI optdigits test set): 1,797 8x8 images with
pixel values 0-16, ten classes."""
import numpy as np

from ._common import require, split


def load_data(test_split=0.2, seed=113):
    """Loads the digits as `(x_train, y_train), (x_test, y_test)`.

    Images are uint8 of shape (n, 8, 8) with values 0-16 (divide by 16 to get [0, 1]), labels
    uint8 0-9, shuffled with `seed` before the last `test_split` fraction is held out.
    """
    sklearn_datasets = require("sklearn.datasets", "scikit-learn", "digits")
    bunch = sklearn_datasets.load_digits()
    return split(bunch.images.astype(np.uint8), bunch.target.astype(np.uint8), test_split, seed)
