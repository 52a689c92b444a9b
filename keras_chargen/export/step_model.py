"""`StepModel`: a model's recurrent-state protocol as one exportable call.

`export_step_model` hands a `StepModel` to Keras' own `Model.export`. Its
call is `(token_ids, *states) -> {"logits", "new_state_..."}` with every
state an input and an output, so a runtime without Keras (ONNX Runtime,
LiteRT, TensorFlow Serving code) carries the states between calls.

The loop over the time axis is written with `tf.while_loop` and a
`tf.TensorArray` written at the loop counter: that is the pattern tf2onnx
turns into an ONNX `Loop` and the LiteRT converter into a `WHILE` with
builtin tensor-list ops. (`keras_chargen.backend.loops.scan`, which
`call_with_state` runs for a whole prompt, writes its first step outside
the loop; tf2onnx cannot read that.) Each iteration asks the model for one
step, `call_with_state(ids[:, t:t+1], states)`, so the math is the model's
own, the same as `TextGenerator`'s. This module is TensorFlow-only, as
SavedModel, tf2onnx and the LiteRT converter are.
"""

import keras
from keras import ops

from keras_chargen.models.state_adapter import as_stateful

TOKEN_IDS = "token_ids"
LOGITS = "logits"


def state_names(model):
    """Input names of the states: `state_{layer}_{k}` (LSTM k: 0=h, 1=c)."""
    return [
        f"state_{layer}_{k}"
        for layer, states in enumerate(as_stateful(model).initial_state(1))
        for k in range(len(states))
    ]


class StepModel(keras.Model):
    """Wraps a model: `[token_ids, *states]` -> logits and the new states.

    Not for training and not saved as a `.keras` file: it exists to be
    exported (see `keras_chargen.export_step_model`).

    Args:
        model: a `keras_chargen.CharLM`, a model implementing the
            recurrent-state protocol, or a plain model `as_stateful` adapts.

    Call arguments:
        inputs: a list `[token_ids, *states]`: int32 ids `(batch, time)`
            (0 is padding: it leaves a row's states as they are), then the
            states in the order of `state_names(model)`, float32
            `(batch, units)`.

    Returns:
        A dict: `"logits"`, float32 `(batch, time, vocabulary_size)`, and
        `"new_state_{layer}_{k}"` for every state input.
    """

    def __init__(self, model, **kwargs):
        super().__init__(**kwargs)
        self.wrapped = model
        self._stateful = as_stateful(model)
        self._state_counts = [len(s) for s in self._stateful.initial_state(1)]
        self._names = state_names(model)

    def call(self, inputs):
        import tensorflow as tf

        token_ids, *flat_states = inputs
        token_ids = ops.cast(token_ids, "int32")
        # Prepared per call from the variables; the ONNX and LiteRT
        # converters fold them into constants.
        weights = self._stateful.step_weights("float32")
        time = tf.shape(token_ids)[1]
        vocabulary_size = self._stateful.vocabulary_size
        logits = tf.TensorArray(
            tf.float32, size=time, element_shape=(token_ids.shape[0], vocabulary_size)
        )

        def body(t, flat_states, logits):
            step_logits, new_states = self._stateful.call_with_state(
                token_ids[:, t][:, None], self._pack(flat_states), step_weights=weights
            )
            flat_new = [s for layer in new_states for s in layer]
            return t + 1, flat_new, logits.write(t, step_logits[:, 0])

        _, flat_states, logits = tf.while_loop(
            lambda t, *_: t < time, body, (tf.constant(0), list(flat_states), logits)
        )
        outputs = {LOGITS: tf.transpose(logits.stack(), (1, 0, 2))}
        for name, state in zip(self._names, flat_states, strict=True):
            outputs[f"new_{name}"] = state
        return outputs

    def _pack(self, flat_states):
        states, start = [], 0
        for count in self._state_counts:
            states.append(list(flat_states[start : start + count]))
            start += count
        return states
