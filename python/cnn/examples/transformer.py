"""A Transformer encoder from cnn's public layers, on a task that needs attention.

Run it with `python -m cnn.examples.transformer` (about 10 s on 2 cores); `--help` lists the
settings.

The task, "which comes first?": each sequence is 16 random filler tokens in which exactly one
token A and one token B sit at random positions; the label is 1 when A comes before B, else 0.
Every sequence holds the same kinds of tokens, so a model that only sees *which* tokens occur
(a bag of embeddings: embed each token, average over the sequence, classify) learns nothing
and stays at chance, 50%. To answer, a model has to relate two positions to each other, which
is what self-attention does: every position looks at every other one, with weights it
computes from their contents, and learned position embeddings tell it where each token sits.

The two layers below are the classic Transformer encoder pieces, written as small custom
layers (subclasses of `cnn.layers.Layer`) the way you would write them in Keras:

- `PositionalEmbedding`: token embedding + learned position embedding.
- `TransformerEncoder`: self-attention and a position-wise feed-forward network, each
  wrapped in a residual connection followed by layer normalization ("post-norm", as in
  "Attention Is All You Need").

Both are registered with `cnn.saving.register_keras_serializable`, so `model.save(...)` and
`cnn.models.load_model(...)` round-trip models that use them.
"""
import argparse
import time

import numpy as np

from .. import layers, models, ops, optimizers, saving, utils

FILLER_START = 3  # token ids: 0 is unused (padding by convention), 1 is A, 2 is B
TOKEN_A, TOKEN_B = 1, 2


@saving.register_keras_serializable(package="cnn_examples")
class PositionalEmbedding(layers.Layer):
    """Token embedding plus a learned position embedding.

    Attention by itself is blind to order: shuffle the positions of the input and each output
    moves with its token but does not change. Adding a vector that depends on the position
    (here a second, learned Embedding indexed by 0, 1, ..., sequence_length - 1) gives every
    token a "where am I" signal the attention can use.

    Args:
        sequence_length: the (fixed) length of the input sequences.
        vocab_size: number of distinct token ids (largest id + 1).
        embed_dim: size of each embedding vector (the model width, d_model).

    Input: (batch, sequence_length) token ids. Output: (batch, sequence_length, embed_dim).
    """

    def __init__(self, sequence_length, vocab_size, embed_dim, **kwargs):
        super().__init__(**kwargs)
        self.sequence_length = sequence_length
        self.vocab_size = vocab_size
        self.embed_dim = embed_dim
        # Layers assigned as attributes belong to this layer: their weights train with it.
        self.token_embeddings = layers.Embedding(vocab_size, embed_dim)
        self.position_embeddings = layers.Embedding(sequence_length, embed_dim)

    def call(self, inputs):
        positions = ops.arange(0, self.sequence_length, 1)  # (sequence_length,)
        # (batch, length, dim) + (length, dim): the same position vectors for every sample.
        return self.token_embeddings(inputs) + self.position_embeddings(positions)

    def get_config(self):
        return {**super().get_config(), "sequence_length": self.sequence_length,
                "vocab_size": self.vocab_size, "embed_dim": self.embed_dim}


@saving.register_keras_serializable(package="cnn_examples")
class TransformerEncoder(layers.Layer):
    """One Transformer encoder block: self-attention, then a feed-forward network, each
    followed by a residual connection and layer normalization.

        x = LayerNorm(x + Dropout(MultiHeadAttention(x, x)))
        x = LayerNorm(x + Dropout(Dense(embed_dim)(Dense(dense_dim, relu)(x))))

    Self-attention mixes information *across* positions (each output step is a weighted
    average of every step's value vector); the feed-forward part then transforms each
    position on its own. The residual connections (`x + ...`) keep a direct path for the
    signal and the gradients, and LayerNormalization keeps each position's features at a
    steady scale, which is what makes stacks of these blocks trainable. Input and output
    have the same shape, (batch, steps, embed_dim), so blocks stack.

    Args:
        embed_dim: the model width (the input's last dimension).
        dense_dim: width of the hidden layer of the feed-forward network.
        num_heads: number of attention heads; each head has embed_dim // num_heads
            dimensions and can attend to something different.
        dropout: dropout rate after the attention and after the feed-forward network
            (active in training only).
    """

    def __init__(self, embed_dim, dense_dim, num_heads, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads "
                             f"({num_heads})")
        self.embed_dim, self.dense_dim = embed_dim, dense_dim
        self.num_heads, self.dropout = num_heads, dropout
        self.attention = layers.MultiHeadAttention(num_heads=num_heads,
                                                   key_dim=embed_dim // num_heads)
        self.dense_hidden = layers.Dense(dense_dim, activation="relu")
        self.dense_out = layers.Dense(embed_dim)
        self.dropout_attention = layers.Dropout(dropout)
        self.dropout_dense = layers.Dropout(dropout)
        self.layernorm_attention = layers.LayerNormalization()
        self.layernorm_dense = layers.LayerNormalization()

    def call(self, inputs, training=None):
        attended = self.attention(inputs, inputs, training=training)  # self-attention: q = k = v
        x = self.layernorm_attention(inputs + self.dropout_attention(attended, training=training))
        transformed = self.dense_out(self.dense_hidden(x))
        return self.layernorm_dense(x + self.dropout_dense(transformed, training=training))

    def get_config(self):
        return {**super().get_config(), "embed_dim": self.embed_dim, "dense_dim": self.dense_dim,
                "num_heads": self.num_heads, "dropout": self.dropout}


def make_order_task(samples, sequence_length=16, vocab_size=12, seed=0):
    """The "which comes first?" data: (x, y) with x (samples, sequence_length) float32 token
    ids (filler ids FILLER_START..vocab_size-1, plus one TOKEN_A and one TOKEN_B) and y
    (samples,) int64, 1 where A comes before B. Classes are balanced by construction."""
    rng = np.random.default_rng(seed)
    x = rng.integers(FILLER_START, vocab_size, (samples, sequence_length))
    # Two distinct random positions per row: A goes to the first, B to the second.
    order = np.argsort(rng.random((samples, sequence_length)), axis=1)
    pos_a, pos_b = order[:, 0], order[:, 1]
    rows = np.arange(samples)
    x[rows, pos_a], x[rows, pos_b] = TOKEN_A, TOKEN_B
    return x.astype(np.float32), (pos_a < pos_b).astype(np.int64)


def build_transformer(sequence_length=16, vocab_size=12, embed_dim=32, dense_dim=64, num_heads=4,
                      num_blocks=1, dropout=0.0, learning_rate=3e-3):
    """Token ids -> PositionalEmbedding -> TransformerEncoder blocks -> average over the
    sequence -> softmax over the two classes, compiled with Adam."""
    inputs = layers.Input((sequence_length,), name="tokens")
    x = PositionalEmbedding(sequence_length, vocab_size, embed_dim)(inputs)
    for _ in range(num_blocks):
        x = TransformerEncoder(embed_dim, dense_dim, num_heads, dropout=dropout)(x)
    x = layers.GlobalAveragePooling1D()(x)
    outputs = layers.Dense(2, activation="softmax")(x)
    model = models.Model(inputs, outputs, name="transformer_classifier")
    model.compile(optimizer=optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def build_bag_of_embeddings(sequence_length=16, vocab_size=12, embed_dim=32, dense_dim=64,
                            learning_rate=3e-3):
    """The baseline: embed each token, average the embeddings (order is lost here), then an
    MLP. It sees which tokens occur but not where, so on this task it cannot beat chance."""
    model = models.Sequential([
        layers.Input((sequence_length,), name="tokens"),
        layers.Embedding(vocab_size, embed_dim),
        layers.GlobalAveragePooling1D(),
        layers.Dense(dense_dim, activation="relu"),
        layers.Dense(2, activation="softmax"),
    ], name="bag_of_embeddings")
    model.compile(optimizer=optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def train(seed=0, samples=4000, test_samples=1000, epochs=10, sequence_length=16, vocab_size=12,
          embed_dim=32, num_heads=4, num_blocks=1, batch_size=64, verbose=0):
    """Trains the Transformer and the bag-of-embeddings baseline on the same data and scores
    both on fresh test sequences. Returns a dict with the accuracies ("transformer",
    "baseline", "majority": always guessing the most frequent training label), the trained
    "model" and the test data "x_test", "y_test"."""
    utils.set_random_seed(seed)
    x, y = make_order_task(samples, sequence_length, vocab_size, seed=seed)
    x_test, y_test = make_order_task(test_samples, sequence_length, vocab_size, seed=seed + 10_000)
    sizes = {"sequence_length": sequence_length, "vocab_size": vocab_size, "embed_dim": embed_dim}
    model = build_transformer(num_heads=num_heads, num_blocks=num_blocks, dense_dim=2 * embed_dim,
                              **sizes)
    baseline = build_bag_of_embeddings(dense_dim=2 * embed_dim, **sizes)
    for m in (model, baseline):
        m.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=verbose)
    majority = np.bincount(y, minlength=2).argmax()
    return {"transformer": float(model.evaluate(x_test, y_test, verbose=0)[1]),
            "baseline": float(baseline.evaluate(x_test, y_test, verbose=0)[1]),
            "majority": float(np.mean(y_test == majority)),
            "model": model, "x_test": x_test, "y_test": y_test}


def main(argv=None):
    ap = argparse.ArgumentParser(description="Train a small Transformer encoder on the "
                                             "'which comes first?' task; compare with baselines.")
    ap.add_argument("--samples", type=int, default=4000, help="training sequences")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--blocks", type=int, default=1, help="stacked TransformerEncoder blocks")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--verbose", type=int, default=0, help="fit's verbosity (0, 1 or 2)")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    result = train(seed=a.seed, samples=a.samples, epochs=a.epochs, num_blocks=a.blocks,
                   verbose=a.verbose)
    result["model"].summary()
    print(f"\nTest accuracy on 'does A come before B?' ({len(result['y_test'])} new sequences):")
    print(f"  Transformer encoder:  {result['transformer']:.1%}")
    print(f"  bag of embeddings:    {result['baseline']:.1%}  (sees which tokens occur, not where)")
    print(f"  majority class:       {result['majority']:.1%}")
    print(f"({time.perf_counter() - t0:.1f} s for both models)")


if __name__ == "__main__":
    main()
