"""Recurrent layers on fused engine ops: SimpleRNN, LSTM and GRU each run the whole sequence
in one op ("simple_rnn", "lstm", "gru": one GEMM for the input projection of every step, one
per step for the recurrence, BPTT in its backward). Initial states, the mask, dropout and
the final states (return_state) are handled inside the op.

Dropout (a documented difference): Keras 3 draws one input mask per sample and feature,
shared by every step, when only `dropout` is set; with `recurrent_dropout` it switches to a
separate mask per gate. cnn always draws one input mask and one recurrent mask per sample,
each shared by every step and every gate. Masks are random either way, so no run can match
Keras's numbers; the expectation and the training-only rule are the same."""
import numpy as np

from .. import activations, backend, initializers, regularizers
from .keras_tensor import any_keras_tensor
from .layer import Layer, shape_of

# Activation codes of the engine's recurrent ops (csrc/ops_recurrent.c).
_ACT_CODES = {"tanh": 0, "sigmoid": 1, "relu": 2, "linear": 3, "hard_sigmoid": 4}


def _act_code(identifier, what):
    fn = activations.get(identifier)
    for name, code in _ACT_CODES.items():
        if fn is activations.get(name):
            return name, code
    raise ValueError(f"`{what}` must be one of {sorted(_ACT_CODES)} (the activations the fused "
                     f"recurrent op implements). Received: {what}={identifier!r}")


def _reject(kwargs, cls, names):
    bad = sorted(k for k in names if k in kwargs)
    if bad:
        raise TypeError(f"Unrecognized keyword argument(s) passed to {cls}: {bad}")


class _UnitForgetBias:
    """Keras's LSTM bias with unit_forget_bias: the forget gate's slice is ones."""

    def __init__(self, init, units):
        self.init, self.units = init, units

    def __call__(self, shape, dtype=None):
        u = self.units
        return np.concatenate([np.asarray(self.init((u,)), np.float32), np.ones(u, np.float32),
                               np.asarray(self.init((2 * u,)), np.float32)])


# Flags of the fused ops (csrc/rnn_common.h).
_HAS_BIAS, _HAS_STATE, _HAS_MASK, _EMIT, _ZERO_MASKED, _RESET_BEFORE = 1, 2, 4, 8, 16, 32
_WRITE_STATES = 64
_N_STATES = "_n_states"  # call keyword of a recorded call: inputs are [x, *states(, mask)]
_HAS_MASK_INPUT = "_mask_input"


def _rate(value):
    """Keras clamps dropout rates into [0, 1]."""
    return min(1.0, max(0.0, float(value)))


def _as_list(states):
    if states is None:
        return []
    return list(states) if isinstance(states, (list, tuple)) else [states]


def _float_mask(mask):
    """A (batch, timesteps) mask as float32 0/1 (bool arrays from users) or a graph value."""
    if isinstance(mask, (backend.Tensor, backend.Symbol)):
        return mask
    return np.asarray(mask).astype(np.float32)


class SequenceCall:
    """The call of a layer over sequences with optional `initial_state` and `mask` tensors
    (the recurrent layers, Bidirectional): called on symbolic tensors, the states and an
    explicit mask join the recorded node's inputs, so the graph knows what the call depends
    on; a model replaying the node unpacks them, and a model config writes them back as
    Keras's keyword arguments."""

    def __call__(self, inputs, initial_state=None, mask=None, training=None, **kwargs):
        n_states = kwargs.pop(_N_STATES, None)
        if n_states is not None:  # a functional model replaying a packed call
            flat = list(inputs)
            inputs, initial_state = flat[0], (flat[1:1 + n_states] or None)
            if kwargs.pop(_HAS_MASK_INPUT, False):
                mask = flat[1 + n_states]
            elif n_states:
                # Keras 3 hands a layer its input's mask only when the sequence is its sole
                # tensor argument: with initial states the propagated mask is not applied.
                mask = None
        if kwargs:
            raise TypeError(f"Unrecognized keyword argument(s) passed to layer '{self.name}' "
                            f"({type(self).__name__}): {sorted(kwargs)}")
        states = _as_list(initial_state)
        if any_keras_tensor([inputs] + states + ([mask] if mask is not None else [])):
            if not states and mask is None:
                return Layer.__call__(self, inputs, training=training)
            extra = {_N_STATES: len(states)}
            packed = [inputs] + states
            if mask is not None:
                if not any_keras_tensor(mask):
                    raise ValueError(f"Layer '{self.name}': in a functional model an explicit "
                                     "`mask` must be a symbolic tensor too.")
                packed.append(mask)
                extra[_HAS_MASK_INPUT] = True
            return Layer.__call__(self, packed, training=training, **extra)
        return Layer.__call__(self, inputs, training=training, initial_state=states or None,
                              mask=mask)

    def _node_call_arguments(self, node):
        n_states = node.kwargs.get(_N_STATES)
        if n_states is None:
            return [node.inputs], {}
        flat = list(node.inputs)
        kwargs = {"initial_state": flat[1:1 + n_states]} if n_states else {}
        if node.kwargs.get(_HAS_MASK_INPUT):
            kwargs["mask"] = flat[1 + n_states]
        return [flat[0]], kwargs


class _FusedRNN(SequenceCall, Layer):
    """Shared machinery of the fused recurrent layers: weights kernel, recurrent_kernel and
    bias in Keras's layout, one engine op over the whole sequence (initial states, mask,
    dropout and the final states inside it), the last step and the states sliced out."""
    _op, _gates, _n_states = None, 1, 1
    _consumes_mask = True
    _keras_cell_name = None  # Keras saves the weights on the layer's cell ("lstm_cell")

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, unroll=False,
                 zero_output_for_mask=False, **kwargs):
        kwargs.pop("use_cudnn", None)  # Keras's backend choice; the fused op is the only path
        kwargs.pop("implementation", None)
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError("Received an invalid value for argument `units`, expected a "
                             f"positive integer, got {units!r}.")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise ValueError(f"Layer '{self.name}': `seed` must be an integer; received "
                             f"seed={seed!r}")
        self.units = units
        self._act_name, self._act = _act_code(activation, "activation")
        self._ract_name, self._ract = _act_code(recurrent_activation, "recurrent_activation")
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.dropout = _rate(dropout)
        self.recurrent_dropout = _rate(recurrent_dropout)
        self.seed = seed
        # Op attribute: 0 means "no layer seed"; eager calls of a seeded layer count draws.
        self._seed_attr = 0 if seed is None else seed % (2**62) + 1
        self._eager_draws = 0
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.states = None  # stateful: non-trainable variables (batch, units), one per state
        self.unroll = bool(unroll)  # accepted: the fused op computes the same either way
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.supports_masking = True  # output mask: the input's with return_sequences
        self.kernel = self.recurrent_kernel = self.bias = None

    def _split_shapes(self, input_shape):
        """The sequence shape from build's argument (several shapes when states or a mask
        were packed with it)."""
        if isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], (list, tuple)):
            return tuple(input_shape[0])
        return tuple(input_shape)

    def _check_sequence(self, shape):
        if len(shape) != 3:
            raise ValueError(f"Input 0 of layer '{self.name}' is incompatible with the layer: "
                             f"expected ndim=3, found ndim={len(shape)}. Full shape "
                             f"received: {shape}")
        if self.kernel is not None and shape[-1] is not None and shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"Input 0 of layer '{self.name}' is incompatible with the layer: "
                             f"expected axis -1 of input shape to have value "
                             f"{self.kernel.shape[0]}, but received input with shape {shape}")

    def build(self, input_shape):
        input_shape = self._split_shapes(input_shape)
        self._check_sequence(input_shape)
        features = input_shape[-1]
        if features is None:
            raise ValueError(f"Layer '{self.name}' needs a known last axis to build; received "
                             f"input shape {input_shape}")
        u = self.units
        g = self._gates
        self.kernel = self.add_weight(shape=(features, g * u), initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(u, g * u),
                                                initializer=self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer,
                                                name="recurrent_kernel")
        if self.use_bias:
            shape, init = self._bias_shape_and_init()
            self.bias = self.add_weight(shape=shape, initializer=init,
                                        regularizer=self.bias_regularizer, name="bias")
        if self.stateful:
            self._create_states(input_shape[0])
        self.built = True

    def _create_states(self, batch):
        if batch is None:
            raise ValueError(f"Layer '{self.name}': when using `stateful=True` in a RNN, the "
                             "batch size must be static. Give the model's Input a batch size "
                             "(`Input(shape, batch_size=...)`); received sequence shape with "
                             "a dynamic batch size.")
        # Not weights (as Keras): they are not saved, trained or returned by get_weights.
        self.states = [backend.Variable(np.zeros((batch, self.units), np.float32),
                                        name="rnn_state", trainable=False)
                       for _ in range(self._n_states)]

    def reset_states(self, states=None):
        """Stateful layers: sets the carried states to zeros, or to `states` (one array per
        state, each (batch, units))."""
        if self.states is None:
            return
        values = _as_list(states) if states is not None else [None] * len(self.states)
        if len(values) != len(self.states):
            raise ValueError(f"Layer '{self.name}' expects {len(self.states)} state(s); "
                             f"received {len(values)}")
        for var, value in zip(self.states, values):
            value = np.zeros(var.shape, np.float32) if value is None else np.asarray(value, np.float32)
            if value.shape != tuple(var.shape):
                raise ValueError(f"Layer '{self.name}': state shape {tuple(var.shape)} cannot "
                                 f"take a value of shape {value.shape}")
            var.assign(value)

    reset_state = reset_states

    def _bias_shape_and_init(self):
        u = self.units
        if self._gates == 1:
            return (u,), self.bias_initializer
        init = (_UnitForgetBias(self.bias_initializer, u) if self.unit_forget_bias
                else self.bias_initializer)
        return (4 * u,), init

    def _cell_flags(self):
        return 0

    def _check_states(self, states, x_shape):
        if len(states) != self._n_states:
            raise ValueError(f"Layer '{self.name}' ({type(self).__name__}) expects "
                             f"{self._n_states} initial state(s) of shape (batch, "
                             f"{self.units}); received {len(states)}")
        for k, state in enumerate(states):
            shape = tuple(shape_of(state))
            if len(shape) != 2 or shape[1] != self.units or (
                    shape[0] is not None and x_shape[0] is not None and shape[0] != x_shape[0]):
                raise ValueError(f"Layer '{self.name}': initial state {k} must have shape "
                                 f"(batch, units) = ({x_shape[0]}, {self.units}); received "
                                 f"{shape}")

    def _check_mask(self, mask, x_shape):
        shape = tuple(shape_of(mask))
        if len(shape) != 2 or (shape[1] is not None and shape[1] != x_shape[1]) or (
                shape[0] is not None and x_shape[0] is not None and shape[0] != x_shape[0]):
            raise ValueError(f"Layer '{self.name}': the mask must have shape (batch, "
                             f"timesteps) = {x_shape[:2]}; received {shape}")

    def _next_seed(self):
        if self.seed is None:
            return backend.next_seed()
        self._eager_draws += 1
        return self._eager_draws

    def call(self, inputs, initial_state=None, mask=None, training=None):
        x_shape = tuple(shape_of(inputs))
        self._check_sequence(x_shape)
        weights = [self.kernel, self.recurrent_kernel] + ([self.bias] if self.use_bias else [])
        flags = (_HAS_BIAS if self.use_bias else 0) | self._cell_flags()
        extra = []
        states = _as_list(initial_state)
        if not states and self.stateful:  # the last batch's final states, written back
            states = list(self.states)
            flags |= _WRITE_STATES
        if states:
            self._check_states(states, x_shape)
            extra += states
            flags |= _HAS_STATE
        if mask is not None:
            mask = _float_mask(mask)
            self._check_mask(mask, x_shape)
            extra.append(mask)
            flags |= _HAS_MASK | (_ZERO_MASKED if self.zero_output_for_mask else 0)
        if self.return_state:
            flags |= _EMIT
        steps = x_shape[1]
        if steps is None:
            raise ValueError(f"Layer '{self.name}' needs a known number of timesteps; "
                             f"received input shape {x_shape}")
        if steps == 0 and not self.return_sequences:
            raise ValueError(f"Layer '{self.name}' received an input with 0 timesteps; it has "
                             f"no last step to return (shape {x_shape})")
        ints = [int(self.go_backwards), self._act, self._ract, flags, self._seed_attr]
        floats = [self.dropout, self.recurrent_dropout]
        stochastic = self.dropout > 0 or self.recurrent_dropout > 0
        eager_training = bool(training) and stochastic
        seq = backend.op(self._op, [inputs] + weights + extra, ints=ints, floats=floats,
                         training=eager_training,
                         seed=self._next_seed() if eager_training else None)
        u = self.units
        if self.return_sequences:
            out = seq if not self.return_state else backend.op(
                "slice", [seq], ints=[0, 0, 0, -1, steps, -1])
        else:
            out = self._row(seq, steps - 1)
        if not self.return_state:
            return out
        return [out] + [self._row(seq, steps + k) for k in range(self._n_states)]

    def _row(self, seq, index):
        row = backend.op("slice", [seq], ints=[0, index, 0, -1, 1, -1])
        return backend.op("reshape", [row], ints=[-1, self.units])

    def compute_mask(self, inputs, previous_mask):
        mask = previous_mask[0] if isinstance(previous_mask, list) else previous_mask
        out = mask if self.return_sequences else None
        return [out] + [None] * self._n_states if self.return_state else out

    def compute_output_shape(self, input_shape):
        input_shape = self._split_shapes(input_shape)
        out = input_shape[:2] + (self.units,) if self.return_sequences else (
            input_shape[0], self.units)
        if self.return_state:
            return [out] + [(input_shape[0], self.units)] * self._n_states
        return out

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": self._act_name, "recurrent_activation": self._ract_name,
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "unit_forget_bias": self.unit_forget_bias,
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
                "seed": self.seed, "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards,
                "stateful": self.stateful, "unroll": self.unroll,
                "zero_output_for_mask": self.zero_output_for_mask}


_COMMON_ARGS_DOC = """
        kernel_initializer: initializer of the kernel (default "glorot_uniform").
        recurrent_initializer: initializer of the recurrent kernel (default "orthogonal").
        bias_initializer: initializer of the bias (default "zeros").
        kernel_regularizer, recurrent_regularizer, bias_regularizer: regularizers of the
            weights (default None).
        activity_regularizer: regularizer of the output (default None).
        dropout: fraction of the input units to drop in training (default 0). One mask per
            sample and feature, shared by every step and gate (see the module notes).
        recurrent_dropout: fraction of the recurrent state's units to drop in training, one
            mask per sample and unit shared by every step and gate (default 0).
        seed: integer seed of the dropout masks (default None).
        return_sequences: return the output of every step (batch, timesteps, units) instead
            of the last one (batch, units) (default False).
        return_state: also return the final state(s): `[output, *states]` (default False).
        go_backwards: process the sequence from its end; with return_sequences the output
            is in processing order, i.e. reversed, as Keras (default False).
        stateful: carry each sample's final states into the next batch as its initial
            states (default False); needs a fixed batch size (`Input(shape, batch_size=n)`),
            and `reset_states()` zeros them. Training and inference both move them on.
        unroll: accepted; the fused op computes the same either way.
        zero_output_for_mask: with a mask, zeros (instead of the previous output) at masked
            steps (default False).
        **kwargs: base Layer arguments (name, trainable, dtype, input_shape, ...).

    Call arguments:
        sequences: (batch, timesteps, features).
        initial_state: a list of the initial state tensor(s), each (batch, units); zeros
            by default.
        mask: (batch, timesteps) booleans or 0/1: False skips that step (the states carry
            over). Layers such as `Embedding(mask_zero=True)` and `Masking` pass one
            automatically inside a model.
        training: whether dropout is on (`fit` passes True).
"""


class LSTM(_FusedRNN):
    """Long Short-Term Memory (Hochreiter & Schmidhuber, 1997) over (batch, timesteps,
    features) inputs, Keras 3's cell: gates i, f, c, o from
    `x_t @ kernel + h @ recurrent_kernel + bias`, `c = f * c + i * activation(g)`,
    `h = o * activation(c)`. States [h, c].

    Weights (Keras's layout, so `set_weights` takes Keras's `get_weights()`): kernel
    (features, 4 * units), recurrent_kernel (units, 4 * units), bias (4 * units,).

    Args:
        units: size of the hidden state, a positive integer.
        activation: "tanh" (default), "sigmoid", "relu", "linear" or "hard_sigmoid".
        recurrent_activation: the gates' activation, one of the same (default "sigmoid").
        use_bias: whether to add the bias (default True).
        unit_forget_bias: initialise the forget gate's bias to ones (default True), as
            Keras, on top of `bias_initializer` for the other gates."""
    _op, _gates, _n_states = "lstm", 4, 2
    _keras_cell_name = "lstm_cell"

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 dropout=0.0, recurrent_dropout=0.0, seed=None, return_sequences=False,
                 return_state=False, go_backwards=False, stateful=False, unroll=False,
                 zero_output_for_mask=False, **kwargs):
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation,
                         use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, unit_forget_bias=unit_forget_bias,
                         kernel_regularizer=kernel_regularizer,
                         recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer, dropout=dropout,
                         recurrent_dropout=recurrent_dropout, seed=seed,
                         return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         zero_output_for_mask=zero_output_for_mask, **kwargs)


class GRU(_FusedRNN):
    """Gated Recurrent Unit (Cho et al., 2014) over (batch, timesteps, features) inputs,
    Keras 3's cell, gate order z, r, h. With reset_after=True (the default):
    `xp = x_t @ kernel + bias[0]`, `q = h @ recurrent_kernel + bias[1]`,
    `z = recurrent_activation(xp_z + q_z)`, `r = recurrent_activation(xp_r + q_r)`,
    `hh = activation(xp_h + r * q_h)`; with reset_after=False the reset gate applies before
    the product: `hh = activation(xp_h + (r * h) @ recurrent_kernel_h)`, one bias. Both:
    `h = z * h + (1 - z) * hh`. State [h].

    Weights (Keras's layout): kernel (features, 3 * units), recurrent_kernel (units,
    3 * units), bias (2, 3 * units) with reset_after, else (3 * units,).

    Args:
        units: size of the hidden state, a positive integer.
        activation: "tanh" (default), "sigmoid", "relu", "linear" or "hard_sigmoid".
        recurrent_activation: the gates' activation, one of the same (default "sigmoid").
        use_bias: whether to add the biases (default True).
        reset_after: where the reset gate applies (default True, Keras 3's default)."""
    _op, _gates, _n_states = "gru", 3, 1
    _keras_cell_name = "gru_cell"

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, reset_after=True,
                 zero_output_for_mask=False, **kwargs):
        _reject(kwargs, "GRU", ("unit_forget_bias",))
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation,
                         use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, unit_forget_bias=False,
                         kernel_regularizer=kernel_regularizer,
                         recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer, dropout=dropout,
                         recurrent_dropout=recurrent_dropout, seed=seed,
                         return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         zero_output_for_mask=zero_output_for_mask, **kwargs)
        self.reset_after = bool(reset_after)

    def _bias_shape_and_init(self):
        shape = (2, 3 * self.units) if self.reset_after else (3 * self.units,)
        return shape, self.bias_initializer

    def _cell_flags(self):
        return 0 if self.reset_after else _RESET_BEFORE

    def get_config(self):
        config = super().get_config()
        del config["unit_forget_bias"]
        return {**config, "reset_after": self.reset_after}


class SimpleRNN(_FusedRNN):
    """Fully-connected RNN over (batch, timesteps, features) inputs:
    `h = activation(x_t @ kernel + h @ recurrent_kernel + bias)`. State [h].

    Weights (Keras's layout): kernel (features, units), recurrent_kernel (units, units),
    bias (units,).

    Args:
        units: size of the hidden state, a positive integer.
        activation: "tanh" (default), "sigmoid", "relu", "linear" or "hard_sigmoid".
        use_bias: whether to add the bias (default True)."""
    _op, _gates, _n_states = "simple_rnn", 1, 1
    _keras_cell_name = "simple_rnn_cell"

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, zero_output_for_mask=False,
                 **kwargs):
        _reject(kwargs, "SimpleRNN", ("recurrent_activation", "unit_forget_bias"))
        super().__init__(units, activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, unit_forget_bias=False,
                         kernel_regularizer=kernel_regularizer,
                         recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer, dropout=dropout,
                         recurrent_dropout=recurrent_dropout, seed=seed,
                         return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                         zero_output_for_mask=zero_output_for_mask, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["unit_forget_bias"], config["recurrent_activation"]
        return config


for _cls in (LSTM, GRU, SimpleRNN):
    _cls.__doc__ += _COMMON_ARGS_DOC
