"""Functional API breadth, compared with Keras 3 (torch backend) on tiny models with the
same weights: shared layers, one input feeding two branches, several inputs and outputs
with loss / metrics / loss_weights as lists and as dicts keyed by output name, nested
models used as layers, get_layer, layer.input / layer.output and feature-extractor
sub-models, a build-time training= flag, and trainable flags in the GAN idiom."""
import warnings

import numpy as np
import pytest

import cnn
from cnn import layers as L
from cnn.models import Model

keras = pytest.importorskip("keras")
import torch  # noqa: E402  (Keras's backend here)

torch.set_num_threads(1)

RNG = np.random.default_rng(1)


def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def copy_weights(ours, ref):
    """Copies a Keras model's weights into ours, layer by layer (same layer names)."""
    for layer in ref.layers:
        if layer.get_weights():
            ours.get_layer(layer.name).set_weights(layer.get_weights())


def assert_history_close(h1, h2, rtol=1e-4):
    assert sorted(h1.history) == sorted(h2.history)
    for key in h2.history:
        np.testing.assert_allclose(h1.history[key], h2.history[key], rtol=rtol, atol=1e-6,
                                   err_msg=key)


# ---- shared layers and branches -------------------------------------------------------

def siamese(lib):
    a, b = lib.layers.Input((4,), name="left"), lib.layers.Input((4,), name="right")
    encoder = lib.layers.Dense(3, activation="tanh", name="encoder")
    distance = lib.layers.subtract([encoder(a), encoder(b)], name="diff")
    out = lib.layers.Dense(1, activation="sigmoid", name="score")(distance)
    model = lib.models.Model([a, b], out)
    model.compile(optimizer=lib.optimizers.SGD(0.1), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model


def test_shared_layer_trains_like_keras():
    ours, ref = siamese(cnn), siamese(keras)
    copy_weights(ours, ref)
    assert len(ours.weights) == len(ref.weights) == 4  # the shared encoder counts once
    assert [l.name for l in ours.layers] == [l.name for l in ref.layers]
    xa, xb = rand(32, 4), rand(32, 4)
    y = (RNG.random((32, 1)) > 0.5).astype(np.float32)
    kw = dict(batch_size=8, epochs=2, shuffle=False, verbose=0)
    assert_history_close(ours.fit([xa, xb], y, **kw), ref.fit([xa, xb], y, **kw))
    for w1, w2 in zip(ours.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(w1, w2, rtol=1e-4, atol=1e-6)
    encoder = ours.get_layer("encoder")
    assert len(encoder._inbound_nodes) == 2
    assert encoder.output is encoder._inbound_nodes[0].output_tensors[0]


def test_one_input_two_branches_like_keras():
    def build(lib):
        x = lib.layers.Input((5,), name="x")
        left = lib.layers.Dense(4, activation="relu", name="left")(x)
        right = lib.layers.Dense(2, name="right")(x)
        merged = lib.layers.concatenate([left, right], name="merged")
        return lib.models.Model(x, lib.layers.Dense(1, name="out")(merged))

    ours, ref = build(cnn), build(keras)
    copy_weights(ours, ref)
    assert [l.name for l in ours.layers] == [l.name for l in ref.layers]
    x = rand(6, 5)
    np.testing.assert_allclose(ours.predict(x, verbose=0), ref.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


# ---- several inputs and outputs ---------------------------------------------------------

def two_in_two_out(lib, how):
    a, b = lib.layers.Input((3,), name="a"), lib.layers.Input((2,), name="b")
    h = lib.layers.Dense(6, activation="relu", name="trunk")(lib.layers.concatenate([a, b]))
    reg = lib.layers.Dense(1, name="reg")(h)
    cls = lib.layers.Dense(3, activation="softmax", name="cls")(h)
    model = lib.models.Model([a, b], [reg, cls])
    if how == "list":
        model.compile(optimizer=lib.optimizers.SGD(0.05),
                      loss=["mse", "sparse_categorical_crossentropy"], loss_weights=[0.5, 2.0],
                      metrics=[["mae"], ["accuracy"]])
    else:
        model.compile(optimizer=lib.optimizers.SGD(0.05),
                      loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"},
                      loss_weights={"reg": 0.5, "cls": 2.0},
                      metrics={"cls": ["accuracy"], "reg": ["mae"]})
    return model


@pytest.mark.parametrize("how", ["list", "dict"])
def test_multi_input_output_compile_forms_match_keras(how):
    ours, ref = two_in_two_out(cnn, how), two_in_two_out(keras, how)
    copy_weights(ours, ref)
    xa, xb, yr, yc = rand(40, 3), rand(40, 2), rand(40, 1), RNG.integers(0, 3, 40)
    kw = dict(batch_size=8, epochs=2, shuffle=False, verbose=0)
    if how == "dict":  # data keyed by input and output names, too
        h1 = ours.fit({"a": xa, "b": xb}, {"reg": yr, "cls": yc}, **kw)
        h2 = ref.fit({"a": xa, "b": xb}, {"reg": yr, "cls": yc}, **kw)
    else:
        h1, h2 = ours.fit([xa, xb], [yr, yc], **kw), ref.fit([xa, xb], [yr, yc], **kw)
    assert {"loss", "reg_loss", "cls_loss", "reg_mae", "cls_accuracy"} == set(h1.history)
    assert_history_close(h1, h2)
    e1 = ours.evaluate([xa, xb], [yr, yc], verbose=0, return_dict=True)
    e2 = ref.evaluate([xa, xb], [yr, yc], verbose=0, return_dict=True)
    assert set(e1) == set(e2)
    for key in e2:
        np.testing.assert_allclose(e1[key], e2[key], rtol=1e-4, err_msg=key)
    p1, p2 = ours.predict([xa, xb], verbose=0), ref.predict([xa, xb], verbose=0)
    assert isinstance(p1, list) and len(p1) == 2
    for o1, o2 in zip(p1, p2):
        np.testing.assert_allclose(o1, o2, rtol=1e-4, atol=1e-6)


def test_bad_output_names_in_dicts_are_reported():
    model = two_in_two_out(cnn, "list")
    model.compile(optimizer="sgd", loss={"reg": "mse", "typo": "mse"})
    with pytest.raises(ValueError, match="typo"):
        model.fit([rand(4, 3), rand(4, 2)], [rand(4, 1), rand(4, 3)], verbose=0)


# ---- nested models ----------------------------------------------------------------------

def nested(lib):
    inner_in = lib.layers.Input((4,), name="inner_in")
    inner = lib.models.Model(inner_in, lib.layers.Dense(3, activation="tanh",
                                                        name="inner_dense")(inner_in),
                             name="inner")
    block = lib.models.Sequential([lib.layers.Input((3,)), lib.layers.Dense(2, name="seq_a")],
                                  name="block")
    x = lib.layers.Input((4,), name="x")
    y = lib.layers.Dense(1, name="head")(block(inner(x)))
    model = lib.models.Model(x, y, name="outer")
    model.compile(optimizer=lib.optimizers.Adam(0.01), loss="mse")
    return model


def test_nested_models_as_layers_train_like_keras():
    ours, ref = nested(cnn), nested(keras)
    for name in ("inner", "block"):
        ours.get_layer(name).set_weights(ref.get_layer(name).get_weights())
    ours.get_layer("head").set_weights(ref.get_layer("head").get_weights())
    assert [l.name for l in ours.layers] == [l.name for l in ref.layers]
    assert len(ours.trainable_weights) == len(ref.trainable_weights) == 6
    x, y = rand(32, 4), rand(32, 1)
    kw = dict(batch_size=8, epochs=2, shuffle=False, verbose=0)
    assert_history_close(ours.fit(x, y, **kw), ref.fit(x, y, **kw))
    inner = ours.get_layer("inner")
    np.testing.assert_allclose(inner.predict(x, verbose=0),
                               ref.get_layer("inner").predict(x, verbose=0), rtol=1e-4,
                               atol=1e-6)


# ---- get_layer, layer.input / layer.output, feature extractors ---------------------------

def test_get_layer_and_layer_input_output():
    x = L.Input((4,), name="x")
    h = L.Dense(3, name="hidden")(x)
    y = L.Dense(2, name="top")(h)
    base = Model(x, y)
    assert base.get_layer("hidden").input is x and base.get_layer("hidden").output is h
    assert base.get_layer("x").output is x
    assert base.get_layer(index=2).name == "top"
    with pytest.raises(ValueError, match="No such layer: nope"):
        base.get_layer("nope")
    with pytest.raises(AttributeError, match="'lonely' has never been called"):
        L.Dense(2, name="lonely").output
    merge = L.Add(name="plus")
    a, b = L.Input((2,)), L.Input((2,))
    merge([a, b])
    assert merge.input == [a, b]


def test_feature_extractor_shares_weights_like_keras():
    def build(lib):
        x = lib.layers.Input((5,), name="x")
        h = lib.layers.Dense(4, activation="relu", name="features")(x)
        return lib.models.Model(x, lib.layers.Dense(2, name="logits")(h))

    ours, ref = build(cnn), build(keras)
    copy_weights(ours, ref)
    fe = Model(ours.input, ours.get_layer("features").output)
    kfe = keras.models.Model(ref.input, ref.get_layer("features").output)
    both = Model(ours.input, [ours.get_layer("features").output, ours.output])
    x = rand(7, 5)
    np.testing.assert_allclose(fe.predict(x, verbose=0), kfe.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)
    assert len(fe.weights) == 2 and fe.weights[0] is ours.weights[0]
    feats, logits = both.predict(x, verbose=0)
    np.testing.assert_allclose(logits, ours.predict(x, verbose=0), rtol=1e-6)
    ours.get_layer("features").set_weights([np.zeros((5, 4), np.float32),
                                            np.ones(4, np.float32)])
    np.testing.assert_allclose(fe.predict(x, verbose=0), 1.0)  # the same weights


# ---- a build-time training= flag ---------------------------------------------------------

def test_build_time_training_false_follows_keras3():
    """Keras 3 replays a functional model passing the run's own training flag, so a
    `training=False` given when the graph was built is the default of `model(x)` but an
    explicit `model(x, training=True)` (and fit) overrides it."""
    def build(lib):
        x = lib.layers.Input((200,))
        return lib.models.Model(x, lib.layers.Dropout(0.5)(x, training=False))

    ours, ref = build(cnn), build(keras)
    ones = np.ones((2, 200), np.float32)
    for training in (None, False, True):
        kept_ours = np.allclose(ours(ones, training=training).numpy(), 1.0)
        kept_ref = np.allclose(keras.ops.convert_to_numpy(ref(ones, training=training)), 1.0)
        assert kept_ours == kept_ref, training
    np.testing.assert_allclose(ours.predict(ones, verbose=0), 1.0)


# ---- trainable flags: the GAN idiom -----------------------------------------------------

def gan_parts(lib):
    gen_in = lib.layers.Input((2,))
    generator = lib.models.Model(gen_in, lib.layers.Dense(3, name="gen")(gen_in))
    disc_in = lib.layers.Input((3,))
    discriminator = lib.models.Model(
        disc_in, lib.layers.Dense(1, activation="sigmoid", name="disc")(disc_in))
    discriminator.compile(optimizer=lib.optimizers.SGD(0.1), loss="binary_crossentropy")
    discriminator.trainable = False                    # frozen inside the combined model
    z = lib.layers.Input((2,))
    gan = lib.models.Model(z, discriminator(generator(z)))
    gan.compile(optimizer=lib.optimizers.SGD(0.1), loss="binary_crossentropy")
    return generator, discriminator, gan


def test_gan_idiom_follows_keras3_trainable_flags():
    """Keras 3 reads `trainable` at each step, not at compile(): a discriminator frozen
    after its compile() no longer trains in its own steps until it is unfrozen; toggling
    the flag around each step is the idiom that works. cnn does the same (one compiled
    graph per trainable set, cached) and every weight matches Keras's."""
    ours, ref = gan_parts(cnn), gan_parts(keras)
    for o, r in zip(ours[:2], ref[:2]):
        o.set_weights(r.get_weights())
    assert len(ours[2].trainable_weights) == len(ref[2].trainable_weights) == 2
    ones = np.ones((4, 1), np.float32)
    for step in range(3):
        noise, real = rand(4, 2), rand(4, 3)
        for gen, disc, gan in (ours, ref):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # Keras warns that the flag changed
                before = disc.get_weights()
                disc.trainable = True
                disc.train_on_batch(real, ones)
                assert not np.allclose(disc.get_weights()[0], before[0])
                disc.trainable = False
                trained = disc.get_weights()
                gan.train_on_batch(noise, ones)
                for w, w0 in zip(disc.get_weights(), trained):   # frozen in the GAN
                    np.testing.assert_array_equal(w, w0)
        for o, r in zip(ours[:2], ref[:2]):
            for w1, w2 in zip(o.get_weights(), r.get_weights()):
                np.testing.assert_allclose(w1, w2, rtol=1e-5, atol=1e-6)
    # Still frozen after its compile(): its own step changes nothing, in Keras as in cnn.
    for lib in (cnn, keras):
        _, disc, _ = gan_parts(lib)
        before = disc.get_weights()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            disc.train_on_batch(rand(4, 3), ones)
        for w, w0 in zip(disc.get_weights(), before):
            np.testing.assert_array_equal(w, w0)


def test_freezing_then_recompiling_matches_keras():
    """Fine-tuning: freeze a layer and recompile; the frozen weights stay put and the
    rest trains as in Keras."""
    def build(lib):
        x = lib.layers.Input((4,))
        h = lib.layers.Dense(3, name="body")(x)
        model = lib.models.Model(x, lib.layers.Dense(1, name="head")(h))
        model.get_layer("body").trainable = False
        model.compile(optimizer=lib.optimizers.SGD(0.1), loss="mse")
        return model

    ours, ref = build(cnn), build(keras)
    copy_weights(ours, ref)
    x, y = rand(16, 4), rand(16, 1)
    kw = dict(batch_size=4, epochs=1, shuffle=False, verbose=0)
    assert_history_close(ours.fit(x, y, **kw), ref.fit(x, y, **kw))
    for w1, w2 in zip(ours.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(w1, w2, rtol=1e-5, atol=1e-6)
