"""scikit-learn's two bundled sample photographs (`china.jpg`, `flower.jpg`, 427x640 RGB), for
image-to-image lessons such as super-resolution."""
from ._common import require


def load_data():
    """Returns a list of the two photographs as uint8 arrays of shape (427, 640, 3).

    Decoding the JPEG files needs Pillow (`pip install pillow`), as scikit-learn's
    `load_sample_images` does.
    """
    sklearn_datasets = require("sklearn.datasets", "scikit-learn", "sample_images")
    require("PIL", "pillow", "sample_images")
    return list(sklearn_datasets.load_sample_images().images)
