"""`TextGenerator.score` and `CharLM.score` against full re-runs of the model."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_chargen.generation.text_generator import TextGenerator
from keras_chargen.layers.char_vectorizer import OOV_ID, CharVectorizer
from keras_chargen.models.char_lm import CharLM

TEXT = "The quick brown fox jumps over the lazy dog.\nROMEO: Wherefore art thou?\n"
# Longer than one compiled chunk of `score()`: the states must carry across.
LONG_TEXT = (TEXT * 5)[:300]
TEXTS = ["The fox.", "R", LONG_TEXT, "", "dog dog"]
VECTORIZER = CharVectorizer(vocabulary=sorted(set(TEXT)))
VOCABULARY_SIZE = VECTORIZER.vocabulary_size()


def randomize(model, scale=0.7):
    rng = np.random.default_rng(0)
    for weight in model.weights:
        weight.assign(rng.normal(scale=scale, size=weight.shape).astype("float32"))
    return model


def char_lm(cell="lstm"):
    model = CharLM(VECTORIZER, embedding_dim=8, units=16, num_layers=2, cell=cell)
    return randomize(model)


def user_model(rnn=keras.layers.LSTM, activation=None):
    model = keras.Sequential([
        keras.Input(shape=(None,), dtype="int32"),
        keras.layers.Embedding(VOCABULARY_SIZE, 8, mask_zero=True),
        rnn(16, return_sequences=True),
        keras.layers.Dense(VOCABULARY_SIZE, activation=activation),
    ])  # fmt: skip
    # A SimpleRNN with large weights is chaotic: rounding would grow over
    # the long text. Smaller weights keep the comparison about the math.
    return randomize(model, 0.3 if rnn is keras.layers.SimpleRNN else 0.7)


def rerun(model, text, prompt=""):
    """The log-probabilities of `text`'s ids from one run over prompt + text."""
    ids = np.concatenate([VECTORIZER.encode(prompt), VECTORIZER.encode(text)])
    # The first id is predicted from the empty context: an all-padding input.
    first = log_softmax(model, np.zeros((1, 1), "int32"))[0]
    rest = log_softmax(model, ids[None, :-1].astype("int32")) if len(ids) > 1 else []
    log_probs = np.concatenate([first[None], rest]) if len(rest) else first[None]
    scored = log_probs[np.arange(len(ids)), ids]
    return scored[len(VECTORIZER.encode(prompt)) :]


def log_softmax(model, ids):
    outputs = ops.convert_to_numpy(model(ids, training=False))[0]
    if model.layers[-1].activation is keras.activations.softmax:
        return np.log(outputs)
    return ops.convert_to_numpy(ops.log_softmax(outputs, axis=-1))


def assert_scores_match(scores, model, texts, prompts=None):
    prompts = prompts or [""] * len(texts)
    assert len(scores) == len(texts)
    for score, text, prompt in zip(scores, texts, prompts, strict=True):
        assert score.dtype == np.float32
        assert score.shape == (len(text),)
        np.testing.assert_allclose(score, rerun(model, text, prompt), atol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_char_lm_batch_of_different_lengths_matches_rerun(cell):
    model = char_lm(cell)
    assert_scores_match(model.score(TEXTS), model, TEXTS)


def test_char_lm_prompts_score_only_the_continuation():
    model = char_lm()
    prompts = ["ROMEO: ", "", LONG_TEXT[:200], "The ", "x"]
    texts = ["Wherefore", "The fox", "jumps", "", "dog"]
    scores = model.score(texts, prompts=prompts)
    assert_scores_match(scores, model, texts, prompts)


@pytest.mark.parametrize(
    "rnn, activation",
    [
        (keras.layers.LSTM, None),
        (keras.layers.GRU, "softmax"),
        (keras.layers.SimpleRNN, None),  # Keras' own cell: no step weights
    ],
)
def test_plain_sequential_model_matches_rerun(rnn, activation):
    model = user_model(rnn, activation)
    generator = TextGenerator(model, vectorizer=VECTORIZER)
    assert_scores_match(generator.score(TEXTS), model, TEXTS)
    prompts = ["The quick ", "ROMEO:", "", "a", LONG_TEXT]
    scores = generator.score(TEXTS, prompts=prompts)
    assert_scores_match(scores, model, TEXTS, prompts)


def test_one_text_gives_one_array_and_matches_the_batch():
    model = char_lm()
    score = model.score("The fox.", prompts="ROMEO: ")
    assert isinstance(score, np.ndarray)
    batch = model.score(["dog", "The fox.", LONG_TEXT], ["", "ROMEO: ", ""])
    np.testing.assert_allclose(score, batch[1], atol=1e-6)


def test_more_texts_than_one_batch_of_rows():
    model = char_lm()
    distinct = ["The", "", "dog.", "R"]  # few shapes: eager re-runs are slow
    texts = [distinct[i % 4] + "x" * (i % 2) for i in range(70)]
    references = {text: rerun(model, text) for text in set(texts)}
    for text, score in zip(texts, model.score(texts), strict=True):
        np.testing.assert_allclose(score, references[text], atol=1e-5)


def test_unknown_characters_are_scored_as_the_oov_id():
    model = char_lm()
    text = "The Zebra%"  # "Z" and "%" are outside the vocabulary
    ids = VECTORIZER.encode(text)
    assert list(ids).count(OOV_ID) == 2
    score = model.score(text)
    np.testing.assert_allclose(score, rerun(model, text), atol=1e-5)


def test_a_likelier_candidate_ranks_higher():
    vectorizer = CharVectorizer(vocabulary="ab")
    model = CharLM(vectorizer, embedding_dim=4, units=8, num_layers=1, dropout=0.0)
    logits = model.get_layer("logits")
    bias = np.zeros(vectorizer.vocabulary_size(), "float32")
    bias[vectorizer.encode("a")[0]] = 5.0  # "a" is always the likelier one
    logits.kernel.assign(np.zeros(logits.kernel.shape, "float32"))
    logits.bias.assign(bias)
    scores = model.score(["aaa", "aba", "bbb"])
    totals = [s.sum() for s in scores]
    assert totals[0] > totals[1] > totals[2]
    probabilities = np.exp(scores[0])
    np.testing.assert_allclose(probabilities, np.exp(5) / (np.exp(5) + 3), rtol=1e-5)


@pytest.mark.parametrize(
    "texts, prompts, error, message",
    [
        (b"bytes", None, TypeError, r"`texts` must be a str or a list of str\. "),
        (["ok", 3], None, TypeError, r"Received: \['ok', 3\]"),
        ([], None, ValueError, r"`texts` must not be an empty list"),
        (["a", "b"], ["x"], ValueError, r"one prompt per text: 2\. Received 1"),
        (["a"], [None], TypeError, r"`prompts` must be a str or a list of str"),
        (["a"], [], ValueError, r"`prompts` must not be an empty list"),
    ],
)
def test_bad_input_raises_naming_what_was_received(texts, prompts, error, message):
    model = char_lm()
    with pytest.raises(error, match=message):
        model.score(texts, prompts=prompts)
