"""Bidirectional: one recurrent layer reads the sequence forwards, a copy reads it
backwards, and their outputs are merged."""
from .. import backend
from .layer import Layer
from .recurrent import SequenceCall, _FusedRNN, _as_list

_MERGE_MODES = ("sum", "mul", "concat", "ave", None)


class Bidirectional(SequenceCall, Layer):
    """Wraps a recurrent layer (LSTM, GRU, SimpleRNN) to run in both directions, as Keras 3.

    The forward copy is `layer` rebuilt from its config (named "forward_<name>"); the
    backward one has `go_backwards` flipped (named "backward_<name>") unless
    `backward_layer` is given. With return_sequences both output zeros at masked steps
    (zero_output_for_mask, forced as Keras does). With return_sequences the backward outputs are reversed
    back into time order before merging. Weights: the forward layer's, then the backward's.

    Args:
        layer: an LSTM, GRU or SimpleRNN instance (not yet called).
        merge_mode: "concat" (default: features side by side), "sum", "mul", "ave", or None
            (a list [forward output, backward output]).
        backward_layer: an optional recurrent layer for the backward direction; it must
            have the opposite go_backwards and the same return_sequences/return_state.
        **kwargs: base Layer arguments (name, trainable, ...).

    Call arguments: sequences, initial_state (forward states then backward states), mask,
    training. With return_state the result is `[output(s), *forward_states,
    *backward_states]`.
    """

    supports_masking = True
    _consumes_mask = True

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        if not isinstance(layer, _FusedRNN):
            raise ValueError("Please initialize `Bidirectional` layer with a recurrent layer "
                             f"(LSTM, GRU or SimpleRNN) instance. Received: {layer!r}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Invalid merge mode. Received: {merge_mode}. Merge mode should "
                             "be one of {'sum', 'mul', 'ave', 'concat', None}")
        super().__init__(**kwargs)
        config = layer.get_config()
        base = layer.name[len("forward_"):] if layer.name.startswith("forward_") else layer.name
        self.forward_layer = type(layer).from_config({**config, "name": f"forward_{base}"})
        if backward_layer is None:
            self.backward_layer = type(layer).from_config(
                {**config, "name": f"backward_{base}",
                 "go_backwards": not layer.go_backwards})
        else:
            if not isinstance(backward_layer, _FusedRNN):
                raise ValueError("`backward_layer` must be a recurrent layer (LSTM, GRU or "
                                 f"SimpleRNN) instance. Received: {backward_layer!r}")
            for attr in ("return_sequences", "return_state"):
                if getattr(backward_layer, attr) != getattr(layer, attr):
                    raise ValueError(f"Forward layer and backward layer should have the same "
                                     f"`{attr}`: {getattr(layer, attr)} vs "
                                     f"{getattr(backward_layer, attr)}")
            if backward_layer.go_backwards == layer.go_backwards:
                raise ValueError("Forward layer and backward layer should have opposite "
                                 "`go_backwards` values.")
            self.backward_layer = backward_layer
        # As Keras: with sequences, masked steps output zeros in both directions (a reversed
        # "repeat the previous output" would smear the other end's values).
        for sub in (self.forward_layer, self.backward_layer):
            sub.zero_output_for_mask = sub.return_sequences
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self._n_states = layer._n_states
        self._initial_weights = weights

    def _sublayers(self):
        return [self.forward_layer, self.backward_layer]

    def reset_states(self):
        """Stateful wrapped layers: zeros both directions' carried states."""
        self.forward_layer.reset_states()
        self.backward_layer.reset_states()

    reset_state = reset_states

    def build(self, input_shape):
        if isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], (list, tuple)):
            input_shape = input_shape[0]
        self.forward_layer.build(tuple(input_shape))
        self.backward_layer.build(tuple(input_shape))
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def call(self, inputs, initial_state=None, mask=None, training=None):
        states = _as_list(initial_state)
        if states and len(states) != 2 * self._n_states:
            raise ValueError(f"Layer '{self.name}' (Bidirectional) expects "
                             f"{2 * self._n_states} initial states (forward then backward); "
                             f"received {len(states)}")
        half = len(states) // 2
        fw = self.forward_layer(inputs, initial_state=states[:half] or None, mask=mask,
                                training=training)
        bw = self.backward_layer(inputs, initial_state=states[half:] or None, mask=mask,
                                 training=training)
        fw_states, bw_states = [], []
        if self.return_state:
            fw, fw_states = fw[0], fw[1:]
            bw, bw_states = bw[0], bw[1:]
        if self.return_sequences:
            bw = backend.op("reverse", [bw], ints=[1])
        if self.merge_mode == "concat":
            out = backend.op("concat", [fw, bw], ints=[-1])
        elif self.merge_mode == "sum":
            out = fw + bw
        elif self.merge_mode == "ave":
            out = (fw + bw) * 0.5
        elif self.merge_mode == "mul":
            out = fw * bw
        else:
            out = [fw, bw]
        out = out if isinstance(out, list) else [out]
        if self.return_state:
            return out + list(fw_states) + list(bw_states)
        return out if self.merge_mode is None else out[0]

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], (list, tuple)):
            input_shape = input_shape[0]
        one = self.forward_layer.compute_output_shape(tuple(input_shape))
        states = []
        if self.return_state:
            one, states = one[0], list(one[1:])
        if self.merge_mode == "concat":
            out = [tuple(one[:-1]) + (2 * one[-1],)]
        elif self.merge_mode is None:
            out = [tuple(one), tuple(one)]
        else:
            out = [tuple(one)]
        if self.return_state:
            return out + states + states
        return out if self.merge_mode is None else out[0]

    def compute_mask(self, inputs, previous_mask):
        mask = previous_mask if self.return_sequences else None
        outputs = 2 if self.merge_mode is None else 1
        if self.return_state:
            return [mask] * outputs + [None] * (2 * self._n_states)
        return [mask] * outputs if self.merge_mode is None else mask

    def get_config(self):
        from ..models.model_config import serialize_layer
        config = {**super().get_config(), "merge_mode": self.merge_mode,
                  "layer": serialize_layer(self.forward_layer),
                  "backward_layer": serialize_layer(self.backward_layer)}
        for key in ("layer", "backward_layer"):
            config[key].pop("build_config", None)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ..models.model_config import deserialize_layer
        config = dict(config)
        layer = deserialize_layer(config.pop("layer"), custom_objects)
        backward = config.pop("backward_layer", None)
        if backward is not None:
            backward = deserialize_layer(backward, custom_objects)
        return cls(layer, backward_layer=backward, **config)
