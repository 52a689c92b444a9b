"""`RecurrentStack`: the recurrent-state protocol for Embedding -> RNN -> Dense.

`CharLM` and the adapter for users' own models (`models/state_adapter.py`)
both hand their layers to a `RecurrentStack`, which implements
`initial_state`, `call_with_state` and `step_weights` once for both. It
never looks at layer types: it is told which layers are recurrent and
which cell math (`"lstm"`, `"gru"` or `None` for "let Keras run the cell")
each one has.
"""

import keras
from keras import ops

from keras_chargen.backend.loops import scan
from keras_chargen.layers import recurrent_step


class RecurrentStack:
    """Runs an embedding, recurrent layers and an output head with explicit state.

    Args:
        embedding: the `keras.layers.Embedding`.
        pre: the `Dropout` layers between the embedding and the first
            recurrent layer: applied in training, skipped at inference.
        body: the layers from the first recurrent layer to the last one, in
            order (`Dropout`, `LayerNormalization` between them).
        recurrent: dict `{id(layer): kind}` for the recurrent layers of
            `body`; `kind` is `"lstm"` or `"gru"` when `recurrent_step`
            computes exactly what the layer's cell does, else `None`.
        head: the layers after the last recurrent layer, ending with the
            `Dense` output layer.
        softmax_output: whether the head ends in a softmax (logits are then
            recovered as log-probabilities).
        fused_lstm: Optional callable with the signature of
            `keras_chargen.backend.tensorflow.fused_lstm`, used for `"lstm"`
            layers when the states come with the whole sequence.
    """

    def __init__(
        self,
        embedding,
        pre,
        body,
        recurrent,
        head,
        softmax_output=False,
        fused_lstm=None,
    ):
        self.embedding = embedding
        self.vocabulary_size = embedding.input_dim
        self.pre = list(pre)
        self.body = list(body)
        self.recurrent = dict(recurrent)
        self.head = list(head)
        self.softmax_output = softmax_output
        self.fused_lstm = fused_lstm
        self.recurrent_layers = [la for la in self.body if id(la) in self.recurrent]
        # The model's own layers are built without `return_state`: run their
        # cells through wrappers that return the final states too.
        self._sequence_layers = {
            id(la): keras.layers.RNN(la.cell, return_sequences=True, return_state=True)
            for la in self.recurrent_layers
        }

    # -------------------------------------------------------------- protocol
    def initial_state(self, batch_size):
        """Zero states: per recurrent layer, `[h, c]` (LSTM) or `[h]` (GRU)."""
        return [
            [ops.zeros((batch_size, la.units))] * len(_state_size(la))
            for la in self.recurrent_layers
        ]

    def call_with_state(self, token_ids, states, training=False, step_weights=None):
        """Ids `(batch, time)` and states -> logits `(batch, time, vocab)`, states.

        Padding (id 0) leaves a row's states unchanged, and its output is the
        output before it, so left-padded rows end where their text does and
        an all-padding row gives the logits of the states passed in.
        """
        token_ids = ops.cast(ops.convert_to_tensor(token_ids), "int32")
        if step_weights is not None:
            x, states = self._scan(token_ids, states, step_weights)
        else:
            x, states = self._layers(token_ids, states, training)
        return self.apply_head(x, training), states

    def step_weights(self, dtype="float32"):
        """The weights arranged for `recurrent_step`, or `None` if not all fit.

        Prepared once outside a generation loop and passed to every
        `call_with_state(..., step_weights=...)` of the loop; see
        `keras_chargen.layers.recurrent_step.prepare`.
        """
        kinds = [self.recurrent[id(la)] for la in self.recurrent_layers]
        if None in kinds:
            return None
        return [
            recurrent_step.prepare(
                kind,
                layer.cell,
                embeddings=self.embedding.embeddings if i == 0 else None,
                dtype=dtype,
            )
            for i, (kind, layer) in enumerate(
                zip(kinds, self.recurrent_layers, strict=True)
            )
        ]

    def apply_head(self, x, training=False):
        """Layers after the last recurrent one, ending with logits."""
        for layer in self.head:
            x = layer(x, training=training)
        if self.softmax_output:
            x = ops.log(ops.maximum(x, 1e-30))  # callers expect logits
        return x

    # ------------------------------------------------------------- internals
    def _layers(self, token_ids, states, training):
        """Keras' own cells (or the fused LSTM) over the whole sequence."""
        mask = ops.not_equal(token_ids, 0)
        # A plain lookup: calling the layer would attach a mask the cells reject.
        x = ops.take(self.embedding.embeddings, token_ids, axis=0)
        states = iter(states)
        new_states = []
        for layer in self.pre + self.body:
            if id(layer) not in self.recurrent:
                x = layer(x, training=training)
                continue
            state = next(states)
            if self.fused_lstm is not None and self.recurrent[id(layer)] == "lstm":
                cell = layer.cell
                x, h, c = self.fused_lstm(
                    x, state[0], state[1], ops.cast(mask, x.dtype),
                    cell.kernel.value, cell.recurrent_kernel.value, cell.bias.value,
                    training=training,
                )  # fmt: skip
                new_states.append([h, c])
                continue
            outputs = self._sequence_layers[id(layer)](
                x, initial_state=state, mask=mask, training=training
            )
            x = outputs[0]
            new_states.append(list(outputs[1:]))
        return x, new_states

    def _scan(self, token_ids, states, weights):
        """`recurrent_step` one column at a time (inference only)."""
        if token_ids.shape[1] == 1:  # the generation loop: no scan needed
            x, new_states = self._step(token_ids[:, 0], states, weights)
            return ops.expand_dims(x, 1), new_states

        def step(states, ids):
            x, new_states = self._step(ids, states, weights)
            return new_states, x

        states, outputs = scan(step, states, ops.transpose(token_ids))
        return ops.transpose(outputs, (1, 0, 2)), states

    def _step(self, ids, states, weights):
        keep = ops.expand_dims(ops.not_equal(ids, 0), -1)
        x = None  # the first layer looks its input projection up by id
        states = iter(states)
        weights = iter(weights)
        new_states = []
        for layer in self.body:
            if id(layer) not in self.recurrent:
                x = layer(x, training=False)
                continue
            state = next(states)
            kind = self.recurrent[id(layer)]
            new = recurrent_step.step(kind, next(weights), ids, x, state)
            # Padding keeps the states: the output is then the previous one.
            new = [ops.where(keep, n, s) for n, s in zip(new, state, strict=True)]
            new_states.append(new)
            x = new[0]
        return x, new_states


def _state_size(layer):
    size = layer.cell.state_size
    return size if isinstance(size, list | tuple) else [size]
