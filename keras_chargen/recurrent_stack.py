"""Step-by-step and chunked views of an Embedding -> RNN -> Dense model.

Internal: `TextGenerator` and `evaluate` use it to carry recurrent states
across calls, which a plain `model(ids)` cannot do.
"""

import keras
from keras import ops

_RNN_TYPES = (keras.layers.LSTM, keras.layers.GRU, keras.layers.SimpleRNN)
_SKIPPED_TYPES = (keras.layers.InputLayer, keras.layers.Dropout)
_OTHER_TYPES = (keras.layers.LayerNormalization, keras.layers.Dense)


class RecurrentStack:
    """The layers of a supported model, split into embedding, body and head.

    Args:
        model: a `keras_chargen.CharLM` or an equivalent user model:
            `Embedding -> LSTM/GRU/SimpleRNN (LayerNormalization, Dropout
            between) -> Dense`, the Dense giving logits or a softmax.

    Raises:
        ValueError: for any other architecture, listing its layers.
    """

    def __init__(self, model):
        layers = [la for la in model.layers if not isinstance(la, _SKIPPED_TYPES)]
        names = [type(la).__name__ for la in model.layers]
        rnn_positions = [i for i, la in enumerate(layers) if isinstance(la, _RNN_TYPES)]
        supported = (
            layers
            and isinstance(layers[0], keras.layers.Embedding)
            and rnn_positions
            and isinstance(layers[-1], keras.layers.Dense)
            and all(isinstance(la, _RNN_TYPES + _OTHER_TYPES) for la in layers[1:])
        )
        if not supported:
            raise ValueError(
                "keras_chargen generates from and scores Embedding -> LSTM/GRU/SimpleRNN (with "
                "LayerNormalization or Dropout between) -> Dense models. "
                f"Received layers: {names}"
            )
        backwards = [la.name for la in layers if getattr(la, "go_backwards", False)]
        if backwards:
            raise ValueError(
                "Generation reads text left to right: recurrent layers with "
                f"`go_backwards=True` are not supported. Received: {backwards}"
            )
        last = rnn_positions[-1]
        self.embedding = layers[0]
        self.body = layers[1 : last + 1]
        self.head = layers[last + 1 :]
        self.rnn_layers = [la for la in self.body if isinstance(la, _RNN_TYPES)]
        # Chunked runs need the final states, which the model's own layers
        # (built without `return_state`) do not return: wrap their cells.
        self._sequence_layers = {
            id(la): keras.layers.RNN(la.cell, return_sequences=True, return_state=True)
            for la in self.rnn_layers
        }

    def zero_states(self, batch):
        """One list of zero state tensors per recurrent layer."""
        return [
            [ops.zeros((batch, la.units))]
            * (2 if isinstance(la, keras.layers.LSTM) else 1)
            for la in self.rnn_layers
        ]

    def apply_head(self, x):
        """Layers after the last recurrent one, ending with logits."""
        for layer in self.head:
            x = layer(x)
        if self.head[-1].activation is keras.activations.softmax:
            x = ops.log(ops.maximum(x, 1e-30))  # callers expect logits
        return x

    def initial_logits(self, batch):
        """Logits for an empty context: the head applied to the zero state."""
        return self.apply_head(ops.zeros((batch, self.rnn_layers[-1].units)))

    def step_weights(self, dtype="float32"):
        """Weights for `fused_step`, or `None` when a cell is non-standard.

        The first layer's input projection is folded into a per-character
        table (`embeddings @ kernel + bias`), so a step starts with a lookup
        instead of a matmul. Matmul weights are cast to `dtype`; bfloat16
        runs ~3x faster on CPUs with AMX at batch 64, at bfloat16 precision.
        """
        if not all(_is_standard(la) for la in self.rnn_layers):
            return None
        weights = []
        for i, layer in enumerate(self.rnn_layers):
            cell = layer.cell
            gru = isinstance(layer, keras.layers.GRU)
            input_bias = cell.bias[0] if gru else cell.bias
            entry = {"recurrent_kernel": ops.cast(cell.recurrent_kernel, dtype)}
            if i == 0 and self.body[0] is layer:
                table = ops.matmul(self.embedding.embeddings, cell.kernel)
                entry["table"] = table + input_bias
            elif gru:
                entry["kernel"] = ops.cast(cell.kernel, dtype)
                entry["input_bias"] = input_bias
            else:
                # One matmul for both products: [x, h] @ [kernel; recurrent].
                stacked = ops.concatenate([cell.kernel, cell.recurrent_kernel], axis=0)
                entry = {"stacked_kernel": ops.cast(stacked, dtype), "bias": input_bias}
            if gru:
                entry["recurrent_bias"] = cell.bias[1]
            weights.append(entry)
        return weights

    def fused_step(self, token_ids, states, weights):
        """`step()` with the cell math written out; see `step_weights`."""
        x = None
        if "table" not in weights[0]:
            x = ops.take(self.embedding.embeddings, token_ids, axis=0)
        new_states = iter(states)
        out_states, index = [], 0
        for layer in self.body:
            if not isinstance(layer, _RNN_TYPES):
                x = layer(x)
                continue
            w = weights[index]
            index += 1
            state = next(new_states)
            projected = None
            if "table" in w:
                projected = ops.take(w["table"], token_ids, axis=0)
            elif "kernel" in w:
                projected = _matmul(x, w["kernel"]) + w["input_bias"]
            if isinstance(layer, keras.layers.LSTM):
                if projected is None:
                    hx = ops.concatenate([x, state[0]], axis=-1)
                    z = _matmul(hx, w["stacked_kernel"]) + w["bias"]
                else:
                    z = projected + _matmul(state[0], w["recurrent_kernel"])
                i, f, g, o = ops.split(z, 4, axis=-1)
                c = ops.sigmoid(f) * state[1] + ops.sigmoid(i) * ops.tanh(g)
                x = ops.sigmoid(o) * ops.tanh(c)
                out_states.append([x, c])
            else:  # GRU, reset_after=True
                recurrent = (
                    _matmul(state[0], w["recurrent_kernel"]) + w["recurrent_bias"]
                )
                x_z, x_r, x_h = ops.split(projected, 3, axis=-1)
                r_z, r_r, r_h = ops.split(recurrent, 3, axis=-1)
                z = ops.sigmoid(x_z + r_z)
                candidate = ops.tanh(x_h + ops.sigmoid(x_r + r_r) * r_h)
                x = z * state[0] + (1 - z) * candidate
                out_states.append([x])
        return self.apply_head(x), out_states

    def step(self, token_ids, states):
        """One character per row: ids `(batch,)` -> logits, new states."""
        # A plain lookup: calling the layer would attach a mask the cells reject.
        x = ops.take(self.embedding.embeddings, token_ids, axis=0)
        new_states = iter(states)
        out_states = []
        for layer in self.body:
            if isinstance(layer, _RNN_TYPES):
                x, state = layer.cell(x, next(new_states), training=False)
                out_states.append(list(state))
            else:
                x = layer(x)
        return self.apply_head(x), out_states

    def run(self, token_ids, states):
        """A chunk of characters: ids `(batch, time)` -> logits, final states.

        Padding (id 0) steps leave the states unchanged, so left-padded rows
        end in the same state as their unpadded text.
        """
        mask = ops.not_equal(token_ids, 0)
        x = ops.take(self.embedding.embeddings, token_ids, axis=0)
        new_states = iter(states)
        out_states = []
        for layer in self.body:
            if isinstance(layer, _RNN_TYPES):
                outputs = self._sequence_layers[id(layer)](
                    x, initial_state=next(new_states), mask=mask, training=False
                )
                x, state = outputs[0], list(outputs[1:])
                out_states.append(state)
            else:
                x = layer(x)
        return self.apply_head(x), out_states


def _is_standard(layer):
    """Whether `fused_step` computes exactly what this layer's cell does."""
    cell = layer.cell
    standard = (
        isinstance(layer, keras.layers.LSTM | keras.layers.GRU)
        and cell.activation is keras.activations.tanh
        and cell.recurrent_activation is keras.activations.sigmoid
        and cell.use_bias
    )
    if isinstance(layer, keras.layers.GRU):
        standard = standard and cell.reset_after
    return standard


def _matmul(x, kernel):
    """`x @ kernel` in the kernel's dtype, returned as float32."""
    return ops.cast(ops.matmul(ops.cast(x, kernel.dtype), kernel), "float32")
