"""Custom layers built from other layers, as Keras users write them: layers assigned to
attributes belong to the layer (their weights show up, train and save with it), and
`ops.arange` gives position indices."""
import numpy as np
import pytest

import cnn
from cnn import layers, ops


class TwoDense(layers.Layer):
    """Sublayers held directly, in a list and in a dict."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.first = layers.Dense(6, activation="relu")
        self.stack = [layers.Dense(5), layers.Dense(4)]
        self.heads = {"out": layers.Dense(3)}

    def call(self, x):
        x = self.first(x)
        for layer in self.stack:
            x = layer(x)
        return self.heads["out"](x)


def _model():
    inputs = layers.Input((7,))
    block = TwoDense()
    model = cnn.models.Model(inputs, block(inputs))
    return model, block


def test_attribute_sublayers_own_their_weights_in_assignment_order():
    model, block = _model()
    expected = [block.first.kernel, block.first.bias]
    for layer in (*block.stack, block.heads["out"]):
        expected += [layer.kernel, layer.bias]
    assert [id(v) for v in block.weights] == [id(v) for v in expected]
    assert block.count_params() == (7 * 6 + 6) + (6 * 5 + 5) + (5 * 4 + 4) + (4 * 3 + 3)
    assert len(model.trainable_weights) == 8


def test_attribute_sublayers_train_in_fit():
    model, block = _model()
    model.compile(cnn.optimizers.SGD(0.1), "mse")
    before = [w.copy() for w in block.get_weights()]
    rng = np.random.default_rng(0)
    model.fit(rng.random((16, 7), dtype=np.float32), rng.random((16, 3), dtype=np.float32),
              epochs=2, verbose=0)
    after = block.get_weights()
    assert all(not np.allclose(a, b) for a, b in zip(after[::2], before[::2]))  # every kernel


def test_freezing_a_custom_layer_freezes_its_sublayers():
    model, block = _model()
    block.trainable = False
    assert model.trainable_weights == []
    assert not block.first.trainable and not block.heads["out"].trainable
    assert len(block.non_trainable_weights) == 8


def test_arange_matches_numpy():
    np.testing.assert_array_equal(ops.arange(5).numpy(), np.arange(5, dtype=np.float32))
    np.testing.assert_array_equal(ops.arange(2, 9, 3).numpy(), np.array([2, 5, 8], np.float32))
    np.testing.assert_array_equal(ops.arange(0, 1, 0.25).numpy(), np.arange(0, 1, 0.25, np.float32))
    assert ops.arange(3, dtype="int32").numpy().dtype == np.float32
    with pytest.raises(ValueError, match="float32"):
        ops.arange(3, dtype="float64")


def test_arange_positions_index_an_embedding_that_trains():
    """Position embedding as in a Transformer: `embedding(ops.arange(length))` inside call."""

    class AddPositions(layers.Layer):
        def __init__(self, length, dim, **kwargs):
            super().__init__(**kwargs)
            self.length = length
            self.positions = layers.Embedding(length, dim)

        def call(self, x):
            return x + self.positions(ops.arange(self.length))

    inputs = layers.Input((4, 3))
    block = AddPositions(4, 3)
    model = cnn.models.Model(inputs, layers.GlobalAveragePooling1D()(block(inputs)))
    x = np.zeros((2, 4, 3), np.float32)
    table = block.positions.embeddings.numpy()
    np.testing.assert_allclose(model.predict(x, verbose=0), np.tile(table.mean(0), (2, 1)),
                               rtol=1e-6)
    model.compile(cnn.optimizers.SGD(0.5), "mse")
    model.fit(x, np.ones((2, 3), np.float32), epochs=1, verbose=0)
    assert not np.allclose(block.positions.embeddings.numpy(), table)
