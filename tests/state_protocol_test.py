"""The recurrent-state protocol: `initial_state` / `call_with_state`.

Checked for `CharLM` and for plain Keras models through the adapter, on
both ways of running it: Keras' own cells (`step_weights=None`) and the
prepared inference step (`keras_chargen.layers.recurrent_step`).
"""

import keras
import numpy as np
import pytest
from keras import ops

from keras_chargen.models.char_lm import CharLM
from keras_chargen.models.state_adapter import as_stateful

VOCABULARY_SIZE = 12


def randomize(model, seed=0, scale=0.8):
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        if "layer_norm" in weight.path:
            continue  # its initial gain 1 and offset 0 keep outputs varied
        weight.assign(rng.normal(scale=scale, size=weight.shape).astype("float32"))
    return model


def char_lm(cell, layer_norm=False, num_layers=2):
    model = CharLM(
        vocabulary_size=VOCABULARY_SIZE,
        embedding_dim=6,
        units=8,
        num_layers=num_layers,
        cell=cell,
        layer_norm=layer_norm,
        dropout=0.2,
    )
    return randomize(model)


def sequential(cell, activation=None):
    rnn = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[cell]
    model = keras.Sequential([
        keras.Input((None,), dtype="int32"),
        keras.layers.Embedding(VOCABULARY_SIZE, 6),
        keras.layers.Dropout(0.1),
        rnn(8, return_sequences=True),
        keras.layers.LayerNormalization(),
        rnn(5, return_sequences=True),
        keras.layers.Dense(VOCABULARY_SIZE, activation=activation),
    ])  # fmt: skip
    return randomize(model, seed=3)


MODELS = {
    "charlm-lstm": lambda: char_lm("lstm"),
    "charlm-gru-layernorm": lambda: char_lm("gru", layer_norm=True),
    "charlm-lstm-1-layer": lambda: char_lm("lstm", num_layers=1),
    "sequential-lstm": lambda: sequential("lstm"),
    "sequential-gru-softmax": lambda: sequential("gru", "softmax"),
}
IDS = np.array([[2, 5, 7, 3, 9, 11, 4], [3, 4, 5, 6, 7, 8, 9]], np.int32)


def numpy(x):
    return ops.convert_to_numpy(x)


def flat(states):
    return [numpy(s) for layer in states for s in layer]


def logits_of(model, ids):
    out = numpy(model(ids, training=False))
    if model.layers[-1].activation is keras.activations.softmax:
        out = np.log(np.maximum(out, 1e-30))
    return out


@pytest.fixture(params=sorted(MODELS), scope="module")
def model(request):
    return MODELS[request.param]()


@pytest.mark.parametrize("prepared", [False, True], ids=["keras-cells", "step"])
def test_one_call_equals_the_model(model, prepared):
    stateful = as_stateful(model)
    weights = stateful.step_weights() if prepared else None
    logits, _ = stateful.call_with_state(
        IDS, stateful.initial_state(2), step_weights=weights
    )
    np.testing.assert_allclose(numpy(logits), logits_of(model, IDS), atol=1e-5)


@pytest.mark.parametrize("prepared", [False, True], ids=["keras-cells", "step"])
def test_states_carry_across_calls(model, prepared):
    """A prefill, then one id per call, gives the full run's logits and states."""
    stateful = as_stateful(model)
    weights = stateful.step_weights() if prepared else None
    _, expected = stateful.call_with_state(IDS, stateful.initial_state(2))
    logits, states = stateful.call_with_state(
        IDS[:, :4], stateful.initial_state(2), step_weights=weights
    )
    pieces = [numpy(logits)]
    for t in range(4, IDS.shape[1]):
        logits, states = stateful.call_with_state(
            IDS[:, t : t + 1], states, step_weights=weights
        )
        pieces.append(numpy(logits))
    np.testing.assert_allclose(
        np.concatenate(pieces, axis=1), logits_of(model, IDS), atol=1e-5
    )
    for a, b in zip(flat(states), flat(expected), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("prepared", [False, True], ids=["keras-cells", "step"])
def test_padding_leaves_the_states_unchanged(model, prepared):
    stateful = as_stateful(model)
    weights = stateful.step_weights() if prepared else None
    padded = np.array([[0, 0, 0, 2, 5, 7], [0] * 6], np.int32)
    logits, states = stateful.call_with_state(
        padded, stateful.initial_state(2), step_weights=weights
    )
    unpadded_logits, unpadded = stateful.call_with_state(
        padded[:1, 3:], stateful.initial_state(1)
    )
    np.testing.assert_allclose(
        numpy(logits)[0, -1], numpy(unpadded_logits)[0, -1], atol=1e-5
    )
    for a, b in zip(flat(states), flat(unpadded), strict=True):
        np.testing.assert_allclose(a[:1], b, atol=1e-5)
    # The all-padding row keeps the zero state: its logits are the empty context's.
    for a in flat(states):
        np.testing.assert_array_equal(a[1], 0.0)
    empty, _ = stateful.call_with_state(
        np.zeros((1, 1), np.int32), stateful.initial_state(1)
    )
    np.testing.assert_allclose(numpy(logits)[1, -1], numpy(empty)[0, 0], atol=1e-5)


def test_initial_state_has_one_entry_per_recurrent_layer():
    lstm = char_lm("lstm").initial_state(3)
    gru = as_stateful(sequential("gru")).initial_state(3)
    assert [[tuple(s.shape) for s in layer] for layer in lstm] == [[(3, 8)] * 2] * 2
    assert [[tuple(s.shape) for s in layer] for layer in gru] == [[(3, 8)], [(3, 5)]]


def test_bfloat16_steps_stay_close_to_float32():
    model = char_lm("lstm")
    states = model.initial_state(2)
    exact, _ = model.call_with_state(IDS, states, step_weights=model.step_weights())
    low, _ = model.call_with_state(
        IDS, states, step_weights=model.step_weights("bfloat16")
    )
    np.testing.assert_allclose(numpy(low), numpy(exact), atol=0.15)


def test_a_model_with_its_own_protocol_is_used_as_it_is():
    model = char_lm("gru")
    assert as_stateful(model) is model


def test_unsupported_models_get_a_clear_error():
    model = keras.Sequential([
        keras.Input((None,), dtype="int32"),
        keras.layers.Embedding(VOCABULARY_SIZE, 4),
        keras.layers.Conv1D(4, 3),
        keras.layers.Dense(VOCABULARY_SIZE),
    ])  # fmt: skip
    with pytest.raises(
        ValueError, match=r"Received layers: \['Embedding', 'Conv1D', 'Dense'\]"
    ):
        as_stateful(model)


def test_only_dropout_may_precede_the_first_recurrent_layer():
    model = keras.Sequential([
        keras.Input((None,), dtype="int32"),
        keras.layers.Embedding(VOCABULARY_SIZE, 4),
        keras.layers.LayerNormalization(),
        keras.layers.LSTM(4, return_sequences=True),
        keras.layers.Dense(VOCABULARY_SIZE),
    ])  # fmt: skip
    with pytest.raises(ValueError, match="Only Dropout may sit between"):
        as_stateful(model)
