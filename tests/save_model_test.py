import keras
import numpy as np
import pytest
from test_case import assert_same_config, assert_same_outputs

import keras_chargen


def _model(units=4):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(units)])
    model.build((None, 3))
    return model


def test_save_model_round_trip(tmp_path):
    model = _model()
    path = keras_chargen.save_model(model, tmp_path / "m.keras")
    loaded = keras.saving.load_model(path)
    x = np.ones((2, 3), "float32")
    assert_same_outputs(model(x), loaded(x))
    assert [p.name for p in tmp_path.iterdir()] == ["m.keras"]


def test_saved_char_lm_loads_in_safe_mode_with_its_vectorizer(tmp_path):
    vectorizer = keras_chargen.CharVectorizer(vocabulary="ab\n😀")
    model = keras_chargen.CharLM(vectorizer, units=4, embedding_dim=3, num_layers=1)
    path = keras_chargen.save_model(model, tmp_path / "m.keras")
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert_same_config(model, loaded)
    ids = vectorizer.encode("ab\n😀b")[None]
    assert_same_outputs(model(ids), loaded(ids))
    assert loaded.vectorizer.get_vocabulary() == vectorizer.get_vocabulary()


def test_interrupted_save_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "m.keras"
    keras_chargen.save_model(_model(), path)
    before = path.read_bytes()
    model = _model(units=7)

    def crash_midway(filepath, *args, **kwargs):
        with open(filepath, "wb") as f:
            f.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt  # e.g. Ctrl-C during the write

    monkeypatch.setattr(model, "save", crash_midway)
    with pytest.raises(KeyboardInterrupt):
        keras_chargen.save_model(model, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.keras"]  # no temp file left
    assert keras.saving.load_model(path).layers[-1].units == 4


def test_saved_file_is_readable_by_others(tmp_path):
    path = keras_chargen.save_model(_model(), tmp_path / "m.keras")
    assert path.stat().st_mode & 0o044  # not mkstemp's private 0600


def test_suffix_must_be_keras(tmp_path):
    with pytest.raises(ValueError, match="must end in `.keras`. Received: filepath="):
        keras_chargen.save_model(_model(), tmp_path / "m.h5")


def test_missing_folder_is_an_error(tmp_path):
    with pytest.raises(OSError, match="does not exist"):
        keras_chargen.save_model(_model(), tmp_path / "nope" / "m.keras")
