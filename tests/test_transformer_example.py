"""The Transformer encoder example (cnn.examples.transformer): it solves the "which comes
first?" task that the bag-of-embeddings baseline cannot, and its custom layers save and load."""
import numpy as np
import pytest

import cnn
from cnn.examples import transformer


@pytest.fixture(scope="module")
def runs():
    # Small settings (about 1 s each on 2 cores); over seeds 0-7 the Transformer reached
    # 92-99% test accuracy with these, the baseline 47-52%.
    return [transformer.train(seed=seed, samples=2000, test_samples=500, epochs=8)
            for seed in (0, 1)]


def test_dataset_is_balanced_and_has_one_a_and_one_b():
    x, y = transformer.make_order_task(1000, sequence_length=10, seed=3)
    assert x.shape == (1000, 10) and x.dtype == np.float32 and y.dtype == np.int64
    is_a, is_b = x == transformer.TOKEN_A, x == transformer.TOKEN_B
    assert (is_a.sum(1) == 1).all() and (is_b.sum(1) == 1).all()
    first_a = np.argmax(is_a, 1) < np.argmax(is_b, 1)
    np.testing.assert_array_equal(y, first_a)
    assert 0.45 < y.mean() < 0.55


def test_transformer_beats_the_baselines_clearly(runs):
    for r in runs:
        assert r["baseline"] < 0.60, r["baseline"]  # at chance: order is invisible to it
        assert r["majority"] < 0.60
        assert r["transformer"] > 0.85, r["transformer"]
        assert r["transformer"] - max(r["baseline"], r["majority"]) > 0.25


def test_model_saves_and_loads_with_identical_predictions(runs, tmp_path):
    r = runs[0]
    model = r["model"]
    path = str(tmp_path / "transformer.keras")
    model.save(path)
    loaded = cnn.models.load_model(path)
    assert [type(l).__name__ for l in loaded.layers] == [type(l).__name__ for l in model.layers]
    assert isinstance(loaded.layers[1], transformer.PositionalEmbedding)
    assert isinstance(loaded.layers[2], transformer.TransformerEncoder)
    np.testing.assert_array_equal(loaded.predict(r["x_test"], verbose=0),
                                  model.predict(r["x_test"], verbose=0))
    # Loaded through custom_objects as well (a user who did not import the example module
    # would pass the classes this way).
    objects = {"PositionalEmbedding": transformer.PositionalEmbedding,
               "TransformerEncoder": transformer.TransformerEncoder}
    again = cnn.models.load_model(path, custom_objects=objects)
    np.testing.assert_array_equal(again.predict(r["x_test"][:8], verbose=0),
                                  model.predict(r["x_test"][:8], verbose=0))


def test_encoder_block_keeps_the_shape_and_rejects_bad_head_counts():
    block = transformer.TransformerEncoder(embed_dim=8, dense_dim=16, num_heads=2)
    out = block(np.random.default_rng(0).standard_normal((3, 5, 8)).astype(np.float32))
    assert tuple(out.shape) == (3, 5, 8)
    assert len(block.trainable_weights) == 8 + 4 + 4  # attention, two Dense, two LayerNorms
    with pytest.raises(ValueError, match="divisible"):
        transformer.TransformerEncoder(embed_dim=10, dense_dim=16, num_heads=4)


def test_main_prints_the_comparison(capsys):
    transformer.main(["--samples", "300", "--epochs", "1"])
    out = capsys.readouterr().out
    for line in ("Transformer encoder:", "bag of embeddings:", "majority class:"):
        assert line in out
