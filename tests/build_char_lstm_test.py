import keras
import keras_tuner
import numpy as np
import pytest

from keras_chargen.layers.char_vectorizer import CharVectorizer
from keras_chargen.models.build_char_lstm import build_char_lstm

VOCABULARY_SIZE = 11
TINY = dict(vocabulary_size=VOCABULARY_SIZE, lstm_units=8, embedding_dim=4)


def recurrent_layers(model):
    return [la for la in model.layers if isinstance(la, keras.layers.RNN)]


def layers_of_type(model, kind):
    return [la for la in model.layers if isinstance(la, kind)]


def test_empty_hyperparameters_register_the_whole_search_space_with_defaults():
    hp = keras_tuner.HyperParameters()
    build_char_lstm(hp, vocabulary_size=VOCABULARY_SIZE)
    assert hp.values == {
        "embedding_dim": 64,
        "lstm_units": 256,
        "num_layers": 2,
        "dropout": 0.1,
        "learning_rate": 0.003,
    }


def test_search_space_ranges_are_snapshotted():
    hp = keras_tuner.HyperParameters()
    build_char_lstm(hp, vocabulary_size=VOCABULARY_SIZE)
    space = {
        h.name: (type(h).__name__, h.min_value, h.max_value, h.step, h.sampling)
        for h in hp.space
    }
    assert space == {
        "embedding_dim": ("Int", 32, 512, 32, "linear"),
        "lstm_units": ("Int", 128, 1024, 128, "linear"),
        "num_layers": ("Int", 1, 3, 1, "linear"),
        "dropout": ("Float", 0.0, 0.5, 0.1, "linear"),
        "learning_rate": ("Float", 3e-4, 1e-2, None, "log"),
    }


def test_hp_none_builds_the_defaults():
    model = build_char_lstm(vocabulary_size=VOCABULARY_SIZE)
    assert (model.embedding_dim, model.units, model.num_layers, model.dropout) == (
        64,
        256,
        2,
        0.1,
    )
    assert float(model.optimizer.learning_rate) == pytest.approx(0.003)
    assert model.optimizer.clipnorm == 1.0


def test_trial_values_chosen_by_the_tuner_are_used():
    hp = keras_tuner.HyperParameters()
    build_char_lstm(hp, **TINY)
    hp.values.update(num_layers=3, dropout=0.3, learning_rate=0.001)
    model = build_char_lstm(hp, **TINY)
    assert (model.num_layers, model.dropout) == (3, 0.3)
    assert len(recurrent_layers(model)) == 3
    assert float(model.optimizer.learning_rate) == pytest.approx(0.001)


def test_keyword_arguments_fix_values_and_leave_them_out_of_the_space():
    hp = keras_tuner.HyperParameters()
    model = build_char_lstm(hp, **TINY, num_layers=1)
    assert sorted(hp.values) == ["dropout", "learning_rate"]
    assert (model.units, model.embedding_dim, model.num_layers) == (8, 4, 1)


def test_vectorizer_sets_the_vocabulary_size_and_travels_with_the_model():
    vectorizer = CharVectorizer(vocabulary="abc\n")
    model = build_char_lstm(vectorizer=vectorizer, lstm_units=8, embedding_dim=4)
    assert model.vectorizer is vectorizer
    assert model.vocabulary_size == 6


def test_outputs_logits_of_shape_batch_time_vocabulary():
    model = build_char_lstm(**TINY)
    ids = np.random.default_rng(0).integers(2, VOCABULARY_SIZE, size=(3, 7))
    logits = keras.ops.convert_to_numpy(model(ids))
    assert logits.shape == (3, 7, VOCABULARY_SIZE)
    # Logits, not probabilities: rows do not sum to one and values go below 0.
    assert not np.allclose(logits.sum(-1), 1.0)
    assert logits.min() < 0


def test_loss_ignores_padding_targets():
    keras.utils.set_random_seed(0)
    model = build_char_lstm(**TINY, num_layers=1)
    rng = np.random.default_rng(1)
    ids = rng.integers(2, VOCABULARY_SIZE, size=(2, 6))
    targets = np.zeros((2, 6), dtype="int32")
    counted = [(0, 1), (0, 4), (1, 0), (1, 5)]
    for row, col in counted:
        targets[row, col] = rng.integers(2, VOCABULARY_SIZE)

    loss = model.evaluate(ids, targets, verbose=0, return_dict=True)["loss"]

    logits = keras.ops.convert_to_numpy(model(ids)).astype("float64")
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = -np.mean([log_probs[r, c, targets[r, c]] for r, c in counted])
    assert loss == pytest.approx(expected, rel=1e-5)


def test_metrics_include_perplexity_bits_per_char_and_accuracy():
    model = build_char_lstm(**TINY, num_layers=1)
    ids = np.random.default_rng(0).integers(2, VOCABULARY_SIZE, size=(2, 5))
    logs = model.evaluate(ids, ids, verbose=0, return_dict=True)
    assert {"loss", "perplexity", "bits_per_char", "accuracy"} <= set(logs)
    assert logs["perplexity"] == pytest.approx(np.exp(logs["loss"]), rel=1e-5)
    assert logs["bits_per_char"] == pytest.approx(logs["loss"] / np.log(2), rel=1e-5)


def test_no_recurrent_dropout_dropout_is_separate_layers():
    model = build_char_lstm(**TINY, num_layers=2, dropout=0.2)
    rnns = recurrent_layers(model)
    assert len(rnns) == 2
    assert [la.recurrent_dropout for la in rnns] == [0, 0]
    assert [la.rate for la in layers_of_type(model, keras.layers.Dropout)] == [
        0.2,
        0.2,
        0.2,
    ]


def test_cell_gru_builds_gru_layers():
    model = build_char_lstm(**TINY, cell="gru")
    kinds = [type(la).__name__ for la in recurrent_layers(model)]
    assert kinds == ["GRU", "GRU"]


def test_layer_norm_adds_one_layer_normalization_per_recurrent_layer():
    plain = build_char_lstm(**TINY)
    normed = build_char_lstm(**TINY, layer_norm=True)
    assert layers_of_type(plain, keras.layers.LayerNormalization) == []
    assert len(layers_of_type(normed, keras.layers.LayerNormalization)) == 2


def test_unknown_hyperparameter_raises():
    with pytest.raises(
        ValueError, match=r"Unknown hyperparameter.*Received: \['units'\]"
    ):
        build_char_lstm(**TINY, units=8)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(dropout=1.0), r"`dropout` must be in \[0, 1\)\. Received: dropout=1\.0"),
        (dict(cell="rnn"), r"`cell` must be one of .* Received: cell='rnn'"),
        (dict(lstm_units=0), r"`units` must be an int >= 1\. Received: units=0"),
    ],
)
def test_bad_model_arguments_raise(arguments, message):
    settings = {**TINY, **arguments}
    with pytest.raises(ValueError, match=message):
        build_char_lstm(**settings)


def test_missing_vocabulary_raises():
    with pytest.raises(ValueError, match="Received: vocabulary_size=None"):
        build_char_lstm(lstm_units=8, embedding_dim=4)
