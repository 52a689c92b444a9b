import keras
import numpy as np
import pytest
from conftest import make_text

import keras_chargen


def _setup():
    text = make_text(800)
    vectorizer = keras_chargen.CharVectorizer()
    vectorizer.adapt(text)
    train_ds, val_ds = keras_chargen.make_datasets(
        text, vectorizer, sequence_length=16, batch_size=8, seed=0
    )
    keras.utils.set_random_seed(0)
    model = keras_chargen.build_char_lstm(
        vectorizer=vectorizer, lstm_units=8, embedding_dim=4, num_layers=1
    )
    return model, train_ds, val_ds


def test_samples_are_kept_as_data_every_n_epochs():
    model, train_ds, _ = _setup()
    callback = keras_chargen.SampleTextCallback(
        ["The ", "A"], length=12, temperatures=[0.0, 1.0], every=2, verbose=False
    )
    model.fit(train_ds, epochs=4, callbacks=[callback], verbose=0)
    assert [s["epoch"] for s in callback.samples] == [2] * 4 + [4] * 4
    assert {(s["prompt"], s["temperature"]) for s in callback.samples} == {
        ("The ", 0.0),
        ("The ", 1.0),
        ("A", 0.0),
        ("A", 1.0),
    }
    for sample in callback.samples:
        assert sample["text"].startswith(sample["prompt"])
        assert len(sample["text"]) == len(sample["prompt"]) + 12


def test_callback_does_not_change_the_training_result():
    model, train_ds, _ = _setup()
    model.fit(train_ds, epochs=2, verbose=0)
    without = model.get_weights()
    model, train_ds, _ = _setup()
    callback = keras_chargen.SampleTextCallback("The ", length=10, verbose=False)
    model.fit(train_ds, epochs=2, callbacks=[callback], verbose=0)
    for a, b in zip(without, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert len(callback.samples) == 4


def test_samples_are_reproducible():
    model, _, _ = _setup()
    texts = []
    for _ in range(2):
        callback = keras_chargen.SampleTextCallback("The ", length=20, verbose=False)
        callback.set_model(model)
        callback.on_epoch_end(0)
        texts.append([s["text"] for s in callback.samples])
    assert texts[0] == texts[1]


def test_prints_only_when_verbose(capsys):
    model, _, _ = _setup()
    for verbose in (False, True):
        callback = keras_chargen.SampleTextCallback("The ", length=5, verbose=verbose)
        callback.set_model(model)
        callback.on_epoch_end(0)
        out = capsys.readouterr().out
        assert ("epoch 1, temperature 0.5" in out) is verbose


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"prompts": []}, "`prompts` must be a str or a non-empty list of str"),
        ({"temperatures": []}, "`temperatures` must not be empty"),
        ({"temperatures": [-1.0]}, "Received: temperature=-1.0"),
        ({"every": 0}, "`every` must be a positive int. Received: every=0"),
        ({"length": 0}, "`length` must be a positive int. Received: length=0"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError) as info:
        keras_chargen.SampleTextCallback(**kwargs)
    assert message in str(info.value)
