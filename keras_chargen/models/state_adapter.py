"""The recurrent-state protocol for any model: the model's own, or an adapter.

`as_stateful(model)` is what step-by-step code (`TextGenerator`, `evaluate`,
`SampleTextCallback`) calls. A model that implements the protocol itself
(`keras_chargen.CharLM`, or a user's class with `initial_state` and
`call_with_state`) is returned as it is. A plain Keras `Sequential` or
functional `Embedding -> LSTM/GRU/SimpleRNN (LayerNormalization, Dropout
between) -> Dense` model gets a `RecurrentStack` over its layers. This module
is the only code in keras_chargen that looks at layer types.
"""

import keras
from keras import activations

from keras_chargen.models.recurrent_stack import RecurrentStack

_RNN_TYPES = (keras.layers.LSTM, keras.layers.GRU, keras.layers.SimpleRNN)
_SKIPPED_TYPES = (keras.layers.InputLayer,)
_OTHER_TYPES = (
    keras.layers.LayerNormalization,
    keras.layers.Dense,
    keras.layers.Dropout,
)


def as_stateful(model):
    """Returns an object with `initial_state`, `call_with_state`, `step_weights`.

    Args:
        model: a `keras_chargen.CharLM`, a model implementing the protocol,
            or a supported plain Keras model.

    Raises:
        ValueError: for any other architecture, listing its layers.
    """
    if all(
        callable(getattr(model, name, None))
        for name in ("initial_state", "call_with_state")
    ):
        return model
    return stack_from_layers(model)


def stack_from_layers(model):
    """A `RecurrentStack` over a plain model's layers (see module docstring)."""
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
            "keras_chargen generates from and scores Embedding -> "
            "LSTM/GRU/SimpleRNN (with LayerNormalization or Dropout between) -> "
            f"Dense models. Received layers: {names}"
        )
    backwards = [la.name for la in layers if getattr(la, "go_backwards", False)]
    if backwards:
        raise ValueError(
            "Generation reads text left to right: recurrent layers with "
            f"`go_backwards=True` are not supported. Received: {backwards}"
        )
    first, last = rnn_positions[0], rnn_positions[-1]
    pre = layers[1:first]
    if not all(isinstance(la, keras.layers.Dropout) for la in pre):
        raise ValueError(
            "Only Dropout may sit between the Embedding and the first recurrent "
            f"layer. Received layers: {names}"
        )
    rnn_layers = [layers[i] for i in rnn_positions]
    return RecurrentStack(
        embedding=layers[0],
        pre=pre,
        body=layers[first : last + 1],
        recurrent={id(la): cell_kind(la) for la in rnn_layers},
        head=layers[last + 1 :],
        softmax_output=layers[-1].activation is activations.softmax,
    )


def cell_kind(layer):
    """`"lstm"` / `"gru"` if `recurrent_step` computes what `layer` does, else None.

    `None` (a `SimpleRNN`, another activation, no bias, a GRU with
    `reset_after=False`) means Keras' own cell runs that layer.
    """
    cell = layer.cell
    standard = (
        cell.use_bias
        and cell.activation is activations.tanh
        and getattr(cell, "recurrent_activation", None) is activations.sigmoid
    )
    if isinstance(layer, keras.layers.LSTM) and standard:
        return "lstm"
    if isinstance(layer, keras.layers.GRU) and standard and cell.reset_after:
        return "gru"
    return None
