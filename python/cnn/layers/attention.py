"""Attention layers: MultiHeadAttention, Attention (dot-product / "concat" scores) and
AdditiveAttention, built from engine ops, each a C kernel with a backward, so the layers
train in a compiled graph and on a GradientTape. MultiHeadAttention runs its attention as
one fused op, `sdpa` (csrc/ops_attention.c: scores, masking, softmax, dropout and the
weighted sum, reading the projections in their (batch, steps, heads * size) layout, so no
transposes); `return_attention_scores=True` adds its companion op `sdpa_probs`, which
recomputes the same probabilities (ops are single-output). Attention and
AdditiveAttention are composed (matmul, softmax, tanh, sum, mul, add, clip, dropout).

MultiHeadAttention's weights follow Keras 3 (names, shapes and order), so
`set_weights(keras_layer.get_weights())` works: query kernel (D_q, heads, key_dim) and
bias (heads, key_dim); key kernel (D_k, heads, key_dim) and bias; value kernel
(D_v, heads, value_dim) and bias; output kernel (heads, value_dim, *output_shape) and
bias (*output_shape). As in Keras, the projected query is multiplied by 1/sqrt(key_dim)
before the dot product, and a masked position's logit is replaced by -1e9 before the
softmax and its probability is set to 0 after it (Keras's Softmax(mask=...), so a fully
masked query step attends to nothing).
Inputs are rank 3, (batch, steps, features); attention runs over the steps axis."""
import math
import numbers

import numpy as np

from .. import backend, initializers, ops
from .keras_tensor import any_keras_tensor
from .layer import Layer, all_steps_mask, eager_masks
from .regularization import Dropout

__all__ = ["Attention", "AdditiveAttention", "MultiHeadAttention"]

_LARGE_NEGATIVE = -1e9  # Keras's _large_negative_number for float32
_PACKED = "_packed_inputs"  # call keyword: the inputs arrive as [query, value, key, (mask)]
_FIXED = "_fixed_training"


def _positive_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value > 0


def _binary_mask(mask):
    """Keras's MultiHeadAttention casts the mask to bool: nonzero keeps a position.
    Returns float 0/1. For tensors, two rounds of `clip(x * 1e30, 0, 1)` on |m| give
    exactly `m != 0` in float32 (the smallest nonzero |m|, 1.4e-45, becomes 1.4e-15 after
    one round and 1 after the second)."""
    if isinstance(mask, (backend.Tensor, backend.Symbol)):
        m = ops.abs(mask)
        for _ in range(2):
            m = ops.clip(ops.multiply(m, np.float32(1e30)), 0.0, 1.0)
        return m
    return (np.asarray(mask) != 0).astype(np.float32)


class MultiHeadAttention(Layer):
    """Multi-head dot-product attention as in "Attention Is All You Need" (Keras 3's layer).

    Each head projects query, key and value, computes
    `softmax(q k^T / sqrt(key_dim))` over the key steps (masked positions get -1e9 before
    the softmax), applies dropout to those probabilities, and weights the values; the
    heads are concatenated and projected back to the query's feature size (or
    `output_shape`).

    Args:
        num_heads: number of attention heads, a positive integer.
        key_dim: size of each head for query and key, a positive integer.
        value_dim: size of each head for value (default None: key_dim).
        dropout: dropout rate on the attention probabilities (default 0.0).
        use_bias: whether the projections have biases (default True).
        output_shape: the output's trailing shape, an int or tuple (default None: the
            query's last dimension).
        kernel_initializer: initializer of the four kernels (default "glorot_uniform").
        bias_initializer: initializer of the biases (default "zeros").
        seed: optional integer seeding the dropout.
        **kwargs: base Layer arguments (name, trainable, dtype, ...).

    Call arguments:
        query: (batch, T, dim) tensor.
        value: (batch, S, dim) tensor.
        key: optional (batch, S, dim) tensor (default: value).
        attention_mask: optional (batch, T, S) boolean mask (or broadcastable to it):
            True (or nonzero) where a query step may attend to a key step.
        return_attention_scores: also return the (batch, heads, T, S) attention
            probabilities (before dropout).
        training: whether dropout is active.
        use_causal_mask: mask out key steps after each query step (a lower-triangular
            mask, combined with attention_mask).
    """

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
                 output_shape=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", seed=None, **kwargs):
        if not _positive_int(num_heads):
            raise ValueError("Received an invalid value for argument `num_heads`, expected a "
                             f"positive integer. Received: num_heads={num_heads}")
        if not _positive_int(key_dim):
            raise ValueError("Received an invalid value for argument `key_dim`, expected a "
                             f"positive integer. Received: key_dim={key_dim}")
        if value_dim is not None and not _positive_int(value_dim):
            raise ValueError("Received an invalid value for argument `value_dim`, expected "
                             f"a positive integer or `None`. Received: value_dim={value_dim}")
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.key_dim = int(key_dim)
        self.value_dim = int(value_dim) if value_dim else self.key_dim
        self.use_bias = bool(use_bias)
        if output_shape:
            if isinstance(output_shape, numbers.Integral):
                output_shape = (output_shape,)
            try:
                output_shape = tuple(int(d) for d in output_shape)
            except (TypeError, ValueError):
                raise ValueError(f"Invalid `output_shape`: {output_shape}. When specified, "
                                 "the `output_shape` should be of type tuple, list, or "
                                 "int.") from None
        self._output_shape = output_shape or None
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.seed = seed
        self._dropout_layer = Dropout(dropout, seed=seed, name=f"{self.name}_dropout")
        self.dropout = self._dropout_layer.rate
        self._inverse_sqrt_key_dim = np.float32(1.0 / math.sqrt(float(self.key_dim)))

    def _sublayers(self):
        return [self._dropout_layer]

    # ---- calling ------------------------------------------------------------------

    # Inside a model the masks of query, value and key (Embedding(mask_zero=True),
    # Masking) arrive as `mask` and join the attention mask, as Keras 3's query_mask,
    # value_mask and key_mask do; the output carries the query's mask.
    supports_masking = True
    _consumes_mask = True

    def compute_mask(self, inputs, previous_mask):
        return previous_mask[0] if isinstance(previous_mask, (list, tuple)) else previous_mask

    def __call__(self, query, value=None, key=None, attention_mask=None,
                 return_attention_scores=False, training=None, use_causal_mask=False,
                 query_mask=None, value_mask=None, key_mask=None, **kwargs):
        if kwargs.get(_PACKED):  # a functional model replaying a recorded call
            if value is not None or key is not None or attention_mask is not None:
                raise TypeError(f"Layer '{self.name}': packed inputs take no separate "
                                "value, key or attention_mask")
            masks = list(kwargs.pop("mask", None) or [])[:3]
            if masks:
                kwargs["_step_masks"] = masks
            return super().__call__(query, training=training,
                                    return_attention_scores=bool(return_attention_scores),
                                    use_causal_mask=bool(use_causal_mask), **kwargs)
        if kwargs:
            raise TypeError(f"Unrecognized keyword argument(s) passed to layer '{self.name}' "
                            f"(MultiHeadAttention): {sorted(kwargs)}")
        if value is not None and not any_keras_tensor([query, value, key]):
            # Masks eager Tensors carry (Embedding(mask_zero=True), Masking before this
            # layer) apply as in a model. (Keras 3's eager result here matches neither its
            # model's nor any explicit masks: its model's rule is the one kept.)
            query_mask, value_mask, key_mask = (
                m if m is not None else eager_masks(x) for x, m in
                ((query, query_mask), (value, value_mask), (key, key_mask)))
        step_masks = [query_mask, value_mask, key_mask]
        if any(m is not None for m in step_masks) and any_keras_tensor([query, value, key]):
            raise ValueError(f"Layer '{self.name}': in a functional model the query, value "
                             "and key masks come from the layers before "
                             "(Embedding(mask_zero=True), Masking); pass an explicit "
                             "`attention_mask` instead.")
        if value is None and isinstance(query, (list, tuple)) and 2 <= len(query) <= 4:
            # [query, value, key, attention_mask] (a saved model config's node arguments)
            query, value, *rest = query
            key = rest[0] if rest and key is None else key
            if len(rest) == 2:
                if attention_mask is not None:
                    raise ValueError(f"Layer '{self.name}': two attention masks given")
                attention_mask = rest[1]
        if value is None:
            raise ValueError(f"Layer '{self.name}' (MultiHeadAttention) needs `query` and "
                             "`value` tensors: call it as layer(query, value).")
        inputs = [query, value, value if key is None else key]
        if attention_mask is not None:
            if any_keras_tensor(inputs) and not any_keras_tensor(attention_mask):
                raise ValueError(f"Layer '{self.name}': in a functional model the "
                                 "`attention_mask` must be a symbolic input too (an Input "
                                 "of the model).")
            inputs.append(attention_mask)
        call_kwargs = {_PACKED: True,
                       "return_attention_scores": bool(return_attention_scores),
                       "use_causal_mask": bool(use_causal_mask)}
        if training is not None and any_keras_tensor(inputs):
            call_kwargs[_FIXED] = bool(training)  # recorded on the Node, as Dropout does
        if any(m is not None for m in step_masks):
            call_kwargs["_step_masks"] = step_masks
        return super().__call__(inputs, training=training, **call_kwargs)

    def build(self, query_shape, value_shape=None, key_shape=None):
        if value_shape is None and isinstance(query_shape, list) and query_shape and \
                isinstance(query_shape[0], (list, tuple)):
            shapes = query_shape  # [query, value, key, (mask)] from a call
            query_shape, value_shape, key_shape = shapes[0], shapes[1], shapes[2]
        if value_shape is None:
            raise ValueError(f"Layer '{self.name}': build needs query_shape and value_shape")
        query_shape, value_shape = tuple(query_shape), tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        self._check_shapes(query_shape, value_shape, key_shape)
        heads = self.num_heads
        out_shape = self._output_shape or (query_shape[-1],)

        def dense(name, in_dim, kernel_tail, bias_shape):
            kernel = self.add_weight(shape=(in_dim,) + kernel_tail,
                                     initializer=self._fresh(self.kernel_initializer),
                                     name=f"{name}/kernel")
            bias = (self.add_weight(shape=bias_shape,
                                    initializer=self._fresh(self.bias_initializer),
                                    name=f"{name}/bias") if self.use_bias else None)
            return kernel, bias

        self.query_kernel, self.query_bias = dense(
            "query", query_shape[-1], (heads, self.key_dim), (heads, self.key_dim))
        self.key_kernel, self.key_bias = dense(
            "key", key_shape[-1], (heads, self.key_dim), (heads, self.key_dim))
        self.value_kernel, self.value_bias = dense(
            "value", value_shape[-1], (heads, self.value_dim), (heads, self.value_dim))
        self.output_kernel, self.output_bias = dense(
            "attention_output", heads, (self.value_dim,) + tuple(out_shape), tuple(out_shape))
        self.built = True

    @staticmethod
    def _fresh(init):
        """A clone per weight, as Keras does, so seeded initializers do not repeat."""
        if hasattr(init, "get_config") and hasattr(type(init), "from_config"):
            return type(init).from_config(init.get_config())
        return init

    def _check_shapes(self, query_shape, value_shape, key_shape):
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError("All dimensions of `value` and `key`, except the last one, must "
                             f"be equal. Received: value_shape={value_shape} and "
                             f"key_shape={key_shape}")
        for what, shape in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if len(shape) != 3:
                raise ValueError(f"Layer '{self.name}' (MultiHeadAttention) supports rank-3 "
                                 f"(batch, steps, features) inputs; received {what} of shape "
                                 f"{shape}")
            if shape[-1] is None:
                raise ValueError(f"Layer '{self.name}': the last axis of `{what}` must be "
                                 f"known; received shape {shape}")

    def _project(self, x, kernel, bias, heads, size):
        """(B, steps, D) @ kernel (D, heads, size) + bias -> (B, steps, heads * size): the
        layout sdpa reads as (B, steps, heads, size), so no transpose is needed."""
        y = ops.matmul(x, ops.reshape(kernel, (kernel.shape[0], heads * size)))
        if bias is not None:
            y = ops.add(y, ops.reshape(bias, (heads * size,)))
        return y

    def call(self, inputs, training=None, return_attention_scores=False, use_causal_mask=False,
             _packed_inputs=True, _fixed_training=None, _step_masks=None):
        query, value, key = inputs[:3]
        attention_mask = inputs[3] if len(inputs) > 3 else None
        if _step_masks is not None:
            attention_mask = _join_step_masks(attention_mask,
                                              *(list(_step_masks) + [None] * 3)[:3])
        if not isinstance(query, (backend.Tensor, backend.Symbol)):
            query = backend.convert_to_tensor(query)
        self._check_shapes(tuple(query.shape), tuple(value.shape), tuple(key.shape))
        t, s = query.shape[1], value.shape[1]
        if t is None or s is None:
            raise ValueError(f"Layer '{self.name}' (MultiHeadAttention) needs known sequence "
                             f"lengths; received query steps {t} and value steps {s}")
        heads = self.num_heads
        q = self._project(query, self.query_kernel, self.query_bias, heads, self.key_dim)
        k = self._project(key, self.key_kernel, self.key_bias, heads, self.key_dim)
        v = self._project(value, self.value_kernel, self.value_bias, heads, self.value_dim)
        mask = []
        if attention_mask is not None:  # sdpa reads nonzero as "attend", as Keras's bool cast
            symbolic = isinstance(attention_mask, (backend.Tensor, backend.Symbol))
            mask = [attention_mask if symbolic else _binary_mask(attention_mask)]
        # sdpa's ints: heads folded into the features, causal, a mask (not a bias), Keras's
        # MultiHeadAttention masking (-1e9 logits, masked probabilities 0), dropout mode
        # (follow the run) and the Dropout sublayer's seed attribute.
        ints = [heads, int(bool(use_causal_mask)), 0, 0, 0, self._dropout_layer._seed_attr]
        floats = [float(self._inverse_sqrt_key_dim), self.dropout]
        on, seed = False, None
        if self.dropout > 0 and not isinstance(q, backend.Symbol):
            # eager: the Dropout sublayer's rule and seed stream
            on = bool(training) if training is not None else bool(_fixed_training)
            seed = self._dropout_layer._next_seed() if on else None
        out = backend.op("sdpa", [q, k, v] + mask, ints, floats, training=on, seed=seed)
        out = self._output_projection(out, t)  # (B, T, heads * value_dim) -> output shape
        if return_attention_scores:  # the same probabilities, before dropout, (B, heads, T, S)
            return out, backend.op("sdpa_probs", [q, k] + mask, ints, floats)
        return out

    def _output_projection(self, out, t):
        """(B, T, heads * value_dim) -> (B, T, *output_shape) through the output dense."""
        heads = self.num_heads
        out_shape = tuple(self.output_kernel.shape[2:])
        out = ops.matmul(out, ops.reshape(self.output_kernel,
                                          (heads * self.value_dim, int(np.prod(out_shape)))))
        if len(out_shape) != 1:
            out = ops.reshape(out, (-1, t) + out_shape)
        if self.output_bias is not None:
            out = ops.add(out, self.output_bias)
        return out

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self.value_dim, "dropout": self.dropout, "use_bias": self.use_bias,
                "output_shape": self._output_shape,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "seed": self.seed}


def _join_step_masks(attention_mask, query_mask, value_mask, key_mask):
    """Keras 3's automatic attention mask: query_mask (B, T) as (B, T, 1), value_mask and
    key_mask (B, S) as (B, 1, S), ANDed (0/1 products) with the attention mask."""
    def value_of(m):
        return m if isinstance(m, (backend.Tensor, backend.Symbol)) else _binary_mask(m)
    parts = []
    if query_mask is not None:
        m = value_of(query_mask)
        parts.append(backend.op("reshape", [m], ints=[-1, m.shape[1], 1]))
    for m in (value_mask, key_mask):
        if m is not None:
            m = value_of(m)
            parts.append(backend.op("reshape", [m], ints=[-1, 1, m.shape[1]]))
    if attention_mask is not None:
        parts.append(value_of(attention_mask))
    if not parts:
        return None
    out = parts[0]
    for m in parts[1:]:
        out = backend.op("mul", [out, m])
    return out


class _DotAttentionBase(Layer):
    """Shared call logic of Attention and AdditiveAttention (Keras 3's semantics): scores
    from query and key, masked positions get `score - 1e9` (value mask and/or causal
    mask), softmax over the value steps, dropout on those weights in training, weights @
    value, and the query mask zeroes masked query steps of the output.

    Called as `layer([query, value])` or `layer([query, value, key])` with optional
    `mask=[query_mask, value_mask]` ((batch, Tq) and (batch, Tv), boolean or nonzero =
    kept). The inputs and masks travel as one list, [query, value, key, value_mask] or
    [query, value, key, query_mask, value_mask], which is also what a saved model config
    records and what a call may give directly."""

    # Inside a model the masks of query and value (Embedding(mask_zero=True), Masking)
    # arrive as `mask=[query_mask, value_mask, (key_mask)]`, as Keras passes them; the key
    # mask is ignored, as in Keras, and the output carries the query's mask.
    supports_masking = True
    _consumes_mask = True

    def compute_mask(self, inputs, previous_mask):
        if isinstance(inputs, (list, tuple)) and len(inputs) == 5:
            return self._masked(inputs[3])  # a query mask given as an input of the call
        if isinstance(previous_mask, (list, tuple)):
            return previous_mask[0] if previous_mask else None
        return previous_mask

    def __init__(self, use_scale=False, dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.use_scale = bool(use_scale)
        self.seed = seed
        self._dropout_layer = Dropout(dropout, seed=seed, name=f"{self.name}_dropout")
        self.dropout = self._dropout_layer.rate
        self.scale = None

    def _sublayers(self):
        return [self._dropout_layer]

    def _validate_inputs(self, inputs, mask):
        name = type(self).__name__
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"{name} layer must be called on a list of inputs, namely "
                             f"[query, value] or [query, value, key]. Received: "
                             f"inputs={inputs}.")
        if len(inputs) < 2 or len(inputs) > 5 or (mask is not None and len(inputs) > 3):
            raise ValueError(f"{name} layer accepts inputs list of length 2 or 3, namely "
                             f"[query, value] or [query, value, key]. Received length: "
                             f"{len(inputs)}.")
        if mask is not None:
            if not isinstance(mask, (list, tuple)):
                raise ValueError(f"{name} layer mask must be a list, namely [query_mask, "
                                 f"value_mask]. Received: mask={mask}.")
            if len(mask) < 2 or len(mask) > 3:
                raise ValueError(f"{name} layer accepts mask list of length 2 or 3. "
                                 f"Received: inputs={inputs}, mask={mask}.")

    def __call__(self, inputs, mask=None, training=None, return_attention_scores=False,
                 use_causal_mask=False, **kwargs):
        self._validate_inputs(inputs, mask)
        if mask is None and not any_keras_tensor(inputs):
            carried = eager_masks(list(inputs))  # from Embedding(mask_zero=True), Masking
            if any(m is not None for m in carried[:2]):
                mask = carried[:2]
        inputs = list(inputs)
        if len(inputs) == 2:
            inputs.append(inputs[1])
        if mask is not None:
            q_mask, v_mask = mask[0], mask[1]
            if v_mask is None and q_mask is not None:
                if any_keras_tensor(inputs):
                    raise ValueError(f"Layer '{self.name}': in a functional model give both "
                                     "masks, [query_mask, value_mask], as model inputs.")
                v_mask = all_steps_mask(inputs[1])
            if v_mask is not None:
                inputs.append(v_mask)
            if q_mask is not None:
                inputs.insert(3, q_mask)
            if any_keras_tensor(inputs[:3]) and not all(
                    any_keras_tensor(m) for m in inputs[3:]):
                raise ValueError(f"Layer '{self.name}': in a functional model the masks "
                                 "must be symbolic inputs too (Inputs of the model).")
        call_kwargs = {"return_attention_scores": bool(return_attention_scores),
                       "use_causal_mask": bool(use_causal_mask)}
        if training is not None and any_keras_tensor(inputs):
            call_kwargs[_FIXED] = bool(training)
        return super().__call__(inputs, training=training, **call_kwargs, **kwargs)

    def build(self, input_shape):
        shapes = [tuple(s) for s in input_shape]
        self._check_shapes(shapes)
        self._build_scores(shapes[0][-1])
        self.built = True

    def _build_scores(self, dim):
        pass

    def _check_shapes(self, shapes):
        q, v, k = shapes[:3]
        for what, shape in (("query", q), ("value", v), ("key", k)):
            if len(shape) != 3:
                raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) supports "
                                 f"rank-3 (batch, steps, features) inputs; received {what} "
                                 f"of shape {shape}")
        if v[1] is not None and k[1] is not None and v[1] != k[1]:
            raise ValueError(f"Layer '{self.name}': `value` and `key` need the same number "
                             f"of steps; received value {v} and key {k}")

    def _masked(self, m):
        return m if m is None else _binary_mask(m)

    def call(self, inputs, training=None, return_attention_scores=False, use_causal_mask=False,
             _fixed_training=None):
        query, value, key = inputs[:3]
        if not isinstance(query, (backend.Tensor, backend.Symbol)):
            query = backend.convert_to_tensor(query)
        self._check_shapes([tuple(x.shape) for x in (query, value, key)])
        q_mask = self._masked(inputs[3]) if len(inputs) == 5 else None
        v_mask = self._masked(inputs[-1]) if len(inputs) >= 4 else None
        tq, tv = query.shape[1], key.shape[1]
        scores = self._calculate_scores(query, key)  # (B, Tq, Tv)
        mask = None
        if v_mask is not None:
            mask = (v_mask[:, None, :] if isinstance(v_mask, np.ndarray)
                    else ops.expand_dims(v_mask, 1))
        if use_causal_mask:
            if tq is None or tv is None:
                raise ValueError(f"Layer '{self.name}': a causal mask needs known sequence "
                                 f"lengths; received {tq} and {tv}")
            causal = np.tril(np.ones((tq, tv), np.float32)).reshape(1, tq, tv)
            mask = causal if mask is None else (
                mask * causal if isinstance(mask, np.ndarray) else ops.multiply(mask, causal))
        if mask is not None:  # Keras: where(mask, scores, scores - 1e9)
            fill = ((np.float32(1.0) - mask) * np.float32(_LARGE_NEGATIVE)
                    if isinstance(mask, np.ndarray) else
                    ops.multiply(ops.subtract(np.float32(1.0), mask),
                                 np.float32(_LARGE_NEGATIVE)))
            scores = ops.add(scores, fill)
        weights = ops.softmax(scores, axis=-1)
        dropped = weights
        if self.dropout > 0:
            kw = {} if _fixed_training is None else {_FIXED: _fixed_training}
            dropped = self._dropout_layer(weights, training=training, **kw)
        out = ops.matmul(dropped, value)
        if q_mask is not None:
            out = ops.multiply(out, q_mask[:, :, None] if isinstance(q_mask, np.ndarray)
                               else ops.expand_dims(q_mask, -1))
        if return_attention_scores:
            return out, weights
        return out

    def get_config(self):
        return {**super().get_config(), "use_scale": self.use_scale, "dropout": self.dropout,
                "seed": self.seed}


class Attention(_DotAttentionBase):
    """Dot-product attention layer, a.k.a. Luong-style attention (Keras 3's layer).

    scores = query @ key^T (times a learned scalar `scale` if use_scale); or, with
    score_mode="concat", `concat_score_weight * sum(tanh(scale * (query + key)), -1)`
    over every (query step, key step) pair. Then see `_DotAttentionBase`: masking,
    softmax, dropout, weights @ value.

    Args:
        use_scale: learn a scalar scale of the scores (initialized to 1).
        score_mode: "dot" or "concat".
        dropout: dropout rate on the attention weights (training only).
        seed: optional integer seeding the dropout.

    Call arguments:
        inputs: [query (batch, Tq, dim), value (batch, Tv, dim)] or [query, value, key].
        mask: optional [query_mask (batch, Tq), value_mask (batch, Tv)].
        training, return_attention_scores, use_causal_mask: as in Keras.
    """

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(use_scale=use_scale, dropout=dropout, seed=seed, **kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError("Invalid value for argument score_mode. Expected one of "
                             f"{{'dot', 'concat'}}. Received: score_mode={score_mode}")
        self.score_mode = score_mode
        self.concat_score_weight = None

    def _build_scores(self, dim):
        if self.use_scale:
            self.scale = self.add_weight(shape=(), initializer="ones", name="scale")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight(shape=(), initializer="ones",
                                                       name="concat_score_weight")

    def _calculate_scores(self, query, key):
        if self.score_mode == "dot":
            scores = ops.matmul(query, ops.transpose(key, (0, 2, 1)))
            return scores if self.scale is None else ops.multiply(scores, self.scale)
        pairs = ops.add(ops.expand_dims(query, 2), ops.expand_dims(key, 1))
        if self.scale is not None:
            pairs = ops.multiply(self.scale, pairs)
        return ops.multiply(self.concat_score_weight, ops.sum(ops.tanh(pairs), axis=-1))

    def get_config(self):
        return {**super().get_config(), "score_mode": self.score_mode}


class AdditiveAttention(_DotAttentionBase):
    """Additive attention layer, a.k.a. Bahdanau-style attention (Keras 3's layer).

    scores = sum(scale * tanh(query + key), -1) over every (query step, key step) pair,
    with a learned `scale` vector of the feature size (glorot_uniform) if use_scale
    (default True). Masking, softmax, dropout and weights @ value as in `Attention`.

    Args:
        use_scale: learn the (dim,) scale vector (default True).
        dropout: dropout rate on the attention weights (training only).
        seed: optional integer seeding the dropout.
    """

    def __init__(self, use_scale=True, dropout=0.0, seed=None, **kwargs):
        super().__init__(use_scale=use_scale, dropout=dropout, seed=seed, **kwargs)

    def _build_scores(self, dim):
        if self.use_scale:
            self.scale = self.add_weight(shape=(dim,), initializer="glorot_uniform",
                                         name="scale")

    def _calculate_scores(self, query, key):
        pairs = ops.tanh(ops.add(ops.expand_dims(query, 2), ops.expand_dims(key, 1)))
        if self.scale is not None:
            pairs = ops.multiply(self.scale, pairs)
        return ops.sum(pairs, axis=-1)
