import os
import struct
import warnings

import numpy as np
import pytest

from keras_chargen.layers.char_vectorizer import CharVectorizer
from keras_chargen.models.char_lm import CharLM
from keras_chargen.plots.embeddings import char_class, plot_embeddings

# Letters, digits, punctuation, whitespace, a control character, an emoji
# (no glyph in the default font) and "$" pairs (matplotlib math markers).
VOCABULARY = list("abcXYZ019.,;!?$ \n\t\x07\U0001f600\u00e9\u201c")


def tiny_model(vocabulary=VOCABULARY, embedding_dim=6):
    model = CharLM(
        CharVectorizer(vocabulary=vocabulary),
        embedding_dim=embedding_dim,
        units=8,
        num_layers=1,
    )
    rng = np.random.default_rng(0)
    embedding = model.get_layer("embedding")
    embedding.embeddings.assign(rng.normal(size=embedding.embeddings.shape))
    return model


def png_size(path):
    with open(path, "rb") as file:
        header = file.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def test_writes_a_png_of_sane_size(tmp_path):
    path = plot_embeddings(tiny_model(), tmp_path / "embeddings.png")
    assert path == tmp_path / "embeddings.png"
    width, height = png_size(path)
    assert 800 <= width <= 3000 and 600 <= height <= 3000
    assert os.listdir(tmp_path) == ["embeddings.png"]  # no temporary file left


def test_every_character_is_drawn_without_missing_glyphs(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # e.g. a missing glyph
        plot_embeddings(tiny_model(), tmp_path / "embeddings.png")


def test_missing_folder_raises_os_error(tmp_path):
    with pytest.raises(OSError, match="does not exist"):
        plot_embeddings(tiny_model(), tmp_path / "missing" / "embeddings.png")


def test_one_character_vocabulary_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="at least 2 characters"):
        plot_embeddings(tiny_model(["a"]), tmp_path / "e.png")


def test_one_dimensional_embedding_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="embedding_dim=1"):
        plot_embeddings(tiny_model(embedding_dim=1), tmp_path / "e.png")


@pytest.mark.parametrize(
    "char, kind",
    [
        ("a", "letter"),
        ("\u00e9", "letter"),
        ("7", "digit"),
        (",", "punctuation"),
        ("\u201c", "punctuation"),
        (" ", "whitespace"),
        ("\n", "whitespace"),
        ("+", "other"),
        ("\x07", "other"),
    ],
)
def test_char_class(char, kind):
    assert char_class(char) == kind
