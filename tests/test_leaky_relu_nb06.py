"""The LeakyReLU layer against Keras 3: values and input gradients, the default slope, config,
errors, masks, and .keras files in both directions."""
import warnings

import numpy as np
import pytest

import cnn
from cnn import layers

keras = pytest.importorskip("keras")

rng = np.random.default_rng(0)


@pytest.mark.parametrize("kwargs", [{}, {"negative_slope": 0.2}, {"negative_slope": 0.0},
                                    {"negative_slope": 1.5}])
def test_values_and_gradient_match_keras(kwargs):
    import torch
    x = rng.standard_normal((4, 3, 5)).astype(np.float32)
    layer = layers.LeakyReLU(**kwargs)
    v = cnn.Variable(x)
    with cnn.GradientTape() as tape:
        y = layer(v)
        loss = cnn.ops.sum(cnn.ops.square(y))
    grad = np.asarray(tape.gradient(loss, v))
    xt = torch.tensor(x, requires_grad=True)
    yt = keras.layers.LeakyReLU(**kwargs)(xt)
    (yt ** 2).sum().backward()
    np.testing.assert_allclose(np.asarray(y), yt.detach().numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(grad, xt.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_default_slope_and_config_are_keras():
    assert layers.LeakyReLU().negative_slope == keras.layers.LeakyReLU().negative_slope == 0.3
    c = layers.LeakyReLU(negative_slope=0.1, name="lr").get_config()
    k = keras.layers.LeakyReLU(negative_slope=0.1, name="lr").get_config()
    assert c["negative_slope"] == k["negative_slope"] == 0.1 and c["name"] == "lr"
    assert layers.LeakyReLU.from_config(c).negative_slope == 0.1
    out = np.asarray(layers.LeakyReLU()(np.array([-10.0, -5.0, 0.0, 5.0, 10.0], np.float32)))
    np.testing.assert_allclose(out, [-3.0, -1.5, 0.0, 5.0, 10.0], rtol=1e-6)


def test_alpha_is_deprecated_and_bad_slopes_raise():
    with pytest.warns(UserWarning, match="negative_slope"):
        assert layers.LeakyReLU(alpha=0.5).negative_slope == 0.5
    for bad in (None, -0.1):
        with pytest.raises(ValueError, match="negative_slope"):
            layers.LeakyReLU(negative_slope=bad)


class _CnnLib:  # the cnn names that build() uses, spelled like Keras's
    Sequential = cnn.models.Sequential
    layers = layers


def test_trains_in_a_compiled_model_like_keras():
    x = rng.standard_normal((32, 6)).astype(np.float32)
    y = rng.standard_normal((32, 1)).astype(np.float32)

    def build(lib):
        return lib.Sequential([lib.layers.Input((6,)), lib.layers.Dense(8),
                               lib.layers.LeakyReLU(negative_slope=0.2), lib.layers.Dense(1)])
    k = build(keras)
    c = build(_CnnLib)
    c.set_weights([np.asarray(w) for w in k.get_weights()])
    np.testing.assert_allclose(c.predict(x, verbose=0), k.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    for m in (k, c):
        m.compile(optimizer="sgd", loss="mse")
        m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(c.get_weights(), k.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-4, atol=1e-5)


def test_mask_passes_through():
    emb = layers.Embedding(5, 3, mask_zero=True)
    ids = np.array([[1, 2, 0, 0]], np.float32)
    out = layers.LeakyReLU()(emb(ids))
    mask = layers.LeakyReLU().compute_mask(emb(ids), emb.compute_mask(ids))
    assert out.shape == (1, 4, 3)
    np.testing.assert_array_equal(np.asarray(mask), [[True, True, False, False]])


def test_keras_files_in_both_directions(tmp_path):
    x = rng.standard_normal((5, 4)).astype(np.float32)
    c = cnn.models.Sequential([layers.Input((4,)), layers.Dense(3),
                               layers.LeakyReLU(negative_slope=0.25, name="leaky")])
    c.save(tmp_path / "c.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k = keras.saving.load_model(tmp_path / "c.keras")
    assert k.get_layer("leaky").negative_slope == 0.25
    np.testing.assert_allclose(k.predict(x, verbose=0), c.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    k.save(tmp_path / "k.keras")
    back = cnn.models.load_model(tmp_path / "k.keras")
    assert isinstance(back.get_layer("leaky"), layers.LeakyReLU)
    np.testing.assert_allclose(back.predict(x, verbose=0), c.predict(x, verbose=0), rtol=1e-6)
