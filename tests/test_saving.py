"""Whole-model saving in Keras 3's `.keras` format (config.json + model.weights.h5 +
metadata.json), both ways with real Keras 3, and loading Keras 2's legacy `.h5` weights."""
import json
import zipfile

import numpy as np
import pytest

keras = pytest.importorskip("keras")
import cnn  # noqa: E402
from cnn import layers as L  # noqa: E402
from cnn.models import Model, Sequential, load_model  # noqa: E402



def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def cnn_functional():
    i = L.Input((8,), name="x")
    h = L.Dense(16, activation="relu", name="h")(i)
    h = L.BatchNormalization(name="bn")(h)
    h = L.Dropout(0.3)(h)
    a = L.Dense(6, activation="tanh")(h)
    b = L.Dense(6)(h)
    merged = L.Add()([a, b])
    r = L.Reshape((3, 2))(merged)
    r = L.Flatten()(r)
    out1 = L.Dense(3, activation="softmax", name="cls")(r)
    out2 = L.Dense(1, name="reg")(L.Concatenate()([r, h]))
    return Model(i, [out1, out2], name="two_heads")


def cnn_sequential():
    return Sequential([L.Input((6, 6, 2)), L.Conv2D(4, 3, padding="same", activation="relu"),
                       L.MaxPooling2D(2), L.BatchNormalization(), L.Flatten(), L.Dropout(0.2),
                       L.Dense(5, activation="softmax")], name="seq")


def keras_functional():
    kl = keras.layers
    i = keras.Input((8,))
    h = kl.Dense(16, activation="relu")(i)
    h = kl.BatchNormalization()(h)
    h = kl.Dropout(0.3)(h)
    a = kl.Dense(6, activation="tanh")(h)
    b = kl.Dense(6)(h)
    r = kl.Flatten()(kl.Reshape((3, 2))(kl.Add()([a, b])))
    out1 = kl.Dense(3, activation="softmax")(r)
    out2 = kl.Dense(1)(kl.Concatenate()([r, h]))
    return keras.Model(i, [out1, out2])


def keras_sequential():
    kl = keras.layers
    return keras.Sequential([keras.Input((6, 6, 2)), kl.Conv2D(4, 3, padding="same",
                                                                activation="relu"),
                             kl.MaxPooling2D(2), kl.BatchNormalization(), kl.Flatten(),
                             kl.Dropout(0.2), kl.Dense(5, activation="softmax")])


def randomize(model):
    """Random weights everywhere, BatchNormalization statistics included."""
    rng = np.random.default_rng(1)
    model.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32)
                       for w in model.get_weights()])


def outputs(model, x):
    out = model.predict(x, verbose=0)
    return out if isinstance(out, list) else [out]


def assert_same(a, b, atol=1e-5):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=1e-5, atol=atol)


# ---- cnn -> cnn -------------------------------------------------------------------------

@pytest.mark.parametrize("build,x", [(cnn_functional, rand(5, 8)),
                                     (cnn_sequential, rand(5, 6, 6, 2))])
def test_round_trip_predictions_and_config(tmp_path, build, x):
    model = build()
    randomize(model)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = load_model(path)
    assert type(loaded) is type(model)
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    assert loaded.name == model.name
    assert_same(outputs(model, x), outputs(loaded, x), atol=0)
    with zipfile.ZipFile(path) as zf:
        assert {"config.json", "metadata.json", "model.weights.h5"} <= set(zf.namelist())
        assert "keras_version" in json.loads(zf.read("metadata.json"))


def test_compile_config_round_trips(tmp_path):
    model = cnn_functional()
    model.compile(optimizer=cnn.optimizers.Adam(learning_rate=0.01, beta_1=0.8, clipnorm=1.0),
                  loss=["sparse_categorical_crossentropy", cnn.losses.Huber(delta=0.5)],
                  loss_weights=[1.0, 0.5], metrics=[["accuracy"], ["mae"]])
    x, y1, y2 = rand(32, 8), np.arange(32) % 3, rand(32, 1)
    model.fit(x, [y1, y2], epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert loaded.compiled
    config = loaded.optimizer.get_config()
    assert type(loaded.optimizer).__name__ == "Adam"
    assert config["learning_rate"] == pytest.approx(0.01)
    assert config["beta_1"] == pytest.approx(0.8) and config["clipnorm"] == 1.0
    spec = loaded._compile_spec
    assert spec.loss_arg[0] == "sparse_categorical_crossentropy"
    assert isinstance(spec.loss_arg[1], cnn.losses.Huber)
    assert spec.loss_arg[1].get_config()["delta"] == 0.5
    assert spec.loss_weights_arg == [1.0, 0.5]
    assert spec.metrics_arg == [["accuracy"], ["mae"]]
    before = model.evaluate(x, [y1, y2], verbose=0)
    after = loaded.evaluate(x, [y1, y2], verbose=0)
    np.testing.assert_allclose(before, after, rtol=1e-5)
    loaded.fit(x, [y1, y2], epochs=1, batch_size=8, verbose=0)  # trains right away

    uncompiled = load_model(tmp_path / "m.keras", compile=False)
    assert not uncompiled.compiled


def test_shared_layer_and_multiple_inputs(tmp_path):
    a, b = L.Input((4,), name="a"), L.Input((4,), name="b")
    shared = L.Dense(3, name="shared")
    out = L.Subtract()([shared(a), shared(b)])
    model = Model([a, b], out)
    model.save(tmp_path / "s.keras")
    loaded = load_model(tmp_path / "s.keras")
    x = [rand(4, 4), rand(4, 4, seed=2)]
    assert_same(outputs(model, x), outputs(loaded, x), atol=0)
    assert len(loaded.get_layer("shared")._inbound_nodes) == 2
    kmodel = keras.saving.load_model(tmp_path / "s.keras")
    assert_same(outputs(model, x), outputs(kmodel, x))


def test_load_weights_from_keras_archive(tmp_path):
    model = cnn_sequential()
    randomize(model)
    model.save(tmp_path / "m.keras")
    other = cnn_sequential()
    other.load_weights(tmp_path / "m.keras")
    x = rand(3, 6, 6, 2)
    assert_same(outputs(model, x), outputs(other, x), atol=0)


# ---- Keras <-> cnn ----------------------------------------------------------------------

@pytest.mark.parametrize("build,x", [(keras_functional, rand(5, 8)),
                                     (keras_sequential, rand(5, 6, 6, 2))])
def test_keras_file_loads_in_cnn(tmp_path, build, x):
    kmodel = build()
    randomize(kmodel)
    kmodel.compile(optimizer=keras.optimizers.RMSprop(0.005), loss="mse", metrics=["mae"])
    kmodel.save(tmp_path / "k.keras")
    model = load_model(tmp_path / "k.keras")
    assert [l.name for l in model.layers] == [l.name for l in kmodel.layers]
    assert_same(outputs(kmodel, x), outputs(model, x))
    assert type(model.optimizer).__name__ == "RMSprop"
    assert model.optimizer.get_config()["learning_rate"] == pytest.approx(0.005)


@pytest.mark.parametrize("build,x", [(cnn_functional, rand(5, 8)),
                                     (cnn_sequential, rand(5, 6, 6, 2))])
def test_cnn_file_loads_in_keras(tmp_path, build, x):
    model = build()
    randomize(model)
    model.compile(optimizer="adam", loss="mse")
    model.save(tmp_path / "c.keras")
    kmodel = keras.saving.load_model(tmp_path / "c.keras")
    assert [l.name for l in kmodel.layers] == [l.name for l in model.layers]
    assert_same(outputs(model, x), outputs(kmodel, x))
    assert type(kmodel.optimizer).__name__ == "Adam"


def test_keras_sequential_without_input_loads(tmp_path):
    kmodel = keras.Sequential([keras.layers.Dense(4, activation="relu"),
                               keras.layers.Dense(2)])
    kmodel.build((None, 3))
    kmodel.save(tmp_path / "k.keras")
    model = load_model(tmp_path / "k.keras")
    x = rand(4, 3)
    assert_same(outputs(kmodel, x), outputs(model, x))


# ---- errors -------------------------------------------------------------------------------

def _rewrite_config(src, dst, edit):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name == "config.json":
                config = json.loads(data)
                edit(config)
                data = json.dumps(config)
            zout.writestr(name, data)


def test_unknown_layer_class_names_it(tmp_path):
    cnn_sequential().save(tmp_path / "m.keras")

    def rename(config):
        config["config"]["layers"][1]["class_name"] = "FancyAttention"
    _rewrite_config(tmp_path / "m.keras", tmp_path / "bad.keras", rename)
    with pytest.raises(ValueError, match="FancyAttention"):
        load_model(tmp_path / "bad.keras")


def test_keras_feature_cnn_lacks_is_an_error(tmp_path):
    cnn_sequential().save(tmp_path / "m.keras")

    def constrain(config):
        dense = config["config"]["layers"][-1]["config"]
        dense["kernel_constraint"] = {"class_name": "NonNeg", "config": {}}
    _rewrite_config(tmp_path / "m.keras", tmp_path / "bad.keras", constrain)
    with pytest.raises(ValueError, match="kernel_constraint"):
        load_model(tmp_path / "bad.keras")


def test_file_errors(tmp_path):
    model = cnn_sequential()
    with pytest.raises(ValueError, match=r"\.keras"):
        model.save(tmp_path / "m.h5")
    with pytest.raises(ValueError, match="not found"):
        load_model(tmp_path / "missing.keras")
    (tmp_path / "junk.keras").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="zip"):
        load_model(tmp_path / "junk.keras")
    with pytest.raises(ValueError, match=r"\.keras"):
        load_model(tmp_path / "m.weights.h5")


def test_subclassed_model_cannot_be_saved_whole(tmp_path):
    class Net(Model):
        def __init__(self):
            super().__init__()
            self.d = L.Dense(2)

        def call(self, x):
            return self.d(x)

    net = Net()
    net(rand(2, 3))
    with pytest.raises(ValueError, match="save_weights"):
        net.save(tmp_path / "n.keras")


def test_custom_layer_registration_and_custom_objects(tmp_path):
    @cnn.saving.register_keras_serializable(package="test_saving")
    class Scale(L.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return cnn.ops.multiply(x, self.factor)

        def compute_output_shape(self, shape):
            return shape

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    model = Sequential([L.Input((3,)), L.Dense(3), Scale(3.0)])
    model.save(tmp_path / "c.keras")
    loaded = load_model(tmp_path / "c.keras")
    assert isinstance(loaded.layers[-1], Scale) and loaded.layers[-1].factor == 3.0
    x = rand(2, 3)
    assert_same(outputs(model, x), outputs(loaded, x), atol=0)
    assert cnn.saving.get_registered_name(Scale) == "test_saving>Scale"
    assert cnn.saving.get_registered_object("test_saving>Scale") is Scale

    class Plain(Scale):
        pass

    Sequential([L.Input((3,)), Plain(2.0, name="p")]).save(tmp_path / "p.keras")
    with pytest.raises(ValueError, match="Plain"):
        load_model(tmp_path / "p.keras")
    loaded = load_model(tmp_path / "p.keras", custom_objects={"Plain": Plain})
    assert isinstance(loaded.layers[-1], Plain)


# ---- Keras 2's legacy .h5 weights ----------------------------------------------------------

def test_legacy_h5_weights_from_keras(tmp_path):
    import h5py
    from keras.src.legacy.saving import legacy_h5_format
    kmodel = keras_functional()
    randomize(kmodel)
    with h5py.File(tmp_path / "w.h5", "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, kmodel)
    model = cnn_functional()
    model.load_weights(tmp_path / "w.h5")
    x = rand(5, 8)
    assert_same(outputs(kmodel, x), outputs(model, x))


def test_legacy_h5_hand_built_and_mismatch(tmp_path):
    import h5py
    model = Sequential([L.Input((3,)), L.Dense(4, name="d1"), L.Dropout(0.5),
                        L.Dense(2, name="d2")])
    rng = np.random.default_rng(0)
    values = {"d1": [rng.standard_normal((3, 4)), rng.standard_normal(4)],
              "d2": [rng.standard_normal((4, 2)), rng.standard_normal(2)]}
    with h5py.File(tmp_path / "w.h5", "w") as f:  # Keras 2's layout, written by hand
        f.attrs["layer_names"] = [b"dense_a", b"dropout", b"dense_b"]
        f.attrs["keras_version"] = b"2.15.0"
        f.create_group("dropout").attrs["weight_names"] = []
        for group, key in (("dense_a", "d1"), ("dense_b", "d2")):
            g = f.create_group(group)
            g.attrs["weight_names"] = [f"{group}/kernel:0".encode(), f"{group}/bias:0".encode()]
            g[f"{group}/kernel:0"], g[f"{group}/bias:0"] = values[key]
    model.load_weights(tmp_path / "w.h5")
    np.testing.assert_allclose(model.get_layer("d2").get_weights()[0], values["d2"][0],
                               rtol=1e-6)

    wrong = Sequential([L.Input((3,)), L.Dense(5), L.Dense(2)])
    with pytest.raises(ValueError, match="Shape mismatch"):
        wrong.load_weights(tmp_path / "w.h5")
    with pytest.warns(UserWarning):
        wrong.load_weights(tmp_path / "w.h5", skip_mismatch=True)
    with pytest.raises(ValueError, match="Layer count mismatch"):
        Sequential([L.Input((3,)), L.Dense(2)]).load_weights(tmp_path / "w.h5")


def test_model_checkpoint_saves_keras_files(tmp_path):
    model = cnn_sequential()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    x, y = rand(16, 6, 6, 2), np.arange(16) % 5
    path = str(tmp_path / "ck{epoch}.keras")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0,
              callbacks=[cnn.callbacks.ModelCheckpoint(path, monitor="loss")])
    loaded = load_model(tmp_path / "ck2.keras")
    assert_same(outputs(model, x), outputs(loaded, x), atol=0)
    assert loaded.compiled


def test_nested_models_both_ways(tmp_path):
    i = L.Input((4,))
    base = Model(i, L.Dense(3, activation="relu", name="inner")(i), name="base")
    j = L.Input((4,))
    for model in (Sequential([L.Input((4,)), base, L.Dense(2)]),
                  Model(j, L.Dense(2)(base(j)))):
        randomize(model)
        model.save(tmp_path / "n.keras")
        x = rand(3, 4)
        assert_same(outputs(model, x), outputs(load_model(tmp_path / "n.keras"), x), atol=0)
        assert_same(outputs(model, x), outputs(keras.saving.load_model(tmp_path / "n.keras"), x))

    ki = keras.Input((4,))
    kbase = keras.Model(ki, keras.layers.Dense(3, activation="relu")(ki))
    for kmodel in (keras.Sequential([keras.Input((4,)), kbase, keras.layers.Dense(2)]),):
        randomize(kmodel)
        kmodel.save(tmp_path / "k.keras")
        x = rand(3, 4)
        assert_same(outputs(kmodel, x), outputs(load_model(tmp_path / "k.keras"), x))
    kj = keras.Input((4,))
    kmodel = keras.Model(kj, keras.layers.Dense(2)(kbase(kj)))
    kmodel.save(tmp_path / "k2.keras")
    assert_same(outputs(kmodel, x), outputs(load_model(tmp_path / "k2.keras"), x))


def test_compile_config_cnn_lacks_points_to_compile_false(tmp_path):
    kmodel = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    kmodel.compile(optimizer=keras.optimizers.Adamax(), loss="mse")
    kmodel.save(tmp_path / "k.keras")
    with pytest.raises(ValueError, match="compile=False"):
        load_model(tmp_path / "k.keras")
    model = load_model(tmp_path / "k.keras", compile=False)
    assert not model.compiled
    x = rand(2, 3)
    assert_same(outputs(kmodel, x), outputs(model, x))


def test_to_json_and_model_from_json():
    model = cnn_functional()
    text = model.to_json()
    rebuilt = cnn.models.model_from_json(text)
    assert [l.name for l in rebuilt.layers] == [l.name for l in model.layers]
    assert rebuilt.output_shape == model.output_shape
    kmodel = keras.models.model_from_json(text)
    assert [l.name for l in kmodel.layers] == [l.name for l in model.layers]
    from_keras = cnn.models.model_from_json(keras_sequential().to_json())
    assert from_keras.output_shape == (None, 5)
    with pytest.raises(ValueError, match="JSON"):
        cnn.models.model_from_json("{not json")


def keras_image_model():
    kl = keras.layers
    i = keras.Input((8, 8, 3))
    a = kl.Conv2D(4, 3, padding="same", activation="relu")(kl.ZeroPadding2D(1)(i))
    a = kl.Cropping2D(1)(a)
    b = kl.AveragePooling2D(2)(kl.UpSampling2D(2)(kl.Conv2D(4, 1)(i)))
    m = kl.Multiply()([a, b])
    m = kl.Average()([m, kl.Maximum()([a, b]), kl.Minimum()([a, b])])
    m = kl.GaussianNoise(0.1)(kl.LayerNormalization()(m))
    p = kl.GlobalAveragePooling2D()(m)
    q = kl.GlobalMaxPooling2D()(kl.Permute((2, 1, 3))(m))
    d = kl.Dot(axes=1)([kl.Dense(5)(p), kl.Dense(5)(q)])
    out = kl.Dense(2, activation="sigmoid")(kl.Concatenate()([p, q, d, kl.Subtract()([p, q])]))
    return keras.Model(i, out)


def test_image_and_merge_layers_both_ways(tmp_path):
    kmodel = keras_image_model()
    randomize(kmodel)
    kmodel.save(tmp_path / "k.keras")
    model = load_model(tmp_path / "k.keras")
    x = rand(4, 8, 8, 3)
    assert_same(outputs(kmodel, x), outputs(model, x))
    model.save(tmp_path / "c.keras")
    back = keras.saving.load_model(tmp_path / "c.keras")
    assert_same(outputs(kmodel, x), outputs(back, x))
