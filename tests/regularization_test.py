"""Variational dropout (`CharLM`) and weight decay (`build_char_lstm`, `train`)."""

import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_chargen.layers.char_vectorizer import CharVectorizer
from keras_chargen.models.build_char_lstm import build_char_lstm
from keras_chargen.models.char_lm import CharLM
from keras_chargen.models.loading import load_model
from keras_chargen.training.train import train

TEXT = "the quick brown fox jumps over the lazy dog. " * 40


def _vectorizer():
    vectorizer = CharVectorizer()
    vectorizer.adapt(TEXT)
    return vectorizer


def _dropout_masks(model, name):
    """Which features a dropout layer zeroed, for ones of shape (4, 12, d)."""
    layer = model.get_layer(name)
    features = model.embedding_dim if name == "dropout_0" else model.units
    out = layer(np.ones((4, 12, features), "float32"), training=True)
    return keras.ops.convert_to_numpy(out) == 0


@pytest.mark.all_backends
def test_variational_dropout_keeps_one_mask_per_sequence():
    keras.utils.set_random_seed(0)
    model = CharLM(_vectorizer(), embedding_dim=16, units=16, dropout=0.5,
                   variational_dropout=True)  # fmt: skip
    for name in ("dropout_0", "dropout_1", "dropout_out"):
        dropped = _dropout_masks(model, name)
        # Every time step of a row drops the same features ...
        assert (dropped == dropped[:, :1]).all(), name
        # ... about half of them, and not the same ones in every row.
        assert 0.2 < dropped.mean() < 0.8, name
        assert not (dropped == dropped[:1]).all(), name


@pytest.mark.all_backends
def test_default_dropout_draws_a_new_mask_each_step():
    keras.utils.set_random_seed(0)
    model = CharLM(_vectorizer(), embedding_dim=16, units=16, dropout=0.5)
    dropped = _dropout_masks(model, "dropout_1")
    assert not (dropped == dropped[:, :1]).all()


def test_variational_dropout_changes_training_not_inference(tmp_path):
    keras.utils.set_random_seed(3)
    model = build_char_lstm(vectorizer=_vectorizer(), embedding_dim=8,
                            lstm_units=16, num_layers=2, dropout=0.3,
                            variational_dropout=True)  # fmt: skip
    ids = np.arange(2, 12, dtype="int32").reshape(2, 5)
    path = tmp_path / "variational.keras"
    model.save(path)
    loaded = load_model(path)
    assert loaded.variational_dropout is True
    assert loaded.get_layer("dropout_1").noise_shape == (None, 1, None)
    # Dropout is off at inference: same logits as the saved model.
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(ids)),
        keras.ops.convert_to_numpy(model(ids)),
        atol=1e-6,
    )


@pytest.mark.parametrize("value", [1, "yes", None])
def test_variational_dropout_must_be_a_bool(value):
    with pytest.raises(ValueError, match="`variational_dropout` must be a bool"):
        CharLM(_vectorizer(), variational_dropout=value)


def test_weight_decay_compiles_adamw_that_shrinks_the_weights():
    """One step: AdamW's weights = Adam's weights - lr * wd * initial weights."""
    learning_rate, decay = 0.01, 0.5
    weights, optimizers = [], []
    for weight_decay in (0.0, decay):
        keras.utils.set_random_seed(7)
        model = build_char_lstm(vectorizer=_vectorizer(), embedding_dim=8,
                                lstm_units=8, num_layers=1, dropout=0.0,
                                learning_rate=learning_rate,
                                weight_decay=weight_decay)  # fmt: skip
        initial = [w.copy() for w in model.get_weights()]
        ids = np.arange(2, 22, dtype="int32").reshape(1, 20)
        model.train_on_batch(ids[:, :-1], ids[:, 1:])
        weights.append(model.get_weights())
        optimizers.append(model.optimizer)
    assert type(optimizers[0]) is keras.optimizers.Adam
    assert isinstance(optimizers[1], keras.optimizers.AdamW)
    assert optimizers[1].weight_decay == decay
    for adam, adamw, start in zip(*weights, initial, strict=True):
        np.testing.assert_allclose(
            adam - adamw, learning_rate * decay * start, atol=1e-6
        )


@pytest.mark.parametrize("value", [-0.1, True, "0.1", float("nan")])
def test_weight_decay_must_be_a_non_negative_number(value):
    with pytest.raises(ValueError, match="`weight_decay` must be a number >= 0"):
        build_char_lstm(vectorizer=_vectorizer(), weight_decay=value)


def test_train_takes_and_records_both_settings(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT)
    model, summary = train(
        str(corpus), tmp_path / "run.keras", epochs=1, lstm_units=16,
        embedding_dim=8, num_layers=1, sequence_length=20, batch_size=8,
        weight_decay=0.05, variational_dropout=True, verbose=0,
    )  # fmt: skip
    assert model.variational_dropout is True
    assert isinstance(model.optimizer, keras.optimizers.AdamW)
    assert model.optimizer.weight_decay == pytest.approx(0.05)
    # Explicit settings are not taken from the corpus' length.
    assert "weight_decay" not in summary["corpus_size_defaults"]
    assert "variational_dropout" not in summary["corpus_size_defaults"]


@pytest.mark.parametrize(
    "flag, message",
    [
        (["--weight-decay", "-1"], "expected a number >= 0, got '-1'"),
        (["--weight-decay", "lots"], "lots"),
        (["--variational-dropout=1"], "--variational-dropout"),
    ],
)
def test_cli_rejects_bad_values_in_one_line(tmp_path, flag, message):
    result = subprocess.run(
        [sys.executable, "-m", "keras_chargen_cli", "train",
         "--output", str(tmp_path / "run.keras"), *flag],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.iterdir())
