"""User mistakes fail early with a Python exception that names the layer or argument and
the expected and actual shapes (issue #2, item 5)."""
import numpy as np
import pytest

from cnn import losses, metrics, models, optimizers
from cnn.layers import Dense, Input


def model_64():
    m = models.Sequential([Input((64,)), Dense(32, activation="relu", name="dense_in"),
                           Dense(10, activation="softmax", name="dense_out")])
    m.compile("adam", "sparse_categorical_crossentropy")
    return m


def test_wrong_input_width_names_layer_and_shapes():
    m = model_64()
    msg = r"Input 0 of layer 'dense_in' .*expected axis -1 .*value 64.*shape \(None, 63\)"
    with pytest.raises(ValueError, match=msg):
        m.predict(np.zeros((5, 63)), verbose=0)
    with pytest.raises(ValueError, match=msg):
        m.fit(np.zeros((5, 63)), np.zeros(5), verbose=0)
    with pytest.raises(ValueError, match=msg):
        m(np.zeros((5, 63), np.float32))
    layer = Dense(2, name="dense_x")
    layer(Input((4,)))  # builds it for 4 features
    with pytest.raises(ValueError, match=r"Input 0 of layer 'dense_x' .*value 4.*\(None, 3\)"):
        layer(Input((3,)))


def test_wrong_rank_names_layer_and_shapes():
    m = model_64()
    with pytest.raises(ValueError, match=r"Input 0 of layer 'dense_in' .*min_ndim=2, found ndim=1"):
        m.predict(np.zeros(64), verbose=0)
    with pytest.raises(ValueError, match=r"model '.*' .*expected shape \(None, 64\).*\(None, 2, 64\)"):
        m.predict(np.zeros((5, 2, 64)), verbose=0)
    with pytest.raises(ValueError, match=r"min_ndim=2.*Full shape received: \(3,\)"):
        Dense(3)(np.zeros(3, np.float32))


def test_mismatched_x_and_y_lengths():
    m = model_64()
    with pytest.raises(ValueError, match=r"'x' sizes: 5, 'y' sizes: 4"):
        m.fit(np.zeros((5, 64)), np.zeros(4), verbose=0)
    with pytest.raises(ValueError, match=r"'x' sizes: 5, 'y' sizes: 4"):
        m.evaluate(np.zeros((5, 64)), np.zeros(4), verbose=0)
    with pytest.raises(ValueError, match=r"`validation_data`|'x' sizes: 3, 'y' sizes: 2"):
        m.fit(np.zeros((5, 64)), np.zeros(5), validation_data=(np.zeros((3, 64)), np.zeros(2)),
              verbose=0)


def test_targets_that_do_not_fit_the_output():
    m = model_64()
    with pytest.raises(ValueError, match=r"output 'dense_out' of shape \(None, 10\).*\(None,\).*"
                                         r"received y with shape \(None, 9\)"):
        m.fit(np.zeros((5, 64)), np.zeros((5, 9)), verbose=0)
    with pytest.raises(ValueError, match=r"sparse labels must be integers in \[0, 10\).*\[0, 10\]"):
        m.fit(np.zeros((2, 64)), np.array([0, 10]), verbose=0)
    r = models.Sequential([Input((3,)), Dense(2, name="reg")])
    r.compile("sgd", "mse")
    with pytest.raises(ValueError, match=r"output 'reg' .*expects targets of shape \(None, 2\), "
                                         r"but received y with shape \(None, 3\)"):
        r.fit(np.zeros((4, 3)), np.zeros((4, 3)), verbose=0)


def test_unknown_loss_optimizer_metric_names():
    m = model_64()
    with pytest.raises(ValueError, match=r"optimizer identifier: 'rmsprop_x'.*\['adagrad', "
                                         r"'adam', 'adamw', 'nadam', 'rmsprop', 'sgd'\]"):
        m.compile("rmsprop_x", "mse")
    with pytest.raises(ValueError, match=r"loss identifier: 'msee'.*Known losses: \[.*'mse'"):
        m.compile("adam", "msee")
    with pytest.raises(ValueError, match=r"metric identifier: 'acuracy'.*'accuracy'"):
        m.compile("adam", "mse", metrics=["acuracy"])
    with pytest.raises(ValueError, match="optimizer identifier"):
        optimizers.get(3)
    with pytest.raises(ValueError, match="loss identifier: 'nope'"):
        losses.get("nope")
    with pytest.raises(ValueError, match="metric identifier: 'nope'"):
        metrics.get("nope")


def test_sequential_add_rejects_non_layers():
    with pytest.raises(TypeError, match=r"Received: 10 \(of type <class 'int'>\)"):
        models.Sequential().add(10)
    with pytest.raises(TypeError, match=r"Received: 'dense'"):
        models.Sequential(["dense"])


def test_using_a_model_without_inputs_is_a_clear_error():
    with pytest.raises(ValueError, match="has no layers yet"):
        models.Sequential().predict(np.zeros((2, 3)), verbose=0)
    with pytest.raises(ValueError, match="has no inputs yet"):
        models.Sequential([Dense(3)]).inputs
    with pytest.raises(ValueError, match="no inputs and no call"):
        models.Model().predict(np.zeros((2, 3)), verbose=0)
    with pytest.raises(ValueError, match="`outputs`"):
        models.Model(Input((3,)), None)
    with pytest.raises(ValueError, match="must call `compile\\(\\)`"):
        models.Sequential([Input((3,)), Dense(1)]).fit(np.zeros((2, 3)), np.zeros(2), verbose=0)
    with pytest.raises(ValueError, match="Graph disconnected"):
        a = Input((3,))
        models.Model(a, Dense(1)(Input((3,))))


def test_empty_arrays():
    m = model_64()
    for call in (lambda: m.fit(np.zeros((0, 64)), np.zeros(0), verbose=0),
                 lambda: m.evaluate(np.zeros((0, 64)), np.zeros(0), verbose=0),
                 lambda: m.predict(np.zeros((0, 64)), verbose=0)):
        with pytest.raises(ValueError, match=r"`x` is empty: shape \(0, 64\)"):
            call()


def test_bad_data_types_and_arguments():
    m = model_64()
    with pytest.raises(TypeError, match=r"`x` must contain numbers.*dtype <U"):
        m.predict(np.array([["a"] * 64]), verbose=0)
    with pytest.raises(TypeError, match=r"`y` must contain numbers.*dtype object"):
        m.fit(np.zeros((2, 64)), np.array([None, 1], dtype=object), verbose=0)
    with pytest.raises(ValueError, match="`batch_size` must be a positive integer; received 0"):
        m.fit(np.zeros((2, 64)), np.zeros(2), batch_size=0, verbose=0)
    with pytest.raises(ValueError, match=r"not sufficient to split.*validation_split=0.1"):
        m.fit(np.zeros((1, 64)), np.zeros(1), validation_split=0.1, verbose=0)
    with pytest.raises(ValueError, match="expects 1 input.*received 2"):
        m.predict([np.zeros((2, 64)), np.zeros((2, 64))], verbose=0)
    with pytest.raises(ValueError, match=r"invalid value for `units`.*units=0"):
        Dense(0)
    with pytest.raises(TypeError, match="Unrecognized keyword argument"):
        Dense(3, unitz=4)


def test_set_weights_checks_count_and_shapes():
    m = model_64()
    layer = m.layers[0]
    with pytest.raises(ValueError, match=r"layer 'dense_in' with a weight list of length 1, but "
                                         r"the layer was expecting 2 weights"):
        layer.set_weights([np.zeros((64, 32))])
    with pytest.raises(ValueError, match=r"'dense_in' weight 'kernel' has shape \(64, 32\).*"
                                         r"provided weight shape \(3, 3\)"):
        layer.set_weights([np.zeros((3, 3)), np.zeros(32)])
    with pytest.raises(ValueError, match=r"on layer 'sequential.*' with a weight list of length 1, "
                                         r"but the layer was expecting 4 weights"):
        m.set_weights([np.zeros((3, 3))])
    before = m.get_weights()
    with pytest.raises(ValueError):
        m.set_weights(before[:3] + [np.zeros(11)])
    for a, b in zip(before, m.get_weights()):  # a failed set_weights writes nothing
        np.testing.assert_array_equal(a, b)


def test_compile_arguments_per_output_are_checked():
    a = Input((3,))
    m = models.Model(a, [Dense(1, name="o1")(a), Dense(2, name="o2")(a)])
    m.compile("sgd", ["mse", "mse", "mse"])
    with pytest.raises(ValueError, match=r"`loss` has 3 entries but the model has 2 outputs"):
        m.fit(np.zeros((2, 3)), [np.zeros(2), np.zeros((2, 2))], verbose=0)
    m.compile("sgd", {"o1": "mse", "o3": "mse"})
    with pytest.raises(ValueError, match=r"keys \['o3'\] that are not outputs"):
        m.fit(np.zeros((2, 3)), [np.zeros(2), np.zeros((2, 2))], verbose=0)
    m.compile("sgd", "mse")
    with pytest.raises(ValueError, match=r"expects 2 target array\(s\) for `y`, but received 1"):
        m.fit(np.zeros((2, 3)), np.zeros(2), verbose=0)


def test_sample_weight_and_class_weight_mistakes():
    m = model_64()
    x, y = np.zeros((4, 64)), np.zeros(4)
    with pytest.raises(ValueError, match="cannot `class_weight` and `sample_weight` at the same"):
        m.fit(x, y, sample_weight=np.ones(4), class_weight={0: 1.0}, verbose=0)
    with pytest.raises(TypeError, match="`class_weight` must be a dict"):
        m.fit(x, y, class_weight=[1.0, 2.0], verbose=0)
    with pytest.raises(ValueError, match="`sample_weight` has 3 weights but the data has 4"):
        m.fit(x, y, sample_weight=np.ones(3), verbose=0)
    with pytest.raises(ValueError, match="`val_sample_weight` has 2 weights but the data has 3"):
        m.fit(x, y, validation_data=(np.zeros((3, 64)), np.zeros(3), np.ones(2)), verbose=0)
    with pytest.raises(ValueError, match="`sample_weight` has 5 weights"):
        m.evaluate(x, y, sample_weight=np.ones(5), verbose=0)
    a = Input((3,))
    two = models.Model(a, [Dense(1, name="o1")(a), Dense(2, name="o2")(a)])
    two.compile("sgd", "mse")
    xs, ys = np.zeros((2, 3)), [np.zeros(2), np.zeros((2, 2))]
    with pytest.raises(ValueError, match="only supported for Models with a single output"):
        two.fit(xs, ys, class_weight={0: 2.0}, verbose=0)
    with pytest.raises(ValueError, match="single `sample_weight` array.*one scalar score per "
                                         r"sample.*received shape \(2, 2\)"):
        two.fit(xs, ys, sample_weight=np.ones((2, 2)), verbose=0)
    with pytest.raises(ValueError, match="one `sample_weight` array per output.*received 3"):
        two.fit(xs, ys, sample_weight=[np.ones(2)] * 3, verbose=0)
    with pytest.raises(ValueError, match=r"keys \['o3'\] that are not outputs"):
        two.evaluate(xs, ys, sample_weight={"o3": np.ones(2)}, verbose=0)


def test_steps_must_be_positive_integers():
    m = model_64()
    x, y = np.zeros((4, 64)), np.zeros(4)
    for call, arg in ((lambda: m.fit(x, y, steps_per_epoch=0, verbose=0), "steps_per_epoch"),
                      (lambda: m.fit(x, y, validation_steps=1.5, verbose=0), "validation_steps"),
                      (lambda: m.evaluate(x, y, steps=-1, verbose=0), "steps"),
                      (lambda: m.predict(x, steps="2", verbose=0), "steps")):
        with pytest.raises(ValueError, match=f"`{arg}` must be None or a positive integer"):
            call()


def test_abstract_bases_say_what_to_implement():
    class NoCall(losses.Loss):
        pass

    with pytest.raises(TypeError, match=r"NoCall: Loss subclasses must implement call\(y_true, "
                                        r"y_pred\)"):
        NoCall()(np.zeros(2), np.zeros(2))

    class NoValues(metrics.Metric):
        pass

    with pytest.raises(TypeError, match="NoValues: Metric subclasses must implement update_state"):
        NoValues().update_state(np.zeros(2), np.zeros(2))

    from cnn import initializers

    class NoDraw(initializers.Initializer):
        pass

    with pytest.raises(TypeError, match=r"Initializer subclasses must implement __call__\(shape"):
        NoDraw()((2, 2))

    from cnn.layers import Layer

    class Doubler(Layer):  # no compute_output_shape: traced through call() instead
        def call(self, x):
            return x * 2.0

    out = Doubler()(Input((3,)))
    assert out.shape == (None, 3)
    with pytest.raises(TypeError, match=r"Doubler: Layer subclasses must implement "
                                        r"compute_output_shape\(input_shape\)"):
        Doubler().compute_output_shape((None, 3))


def test_arguments_cnn_does_not_have_are_type_errors():
    from cnn.layers import Layer
    layer = Layer()
    with pytest.raises(TypeError, match="constraint"):
        layer.add_weight(shape=(2,), constraint=lambda w: w)
    with pytest.raises(TypeError, match="weighted_metric"):
        model_64().compile("sgd", "mse", weighted_metric=["mae"])


def test_ragged_input_is_a_type_error_naming_the_argument():
    from cnn.layers import Dense, Input
    from cnn.models import Sequential
    m = Sequential([Input((2,)), Dense(1)])
    m.compile("sgd", "mse")
    with pytest.raises(TypeError, match="`x` must be a rectangular array"):
        m.fit([[1.0, 2.0], [3.0]], np.zeros((2, 1)), verbose=0)
    with pytest.raises(TypeError, match="`y` must be a rectangular array"):
        m.fit(np.zeros((2, 2)), [[1.0], [2.0, 3.0]], verbose=0)
