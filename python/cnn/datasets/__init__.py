"""Data sets for the lessons, all offline: each loader reads data that ships inside an
installed package (scikit-learn, statsmodels) or a system data package (Debian's
`dataset-fashion-mnist`), and raises an error naming what to install when it is missing.

`fashion_mnist.load_data()` has Keras's signature and return layout; the others follow
`keras.datasets.boston_housing.load_data(test_split, seed)` where a split makes sense.
"""
from . import co2, diabetes, digits, fashion_mnist, sample_images, sunspots

__all__ = ["co2", "diabetes", "digits", "fashion_mnist", "sample_images", "sunspots"]
