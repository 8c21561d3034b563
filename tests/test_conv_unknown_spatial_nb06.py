"""Convolutions on inputs whose spatial size is unknown until run time (Keras's
`Input((None, None, C))`, `Input((None, C))`): fully convolutional models build with None
height/width, predict and train on any image size, and match Keras 3 and fixed-size twins."""
import warnings

import numpy as np
import pytest

import cnn
from cnn import layers

keras = pytest.importorskip("keras")
import torch  # noqa: E402  (Keras's backend here)

torch.set_num_threads(1)

rng = np.random.default_rng(0)

LAYERS = [
    ("conv2d_same", lambda L: L.Conv2D(4, 3, padding="same", activation="relu"), 3, 2),
    ("conv2d_valid_s2", lambda L: L.Conv2D(5, (3, 2), strides=2), 3, 2),
    ("conv2d_dilated_groups", lambda L: L.Conv2D(4, 3, dilation_rate=2, groups=2, padding="same"), 4, 2),
    ("conv2d_1x1", lambda L: L.Conv2D(3, 1), 2, 2),
    ("conv2d_t_same_s2", lambda L: L.Conv2DTranspose(3, 3, strides=2, padding="same"), 2, 2),
    ("conv2d_t_valid_out_pad", lambda L: L.Conv2DTranspose(2, 3, strides=2, output_padding=1), 2, 2),
    ("depthwise", lambda L: L.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2), 3, 2),
    ("separable", lambda L: L.SeparableConv2D(4, 3, padding="same"), 3, 2),
    ("conv1d_causal", lambda L: L.Conv1D(4, 3, padding="causal", dilation_rate=2), 3, 1),
    ("conv1d_t_same_s2", lambda L: L.Conv1DTranspose(3, 3, strides=2, padding="same"), 2, 1),
]
SIZES = {2: [(9, 8), (13, 6)], 1: [(11,), (7,)]}


@pytest.mark.parametrize("name,make,channels,rank", LAYERS, ids=[c[0] for c in LAYERS])
def test_unknown_spatial_dims_match_keras(name, make, channels, rank):
    shape = (None,) * rank + (channels,)
    k = keras.Sequential([keras.Input(shape), make(keras.layers)])
    c = cnn.models.Sequential([layers.Input(shape), make(layers)])
    ws = [np.asarray(w) for w in k.get_weights()]
    ws = [w if w.ndim > 1 else rng.standard_normal(w.shape).astype(np.float32) for w in ws]
    k.set_weights(ws)
    c.set_weights(ws)
    assert c.output_shape == tuple(k.output_shape)  # None where the size depends on the input
    for size in SIZES[rank]:
        x = rng.standard_normal((2,) + size + (channels,)).astype(np.float32)
        np.testing.assert_allclose(c.predict(x, verbose=0), k.predict(x, verbose=0),
                                   rtol=1e-4, atol=1e-5, err_msg=str(size))


def _fully_conv(inp):
    h = layers.Conv2D(6, 5, padding="same", activation="relu", name="c1")(inp)
    h = layers.Conv2D(4, 1, activation="relu", name="c2")(h)
    r = layers.Conv2D(1, 3, padding="same", name="c3")(h)
    return cnn.models.Model(inp, layers.Add()([inp, r]))  # a residual, as in SRCNN/VDSR


def test_train_on_patches_then_predict_any_size_like_a_fixed_size_twin():
    cnn.utils.set_random_seed(1)
    free = _fully_conv(layers.Input((None, None, 1)))
    fixed = _fully_conv(layers.Input((12, 12, 1)))
    fixed.set_weights(free.get_weights())
    assert free.output_shape == (None, None, None, 1)
    x = rng.random((16, 12, 12, 1)).astype(np.float32)
    y = (x + 0.1 * rng.standard_normal(x.shape)).astype(np.float32)
    for m in (free, fixed):
        m.compile(optimizer=cnn.optimizers.Adam(1e-2), loss="mse")
    h_free = free.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    h_fixed = fixed.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(h_free, h_fixed, rtol=1e-5)
    for a, b in zip(free.get_weights(), fixed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    big = rng.random((1, 30, 41, 1)).astype(np.float32)
    out = free.predict(big, verbose=0)
    assert out.shape == (1, 30, 41, 1)
    twin = _fully_conv(layers.Input((30, 41, 1)))
    twin.set_weights(free.get_weights())
    np.testing.assert_allclose(out, twin.predict(big, verbose=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out, np.asarray(free(big)), rtol=1e-5, atol=1e-6)  # eager call
    # Training continues on another patch size without rebuilding anything.
    free.fit(rng.random((4, 20, 18, 1)).astype(np.float32),
             rng.random((4, 20, 18, 1)).astype(np.float32), epochs=1, verbose=0)


def test_unknown_size_then_global_pooling_classifies_any_size():
    def build(lib):
        return lib.Sequential([lib.layers.Input((None, None, 3)), lib.layers.Conv2D(4, 3),
                               lib.layers.MaxPooling2D(), lib.layers.GlobalAveragePooling2D(),
                               lib.layers.Dense(2, activation="softmax")])
    k = build(keras)
    c = build(type("lib", (), {"Sequential": cnn.models.Sequential, "layers": layers}))
    c.set_weights([np.asarray(w) for w in k.get_weights()])
    for size in [(10, 12), (17, 9)]:
        x = rng.standard_normal((3,) + size + (3,)).astype(np.float32)
        np.testing.assert_allclose(c.predict(x, verbose=0), k.predict(x, verbose=0),
                                   rtol=1e-4, atol=1e-6)


def test_keras_files_keep_the_unknown_sizes(tmp_path):
    model = _fully_conv(layers.Input((None, None, 1)))
    x = rng.random((1, 15, 22, 1)).astype(np.float32)
    model.save(tmp_path / "c.keras")
    back = cnn.models.load_model(tmp_path / "c.keras")
    assert back.input_shape == (None, None, None, 1)
    np.testing.assert_allclose(back.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k = keras.saving.load_model(tmp_path / "c.keras")
    np.testing.assert_allclose(k.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-4, atol=1e-5)


def test_unknown_channels_are_an_error():
    with pytest.raises(ValueError, match="channel"):
        layers.Conv2D(4, 3)(layers.Input((None, None, None)))
    with pytest.raises(ValueError, match="channel"):
        layers.Conv2DTranspose(4, 3)(layers.Input((8, 8, None)))


def test_too_small_known_input_still_fails_early():
    with pytest.raises(ValueError, match="smaller than"):
        layers.Conv2D(4, 5)(layers.Input((3, None, 1)))
