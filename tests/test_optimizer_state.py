"""Optimizer state (iterations, learning rate, moments) round-trips through `.keras` and
`.weights.h5` files in Keras 3's "optimizer/vars" layout, so training resumes exactly, and
moves between cnn and Keras 3."""
import warnings

import numpy as np
import pytest

import cnn  # noqa: F401
from cnn import layers as L
from cnn import optimizers
from cnn.models import Sequential, load_model


def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((40, 5)).astype(np.float32), rng.standard_normal((40, 3)).astype(np.float32)


def model(optimizer):
    m = Sequential([L.Input((5,)), L.Dense(8, activation="tanh"), L.Dense(3)])
    m.set_weights([np.random.default_rng(i + 1).standard_normal(w.shape).astype(np.float32) * 0.5
                   for i, w in enumerate(m.get_weights())])
    m.compile(optimizer=optimizer, loss="mse")
    return m


OPTIMIZERS = {
    "sgd_momentum": lambda: optimizers.SGD(0.05, momentum=0.9),
    "rmsprop_centered": lambda: optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    "adagrad": lambda: optimizers.Adagrad(0.1),
    "adam_amsgrad": lambda: optimizers.Adam(0.01, amsgrad=True),
    "adamw": lambda: optimizers.AdamW(0.01),
    "nadam": lambda: optimizers.Nadam(0.01),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_resume_after_keras_file_matches_uninterrupted(name, tmp_path):
    x, y = data()
    straight = model(OPTIMIZERS[name]())
    straight.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)  # 10 steps

    first = model(OPTIMIZERS[name]())
    first.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)  # 5 steps
    path = tmp_path / "m.keras"
    first.save(path)
    resumed = load_model(path)
    assert resumed.optimizer.iterations == 5
    resumed.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)  # 5 more
    assert resumed.optimizer.iterations == 10
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["adam_amsgrad", "nadam"])
def test_weights_h5_carries_optimizer_state(name, tmp_path):
    x, y = data()
    straight = model(OPTIMIZERS[name]())
    straight.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    first = model(OPTIMIZERS[name]())
    first.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    path = tmp_path / "m.weights.h5"
    first.save_weights(path)
    again = model(OPTIMIZERS[name]())
    again.load_weights(path)
    again.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(again.get_weights(), straight.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_variables_follow_keras_order():
    m = model(optimizers.Adam(0.01, amsgrad=True))
    x, y = data()
    m.fit(x, y, batch_size=40, epochs=1, verbose=0)
    shapes = [v.shape for v in m.optimizer.variables]
    k1, b1, k2, b2 = [tuple(w.shape) for w in m.get_weights()]
    assert shapes == [(), (), k1, k1, b1, b1, k2, k2, b2, b2, k1, b1, k2, b2]
    r = model(optimizers.RMSprop(momentum=0.5, centered=True))
    r.fit(x, y, batch_size=40, epochs=1, verbose=0)
    assert len(r.optimizer.variables) == 2 + 3 * 4
    fresh = optimizers.Adagrad(initial_accumulator_value=0.25)
    values = fresh._variables_for(m.trainable_variables)
    assert int(values[0]) == 0 and all(np.all(v == np.float32(0.25)) for v in values[2:])


def test_set_slots_checks_shapes():
    m = model(optimizers.Adam())
    var = m.trainable_variables[0]
    c = m.optimizer._state._c
    assert c.get_slots(var._t) == []
    with pytest.raises(ValueError, match=r"shape"):
        c.set_slots(var._t, [np.zeros((2, 2), np.float32), np.zeros((2, 2), np.float32)])
    with pytest.raises(ValueError, match="2 state array"):
        c.set_slots(var._t, [np.zeros(var.shape, np.float32)])
    assert c.get_slots(var._t) == []  # a rejected restore creates no state
    ones = np.ones(var.shape, np.float32)
    c.set_slots(var._t, [ones, 2 * ones])
    got = c.get_slots(var._t)
    np.testing.assert_array_equal(got[0], ones)
    np.testing.assert_array_equal(got[1], 2 * ones)
    c.u_product = 0.5
    assert c.u_product == 0.5
    c.iterations = 7
    assert m.optimizer.iterations == 7


def test_mismatched_state_is_skipped_with_warning(tmp_path):
    x, y = data()
    a = model(optimizers.Adam(0.01))
    a.fit(x, y, batch_size=8, epochs=1, verbose=0)
    path = tmp_path / "m.weights.h5"
    a.save_weights(path)
    b = model(optimizers.SGD(0.01, momentum=0.9))
    with pytest.warns(UserWarning, match="Skipping variable loading for optimizer"):
        b.load_weights(path)
    assert b.optimizer.iterations == 0
    np.testing.assert_array_equal(b.get_weights()[0], a.get_weights()[0])


# ---- with Keras 3 ------------------------------------------------------------------------

def keras_model(keras):
    m = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="tanh"),
                          keras.layers.Dense(3)])
    m.set_weights([np.random.default_rng(i + 1).standard_normal(w.shape).astype(np.float32) * 0.5
                   for i, w in enumerate(m.get_weights())])
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return m


def test_keras_adam_state_resumes_in_cnn(tmp_path):
    keras = pytest.importorskip("keras")
    x, y = data()
    k = keras_model(keras)
    k.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    path = tmp_path / "k.keras"
    k.save(path)
    ours = load_model(path)
    assert ours.optimizer.iterations == 5
    k.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    ours.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), k.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_cnn_state_loads_into_keras_without_warning(tmp_path):
    keras = pytest.importorskip("keras")
    x, y = data()
    ours = model(optimizers.Adam(0.01))
    ours.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    path = tmp_path / "c.keras"
    ours.save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        k = keras.saving.load_model(path)
    assert int(k.optimizer.iterations.numpy()) == 5
    for a, b in zip(k.optimizer.variables, ours.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a.numpy()), b)
    k.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    ours.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), k.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
