"""TimeDistributed: Keras 3 parity (shapes, outputs from the same weights, training a few steps
from identical weights), wrapped layers with and without compute_output_shape, weight
sharing across steps, configs and .keras files both ways, and errors."""
import numpy as np
import pytest

import cnn
from cnn.layers import Conv2D, Dense, Dropout, Embedding, Flatten, Input, TimeDistributed

keras = pytest.importorskip("keras")
import torch  # noqa: E402  (Keras's backend here)

torch.set_num_threads(1)

N, T, D, H, C = 64, 4, 6, 5, 3


def data(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((N, T, D)).astype(np.float32), rng.integers(0, C, N)


def twin_models(**dense_kwargs):
    L = keras.layers
    k = keras.Sequential([L.Input((T, D)),
                          L.TimeDistributed(L.Dense(H, activation="tanh", **dense_kwargs)),
                          L.Flatten(), L.Dense(C, activation="softmax")])
    c = cnn.models.Sequential([Input((T, D)),
                               TimeDistributed(Dense(H, activation="tanh", **dense_kwargs)),
                               Flatten(), Dense(C, activation="softmax")])
    c.set_weights([np.asarray(w) for w in k.get_weights()])
    return k, c


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def test_same_weights_same_outputs():
    x, _ = data()
    k, c = twin_models()
    np.testing.assert_allclose(c.predict(x, verbose=0), to_numpy(k.predict(x, verbose=0)),
                               rtol=1e-5, atol=1e-6)
    kl, cl = k.layers[0], c.layers[0]
    np.testing.assert_allclose(np.asarray(cl(x[:3])), to_numpy(kl(x[:3])), rtol=1e-5, atol=1e-6)
    assert [w.name for w in cl.weights] == ["kernel", "bias"]
    assert cl.compute_output_shape((None, T, D)) == tuple(kl.compute_output_shape((None, T, D)))


@pytest.mark.parametrize("opt,kw", [
    (("SGD", dict(learning_rate=0.1, momentum=0.9)), {}),
    (("Adam", dict(learning_rate=0.01)), {}),
    # A weight regularizer of the wrapped layer counts; its activity regularizer does not
    # (Keras runs the wrapped layer's call() directly).
    (("SGD", dict(learning_rate=0.1)), dict(kernel_regularizer="l2", activity_regularizer="l1")),
], ids=["sgd", "adam", "regularized"])
def test_time_distributed_dense_trains_like_keras(opt, kw):
    x, labels = data(1)
    k, c = twin_models(**kw)
    k.compile(optimizer=getattr(keras.optimizers, opt[0])(**opt[1]),
              loss="sparse_categorical_crossentropy")
    c.compile(optimizer=getattr(cnn.optimizers, opt[0])(**opt[1]),
              loss="sparse_categorical_crossentropy")
    hk = k.fit(x, labels, batch_size=8, epochs=1, shuffle=False, verbose=0)
    hc = c.fit(x, labels, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for wk, wc in zip(k.get_weights(), c.get_weights()):
        np.testing.assert_allclose(wc, to_numpy(wk), rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(hc.history["loss"], hk.history["loss"], rtol=1e-5)


def test_sequence_output_mse_trains_like_keras():
    # A per-step regression head: TimeDistributed(Dense) is the model's output.
    x, _ = data(2)
    y = np.tanh(x[..., :2] * 2.0 - x[..., 2:4])
    L = keras.layers
    k = keras.Sequential([L.Input((T, D)), L.TimeDistributed(L.Dense(H, activation="relu")),
                          L.TimeDistributed(L.Dense(2))])
    c = cnn.models.Sequential([Input((T, D)), TimeDistributed(Dense(H, activation="relu")),
                               TimeDistributed(Dense(2))])
    c.set_weights([np.asarray(w) for w in k.get_weights()])
    k.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    c.compile(optimizer=cnn.optimizers.Adam(0.01), loss="mse")
    hk = k.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    hc = c.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    for wk, wc in zip(k.get_weights(), c.get_weights()):
        np.testing.assert_allclose(wc, to_numpy(wk), rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(hc.history["loss"], hk.history["loss"], rtol=1e-5)
    assert c.output_shape == (None, T, 2)


def test_steps_share_weights_and_gradients_sum_over_steps():
    layer = TimeDistributed(Dense(2, use_bias=True))
    x = np.random.default_rng(3).standard_normal((2, 3, 4)).astype(np.float32)
    out = np.asarray(layer(x))
    kernel, bias = layer.get_weights()
    np.testing.assert_allclose(out, x @ kernel + bias, rtol=1e-5, atol=1e-6)
    with cnn.GradientTape() as tape:
        y = cnn.ops.sum(layer(x))
    gk, gb = tape.gradient(y, layer.trainable_variables)
    np.testing.assert_allclose(np.asarray(gk), np.broadcast_to(x.sum((0, 1))[:, None], (4, 2)),
                               rtol=1e-5)
    np.testing.assert_allclose(np.asarray(gb), [6.0, 6.0])


def test_conv_per_frame_and_traced_output_shape():
    # Conv2D on each frame of a clip; a Lambda (output shape traced) and Dropout wrapped.
    clip = np.random.default_rng(4).standard_normal((2, 3, 6, 6, 2)).astype(np.float32)
    kconv = keras.layers.TimeDistributed(keras.layers.Conv2D(4, 3))
    cconv = TimeDistributed(Conv2D(4, 3))
    kout = to_numpy(kconv(clip))
    cconv.build(clip.shape)
    cconv.set_weights([to_numpy(w) for w in kconv.get_weights()])
    np.testing.assert_allclose(np.asarray(cconv(clip)), kout, rtol=1e-4, atol=1e-5)
    lam = TimeDistributed(cnn.layers.Lambda(lambda t: t * 2.0))
    inp = Input((3, 6, 6, 2))
    assert lam(inp).shape == (None, 3, 6, 6, 2)
    drop = TimeDistributed(Dropout(0.5))
    assert drop(inp).shape == (None, 3, 6, 6, 2)
    np.testing.assert_array_equal(np.asarray(drop(clip)), clip)  # inference: identity


class _Halve(cnn.layers.Layer):
    """No compute_output_shape: TimeDistributed traces its call for the output shape."""

    def call(self, inputs):
        return cnn.ops.sum(inputs, axis=-1) * 0.5


def test_wrapped_layer_without_compute_output_shape():
    layer = TimeDistributed(_Halve())
    assert layer(Input((3, 4, 5))).shape == (None, 3, 4)
    assert layer.compute_output_shape((2, 3, 4, 5)) == (2, 3, 4)
    x = np.random.default_rng(6).standard_normal((2, 3, 4, 5)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(layer(x)), x.sum(-1) * 0.5, rtol=1e-6, atol=1e-6)
    model = cnn.models.Sequential([Input((3, 4, 5)), layer, Flatten(), Dense(1)])
    assert model.predict(x, verbose=0).shape == (2, 1)


def test_training_flag_reaches_the_wrapped_layer():
    layer = TimeDistributed(Dropout(0.5, seed=1))
    x = np.ones((4, 3, 10), np.float32)
    out = np.asarray(layer(x, training=True))
    assert set(np.unique(out)) <= {0.0, 2.0} and (out == 0).any()


def test_wrapping_an_embedding_on_index_sequences():
    idx = np.random.default_rng(5).integers(0, 7, (3, 2, 4))
    k = keras.layers.TimeDistributed(keras.layers.Embedding(7, 2))
    c = TimeDistributed(Embedding(7, 2))
    kout = to_numpy(k(idx))
    c.build(idx.shape)
    c.set_weights([to_numpy(w) for w in k.get_weights()])
    np.testing.assert_array_equal(np.asarray(c(idx)), kout)


def test_config_and_keras_files_both_ways(tmp_path):
    layer = TimeDistributed(Dense(3, activation="relu"), name="td")
    again = TimeDistributed.from_config(layer.get_config())
    assert again.name == "td" and isinstance(again.layer, Dense) and again.layer.units == 3
    x, _ = data()
    k, c = twin_models()
    c.save(tmp_path / "c.keras")
    np.testing.assert_allclose(to_numpy(keras.saving.load_model(tmp_path / "c.keras")
                                        .predict(x, verbose=0)), c.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-7)
    k.save(tmp_path / "k.keras")
    np.testing.assert_allclose(cnn.models.load_model(tmp_path / "k.keras").predict(x, verbose=0),
                               to_numpy(k.predict(x, verbose=0)), rtol=1e-6, atol=1e-7)


def test_errors():
    with pytest.raises(ValueError, match="Please initialize `TimeDistributed` layer"):
        TimeDistributed("dense")
    with pytest.raises(ValueError, match="expected min_ndim=3|at least 3 dimensions"):
        TimeDistributed(Dense(2))(Input((4,)))
    with pytest.raises(ValueError, match="needs a known time axis"):
        TimeDistributed(Dense(2))(Input((None, 4)))


def test_training_resumes_from_a_keras_file_like_keras(tmp_path):
    # Weights and Adam's moments of the wrapped layer travel in Keras's layout.
    x, labels = data(7)
    k, _ = twin_models()
    k.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    k.fit(x[:32], labels[:32], batch_size=8, epochs=1, shuffle=False, verbose=0)
    k.save(tmp_path / "k.keras")
    c = cnn.models.load_model(tmp_path / "k.keras")
    hk = k.fit(x[32:], labels[32:], batch_size=8, epochs=1, shuffle=False, verbose=0)
    hc = c.fit(x[32:], labels[32:], batch_size=8, epochs=1, shuffle=False, verbose=0)
    for wk, wc in zip(k.get_weights(), c.get_weights()):
        np.testing.assert_allclose(wc, to_numpy(wk), rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(hc.history["loss"], hk.history["loss"], rtol=1e-5)
