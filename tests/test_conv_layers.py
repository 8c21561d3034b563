"""The convolution layers (Conv1D/2D, their Transposes, DepthwiseConv1D/2D, SeparableConv1D/2D)
against Keras 3 (torch backend): weight names and shapes, output shapes, predict from
identical weights, small CNNs trained 20 steps, errors."""
import numpy as np
import pytest

import cnn
from cnn import layers

keras = pytest.importorskip("keras")
import torch  # noqa: E402  (Keras's backend here)

torch.set_num_threads(1)  # tiny models: torch's threads only contend with OpenBLAS's

rng = np.random.default_rng(0)


def twins(make, input_shape):
    """The same layer spec built in Keras and in cnn, with Keras's weights copied over."""
    k = keras.Sequential([keras.Input(input_shape), make(keras.layers)])
    c = cnn.models.Sequential([layers.Input(input_shape), make(layers)])
    c.set_weights([np.asarray(w) for w in k.get_weights()])
    return k, c


def randomize_bias(k, c):
    # Keras initializes biases to zero; random ones make the comparison see them.
    ws = [np.asarray(w) for w in k.get_weights()]
    ws = [w if w.ndim > 1 else rng.standard_normal(w.shape).astype(np.float32) for w in ws]
    k.set_weights(ws)
    c.set_weights(ws)


LAYERS = [
    ("conv2d_valid", lambda L: L.Conv2D(4, 3), (9, 8, 3)),
    ("conv2d_same_s2", lambda L: L.Conv2D(5, (3, 2), strides=2, padding="same", activation="relu"), (9, 8, 3)),
    ("conv2d_dilated", lambda L: L.Conv2D(3, 3, dilation_rate=2, padding="same"), (9, 9, 2)),
    ("conv2d_groups", lambda L: L.Conv2D(6, 3, groups=2, padding="same", use_bias=False), (7, 7, 4)),
    ("conv2d_1x1", lambda L: L.Conv2D(6, 1), (5, 5, 4)),
    ("conv1d_valid", lambda L: L.Conv1D(4, 3), (11, 3)),
    ("conv1d_same_s2", lambda L: L.Conv1D(4, 4, strides=2, padding="same"), (11, 3)),
    ("conv1d_causal", lambda L: L.Conv1D(4, 3, padding="causal", dilation_rate=2), (11, 3)),
    ("depthwise", lambda L: L.DepthwiseConv2D(3, padding="same"), (8, 7, 3)),
    ("depthwise_dm2_s2", lambda L: L.DepthwiseConv2D((3, 2), strides=2, depth_multiplier=2), (9, 8, 3)),
    ("separable", lambda L: L.SeparableConv2D(5, 3, padding="same", activation="tanh"), (8, 8, 3)),
    ("conv2d_t_valid", lambda L: L.Conv2DTranspose(4, 3), (5, 4, 3)),
    ("conv2d_t_same_s2", lambda L: L.Conv2DTranspose(3, 3, strides=2, padding="same", activation="relu"), (5, 4, 3)),
    ("conv2d_t_valid_s3", lambda L: L.Conv2DTranspose(3, (2, 3), strides=3), (4, 3, 2)),
    ("conv2d_t_out_pad", lambda L: L.Conv2DTranspose(2, 3, strides=2, output_padding=1), (4, 4, 2)),
    ("conv2d_t_same_out_pad", lambda L: L.Conv2DTranspose(2, 4, strides=(2, 3), padding="same", output_padding=(1, 0)), (4, 4, 2)),
    ("conv2d_t_dilated", lambda L: L.Conv2DTranspose(2, 3, dilation_rate=2, padding="same"), (5, 5, 2)),
    ("conv1d_t_same_s2", lambda L: L.Conv1DTranspose(3, 3, strides=2, padding="same"), (7, 2)),
    ("conv1d_t_valid", lambda L: L.Conv1DTranspose(3, 4, strides=2, output_padding=1), (7, 2)),
    ("depthwise1d", lambda L: L.DepthwiseConv1D(3, strides=2, padding="same", depth_multiplier=2), (9, 3)),
    ("separable1d", lambda L: L.SeparableConv1D(4, 3, dilation_rate=2, padding="same"), (9, 3)),
    ("separable_dm2", lambda L: L.SeparableConv2D(4, 3, strides=2, depth_multiplier=2), (9, 9, 2)),
]


@pytest.mark.parametrize("name,make,shape", LAYERS, ids=[c[0] for c in LAYERS])
def test_layer_matches_keras(name, make, shape):
    k, c = twins(make, shape)
    randomize_bias(k, c)
    kl, cl = k.layers[-1], c.layers[-1]
    assert [w.name for w in cl.weights] == [w.name.split("/")[-1] for w in kl.weights]
    assert [tuple(w.shape) for w in cl.weights] == [tuple(w.shape) for w in kl.weights]
    assert cl.compute_output_shape((None,) + shape) == tuple(kl.compute_output_shape((None,) + shape))
    x = rng.standard_normal((4,) + shape).astype(np.float32)
    np.testing.assert_allclose(c.predict(x, verbose=0), np.asarray(k.predict(x, verbose=0)),
                               rtol=1e-5, atol=1e-5)
    # Eager call: the same kernels without a graph.
    np.testing.assert_allclose(np.asarray(cl(x)), np.asarray(k.predict(x, verbose=0)),
                               rtol=1e-5, atol=1e-5)


def small_cnn(L, flat):
    return [L.Conv2D(4, 3, padding="same", activation="relu"),
            L.Conv2D(6, 3, strides=2, activation="relu"), flat, L.Dense(3, activation="softmax")]


def mixed_cnn(L, flat):
    return [L.SeparableConv2D(4, 3, padding="same", activation="relu"),
            L.DepthwiseConv2D(3, strides=2, depth_multiplier=2, activation="tanh"),
            L.Conv2DTranspose(3, 3, strides=2, padding="same", activation="relu"),
            L.Conv2D(2, 1), flat, L.Dense(3, activation="softmax")]


def cnn_1d(L, flat):
    return [L.Conv1D(4, 3, padding="causal", activation="relu"),
            L.Conv1DTranspose(3, 3, strides=2, padding="same"), flat, L.Dense(3, activation="softmax")]


# Adam divides by sqrt(v), so a weight whose gradient is near 0 moves by ~lr whatever its
# sign: float32 summation-order differences (ours vs oneDNN's) then show as ~2e-6 after 20
# steps for about one Keras initialisation in eight. Keras is seeded for reproducibility and
# the Adam runs compare at atol 1e-5; SGD stays at 1e-6.
@pytest.mark.parametrize("arch,opt,shape,atol", [
    (small_cnn, "SGD", (10, 10, 2), 1e-6), (small_cnn, "Adam", (10, 10, 2), 1e-5),
    (mixed_cnn, "Adam", (10, 10, 2), 1e-5), (cnn_1d, "Adam", (12, 2), 1e-5)])
def test_small_cnn_trains_like_keras(arch, opt, shape, atol):
    x = rng.standard_normal((160, *shape)).astype(np.float32)
    y = rng.integers(0, 3, 160)
    keras.utils.set_random_seed(7)
    k = keras.Sequential([keras.Input(shape), *arch(keras.layers, keras.layers.Flatten())])
    c = cnn.models.Sequential([layers.Input(shape), *arch(layers, layers.Flatten())])
    c.set_weights([np.asarray(w) for w in k.get_weights()])
    kw = dict(learning_rate=0.05) if opt == "SGD" else dict(learning_rate=0.01)
    k.compile(optimizer=getattr(keras.optimizers, opt)(**kw), loss="sparse_categorical_crossentropy")
    c.compile(optimizer=getattr(cnn.optimizers, opt)(**kw), loss="sparse_categorical_crossentropy")
    hk = k.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)  # 20 steps
    hc = c.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for wk, wc in zip(k.get_weights(), c.get_weights()):
        np.testing.assert_allclose(wc, np.asarray(wk), rtol=1e-5, atol=atol)
    np.testing.assert_allclose(hc.history["loss"], hk.history["loss"], rtol=1e-5)


def test_conv_gradient_tape_matches_torch():
    layer = layers.Conv2D(3, 3, strides=2, padding="same")
    x = rng.standard_normal((2, 7, 6, 2)).astype(np.float32)
    with cnn.GradientTape() as tape:
        loss = cnn.ops.sum(layer(x))
    gk, gb = tape.gradient(loss, [layer.kernel, layer.bias])
    xt = torch.nn.functional.pad(torch.tensor(x).permute(0, 3, 1, 2), (0, 1, 1, 1))  # W: 0+1, H: 1+1
    kt = torch.tensor(layer.kernel.numpy(), requires_grad=True)
    torch.nn.functional.conv2d(xt, kt.permute(3, 2, 0, 1), stride=2).sum().backward()
    np.testing.assert_allclose(np.asarray(gk), kt.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(gb), np.full(3, 2 * 4 * 3, np.float32))


def test_wrong_channel_count_names_layer_and_shapes():
    model = cnn.models.Sequential([layers.Input((8, 8, 3)), layers.Conv2D(4, 3, name="c1")])
    with pytest.raises(ValueError, match=r"layer 'c1'.*axis -1 of input shape to have value 3.*"
                                         r"\(2, 8, 8, 5\)"):
        model.layers[-1](np.zeros((2, 8, 8, 5), np.float32))


def test_input_smaller_than_kernel_names_layer():
    with pytest.raises(ValueError, match=r"Layer 'c2' cannot process input shape \(None, 2, 2, 3\)"
                                         r".*smaller than the dilated kernel"):
        layers.Conv2D(4, 3, name="c2")(layers.Input((2, 2, 3)))


@pytest.mark.parametrize("kwargs,msg", [
    (dict(filters=0, kernel_size=3), "filters"),
    (dict(filters=4, kernel_size=3, groups=3), "divisible by the number of groups"),
    (dict(filters=4, kernel_size=3, padding="full"), "padding"),
    (dict(filters=4, kernel_size=3, padding="causal"), "padding"),
    (dict(filters=4, kernel_size=3, padding="causal", _cls="SeparableConv1D"), "padding"),
    (dict(filters=4, kernel_size=3, padding="causal", _cls="Conv1DTranspose"), "padding"),
    (dict(filters=4, kernel_size=3, strides=2, output_padding=2, _cls="Conv2DTranspose"),
     "output_padding"),
    (dict(filters=4, kernel_size=3, strides=2, dilation_rate=2), "dilation_rate > 1"),
    (dict(filters=4, kernel_size=(3, 3, 3)), "kernel_size"),
    (dict(filters=4, kernel_size=3, data_format="channels_first"), "channels_last"),
])
def test_argument_errors(kwargs, msg):
    kwargs = dict(kwargs)
    cls = getattr(layers, kwargs.pop("_cls", "Conv2D"))
    with pytest.raises(ValueError, match=msg):
        cls(**kwargs)


def test_config_round_trip():
    layer = layers.Conv2D(4, (3, 2), strides=2, padding="same", activation="relu", name="cc")
    clone = layers.Conv2D.from_config(layer.get_config())
    assert (clone.filters, clone.kernel_size, clone.strides, clone.padding) == (4, (3, 2), (2, 2), "same")
