"""Fine-tuning: `train(init_from=...)`, vocabulary extension, bad input."""

import json

import keras
import numpy as np
import pytest
from conftest import random_model_file, run_cli

import keras_chargen
from keras_chargen.layers.reserved_ids import NUM_RESERVED_IDS
from keras_chargen.models.loading import load_model
from keras_chargen.models.vocabulary_extension import (
    extend_vocabulary,
    extended_vectorizer,
)

pytestmark = pytest.mark.all_backends

OLD_TEXT = "the cat sat on the mat. "
NEW_TEXT = "The Cat sat on the mat! Zut, 42 cats? " * 40


@pytest.fixture
def old_model(tmp_path):
    return random_model_file(tmp_path / "old.keras", OLD_TEXT)


def test_extension_keeps_old_ids_and_appends_new_characters(old_model):
    vectorizer = extended_vectorizer(old_model.vectorizer, NEW_TEXT)
    old = old_model.vectorizer.vocabulary
    assert vectorizer.vocabulary[: len(old)] == old
    new = vectorizer.vocabulary[len(old) :]
    assert new == sorted(set(NEW_TEXT) - set(OLD_TEXT))
    np.testing.assert_array_equal(
        vectorizer.encode(OLD_TEXT), old_model.vectorizer.encode(OLD_TEXT)
    )
    assert vectorizer.decode(vectorizer.encode(NEW_TEXT)) == NEW_TEXT


def test_every_old_row_is_unchanged_after_extension(old_model):
    extended = extend_vocabulary(old_model, NEW_TEXT)
    old_size = old_model.vocabulary_size
    added = len(set(NEW_TEXT) - set(OLD_TEXT))
    assert extended.vocabulary_size == old_size + added
    for before, after in zip(old_model.weights, extended.weights, strict=True):
        before, after = before.numpy(), after.numpy()
        if before.shape == after.shape:
            np.testing.assert_array_equal(after, before)
        elif before.ndim == 2 and before.shape[1] == old_size:  # output kernel
            np.testing.assert_array_equal(after[:, :old_size], before)
            np.testing.assert_array_equal(after[:, old_size:], 0.0)
        elif before.ndim == 2:  # embedding: one row per id
            np.testing.assert_array_equal(after[:old_size], before)
            assert after.shape == (old_size + added, before.shape[1])
        else:  # output bias: new characters start as the least likely old one
            np.testing.assert_array_equal(after[:old_size], before)
            np.testing.assert_array_equal(after[old_size:], before.min())


def test_extended_logits_for_old_text_are_identical_before_training(old_model):
    extended = extend_vocabulary(old_model, NEW_TEXT)
    ids = old_model.vectorizer.encode(OLD_TEXT * 3)[None, :]
    before = keras.ops.convert_to_numpy(old_model(ids, training=False))
    after = keras.ops.convert_to_numpy(extended(ids, training=False))
    np.testing.assert_array_equal(after[..., : old_model.vocabulary_size], before)
    # And through the recurrent-state protocol the generators use.
    states = extended.initial_state(1)
    stepped, _ = extended.call_with_state(ids, states)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(stepped)[..., : old_model.vocabulary_size],
        before,
        atol=1e-5,
    )


def test_train_init_from_a_model_starts_from_its_weights(tmp_path, old_model):
    # One epoch at a tiny learning rate barely moves the weights: the start
    # was the initial model's, not a fresh one.
    model, _ = keras_chargen.train(
        text=OLD_TEXT * 60, output=tmp_path / "m.keras", init_from=old_model,
        epochs=1, learning_rate=1e-7, dropout=0.0, sequence_length=16,
        batch_size=8, verbose=0,
    )  # fmt: skip
    for before, after in zip(old_model.weights, model.weights, strict=True):
        np.testing.assert_allclose(after.numpy(), before.numpy(), atol=1e-4)


@pytest.mark.parametrize(
    "init_from, message",
    [
        ("no-such-preset", "neither a preset nor an existing file"),
        ("no-such-preset", "preset name (shakespeare)"),
        ("not_a_model.keras", "not_a_model.keras"),
    ],
)
def test_bad_init_from_raises_before_writing(tmp_path, monkeypatch, init_from, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "not_a_model.keras").write_text("hello, not a zip file")
    with pytest.raises(
        ValueError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        keras_chargen.train(
            text=NEW_TEXT, output=tmp_path / "m.keras", init_from=init_from, verbose=0
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not_a_model.keras"]


def test_different_architecture_raises_before_writing(tmp_path, old_model):
    with pytest.raises(ValueError) as info:
        keras_chargen.train(
            text=NEW_TEXT, output=tmp_path / "m.keras", init_from=old_model,
            lstm_units=16, verbose=0,
        )  # fmt: skip
    assert "lstm_units=16 (the initial model has 8)" in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.keras"]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--init-from", "nope"], "neither a preset nor an existing file"),
        (["--init-from", "old.keras", "--units", "32"], "lstm_units=32"),
        (["--init-from", "bad.keras"], "bad.keras"),
        (["--init-from", "old.keras", "--cell", "gru"], "cell='gru'"),
    ],
)
def test_cli_bad_init_from_is_one_line_exit_2(
    tmp_path, monkeypatch, capsys, old_model, extra, message
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "corpus.txt").write_text(NEW_TEXT)
    (tmp_path / "bad.keras").write_bytes(b"PK\x03\x04 broken")
    before = sorted(p.name for p in tmp_path.iterdir())
    code = run_cli(["train", "--corpus", "corpus.txt", "--quiet", *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_cli_train_init_from_runs(tmp_path, monkeypatch, capsys, old_model):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "corpus.txt").write_text(NEW_TEXT)
    argv = [
        "train", "--corpus", "corpus.txt", "--init-from", "old.keras",
        "--output", "tuned.keras", "--epochs", "1", "--sequence-length", "16",
        "--batch-size", "8", "--quiet", "--json",
    ]  # fmt: skip
    assert run_cli(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["epochs"] == 1 and summary["init_from"] == "old.keras"
    tuned = load_model(tmp_path / "tuned.keras")
    old = old_model.vectorizer.vocabulary
    assert tuned.vectorizer.vocabulary[: len(old)] == old
    expected = NUM_RESERVED_IDS + len(set(NEW_TEXT) | set(OLD_TEXT))
    assert tuned.vocabulary_size == summary["vocabulary_size"] == expected
    assert (tuned.units, tuned.embedding_dim, tuned.num_layers) == (8, 4, 1)
