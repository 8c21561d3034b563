"""Dropout, SpatialDropout1D/2D/3D, GaussianNoise, GaussianDropout, AlphaDropout: Keras 3
semantics, training statistics, determinism, and the compiled model's modes (fit drops,
evaluate and predict do not; a build-time training=True applies to model(x) only, as in Keras 3)."""
import math

import numpy as np
import pytest

import cnn
from cnn import layers, models, optimizers
from cnn.layers import (AlphaDropout, Dense, Dropout, GaussianDropout, GaussianNoise, Input,
                        SpatialDropout1D, SpatialDropout2D, SpatialDropout3D)


def rng(seed=0):
    return np.random.default_rng(seed)


def normal(shape, seed=0):
    return rng(seed).standard_normal(shape).astype(np.float32)


def arr(t):
    return np.asarray(t)


ALL = [
    ("Dropout", lambda: Dropout(0.4)),
    ("SpatialDropout1D", lambda: SpatialDropout1D(0.4)),
    ("GaussianNoise", lambda: GaussianNoise(0.4)),
    ("GaussianDropout", lambda: GaussianDropout(0.4)),
    ("AlphaDropout", lambda: AlphaDropout(0.4)),
]


# ---- inference and Keras parity ------------------------------------------------------------

@pytest.mark.parametrize("name,make", ALL)
def test_inference_is_the_identity(name, make):
    x = normal((4, 6, 5))
    layer = make()
    np.testing.assert_array_equal(arr(layer(x)), x)
    np.testing.assert_array_equal(arr(layer(x, training=False)), x)
    assert not np.array_equal(arr(layer(x, training=True)), x)
    assert layer.compute_output_shape((None, 6, 5)) == (None, 6, 5)
    assert layer.weights == [] and layer.count_params() == 0


def _keras():
    return pytest.importorskip("keras")


@pytest.mark.parametrize("name,kwargs", [
    ("Dropout", {"rate": 0.3}), ("Dropout", {"rate": 0.3, "noise_shape": (None, 1, 5)}),
    ("SpatialDropout1D", {"rate": 0.3}), ("GaussianNoise", {"stddev": 0.3}),
    ("GaussianDropout", {"rate": 0.3}), ("AlphaDropout", {"rate": 0.3}),
])
def test_keras_parity_inference_and_zero_rate(name, kwargs):
    keras = _keras()
    x = normal((3, 4, 5))
    for kw in (kwargs, {**kwargs, next(iter(kwargs)): 0.0}):
        k = getattr(keras.layers, name)(**kw)
        c = getattr(layers, name)(**kw)
        np.testing.assert_array_equal(arr(c(x)), np.asarray(k(x)))
        np.testing.assert_array_equal(arr(c(x, training=False)), np.asarray(k(x, training=False)))
    # rate 0 is the identity in training too (Keras returns its input)
    zero = {**kwargs, next(iter(kwargs)): 0.0}
    np.testing.assert_array_equal(arr(getattr(layers, name)(**zero)(x, training=True)), x)


def test_keras_parity_rate_one_dropout_gives_zeros():
    keras = _keras()
    x = normal((3, 5))
    np.testing.assert_array_equal(arr(Dropout(1.0)(x, training=True)),
                                  np.asarray(keras.layers.Dropout(1.0)(x, training=True)))


@pytest.mark.parametrize("name,kwargs", [
    ("Dropout", {"rate": 0.3, "noise_shape": (None, 1, 5), "seed": 4}),
    ("SpatialDropout1D", {"rate": 0.3, "seed": 1}),
    ("SpatialDropout2D", {"rate": 0.3, "data_format": "channels_first"}),
    ("GaussianNoise", {"stddev": 0.3, "seed": 2}), ("GaussianDropout", {"rate": 0.3}),
    ("AlphaDropout", {"rate": 0.3, "noise_shape": (None, 4)}),
])
def test_config_matches_keras_and_round_trips(name, kwargs):
    keras = _keras()
    c = getattr(layers, name)(**kwargs)
    k = getattr(keras.layers, name)(**kwargs)
    ck, kk = c.get_config(), k.get_config()
    for key in kwargs:
        assert ck[key] == kk[key], key
    assert set(ck) - {"trainable"} <= set(kk)
    again = type(c).from_config(ck)
    assert again.get_config() == ck


# ---- training-mode statistics ------------------------------------------------------------

@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_dropout_statistics(rate):
    x = np.ones((1000, 500), np.float32)
    y = arr(Dropout(rate)(x, training=True))
    n, sigma = x.size, math.sqrt(rate * (1 - rate) / x.size)
    assert abs((y == 0).mean() - rate) < 5 * sigma
    assert abs(y.mean() - 1) < 5 * sigma / (1 - rate)
    np.testing.assert_allclose(np.unique(y), [0, 1 / (1 - rate)], rtol=1e-6)
    assert n == 500_000


def test_noise_shape_fills_none_from_the_input():
    x = np.ones((400, 10, 30), np.float32)
    y = arr(Dropout(0.5, noise_shape=(None, 1, 30))(x, training=True))
    dropped = y == 0
    assert (dropped.all(axis=1) | ~dropped.any(axis=1)).all()  # shared over timesteps
    assert not (dropped.all(axis=0) | ~dropped.any(axis=0)).all()  # differs per sample
    y = arr(Dropout(0.5, noise_shape=(1, 10, 1))(x, training=True))
    assert (y == y[:1, :, :1]).all()  # one mask over the batch and the features
    assert abs((y == 0).mean() - 0.5) < 0.4


def test_spatial_dropout_1d_drops_whole_channels():
    x = normal((500, 12, 40)) + 10
    y = arr(SpatialDropout1D(0.3)(x, training=True))
    dropped = y == 0
    assert (dropped.all(axis=1) | ~dropped.any(axis=1)).all()
    assert abs(dropped[:, 0].mean() - 0.3) < 5 * math.sqrt(0.21 / (500 * 40))
    kept = ~dropped
    np.testing.assert_allclose(y[kept], x[kept] / 0.7, rtol=1e-6)


@pytest.mark.parametrize("data_format,axes,channel", [("channels_last", (1, 2), 3),
                                                       ("channels_first", (2, 3), 1),
                                                       (None, (1, 2), 3)])
def test_spatial_dropout_2d_drops_whole_feature_maps(data_format, axes, channel):
    x = np.ones((200, 6, 6, 6), np.float32)
    y = arr(SpatialDropout2D(0.5, data_format=data_format)(x, training=True))
    dropped = y == 0
    assert (dropped.all(axis=axes) | ~dropped.any(axis=axes)).all()
    per_map = dropped.all(axis=axes)
    assert 0.4 < per_map.mean() < 0.6
    assert per_map.shape == (200, 6)


def test_spatial_dropout_3d_channels():
    x = np.ones((100, 3, 3, 3, 8), np.float32)
    y = arr(SpatialDropout3D(0.5)(x, training=True))
    dropped = y == 0
    assert (dropped.all(axis=(1, 2, 3)) | ~dropped.any(axis=(1, 2, 3))).all()
    y = arr(SpatialDropout3D(0.5, data_format="channels_first")(x, training=True))
    dropped = y == 0
    assert (dropped.all(axis=(2, 3, 4)) | ~dropped.any(axis=(2, 3, 4))).all()


def test_gaussian_noise_statistics():
    x = np.full((1000, 1000), 3.0, np.float32)
    y = arr(GaussianNoise(0.25)(x, training=True)).astype(np.float64) - 3
    assert abs(y.mean()) < 5 * 0.25 / 1000
    assert abs(y.std() - 0.25) < 0.25 * 5 * math.sqrt(0.5 / 1e6)


def test_gaussian_dropout_statistics():
    x = np.ones((1000, 1000), np.float32)
    rate = 0.3
    y = arr(GaussianDropout(rate)(x, training=True)).astype(np.float64)
    var = rate / (1 - rate)
    assert abs(y.mean() - 1) < 5 * math.sqrt(var / 1e6)
    assert abs(y.var() - var) < var * 5 * math.sqrt(2 / 1e6)


def test_alpha_dropout_keeps_standard_normal_statistics():
    x = normal((1000, 1000), 3)
    y = arr(AlphaDropout(0.3)(x, training=True)).astype(np.float64)
    assert abs(y.mean()) < 0.01 and abs(y.var() - 1) < 0.01
    keras = _keras()
    # Keras's own layer on the same input gives the same statistics (different draw)
    yk = np.asarray(keras.layers.AlphaDropout(0.3, seed=0)(x, training=True), np.float64)
    assert abs(y.mean() - yk.mean()) < 0.01 and abs(y.var() - yk.var()) < 0.01
    def most_common(v):  # the value dropped units take
        values, counts = np.unique(v, return_counts=True)
        return values[counts.argmax()]
    np.testing.assert_allclose(most_common(y), most_common(yk), rtol=1e-6)


# ---- determinism -------------------------------------------------------------------------------

@pytest.mark.parametrize("name,make", ALL)
def test_two_calls_draw_different_masks_and_set_random_seed_repeats_them(name, make):
    x = normal((20, 6, 5))
    cnn.utils.set_random_seed(3)
    layer = make()
    a, b = arr(layer(x, training=True)), arr(layer(x, training=True))
    assert not np.array_equal(a, b)
    cnn.utils.set_random_seed(3)
    np.testing.assert_array_equal(arr(layer(x, training=True)), a)
    np.testing.assert_array_equal(arr(layer(x, training=True)), b)


def test_layer_seed_makes_masks_reproducible():
    x = normal((30, 20))
    a = Dropout(0.5, seed=7)
    b = Dropout(0.5, seed=7)
    first = arr(a(x, training=True))
    cnn.backend.next_seed()  # the global stream moving on does not matter
    np.testing.assert_array_equal(arr(b(x, training=True)), first)
    assert not np.array_equal(arr(a(x, training=True)), first)  # the layer's stream moves on
    assert not np.array_equal(arr(Dropout(0.5, seed=8)(x, training=True)), first)
    np.testing.assert_array_equal(arr(GaussianNoise(0.3, seed=0)(x, training=True)),
                                  arr(GaussianNoise(0.3, seed=0)(x, training=True)))


def test_tape_gradient_uses_the_forward_mask():
    x = cnn.backend.convert_to_tensor(normal((8, 10)) + 5)
    w = cnn.backend.Variable(np.ones((8, 10), np.float32))
    layer = Dropout(0.5)
    with cnn.GradientTape() as tape:
        y = layer(x * w, training=True)
    g = arr(tape.gradient(y, w))
    np.testing.assert_allclose(g, np.where(arr(y) == 0, 0, 2 * arr(x)), rtol=1e-6)


# ---- compiled models ----------------------------------------------------------------------------

def mlp(dropout=None, seed=0, units=32):
    cnn.utils.set_random_seed(seed)
    inp = Input((10,))
    h = Dense(units, activation="relu")(inp)
    if dropout is not None:
        h = dropout(h)
    return models.Model(inp, Dense(1)(h))


def data(n=64, seed=0):
    x = normal((n, 10), seed)
    return x, x[:, :1] * 2 - x[:, 1:2]


@pytest.mark.parametrize("make", [lambda: Dropout(0.5), lambda: GaussianNoise(0.5),
                                  lambda: GaussianDropout(0.5), lambda: AlphaDropout(0.5),
                                  lambda: Dropout(0.5, noise_shape=(None, 1))])
def test_fit_drops_evaluate_and_predict_do_not(make):
    x, y = data()
    model, plain = mlp(make()), mlp(None)
    assert len(model.layers) == len(plain.layers) + 1
    plain.set_weights(model.get_weights())
    for m in (model, plain):
        m.compile(optimizers.SGD(0.0), "mse")  # lr 0: weights stay, losses compare
    np.testing.assert_array_equal(model.predict(x, verbose=0), plain.predict(x, verbose=0))
    assert model.evaluate(x, y, verbose=0) == plain.evaluate(x, y, verbose=0)
    hist = model.fit(x, y, batch_size=64, epochs=3, verbose=0, shuffle=False).history["loss"]
    clean = plain.evaluate(x, y, verbose=0)
    assert all(h != clean for h in hist)  # training steps are noisy...
    assert len(set(hist)) == 3            # ...with a different draw each step
    assert model.evaluate(x, y, verbose=0) == clean  # the same graph, run without noise
    np.testing.assert_array_equal(model.predict(x, verbose=0), plain.predict(x, verbose=0))


def test_model_call_training_flag():
    x, _ = data()
    model = mlp(Dropout(0.5))
    off = arr(model(x, training=False))
    np.testing.assert_array_equal(off, model.predict(x, verbose=0))
    np.testing.assert_array_equal(arr(model(x)), off)
    on = arr(model(x, training=True))
    assert not np.allclose(on, off)
    assert not np.array_equal(on, arr(model(x, training=True)))


def test_build_time_training_is_the_default_for_runs_that_do_not_say():
    """Keras 3 (checked against 3.15): `Dropout(r)(x, training=True)` in a functional model
    applies only when a run leaves `training` unset, i.e. `model(x)`; fit trains, and
    predict, evaluate and `model(x, training=False)` infer, whatever was recorded."""
    x = np.ones((64, 200), np.float32)
    inp = Input((200,))
    mc = models.Model(inp, Dropout(0.5)(inp, training=True))
    assert 0.4 < (arr(mc(x)) == 0).mean() < 0.6  # MC dropout through model(x)
    np.testing.assert_array_equal(mc.predict(x, verbose=0), x)
    np.testing.assert_array_equal(arr(mc(x, training=False)), x)
    mc.compile(optimizers.SGD(0.0), "mse")
    assert mc.evaluate(x, x, verbose=0) == 0.0

    inp = Input((100,))
    never = models.Model(inp, Dropout(0.5)(inp, training=False))
    np.testing.assert_array_equal(arr(never(x[:, :100])), x[:, :100])
    assert (arr(never(x[:, :100], training=True)) == 0).any()


def test_one_layer_called_twice_draws_two_masks():
    x = np.ones((16, 100), np.float32)
    inp = Input((100,))
    d = Dropout(0.5)
    model = models.Model(inp, [d(inp, training=True), d(inp, training=True)])
    a, b = [arr(t) for t in model(x)]  # a build-time training=True applies to model(x)
    assert (a == 0).any() and not np.array_equal(a == 0, b == 0)


def test_subclassed_model_follows_the_training_flag():
    class Net(models.Model):
        def __init__(self):
            super().__init__()
            self.hidden = Dense(16, activation="relu")
            self.drop = Dropout(0.5)
            self.out = Dense(1)

        def call(self, x, training=None):
            return self.out(self.drop(self.hidden(x), training=training))

    cnn.utils.set_random_seed(0)
    net = Net()
    x, y = data()
    net.compile(optimizers.SGD(0.0), "mse")
    hist = net.fit(x, y, batch_size=64, epochs=2, verbose=0).history["loss"]
    clean = net.evaluate(x, y, verbose=0)
    assert hist[0] != clean and hist[1] != clean
    np.testing.assert_array_equal(net.predict(x, verbose=0), arr(net.out(net.hidden(x))))


def train_once(seed):
    cnn.utils.set_random_seed(seed)
    inp = Input((10,))
    h = Dropout(0.3)(Dense(32, activation="relu")(inp))
    h = GaussianNoise(0.1)(h)
    h = AlphaDropout(0.1)(Dense(16, activation="selu")(h))
    h = GaussianDropout(0.2)(h)
    model = models.Model(inp, Dense(1)(h))
    model.compile(optimizers.Adam(0.01), "mse")
    x, y = data(128)
    model.fit(x, y, batch_size=16, epochs=3, verbose=0)
    return model.get_weights()


def test_set_random_seed_then_fit_twice_is_bit_identical():
    a, b, c = train_once(5), train_once(5), train_once(6)
    for wa, wb in zip(a, b):
        np.testing.assert_array_equal(wa, wb)
    assert any(not np.array_equal(wa, wc) for wa, wc in zip(a, c))


def test_dropout_regularises_a_learning_model():
    """A model with dropout still learns (the noise only slows it)."""
    cnn.utils.set_random_seed(0)
    x, y = data(256)
    model = models.Sequential([Input((10,)), Dense(64, activation="relu"), Dropout(0.2),
                               Dense(1)])
    model.compile(optimizers.Adam(0.01), "mse")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, batch_size=32, epochs=30, verbose=0)
    assert model.evaluate(x, y, verbose=0) < 0.2 * before


# ---- bad input --------------------------------------------------------------------------------

@pytest.mark.parametrize("make,match", [
    (lambda: Dropout(1.5, name="drop"), r"`rate` of layer 'drop'.*between 0 and 1.*rate=1.5"),
    (lambda: Dropout(-0.1, name="drop"), r"layer 'drop'.*rate=-0.1"),
    (lambda: Dropout("half", name="drop"), r"layer 'drop'.*rate='half'"),
    (lambda: Dropout(float("nan"), name="d"), r"layer 'd'.*rate=nan"),
    (lambda: SpatialDropout1D(2, name="sd"), r"layer 'sd'.*rate=2"),
    (lambda: GaussianDropout(1.0, name="gd"), r"layer 'gd'.*\[0, 1\).*rate=1"),
    (lambda: AlphaDropout(1, name="ad"), r"layer 'ad'.*\[0, 1\).*rate=1"),
    (lambda: GaussianNoise(-1, name="gn"), r"`stddev` of layer 'gn'.*stddev=-1"),
    (lambda: GaussianNoise(2.0, name="gn"), r"`stddev` of layer 'gn'.*stddev=2.0"),
    (lambda: Dropout(0.5, noise_shape="abc", name="d"), r"`noise_shape` of layer 'd'"),
    (lambda: Dropout(0.5, noise_shape=5, name="d"), r"Expected an iterable"),
    (lambda: Dropout(0.5, noise_shape=(None, 0), name="d"), r"negative or zero value at index 1: 0"),
    (lambda: Dropout(0.5, noise_shape=(None, 1.5), name="d"), r"index 1: 1.5 \(type: float\)"),
    (lambda: SpatialDropout2D(0.5, data_format="nhwc"), r"data_format=nhwc"),
    (lambda: Dropout(0.5, seed="x", name="d"), r"`seed` of layer 'd' must be an integer"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_input_shapes_name_the_layer():
    with pytest.raises(ValueError, match=r"layer 'sd1'.*expected ndim=3, found ndim=2"):
        SpatialDropout1D(0.5, name="sd1")(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"layer 'sd2'.*expected ndim=4"):
        SpatialDropout2D(0.5, name="sd2")(Input((3, 4)))
    with pytest.raises(ValueError, match=r"Layer 'nd': noise_shape=\(None, 2\) does not broadcast"):
        Dropout(0.5, noise_shape=(None, 2), name="nd")(Input((5,)))
    with pytest.raises(ValueError, match=r"Layer 'nd2': noise_shape=\(1,\)"):
        Dropout(0.5, noise_shape=(1,), name="nd2")(np.ones((2, 3), np.float32), training=True)


def test_exported_like_keras():
    for name in ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
                 "GaussianNoise", "GaussianDropout", "AlphaDropout"):
        assert name in layers.__all__ and getattr(layers, name).__doc__
