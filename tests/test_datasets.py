"""cnn.datasets: offline loaders return Keras's layouts, are deterministic, and say exactly
what to install when their data is missing."""
import os
import sys

import numpy as np
import pytest

import cnn
from cnn.datasets import co2, diabetes, digits, fashion_mnist, sample_images, sunspots

pytest.importorskip("sklearn")
FASHION_DIR = fashion_mnist.DEFAULT_DIRS[0]


@pytest.mark.skipif(not os.path.isdir(FASHION_DIR), reason="apt-get install dataset-fashion-mnist")
def test_fashion_mnist_has_keras_layout():
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8
    assert np.bincount(y_train).tolist() == [6000] * 10 and np.bincount(y_test).tolist() == [1000] * 10
    assert x_train.max() == 255 and x_train.mean() > 50  # real images, not zeros
    assert y_train[:5].tolist() == [9, 0, 0, 3, 0]  # the published file order


def test_fashion_mnist_missing_files_say_what_to_install(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        fashion_mnist.load_data(path=str(tmp_path))


def test_digits_split_is_seeded_and_complete():
    (x_train, y_train), (x_test, y_test) = digits.load_data(test_split=0.2, seed=1)
    assert x_train.shape[1:] == (8, 8) and len(x_train) + len(x_test) == 1797
    assert len(x_test) == 1797 - int(1797 * 0.8) and x_train.max() == 16
    (x_again, _), _ = digits.load_data(test_split=0.2, seed=1)
    (x_other, _), _ = digits.load_data(test_split=0.2, seed=2)
    np.testing.assert_array_equal(x_train, x_again)
    assert not np.array_equal(x_train, x_other)
    assert set(np.unique(y_test)) == set(range(10))


def test_diabetes_raw_units_and_scaled():
    (x_train, y_train), (x_test, _) = diabetes.load_data()
    assert x_train.shape[1] == 10 and len(x_train) + len(x_test) == 442
    assert x_train.dtype == np.float32 and 20 <= x_train[:, 0].mean() <= 70  # age in years
    assert 25 <= y_train.min() and y_train.max() <= 346
    (x_scaled, _), _ = diabetes.load_data(scaled=True)
    assert np.abs(x_scaled).max() < 1
    with pytest.raises(ValueError, match="test_split"):
        diabetes.load_data(test_split=1.5)


def test_sample_images():
    pytest.importorskip("PIL")
    images = sample_images.load_data()
    assert [image.shape for image in images] == [(427, 640, 3)] * 2
    assert images[0].dtype == np.uint8 and images[0].std() > 20


def test_time_series():
    pytest.importorskip("statsmodels")
    months, ppm = co2.load_data()
    assert len(months) == len(ppm) == 526 and not np.isnan(ppm).any()
    assert str(months[0]) == "1958-03" and str(months[-1]) == "2001-12"
    assert 310 < ppm[0] < 320 and 365 < ppm[-1] < 375  # the rise the lesson forecasts
    years, activity = sunspots.load_data()
    assert years[0] == 1700 and years[-1] == 2008 and len(activity) == 309
    assert activity.min() >= 0 and activity.max() > 150


def test_missing_package_says_what_to_pip_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "statsmodels.api", None)  # makes the import fail
    with pytest.raises(ImportError, match="pip install statsmodels"):
        co2.load_data()


def test_datasets_is_a_public_submodule():
    assert cnn.datasets.digits is digits and "datasets" in dir(cnn)
