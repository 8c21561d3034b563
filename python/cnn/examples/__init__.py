"""Worked examples, each runnable as a module and written to be read:

- `python -m cnn.examples.transformer`: a Transformer encoder (MultiHeadAttention, feed-forward,
  residual connections, LayerNormalization) with learned positional embeddings, built as
  custom layers from cnn's public layers, on a sequence task that a bag of embeddings cannot
  solve.

Importing this package loads nothing else; import the example you want."""
