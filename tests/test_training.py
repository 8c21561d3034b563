"""End-to-end learning with fixed seeds: XOR, the digits MLP (>= 95% test accuracy) and
diabetes regression (clearly better than predicting the mean)."""
import numpy as np
import pytest

import cnn
from cnn import models, optimizers
from cnn.layers import Dense, Input

sklearn = pytest.importorskip("sklearn")
from sklearn.datasets import load_diabetes, load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402


def test_xor_is_learned():
    cnn.utils.set_random_seed(0)
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    y = np.array([0, 1, 1, 0], np.float32)
    model = models.Sequential([Input((2,)), Dense(8, activation="tanh"),
                               Dense(1, activation="sigmoid")])
    model.compile(optimizers.Adam(0.05), "binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=4, epochs=300, verbose=0)
    assert history.history["accuracy"][-1] == 1.0
    assert history.history["loss"][-1] < 0.1
    np.testing.assert_array_equal(model.predict(x, verbose=0)[:, 0] > 0.5, y > 0.5)


def test_digits_mlp_reaches_95_percent():
    cnn.utils.set_random_seed(1)
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(x, digits.target, test_size=0.25,
                                                        random_state=0, stratify=digits.target)
    model = models.Sequential([Input((64,)), Dense(128, activation="relu"),
                               Dense(64, activation="relu"), Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=32, epochs=25, validation_split=0.1,
                        verbose=0)
    assert history.history["val_accuracy"][-1] >= 0.93
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy >= 0.95, accuracy
    predicted = model.predict(x_test, verbose=0).argmax(axis=1)
    assert (predicted == y_test).mean() == pytest.approx(accuracy, abs=1e-6)


def test_diabetes_regression_beats_the_mean():
    cnn.utils.set_random_seed(2)
    data = load_diabetes()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data.astype(np.float32), data.target.astype(np.float32), test_size=0.25,
        random_state=42)  # on this split least squares reaches R^2 = 0.48
    mu, sigma = x_train.mean(0), x_train.std(0)
    x_train, x_test = (x_train - mu) / sigma, (x_test - mu) / sigma
    y_mean, y_std = y_train.mean(), y_train.std()
    model = models.Sequential([Input((10,)), Dense(16, activation="relu"), Dense(1)])
    model.compile(optimizers.Adam(0.003), "mse", metrics=["mae"])
    model.fit(x_train, (y_train - y_mean) / y_std, batch_size=32, epochs=50, verbose=0)
    pred = model.predict(x_test, verbose=0)[:, 0] * y_std + y_mean
    mse = np.mean((pred - y_test) ** 2)
    baseline = np.mean((y_train.mean() - y_test) ** 2)
    r2 = 1 - mse / np.var(y_test)
    assert mse < 0.6 * baseline and r2 > 0.4, (mse, baseline, r2)
