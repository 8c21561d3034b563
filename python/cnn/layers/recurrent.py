"""Recurrent layers on fused engine ops: SimpleRNN, LSTM and GRU each run the whole sequence
in one op ("simple_rnn", "lstm", "gru": one GEMM for the input projection of every step, one
per step for the recurrence, BPTT in its backward)."""
import numpy as np

from .. import activations, backend, initializers, regularizers
from .input_spec import InputSpec
from .layer import Layer

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


class _FusedRNN(Layer):
    _op, _gates = None, 1

    """Shared machinery of the fused recurrent layers: weights kernel, recurrent_kernel and
    bias in Keras's layout, one engine op over the whole sequence, the last step sliced out
    unless return_sequences."""

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 return_sequences=False, go_backwards=False, **kwargs):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError("Received an invalid value for argument `units`, expected a "
                             f"positive integer, got {units!r}.")
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
        self.return_sequences = bool(return_sequences)
        self.go_backwards = bool(go_backwards)
        self.input_spec = InputSpec(ndim=3)
        self.kernel = self.recurrent_kernel = self.bias = None

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 3:
            raise ValueError(f"Input 0 of layer '{self.name}' is incompatible with the layer: "
                             f"expected ndim=3, found ndim={len(input_shape)}. Full shape "
                             f"received: {input_shape}")
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
        self.input_spec = InputSpec(ndim=3, axes={-1: features})
        self.built = True

    def _bias_shape_and_init(self):
        u = self.units
        if self._gates == 1:
            return (u,), self.bias_initializer
        init = (_UnitForgetBias(self.bias_initializer, u) if self.unit_forget_bias
                else self.bias_initializer)
        return (4 * u,), init

    def call(self, inputs):
        weights = [self.kernel, self.recurrent_kernel] + ([self.bias] if self.use_bias else [])
        ints = [int(self.go_backwards), self._act] + ([self._ract] if self._gates > 1 else [])
        seq = backend.op(self._op, [inputs] + weights, ints=ints)
        if self.return_sequences:
            return seq
        steps = seq.shape[1]
        if steps is None:
            raise ValueError(f"Layer '{self.name}' needs a known number of timesteps to return "
                             f"the last step; received input shape {tuple(inputs.shape)}")
        if steps == 0:
            raise ValueError(f"Layer '{self.name}' received an input with 0 timesteps; it has "
                             f"no last step to return (shape {tuple(inputs.shape)})")
        last = backend.op("slice", [seq], ints=[0, steps - 1, 0, -1, 1, -1])
        return backend.op("reshape", [last], ints=[-1, self.units])

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self.return_sequences:
            return input_shape[:2] + (self.units,)
        return (input_shape[0], self.units)

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
                "return_sequences": self.return_sequences, "go_backwards": self.go_backwards}


class LSTM(_FusedRNN):
    """Long Short-Term Memory (Hochreiter & Schmidhuber, 1997) over (batch, timesteps,
    features) inputs, Keras 3's cell: gates i, f, c, o from
    `x_t @ kernel + h @ recurrent_kernel + bias`, `c = f * c + i * activation(g)`,
    `h = o * activation(c)`, zero initial states.

    Weights (Keras's layout, so `set_weights` takes Keras's `get_weights()`): kernel
    (features, 4 * units), recurrent_kernel (units, 4 * units), bias (4 * units,).

    Args:
        units: size of the hidden state, a positive integer.
        activation: "tanh" (default), "sigmoid", "relu", "linear" or "hard_sigmoid".
        recurrent_activation: the gates' activation, one of the same (default "sigmoid").
        use_bias: whether to add the bias (default True).
        kernel_initializer: initializer of the kernel (default "glorot_uniform").
        recurrent_initializer: initializer of the recurrent kernel (default "orthogonal").
        bias_initializer: initializer of the bias (default "zeros").
        unit_forget_bias: initialise the forget gate's bias to ones (default True), as
            Keras, on top of `bias_initializer` for the other gates.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: regularizers of the
            weights (default None).
        activity_regularizer: regularizer of the output (default None).
        return_sequences: return the hidden state of every step (batch, timesteps, units)
            instead of the last one (batch, units) (default False).
        go_backwards: process the sequence from its end; with return_sequences the output
            is in processing order, i.e. reversed, as Keras (default False).
        **kwargs: base Layer arguments (name, trainable, dtype, input_shape, ...).
    """
    _op, _gates = "lstm", 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 return_sequences=False, go_backwards=False, **kwargs):
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation,
                         use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, unit_forget_bias=unit_forget_bias,
                         kernel_regularizer=kernel_regularizer,
                         recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer,
                         return_sequences=return_sequences, go_backwards=go_backwards, **kwargs)


class GRU(_FusedRNN):
    """Gated Recurrent Unit (Cho et al., 2014) over (batch, timesteps, features) inputs,
    Keras 3's default cell (reset_after=True): gates z, r, h with
    `xp = x_t @ kernel + bias[0]`, `q = h @ recurrent_kernel + bias[1]`,
    `z = recurrent_activation(xp_z + q_z)`, `r = recurrent_activation(xp_r + q_r)`,
    `hh = activation(xp_h + r * q_h)`, `h = z * h + (1 - z) * hh`, zero initial state.

    Weights (Keras's layout, so `set_weights` takes Keras's `get_weights()`): kernel
    (features, 3 * units), recurrent_kernel (units, 3 * units), bias (2, 3 * units).

    Args:
        units: size of the hidden state, a positive integer.
        activation: "tanh" (default), "sigmoid", "relu", "linear" or "hard_sigmoid".
        recurrent_activation: the gates' activation, one of the same (default "sigmoid").
        use_bias: whether to add the biases (default True).
        kernel_initializer: initializer of the kernel (default "glorot_uniform").
        recurrent_initializer: initializer of the recurrent kernel (default "orthogonal").
        bias_initializer: initializer of the bias (default "zeros").
        kernel_regularizer, recurrent_regularizer, bias_regularizer: regularizers of the
            weights (default None).
        activity_regularizer: regularizer of the output (default None).
        return_sequences: return the hidden state of every step (batch, timesteps, units)
            instead of the last one (batch, units) (default False).
        go_backwards: process the sequence from its end; with return_sequences the output
            is in processing order, i.e. reversed, as Keras (default False).
        **kwargs: base Layer arguments (name, trainable, dtype, input_shape, ...).
    """
    _op, _gates = "gru", 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, return_sequences=False,
                 go_backwards=False, **kwargs):
        _reject(kwargs, "GRU", ("unit_forget_bias",))
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation,
                         use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, unit_forget_bias=False,
                         kernel_regularizer=kernel_regularizer,
                         recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer,
                         return_sequences=return_sequences, go_backwards=go_backwards, **kwargs)

    def _bias_shape_and_init(self):
        return (2, 3 * self.units), self.bias_initializer

    def get_config(self):
        config = super().get_config()
        del config["unit_forget_bias"]
        return config


class SimpleRNN(_FusedRNN):
    """Fully-connected RNN over (batch, timesteps, features) inputs:
    `h = activation(x_t @ kernel + h @ recurrent_kernel + bias)`, zero initial state.

    Weights (Keras's layout, so `set_weights` takes Keras's `get_weights()`): kernel
    (features, units), recurrent_kernel (units, units), bias (units,).

    Args:
        units: size of the hidden state, a positive integer.
        activation: "tanh" (default), "sigmoid", "relu", "linear" or "hard_sigmoid".
        use_bias: whether to add the bias (default True).
        kernel_initializer: initializer of the kernel (default "glorot_uniform").
        recurrent_initializer: initializer of the recurrent kernel (default "orthogonal").
        bias_initializer: initializer of the bias (default "zeros").
        kernel_regularizer, recurrent_regularizer, bias_regularizer: regularizers of the
            weights (default None).
        activity_regularizer: regularizer of the output (default None).
        return_sequences: return the hidden state of every step (batch, timesteps, units)
            instead of the last one (batch, units) (default False).
        go_backwards: process the sequence from its end; with return_sequences the output
            is in processing order, i.e. reversed, as Keras (default False).
        **kwargs: base Layer arguments (name, trainable, dtype, input_shape, ...).
    """
    _op, _gates = "simple_rnn", 1

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, return_sequences=False,
                 go_backwards=False, **kwargs):
        _reject(kwargs, "SimpleRNN", ("recurrent_activation", "unit_forget_bias"))
        super().__init__(units, activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, unit_forget_bias=False,
                         kernel_regularizer=kernel_regularizer,
                         recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer,
                         return_sequences=return_sequences, go_backwards=go_backwards, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["unit_forget_bias"], config["recurrent_activation"]
        return config
