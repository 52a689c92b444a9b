import numpy as np
import pytest

from keras_chargen.evaluation.nearest_characters import char_name, nearest_characters
from keras_chargen.layers.char_vectorizer import CharVectorizer
from keras_chargen.models.char_lm import CharLM

VOCABULARY = list("abcde .,\n")


@pytest.fixture(scope="module")
def model():
    model = CharLM(
        CharVectorizer(vocabulary=VOCABULARY), embedding_dim=5, units=8, num_layers=1
    )
    rng = np.random.default_rng(0)
    embedding = model.get_layer("embedding")
    embedding.embeddings.assign(rng.normal(size=embedding.embeddings.shape))
    return model


def numpy_cosine(model, char):
    rows = np.asarray(model.get_layer("embedding").embeddings)[2:].astype(np.float64)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    similarity = rows @ rows[VOCABULARY.index(char)]
    return {c: s for c, s in zip(VOCABULARY, similarity, strict=True) if c != char}


@pytest.mark.parametrize("char", ["a", " ", "\n"])
def test_neighbours_are_the_highest_cosine_similarities(model, char):
    expected = sorted(numpy_cosine(model, char).items(), key=lambda kv: -kv[1])[:3]
    result = nearest_characters(model, char, k=3)
    assert [c for c, _ in result] == [c for c, _ in expected]
    np.testing.assert_allclose([s for _, s in result], [s for _, s in expected])


def test_similarities_are_python_floats_in_decreasing_order(model):
    similarities = [s for _, s in nearest_characters(model, "b", k=8)]
    assert all(type(s) is float for s in similarities)
    assert similarities == sorted(similarities, reverse=True)


def test_reserved_ids_and_the_character_itself_are_never_returned(model):
    result = nearest_characters(model, "c", k=100)
    chars = [c for c, _ in result]
    assert len(chars) == len(VOCABULARY) - 1  # every other character, once
    assert sorted(chars) == sorted(c for c in VOCABULARY if c != "c")
    assert "" not in chars and "[UNK]" not in chars


def test_unknown_character_raises_value_error_naming_it(model):
    with pytest.raises(
        ValueError, match=r"Character 'z' \(z\) is not in the model's vocabulary"
    ):
        nearest_characters(model, "z")


def test_unknown_character_message_lists_the_vocabulary(model):
    with pytest.raises(
        ValueError, match=r"Choose one of its 9 characters: 'abcde \.,\\n'"
    ):
        nearest_characters(model, "\t")


@pytest.mark.parametrize("k", [0, -2, 1.5, True])
def test_k_must_be_a_positive_int(model, k):
    with pytest.raises(ValueError, match=r"`k` must be an int >= 1. Received: k="):
        nearest_characters(model, "a", k=k)


@pytest.mark.parametrize("char", ["ab", "", 7])
def test_char_must_be_one_character(model, char):
    with pytest.raises(ValueError, match="`char` must be a single character"):
        nearest_characters(model, char)


def test_model_without_vocabulary_is_rejected():
    model = CharLM(vocabulary_size=5, embedding_dim=2, units=4, num_layers=1)
    with pytest.raises(ValueError, match="The model must carry its vocabulary"):
        nearest_characters(model, "a")


@pytest.mark.parametrize(
    "char, name",
    [
        ("a", "a"),
        (" ", "SPACE"),
        ("\n", "NL"),
        ("\t", "TAB"),
        ("\r", "CR"),
        ("\u00a0", "NBSP"),
        ("\x07", "U+0007"),
        ("\u200b", "U+200B"),
        ("\u0301", "U+0301"),
        ("\u00e9", "\u00e9"),
        (".", "."),
    ],
)
def test_char_name_gives_readable_names(char, name):
    assert char_name(char) == name
