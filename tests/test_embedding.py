"""Embedding: Keras 3 parity (same table -> same outputs; Embedding-Flatten-Dense trained 20
steps from identical weights), integer index arrays end to end, configs and .keras files both
ways, and errors."""
import re

import numpy as np
import pytest

import cnn
from cnn.layers import Dense, Embedding, Flatten, Input

keras = pytest.importorskip("keras")
import torch  # noqa: E402  (Keras's backend here)

torch.set_num_threads(1)

V, T, E, C, N = 12, 5, 4, 3, 160  # 20 steps of batch 8


def data(seed=0, dtype=np.int64):
    rng = np.random.default_rng(seed)
    return rng.integers(0, V, (N, T)).astype(dtype), rng.integers(0, C, N)


def twins(lib, **emb_kwargs):
    L = lib.layers
    return lib.Sequential([L.Input((T,)), L.Embedding(V, E, **emb_kwargs), L.Flatten(),
                           L.Dense(C, activation="softmax")]) if lib is keras else \
        cnn.models.Sequential([Input((T,)), Embedding(V, E, **emb_kwargs), Flatten(),
                               Dense(C, activation="softmax")])


def twin_models(**emb_kwargs):
    k, c = twins(keras, **emb_kwargs), twins(cnn, **emb_kwargs)
    c.set_weights([np.asarray(w) for w in k.get_weights()])
    return k, c


@pytest.mark.parametrize("shape", [(6,), (4, 3), (2, 3, 2)], ids=str)
def test_same_table_same_outputs(shape):
    rng = np.random.default_rng(1)
    x = rng.integers(0, V, shape)
    k, c = keras.layers.Embedding(V, E), Embedding(V, E)
    k.build(shape)
    c.build(shape)
    c.set_weights(k.get_weights())
    np.testing.assert_array_equal(np.asarray(c(x)), keras.ops.convert_to_numpy(k(x)))
    assert c.compute_output_shape(shape) == tuple(k.compute_output_shape(shape)) == shape + (E,)


def test_weights_and_default_initializer():
    layer = Embedding(V, E, name="emb")
    layer.build((None, T))
    assert [w.name for w in layer.weights] == ["embeddings"]
    assert layer.embeddings.shape == (V, E)
    big = Embedding(300, 40)
    big.build((None, 2))
    w = big.get_weights()[0]
    assert -0.05 <= w.min() < -0.045 and 0.045 < w.max() < 0.05  # RandomUniform(-0.05, 0.05)
    kcfg = keras.layers.Embedding(V, E).get_config()["embeddings_initializer"]
    assert cnn.initializers.serialize(layer.embeddings_initializer) in (
        "random_uniform", kcfg)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.float32])
def test_embedding_flatten_dense_trains_like_keras(dtype):
    x, labels = data(dtype=dtype)
    k, c = twin_models()
    k.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    c.compile(optimizer=cnn.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    hk = k.fit(x, labels, batch_size=8, epochs=1, shuffle=False, verbose=0)
    hc = c.fit(x, labels, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for wk, wc in zip(k.get_weights(), c.get_weights()):
        np.testing.assert_allclose(wc, np.asarray(wk), rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(hc.history["loss"], hk.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(c.predict(x, verbose=0), np.asarray(k.predict(x, verbose=0)),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c.evaluate(x, labels, verbose=0), k.evaluate(x, labels, verbose=0),
                               rtol=1e-5)


def test_regularized_embedding_trains_like_keras():
    x, labels = data(2)
    k, c = twin_models(embeddings_regularizer="l2", activity_regularizer="l1")
    k.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    c.compile(optimizer=cnn.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    hk = k.fit(x, labels, batch_size=32, epochs=2, shuffle=False, verbose=0)
    hc = c.fit(x, labels, batch_size=32, epochs=2, shuffle=False, verbose=0)
    for wk, wc in zip(k.get_weights(), c.get_weights()):
        np.testing.assert_allclose(wc, np.asarray(wk), rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(hc.history["loss"], hk.history["loss"], rtol=1e-5)


def test_gradient_tape_through_the_layer():
    layer = Embedding(4, 2)
    layer.build((None, 3))
    x = np.array([[0, 3, 3], [1, 3, 0]])
    with cnn.GradientTape() as tape:
        y = cnn.ops.sum(layer(x))
    (g,) = tape.gradient(y, layer.trainable_variables)
    np.testing.assert_array_equal(np.asarray(g), [[2, 2], [1, 1], [0, 0], [3, 3]])


def test_config_round_trip_and_keras_files_both_ways(tmp_path):
    layer = Embedding(V, E, embeddings_regularizer="l2", name="emb")
    again = Embedding.from_config(layer.get_config())
    assert (again.input_dim, again.output_dim, again.name) == (V, E, "emb")
    x, _ = data()
    k, c = twin_models()
    c.save(tmp_path / "c.keras")
    np.testing.assert_allclose(np.asarray(keras.saving.load_model(tmp_path / "c.keras")
                                          .predict(x, verbose=0)), c.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-7)
    k.save(tmp_path / "k.keras")
    np.testing.assert_allclose(cnn.models.load_model(tmp_path / "k.keras").predict(x, verbose=0),
                               np.asarray(k.predict(x, verbose=0)), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("bad", [V, -1, 2.5])
def test_index_out_of_range_is_a_value_error(bad):
    c = twins(cnn)
    x = np.zeros((4, T), np.float32)
    x[2, 1] = bad
    msg = f"embedding: index {bad:g} is not an integer row index in [0, {V})"
    with pytest.raises(ValueError, match=re.escape(msg)):
        c.predict(x, verbose=0)
    c.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=re.escape(msg)):
        c.fit(x, np.zeros(4), verbose=0)
    with pytest.raises(ValueError, match=re.escape(msg)):
        Embedding(V, E)(x)


@pytest.mark.parametrize("kwargs,match", [
    (dict(input_dim=0, output_dim=2), "`input_dim` must be a positive integer"),
    (dict(input_dim=3.0, output_dim=2), "`input_dim` must be a positive integer"),
    (dict(input_dim=True, output_dim=2), "`input_dim` must be a positive integer"),
    (dict(input_dim=3, output_dim=-1), "`output_dim` must be a positive integer"),
    (dict(input_dim=2 ** 24 + 1, output_dim=2), "at most 16777216"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Embedding(**kwargs)


def test_mask_zero_marks_index_zero():
    layer = Embedding(V, E, mask_zero=True)
    ids = np.array([[0, 3, 0, 1]], np.float32)
    np.testing.assert_array_equal(np.asarray(layer.compute_mask(ids)), [[0, 1, 0, 1]])
    assert Embedding(V, E).compute_mask(ids) is None
    assert layer.get_config()["mask_zero"] is True


def test_training_resumes_from_a_keras_file_like_keras(tmp_path):
    # The table and Adam's moments for it travel in Keras's layout.
    x, labels = data(3)
    k, _ = twin_models()
    k.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    k.fit(x[:80], labels[:80], batch_size=8, epochs=1, shuffle=False, verbose=0)
    k.save(tmp_path / "k.keras")
    c = cnn.models.load_model(tmp_path / "k.keras")
    hk = k.fit(x[80:], labels[80:], batch_size=8, epochs=1, shuffle=False, verbose=0)
    hc = c.fit(x[80:], labels[80:], batch_size=8, epochs=1, shuffle=False, verbose=0)
    for wk, wc in zip(k.get_weights(), c.get_weights()):
        np.testing.assert_allclose(wc, np.asarray(wk), rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(hc.history["loss"], hk.history["loss"], rtol=1e-5)


@pytest.mark.parametrize("dtype", ["int32", "int64", np.int32])
def test_integer_inputs_declared_as_in_keras(dtype, tmp_path):
    # Keras text models declare Input(dtype="int32"); cnn carries the indices as float32.
    x, labels = data(4)
    inp = Input((T,), dtype=dtype)
    c = cnn.models.Model(inp, Dense(C, activation="softmax")(Flatten()(Embedding(V, E)(inp))))
    kin = keras.Input((T,), dtype="int32")
    kl = keras.layers
    k = keras.Model(kin, kl.Dense(C, activation="softmax")(kl.Flatten()(kl.Embedding(V, E)(kin))))
    c.set_weights([np.asarray(w) for w in k.get_weights()])
    np.testing.assert_allclose(c.predict(x, verbose=0), np.asarray(k.predict(x, verbose=0)),
                               rtol=1e-5, atol=1e-6)
    k.save(tmp_path / "k.keras")  # its InputLayer config says dtype "int32"
    loaded = cnn.models.load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), np.asarray(k.predict(x, verbose=0)),
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="float32 only"):
        Input((T,), dtype="float64")
