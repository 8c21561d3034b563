"""Preprocessing layers: Rescaling, Normalization (adapt), Resizing against Keras 3; the
augmentation layers (RandomFlip, RandomRotation, RandomTranslation, RandomZoom,
RandomContrast, RandomBrightness, RandomCrop) in inference (identity / Keras's centre crop),
with transforms fixed by degenerate ranges against Keras's own layers, their statistics,
reproducibility, and in a model: fit augments, evaluate and predict do not."""
import numpy as np
import pytest

import cnn
from cnn import models, optimizers
from cnn.layers import (Dense, Flatten, Input, Normalization, RandomBrightness, RandomContrast,
                        RandomCrop, RandomFlip, RandomRotation, RandomTranslation, RandomZoom,
                        Rescaling, Resizing)


def images(shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype(np.float32)


def arr(t):
    return np.asarray(t)


def _keras():
    return pytest.importorskip("keras")


def knp(keras, t):
    return keras.ops.convert_to_numpy(t)


# ---- Rescaling -----------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [{"scale": 1 / 255}, {"scale": 1 / 127.5, "offset": -1},
                                    {"scale": [0.5, 2.0, 1.0], "offset": [1.0, 0.0, -3.0]}])
def test_rescaling_matches_keras(kwargs):
    keras = _keras()
    x = images((2, 4, 5, 3))
    np.testing.assert_allclose(arr(Rescaling(**kwargs)(x)),
                               knp(keras, keras.layers.Rescaling(**kwargs)(x)), rtol=1e-6)
    layer = Rescaling(**kwargs)
    np.testing.assert_array_equal(arr(layer(x, training=True)), arr(layer(x)))
    assert Rescaling.from_config(layer.get_config()).get_config() == layer.get_config()


def test_rescaling_rejects_bad_scale():
    with pytest.raises(ValueError, match="'resc'.*`scale`.*'a'"):
        Rescaling("a", name="resc")


# ---- Normalization -------------------------------------------------------------------------

@pytest.mark.parametrize("axis", [-1, None, (1, 2), (1, -1)])
def test_normalization_adapt_matches_keras(axis):
    keras = _keras()
    x = images((6, 4, 5, 3)) / 7
    ours, theirs = Normalization(axis=axis), keras.layers.Normalization(axis=axis)
    ours.adapt(x)
    theirs.adapt(x)
    np.testing.assert_allclose(arr(ours(x)), knp(keras, theirs(x)), rtol=1e-5, atol=1e-5)
    for a, b in zip(ours.get_weights()[:2], theirs.get_weights()[:2]):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_normalization_adapt_over_batches_matches_keras():
    keras = _keras()
    x = images((10, 3)) / 9
    batches = [x[:4], x[4:7], x[7:]]
    ours, theirs = Normalization(), keras.layers.Normalization()
    ours.adapt(batches)  # merged per batch as Keras does (its iterable path needs tensorflow)
    theirs.adapt(x)
    np.testing.assert_allclose(arr(ours(x)), knp(keras, theirs(x)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours.get_weights()[1], x.var(axis=0), rtol=1e-4)


@pytest.mark.parametrize("invert", [False, True])
def test_normalization_given_statistics_match_keras(invert):
    keras = _keras()
    x = images((3, 4, 2)) / 50
    kw = dict(axis=-1, mean=[1.0, 2.0], variance=[4.0, 0.0], invert=invert)  # var 0: epsilon
    np.testing.assert_allclose(arr(Normalization(**kw)(x)),
                               knp(keras, keras.layers.Normalization(**kw)(x)), rtol=1e-5)
    kw = dict(axis=None, mean=3.0, variance=2.0, invert=invert)
    np.testing.assert_allclose(arr(Normalization(**kw)(x)),
                               knp(keras, keras.layers.Normalization(**kw)(x)), rtol=1e-5)


def test_normalization_in_a_compiled_model_uses_adapted_statistics():
    x = images((32, 3)) / 10
    norm = Normalization()
    norm.adapt(x)
    model = models.Sequential([Input((3,)), norm, Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, np.zeros((32, 1), np.float32), epochs=1, verbose=0)
    assert len(norm.non_trainable_weights) == 3 and norm.trainable_weights == []
    np.testing.assert_allclose(norm.get_weights()[0], x.mean(axis=0), rtol=1e-5)
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    w, b = model.layers[-1].get_weights()
    np.testing.assert_allclose(model.predict(x, verbose=0), z @ w + b, rtol=1e-4, atol=1e-4)


def test_normalization_errors():
    with pytest.raises(ValueError, match="both `mean` and `variance`"):
        Normalization(mean=1.0)
    with pytest.raises(ValueError, match="'nrm'.*incompatible shape"):
        n = Normalization(name="nrm")
        n.adapt(np.zeros((4, 3), np.float32))
        n.adapt(np.zeros((4, 2), np.float32))
    with pytest.raises(ValueError, match="`axis` values must be in"):
        Normalization(axis=3).adapt(np.zeros((4, 3), np.float32))


# ---- Resizing ------------------------------------------------------------------------------

@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("crop", [False, True])
@pytest.mark.parametrize("shape,size", [((2, 9, 7, 3), (4, 5)), ((2, 4, 6, 1), (9, 5)),
                                        ((8, 5, 2), (3, 3))])
def test_resizing_matches_keras(interpolation, crop, shape, size):
    keras = _keras()
    x = images(shape)
    kw = dict(interpolation=interpolation, crop_to_aspect_ratio=crop)
    got = arr(Resizing(*size, **kw)(x))
    want = knp(keras, keras.layers.Resizing(*size, **kw)(x))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-3)


def test_resizing_passes_gradients_in_a_model():
    from cnn.layers import Conv2D
    model = models.Sequential([Input((4, 4, 1)), Conv2D(2, 3, padding="same"), Resizing(8, 8),
                               Flatten(), Dense(1)])
    model.compile(optimizer=optimizers.SGD(0.01), loss="mse")
    before = model.layers[0].get_weights()[0].copy()
    model.fit(images((8, 4, 4, 1)) / 255, np.ones((8, 1), np.float32), epochs=1, verbose=0)
    assert not np.array_equal(model.layers[0].get_weights()[0], before)


def test_resizing_in_a_model_and_errors():
    model = models.Sequential([Input((9, 7, 3)), Resizing(4, 5), Flatten(), Dense(2)])
    assert model.output_shape == (None, 2)
    assert model.predict(images((3, 9, 7, 3)), verbose=0).shape == (3, 2)
    with pytest.raises(ValueError, match="'rs'.*`interpolation` 'cubic'"):
        Resizing(2, 2, interpolation="cubic", name="rs")
    with pytest.raises(ValueError, match="'rs2'.*`height`.*0"):
        Resizing(0, 2, name="rs2")
    with pytest.raises(ValueError, match="'rs3' expects images of rank 4"):
        Resizing(2, 2, name="rs3")(np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError, match="channels_first"):
        Resizing(2, 2, data_format="channels_first")
    with pytest.raises(ValueError, match="'rs4'.*antialias=True"):
        Resizing(2, 2, antialias=True, name="rs4")


@pytest.mark.parametrize("name,args", [
    ("Rescaling", (0.5, 1.0)), ("Resizing", (3, 4)), ("RandomFlip", ("horizontal",)),
    ("RandomRotation", (0.1,)), ("RandomTranslation", (0.1, 0.2)), ("RandomZoom", (0.2,)),
    ("RandomContrast", (0.2,)), ("RandomBrightness", (0.1,)), ("RandomCrop", (3, 3))])
def test_keras_configs_construct_our_layers(name, args):
    keras = _keras()
    config = getattr(keras.layers, name)(*args).get_config()
    config = {k: v for k, v in config.items() if k not in ("name", "trainable", "dtype")}
    layer = getattr(cnn.layers, name)(**config)
    for key in config:
        if key not in ("seed", "factor"):  # Keras's RandomContrast keeps (0, f); see its docs
            assert np.all(np.asarray(getattr(layer, key)) == np.asarray(config[key])), key


# ---- augmentation: inference ---------------------------------------------------------------

AUG = [
    ("RandomFlip", {}),
    ("RandomRotation", {"factor": 0.2}),
    ("RandomTranslation", {"height_factor": 0.2, "width_factor": 0.3}),
    ("RandomZoom", {"height_factor": 0.3}),
    ("RandomContrast", {"factor": 0.4}),
    ("RandomBrightness", {"factor": 0.3}),
]


def make(name, kwargs, **extra):
    return getattr(cnn.layers, name)(**kwargs, **extra)


@pytest.mark.parametrize("name,kwargs", AUG)
def test_inference_is_the_identity_as_in_keras(name, kwargs):
    keras = _keras()
    x = images((3, 6, 7, 2))
    layer = make(name, kwargs)
    np.testing.assert_array_equal(arr(layer(x, training=False)), x)
    np.testing.assert_array_equal(knp(keras, getattr(keras.layers, name)(**kwargs)(
        x, training=False)), x)
    assert not np.array_equal(arr(layer(x)), x)  # Keras 3: a direct call augments
    assert layer.compute_output_shape((None, 6, 7, 2)) == (None, 6, 7, 2)
    assert layer.weights == []
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config


@pytest.mark.parametrize("size", [(4, 3), (6, 8), (10, 2)])
def test_random_crop_inference_is_the_aspect_centre_crop(size):
    keras = _keras()
    x = images((2, 9, 7, 3))
    want = knp(keras, keras.layers.Resizing(*size, crop_to_aspect_ratio=True)(x))
    np.testing.assert_allclose(arr(RandomCrop(*size)(x, training=False)), want, rtol=1e-5,
                               atol=1e-3)


def test_random_crop_training_matches_keras_shapes_and_content():
    keras = _keras()
    x = images((5, 9, 7, 1))
    y = arr(RandomCrop(4, 3, seed=1)(x, training=True))
    assert y.shape == tuple(keras.layers.RandomCrop(4, 3)(x, training=True).shape)
    for n in range(5):  # each crop is a window of its own image
        found = [(t, l) for t in range(6) for l in range(5)
                 if np.array_equal(x[n, t:t + 4, l:l + 3], y[n])]
        assert found
    # input not larger than the target: Keras resizes the aspect crop
    want = knp(keras, keras.layers.Resizing(9, 9, crop_to_aspect_ratio=True)(x))
    np.testing.assert_allclose(arr(RandomCrop(9, 9)(x, training=True)), want, rtol=1e-5,
                               atol=1e-3)


# ---- augmentation: fixed transforms against Keras ------------------------------------------

@pytest.mark.parametrize("fill_mode", ["reflect", "wrap", "constant", "nearest"])
@pytest.mark.parametrize("name,kwargs", [
    ("RandomRotation", {"factor": (0.1, 0.1)}),
    ("RandomRotation", {"factor": (-0.3, -0.3)}),
    ("RandomTranslation", {"height_factor": (0.2, 0.2), "width_factor": (-0.35, -0.35)}),
    ("RandomZoom", {"height_factor": (0.4, 0.4)}),
    ("RandomZoom", {"height_factor": (-0.3, -0.3), "width_factor": (0.2, 0.2)}),
])
def test_fixed_geometric_transform_matches_keras(fill_mode, name, kwargs):
    keras = _keras()
    x = images((2, 7, 8, 3))
    kw = dict(kwargs, fill_mode=fill_mode, fill_value=5.0)
    got = arr(make(name, kw)(x, training=True))
    want = knp(keras, getattr(keras.layers, name)(**kw)(x, training=True))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-3)


def test_fixed_brightness_matches_keras():
    keras = _keras()
    x = images((3, 4, 5, 3))
    for kw in [{"factor": (0.2, 0.2)}, {"factor": (-0.5, -0.5), "value_range": (0, 255)},
               {"factor": (0.1, 0.1), "value_range": (-1, 1)}]:
        xs = x / 127.5 - 1 if kw.get("value_range") == (-1, 1) else x
        np.testing.assert_allclose(arr(RandomBrightness(**kw)(xs, training=True)),
                                   knp(keras, keras.layers.RandomBrightness(**kw)(
                                       xs, training=True)), rtol=1e-5, atol=1e-4)


def test_contrast_range_and_clipping():
    x = images((400, 3, 3, 1))
    y = arr(RandomContrast(0.5, seed=3)(x, training=True))
    assert y.min() >= 0 and y.max() <= 255
    mean = x.mean(axis=(1, 2, 3))
    dev = np.abs(x - mean[:, None, None, None]).sum(axis=(1, 2, 3))
    ydev = np.abs(y - mean[:, None, None, None]).sum(axis=(1, 2, 3))
    ratio = ydev / dev  # the contrast factor where nothing was clipped
    unclipped = (y > 0).all(axis=(1, 2, 3)) & (y < 255).all(axis=(1, 2, 3))
    r = ratio[unclipped]
    assert r.min() >= 0.5 - 1e-4 and r.max() <= 1.5 + 1e-4 and r.min() < 0.6 and r.max() > 1.2


# ---- statistics and reproducibility --------------------------------------------------------

def test_flip_frequency_and_modes():
    x = np.zeros((2000, 2, 2, 1), np.float32)
    x[:, 0, 1] = 1  # top-right corner
    for mode, (row, col) in [("horizontal", (0, 0)), ("vertical", (1, 1))]:
        y = arr(RandomFlip(mode, seed=2)(x, training=True))
        assert abs(y[:, row, col, 0].mean() - 0.5) < 0.04
        assert np.all(y.sum(axis=(1, 2, 3)) == 1)
    y = arr(RandomFlip(seed=2)(x, training=True))
    corners = y.reshape(2000, 4).argmax(axis=1)
    assert np.all(np.abs(np.bincount(corners, minlength=4) / 2000 - 0.25) < 0.04)


@pytest.mark.parametrize("name,kwargs", AUG + [("RandomCrop", {"height": 4, "width": 5})])
def test_seeded_layers_repeat_and_differ(name, kwargs):
    x = images((4, 6, 7, 2))
    a, b = make(name, kwargs, seed=11), make(name, kwargs, seed=11)
    first = arr(a(x, training=True))
    np.testing.assert_array_equal(first, arr(b(x, training=True)))
    assert not np.array_equal(first, arr(a(x, training=True)))  # the next draw
    assert not np.array_equal(first, arr(make(name, kwargs, seed=12)(x, training=True)))


def test_single_image_input():
    x = images((6, 7, 3))
    assert arr(RandomRotation(0.2, seed=1)(x, training=True)).shape == (6, 7, 3)
    assert arr(RandomCrop(3, 4, seed=1)(x)).shape == (3, 4, 3)
    np.testing.assert_array_equal(arr(RandomFlip()(x, training=False)), x)


def test_augmentation_errors_name_the_layer_and_value():
    with pytest.raises(ValueError, match="'rot'.*`factor`.*1.5"):
        RandomRotation(1.5, name="rot")
    with pytest.raises(ValueError, match="'rot2'.*`fill_mode` 'mirror'"):
        RandomRotation(0.1, fill_mode="mirror", name="rot2")
    with pytest.raises(ValueError, match="'fl'.*`mode` 'diagonal'"):
        RandomFlip("diagonal", name="fl")
    with pytest.raises(ValueError, match="'zm'.*height_factor.*-1"):
        RandomZoom(-1.0, name="zm")
    with pytest.raises(ValueError, match="'br'.*value_range"):
        RandomBrightness(0.1, value_range=(1, 1), name="br")
    with pytest.raises(ValueError, match="'ct'.*`factor`"):
        RandomContrast(-0.5, name="ct")
    with pytest.raises(ValueError, match="`seed` of layer 'cr'"):
        RandomCrop(2, 2, seed="x", name="cr")
    with pytest.raises(ValueError, match="'fl2' expects images of rank 4"):
        RandomFlip(name="fl2")(np.zeros((3, 4), np.float32))


# ---- in a model ----------------------------------------------------------------------------

def _brightness_model(x_shape):
    model = models.Sequential([Input(x_shape), RandomBrightness((0.5, 0.5), value_range=(0, 100)),
                               Flatten(), Dense(1, kernel_initializer="ones")])
    model.compile(optimizer=optimizers.SGD(0.0), loss="mse")
    return model


def test_fit_augments_evaluate_and_predict_do_not():
    x = images((8, 2, 2, 1)) / 5  # values in [0, 51]
    y = np.zeros((8, 1), np.float32)
    model = _brightness_model((2, 2, 1))
    hist = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    bright = np.clip(x + 50, 0, 100).reshape(8, -1).sum(axis=1)
    plain = x.reshape(8, -1).sum(axis=1)
    np.testing.assert_allclose(hist.history["loss"][0], np.mean(bright ** 2), rtol=1e-5)
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), np.mean(plain ** 2), rtol=1e-5)
    np.testing.assert_allclose(model.predict(x, verbose=0)[:, 0], plain, rtol=1e-5)


def test_fit_draws_a_new_augmentation_every_step():
    x = images((16, 4, 4, 1)) / 255
    model = models.Sequential([Input((4, 4, 1)), RandomRotation(0.5), Flatten(), Dense(1)])
    model.compile(optimizer=optimizers.SGD(0.0), loss="mse")
    hist = model.fit(x, np.zeros((16, 1), np.float32), batch_size=16, epochs=4, verbose=0)
    assert len(set(hist.history["loss"])) == 4  # same weights, new angles every step
    evals = {float(model.evaluate(x, np.zeros((16, 1), np.float32), verbose=0)) for _ in range(2)}
    assert len(evals) == 1


def test_random_crop_model_shapes_in_fit_and_predict():
    model = models.Sequential([Input((9, 8, 1)), RandomCrop(5, 4, seed=1), Flatten(), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(images((6, 9, 8, 1)) / 255, np.zeros((6, 1), np.float32), epochs=1, verbose=0)
    assert model.predict(images((3, 9, 8, 1)), verbose=0).shape == (3, 1)


def _fit_once():
    cnn.utils.set_random_seed(123)
    model = models.Sequential([
        Input((8, 8, 1)), RandomFlip(), RandomRotation(0.1), RandomZoom(0.2),
        RandomTranslation(0.1, 0.1), RandomContrast(0.2), RandomBrightness(0.1),
        Flatten(), Dense(4, activation="relu"), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x = images((32, 8, 8, 1), seed=5)
    model.fit(x / 255, np.ones((32, 1), np.float32), batch_size=8, epochs=2, verbose=0)
    return model.get_weights(), model.predict(x / 255, verbose=0)


def test_set_random_seed_makes_fit_repeat():
    (w1, p1), (w2, p2) = _fit_once(), _fit_once()
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(p1, p2)
