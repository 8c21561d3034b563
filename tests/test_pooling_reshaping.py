"""Pooling and reshaping layers against Keras 3 (torch backend): outputs eagerly and through
a compiled model, output (summary) shapes, a few training steps of small models built from
them, and the errors that name the layer."""
import re

import numpy as np
import pytest

keras = pytest.importorskip("keras")
import cnn  # noqa: E402
import torch  # noqa: E402  (Keras's backend here)

torch.set_num_threads(1)

# (factory taking a layers module, input shape without the batch axis)
CASES = [
    (lambda L: L.MaxPooling2D(), (6, 7, 3)),
    (lambda L: L.MaxPooling2D((3, 2), strides=(2, 1)), (7, 5, 2)),
    (lambda L: L.MaxPooling2D(3, strides=2, padding="same"), (7, 6, 2)),
    (lambda L: L.MaxPooling2D((2, 3), strides=(3, 2), padding="same"), (5, 9, 2)),
    (lambda L: L.AveragePooling2D((2, 2)), (6, 7, 3)),
    (lambda L: L.AveragePooling2D((3, 2), strides=(1, 2)), (7, 5, 2)),
    # Symmetric "same" padding only: for odd total padding the Keras torch backend pads by
    # replicating the edge and averages it in, where TF and cnn count real elements only.
    (lambda L: L.AveragePooling2D(3, strides=1, padding="same"), (5, 6, 2)),
    (lambda L: L.AveragePooling2D(3, strides=2, padding="same"), (7, 7, 2)),
    (lambda L: L.MaxPooling1D(), (9, 4)),
    (lambda L: L.MaxPooling1D(3, strides=2, padding="same"), (8, 3)),
    (lambda L: L.AveragePooling1D(3, strides=1), (8, 3)),
    (lambda L: L.AveragePooling1D(3, strides=2, padding="same"), (7, 3)),
    (lambda L: L.GlobalMaxPooling1D(), (5, 4)),
    (lambda L: L.GlobalMaxPooling2D(keepdims=True), (4, 5, 3)),
    (lambda L: L.GlobalAveragePooling1D(keepdims=True), (5, 4)),
    (lambda L: L.GlobalAveragePooling2D(), (4, 5, 3)),
    (lambda L: L.Flatten(), (4, 5, 3)),
    (lambda L: L.Flatten(), (7,)),
    (lambda L: L.Reshape((5, 12)), (4, 5, 3)),
    (lambda L: L.Reshape((-1, 6)), (4, 5, 3)),
    (lambda L: L.Permute((2, 1)), (4, 5)),
    (lambda L: L.Permute((3, 1, 2)), (4, 5, 3)),
    (lambda L: L.RepeatVector(3), (5,)),
    (lambda L: L.ZeroPadding2D(), (3, 4, 2)),
    (lambda L: L.ZeroPadding2D(((1, 2), (0, 3))), (3, 4, 2)),
    (lambda L: L.ZeroPadding2D((2, 1)), (3, 4, 2)),
    (lambda L: L.Cropping2D(1), (5, 6, 2)),
    (lambda L: L.Cropping2D(((0, 2), (1, 3))), (5, 6, 2)),
    (lambda L: L.UpSampling2D(), (3, 4, 2)),
    (lambda L: L.UpSampling2D((3, 1)), (3, 4, 2)),
]
IDS = [f"{i}-{type(f(cnn.layers)).__name__}-{s}" for i, (f, s) in enumerate(CASES)]


def rand(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("make,shape", CASES, ids=IDS)
def test_layer_matches_keras(make, shape):
    x = rand((3,) + shape)
    want = np.asarray(make(keras.layers)(x))
    np.testing.assert_allclose(np.asarray(make(cnn.layers)(x)), want, rtol=1e-5, atol=1e-6)
    # Symbolic call: the shape model.summary() shows, then the compiled graph's output.
    kt = make(keras.layers)(keras.Input(shape))
    layer = make(cnn.layers)
    ct = layer(cnn.layers.Input(shape))
    assert tuple(ct.shape) == tuple(kt.shape)
    assert layer.compute_output_shape((None,) + shape) == tuple(kt.shape)
    model = cnn.models.Sequential([cnn.layers.Input(shape), make(cnn.layers)])
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)


def test_keras2_module_paths():
    from cnn.layers import pooling, reshaping
    assert pooling.MaxPooling2D is cnn.layers.MaxPooling2D is cnn.layers.MaxPool2D
    assert reshaping.Flatten is cnn.layers.Flatten


def _twins(build):
    k = keras.Sequential(build(keras.layers))
    c = cnn.models.Sequential(build(cnn.layers))
    c.set_weights([np.asarray(w) for w in k.get_weights()])
    return k, c


MODELS = [
    # Dense before the pooling, so its kernel's gradient flows back through every layer.
    lambda L: [L.Input((6, 6, 2)), L.Dense(4, activation="tanh"), L.ZeroPadding2D(((1, 0), (0, 1))),
               L.MaxPooling2D(2, padding="same"), L.UpSampling2D(), L.Cropping2D(1),
               L.AveragePooling2D(2, strides=1), L.Flatten(), L.Dense(3)],
    lambda L: [L.Input((9, 4)), L.Dense(6, activation="tanh"), L.MaxPooling1D(2, padding="same"),
               L.AveragePooling1D(3, strides=1), L.Permute((2, 1)), L.Reshape((-1,)),
               L.RepeatVector(2), L.GlobalAveragePooling1D(), L.Dense(3)],
    lambda L: [L.Input((5, 5, 3)), L.Dense(4, activation="relu"), L.GlobalMaxPooling2D(),
               L.RepeatVector(3), L.GlobalMaxPooling1D(), L.Dense(3)],
]


@pytest.mark.parametrize("build", MODELS, ids=["image", "sequence", "global"])
def test_small_models_train_like_keras(build):
    k, c = _twins(build)
    shape = (32,) + tuple(k.input_shape[1:])
    x, y = rand(shape, 1), rand((32, 3), 2)
    for m, opt in ((k, keras.optimizers.SGD(0.1)), (c, cnn.optimizers.SGD(0.1))):
        m.compile(optimizer=opt, loss="mse")
    hk = k.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    hc = c.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    for wk, wc in zip(k.get_weights(), c.get_weights()):
        np.testing.assert_allclose(wc, np.asarray(wk), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(hc.history["loss"], hk.history["loss"], rtol=1e-5)


# ---- errors ---------------------------------------------------------------------------

def test_pool_larger_than_input_names_layer():
    layer = cnn.layers.MaxPooling2D(4, name="pool")
    with pytest.raises(ValueError, match=re.escape("Layer 'pool': pool size 4 is larger than the "
                                                   "input's spatial dim 3 (axis 1) with padding='valid'")):
        layer(cnn.layers.Input((3, 8, 1)))
    with pytest.raises(ValueError, match="Layer 'avg1': pool size 5 is larger"):
        cnn.layers.AveragePooling1D(5, name="avg1")(np.zeros((2, 4, 1), np.float32))


def test_reshape_bad_target_names_layer():
    with pytest.raises(ValueError, match=re.escape("Layer 'rs': the total size of the tensor must be "
                                                   "unchanged. Received: input_shape=(None, 4, 5), "
                                                   "target_shape=(3, 7)")):
        cnn.layers.Reshape((3, 7), name="rs")(cnn.layers.Input((4, 5)))
    with pytest.raises(ValueError, match="Layer 'rs2': the total size"):
        cnn.layers.Reshape((-1, 3), name="rs2")(np.zeros((2, 4, 5), np.float32))
    with pytest.raises(ValueError, match=re.escape("Layer 'rs3': `target_shape` must be a tuple of "
                                                   "positive integers with at most one -1")):
        cnn.layers.Reshape((-1, -1), name="rs3")


@pytest.mark.parametrize("dims", [(0, 1), (1, 1), (1, 3), (2,)], ids=str)
def test_permute_bad_dims_names_layer(dims):
    with pytest.raises(ValueError, match="Layer 'perm': invalid permutation argument `dims`"):
        cnn.layers.Permute(dims, name="perm")


def test_permute_wrong_rank_names_layer():
    with pytest.raises(ValueError, match="layer 'p2' .*expected ndim=3, found ndim=2"):
        cnn.layers.Permute((1, 2), name="p2")(cnn.layers.Input((4,)))


def test_other_errors_name_layer():
    with pytest.raises(ValueError, match="Layer 'mp' supports only data_format='channels_last'"):
        cnn.layers.MaxPooling2D(data_format="channels_first", name="mp")
    with pytest.raises(ValueError, match="Layer 'up' supports only interpolation='nearest'"):
        cnn.layers.UpSampling2D(interpolation="bilinear", name="up")
    with pytest.raises(ValueError, match=re.escape("Layer 'crop': values in `cropping` should be smaller "
                                                   "than the corresponding spatial dimension of the "
                                                   "input. Received: input_shape=(None, 4, 6, 1)")):
        cnn.layers.Cropping2D(2, name="crop")(cnn.layers.Input((4, 6, 1)))
    with pytest.raises(ValueError, match="Layer 'zp': `padding` must be an int"):
        cnn.layers.ZeroPadding2D((1, 2, 3), name="zp")
    with pytest.raises(ValueError, match="Layer 'mp2': the `padding` argument must be 'valid' or 'same'"):
        cnn.layers.MaxPooling2D(padding="full", name="mp2")
    with pytest.raises(ValueError, match="Layer 'rv': expected an integer value >= 1 for `n`"):
        cnn.layers.RepeatVector(0, name="rv")
